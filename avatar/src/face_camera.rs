//! A simulated face camera: the face model drawn as a camera in front of
//! the face would see it (perspective, lit, the eyes turned by the gaze,
//! sRGB), so the camera path of the codec (face landmarks, then the fit of
//! [`crate::face_fit`]) runs end to end with exact ground truth. Also the
//! CPU rasteriser under it and under the evaluation sheet
//! ([`crate::sheet`]): triangles with a depth test, each covered pixel
//! reported with its triangle and barycentric coordinates.

use crate::face_model::FaceModel;
use crate::shading::ShadedVertex;
use crate::sheet::Image;
use glam::{Quat, Vec2, Vec3};

/// Draws triangles given in screen space (x right and y down in pixels,
/// z larger nearer) with a depth test, skipping those that face away
/// (clockwise on screen in y-up terms: a front face is counter-clockwise
/// in the model, so clockwise once y points down). Each covered pixel that
/// passes the test calls `fill(pixel, triangle, barycentrics)`, `pixel`
/// being `y * width + x`, `triangle` the position in `triangles`.
pub fn rasterize(
    width: usize,
    height: usize,
    screen: &[Vec3],
    triangles: &[[u32; 3]],
    depth: &mut Vec<f32>,
    mut fill: impl FnMut(usize, usize, [f32; 3]),
) {
    depth.clear();
    depth.resize(width * height, f32::NEG_INFINITY);
    if width == 0 || height == 0 {
        return;
    }
    for (ti, t) in triangles.iter().enumerate() {
        let [a, b, c] = t.map(|i| screen[i as usize]);
        let (pa, pb, pc) = (a.truncate(), b.truncate(), c.truncate());
        let area = (pb - pa).perp_dot(pc - pa);
        if area >= 0.0 || !area.is_finite() {
            continue;
        }
        let min = pa.min(pb).min(pc).max(Vec2::ZERO);
        let max = pa
            .max(pb)
            .max(pc)
            .min(Vec2::new(width as f32 - 1.0, height as f32 - 1.0));
        if min.x > max.x || min.y > max.y {
            continue;
        }
        for y in min.y.ceil() as usize..=max.y.floor() as usize {
            for x in min.x.ceil() as usize..=max.x.floor() as usize {
                let p = Vec2::new(x as f32, y as f32);
                let w0 = (pc - pb).perp_dot(p - pb) / area;
                let w1 = (pa - pc).perp_dot(p - pc) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * a.z + w1 * b.z + w2 * c.z;
                let k = y * width + x;
                if z > depth[k] {
                    depth[k] = z;
                    fill(k, ti, [w0, w1, w2]);
                }
            }
        }
    }
}

/// What covers each pixel of a face camera image: the triangle (of the
/// list drawn) and the barycentric coordinates, `None` for background.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<Option<(u32, [f32; 3])>>,
}

/// A camera looking at the face from the front.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceCamera {
    pub width: usize,
    pub height: usize,
    /// Focal length in pixels.
    pub focal: f32,
    /// From the camera to the face's centre, metres.
    pub distance: f32,
}

impl Default for FaceCamera {
    /// A webcam-like view: 320 × 320, a 60° field of view, 30 cm away
    /// (the face fills most of the frame, as in a face camera's view).
    fn default() -> Self {
        FaceCamera {
            width: 320,
            height: 320,
            focal: 277.0,
            distance: 0.3,
        }
    }
}

/// The box around the model's neutral face part (its lowest and highest
/// corner).
pub fn face_bounds(model: &FaceModel) -> (Vec3, Vec3) {
    let face = model
        .part("face")
        .map(|p| p.vertices.clone())
        .unwrap_or(0..0);
    let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
    for v in &model.neutral[face.start as usize..face.end as usize] {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    (lo, hi)
}

/// The centre of the model's face part (the point the head turns about
/// and the camera looks at).
pub fn face_centre(model: &FaceModel) -> Vec3 {
    let (lo, hi) = face_bounds(model);
    (lo + hi) / 2.0
}

/// Linear 0..=1 to an 8-bit sRGB value.
fn srgb(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let s = if v <= 0.0031308 {
        12.92 * v
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (s * 255.0 + 0.5) as u8
}

impl FaceCamera {
    /// The camera as the fit sees it, in the landmarks' continuous pixel
    /// coordinates (pixel k spans k..k+1; the rasteriser samples it at k).
    pub fn intrinsics(&self) -> crate::face_fit::Intrinsics {
        crate::face_fit::Intrinsics {
            focal: self.focal,
            cx: self.width as f32 / 2.0 + 0.5,
            cy: self.height as f32 / 2.0 + 0.5,
        }
    }

    /// Where a model-frame point lands: pixels (x right, y down) and its
    /// nearness (1 / distance), for the head turned by `turn` about
    /// `centre`.
    pub fn project(&self, p: Vec3, centre: Vec3, turn: Quat) -> Vec3 {
        let q = turn * (p - centre);
        let z = self.distance - q.z;
        Vec3::new(
            self.width as f32 / 2.0 + self.focal * q.x / z,
            self.height as f32 / 2.0 - self.focal * q.y / z,
            1.0 / z,
        )
    }

    /// The image of `shaded` (the shading's vertices of a mesh) drawn with
    /// `triangles`, the head turned by `turn` (a rotation in the model's
    /// frame: +Y up, +Z towards the camera), lit from the front and above
    /// over a dim background; and what covers each pixel.
    pub fn render(
        &self,
        model: &FaceModel,
        shaded: &[ShadedVertex],
        triangles: &[[u32; 3]],
        turn: Quat,
    ) -> (Image, Coverage) {
        let centre = face_centre(model);
        let screen: Vec<Vec3> = shaded
            .iter()
            .map(|v| self.project(Vec3::from_array(v.position), centre, turn))
            .collect();
        let light = Vec3::new(-0.3, 0.5, 1.0).normalize();
        let (w, h) = (self.width, self.height);
        let mut img = Image::new(w, h, [0, 0, 0]);
        // A dim wall behind, lighter towards the top.
        for y in 0..h {
            let v = srgb(0.06 + 0.06 * (1.0 - y as f32 / h as f32));
            for x in 0..w {
                img.rgb[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[v, v, v]);
            }
        }
        let mut cover = Coverage {
            width: w,
            height: h,
            pixels: vec![None; w * h],
        };
        let mut depth = Vec::new();
        rasterize(w, h, &screen, triangles, &mut depth, |k, ti, bary| {
            let t = triangles[ti];
            let mut n = Vec3::ZERO;
            let mut c = Vec3::ZERO;
            for (i, b) in t.iter().zip(bary) {
                let v = &shaded[*i as usize];
                n += Vec3::from_array(v.normal) * b;
                c += Vec3::new(v.color[0] as f32, v.color[1] as f32, v.color[2] as f32) * b;
            }
            let n = (turn * n).normalize_or(Vec3::Z);
            let lit = 0.25 + 0.75 * n.dot(light).max(0.0);
            let rgb = (c / 255.0 * lit).to_array().map(srgb);
            img.rgb[k * 3..k * 3 + 3].copy_from_slice(&rgb);
            cover.pixels[k] = Some((ti as u32, bary));
        });
        (img, cover)
    }
}

/// One image of the simulated face camera, with the truth.
pub struct CameraFrame {
    /// The face's ARKit-order weights.
    pub truth: [f32; parallax_sdk_types::FACE_EXPRESSION_COUNT],
    pub image: Image,
}

/// `count` images of the simulated headset's scripted wearer (face and
/// gaze, `parallax_driver_simulated::face`) at 30 Hz, every `step`-th
/// frame of the script, turning their head in front of `camera` (yaw
/// ±0.25 rad, pitch ±0.12, roll ±0.05, on slow cycles), as a webcam sees
/// its user.
pub fn scripted_wearer(
    model: &FaceModel,
    camera: &FaceCamera,
    count: usize,
    step: usize,
) -> Vec<CameraFrame> {
    use crate::shading::{model_from_head, FaceShading};
    let motion = parallax_driver_simulated::Motion {
        kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
    };
    let mut shading = FaceShading::new(model);
    let map = model.arkit_map();
    let (mut w, mut mesh, mut shaded) = (Vec::new(), Vec::new(), Vec::new());
    let to_model = model_from_head().inverse();
    (0..count)
        .map(|i| {
            let k = i * step;
            let secs = k as f32 / 30.0;
            let at = parallax_sdk_types::Time((k as f64 / 30.0 * 1e9) as i64);
            let truth = parallax_driver_simulated::face::expressions(&motion, at).weights;
            map.weights_into(&truth, &mut w);
            model.evaluate_into(&w, &mut mesh);
            let g = parallax_driver_simulated::face::gaze(&motion, at);
            let dir = to_model * (g.gaze.orientation * -Vec3::Z);
            shading.shade(&mesh, Some([dir, dir]), &mut shaded);
            let tau = std::f32::consts::TAU;
            let turn = Quat::from_euler(
                glam::EulerRot::YXZ,
                0.25 * (tau * secs / 7.0).sin(),
                0.12 * (tau * secs / 5.0).sin(),
                0.05 * (tau * secs / 9.0).sin(),
            );
            let (image, _) = camera.render(model, &shaded, &shading.lods[0], turn);
            CameraFrame { truth, image }
        })
        .collect()
}
