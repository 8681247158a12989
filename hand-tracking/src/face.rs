//! MediaPipe's face landmark model (468 points of its canonical face mesh,
//! from the same pinned wheel as the hand models), run by the same graph
//! executor: the camera path of the codec avatars (a headset's face camera
//! or a webcam). The avatar crate fits its face model to the landmarks.
//!
//! The model reads a square 192 × 192 crop around the face and returns each
//! point's x and y in crop pixels and a relative depth z in the same scale
//! (larger away from the camera), plus a logit of a face being there. The
//! region follows the face from frame to frame: the next one is the square
//! around the landmarks, enlarged by [`ROI_SCALE`] and turned with the line
//! between the eyes (MediaPipe's rule). The first region comes from the
//! caller: a face camera's fixed view of the face, or a webcam's centre.

use crate::graph::{Graph, GraphError};
use crate::in_pool;
use crate::landmark::{self, Image};
use crate::palm::Roi;
use candle_core::{Device, Tensor};
use glam::{Vec2, Vec3};

/// Input size of the model, pixels.
pub const INPUT: usize = 192;
/// Landmarks of the canonical face mesh.
pub const LANDMARKS: usize = 468;
/// The region around the landmarks is this many times their extent.
pub const ROI_SCALE: f32 = 1.5;
/// The landmarks at the outer corners of the left and right eye (the
/// subject's), which set the region's rotation.
pub const EYE_CORNERS: [usize; 2] = [263, 33];

/// The landmarks of one face in an image.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceLandmarks {
    /// Image pixels (x right, y down); z in pixels too, relative to the
    /// face's centre, larger away from the camera.
    pub points: Vec<Vec3>,
    /// 0..=1: how sure the model is that the region holds a face.
    pub presence: f32,
    /// The region they were found in.
    pub roi: Roi,
}

impl FaceLandmarks {
    /// The region to look in next frame: square (in pixels) around the
    /// points, [`ROI_SCALE`] times their extent, turned so the eyes are
    /// level in the crop.
    pub fn next_roi(&self, width: usize, height: usize) -> Roi {
        let (w, h) = (width as f32, height as f32);
        let [l, r] = EYE_CORNERS.map(|i| self.points[i].truncate());
        // The subject's left eye is on the image's right: the line from the
        // right eye to the left runs along +x when the head is upright.
        let d = l - r;
        let rotation = d.y.atan2(d.x);
        let (s, c) = rotation.sin_cos();
        let centre = self.points.iter().map(|p| p.truncate()).sum::<Vec2>() / LANDMARKS as f32;
        // Extent in the turned frame.
        let (mut lo, mut hi) = (Vec2::splat(f32::MAX), Vec2::splat(f32::MIN));
        for p in &self.points {
            let q = p.truncate() - centre;
            let q = Vec2::new(c * q.x + s * q.y, -s * q.x + c * q.y);
            lo = lo.min(q);
            hi = hi.max(q);
        }
        let mid = (lo + hi) / 2.0;
        let centre = centre + Vec2::new(c * mid.x - s * mid.y, s * mid.x + c * mid.y);
        let side = (hi - lo).max_element() * ROI_SCALE;
        Roi {
            center: Vec2::new(centre.x / w, centre.y / h),
            size: Vec2::new(side / w, side / h),
            rotation,
        }
    }
}

/// The face landmark model.
#[derive(Debug)]
pub struct FaceLandmarker {
    graph: Graph,
    device: Device,
}

impl FaceLandmarker {
    /// Loads `face_landmark` from `dir` (see [`crate::models_dir`]).
    pub fn load(dir: &std::path::Path, device: &Device) -> Result<Self, GraphError> {
        Ok(Self {
            graph: Graph::load(dir, "face_landmark", device)?,
            device: device.clone(),
        })
    }

    /// The landmarks of the face in `roi` of `image`.
    pub fn landmarks(&self, image: &Image, roi: &Roi) -> Result<FaceLandmarks, GraphError> {
        in_pool(|| {
            let crop = landmark::crop(image, roi, INPUT);
            let x = Tensor::from_vec(crop, (1, INPUT, INPUT, 3), &self.device)?;
            let out = self.graph.run(&x)?;
            let points = out[0].flatten_all()?.to_vec1::<f32>()?;
            let logit = out[1].flatten_all()?.to_vec1::<f32>()?[0];
            let (w, h) = (image.width(), image.height());
            // Crop pixels to image pixels; z by the crop's scale.
            let scale = roi.size.x * w as f32 / INPUT as f32;
            let points = points
                .chunks_exact(3)
                .map(|p| {
                    let q = landmark::crop_to_image(roi, w, h, INPUT, p[0], p[1]);
                    Vec3::new(q.x, q.y, p[2] * scale)
                })
                .collect();
            Ok(FaceLandmarks {
                points,
                presence: 1.0 / (1.0 + (-logit).exp()),
                roi: *roi,
            })
        })
    }
}

/// The largest centred square of a `width` × `height` image: where a face
/// camera's or a webcam's face is looked for first.
pub fn centre_roi(width: usize, height: usize) -> Roi {
    let side = width.min(height) as f32;
    Roi {
        center: Vec2::splat(0.5),
        size: Vec2::new(side / width as f32, side / height as f32),
        rotation: 0.0,
    }
}
