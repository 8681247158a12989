// Cube layers: like layer.wgsl, but the layer is an environment map: the
// pixel's view direction, rotated into the cube's orientation, samples the
// cube map directly (Vulkan's cube face selection).
//
// Output is premultiplied linear colour, blended with
// ONE / ONE_MINUS_SRC_ALPHA into an sRGB target (blending in linear light).

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
    // kind (0 projection, 1 quad, 2 cylinder, 3 equirect), array index,
    // flags (1 source alpha, 2 unpremultiplied), unused.
    misc: vec4<u32>,
}

var<immediate> p: Params;
@group(0) @binding(0) var samp: sampler;
@group(0) @binding(1) var cube: texture_cube<f32>;

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

@fragment
fn fs_main(v: VsOut) -> @location(0) vec4<f32> {
    let t = vec2<f32>(mix(p.eye_tan.x, p.eye_tan.y, v.uv.x), mix(p.eye_tan.z, p.eye_tan.w, v.uv.y));
    let d_eye = normalize(vec3<f32>(t.x, t.y, -1.0));
    let d = vec3<f32>(dot(p.row0.xyz, d_eye), dot(p.row1.xyz, d_eye), dot(p.row2.xyz, d_eye));
    var c = textureSampleLevel(cube, samp, d, 0.0);
    if ((p.misc.z & 1u) == 0u) {
        c.a = 1.0;
    } else if ((p.misc.z & 2u) != 0u) {
        c = vec4<f32>(c.rgb * c.a, c.a);
    }
    return c;
}
