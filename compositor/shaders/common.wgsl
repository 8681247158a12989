// Shared by layer.wgsl and cube.wgsl (build.rs puts it in front of each):
// the per-layer push constants, the sampler, and the full-screen triangle.

struct Params {
    // Rows of the rotation target_from_eye; .w holds the eye position in
    // the target space (x, y, z in rows 0, 1, 2).
    row0: vec4<f32>,
    row1: vec4<f32>,
    row2: vec4<f32>,
    // Eye field of view as tangents: left, right, up, down.
    eye_tan: vec4<f32>,
    // Layer shape: quad (width, height); cylinder (radius, central angle,
    // aspect ratio); equirect (radius, central horizontal angle, upper
    // vertical angle, lower vertical angle); projection: view tangents.
    shape: vec4<f32>,
    // Sub-image rectangle in normalized texture coordinates: offset, size.
    rect: vec4<f32>,
    // kind (0 projection, 1 quad, 2 cylinder, 3 equirect, 4 cube), array
    // index, flags (1 source alpha, 2 unpremultiplied, 4 depth), unused.
    misc: vec4<u32>,
    // Projection with depth: minDepth, maxDepth, nearZ, farZ.
    depth: vec4<f32>,
}

var<immediate> p: Params;
@group(0) @binding(0) var samp: sampler;
struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let uv = vec2<f32>(f32((i << 1u) & 2u), f32(i & 2u));
    var o: VsOut;
    o.pos = vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
    o.uv = uv;
    return o;
}

