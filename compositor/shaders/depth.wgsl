// Projection layers with depth (XR_KHR_composition_layer_depth): positional
// reprojection by an iterative inverse warp. Start from the rotational
// answer (the surface at infinity), then repeatedly read the depth where the
// current guess lands, move along the display ray to that depth, and
// project the point back into the rendered view. A few steps converge on
// smooth surfaces; disocclusions show the nearer surface's edge stretched.
//
// Output is premultiplied linear colour, blended with
// ONE / ONE_MINUS_SRC_ALPHA into an sRGB target (blending in linear light),
// and the surface's depth in the display eye, reversed and infinite
// (AVATAR_NEAR / distance along -Z), for avatars to be tested against;
// where the layer shows nothing it writes neither, and where it only adds
// light (zero alpha) it writes "nothing here" (0).

const AVATAR_NEAR: f32 = 0.05;

struct DepthOut {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
}

@group(0) @binding(1) var tex: texture_2d_array<f32>;
@group(0) @binding(2) var depth_tex: texture_2d_array<f32>;

/// View distance (metres along -Z) of a depth value.
fn linear_depth(dv: f32) -> f32 {
    let d01 = clamp((dv - p.depth.x) / max(p.depth.y - p.depth.x, 1e-6), 0.0, 1.0);
    let n = p.depth.z;
    let f = p.depth.w;
    if (f > 1e30) {
        return n / max(1.0 - d01, 1e-6);
    }
    if (n > 1e30) {
        return f / max(d01, 1e-6);
    }
    return n * f / (f + d01 * (n - f));
}

fn to_uv(q: vec3<f32>) -> vec2<f32> {
    let tv = vec2<f32>(q.x / -q.z, q.y / -q.z);
    return vec2<f32>((tv.x - p.shape.x) / (p.shape.y - p.shape.x), (p.shape.z - tv.y) / (p.shape.z - p.shape.w));
}

@fragment
fn fs_main(v: VsOut) -> DepthOut {
    let t = vec2<f32>(mix(p.eye_tan.x, p.eye_tan.y, v.uv.x), mix(p.eye_tan.z, p.eye_tan.w, v.uv.y));
    let d_eye = normalize(vec3<f32>(t.x, t.y, -1.0));
    let d = vec3<f32>(dot(p.row0.xyz, d_eye), dot(p.row1.xyz, d_eye), dot(p.row2.xyz, d_eye));
    let o = vec3<f32>(p.row0.w, p.row1.w, p.row2.w);
    if (d.z >= -1e-6) {
        discard;
    }
    var uv = to_uv(d);
    let dims = vec2<f32>(textureDimensions(depth_tex));
    let layer = i32(p.misc.y);
    for (var k = 0; k < 6; k++) {
        let st = clamp(p.rect.xy + clamp(uv, vec2<f32>(0.0), vec2<f32>(1.0)) * p.rect.zw, vec2<f32>(0.0), vec2<f32>(0.999999));
        let z = linear_depth(textureLoad(depth_tex, vec2<i32>(st * dims), layer, 0).r);
        let s = (-z - o.z) / d.z;
        if (s <= 0.0) {
            break;
        }
        uv = to_uv(o + s * d);
    }
    if (uv.x < 0.0 || uv.x > 1.0 || uv.y < 0.0 || uv.y > 1.0) {
        discard;
    }
    // Where the view ray meets the surface: its distance along the ray
    // (d is a unit vector), then along the display eye's -Z.
    let fst = clamp(p.rect.xy + uv * p.rect.zw, vec2<f32>(0.0), vec2<f32>(0.999999));
    let fz = linear_depth(textureLoad(depth_tex, vec2<i32>(fst * dims), layer, 0).r);
    let dist = max((-fz - o.z) / d.z, 1e-6) * -d_eye.z;
    var c = textureSampleLevel(tex, samp, p.rect.xy + uv * p.rect.zw, layer, 0.0);
    if ((p.misc.z & 1u) == 0u) {
        c.a = 1.0;
    } else if ((p.misc.z & 2u) != 0u) {
        c = vec4<f32>(c.rgb * c.a, c.a);
    }
    // A fully transparent pixel changes nothing; an additive one (premultiplied
    // colour with zero alpha) adds light but hides nothing behind it.
    if (c.a <= 0.0 && all(c.rgb <= vec3<f32>(0.0))) {
        discard;
    }
    var out: DepthOut;
    out.color = c;
    out.depth = select(clamp(AVATAR_NEAR / dist, 0.0, 1.0), 0.0, c.a <= 0.0);
    return out;
}
