//! The tracker's logic on simulated sequences: a stand-in landmark source
//! "sees" the simulated hand's ground truth through the simulated headset's
//! two calibrated cameras (projected, with half a pixel of noise), so the
//! region following, detector scheduling, left/right, loss and re-entry,
//! triangulation, filtering and the skeleton fit are measured without the
//! models (whose own accuracy is checked against TFLite in `reference.rs`).

use glam::{Quat, Vec2, Vec3};
use parallax_driver_simulated::camera_infos;
use parallax_driver_simulated::hand::{joint_poses, HandShape};
use parallax_hand_tracking::landmark::{HandLandmarks, Image};
use parallax_hand_tracking::palm::Roi;
use parallax_hand_tracking::skeleton::LANDMARK_OF_JOINT;
use parallax_hand_tracking::stereo::Camera;
use parallax_hand_tracking::tracker::{
    roi_from_landmarks, HandTracker, LandmarkSource, StereoHandTracker,
};
use parallax_hand_tracking::GraphError;
use parallax_sdk_types::{Hand, Pose, HAND_JOINT_COUNT};

/// Ground truth in the head's frame, per hand.
type Truth = [Option<[(Pose, f32); HAND_JOINT_COUNT]>; 2];

struct Projected {
    cams: Vec<Camera>,
    truth: Truth,
    seed: u64,
}

impl Projected {
    fn noise(&mut self) -> f32 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// The hand's 21 landmarks in a camera's image, if all are in view.
    fn pixels(&self, cam: usize, slot: usize) -> Option<[Vec3; 21]> {
        let truth = self.truth[slot]?;
        let c = &self.cams[cam];
        let mut out = [Vec3::ZERO; 21];
        for (j, l) in LANDMARK_OF_JOINT.iter().enumerate() {
            if let Some(l) = l {
                let p = c.project(truth[j].0.position)?;
                if p.x < 0.0 || p.y < 0.0 || p.x >= c.width as f32 || p.y >= c.height as f32 {
                    return None;
                }
                out[*l] = p.extend(0.0);
            }
        }
        Some(out)
    }
}

/// What the landmark model says of a region without a hand.
fn no_hand() -> HandLandmarks {
    HandLandmarks {
        image: [Vec3::ZERO; 21],
        world: [Vec3::ZERO; 21],
        presence: 0.01,
        right: 0.5,
    }
}

impl LandmarkSource for Projected {
    fn detect(&mut self, cam: usize, image: &Image) -> Result<Vec<Roi>, GraphError> {
        Ok((0..2)
            .filter_map(|s| self.pixels(cam, s))
            .map(|px| {
                // A detector's region is rougher than a landmark-based one.
                let mut r = roi_from_landmarks(&px, image.width(), image.height());
                r.center += Vec2::new(0.02, -0.01);
                r.rotation += 0.1;
                r
            })
            .collect())
    }

    fn landmarks(
        &mut self,
        cam: usize,
        image: &Image,
        roi: &Roi,
    ) -> Result<HandLandmarks, GraphError> {
        let center = Vec2::new(
            roi.center.x * image.width() as f32,
            roi.center.y * image.height() as f32,
        );
        let half = 0.5 * roi.size.x * image.width() as f32;
        // The landmark model sees the hand nearest the crop's centre, if it
        // is well inside the crop.
        let nearest = (0..2)
            .filter_map(|slot| self.pixels(cam, slot).map(|px| (slot, px)))
            .map(|(slot, px)| (slot, px, (px[9].truncate() - center).length()))
            .filter(|(_, _, d)| *d < 0.6 * half)
            .min_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((slot, px, _)) = nearest {
            let mut image_px = px;
            for p in image_px.iter_mut() {
                *p += Vec3::new(self.noise(), self.noise(), 0.0) * 0.5;
            }
            return Ok(HandLandmarks {
                image: image_px,
                world: [Vec3::ZERO; 21],
                presence: 0.98,
                right: if slot == 1 { 0.97 } else { 0.02 },
            });
        }
        Ok(no_hand())
    }
}

fn truth_at(frame: usize) -> Truth {
    let t = frame as f32 / 30.0;
    // Right hand: circles 4 cm at 0.5 Hz, closing into a fist and back.
    let a = std::f32::consts::TAU * 0.5 * t;
    let right_wrist = Pose::new(
        Quat::from_rotation_x(-0.5) * Quat::from_rotation_y(0.1 * a.sin()),
        Vec3::new(0.06 + 0.04 * a.cos(), -0.04 + 0.04 * a.sin(), -0.32),
    );
    let curl = 0.5 - 0.5 * (0.7 * a).cos();
    let right = joint_poses(
        Hand::Right,
        right_wrist,
        &HandShape::OPEN.lerp(&HandShape::FIST, curl),
    );
    // Left hand: in view from frame 20 to 59, far out to the side otherwise.
    let left_x = if (20..60).contains(&frame) {
        -0.1
    } else {
        -2.0
    };
    let left_wrist = Pose::new(Quat::from_rotation_x(-0.6), Vec3::new(left_x, -0.03, -0.32));
    let left = joint_poses(Hand::Left, left_wrist, &HandShape::RELAXED);
    [Some(left), Some(right)]
}

#[test]
fn tracks_both_hands_through_entry_and_exit() {
    let cams: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
    let source = Projected {
        cams: cams.clone(),
        truth: [None, None],
        seed: 0x1234_5678_9ABC_DEF1,
    };
    let mut tracker = StereoHandTracker::new(source, cams);
    // The projected source never looks at the pixels.
    let grey = vec![0u8; 640 * 480];
    let image = Image::gray(640, 480, &grey).unwrap();
    let images = [image, image];
    let (mut err_sum, mut err_n, mut worst) = (0.0f32, 0, 0.0f32);
    let mut detector_runs_both_tracked = 0;
    let mut last_truth: Option<Truth> = None;
    let mut vel_err = 0.0f32;
    for frame in 0..90 {
        let truth = truth_at(frame);
        tracker.source.truth = truth;
        let before = tracker.stats.detector_runs;
        let hands = tracker.track(&images, frame as f64 / 30.0).unwrap();
        let right =
            hands[1].unwrap_or_else(|| panic!("frame {frame}: the right hand is always in view"));
        assert_eq!(right.hand, Hand::Right);
        assert_eq!(right.cameras, 2);
        assert!(right.confidence > 0.9);
        // The left hand is active exactly while it is in view (found again
        // within the search interval after it enters).
        match frame {
            0..20 | 60.. => assert!(hands[0].is_none(), "frame {frame}: a left hand out of view"),
            23..60 => {
                let l = hands[0].unwrap_or_else(|| panic!("frame {frame}: left hand lost"));
                assert_eq!(l.hand, Hand::Left);
            }
            _ => {}
        }
        if hands[0].is_some() && frame > 23 && frame < 59 {
            detector_runs_both_tracked += tracker.stats.detector_runs - before;
        }
        // Accuracy once the bone lengths are calibrated.
        if frame >= 30 {
            let gt = truth[1].unwrap();
            for (got, want) in right.joints.iter().zip(gt.iter()) {
                let e = (got.pose.position - want.0.position).length();
                err_sum += e;
                err_n += 1;
                worst = worst.max(e);
            }
            let prev = last_truth.unwrap()[1].unwrap();
            let v = (gt[1].0.position - prev[1].0.position) * 30.0;
            vel_err = vel_err.max((right.velocities[1].linear - v).length());
        }
        last_truth = Some(truth);
    }
    let mpjpe = err_sum / err_n as f32;
    eprintln!(
        "MPJPE {:.1} mm, worst joint {:.1} mm, wrist velocity within {:.3} m/s; {} detector and {} landmark runs in 90 frames x 2 cameras",
        mpjpe * 1e3,
        worst * 1e3,
        vel_err,
        tracker.stats.detector_runs,
        tracker.stats.landmark_runs
    );
    assert_eq!(
        detector_runs_both_tracked, 0,
        "the detector ran while both hands were tracked"
    );
    // Right tracked always, left searched every third frame while absent:
    // far fewer detector runs than one per camera per frame.
    assert!(
        tracker.stats.detector_runs < 70,
        "{}",
        tracker.stats.detector_runs
    );
    assert!(mpjpe < 0.008, "MPJPE {mpjpe}");
    assert!(worst < 0.025, "worst {worst}");
    assert!(vel_err < 0.12, "wrist velocity error {vel_err}");
}

/// The projected source, except that camera 1's detector finds nothing
/// after the first frame (a view the palm detector misses, like a fist
/// from the back) and, at one frame, camera 1 loses the followed hand.
struct BlindSecond {
    inner: Projected,
    frame: usize,
    lose_at: usize,
    lost_once: bool,
}

impl LandmarkSource for BlindSecond {
    fn detect(&mut self, cam: usize, image: &Image) -> Result<Vec<Roi>, GraphError> {
        if cam == 1 && self.frame > 0 {
            return Ok(Vec::new());
        }
        self.inner.detect(cam, image)
    }

    fn landmarks(
        &mut self,
        cam: usize,
        image: &Image,
        roi: &Roi,
    ) -> Result<HandLandmarks, GraphError> {
        if cam == 1 && self.frame == self.lose_at && !self.lost_once {
            self.lost_once = true;
            return Ok(no_hand());
        }
        self.inner.landmarks(cam, image, roi)
    }
}

#[test]
fn a_hand_one_camera_loses_is_found_again_from_its_3d_landmarks() {
    let cams: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
    let source = BlindSecond {
        inner: Projected {
            cams: cams.clone(),
            truth: [None, None],
            seed: 0x0DDB_A11C_AFE0_1234,
        },
        frame: 0,
        lose_at: 8,
        lost_once: false,
    };
    let mut tracker = StereoHandTracker::new(source, cams);
    let grey = vec![0u8; 640 * 480];
    let image = Image::gray(640, 480, &grey).unwrap();
    let images = [image, image];
    // The right hand alone (the left one comes into view at frame 20).
    for frame in 0..20 {
        tracker.source.frame = frame;
        tracker.source.inner.truth = [None, truth_at(frame)[1]];
        let hands = tracker.track(&images, frame as f64 / 30.0).unwrap();
        let right = hands[1].unwrap_or_else(|| {
            panic!("frame {frame}: lost though camera 0 still sees it and its 3D places it in camera 1")
        });
        assert_eq!(right.cameras, 2, "frame {frame}");
    }
    assert!(tracker.source.lost_once);
    assert_eq!(tracker.stats.recovered, 1);
}
