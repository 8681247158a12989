//! A small CPU rasteriser for the evaluation sheet of `parallax avatar
//! eval`: a face mesh seen from the front (orthographic, depth-tested,
//! flat-shaded), optionally coloured by a per-vertex value (the error heat
//! map). It is for pictures of the codec's output, not for the headset:
//! the compositor draws avatars on the GPU.

use crate::face_camera::{face_bounds, rasterize};
use crate::face_model::FaceModel;
use glam::Vec3;

/// An RGB image, row-major.
#[derive(Clone, Debug)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Image {
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Image {
        Image {
            width,
            height,
            rgb: background.repeat(width * height),
        }
    }

    /// Copies `other` in with its top-left corner at (x, y).
    pub fn blit(&mut self, other: &Image, x: usize, y: usize) {
        for row in 0..other.height.min(self.height.saturating_sub(y)) {
            let w = other.width.min(self.width.saturating_sub(x));
            let d = ((y + row) * self.width + x) * 3;
            let s = row * other.width * 3;
            self.rgb[d..d + w * 3].copy_from_slice(&other.rgb[s..s + w * 3]);
        }
    }
}

/// The colour of `v` in 0..=1 on a blue-to-red ramp (blue, cyan, green,
/// yellow, red).
pub fn heat(v: f32) -> [u8; 3] {
    let v = v.clamp(0.0, 1.0) * 4.0;
    let stops = [
        [40.0, 60.0, 200.0],
        [0.0, 190.0, 220.0],
        [40.0, 200.0, 60.0],
        [240.0, 220.0, 0.0],
        [230.0, 30.0, 20.0],
    ];
    let i = (v as usize).min(3);
    let t = v - i as f32;
    let c: Vec<u8> = (0..3)
        .map(|k| (stops[i][k] * (1.0 - t) + stops[i + 1][k] * t) as u8)
        .collect();
    [c[0], c[1], c[2]]
}

/// Which parts the sheet shows: the skin, the eyes and the teeth (the
/// inner sockets, tear ducts and occlusion shells would only hide them).
fn shown(name: &str) -> bool {
    matches!(
        name,
        "face" | "head_and_neck" | "teeth" | "gums_and_tongue" | "eyeball_left" | "eyeball_right"
    ) || name.starts_with("eyelashes")
}

/// Draws `vertices` (the model's topology) from the front into a
/// `size`-pixel square framing the face; `values` (per vertex, 0..=1)
/// colour it as a heat map, else it is skin-toned.
pub fn render_face(
    model: &FaceModel,
    vertices: &[Vec3],
    values: Option<&[f32]>,
    size: usize,
) -> Image {
    let mut img = Image::new(size, size, [24, 24, 28]);
    // The face's frame: centre and extent of the neutral face part.
    let (lo, hi) = face_bounds(model);
    let centre = (lo + hi) / 2.0;
    let scale = size as f32 * 0.92 / (hi - lo).truncate().max_element().max(1e-6);
    // Orthographic from the front; nearer is larger z, as in the model.
    let screen: Vec<Vec3> = vertices
        .iter()
        .map(|v| {
            Vec3::new(
                (v.x - centre.x) * scale + size as f32 / 2.0,
                size as f32 / 2.0 - (v.y - centre.y) * scale,
                v.z,
            )
        })
        .collect();
    let light = Vec3::new(0.3, 0.4, 1.0).normalize();
    let mut triangles = Vec::new();
    let mut base = Vec::new();
    for part in model.parts.iter().filter(|p| shown(&p.name)) {
        for t in &model.triangles[part.triangles.start as usize..part.triangles.end as usize] {
            triangles.push(*t);
            base.push(match values {
                Some(v) => {
                    let m = t.iter().map(|&i| v[i as usize]).sum::<f32>() / 3.0;
                    heat(m).map(f32::from)
                }
                None if part.name.starts_with("eyeball") => [235.0, 235.0, 230.0],
                None if part.name == "teeth" => [240.0, 236.0, 220.0],
                None if part.name.starts_with("eyelashes") => [40.0, 30.0, 25.0],
                None => [214.0, 170.0, 150.0],
            });
        }
    }
    let mut depth = Vec::new();
    rasterize(size, size, &screen, &triangles, &mut depth, |k, ti, _| {
        let [a, b, c] = triangles[ti].map(|i| vertices[i as usize]);
        let n = (b - a).cross(c - a).normalize_or_zero();
        let shade = 0.25 + 0.75 * n.dot(light).max(0.0);
        let colour = base[ti].map(|c| (c * shade).min(255.0) as u8);
        img.rgb[k * 3..k * 3 + 3].copy_from_slice(&colour);
    });
    img
}

/// The image as a PNG file's bytes.
pub fn png(img: &Image) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("writing to memory");
        w.write_image_data(&img.rgb).expect("writing to memory");
    }
    out
}
