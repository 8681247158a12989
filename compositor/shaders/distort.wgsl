// Distortion pass: a mesh over each eye's half of the panel carries, per
// vertex, where red, green and blue must be sampled in the eye image
// (the lens model's inverse, per channel: chromatic-aberration correction).

struct Lens {
    // The eye's tangents (left, right, up, down) and, in aperture.x, the
    // tangent radius of the lens's circular field (0: none).
    eye_tan: vec4<f32>,
    aperture: vec4<f32>,
}

var<immediate> lens: Lens;
@group(0) @binding(0) var samp: sampler;
@group(0) @binding(1) var eye: texture_2d<f32>;

struct VsIn {
    @location(0) pos: vec2<f32>,
    @location(1) uv_r: vec2<f32>,
    @location(2) uv_g: vec2<f32>,
    @location(3) uv_b: vec2<f32>,
}

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv_r: vec2<f32>,
    @location(1) uv_g: vec2<f32>,
    @location(2) uv_b: vec2<f32>,
}

@vertex
fn vs_main(v: VsIn) -> VsOut {
    var o: VsOut;
    o.pos = vec4<f32>(v.pos, 0.0, 1.0);
    o.uv_r = v.uv_r;
    o.uv_g = v.uv_g;
    o.uv_b = v.uv_b;
    return o;
}

fn channel(uv: vec2<f32>) -> vec4<f32> {
    if (uv.x < 0.0 || uv.x > 1.0 || uv.y < 0.0 || uv.y > 1.0) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    return textureSampleLevel(eye, samp, uv, 0.0);
}

@fragment
fn fs_main(v: VsOut) -> @location(0) vec4<f32> {
    // Where green reads, in tangent space: beyond the aperture, black.
    let t = vec2<f32>(mix(lens.eye_tan.x, lens.eye_tan.y, v.uv_g.x), mix(lens.eye_tan.z, lens.eye_tan.w, v.uv_g.y));
    if (lens.aperture.x > 0.0 && length(t) > lens.aperture.x) {
        return vec4<f32>(0.0, 0.0, 0.0, 1.0);
    }
    return vec4<f32>(channel(v.uv_r).r, channel(v.uv_g).g, channel(v.uv_b).b, 1.0);
}
