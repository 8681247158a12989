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

    /// The regions of several cameras' images, per camera in `cameras`'
    /// order. The models run the cameras side by side; other sources one
    /// after the other.
    fn detect_batch(
        &mut self,
        images: &[Image],
        cameras: &[usize],
    ) -> Result<Vec<Vec<Roi>>, GraphError> {
        cameras
            .iter()
            .map(|&cam| self.detect(cam, &images[cam]))
            .collect()
    }

    /// The landmarks of several regions, `(camera, region)`, in order. The
    /// models run them side by side (a core per crop rather than every op
    /// split between cores); other sources one after the other.
    fn landmarks_batch(
        &mut self,
        images: &[Image],
        jobs: &[(usize, Roi)],
    ) -> Result<Vec<HandLandmarks>, GraphError> {
        jobs.iter()
            .map(|(cam, roi)| self.landmarks(*cam, &images[*cam], roi))
            .collect()
    }
}

impl HandLandmarker {
    /// The hand regions of the palms found in `image`, best first.
    fn hand_regions(&self, image: &Image) -> Result<Vec<Roi>, GraphError> {
        Ok(self
            .detect_palms(image)?
            .iter()
            .take(self.max_hands)
            .map(|p| crate::palm::hand_roi(p, image.width() as f32, image.height() as f32))
            .collect())
    }
}

impl LandmarkSource for HandLandmarker {
    fn detect(&mut self, _camera: usize, image: &Image) -> Result<Vec<Roi>, GraphError> {
        self.hand_regions(image)
    }

    fn landmarks(
        &mut self,
        _camera: usize,
        image: &Image,
        roi: &Roi,
    ) -> Result<HandLandmarks, GraphError> {
        HandLandmarker::landmarks(self, image, roi)
    }

    fn detect_batch(
        &mut self,
        images: &[Image],
        cameras: &[usize],
    ) -> Result<Vec<Vec<Roi>>, GraphError> {
        use rayon::prelude::*;
        let this = &*self;
        cameras
            .par_iter()
            .map(|&cam| this.hand_regions(&images[cam]))
            .collect()
    }

    fn landmarks_batch(
        &mut self,
        images: &[Image],
        jobs: &[(usize, Roi)],
    ) -> Result<Vec<HandLandmarks>, GraphError> {
        use rayon::prelude::*;
        let this = &*self;
        jobs.par_iter()
            .map(|(cam, roi)| HandLandmarker::landmarks(this, &images[*cam], roi))
            .collect()
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
    /// Views found again from the hand's last 3D landmarks (see
    /// `recover`), over all frames.
    pub recovered: u64,
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

/// Where to look for one hand next frame, per camera.
type Regions = Vec<Option<Roi>>;
/// One hand's landmarks per camera this frame.
type Views = Vec<Option<HandLandmarks>>;

/// The tracker over two or more calibrated cameras.
pub struct StereoHandTracker<S: LandmarkSource> {
    pub source: S,
    pub cameras: Vec<Camera>,
    /// Hands whose presence is below this are lost.
    pub min_presence: f32,
    /// A hand already tracked stays while its presence is at least this
    /// (hysteresis: views the model is less sure of, a fist from the back,
    /// keep a hand whose cameras still agree on it).
    pub keep_presence: f32,
    /// Cameras disagreeing by more than this (pixels) lose the hand, and
    /// views that disagree more are not the same hand.
    pub max_reprojection_px: f32,
    /// Frames between detector runs while one hand is tracked and the other
    /// is searched for.
    pub search_interval: u64,
    /// Finger curl (metres, see [`crate::skeleton::chirality`]) beyond which
    /// the 3D shape decides left or right over the landmark model.
    pub chirality_threshold: f32,
    pub stats: TrackerStats,
    /// Per hand (left, right).
    regions: [Regions; 2],
    fits: [SkeletonFit; 2],
    filters: [[OneEuro; NUM_LANDMARKS]; 2],
    previous: [Option<TrackedHand>; 2],
    /// Per hand, its 21 landmarks in 3D (head frame) last frame.
    last_points: [Option<[Vec3; NUM_LANDMARKS]>; 2],
}

fn centroid(l: &HandLandmarks) -> Vec2 {
    l.image.iter().map(|p| p.truncate()).sum::<Vec2>() / NUM_LANDMARKS as f32
}

impl<S: LandmarkSource> StereoHandTracker<S> {
    pub fn new(source: S, cameras: Vec<Camera>) -> Self {
        let n = cameras.len();
        Self {
            source,
            cameras,
            min_presence: 0.5,
            keep_presence: 0.3,
            max_reprojection_px: 12.0,
            search_interval: 3,
            chirality_threshold: 0.008,
            stats: TrackerStats::default(),
            regions: [vec![None; n], vec![None; n]],
            fits: [SkeletonFit::new(Hand::Left), SkeletonFit::new(Hand::Right)],
            filters: [[OneEuro::new(OneEuroParams::default()); NUM_LANDMARKS]; 2],
            previous: [None, None],
            last_points: [None, None],
        }
    }

    /// The source's landmarks of `jobs` (see
    /// [`LandmarkSource::landmarks_batch`]), timed and counted.
    fn landmarks_batch(
        &mut self,
        images: &[Image],
        jobs: &[(usize, Roi)],
    ) -> Result<Vec<HandLandmarks>, GraphError> {
        let t = Instant::now();
        let found = self.source.landmarks_batch(images, jobs)?;
        self.stats.landmarks += t.elapsed();
        self.stats.landmark_runs += jobs.len() as u64;
        Ok(found)
    }

    /// Takes `lm` as the view of hand `hand` in camera `cam` (`image`);
    /// next frame looks for it in the region these landmarks give.
    fn keep_view(
        &mut self,
        views: &mut [Views; 2],
        (hand, cam): (usize, usize),
        image: &Image,
        lm: HandLandmarks,
    ) {
        self.regions[hand][cam] =
            Some(roi_from_landmarks(&lm.image, image.width(), image.height()));
        views[hand][cam] = Some(lm);
    }

    /// Follows each hand's regions from the last frame (all regions of all
    /// cameras in one batch).
    fn follow(&mut self, images: &[Image]) -> Result<[Views; 2], GraphError> {
        let n = images.len();
        let mut views = [vec![None; n], vec![None; n]];
        let mut slots = Vec::new();
        let mut jobs = Vec::new();
        for hand in 0..2 {
            for cam in 0..n {
                if let Some(roi) = self.regions[hand][cam] {
                    slots.push((hand, cam));
                    jobs.push((cam, roi));
                }
            }
        }
        if jobs.is_empty() {
            return Ok(views);
        }
        let found = self.landmarks_batch(images, &jobs)?;
        for ((hand, cam), lm) in slots.into_iter().zip(found) {
            if lm.presence >= self.keep_presence {
                self.keep_view(&mut views, (hand, cam), &images[cam], lm);
            } else {
                self.regions[hand][cam] = None;
            }
        }
        Ok(views)
    }

    /// A hand tracked last frame that only one camera follows now: its last
    /// 3D landmarks, projected into the cameras that lost it, give the
    /// regions to look in there (the detector may not find it again: a
    /// fist from the back). Kept where the landmarks found agree with the
    /// camera that still sees the hand.
    fn recover(&mut self, images: &[Image], views: &mut [Views; 2]) -> Result<(), GraphError> {
        let mut slots = Vec::new();
        let mut jobs = Vec::new();
        for (hand, last) in self.last_points.iter().enumerate() {
            let Some(points) = last else {
                continue;
            };
            if views[hand].iter().filter(|v| v.is_some()).count() != 1 {
                continue;
            }
            for (cam, camera) in self.cameras.iter().enumerate() {
                if views[hand][cam].is_some() {
                    continue;
                }
                let projected: Option<Vec<Vec3>> = points
                    .iter()
                    .map(|q| camera.project(*q).map(|v| v.extend(0.0)))
                    .collect();
                // Behind the camera: nothing to look for.
                let Some(Ok(px)) = projected.map(<[Vec3; NUM_LANDMARKS]>::try_from) else {
                    continue;
                };
                let (w, h) = (images[cam].width(), images[cam].height());
                let (wrist, size) = (px[0], Vec2::new(w as f32, h as f32));
                // The wrist out of this camera's view: not there.
                if wrist.x < 0.0 || wrist.y < 0.0 || wrist.x >= size.x || wrist.y >= size.y {
                    continue;
                }
                slots.push((hand, cam));
                jobs.push((cam, roi_from_landmarks(&px, w, h)));
            }
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let found = self.landmarks_batch(images, &jobs)?;
        for ((hand, cam), lm) in slots.into_iter().zip(found) {
            if lm.presence < self.keep_presence {
                continue;
            }
            let agrees = views[hand]
                .iter()
                .enumerate()
                .filter_map(|(c, v)| v.as_ref().map(|v| (c, v)))
                .all(|seen| self.same_hand(seen, (cam, &lm)));
            if agrees {
                self.keep_view(views, (hand, cam), &images[cam], lm);
                self.stats.recovered += 1;
            }
        }
        Ok(())
    }

    /// New hands in the cameras where not both hands are seen: per camera,
    /// landmarks in each detected region that is not a hand already seen.
    fn search(
        &mut self,
        images: &[Image],
        views: &[Views; 2],
    ) -> Result<Vec<Vec<HandLandmarks>>, GraphError> {
        let mut found = vec![Vec::new(); images.len()];
        let cameras: Vec<usize> = (0..images.len())
            .filter(|&cam| views.iter().any(|v| v[cam].is_none()))
            .collect();
        if cameras.is_empty() {
            return Ok(found);
        }
        // The detector on every such camera, then the landmarks of every
        // region found, each batch side by side.
        let t = Instant::now();
        let regions = self.source.detect_batch(images, &cameras)?;
        self.stats.detect += t.elapsed();
        self.stats.detector_runs += cameras.len() as u64;
        let jobs: Vec<(usize, Roi)> = cameras
            .iter()
            .zip(&regions)
            .flat_map(|(&cam, r)| r.iter().map(move |roi| (cam, *roi)))
            .collect();
        let marks = self.landmarks_batch(images, &jobs)?;
        for ((cam, roi), lm) in jobs.into_iter().zip(marks) {
            if lm.presence < self.min_presence {
                continue;
            }
            // A hand already seen, found again: its landmarks are where
            // the seen ones are (side by side hands give overlapping
            // regions, so regions alone cannot tell).
            let size = 0.5 * roi.size.x * images[cam].width() as f32;
            let c = centroid(&lm);
            let known = views
                .iter()
                .filter_map(|v| v[cam].as_ref())
                .chain(&found[cam]);
            if known.map(centroid).any(|k| (k - c).length() < 0.2 * size) {
                continue;
            }
            found[cam].push(lm);
        }
        Ok(found)
    }

    /// Whether two cameras' landmarks are the same hand: the wrist and the
    /// knuckles triangulate with small reprojection errors.
    fn same_hand(&self, a: (usize, &HandLandmarks), b: (usize, &HandLandmarks)) -> bool {
        let cams = [&self.cameras[a.0], &self.cameras[b.0]];
        [0, 5, 9, 17].iter().all(|&k| {
            let px = [a.1.image[k].truncate(), b.1.image[k].truncate()];
            triangulate_pixels(&cams, &px).is_some_and(|(p, err)| {
                err < self.max_reprojection_px
                    && cams
                        .iter()
                        .all(|c| c.head_from_camera.inverse().transform_point(p).z < 0.0)
            })
        })
    }

    /// Left (0) or right (1) for a new hand seen in `views`: the 3D shape
    /// when its fingers curl enough to tell, else the landmark model's
    /// handedness averaged over the views, else which side of the head it is on.
    fn label(&self, views: &[(usize, &HandLandmarks)]) -> usize {
        if let Some(points) = self.triangulate(views) {
            let s = crate::skeleton::chirality(&points);
            if s.abs() > self.chirality_threshold {
                return usize::from(s > 0.0);
            }
            let right = views.iter().map(|(_, l)| l.right).sum::<f32>() / views.len() as f32;
            if (right - 0.5).abs() > 0.2 {
                return usize::from(right > 0.5);
            }
            return usize::from(points[0].x > 0.0);
        }
        0
    }

    /// The 21 landmarks in 3D. The wrist and the four knuckles must agree
    /// between the cameras (else `None`: not one hand, or a bad view); a
    /// finger landmark on which they disagree (folded fingers hide each
    /// other differently in each view) is taken instead from the landmark
    /// model's own metric 3D hand, fitted rigidly onto the landmarks that agree.
    fn triangulate(&self, views: &[(usize, &HandLandmarks)]) -> Option<[Vec3; NUM_LANDMARKS]> {
        const CORE: [usize; 5] = [0, 5, 9, 13, 17];
        let cams: Vec<&Camera> = views.iter().map(|(c, _)| &self.cameras[*c]).collect();
        let mut points = [Vec3::ZERO; NUM_LANDMARKS];
        let mut good = [false; NUM_LANDMARKS];
        for (k, p) in points.iter_mut().enumerate() {
            let px: Vec<Vec2> = views.iter().map(|(_, l)| l.image[k].truncate()).collect();
            let (q, err) = triangulate_pixels(&cams, &px)?;
            good[k] = err <= self.max_reprojection_px;
            if !good[k] && CORE.contains(&k) {
                return None;
            }
            *p = q;
        }
        if good.iter().all(|g| *g) {
            return Some(points);
        }
        // The most confident view's metric hand, placed on the good points.
        let best = views
            .iter()
            .max_by(|a, b| a.1.presence.total_cmp(&b.1.presence))?
            .1;
        let pairs: Vec<(Vec3, Vec3)> = (0..NUM_LANDMARKS)
            .filter(|k| good[*k])
            .map(|k| (best.world[k], points[k]))
            .collect();
        if let Some((r, t)) = crate::stereo::rigid_fit(&pairs) {
            for k in 0..NUM_LANDMARKS {
                if !good[k] {
                    points[k] = r * best.world[k] + t;
                }
            }
        }
        Some(points)
    }

    /// Filters and fits one hand (`slot`) from its triangulated landmarks.
    fn fuse(
        &mut self,
        slot: usize,
        points: &[Vec3; NUM_LANDMARKS],
        confidence: f32,
        cameras: usize,
        time: f64,
    ) -> TrackedHand {
        let mut filtered = [Vec3::ZERO; NUM_LANDMARKS];
        let mut speeds = [Vec3::ZERO; NUM_LANDMARKS];
        for k in 0..NUM_LANDMARKS {
            (filtered[k], speeds[k]) = self.filters[slot][k].filter(points[k], time);
        }
        let joints = self.fits[slot].fit(&filtered);
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
        TrackedHand {
            hand: if slot == 0 { Hand::Left } else { Hand::Right },
            time,
            joints,
            velocities,
            confidence,
            cameras,
        }
    }

    /// Moves a tracked hand to the other label (its shape showed it is the
    /// other hand); the other label must be free.
    fn relabel(&mut self, from: usize) {
        let to = 1 - from;
        self.regions.swap(from, to);
        self.filters.swap(from, to);
        self.previous.swap(from, to);
        self.last_points.swap(from, to);
        self.regions[from].iter_mut().for_each(|r| *r = None);
        self.filters[from].iter_mut().for_each(OneEuro::reset);
        self.previous[from] = None;
        self.last_points[from] = None;
    }
}

impl<S: LandmarkSource> HandTracker for StereoHandTracker<S> {
    // Hand and camera indices address views, regions and the pool together.
    #[allow(clippy::needless_range_loop)]
    fn track(
        &mut self,
        images: &[Image],
        time: f64,
    ) -> Result<[Option<TrackedHand>; 2], GraphError> {
        assert_eq!(images.len(), self.cameras.len(), "one image per camera");
        self.stats.detect = Duration::ZERO;
        self.stats.landmarks = Duration::ZERO;
        let tracked_any = self.previous.iter().any(Option::is_some);
        let search_due = !tracked_any
            || self
                .stats
                .frames
                .is_multiple_of(self.search_interval.max(1));
        self.stats.frames += 1;
        let mut views = self.follow(images)?;
        self.recover(images, &mut views)?;
        let both_everywhere = views.iter().all(|v| v.iter().all(Option::is_some));
        let mut pool = if search_due && !both_everywhere {
            self.search(images, &views)?
        } else {
            vec![Vec::new(); images.len()]
        };
        let t = Instant::now();
        // Candidates that complete a hand already seen by another camera.
        for hand in 0..2 {
            for cam in 0..images.len() {
                if views[hand][cam].is_some() {
                    continue;
                }
                let seen: Vec<(usize, HandLandmarks)> = views[hand]
                    .iter()
                    .enumerate()
                    .filter_map(|(c, v)| v.clone().map(|v| (c, v)))
                    .collect();
                if seen.is_empty() {
                    break;
                }
                let pick = pool[cam].iter().position(|cand| {
                    seen.iter()
                        .any(|(c, v)| self.same_hand((*c, v), (cam, cand)))
                });
                if let Some(i) = pick {
                    let lm = pool[cam].swap_remove(i);
                    self.keep_view(&mut views, (hand, cam), &images[cam], lm);
                }
            }
        }
        // New hands: candidates seen alike by two or more cameras.
        for cam in 0..images.len() {
            while let Some(first) = pool[cam].pop() {
                let mut group = vec![(cam, first)];
                for other in cam + 1..images.len() {
                    let pick = pool[other]
                        .iter()
                        .position(|cand| self.same_hand((cam, &group[0].1), (other, cand)));
                    if let Some(i) = pick {
                        group.push((other, pool[other].swap_remove(i)));
                    }
                }
                if group.len() < 2 {
                    continue;
                }
                let refs: Vec<(usize, &HandLandmarks)> =
                    group.iter().map(|(c, l)| (*c, l)).collect();
                let mut slot = self.label(&refs);
                let busy = |s: usize, v: &[Views; 2]| v[s].iter().any(Option::is_some);
                if busy(slot, &views) {
                    slot = 1 - slot;
                    if busy(slot, &views) {
                        continue;
                    }
                }
                for (c, lm) in group {
                    self.keep_view(&mut views, (slot, c), &images[c], lm);
                }
            }
        }
        let mut out = [None, None];
        for slot in 0..2 {
            if out[slot].is_some() {
                continue; // filled by a relabelled hand
            }
            let seen: Vec<(usize, &HandLandmarks)> = views[slot]
                .iter()
                .enumerate()
                .filter_map(|(c, v)| v.as_ref().map(|v| (c, v)))
                .collect();
            let points = if seen.len() >= 2 {
                self.triangulate(&seen)
            } else {
                None
            };
            let Some(points) = points else {
                // Lost (or the views disagree): look for it afresh, filters
                // restart; the skeleton (the user's bone lengths) is kept.
                self.regions[slot].iter_mut().for_each(|r| *r = None);
                self.filters[slot].iter_mut().for_each(OneEuro::reset);
                self.previous[slot] = None;
                self.last_points[slot] = None;
                continue;
            };
            // The 3D shape can show a hand has the wrong label.
            let s = crate::skeleton::chirality(&points);
            let mut label = slot;
            if s.abs() > 1.5 * self.chirality_threshold
                && usize::from(s > 0.0) != slot
                && views[1 - slot].iter().all(Option::is_none)
                && out[1 - slot].is_none()
            {
                self.relabel(slot);
                label = 1 - slot;
            }
            let confidence = seen.iter().map(|(_, l)| l.presence).fold(1.0, f32::min);
            let hand = self.fuse(label, &points, confidence, seen.len(), time);
            self.previous[label] = Some(hand);
            self.last_points[label] = Some(points);
            out[label] = Some(hand);
        }
        self.stats.fuse = t.elapsed();
        Ok(out)
    }
}
