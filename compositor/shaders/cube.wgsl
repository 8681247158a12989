// Cube layers: like layer.wgsl, but the layer is an environment map: the
// pixel's view direction, rotated into the cube's orientation, samples the
// cube map directly (Vulkan's cube face selection).
//
// Output is premultiplied linear colour, blended with
// ONE / ONE_MINUS_SRC_ALPHA into an sRGB target (blending in linear light).

@group(0) @binding(1) var cube: texture_cube<f32>;

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
