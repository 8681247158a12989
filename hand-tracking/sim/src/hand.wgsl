// Ray-marches a scene of capsules (hands as smoothly joined capsules, so the
// skin flows over the joints; occluders as plain capsules) for one
// calibrated camera with Brown-Conrady distortion, and writes one grey
// level per pixel. Kept in step with `render_cpu` in lib.rs (the test
// compares both).
//
// Two passes: `cull` finds, for each 8×8 tile, the capsules that come near
// some ray of the tile; `main` marches each pixel with its tile's capsules
// only. Written for software Vulkan (lavapipe) as much as for GPUs: there
// the lanes of a SIMD vector run every branch some lane takes, so work is
// kept uniform across a tile, and there are no workgroup barriers (costly
// coroutine switches on lavapipe: a shared-memory version of the culling
// cost 20 ms per image). 640×480 hand images: 155 -> 38 ms median on 2
// cores (`cargo bench -p parallax-hand-sim --bench render`).

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
// Each pixel's ray direction (camera frame, unit; the lens inverted once per
// camera on the CPU: `Rays` in lib.rs), row by row, then each 8×8 tile's
// cone of rays: unit axis, largest angle from it (radians).
@group(0) @binding(3) var<storage, read> rays: array<vec4<f32>>;

// Each tile's capsules, written by `cull` and read by `main`: at
// `tile * TILE_STRIDE` their count, then their indices in scene order (a
// group's capsules stay together for the smooth union); `ALL` for a tile
// near more than `TILE_CAPS` of them, which then visits every capsule.
@group(0) @binding(4) var<storage, read_write> tile_caps: array<u32>;
const TILE_CAPS: u32 = 63u;
const TILE_STRIDE: u32 = 64u;
const ALL: u32 = 0xffffffffu;
var<private> tile_base: u32;
var<private> tile_count: u32;
var<private> tile_all: bool;

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

fn scene_all(q: vec3<f32>) -> vec2<f32> {
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

// The distance and albedo as `scene_all` gives them, from the tile's
// capsules only (a capsule no ray of the tile comes within its reach of
// adds nothing there: the smooth union equals the plain minimum that far
// out). The loop is the same for every pixel of the tile.
fn scene(q: vec3<f32>) -> vec2<f32> {
    if (tile_all) { return scene_all(q); }
    var best = 1e9;
    var albedo = 0.0;
    var d = 1e9;
    var group = -1.0;
    var group_albedo = 0.0;
    for (var k = 0u; k < tile_count; k = k + 1u) {
        let c = caps[tile_caps[tile_base + k]];
        let s = segment(q, c);
        if (c.material.y == group) {
            d = smin(d, s, p.misc.w);
        } else {
            if (d < best) { best = d; albedo = group_albedo; }
            d = s;
            group = c.material.y;
            group_albedo = c.material.x;
        }
    }
    if (d < best) { best = d; albedo = group_albedo; }
    return vec2<f32>(best, albedo);
}

// Whether capsule `c` comes within its reach (radius plus the smooth
// union's) plus `slack` of the line through the origin along `dir`.
fn near_line(c: Capsule, dir: vec3<f32>, slack: f32) -> bool {
    let reach = max(c.a.w, c.b.w) + p.misc.w;
    // Nearest approach of the line to the segment (exact: the squared
    // distance is a quadratic in the segment's parameter).
    let pa = c.a.xyz - dir * dot(c.a.xyz, dir);
    let u = c.b.xyz - c.a.xyz;
    let pu = u - dir * dot(u, dir);
    let s = clamp(-dot(pa, pu) / max(dot(pu, pu), 1e-12), 0.0, 1.0);
    return length(pa + pu * s) - slack <= reach;
}

// The stretch of the ray `dir` (from the camera) near the tile's capsules
// (start > end when none).
fn span(dir: vec3<f32>) -> vec2<f32> {
    var span = vec2<f32>(1e9, -1.0);
    let n = select(tile_count, p.size.z, tile_all);
    for (var k = 0u; k < n; k = k + 1u) {
        let c = caps[select(tile_caps[tile_base + k], k, tile_all)];
        if (!near_line(c, dir, 0.0)) { continue; }
        let reach = max(c.a.w, c.b.w) + p.misc.w;
        let mid = dot((c.a.xyz + c.b.xyz) * 0.5, dir);
        let half = 0.5 * length(c.b.xyz - c.a.xyz) + reach;
        span = vec2<f32>(min(span.x, mid - half), max(span.y, mid + half));
    }
    span.x = max(span.x, 0.02);
    return span;
}

fn hash(x: u32) -> u32 {
    var h = x * 747796405u + 2891336453u;
    h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
    return (h >> 22u) ^ h;
}

// One invocation per tile: the capsules within reach of some ray of the
// tile's cone. A point at distance r from the camera is at least its
// distance to the cone's axis minus r × the cone's angle from any ray of
// the cone, so this keeps every capsule a pixel of the tile could need.
@compute @workgroup_size(64)
fn cull(@builtin(global_invocation_id) id: vec3<u32>) {
    let tiles_x = (p.size.x + 7u) / 8u;
    let count = tiles_x * ((p.size.y + 7u) / 8u);
    let tile = id.x;
    if (tile >= count) { return; }
    let cone = rays[p.size.x * p.size.y + tile];
    let base = tile * TILE_STRIDE;
    var k = 0u;
    for (var i = 0u; i < p.size.z; i = i + 1u) {
        let c = caps[i];
        if (!near_line(c, cone.xyz, max(length(c.a.xyz), length(c.b.xyz)) * cone.w)) {
            continue;
        }
        if (k == TILE_CAPS) { k = ALL; break; }
        tile_caps[base + 1u + k] = i;
        k = k + 1u;
    }
    tile_caps[base] = k;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let w = p.size.x;
    let h = p.size.y;
    if (id.x >= w || id.y >= h) { return; }
    tile_base = ((id.y / 8u) * ((w + 7u) / 8u) + id.x / 8u) * TILE_STRIDE;
    tile_count = tile_caps[tile_base];
    tile_all = tile_count == ALL;
    tile_base = tile_base + 1u;
    let dir = rays[id.y * w + id.x].xyz;
    // March only inside the scene's bounding sphere (most rays miss it),
    // and there only along the stretch near the capsules the ray passes.
    let oc = -p.bounds.xyz;
    let b = dot(oc, dir);
    let disc = b * b - (dot(oc, oc) - p.bounds.w * p.bounds.w);
    var t = 0.02;
    var t_end = -1.0;
    if (disc > 0.0) {
        let span = span(dir);
        t = max(t, max(-b - sqrt(disc), span.x));
        t_end = min(-b + sqrt(disc), span.y);
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
