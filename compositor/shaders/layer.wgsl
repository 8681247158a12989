// Layer pass: one full-screen triangle per layer per eye. Each pixel's view
// ray (from the newest predicted eye pose) is intersected with the layer and
// the layer's swapchain image is sampled there. Projection layers are so
// reprojected rotationally from the pose they were rendered with.
//
// Output is premultiplied linear colour, blended with
// ONE / ONE_MINUS_SRC_ALPHA into an sRGB target (blending in linear light).

@group(0) @binding(1) var tex: texture_2d_array<f32>;

fn in_unit(uv: vec2<f32>) -> bool {
    return uv.x >= 0.0 && uv.x <= 1.0 && uv.y >= 0.0 && uv.y <= 1.0;
}

@fragment
fn fs_main(v: VsOut) -> @location(0) vec4<f32> {
    // View ray in eye space (x right, y up, -z forward); uv.y grows downward.
    let t = vec2<f32>(mix(p.eye_tan.x, p.eye_tan.y, v.uv.x), mix(p.eye_tan.z, p.eye_tan.w, v.uv.y));
    let d_eye = normalize(vec3<f32>(t.x, t.y, -1.0));
    let d = vec3<f32>(dot(p.row0.xyz, d_eye), dot(p.row1.xyz, d_eye), dot(p.row2.xyz, d_eye));
    let o = vec3<f32>(p.row0.w, p.row1.w, p.row2.w);
    var uv = vec2<f32>(-1.0, -1.0);
    let kind = p.misc.x;
    if (kind == 0u) {
        // Projection: the target space is the rendered view; rays at
        // infinity, so only the rotation matters.
        if (d.z < 0.0) {
            let tv = vec2<f32>(d.x / -d.z, d.y / -d.z);
            uv = vec2<f32>((tv.x - p.shape.x) / (p.shape.y - p.shape.x), (p.shape.z - tv.y) / (p.shape.z - p.shape.w));
        }
    } else if (kind == 1u) {
        // Quad in its XY plane, facing +Z.
        if (abs(d.z) > 1e-6) {
            let s = -o.z / d.z;
            if (s > 0.0) {
                let hit = o + s * d;
                uv = vec2<f32>(hit.x / p.shape.x + 0.5, 0.5 - hit.y / p.shape.y);
            }
        }
    } else if (kind == 2u) {
        // Inside of a cylinder around Y, the arc centred on -Z.
        let r = p.shape.x;
        let a = d.x * d.x + d.z * d.z;
        if (r <= 0.0) {
            // Radius 0 (or +inf): a cylinder at infinity, where only the
            // ray's direction counts: its azimuth and its rise per unit of
            // horizontal distance (height / radius = centralAngle / aspect).
            if (a > 1e-9) {
                let angle = atan2(d.x, -d.z);
                let rise = d.y / sqrt(a);
                uv = vec2<f32>(angle / p.shape.y + 0.5, 0.5 - rise * p.shape.z / p.shape.y);
            }
        }
        let b = 2.0 * (o.x * d.x + o.z * d.z);
        let c = o.x * o.x + o.z * o.z - r * r;
        let disc = b * b - 4.0 * a * c;
        if (r > 0.0 && a > 1e-9 && disc >= 0.0) {
            let s = (-b + sqrt(disc)) / (2.0 * a);
            if (s > 0.0) {
                let hit = o + s * d;
                let angle = atan2(hit.x, -hit.z);
                let height = r * p.shape.y / p.shape.z;
                uv = vec2<f32>(angle / p.shape.y + 0.5, 0.5 - hit.y / height);
            }
        }
    } else {
        // Equirect: a sphere of radius shape.x (0: at infinity).
        var dir = d;
        let r = p.shape.x;
        if (r > 0.0) {
            let b = dot(o, d);
            let c = dot(o, o) - r * r;
            let disc = b * b - c;
            if (disc >= 0.0) {
                dir = normalize(o + (-b + sqrt(disc)) * d);
            }
        }
        let lon = atan2(dir.x, -dir.z);
        let lat = asin(clamp(dir.y, -1.0, 1.0));
        uv = vec2<f32>(lon / p.shape.y + 0.5, (p.shape.z - lat) / (p.shape.z - p.shape.w));
    }
    if (!in_unit(uv)) {
        return vec4<f32>(0.0, 0.0, 0.0, 0.0);
    }
    var c = textureSampleLevel(tex, samp, p.rect.xy + uv * p.rect.zw, i32(p.misc.y), 0.0);
    if ((p.misc.z & 1u) == 0u) {
        c.a = 1.0;
    } else if ((p.misc.z & 2u) != 0u) {
        c = vec4<f32>(c.rgb * c.a, c.a);
    }
    return c;
}
