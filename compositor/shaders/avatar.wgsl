// Avatars (system content: meeting participants): lit, depth-tested meshes
// drawn into each eye after the app's scene. Depth is reversed and
// infinite (1 at the near plane, 0 at infinity: z_ndc = near / distance),
// the convention depth.wgsl writes the app's depth in, so avatars and the
// app's surfaces hide each other where the app submitted depth.
//
// Output is linear colour into the sRGB target; avatars are opaque.

struct AvatarParams {
    // Clip space of the eye from the avatar's frame.
    clip_from_avatar: mat4x4<f32>,
    // Direction towards the light in the avatar's frame; w: ambient share.
    light: vec4<f32>,
}

var<immediate> a: AvatarParams;

struct VIn {
    @location(0) pos: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
}

struct VOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) normal: vec3<f32>,
    @location(1) color: vec3<f32>,
}

@vertex
fn vs_main(v: VIn) -> VOut {
    var o: VOut;
    o.pos = a.clip_from_avatar * vec4<f32>(v.pos, 1.0);
    o.normal = v.normal;
    o.color = v.color.rgb;
    return o;
}

@fragment
fn fs_main(v: VOut) -> @location(0) vec4<f32> {
    let n = normalize(v.normal);
    let l = normalize(a.light.xyz);
    let lit = a.light.w + (1.0 - a.light.w) * max(dot(n, l), 0.0);
    return vec4<f32>(v.color * lit, 1.0);
}
