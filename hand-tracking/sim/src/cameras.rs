//! A headset whose cameras see the hands: wraps a driver's headset so that
//! its camera streams show the hands the driver's other devices report
//! (the simulated controllers' kinematic hands: the ground truth), rendered
//! from the head pose at each frame's time. Used with the simulated headset
//! to run camera hand tracking end to end (`PARALLAX_SIM_CAMERAS=rendered`).

use crate::gpu::{RenderError, Renderer};
use crate::{hand_capsules, Background, GrayImage, Scene};
use glam::Vec3;
use parallax_hand_tracking::stereo::Camera;
use parallax_sdk::types::{
    Battery, BodyJoints, CameraFrame, DisplayInfo, EyeGaze, FaceExpressions, Hand, HandJoints,
    PixelFormat, Pose, Time, TrackedPose, HAND_JOINT_COUNT,
};
use parallax_sdk::{
    Device, DeviceDescription, DeviceRole, DriverError, Hmd, InputValue, SystemDevices, Vibration,
};
use parking_lot::Mutex;
use std::sync::Arc;

/// Skin tones of the rendered left and right hands.
const SKIN: [f32; 2] = [0.62, 0.7];

struct Rendered {
    sequence: u64,
    time: Time,
    images: Vec<GrayImage>,
}

/// The wrapped headset.
pub struct RenderedCameras {
    inner: Arc<dyn Hmd>,
    hands: Vec<(Hand, Arc<dyn Device>)>,
    renderer: Mutex<Renderer>,
    cameras: Vec<Camera>,
    fps: f64,
    start: Time,
    last: Mutex<Option<Rendered>>,
}

impl RenderedCameras {
    /// The system with its headset's cameras showing its hands. Fails when
    /// the headset has no cameras or no GPU adapter (lavapipe counts) opens.
    pub fn wrap(mut system: SystemDevices) -> Result<SystemDevices, RenderError> {
        let desc = system.hmd.description();
        if desc.cameras.is_empty() {
            return Err(RenderError::Readback(format!(
                "{} has no cameras to render into",
                desc.name
            )));
        }
        let hands = system
            .devices
            .iter()
            .filter(|d| d.description().capabilities.hand_tracking)
            .filter_map(|d| match d.description().role {
                DeviceRole::LeftHand => Some((Hand::Left, d.clone())),
                DeviceRole::RightHand => Some((Hand::Right, d.clone())),
                _ => None,
            })
            .collect::<Vec<_>>();
        tracing::info!(
            cameras = desc.cameras.len(),
            hands = hands.len(),
            "simulated cameras render the hands"
        );
        let fps = desc.cameras.iter().map(|c| c.fps).fold(f32::MAX, f32::min) as f64;
        let wrapped = RenderedCameras {
            cameras: desc.cameras.iter().map(Camera::from).collect(),
            inner: system.hmd.clone(),
            hands,
            renderer: Mutex::new(Renderer::new()?),
            fps: if fps.is_finite() && fps > 0.0 {
                fps
            } else {
                30.0
            },
            start: Time::now(),
            last: Mutex::new(None),
        };
        system.hmd = Arc::new(wrapped);
        Ok(system)
    }

    /// Renders every camera for frame `sequence` (all cameras expose at once).
    fn render(&self, sequence: u64) -> Result<Rendered, DriverError> {
        let time = Time(self.start.0 + (sequence as f64 * 1e9 / self.fps) as i64);
        let head = self.inner.pose("head", time)?.pose;
        let head_from_stage = head.inverse();
        let mut capsules = Vec::new();
        for (group, (hand, dev)) in self.hands.iter().enumerate() {
            let joints: HandJoints = match dev.hand_joints(*hand, time) {
                Ok(j) if j.active => j,
                _ => continue,
            };
            let local: [(Pose, f32); HAND_JOINT_COUNT] = std::array::from_fn(|i| {
                (
                    head_from_stage.mul(&joints.joints[i].pose),
                    joints.joints[i].radius,
                )
            });
            let skin = SKIN[usize::from(*hand == Hand::Right)];
            capsules.extend(hand_capsules(&local, skin, group as u32));
        }
        let scene = Scene {
            capsules,
            light: Vec3::new(0.2, 0.8, 0.6),
            ambient: 0.3,
            background: Background::Gradient {
                top: 0.3,
                bottom: 0.1,
            },
            noise: 0.03,
            seed: sequence as u32,
        };
        let renderer = self.renderer.lock();
        let images = self
            .cameras
            .iter()
            .map(|c| renderer.render(&scene, c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DriverError::Internal(e.to_string()))?;
        Ok(Rendered {
            sequence,
            time,
            images,
        })
    }
}

impl Device for RenderedCameras {
    fn description(&self) -> &DeviceDescription {
        self.inner.description()
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        self.inner.pose(component, at)
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        self.inner.read_inputs(values)
    }

    fn set_vibration(&self, output: &str, vibration: Option<Vibration>) -> Result<(), DriverError> {
        self.inner.set_vibration(output, vibration)
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    // The description (capabilities included) is the wrapped headset's, so
    // its optional streams pass through.
    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        self.inner.hand_joints(hand, at)
    }

    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        self.inner.eye_gaze(at)
    }

    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        self.inner.face_expressions(at)
    }

    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        self.inner.body_joints(at)
    }

    fn battery(&self) -> Result<Battery, DriverError> {
        self.inner.battery()
    }

    /// The newest frame set's image for this camera (rendering takes time,
    /// so frames are skipped; `sequence` says which).
    fn camera_frame(&self, index: usize, frame: &mut CameraFrame) -> Result<bool, DriverError> {
        if index >= self.cameras.len() {
            return Err(DriverError::InvalidArgument(format!(
                "camera {index} of {}",
                self.cameras.len()
            )));
        }
        let elapsed = (Time::now().0 - self.start.0).max(0) as f64 * 1e-9;
        let sequence = (elapsed * self.fps) as u64;
        let mut last = self.last.lock();
        // All cameras expose together: a new set is rendered only when this
        // camera already has the current one (rendering takes long enough
        // that the clock moves on between the cameras' calls).
        let has_current = last
            .as_ref()
            .is_some_and(|r| frame.format.is_some() && frame.sequence == r.sequence);
        if last.is_none() || (has_current && last.as_ref().is_some_and(|r| r.sequence < sequence)) {
            *last = Some(self.render(sequence)?);
        }
        let Some(r) = last.as_ref() else {
            return Ok(false);
        };
        if frame.format.is_some() && frame.sequence == r.sequence {
            return Ok(false);
        }
        let img = &r.images[index];
        frame.time = r.time;
        frame.sequence = r.sequence;
        frame.width = img.width;
        frame.height = img.height;
        frame.stride = img.width;
        frame.format = Some(PixelFormat::Gray8);
        frame.data.clear();
        frame.data.extend_from_slice(&img.pixels);
        Ok(true)
    }
}

impl Hmd for RenderedCameras {
    fn display(&self) -> &DisplayInfo {
        self.inner.display()
    }

    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError> {
        self.inner.set_refresh_rate(hz)
    }

    fn refresh_rate(&self) -> f32 {
        self.inner.refresh_rate()
    }
}
