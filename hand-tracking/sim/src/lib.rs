//! Simulated hand cameras with exact ground truth.
//!
//! A hand is drawn as capsules along its 26 joints (radii from the joints,
//! a thick palm between the wrist and the knuckles, a forearm) joined with a smooth
//! union, so the skin flows over the joints like a skinned mesh; occluders
//! are plain capsules. [`gpu::Renderer`] ray-marches such a scene with wgpu
//! off-screen (a compute shader, `hand.wgsl`) for any calibrated camera,
//! lens distortion included, with skin tone, lighting, background and sensor
//! noise as parameters; [`render_cpu`] is the same algorithm in Rust, the
//! reference the GPU output is tested against. [`sequences`] is the fixed
//! evaluation set (`parallax hands eval`).

pub mod cameras;
pub mod eval;
pub mod gpu;
pub mod sequences;

use glam::{Vec2, Vec3};
use parallax_hand_tracking::stereo::Camera;
use parallax_sdk_types::{Pose, HAND_JOINT_COUNT};

/// One capsule: a segment with a radius at each end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capsule {
    pub a: Vec3,
    pub ra: f32,
    pub b: Vec3,
    pub rb: f32,
    /// Diffuse reflectance, 0..1.
    pub albedo: f32,
    /// Capsules of one group (one hand) are joined smoothly; groups are
    /// contiguous in a scene's list.
    pub group: u32,
}

/// How the space behind the hands looks (by ray direction).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Background {
    Plain(f32),
    /// Squares `size` wide (in tangent of the view angle) of two levels.
    Checker {
        a: f32,
        b: f32,
        size: f32,
    },
    /// `top` above the horizon of the view, `bottom` below.
    Gradient {
        top: f32,
        bottom: f32,
    },
}

/// What the cameras see (positions in the headset's frame).
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub capsules: Vec<Capsule>,
    /// Direction towards the light, headset frame.
    pub light: Vec3,
    /// Light that reaches surfaces facing away, 0..1.
    pub ambient: f32,
    pub background: Background,
    /// Peak-to-peak sensor noise (grey levels / 255).
    pub noise: f32,
    /// Varies the noise from frame to frame.
    pub seed: u32,
}

/// Smooth-union radius: how far the skin rounds over a joint (metres).
pub const BLEND: f32 = 0.006;

/// The capsules of one hand from its joints (`XrHandJointEXT` order).
pub fn hand_capsules(
    joints: &[(Pose, f32); HAND_JOINT_COUNT],
    albedo: f32,
    group: u32,
) -> Vec<Capsule> {
    let pos = |i: usize| joints[i].0.position;
    // Skin sits a little inside the joint spheres the extension reports.
    let r = |i: usize| joints[i].1 * 0.9;
    let mut out = Vec::with_capacity(26);
    let mut cap = |a: usize, b: usize, ra: f32, rb: f32| {
        out.push(Capsule {
            a: pos(a),
            ra,
            b: pos(b),
            rb,
            albedo,
            group,
        })
    };
    for (a, b) in [(1, 2), (2, 3), (3, 4), (4, 5)] {
        cap(a, b, r(a), r(b));
    }
    for f in 0..4 {
        let m = 6 + 5 * f;
        for k in 1..4 {
            cap(m + k, m + k + 1, r(m + k), r(m + k + 1));
        }
    }
    // The palm: thick from the wrist to each knuckle, and across the knuckles.
    let wrist_r = joints[1].1;
    for m in [7, 12, 17, 22] {
        cap(1, m, 0.9 * wrist_r, r(m) * 1.1);
    }
    cap(7, 22, r(7), r(22));
    // The forearm, 20 cm back from the wrist: the landmark model places the
    // wrist where the forearm meets the hand, so a hand needs one.
    let wrist = joints[1].0;
    out.push(Capsule {
        a: wrist.position,
        ra: 0.9 * wrist_r,
        b: wrist.transform_point(Vec3::new(0.0, 0.0, 0.2)),
        rb: 1.3 * wrist_r,
        albedo,
        group,
    });
    out
}

/// An image of one camera.
#[derive(Clone, Debug, PartialEq)]
pub struct GrayImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// The image as the models' input (borrowed, read as grey RGB).
    pub fn as_image(&self) -> parallax_hand_tracking::landmark::Image<'_> {
        parallax_hand_tracking::landmark::Image::gray(
            self.width as usize,
            self.height as usize,
            &self.pixels,
        )
        .expect("a rendered image holds width x height pixels")
    }
}

/// The parameters block shared by the shader and the CPU reference.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    k: [f32; 4],
    dist: [f32; 4],
    misc: [f32; 4],
    light: [f32; 4],
    bounds: [f32; 4],
    background: [f32; 4],
    size: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct GpuCapsule {
    a: [f32; 4],
    b: [f32; 4],
    /// Albedo, group, capsules in the group (on a group's first), unused.
    material: [f32; 4],
    /// The group's bounding sphere (on a group's first).
    bound: [f32; 4],
}

/// The scene in the camera's frame, as the shader takes it.
pub(crate) fn camera_space(scene: &Scene, camera: &Camera) -> (Params, Vec<GpuCapsule>) {
    let from_head = camera.head_from_camera.inverse();
    let k = &camera.intrinsics;
    let light = (from_head.orientation * scene.light).normalize_or(Vec3::Z);
    let background = match scene.background {
        Background::Plain(v) => [0.0, v, v, 1.0],
        Background::Checker { a, b, size } => [1.0, a, b, size],
        Background::Gradient { top, bottom } => [2.0, top, bottom, 1.0],
    };
    // A sphere around every capsule (centre of the end points' box).
    let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
    let cam_caps: Vec<(Vec3, Vec3, f32)> = scene
        .capsules
        .iter()
        .map(|c| {
            (
                from_head.transform_point(c.a),
                from_head.transform_point(c.b),
                c.ra.max(c.rb),
            )
        })
        .collect();
    for (a, b, _) in &cam_caps {
        lo = lo.min(a.min(*b));
        hi = hi.max(a.max(*b));
    }
    let center = (lo + hi) / 2.0;
    let radius = cam_caps
        .iter()
        .map(|(a, b, r)| (*a - center).length().max((*b - center).length()) + r + BLEND)
        .fold(0.0f32, f32::max);
    let params = Params {
        k: [k.fx, k.fy, k.cx, k.cy],
        dist: [
            k.distortion[0],
            k.distortion[1],
            k.distortion[2],
            k.distortion[3],
        ],
        misc: [k.distortion[4], scene.ambient, scene.noise, BLEND],
        light: [light.x, light.y, light.z, 0.0],
        bounds: [center.x, center.y, center.z, radius],
        background,
        size: [
            camera.width,
            camera.height,
            scene.capsules.len() as u32,
            scene.seed,
        ],
    };
    let mut caps: Vec<GpuCapsule> = scene
        .capsules
        .iter()
        .zip(&cam_caps)
        .map(|(c, (a, b, _))| GpuCapsule {
            a: [a.x, a.y, a.z, c.ra],
            b: [b.x, b.y, b.z, c.rb],
            material: [c.albedo, c.group as f32, 0.0, 0.0],
            bound: [0.0; 4],
        })
        .collect();
    // Each group's size and bounding sphere go on its first capsule.
    let mut i = 0;
    while i < caps.len() {
        let group = caps[i].material[1];
        let n = caps[i..]
            .iter()
            .take_while(|c| c.material[1] == group)
            .count();
        let ends = |c: &GpuCapsule| [Vec3::from_slice(&c.a[..3]), Vec3::from_slice(&c.b[..3])];
        let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
        for c in &caps[i..i + n] {
            for e in ends(c) {
                lo = lo.min(e);
                hi = hi.max(e);
            }
        }
        let center = (lo + hi) / 2.0;
        let radius = caps[i..i + n]
            .iter()
            .map(|c| {
                let [a, b] = ends(c);
                (a - center).length().max((b - center).length()) + c.a[3].max(c.b[3]) + BLEND
            })
            .fold(0.0f32, f32::max);
        caps[i].material[2] = n as f32;
        caps[i].bound = [center.x, center.y, center.z, radius];
        i += n;
    }
    (params, caps)
}

fn segment(q: Vec3, c: &GpuCapsule) -> f32 {
    let a = Vec3::from_slice(&c.a[..3]);
    let b = Vec3::from_slice(&c.b[..3]);
    let (pa, ba) = (q - a, b - a);
    let h = (pa.dot(ba) / ba.dot(ba).max(1e-12)).clamp(0.0, 1.0);
    (pa - ba * h).length() - (c.a[3] + (c.b[3] - c.a[3]) * h)
}

fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

/// Groups farther than this count by their bounding sphere (see the shader).
const FAR: f32 = 0.02;

fn scene_sdf(q: Vec3, caps: &[GpuCapsule], k: f32) -> (f32, f32) {
    let (mut best, mut albedo) = (1e9f32, 0.0);
    let mut i = 0;
    while i < caps.len() {
        let first = &caps[i];
        let n = first.material[2] as usize;
        let bound = (q - Vec3::from_slice(&first.bound[..3])).length() - first.bound[3];
        if bound > FAR {
            if bound < best {
                (best, albedo) = (bound, first.material[0]);
            }
            i += n;
            continue;
        }
        let mut d = segment(q, first);
        for c in &caps[i + 1..i + n] {
            d = smin(d, segment(q, c), k);
        }
        if d < best {
            (best, albedo) = (d, first.material[0]);
        }
        i += n;
    }
    (best, albedo)
}

fn hash(x: u32) -> u32 {
    let h = x.wrapping_mul(747796405).wrapping_add(2891336453);
    let h = ((h >> ((h >> 28) + 4)) ^ h).wrapping_mul(277803737);
    (h >> 22) ^ h
}

/// Pixels per side of the shader's workgroup tiles.
pub(crate) const TILE: u32 = 8;
/// Words per tile in the shader's per-tile capsule lists (a count, then up
/// to 63 indices).
pub(crate) const TILE_STRIDE: usize = 64;

/// A camera's pixel rays, worked out once per camera (the lens does not
/// change between frames): each pixel's direction (the distortion model
/// inverted by fixed-point iteration, camera frame, looking down -Z), and
/// for each 8×8 tile the cone holding its pixels' rays (unit axis, and the
/// largest angle from it in radians, padded for rounding). The shader culls
/// capsules per tile with the cone and marches along the pixel's ray; the
/// CPU reference uses the same directions.
#[derive(Clone, Debug)]
pub(crate) struct Rays {
    pub(crate) dirs: Vec<[f32; 4]>,
    pub(crate) tiles: Vec<[f32; 4]>,
}

impl Rays {
    pub(crate) fn new(camera: &Camera) -> Self {
        let k = &camera.intrinsics;
        let dist = &k.distortion;
        let distort = |n: Vec2| {
            let r2 = n.length_squared();
            let radial = 1.0 + r2 * (dist[0] + r2 * (dist[1] + r2 * dist[4]));
            Vec2::new(
                n.x * radial + 2.0 * dist[2] * n.x * n.y + dist[3] * (r2 + 2.0 * n.x * n.x),
                n.y * radial + dist[2] * (r2 + 2.0 * n.y * n.y) + 2.0 * dist[3] * n.x * n.y,
            )
        };
        let (w, h) = (camera.width, camera.height);
        let dir = |x: u32, y: u32| {
            let d = Vec2::new(
                (x as f32 + 0.5 - k.cx) / k.fx,
                (y as f32 + 0.5 - k.cy) / k.fy,
            );
            let mut n = d;
            for _ in 0..20 {
                n -= distort(n) - d;
            }
            Vec3::new(n.x, -n.y, -1.0).normalize()
        };
        let mut dirs = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                dirs.push(dir(x, y).extend(0.0).to_array());
            }
        }
        let (tw, th) = (w.div_ceil(TILE), h.div_ceil(TILE));
        let mut tiles = Vec::with_capacity((tw * th) as usize);
        for ty in 0..th {
            for tx in 0..tw {
                let pixels = || {
                    (ty * TILE..((ty + 1) * TILE).min(h)).flat_map(move |y| {
                        (tx * TILE..((tx + 1) * TILE).min(w)).map(move |x| (x, y))
                    })
                };
                let axis = pixels()
                    .map(|(x, y)| Vec3::from_slice(&dirs[(y * w + x) as usize][..3]))
                    .sum::<Vec3>()
                    .normalize();
                let angle = pixels()
                    .map(|(x, y)| {
                        let d = Vec3::from_slice(&dirs[(y * w + x) as usize][..3]);
                        axis.angle_between(d)
                    })
                    .fold(0.0f32, f32::max);
                tiles.push(axis.extend(angle * 1.01 + 1e-4).to_array());
            }
        }
        Self { dirs, tiles }
    }
}

/// The shader's algorithm on the CPU (slow; the reference for tests).
pub fn render_cpu(scene: &Scene, camera: &Camera) -> GrayImage {
    let (p, caps) = camera_space(scene, camera);
    let (w, h) = (camera.width, camera.height);
    let rays = Rays::new(camera);
    let light = Vec3::from_slice(&p.light[..3]);
    let mut pixels = vec![0u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let dir = Vec3::from_slice(&rays.dirs[(y * w + x) as usize][..3]);
            let c = Vec3::from_slice(&p.bounds[..3]);
            let b = (-c).dot(dir);
            let disc = b * b - (c.length_squared() - p.bounds[3] * p.bounds[3]);
            let (mut t, mut t_end) = (0.02f32, -1.0f32);
            if disc > 0.0 {
                t = t.max(-b - disc.sqrt());
                t_end = -b + disc.sqrt();
            }
            let mut hit = None;
            for _ in 0..128 {
                if t > t_end {
                    break;
                }
                let (s, albedo) = scene_sdf(dir * t, &caps, p.misc[3]);
                if s < 1e-4 {
                    hit = Some(albedo);
                    break;
                }
                t += s;
            }
            let mut v = match hit {
                Some(albedo) => {
                    let q = dir * t;
                    let e = 1e-4;
                    let f = |o: Vec3| {
                        scene_sdf(q + o, &caps, p.misc[3]).0 - scene_sdf(q - o, &caps, p.misc[3]).0
                    };
                    let nrm = Vec3::new(f(Vec3::X * e), f(Vec3::Y * e), f(Vec3::Z * e)).normalize();
                    albedo * (p.misc[1] + (1.0 - p.misc[1]) * nrm.dot(light).max(0.0))
                }
                None => match p.background[0] as u32 {
                    1 => {
                        let cell = (Vec2::new(dir.x, dir.y) / -dir.z / p.background[3]).floor();
                        if ((cell.x as i32 + cell.y as i32) & 1) == 0 {
                            p.background[1]
                        } else {
                            p.background[2]
                        }
                    }
                    2 => {
                        let t = (0.5 + dir.y / -dir.z).clamp(0.0, 1.0);
                        p.background[2] + (p.background[1] - p.background[2]) * t
                    }
                    _ => p.background[1],
                },
            };
            let r = (hash((y * w + x).wrapping_add(p.size[3].wrapping_mul(1000003))) & 0xFFFF)
                as f32
                / 65535.0
                - 0.5;
            v += r * p.misc[2];
            pixels[(y * w + x) as usize] = (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    GrayImage {
        width: w,
        height: h,
        pixels,
    }
}
