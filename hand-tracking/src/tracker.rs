//! The hand tracker: simultaneous images of two or more calibrated cameras
//! in, both hands' 26 joints out.
//!
//! Per camera, each hand that was seen in the previous frame is looked for
//! only in the region its previous landmarks give (the landmark model also
//! says whether the hand is still there); the palm detector runs only where
//! a hand is missing: every frame while no hand is tracked, every
//! [`StereoHandTracker::search_interval`] frames while one is and the other
//! is not. A hand seen by two or more cameras is triangulated landmark by
//! landmark (rejected if the cameras disagree by more than
//! [`StereoHandTracker::max_reprojection_px`]), filtered over time (One
//! Euro), and fitted to the user's skeleton. Left and right come from the
//! landmark model's handedness when a hand is found, then stay with it.

use crate::filter::{OneEuro, OneEuroParams};
use crate::landmark::{HandLandmarks, Image};
use crate::palm::Roi;
use crate::skeleton::{FittedJoint, SkeletonFit, NUM_LANDMARKS};
use crate::stereo::{triangulate_pixels, Camera};
use crate::{GraphError, HandLandmarker};
use glam::{Vec2, Vec3};
use parallax_sdk_types::{Hand, Velocity, HAND_JOINT_COUNT};
use std::time::{Duration, Instant};

/// Where landmarks come from: the models ([`HandLandmarker`]), or anything
/// else that finds hands in images (a test double, another model).
pub trait LandmarkSource {
    /// Regions that may hold a hand in a camera's image.
    fn detect(&mut self, camera: usize, image: &Image) -> Result<Vec<Roi>, GraphError>;
    /// The landmarks of the hand in a region (presence says whether there is one).
    fn landmarks(
        &mut self,
        camera: usize,
        image: &Image,
        roi: &Roi,
    ) -> Result<HandLandmarks, GraphError>;
}

impl LandmarkSource for HandLandmarker {
    fn detect(&mut self, _camera: usize, image: &Image) -> Result<Vec<Roi>, GraphError> {
        Ok(self
            .detect_palms(image)?
            .iter()
            .take(self.max_hands)
            .map(|p| crate::palm::hand_roi(p, image.width as f32, image.height as f32))
            .collect())
    }

    fn landmarks(
        &mut self,
        _camera: usize,
        image: &Image,
        roi: &Roi,
    ) -> Result<HandLandmarks, GraphError> {
        HandLandmarker::landmarks(self, image, roi)
    }
}

/// A tracker of both hands from camera images.
pub trait HandTracker {
    /// One image per camera, all taken at `time` (seconds, any epoch),
    /// in the cameras' order; returns the left and right hands.
    fn track(
        &mut self,
        images: &[Image],
        time: f64,
    ) -> Result<[Option<TrackedHand>; 2], GraphError>;
}

/// One tracked hand, in the cameras' (headset's) frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackedHand {
    pub hand: Hand,
    pub time: f64,
    pub joints: [FittedJoint; HAND_JOINT_COUNT],
    pub velocities: [Velocity; HAND_JOINT_COUNT],
    /// The lowest hand presence among the cameras that saw it.
    pub confidence: f32,
    /// How many cameras saw it.
    pub cameras: usize,
}

/// Counters and times, for evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackerStats {
    pub frames: u64,
    pub detector_runs: u64,
    pub landmark_runs: u64,
    /// Time in the detector and in the landmark model during the last frame.
    pub detect: Duration,
    pub landmarks: Duration,
    /// Triangulation, filtering and the skeleton fit during the last frame.
    pub fuse: Duration,
}

/// The region for the landmark model around a hand's landmarks (image
/// pixels): turned so the wrist-to-middle-knuckle line points up, the
/// landmarks' bounding box in that orientation doubled and moved a tenth
/// towards the fingers (MediaPipe's landmarks-to-region rule).
pub fn roi_from_landmarks(image: &[Vec3; NUM_LANDMARKS], width: usize, height: usize) -> Roi {
    let wrist = image[0].truncate();
    let middle = image[9].truncate();
    let up = middle - wrist;
    // Rotation as `palm::hand_roi` measures it: clockwise, y down.
    let rotation = std::f32::consts::FRAC_PI_2 - (-up.y).atan2(up.x);
    let rotation = rotation
        - std::f32::consts::TAU
            * ((rotation + std::f32::consts::PI) / std::f32::consts::TAU).floor();
    let (s, c) = rotation.sin_cos();
    // Into the hand's upright frame (undo the rotation) and back.
    let to_local = |p: Vec2| Vec2::new(c * p.x + s * p.y, -s * p.x + c * p.y);
    let to_image = |p: Vec2| Vec2::new(c * p.x - s * p.y, s * p.x + c * p.y);
    let (mut lo, mut hi) = (Vec2::splat(f32::MAX), Vec2::splat(f32::MIN));
    for p in image {
        let l = to_local(p.truncate());
        lo = lo.min(l);
        hi = hi.max(l);
    }
    let size = hi - lo;
    let center_local = (lo + hi) / 2.0 + Vec2::new(0.0, -0.1 * size.y);
    let center = to_image(center_local);
    let side = size.x.max(size.y) * 2.0;
    Roi {
        center: Vec2::new(center.x / width as f32, center.y / height as f32),
        size: Vec2::new(side / width as f32, side / height as f32),
        rotation,
    }
}

/// The tracker over two or more calibrated cameras.
pub struct StereoHandTracker<S: LandmarkSource> {
    pub source: S,
    pub cameras: Vec<Camera>,
    /// Hands whose presence is below this are lost.
    pub min_presence: f32,
    /// Cameras disagreeing by more than this (pixels) lose the hand.
    pub max_reprojection_px: f32,
    /// Frames between detector runs while one hand is tracked and the other
    /// is searched for.
    pub search_interval: u64,
    pub stats: TrackerStats,
    /// Per camera, per hand (left, right): where to look next frame.
    rois: Vec<[Option<Roi>; 2]>,
    fits: [SkeletonFit; 2],
    filters: [[OneEuro; NUM_LANDMARKS]; 2],
    previous: [Option<TrackedHand>; 2],
}

impl<S: LandmarkSource> StereoHandTracker<S> {
    pub fn new(source: S, cameras: Vec<Camera>) -> Self {
        let n = cameras.len();
        Self {
            source,
            cameras,
            min_presence: 0.5,
            max_reprojection_px: 12.0,
            search_interval: 3,
            stats: TrackerStats::default(),
            rois: vec![[None, None]; n],
            fits: [SkeletonFit::new(Hand::Left), SkeletonFit::new(Hand::Right)],
            filters: [[OneEuro::new(OneEuroParams::default()); NUM_LANDMARKS]; 2],
            previous: [None, None],
        }
    }

    /// Finds the hands in one camera's image: follows last frame's regions,
    /// detects where a hand is missing (and a search is due).
    fn look(
        &mut self,
        cam: usize,
        image: &Image,
        search: bool,
    ) -> Result<[Option<HandLandmarks>; 2], GraphError> {
        let mut found: [Option<HandLandmarks>; 2] = [None, None];
        for (slot, seen) in found.iter_mut().enumerate() {
            let Some(roi) = self.rois[cam][slot] else {
                continue;
            };
            let t = Instant::now();
            let lm = self.source.landmarks(cam, image, &roi)?;
            self.stats.landmarks += t.elapsed();
            self.stats.landmark_runs += 1;
            if lm.presence >= self.min_presence {
                self.rois[cam][slot] =
                    Some(roi_from_landmarks(&lm.image, image.width, image.height));
                *seen = Some(lm);
            } else {
                self.rois[cam][slot] = None;
            }
        }
        if found.iter().all(Option::is_some) || !search {
            return Ok(found);
        }
        let t = Instant::now();
        let regions = self.source.detect(cam, image)?;
        self.stats.detect += t.elapsed();
        self.stats.detector_runs += 1;
        let centroid = |l: &HandLandmarks| {
            l.image.iter().map(|p| p.truncate()).sum::<Vec2>() / NUM_LANDMARKS as f32
        };
        for roi in regions {
            let t = Instant::now();
            let lm = self.source.landmarks(cam, image, &roi)?;
            self.stats.landmarks += t.elapsed();
            self.stats.landmark_runs += 1;
            if lm.presence < self.min_presence {
                continue;
            }
            // A hand already followed, found again: its landmarks are where
            // the followed ones are (hands side by side give overlapping
            // regions, so regions alone cannot tell).
            let size = 0.5 * roi.size.x * image.width as f32;
            let c = centroid(&lm);
            if found
                .iter()
                .flatten()
                .any(|f| (centroid(f) - c).length() < 0.2 * size)
            {
                continue;
            }
            let slot = usize::from(lm.right >= 0.5);
            if found[slot].is_none() {
                self.rois[cam][slot] =
                    Some(roi_from_landmarks(&lm.image, image.width, image.height));
                found[slot] = Some(lm);
            }
        }
        Ok(found)
    }

    /// Triangulates, filters and fits one hand seen by `views` (camera, landmarks).
    fn fuse(
        &mut self,
        slot: usize,
        views: &[(usize, &HandLandmarks)],
        time: f64,
    ) -> Option<TrackedHand> {
        let cams: Vec<&Camera> = views.iter().map(|(c, _)| &self.cameras[*c]).collect();
        let mut points = [Vec3::ZERO; NUM_LANDMARKS];
        let mut speeds = [Vec3::ZERO; NUM_LANDMARKS];
        for k in 0..NUM_LANDMARKS {
            let px: Vec<Vec2> = views.iter().map(|(_, l)| l.image[k].truncate()).collect();
            let (p, err) = triangulate_pixels(&cams, &px)?;
            if err > self.max_reprojection_px {
                return None;
            }
            (points[k], speeds[k]) = self.filters[slot][k].filter(p, time);
        }
        let joints = self.fits[slot].fit(&points);
        let previous = self.previous[slot].filter(|p| time > p.time);
        let mut velocities = [Velocity::default(); HAND_JOINT_COUNT];
        for (j, v) in velocities.iter_mut().enumerate() {
            v.linear = match crate::skeleton::LANDMARK_OF_JOINT[j] {
                Some(l) => speeds[l],
                None => previous.map_or(Vec3::ZERO, |p| {
                    (joints[j].pose.position - p.joints[j].pose.position) / (time - p.time) as f32
                }),
            };
            if let Some(p) = previous {
                let dq = joints[j].pose.orientation * p.joints[j].pose.orientation.inverse();
                let (axis, angle) = dq.to_axis_angle();
                let angle = if angle > std::f32::consts::PI {
                    angle - std::f32::consts::TAU
                } else {
                    angle
                };
                v.angular = axis * angle / (time - p.time) as f32;
            }
        }
        let confidence = views.iter().map(|(_, l)| l.presence).fold(1.0, f32::min);
        Some(TrackedHand {
            hand: if slot == 0 { Hand::Left } else { Hand::Right },
            time,
            joints,
            velocities,
            confidence,
            cameras: views.len(),
        })
    }
}

impl<S: LandmarkSource> HandTracker for StereoHandTracker<S> {
    fn track(
        &mut self,
        images: &[Image],
        time: f64,
    ) -> Result<[Option<TrackedHand>; 2], GraphError> {
        assert_eq!(images.len(), self.cameras.len(), "one image per camera");
        self.stats.detect = Duration::ZERO;
        self.stats.landmarks = Duration::ZERO;
        let tracked_any = self.previous.iter().any(Option::is_some);
        let search = !tracked_any
            || self
                .stats
                .frames
                .is_multiple_of(self.search_interval.max(1));
        self.stats.frames += 1;
        let mut seen = Vec::with_capacity(images.len());
        for (cam, image) in images.iter().enumerate() {
            seen.push(self.look(cam, image, search)?);
        }
        let t = Instant::now();
        let mut out = [None, None];
        for slot in 0..2 {
            let views: Vec<(usize, &HandLandmarks)> = seen
                .iter()
                .enumerate()
                .filter_map(|(c, f)| f[slot].as_ref().map(|l| (c, l)))
                .collect();
            let hand = if views.len() >= 2 {
                self.fuse(slot, &views, time)
            } else {
                None
            };
            if hand.is_none() {
                // Lost: the filters start afresh; the skeleton (the user's
                // bone lengths) is kept.
                self.filters[slot].iter_mut().for_each(OneEuro::reset);
            }
            self.previous[slot] = hand;
            out[slot] = hand;
        }
        self.stats.fuse = t.elapsed();
        Ok(out)
    }
}
