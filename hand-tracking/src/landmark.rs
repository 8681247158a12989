//! Around the 21-landmark model: cutting the rotated hand region out of a
//! camera image, and mapping the model's landmarks back into the image.

use crate::palm::Roi;
use glam::{Vec2, Vec3};

/// Input size of the landmark models, pixels.
pub const CROP: usize = 224;
/// Landmarks per hand (MediaPipe's order: wrist, then four per finger from
/// the thumb).
pub const NUM_LANDMARKS: usize = 21;

/// An RGB image in [0, 1], row-major, 3 floats per pixel.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    pub width: usize,
    pub height: usize,
    pub rgb: &'a [f32],
}

impl Image<'_> {
    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        // Bilinear, pixel centres at +0.5, zero outside the image.
        let (x, y) = (x - 0.5, y - 0.5);
        let (x0, y0) = (x.floor(), y.floor());
        let (tx, ty) = (x - x0, y - y0);
        if x0 >= 0.0
            && y0 >= 0.0
            && (x0 as usize) + 1 < self.width
            && (y0 as usize) + 1 < self.height
        {
            // All four pixels inside (most of a crop): two pairs of
            // neighbours, each pair 6 contiguous floats.
            let i = (y0 as usize * self.width + x0 as usize) * 3;
            let j = i + self.width * 3;
            let (top, bottom) = (&self.rgb[i..i + 6], &self.rgb[j..j + 6]);
            return std::array::from_fn(|c| {
                let t = top[c] + (top[c + 3] - top[c]) * tx;
                let b = bottom[c] + (bottom[c + 3] - bottom[c]) * tx;
                t + (b - t) * ty
            });
        }
        let mut out = [0f32; 3];
        for (dy, wy) in [(0, 1.0 - ty), (1, ty)] {
            for (dx, wx) in [(0, 1.0 - tx), (1, tx)] {
                let (px, py) = (x0 as i64 + dx, y0 as i64 + dy);
                if px < 0 || py < 0 || px >= self.width as i64 || py >= self.height as i64 {
                    continue;
                }
                let i = (py as usize * self.width + px as usize) * 3;
                for (o, v) in out.iter_mut().zip(&self.rgb[i..i + 3]) {
                    *o += wx * wy * v;
                }
            }
        }
        out
    }
}

/// Simultaneous camera frames as the models' input images: each frame
/// converted into its buffer of `rgb` (reused from frame to frame, one per
/// camera), then borrowed as an [`Image`].
pub fn frames_as_images<'a>(
    frames: &[parallax_sdk_types::CameraFrame],
    rgb: &'a mut Vec<Vec<f32>>,
) -> Vec<Image<'a>> {
    rgb.resize_with(frames.len(), Vec::new);
    for (out, f) in rgb.iter_mut().zip(frames) {
        rgb_from_frame(f, out);
    }
    rgb.iter()
        .zip(frames)
        .map(|(d, f)| Image {
            width: f.width as usize,
            height: f.height as usize,
            rgb: d,
        })
        .collect()
}

/// Grey bytes as the models' input: RGB floats in 0..1.
pub fn rgb_from_gray(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().flat_map(|g| [*g as f32 / 255.0; 3]).collect()
}

/// A camera frame (grey, RGB or RGBA bytes) as the models' input: RGB
/// floats in 0..1, grey replicated, into `out` (reused across frames).
pub fn rgb_from_frame(f: &parallax_sdk_types::CameraFrame, out: &mut Vec<f32>) {
    let (w, h, stride) = (f.width as usize, f.height as usize, f.stride as usize);
    let bpp = f.format.map_or(1, |p| p.bytes_per_pixel()) as usize;
    out.clear();
    out.reserve(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let o = y * stride + x * bpp;
            if bpp >= 3 {
                let px = f.data.get(o..o + 3).unwrap_or(&[0; 3]);
                out.extend(px.iter().map(|v| *v as f32 / 255.0));
            } else {
                out.extend([f.data.get(o).copied().unwrap_or(0) as f32 / 255.0; 3]);
            }
        }
    }
}

/// Where crop pixel `(u, v)` (continuous, 0..size) lies in the image, pixels.
pub fn crop_to_image(roi: &Roi, width: usize, height: usize, size: usize, u: f32, v: f32) -> Vec2 {
    let side = Vec2::new(roi.size.x * width as f32, roi.size.y * height as f32);
    let d = Vec2::new(u / size as f32 - 0.5, v / size as f32 - 0.5) * side;
    let (s, c) = roi.rotation.sin_cos();
    let center = Vec2::new(roi.center.x * width as f32, roi.center.y * height as f32);
    center + Vec2::new(c * d.x - s * d.y, s * d.x + c * d.y)
}

/// Cuts `roi` out of `image` into a `size`×`size` RGB crop (NHWC floats),
/// turned so the hand points up.
pub fn crop(image: &Image, roi: &Roi, size: usize) -> Vec<f32> {
    use rayon::prelude::*;
    // crop_to_image as an affine map, worked out once: image point =
    // origin + u·du + v·dv for crop pixel centres (u, v).
    let at = |u: f32, v: f32| crop_to_image(roi, image.width, image.height, size, u, v);
    let origin = at(0.5, 0.5);
    let du = at(1.5, 0.5) - origin;
    let dv = at(0.5, 1.5) - origin;
    let mut out = vec![0f32; size * size * 3];
    out.par_chunks_mut(size * 3)
        .enumerate()
        .for_each(|(v, row)| {
            let start = origin + dv * v as f32;
            for (u, px) in row.chunks_exact_mut(3).enumerate() {
                let p = start + du * u as f32;
                px.copy_from_slice(&image.sample(p.x, p.y));
            }
        });
    out
}

/// One hand as the landmark model sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct HandLandmarks {
    /// Image pixels (x, y) and depth relative to the wrist in the same
    /// pixel scale (z), per landmark.
    pub image: [Vec3; NUM_LANDMARKS],
    /// Metric landmarks (metres) around the hand's centre, in the crop's
    /// orientation turned back to the image's.
    pub world: [Vec3; NUM_LANDMARKS],
    /// Probability that a hand is in the region.
    pub presence: f32,
    /// Probability that it is a right hand (as seen in a non-mirrored
    /// camera image).
    pub right: f32,
}

/// Maps the model's outputs (`landmarks` and `world`: 63 values each, crop
/// pixels of a `CROP`-sized input and metres) back to the image.
pub fn decode(
    landmarks: &[f32],
    world: &[f32],
    presence: f32,
    right: f32,
    roi: &Roi,
    width: usize,
    height: usize,
) -> HandLandmarks {
    let side = roi.size.x * width as f32;
    let (s, c) = roi.rotation.sin_cos();
    let mut image = [Vec3::ZERO; NUM_LANDMARKS];
    let mut metric = [Vec3::ZERO; NUM_LANDMARKS];
    for k in 0..NUM_LANDMARKS {
        let l = &landmarks[3 * k..3 * k + 3];
        let p = crop_to_image(roi, width, height, CROP, l[0], l[1]);
        image[k] = Vec3::new(p.x, p.y, l[2] / CROP as f32 * side);
        let w = &world[3 * k..3 * k + 3];
        metric[k] = Vec3::new(c * w[0] - s * w[1], s * w[0] + c * w[1], w[2]);
    }
    HandLandmarks {
        image,
        world: metric,
        presence,
        right,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_frames_become_rgb_floats() {
        use parallax_sdk_types::{CameraFrame, PixelFormat};
        // 2x1 grey with a padded row, then 1x1 RGBA.
        let grey = CameraFrame {
            width: 2,
            height: 1,
            stride: 4,
            format: Some(PixelFormat::Gray8),
            data: vec![0, 255, 9, 9],
            ..Default::default()
        };
        let mut out = Vec::new();
        rgb_from_frame(&grey, &mut out);
        assert_eq!(out, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(rgb_from_gray(&[0, 255]), out);
        let rgba = CameraFrame {
            width: 1,
            height: 1,
            stride: 4,
            format: Some(PixelFormat::Rgba8),
            data: vec![255, 0, 51, 7],
            ..Default::default()
        };
        rgb_from_frame(&rgba, &mut out);
        assert_eq!(out, vec![1.0, 0.0, 0.2]);
        let mut buffers = Vec::new();
        let images = frames_as_images(&[grey, rgba], &mut buffers);
        assert_eq!(
            (images[0].width, images[0].height, images[0].rgb.len()),
            (2, 1, 6)
        );
        assert_eq!(images[1].rgb, &[1.0, 0.0, 0.2]);
    }

    fn roi(rotation: f32) -> Roi {
        Roi {
            center: Vec2::new(0.5, 0.5),
            size: Vec2::new(0.5, 0.5),
            rotation,
        }
    }

    #[test]
    fn an_unrotated_crop_is_a_resized_window() {
        // 8x8 image whose red channel is x and green y (pixel centres).
        let rgb: Vec<f32> = (0..64)
            .flat_map(|i| [(i % 8) as f32 + 0.5, (i / 8) as f32 + 0.5, 1.0])
            .collect();
        let img = Image {
            width: 8,
            height: 8,
            rgb: &rgb,
        };
        // The middle 4x4 pixels, at 4x4: the same pixels.
        let c = crop(&img, &roi(0.0), 4);
        assert_eq!(&c[..3], &[2.5, 2.5, 1.0]);
        assert_eq!(&c[(3 * 4 + 3) * 3..][..3], &[5.5, 5.5, 1.0]);
    }

    #[test]
    fn a_quarter_turn_maps_crop_up_to_image_right() {
        let r = roi(std::f32::consts::FRAC_PI_2);
        let (w, h) = (100, 100);
        let top = crop_to_image(&r, w, h, CROP, CROP as f32 / 2.0, 0.0);
        let centre = crop_to_image(&r, w, h, CROP, CROP as f32 / 2.0, CROP as f32 / 2.0);
        assert!((centre - Vec2::new(50.0, 50.0)).length() < 1e-4);
        // "Up" in the crop is +x in the image for a hand pointing right.
        assert!((top - Vec2::new(75.0, 50.0)).length() < 1e-3, "{top}");
    }

    #[test]
    fn landmarks_map_back_through_the_region() {
        let mut raw = vec![0f32; 63];
        raw[0] = CROP as f32 / 2.0;
        raw[1] = CROP as f32; // wrist at the crop's bottom middle
        raw[2] = 22.4; // a tenth of the crop deeper
        let world = vec![0.01f32; 63];
        let h = decode(&raw, &world, 0.9, 0.2, &roi(0.0), 200, 100);
        assert!(
            (h.image[0] - Vec3::new(100.0, 75.0, 10.0)).length() < 1e-3,
            "{}",
            h.image[0]
        );
        assert_eq!(h.world[0], Vec3::splat(0.01));
        assert_eq!((h.presence, h.right), (0.9, 0.2));
    }
}
