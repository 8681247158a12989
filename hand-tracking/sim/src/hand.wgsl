// Ray-marches a scene of capsules (hands as smoothly joined capsules, so the
// skin flows over the joints; occluders as plain capsules) for one
// calibrated camera with Brown-Conrady distortion, and writes one grey
// level per pixel. Kept in step with `render_cpu` in lib.rs (the test
// compares both).

struct Params {
    // fx, fy, cx, cy
    k: vec4<f32>,
    // k1, k2, p1, p2
    dist: vec4<f32>,
    // k3, ambient, noise amplitude, smooth-union radius
    misc: vec4<f32>,
    // light direction (towards the light, camera frame), unused
    light: vec4<f32>,
    // bounding sphere of every capsule: centre, radius
    bounds: vec4<f32>,
    // background: kind, v0, v1, v2
    background: vec4<f32>,
    // width, height, capsule count, noise seed
    size: vec4<u32>,
}

struct Capsule {
    a: vec4<f32>,      // xyz, radius at a
    b: vec4<f32>,      // xyz, radius at b
    // albedo, group, capsules in the group (first of a group only), -
    material: vec4<f32>,
    // the group's bounding sphere (first of a group only): centre, radius
    c: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> caps: array<Capsule>;
@group(0) @binding(2) var<storage, read_write> out_px: array<u32>;

fn segment(q: vec3<f32>, c: Capsule) -> f32 {
    let pa = q - c.a.xyz;
    let ba = c.b.xyz - c.a.xyz;
    let h = clamp(dot(pa, ba) / max(dot(ba, ba), 1e-12), 0.0, 1.0);
    return length(pa - ba * h) - mix(c.a.w, c.b.w, h);
}

fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0);
    return mix(b, a, h) - k * h * (1.0 - h);
}

// Distance to the scene and the albedo of the nearest surface. Groups whose
// bounding sphere is farther than `FAR` count by the distance to that
// sphere (a lower bound, so marching stays safe) without visiting their
// capsules.
const FAR: f32 = 0.02;

fn scene(q: vec3<f32>) -> vec2<f32> {
    var best = 1e9;
    var albedo = 0.0;
    let n = p.size.z;
    var i = 0u;
    loop {
        if (i >= n) { break; }
        let first = caps[i];
        // The group's bounding sphere rides on its first capsule.
        let count = u32(first.material.z);
        let bound = length(q - first.c.xyz) - first.c.w;
        if (bound > FAR) {
            if (bound < best) { best = bound; albedo = first.material.x; }
            i = i + count;
            continue;
        }
        var d = segment(q, first);
        for (var j = i + 1u; j < i + count; j = j + 1u) {
            d = smin(d, segment(q, caps[j]), p.misc.w);
        }
        if (d < best) { best = d; albedo = first.material.x; }
        i = i + count;
    }
    return vec2<f32>(best, albedo);
}

fn distort(n: vec2<f32>) -> vec2<f32> {
    let r2 = dot(n, n);
    let radial = 1.0 + r2 * (p.dist.x + r2 * (p.dist.y + r2 * p.misc.x));
    return vec2<f32>(
        n.x * radial + 2.0 * p.dist.z * n.x * n.y + p.dist.w * (r2 + 2.0 * n.x * n.x),
        n.y * radial + p.dist.z * (r2 + 2.0 * n.y * n.y) + 2.0 * p.dist.w * n.x * n.y,
    );
}

fn hash(x: u32) -> u32 {
    var h = x * 747796405u + 2891336453u;
    h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
    return (h >> 22u) ^ h;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let w = p.size.x;
    let h = p.size.y;
    if (id.x >= w || id.y >= h) { return; }
    let d = vec2<f32>((f32(id.x) + 0.5 - p.k.z) / p.k.x, (f32(id.y) + 0.5 - p.k.w) / p.k.y);
    var n = d;
    for (var i = 0; i < 20; i = i + 1) {
        n = n - (distort(n) - d);
    }
    let dir = normalize(vec3<f32>(n.x, -n.y, -1.0));
    // March only inside the scene's bounding sphere (most rays miss it).
    let oc = -p.bounds.xyz;
    let b = dot(oc, dir);
    let disc = b * b - (dot(oc, oc) - p.bounds.w * p.bounds.w);
    var t = 0.02;
    var t_end = -1.0;
    if (disc > 0.0) {
        t = max(t, -b - sqrt(disc));
        t_end = -b + sqrt(disc);
    }
    var hit = false;
    var albedo = 0.0;
    for (var i = 0; i < 128; i = i + 1) {
        if (t > t_end) { break; }
        let s = scene(dir * t);
        if (s.x < 1e-4) { hit = true; albedo = s.y; break; }
        t = t + s.x;
    }
    var v = 0.0;
    if (hit) {
        let q = dir * t;
        let e = 1e-4;
        let nrm = normalize(vec3<f32>(
            scene(q + vec3<f32>(e, 0.0, 0.0)).x - scene(q - vec3<f32>(e, 0.0, 0.0)).x,
            scene(q + vec3<f32>(0.0, e, 0.0)).x - scene(q - vec3<f32>(0.0, e, 0.0)).x,
            scene(q + vec3<f32>(0.0, 0.0, e)).x - scene(q - vec3<f32>(0.0, 0.0, e)).x,
        ));
        let diffuse = max(dot(nrm, p.light.xyz), 0.0);
        v = albedo * (p.misc.y + (1.0 - p.misc.y) * diffuse);
    } else {
        // Background by ray direction: 0 plain, 1 checker, 2 vertical gradient.
        let kind = u32(p.background.x);
        if (kind == 1u) {
            let cell = vec2<i32>(floor(vec2<f32>(dir.x, dir.y) / -dir.z / p.background.w));
            if (((cell.x + cell.y) & 1) == 0) { v = p.background.y; } else { v = p.background.z; }
        } else if (kind == 2u) {
            v = mix(p.background.z, p.background.y, clamp(0.5 + dir.y / -dir.z, 0.0, 1.0));
        } else {
            v = p.background.y;
        }
    }
    let r = f32(hash(id.y * w + id.x + p.size.w * 1000003u) & 0xFFFFu) / 65535.0 - 0.5;
    v = v + r * p.misc.z;
    out_px[id.y * w + id.x] = u32(clamp(v * 255.0 + 0.5, 0.0, 255.0));
}
