//! From the palm detector's raw outputs to hand regions: SSD anchors, box
//! and keypoint decoding, weighted non-maximum suppression, and the rotated
//! square region the landmark model is run on. The constants are those of
//! MediaPipe's palm detection graph for the 192×192 models (lite and full).

use glam::Vec2;

/// Input size of the palm detectors, pixels.
pub const INPUT_SIZE: f32 = 192.0;
/// Anchors (and raw boxes) of the 192×192 models.
pub const NUM_ANCHORS: usize = 2016;
/// Values per raw box: centre, size, then 7 keypoints (x, y).
pub const NUM_COORDS: usize = 18;
/// Keypoints of a palm detection: 0 wrist, 2 middle finger's base, ...
pub const NUM_KEYPOINTS: usize = 7;

/// One SSD anchor, in normalised [0, 1] input coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    pub center: Vec2,
}

/// The anchors: feature maps of stride 8 (24×24, 2 anchors per cell) and
/// stride 16 (12×12, 6 per cell: three layers of two merged), fixed size 1,
/// centres at the cells' middles.
pub fn anchors() -> Vec<Anchor> {
    let mut out = Vec::with_capacity(NUM_ANCHORS);
    for (stride, per_cell) in [(8.0f32, 2), (16.0, 6)] {
        let cells = (INPUT_SIZE / stride).ceil() as usize;
        for y in 0..cells {
            for x in 0..cells {
                let center = Vec2::new(
                    (x as f32 + 0.5) / cells as f32,
                    (y as f32 + 0.5) / cells as f32,
                );
                for _ in 0..per_cell {
                    out.push(Anchor { center });
                }
            }
        }
    }
    out
}

/// A detected palm, normalised to the detector's input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Palm {
    /// Probability that this is a palm.
    pub score: f32,
    pub center: Vec2,
    pub size: Vec2,
    pub keypoints: [Vec2; NUM_KEYPOINTS],
}

impl Palm {
    fn area(&self) -> f32 {
        self.size.x * self.size.y
    }

    /// Intersection over union of the two axis-aligned boxes.
    pub fn iou(&self, other: &Palm) -> f32 {
        let lo = (self.center - self.size / 2.0).max(other.center - other.size / 2.0);
        let hi = (self.center + self.size / 2.0).min(other.center + other.size / 2.0);
        let overlap = (hi - lo).max(Vec2::ZERO);
        let inter = overlap.x * overlap.y;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Decodes the raw outputs (`boxes` `[2016 × 18]`, `scores` `[2016]`) into the
/// palms scoring at least `min_score`. Raw values are pixels of the
/// 192×192 input relative to each anchor; scores are logits (clipped to
/// ±100, as MediaPipe does).
pub fn decode(boxes: &[f32], scores: &[f32], anchors: &[Anchor], min_score: f32) -> Vec<Palm> {
    let mut out = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let (Some(raw), Some(&logit)) = (
            boxes.get(i * NUM_COORDS..(i + 1) * NUM_COORDS),
            scores.get(i),
        ) else {
            break;
        };
        let score = sigmoid(logit.clamp(-100.0, 100.0));
        if score < min_score {
            continue;
        }
        let at = |k: usize| a.center + Vec2::new(raw[k], raw[k + 1]) / INPUT_SIZE;
        let mut keypoints = [Vec2::ZERO; NUM_KEYPOINTS];
        for (k, p) in keypoints.iter_mut().enumerate() {
            *p = at(4 + 2 * k);
        }
        out.push(Palm {
            score,
            center: at(0),
            size: Vec2::new(raw[2], raw[3]) / INPUT_SIZE,
            keypoints,
        });
    }
    out
}

/// Weighted non-maximum suppression: the best-scoring palm absorbs every
/// palm overlapping it by more than `iou_threshold`, and its box and
/// keypoints become their score-weighted mean (MediaPipe's WEIGHTED
/// algorithm; steadier than keeping the single best box).
pub fn weighted_nms(mut palms: Vec<Palm>, iou_threshold: f32) -> Vec<Palm> {
    palms.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(best) = palms.first().copied() {
        let (cluster, rest): (Vec<Palm>, Vec<Palm>) =
            palms.into_iter().partition(|p| best.iou(p) > iou_threshold);
        palms = rest;
        let total: f32 = cluster.iter().map(|p| p.score).sum();
        let mut merged = best;
        if cluster.len() > 1 && total > 0.0 {
            let w = |f: &dyn Fn(&Palm) -> Vec2| {
                cluster.iter().map(|p| f(p) * p.score).sum::<Vec2>() / total
            };
            merged.center = w(&|p| p.center);
            merged.size = w(&|p| p.size);
            for k in 0..NUM_KEYPOINTS {
                merged.keypoints[k] = w(&|p| p.keypoints[k]);
            }
        }
        out.push(merged);
    }
    out
}

/// A rotated square region of an image, normalised coordinates (x right,
/// y down, as image rows go).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roi {
    pub center: Vec2,
    /// Side lengths, normalised to the image's width and height.
    pub size: Vec2,
    /// Radians, clockwise in the image (y down): the hand's up direction
    /// (wrist to middle finger) is turned to point up in the crop.
    pub rotation: f32,
}

/// The region the landmark model needs around a palm in an image of
/// `width` × `height` pixels: rotated so the wrist-to-middle-finger line
/// points up, enlarged 2.6 times and moved half a palm towards the fingers
/// to hold the whole hand, and made square (MediaPipe's hand ROI).
pub fn hand_roi(palm: &Palm, width: f32, height: f32) -> Roi {
    let px = |p: Vec2| Vec2::new(p.x * width, p.y * height);
    let wrist = px(palm.keypoints[0]);
    let middle = px(palm.keypoints[2]);
    let target = std::f32::consts::FRAC_PI_2;
    let rotation = normalize_angle(target - (-(middle.y - wrist.y)).atan2(middle.x - wrist.x));
    let size = px(palm.size);
    let center = px(palm.center);
    // Shift by -0.5 of the box height along the rotated "up".
    let (s, c) = rotation.sin_cos();
    let shift = Vec2::new(0.0, -0.5 * size.y);
    let shifted = center + Vec2::new(shift.x * c - shift.y * s, shift.x * s + shift.y * c);
    let side = size.x.max(size.y) * 2.6;
    Roi {
        center: Vec2::new(shifted.x / width, shifted.y / height),
        size: Vec2::new(side / width, side / height),
        rotation,
    }
}

fn normalize_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    a - TAU * ((a + PI) / TAU).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_2016_anchors_on_two_grids() {
        let a = anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        assert_eq!(a[0].center, Vec2::new(0.5 / 24.0, 0.5 / 24.0));
        assert_eq!(a[1].center, a[0].center);
        assert_eq!(a[1152].center, Vec2::new(0.5 / 12.0, 0.5 / 12.0));
        assert_eq!(a[2015].center, Vec2::new(11.5 / 12.0, 11.5 / 12.0));
    }

    #[test]
    fn decoding_is_relative_to_the_anchor_in_input_pixels() {
        let a = anchors();
        let mut boxes = vec![0f32; NUM_ANCHORS * NUM_COORDS];
        let mut scores = vec![-10f32; NUM_ANCHORS];
        let i = 1500;
        scores[i] = 3.0;
        let raw = &mut boxes[i * NUM_COORDS..(i + 1) * NUM_COORDS];
        raw[..4].copy_from_slice(&[9.6, -19.2, 48.0, 96.0]);
        raw[4] = 19.2; // keypoint 0, x
        let palms = decode(&boxes, &scores, &a, 0.5);
        assert_eq!(palms.len(), 1);
        let p = palms[0];
        assert!((p.score - sigmoid(3.0)).abs() < 1e-6);
        assert!((p.center - (a[i].center + Vec2::new(0.05, -0.1))).length() < 1e-6);
        assert!((p.size - Vec2::new(0.25, 0.5)).length() < 1e-6);
        assert!((p.keypoints[0] - (a[i].center + Vec2::new(0.1, 0.0))).length() < 1e-6);
        assert_eq!(p.keypoints[1], a[i].center);
    }

    fn palm(x: f32, score: f32) -> Palm {
        Palm {
            score,
            center: Vec2::new(x, 0.5),
            size: Vec2::splat(0.2),
            keypoints: [Vec2::new(x, 0.6); NUM_KEYPOINTS],
        }
    }

    #[test]
    fn nms_merges_overlaps_weighted_and_keeps_separate_palms() {
        let out = weighted_nms(vec![palm(0.5, 0.6), palm(0.52, 0.9), palm(0.9, 0.7)], 0.3);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let want = (0.5 * 0.6 + 0.52 * 0.9) / 1.5;
        assert!((out[0].center.x - want).abs() < 1e-6);
        assert_eq!(out[1].center.x, 0.9);
    }

    #[test]
    fn an_upright_hand_needs_no_rotation_and_a_sideways_one_a_quarter_turn() {
        let mut p = palm(0.5, 0.9);
        p.keypoints[0] = Vec2::new(0.5, 0.6); // wrist below
        p.keypoints[2] = Vec2::new(0.5, 0.4); // middle finger above
        let roi = hand_roi(&p, 640.0, 480.0);
        assert!(roi.rotation.abs() < 1e-6);
        // Shifted towards the fingers (up: smaller y), square in pixels.
        assert!(roi.center.y < 0.5);
        assert!((roi.size.x * 640.0 - roi.size.y * 480.0).abs() < 1e-3);
        assert!((roi.size.x * 640.0 - 0.2 * 640.0 * 2.6).abs() < 1e-2);
        // Fingers pointing right: the crop is turned a quarter.
        p.keypoints[2] = Vec2::new(0.7, 0.6);
        let roi = hand_roi(&p, 640.0, 480.0);
        assert!(
            (roi.rotation.abs() - std::f32::consts::FRAC_PI_2).abs() < 1e-5,
            "{}",
            roi.rotation
        );
    }
}
