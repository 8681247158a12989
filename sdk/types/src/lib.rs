//! Plain data shared by every Parallax crate: time, poses, fields of view,
//! display descriptions.
//!
//! Design choices: everything here is `Copy` plain data with no behaviour
//! beyond arithmetic, so that drivers, the runtime and (later) the C ABI can
//! agree on it. Math is `glam`; transforms are named `a_from_b`.
#![forbid(unsafe_code)]

use glam::{Quat, Vec3};
use std::ops::{Add, Sub};

/// A point in time in nanoseconds on `CLOCK_MONOTONIC`, the clock OpenXR's
/// `XrTime` is defined on for this runtime.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Time {
    /// The current monotonic time.
    pub fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Self(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
    }

    pub fn from_nanos(ns: i64) -> Self {
        Self(ns)
    }

    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the clock's epoch, for scripted motion.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }

    /// Blocks the calling thread until this time (absolute sleep on the
    /// monotonic clock, so early wake-ups and drift do not accumulate).
    pub fn sleep_until(self) {
        let request = rustix::time::Timespec {
            tv_sec: self.0.div_euclid(1_000_000_000),
            tv_nsec: self.0.rem_euclid(1_000_000_000),
        };
        // An absolute sleep wakes once, at the deadline; it is resumed after
        // a signal (EINTR) until the deadline has passed.
        while Self::now() < self {
            if rustix::thread::clock_nanosleep_absolute(
                rustix::thread::ClockId::Monotonic,
                &request,
            )
            .is_ok()
            {
                return;
            }
        }
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d.0))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, t: Time) -> Duration {
        Duration(self.0.saturating_sub(t.0))
    }
}

/// A span of time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    pub fn from_nanos(ns: i64) -> Self {
        Self(ns)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        Self((s * 1e9).round() as i64)
    }
    pub fn as_nanos(self) -> i64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }
}

/// A rigid transform: rotate by `orientation`, then translate by `position`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Pose {
    pub orientation: Quat,
    pub position: Vec3,
}

impl Default for Pose {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Pose {
    pub const IDENTITY: Pose = Pose {
        orientation: Quat::IDENTITY,
        position: Vec3::ZERO,
    };

    pub fn new(orientation: Quat, position: Vec3) -> Self {
        Self {
            orientation,
            position,
        }
    }

    pub fn from_position(position: Vec3) -> Self {
        Self {
            orientation: Quat::IDENTITY,
            position,
        }
    }

    /// `a_from_c = a_from_b * b_from_c`.
    pub fn mul(&self, rhs: &Pose) -> Pose {
        Pose {
            orientation: (self.orientation * rhs.orientation).normalize(),
            position: self.position + self.orientation * rhs.position,
        }
    }

    pub fn inverse(&self) -> Pose {
        let inv = self.orientation.conjugate();
        Pose {
            orientation: inv,
            position: -(inv * self.position),
        }
    }

    pub fn transform_point(&self, p: Vec3) -> Vec3 {
        self.position + self.orientation * p
    }

    pub fn is_finite(&self) -> bool {
        self.orientation.is_finite() && self.position.is_finite()
    }
}

/// Linear and angular velocity, expressed in the base space.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Velocity {
    pub linear: Vec3,
    pub angular: Vec3,
}

/// A tracked pose at a time, with what is known about it.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct TrackedPose {
    /// `tracking_from_device` at `time`.
    pub pose: Pose,
    pub velocity: Velocity,
    pub time: Time,
    pub orientation_valid: bool,
    pub position_valid: bool,
    pub orientation_tracked: bool,
    pub position_tracked: bool,
}

/// Field of view as four angles in radians (left and down are negative for
/// a symmetric view), the OpenXR convention.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Fov {
    pub left: f32,
    pub right: f32,
    pub up: f32,
    pub down: f32,
}

impl Fov {
    pub fn from_degrees(left: f32, right: f32, up: f32, down: f32) -> Self {
        Self {
            left: left.to_radians(),
            right: right.to_radians(),
            up: up.to_radians(),
            down: down.to_radians(),
        }
    }
}

/// One eye of a head-mounted display.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct EyeInfo {
    /// `head_from_eye`.
    pub head_from_eye: Pose,
    pub fov: Fov,
}

/// Distortion model of a lens, radial polynomial per colour channel
/// (`r_d = r (1 + k1 r^2 + k2 r^4 + k3 r^6)`), in tangent-angle space.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct LensModel {
    pub red: [f32; 3],
    pub green: [f32; 3],
    pub blue: [f32; 3],
    /// Tangent radius of the lens's circular field: directions beyond it
    /// are never seen (0: no limit).
    pub aperture: f32,
}

/// The display panel of a head-mounted display.
#[derive(Clone, Debug, PartialEq)]
pub struct DisplayInfo {
    /// Pixels per eye the panel shows.
    pub width_per_eye: u32,
    pub height_per_eye: u32,
    /// Refresh rates the panel supports, in Hz; the first is the default.
    pub refresh_rates_hz: Vec<f32>,
    pub eyes: [EyeInfo; 2],
    pub lens: LensModel,
}

impl DisplayInfo {
    /// Inter-pupillary distance in metres, derived from the eye poses.
    pub fn ipd(&self) -> f32 {
        (self.eyes[1].head_from_eye.position - self.eyes[0].head_from_eye.position).length()
    }
}

/// Play area bounds (rectangle on the floor, metres).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PlayArea {
    pub width: f32,
    pub depth: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_inverse_and_compose() {
        let a = Pose::new(Quat::from_rotation_y(0.7), Vec3::new(1.0, 2.0, 3.0));
        let b = Pose::new(Quat::from_rotation_x(-0.3), Vec3::new(-0.5, 0.0, 0.25));
        let ab = a.mul(&b);
        let back = a.inverse().mul(&ab);
        assert!((back.position - b.position).length() < 1e-5);
        assert!(back.orientation.dot(b.orientation).abs() > 0.99999);
        let p = Vec3::new(0.3, -0.2, 0.9);
        assert!((ab.transform_point(p) - a.transform_point(b.transform_point(p))).length() < 1e-5);
    }

    #[test]
    fn time_is_monotonic() {
        let a = Time::now();
        let b = Time::now();
        assert!(b >= a);
        assert!(a.0 > 0);
    }
}
