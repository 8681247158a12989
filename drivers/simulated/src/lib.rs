//! The simulated headset: a stereo HMD (2064×2208 per eye, 90 Hz with 72 and
//! 120 Hz modes, Quest-3-like field of view and IPD) and two controllers with
//! the inputs of the Oculus Touch profile, all driven through the SDK traits
//! only.
//!
//! Motion is a closed-form function of the seed and the absolute time
//! ([`Motion::head`], [`Motion::hand`]), so prediction to any requested time
//! is exact and tests can compute the pose they expect. Inputs can be set
//! from outside through [`Controls`] (the desktop simulator, tests).
#![forbid(unsafe_code)]

use glam::{EulerRot, Quat, Vec3};
use parallax_sdk::types::{
    Battery, BodyJoints, CameraFrame, CameraInfo, CameraIntrinsics, DesktopControls, DesktopInput,
    DisplayInfo, Duration, EyeGaze, EyeInfo, FaceExpressions, Fov, Hand, HandJoints, LensModel,
    PixelFormat, PlayArea, Pose, Time, TrackedPose, Velocity,
};
use parallax_sdk::{
    Builder, Capabilities, Device, DeviceDescription, DeviceRole, DriverError, Estimate, Hmd,
    InputComponent, InputKind, InputValue, OutputComponent, SystemDevices, Vibration,
};
use parking_lot::Mutex;
use std::sync::Arc;

pub mod desktop;
pub mod face;
pub mod hand;
use desktop::Rig;

/// How the simulated devices move.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum MotionKind {
    /// Still: head at standing height looking down -Z, hands in front.
    Static,
    /// Smooth seeded motion (look around, sway, hands waving).
    Scripted { seed: u64 },
    /// Hands raised in front of the headset's cameras (the head still):
    /// backs of the hands to the cameras, fingers up, shapes changing; the
    /// right hand stays in view, the left is out of view to the side from
    /// 6.5 s to 11 s of every 12 s (camera hand tracking tests).
    Hands,
}

impl MotionKind {
    /// Parses `static`, `hands` or `scripted[:SEED]` (the `PARALLAX_SIM_MOTION` syntax).
    pub fn parse(s: &str) -> Option<MotionKind> {
        let s = s.trim();
        if s == "static" {
            return Some(MotionKind::Static);
        }
        if s == "hands" {
            return Some(MotionKind::Hands);
        }
        let rest = s.strip_prefix("scripted")?;
        if rest.is_empty() {
            return Some(MotionKind::Scripted { seed: 1 });
        }
        rest.strip_prefix(':')?
            .parse()
            .ok()
            .map(|seed| MotionKind::Scripted { seed })
    }
}

/// Closed-form motion of the simulated devices.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Motion {
    pub kind: MotionKind,
}

/// Standing eye height above the stage floor, metres.
pub const EYE_HEIGHT: f32 = 1.6;

impl Motion {
    fn phase(seed: u64, k: u64) -> f32 {
        // A small integer hash, so each seed gives different but fixed phases.
        let mut x = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(k.wrapping_mul(0xBF58_476D_1CE4_E5B9));
        x ^= x >> 31;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 29;
        (x % 10_000) as f32 / 10_000.0 * std::f32::consts::TAU
    }

    /// `stage_from_head` at `t`, with its velocity.
    pub fn head(&self, t: Time) -> (Pose, Velocity) {
        match self.kind {
            MotionKind::Static | MotionKind::Hands => (
                Pose::from_position(Vec3::new(0.0, EYE_HEIGHT, 0.0)),
                Velocity::default(),
            ),
            MotionKind::Scripted { seed } => {
                let s = t.as_secs_f64() as f32;
                let (w1, w2, w3) = (0.5f32, 0.37f32, 0.23f32);
                let (p1, p2, p3) = (
                    Self::phase(seed, 1),
                    Self::phase(seed, 2),
                    Self::phase(seed, 3),
                );
                let yaw = 0.4 * (w1 * s + p1).sin();
                let pitch = 0.15 * (w2 * s + p2).sin();
                let pos = Vec3::new(
                    0.1 * (w3 * s + p3).sin(),
                    EYE_HEIGHT + 0.02 * (w2 * s + p1).sin(),
                    0.05 * (w1 * s + p2).cos(),
                );
                let lin = Vec3::new(
                    0.1 * w3 * (w3 * s + p3).cos(),
                    0.02 * w2 * (w2 * s + p1).cos(),
                    -0.05 * w1 * (w1 * s + p2).sin(),
                );
                let yaw_rate = 0.4 * w1 * (w1 * s + p1).cos();
                let pitch_rate = 0.15 * w2 * (w2 * s + p2).cos();
                let q = Quat::from_euler(EulerRot::YXZ, yaw, pitch, 0.0);
                // Angular velocity in the base space: yaw about world Y, pitch about the yawed X.
                let ang = Vec3::Y * yaw_rate + (Quat::from_rotation_y(yaw) * Vec3::X) * pitch_rate;
                (
                    Pose::new(q, pos),
                    Velocity {
                        linear: lin,
                        angular: ang,
                    },
                )
            }
        }
    }

    /// `stage_from_grip` of a hand at `t` (0 left, 1 right).
    pub fn hand(&self, hand: usize, t: Time) -> (Pose, Velocity) {
        let side = if hand == 0 { -1.0 } else { 1.0 };
        let base = Vec3::new(0.2 * side, EYE_HEIGHT - 0.4, -0.35);
        match self.kind {
            MotionKind::Static => (Pose::from_position(base), Velocity::default()),
            MotionKind::Hands => {
                let at = |t: Time| Self::raised_hand(hand, t.as_secs_f64() as f32);
                let dt = 1e-3;
                let (a, b) = (at(t), at(Time(t.0 + 1_000_000)));
                (
                    a,
                    Velocity {
                        linear: (b.position - a.position) / dt,
                        angular: Vec3::ZERO,
                    },
                )
            }
            MotionKind::Scripted { seed } => {
                let s = t.as_secs_f64() as f32;
                let w = 0.8 + 0.1 * hand as f32;
                let p = Self::phase(seed, 10 + hand as u64);
                let pos = base + Vec3::new(0.05 * (w * s + p).sin(), 0.08 * (w * s + p).cos(), 0.0);
                let lin = Vec3::new(
                    0.05 * w * (w * s + p).cos(),
                    -0.08 * w * (w * s + p).sin(),
                    0.0,
                );
                let roll = 0.3 * (w * s + p).sin();
                let q = Quat::from_rotation_z(roll);
                let ang = Vec3::Z * 0.3 * w * (w * s + p).cos();
                (
                    Pose::new(q, pos),
                    Velocity {
                        linear: lin,
                        angular: ang,
                    },
                )
            }
        }
    }
}

impl Motion {
    /// `stage_from_grip` of a hand raised in front of the cameras
    /// ([`MotionKind::Hands`]) at `s` seconds.
    fn raised_hand(hand: usize, s: f32) -> Pose {
        let side = if hand == 0 { -1.0 } else { 1.0 };
        let smooth = |x: f32| {
            let x = x.clamp(0.0, 1.0);
            x * x * (3.0 - 2.0 * x)
        };
        // The left hand goes out of view from 5.5 s to 6.5 s of every 12 s
        // and comes back from 11 s to 12 s.
        let phase = s.rem_euclid(12.0);
        let away = if hand == 0 {
            smooth(phase - 5.5) - smooth(phase - 11.0)
        } else {
            0.0
        };
        let x = side * (0.085 + 0.5 * away) + 0.02 * (0.7 * s + hand as f32).sin();
        let y = EYE_HEIGHT - 0.1 + 0.015 * (0.9 * s).cos();
        let wrist = Pose::new(
            Quat::from_rotation_z(-side * 0.3)
                * Quat::from_rotation_x(std::f32::consts::FRAC_PI_2 - 0.3),
            Vec3::new(x, y, -0.38),
        );
        wrist.mul(&grip_from_wrist().inverse())
    }
}

/// `grip_from_aim` of the touch controller: the aim ray tilts 30° down from the grip.
pub fn grip_from_aim() -> Pose {
    Pose::new(
        Quat::from_rotation_x(-30f32.to_radians()),
        Vec3::new(0.0, 0.0, -0.05),
    )
}

/// Shared input state of the simulated controllers, settable from outside.
#[derive(Default)]
pub struct Controls {
    values: Mutex<[Vec<Option<InputValue>>; 2]>,
    vibrations: Mutex<[Option<Vibration>; 2]>,
}

impl Controls {
    /// Sets an input of a hand (0 left, 1 right) by component path.
    pub fn set(&self, hand: usize, path: &str, value: InputValue) -> Result<(), DriverError> {
        let desc = controller_description(hand);
        let idx = desc
            .inputs
            .iter()
            .position(|c| c.path == path)
            .ok_or_else(|| DriverError::NoSuchComponent(path.into()))?;
        let mut v = self.values.lock();
        if v[hand].is_empty() {
            v[hand] = vec![None; desc.inputs.len()];
        }
        v[hand][idx] = Some(value);
        Ok(())
    }

    /// The value set for an input of a hand, if any.
    pub fn get(&self, hand: usize, path: &str) -> Option<InputValue> {
        let idx = controller_description(hand)
            .inputs
            .iter()
            .position(|c| c.path == path)?;
        self.values.lock()[hand].get(idx).copied().flatten()
    }

    /// The vibration a hand is playing now, if any.
    pub fn vibration(&self, hand: usize) -> Option<Vibration> {
        self.vibrations.lock()[hand]
    }
}

fn controller_description(hand: usize) -> DeviceDescription {
    let (role, letters, name) = if hand == 0 {
        (
            DeviceRole::LeftHand,
            ["x", "y"],
            "Simulated Touch Controller (left)",
        )
    } else {
        (
            DeviceRole::RightHand,
            ["a", "b"],
            "Simulated Touch Controller (right)",
        )
    };
    let mut inputs = Vec::new();
    let mut add = |p: String, kind| inputs.push(InputComponent { path: p, kind });
    for l in letters {
        add(format!("input/{l}/click"), InputKind::Boolean);
        add(format!("input/{l}/touch"), InputKind::Boolean);
    }
    if hand == 0 {
        add("input/menu/click".into(), InputKind::Boolean);
    }
    add("input/squeeze/value".into(), InputKind::Float);
    add("input/trigger/value".into(), InputKind::Float);
    add("input/trigger/touch".into(), InputKind::Boolean);
    add("input/thumbstick".into(), InputKind::Vector2);
    add("input/thumbstick/click".into(), InputKind::Boolean);
    add("input/thumbstick/touch".into(), InputKind::Boolean);
    add("input/thumbrest/touch".into(), InputKind::Boolean);
    add("input/grip/pose".into(), InputKind::Pose);
    add("input/aim/pose".into(), InputKind::Pose);
    DeviceDescription {
        name: name.into(),
        serial: format!("SIM-CTRL-{hand}"),
        role,
        interaction_profile: Some("/interaction_profiles/oculus/touch_controller".into()),
        inputs,
        outputs: vec![OutputComponent {
            path: "output/haptic".into(),
        }],
        capabilities: Capabilities {
            battery: true,
            hand_tracking: true,
            ..Default::default()
        },
        cameras: vec![],
    }
}

/// The simulated hand's shape at `t`: with scripted motion it cycles open,
/// pointing, fist, relaxed (8 s, smooth blends); static, it stays relaxed.
/// A pressed trigger curls the index finger around a held controller, or
/// pinches an empty hand (`held` false); a pressed grip makes a fist.
fn hand_shape(
    motion: &Motion,
    hand: usize,
    t: Time,
    (trigger, grip): (f32, f32),
    held: bool,
) -> hand::HandShape {
    use hand::HandShape;
    let mut shape = match motion.kind {
        MotionKind::Static => HandShape::RELAXED,
        MotionKind::Hands => {
            let cycle = [
                HandShape::RELAXED,
                HandShape::POINT,
                HandShape::RELAXED,
                HandShape::OPEN,
            ];
            let s = (t.as_secs_f64() / 2.5 + hand as f64).rem_euclid(4.0);
            let (i, f) = (s.floor() as usize % 4, s.fract() as f32);
            let blend = ((f - 0.5) * 2.0).clamp(0.0, 1.0);
            cycle[i].lerp(&cycle[(i + 1) % 4], blend * blend * (3.0 - 2.0 * blend))
        }
        MotionKind::Scripted { .. } => {
            let cycle = [
                HandShape::OPEN,
                HandShape::POINT,
                HandShape::FIST,
                HandShape::RELAXED,
            ];
            let s = (t.as_secs_f64() / 2.0 + hand as f64 * 0.5).rem_euclid(4.0);
            let (i, f) = (s.floor() as usize % 4, s.fract() as f32);
            // Hold each shape for half the step, blend over the other half.
            let blend = ((f - 0.5) * 2.0).clamp(0.0, 1.0);
            let blend = blend * blend * (3.0 - 2.0 * blend);
            cycle[i].lerp(&cycle[(i + 1) % 4], blend)
        }
    };
    if held {
        shape.curl[1] = shape.curl[1].max(trigger);
    } else if trigger > 0.0 {
        shape = shape.lerp(&HandShape::PINCH, trigger);
    }
    if grip > 0.0 {
        shape = shape.lerp(&HandShape::FIST, grip);
    }
    shape
}

/// `grip_from_wrist`: the wrist 9 cm behind the controller's grip, the hand
/// along the grip's -Z.
pub fn grip_from_wrist() -> Pose {
    Pose::from_position(Vec3::new(0.0, 0.0, 0.09))
}

/// The joints of simulated hand `hand` (0 left) at `at`, driven by the
/// scripted motion and the desktop keys' trigger and grip of that hand.
fn simulated_hand(
    motion: &Motion,
    rig: &Rig,
    controls: &Controls,
    hand: usize,
    at: Time,
    held: bool,
) -> HandJoints {
    let value = |path: &str| match controls.get(hand, path) {
        Some(InputValue::Float(v)) => v,
        Some(InputValue::Boolean(b)) => b as u8 as f32,
        _ => 0.0,
    };
    let keys = (value("input/trigger/value"), value("input/squeeze/value"));
    let which = if hand == 0 { Hand::Left } else { Hand::Right };
    hand::joints(which, at, |t| {
        let (g, _) = motion.hand(hand, t);
        let wrist = rig.hand(g).mul(&grip_from_wrist());
        (wrist, hand_shape(motion, hand, t, keys, held))
    })
}

struct SimController {
    hand: usize,
    desc: DeviceDescription,
    motion: Motion,
    controls: Arc<Controls>,
    rig: Arc<Rig>,
}

impl Device for SimController {
    fn description(&self) -> &DeviceDescription {
        &self.desc
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        let (grip, vel) = self.motion.hand(self.hand, at);
        let grip = self.rig.hand(grip);
        let vel = Velocity {
            linear: self.rig.rotate(vel.linear),
            angular: self.rig.rotate(vel.angular),
        };
        let pose = match component {
            "input/grip/pose" => grip,
            "input/aim/pose" => grip.mul(&grip_from_aim()),
            _ => return Err(DriverError::NoSuchComponent(component.into())),
        };
        Ok(TrackedPose {
            pose,
            velocity: vel,
            time: Time::now(),
            orientation_valid: true,
            position_valid: true,
            orientation_tracked: true,
            position_tracked: true,
        })
    }

    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        let own = if self.hand == 0 {
            Hand::Left
        } else {
            Hand::Right
        };
        if hand != own {
            return Err(DriverError::InvalidArgument(format!(
                "this controller holds the {own:?} hand, not the {hand:?}"
            )));
        }
        Ok(simulated_hand(
            &self.motion,
            &self.rig,
            &self.controls,
            self.hand,
            at,
            true,
        ))
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        let set = self.controls.values.lock();
        for (i, c) in self.desc.inputs.iter().enumerate() {
            if i >= values.len() {
                break;
            }
            values[i] = set[self.hand]
                .get(i)
                .copied()
                .flatten()
                .or_else(|| InputValue::neutral(c.kind));
        }
        Ok(())
    }

    fn set_vibration(&self, output: &str, vibration: Option<Vibration>) -> Result<(), DriverError> {
        if output != "output/haptic" {
            return Err(DriverError::NoSuchComponent(output.into()));
        }
        self.controls.vibrations.lock()[self.hand] = vibration;
        Ok(())
    }

    fn battery(&self) -> Result<Battery, DriverError> {
        // A slow, deterministic drain: full at the epoch of the clock, never
        // below 20 %.
        let hours = Time::now().as_secs_f64() / 3600.0;
        Ok(Battery {
            charge: (1.0 - 0.1 * hours.rem_euclid(8.0)) as f32,
            charging: false,
        })
    }
}

struct SimHmd {
    desc: DeviceDescription,
    display: DisplayInfo,
    motion: Motion,
    rate: Mutex<f32>,
    /// When the headset disconnects (simulated cable pull), if ever.
    disconnect_at: Option<Time>,
    /// When the cameras started streaming (the system was opened).
    opened_at: Time,
    rig: Arc<Rig>,
    controls: Arc<Controls>,
}

/// The simulated headset's two forward tracking cameras: 640×480 grey at
/// 30 Hz, 10 cm apart, pinhole with a little barrel distortion.
pub fn camera_infos() -> Vec<CameraInfo> {
    [-0.05f32, 0.05]
        .iter()
        .enumerate()
        .map(|(i, x)| CameraInfo {
            name: format!("tracking-{}", ["left", "right"][i]),
            width: 640,
            height: 480,
            format: PixelFormat::Gray8,
            fps: 30.0,
            intrinsics: CameraIntrinsics {
                fx: 400.0,
                fy: 400.0,
                cx: 319.5,
                cy: 239.5,
                distortion: [-0.05, 0.01, 0.0, 0.0, 0.0],
            },
            head_from_camera: Pose::from_position(Vec3::new(*x, 0.02, -0.06)),
        })
        .collect()
}

/// The image of a simulated camera for a frame sequence number: a test
/// pattern (a diagonal ramp that scrolls one pixel per frame, with the
/// camera index in the first row) until the rendered hand scenes arrive.
pub fn camera_image(camera: usize, sequence: u64, width: u32, height: u32, out: &mut Vec<u8>) {
    out.clear();
    out.reserve((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let v = if y == 0 {
                camera as u8
            } else {
                ((x + y + sequence as u32) % 256) as u8
            };
            out.push(v);
        }
    }
}

impl Device for SimHmd {
    fn description(&self) -> &DeviceDescription {
        &self.desc
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        if component != "head" {
            return Err(DriverError::NoSuchComponent(component.into()));
        }
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        let (pose, velocity) = self.motion.head(at);
        let pose = self.rig.head(pose);
        let velocity = Velocity {
            linear: self.rig.rotate(velocity.linear),
            angular: self.rig.rotate(velocity.angular),
        };
        Ok(TrackedPose {
            pose,
            velocity,
            time: Time::now(),
            orientation_valid: true,
            position_valid: true,
            orientation_tracked: true,
            position_tracked: true,
        })
    }

    fn read_inputs(&self, _values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        Ok(())
    }

    fn set_vibration(&self, output: &str, _v: Option<Vibration>) -> Result<(), DriverError> {
        Err(DriverError::NoSuchComponent(output.into()))
    }

    fn is_connected(&self) -> bool {
        self.disconnect_at.is_none_or(|t| Time::now() < t)
    }

    /// The wearer's scripted face ([`face`]).
    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        Ok(face::expressions(&self.motion, at))
    }

    /// The wearer's scripted gaze ([`face::gaze`]), in the head's frame.
    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        Ok(face::gaze(&self.motion, at))
    }

    /// The wearer's upper body: the torso under the head, the arms reaching
    /// the wrists of the hands (holding the controllers or bare), by
    /// [`parallax_sdk::body::upper_body`]: exact, since the head and wrists
    /// are the scripted ones.
    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        let head = self.rig.head(self.motion.head(at).0);
        let wrists = [0, 1].map(|hand| {
            let grip = self.rig.hand(self.motion.hand(hand, at).0);
            Some(grip.mul(&grip_from_wrist()).position)
        });
        Ok(parallax_sdk::body::upper_body(at, &head, true, &wrists))
    }

    /// Without controllers the headset tracks both bare hands itself (as a
    /// headset with hand tracking in its driver does).
    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        if !self.desc.capabilities.hand_tracking {
            return Err(DriverError::Unsupported);
        }
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        let index = usize::from(hand == Hand::Right);
        Ok(simulated_hand(
            &self.motion,
            &self.rig,
            &self.controls,
            index,
            at,
            false,
        ))
    }

    fn camera_frame(&self, index: usize, frame: &mut CameraFrame) -> Result<bool, DriverError> {
        let cam = self
            .desc
            .cameras
            .get(index)
            .ok_or_else(|| DriverError::NoSuchComponent(format!("camera {index}")))?;
        if !self.is_connected() {
            return Err(DriverError::Disconnected);
        }
        let period = 1e9 / cam.fps as f64;
        let since = (Time::now().0 - self.opened_at.0).max(0) as f64;
        let sequence = (since / period) as u64 + 1;
        if sequence <= frame.sequence {
            return Ok(false);
        }
        camera_image(index, sequence, cam.width, cam.height, &mut frame.data);
        frame.sequence = sequence;
        // Mid-exposure of the newest frame.
        frame.time = Time(self.opened_at.0 + ((sequence - 1) as f64 * period) as i64);
        frame.width = cam.width;
        frame.height = cam.height;
        frame.stride = cam.width;
        frame.format = Some(cam.format);
        Ok(true)
    }
}

impl Hmd for SimHmd {
    fn display(&self) -> &DisplayInfo {
        &self.display
    }

    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError> {
        if !self.display.refresh_rates_hz.contains(&hz) {
            return Err(DriverError::Unsupported);
        }
        *self.rate.lock() = hz;
        Ok(())
    }

    fn refresh_rate(&self) -> f32 {
        *self.rate.lock()
    }
}

/// The simulated display: 2064×2208 per eye, 90/72/120 Hz, 63 mm IPD.
pub fn display_info() -> DisplayInfo {
    let ipd = 0.063;
    DisplayInfo {
        width_per_eye: 2064,
        height_per_eye: 2208,
        refresh_rates_hz: vec![90.0, 72.0, 120.0],
        eyes: [
            EyeInfo {
                head_from_eye: Pose::from_position(Vec3::new(-ipd / 2.0, 0.0, 0.0)),
                fov: Fov::from_degrees(-54.0, 40.0, 44.0, -49.0),
            },
            EyeInfo {
                head_from_eye: Pose::from_position(Vec3::new(ipd / 2.0, 0.0, 0.0)),
                fov: Fov::from_degrees(-40.0, 54.0, 44.0, -49.0),
            },
        ],
        lens: LensModel {
            red: [0.215, 0.205, 0.0],
            green: [0.22, 0.21, 0.0],
            blue: [0.226, 0.218, 0.0],
            aperture: 1.3,
        },
    }
}

/// Builds the simulated system.
pub struct SimulatedBuilder {
    pub motion: Motion,
    pub controls: Arc<Controls>,
    /// Disconnect the headset this long after opening (tests of session loss).
    pub disconnect_after: Option<Duration>,
    /// The driver name reported (`simulated` built in).
    pub name: &'static str,
    /// Two Touch-like controllers (the default); without them the headset
    /// tracks the bare hands itself.
    pub controllers: bool,
}

impl SimulatedBuilder {
    pub fn new(motion: MotionKind) -> Self {
        Self {
            motion: Motion { kind: motion },
            controls: Arc::new(Controls::default()),
            disconnect_after: None,
            name: "simulated",
            controllers: true,
        }
    }
}

impl Builder for SimulatedBuilder {
    fn name(&self) -> &str {
        self.name
    }

    fn estimate(&self) -> Estimate {
        Estimate {
            hmd: true,
            controllers: if self.controllers { 2 } else { 0 },
            score: 1,
        }
    }

    fn open(&self) -> Result<SystemDevices, DriverError> {
        let display = display_info();
        let rig = Arc::new(Rig::new(self.controls.clone()));
        let hmd = Arc::new(SimHmd {
            desc: DeviceDescription {
                name: "Parallax Simulated Headset".into(),
                serial: "SIM-HMD-0".into(),
                role: DeviceRole::Head,
                interaction_profile: None,
                inputs: vec![],
                outputs: vec![],
                capabilities: Capabilities {
                    hand_tracking: !self.controllers,
                    face_expressions: true,
                    eye_gaze: true,
                    body_tracking: true,
                    ..Default::default()
                },
                cameras: camera_infos(),
            },
            rate: Mutex::new(display.refresh_rates_hz[0]),
            display,
            motion: self.motion,
            disconnect_at: self.disconnect_after.map(|d| Time::now() + d),
            opened_at: Time::now(),
            rig: rig.clone(),
            controls: self.controls.clone(),
        });
        let count = if self.controllers { 2 } else { 0 };
        let devices: Vec<Arc<dyn Device>> = (0..count)
            .map(|hand| {
                Arc::new(SimController {
                    hand,
                    desc: controller_description(hand),
                    motion: self.motion,
                    controls: self.controls.clone(),
                    rig: rig.clone(),
                }) as Arc<dyn Device>
            })
            .collect();
        tracing::debug!(motion = ?self.motion, "opened simulated headset");
        Ok(SystemDevices {
            system_name: "Parallax Simulated Headset".into(),
            vendor_id: 0x5058, // "PX"
            hmd,
            devices,
            play_area: Some(PlayArea {
                width: 3.0,
                depth: 2.5,
            }),
            desktop_input: Some(DesktopControls {
                legend: desktop::LEGEND.into(),
                sink: Arc::new(move |ev: &DesktopInput| rig.input(ev)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_motion_is_deterministic_and_smooth() {
        let m = Motion {
            kind: MotionKind::Scripted { seed: 7 },
        };
        let t = Time(123_456_789_000);
        assert_eq!(m.head(t), m.head(t));
        // Velocity matches the finite difference of the closed form.
        let dt = 1e-3;
        let (a, v) = m.head(t);
        let (b, _) = m.head(Time(t.0 + 1_000_000));
        let fd = (b.position - a.position) / dt;
        assert!((fd - v.linear).length() < 1e-3, "{fd} vs {}", v.linear);
        let other = Motion {
            kind: MotionKind::Scripted { seed: 8 },
        };
        assert_ne!(m.head(t).0, other.head(t).0);
    }

    #[test]
    fn display_matches_spec() {
        let d = display_info();
        assert_eq!((d.width_per_eye, d.height_per_eye), (2064, 2208));
        assert!((d.ipd() - 0.063).abs() < 1e-6);
        assert_eq!(d.refresh_rates_hz, vec![90.0, 72.0, 120.0]);
    }

    #[test]
    fn controls_feed_inputs() {
        let b = SimulatedBuilder::new(MotionKind::Static);
        let sys = b.open().unwrap();
        b.controls
            .set(1, "input/trigger/value", InputValue::Float(0.75))
            .unwrap();
        let dev = &sys.devices[1];
        let mut vals = vec![None; dev.description().inputs.len()];
        dev.read_inputs(&mut vals).unwrap();
        let i = dev
            .description()
            .inputs
            .iter()
            .position(|c| c.path == "input/trigger/value")
            .unwrap();
        assert_eq!(vals[i], Some(InputValue::Float(0.75)));
        assert!(b
            .controls
            .set(0, "input/a/click", InputValue::Boolean(true))
            .is_err());
    }

    #[test]
    fn controllers_report_hand_joints_around_their_grip() {
        let b = SimulatedBuilder::new(MotionKind::Static);
        let sys = b.open().unwrap();
        let right = &sys.devices[1];
        assert!(right.description().capabilities.hand_tracking);
        let t = Time::now();
        let j = right.hand_joints(Hand::Right, t).unwrap();
        assert!(j.active);
        let grip = right.pose("input/grip/pose", t).unwrap().pose;
        let wrist = grip.mul(&grip_from_wrist());
        assert!((j.joints[1].pose.position - wrist.position).length() < 1e-5);
        // The other hand is not this controller's.
        assert!(matches!(
            right.hand_joints(Hand::Left, t),
            Err(DriverError::InvalidArgument(_))
        ));
        // Pulling the trigger curls the index finger: its tip comes closer to the wrist.
        let tip = |j: &HandJoints| {
            j.joints[10]
                .pose
                .position
                .distance(j.joints[1].pose.position)
        };
        let before = tip(&j);
        b.controls
            .set(1, "input/trigger/value", InputValue::Float(1.0))
            .unwrap();
        let after = tip(&right.hand_joints(Hand::Right, t).unwrap());
        assert!(after < before - 0.03, "index tip {before} -> {after}");
    }
}
