//! Hand tracking from the headset's cameras as a source of the device hub:
//! a thread reads the newest simultaneous frames of the headset's cameras,
//! runs the stereo tracker (`parallax-hand-tracking`), turns the joints from
//! the head's frame into the stage with the head pose at the frames' time,
//! and keeps the newest hands. Apps get them predicted to the time they ask
//! for (velocities, at most [`MAX_PREDICTION`] ahead).

use glam::{Quat, Vec3};
use parallax_hand_tracking::landmark::frames_as_images;
use parallax_hand_tracking::stereo::Camera;
use parallax_hand_tracking::tracker::{HandTracker, StereoHandTracker, TrackedHand};
use parallax_hand_tracking::{models_dir, HandLandmarker, Variant};
use parallax_sdk::types::{
    CameraFrame, Hand, HandJoint, HandJoints, Pose, Time, Velocity, HAND_JOINT_COUNT,
};
use parallax_sdk::Hmd;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Furthest a hand is predicted past its newest camera frame.
pub const MAX_PREDICTION: Duration = Duration::from_millis(100);
/// A hand whose newest frame is older than this (the tracker stalled or the
/// cameras stopped) is inactive.
pub const MAX_AGE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Newest tracked hands (stage frame), left and right.
    hands: Mutex<[Option<HandJoints>; 2]>,
    /// Stereo frames processed.
    frames: AtomicU64,
}

/// The running camera tracker.
pub struct CameraHands {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for CameraHands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraHands")
            .field("frames", &self.frames())
            .finish()
    }
}

impl CameraHands {
    /// Starts tracking on `hmd`'s cameras; fails when it has fewer than two
    /// or the models are not installed (`scripts/fetch-hand-models.sh`).
    pub fn start(hmd: Arc<dyn Hmd>) -> Result<Self, String> {
        let infos = hmd.description().cameras.clone();
        if infos.len() < 2 {
            return Err(format!(
                "{} has {} camera(s); hand tracking needs two or more",
                hmd.description().name,
                infos.len()
            ));
        }
        let landmarker =
            HandLandmarker::load(&models_dir(), Variant::Lite, &candle_core::Device::Cpu).map_err(|e| {
                format!(
                    "hand models not loaded from {}: {e} (run scripts/fetch-hand-models.sh or set PARALLAX_HAND_MODELS)",
                    models_dir().display()
                )
            })?;
        let cameras: Vec<Camera> = infos.iter().map(Camera::from).collect();
        let tracker = StereoHandTracker::new(landmarker, cameras);
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("parallax-hands".into())
            .spawn(move || run(hmd, tracker, &s))
            .map_err(|e| format!("cannot start the hand tracking thread: {e}"))?;
        tracing::info!(
            cameras = infos.len(),
            "hand tracking from the headset's cameras started"
        );
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Stereo frames processed so far.
    pub fn frames(&self) -> u64 {
        self.shared.frames.load(Ordering::Relaxed)
    }

    /// A hand predicted to `at`, or `None` when it is not tracked now.
    pub fn hand_joints(&self, hand: Hand, at: Time) -> Option<HandJoints> {
        let newest = self.shared.hands.lock()[usize::from(hand == Hand::Right)]?;
        if Time::now().0 - newest.time.0 > MAX_AGE.as_nanos() as i64 {
            return None;
        }
        let dt = ((at.0 - newest.time.0) as f64 * 1e-9)
            .clamp(-MAX_PREDICTION.as_secs_f64(), MAX_PREDICTION.as_secs_f64())
            as f32;
        let mut out = newest;
        out.time = at;
        for j in out.joints.iter_mut() {
            let v = j.velocity;
            j.pose = Pose::new(
                (Quat::from_scaled_axis(v.angular * dt) * j.pose.orientation).normalize(),
                j.pose.position + v.linear * dt,
            );
        }
        Some(out)
    }
}

impl Drop for CameraHands {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A tracked hand (head frame) in the stage, given the head's pose and
/// velocity at the frames' time.
fn to_stage(h: &TrackedHand, time: Time, head: &Pose, head_v: &Velocity) -> HandJoints {
    let mut out = HandJoints {
        time,
        active: true,
        joints: [HandJoint::default(); HAND_JOINT_COUNT],
    };
    for (o, (j, v)) in out
        .joints
        .iter_mut()
        .zip(h.joints.iter().zip(&h.velocities))
    {
        let pose = head.mul(&j.pose);
        let lever: Vec3 = pose.position - head.position;
        *o = HandJoint {
            pose,
            radius: j.radius,
            velocity: Velocity {
                linear: head.orientation * v.linear + head_v.linear + head_v.angular.cross(lever),
                angular: head.orientation * v.angular + head_v.angular,
            },
            pose_valid: true,
            pose_tracked: true,
            velocity_valid: true,
        };
    }
    out
}

fn run(hmd: Arc<dyn Hmd>, mut tracker: StereoHandTracker<HandLandmarker>, shared: &Shared) {
    let n = tracker.cameras.len();
    let mut frames = vec![CameraFrame::default(); n];
    let mut failures = 0u32;
    while !shared.stop.load(Ordering::Relaxed) {
        // The newest frame of every camera, all of the same exposure.
        let mut fresh = false;
        let mut failed = None;
        for (c, f) in frames.iter_mut().enumerate() {
            match hmd.camera_frame(c, f) {
                Ok(new) => fresh |= new,
                Err(e) => failed = Some(format!("camera {c}: {e}")),
            }
        }
        if let Some(e) = failed {
            failures += 1;
            if failures == 1 {
                tracing::warn!("hand tracking: {e}; retrying");
            }
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let same = frames
            .iter()
            .all(|f| f.sequence == frames[0].sequence && f.format.is_some());
        if !fresh || !same {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let Some(images) = frames_as_images(&frames) else {
            tracing::warn!(
                "hand tracking: a camera frame's data is shorter than its rows; skipped"
            );
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        let time = frames[0].time;
        let started = std::time::Instant::now();
        let hands = match tracker.track(&images, time.0 as f64 * 1e-9) {
            Ok(h) => {
                tracing::debug!(
                    sequence = frames[0].sequence,
                    left = h[0].is_some(),
                    right = h[1].is_some(),
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "hand tracking: stereo frame"
                );
                h
            }
            Err(e) => {
                tracing::warn!("hand tracking: {e}");
                continue;
            }
        };
        let head = hmd.pose("head", time);
        let mut newest = shared.hands.lock();
        for (slot, h) in hands.iter().enumerate() {
            newest[slot] = match (h, &head) {
                (Some(h), Ok(head)) => Some(to_stage(h, time, &head.pose, &head.velocity)),
                _ => None,
            };
        }
        drop(newest);
        shared.frames.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joints_move_with_a_turning_head() {
        // A joint 40 cm ahead of a head turning at 1 rad/s about Y moves
        // sideways at 0.4 m/s in the stage.
        let mut h = TrackedHand {
            hand: Hand::Right,
            time: 0.0,
            joints: [Default::default(); HAND_JOINT_COUNT],
            velocities: [Velocity::default(); HAND_JOINT_COUNT],
            confidence: 1.0,
            cameras: 2,
        };
        h.joints[1].pose = Pose::from_position(Vec3::new(0.0, 0.0, -0.4));
        let head = Pose::from_position(Vec3::new(0.0, 1.6, 0.0));
        let v = Velocity {
            linear: Vec3::ZERO,
            angular: Vec3::Y,
        };
        let s = to_stage(&h, Time(5), &head, &v);
        assert!((s.joints[1].pose.position - Vec3::new(0.0, 1.6, -0.4)).length() < 1e-6);
        assert!((s.joints[1].velocity.linear - Vec3::new(-0.4, 0.0, 0.0)).length() < 1e-6);
        assert_eq!(s.joints[1].velocity.angular, Vec3::Y);
    }
}
