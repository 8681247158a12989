//! The device hub: the one place the state tracker gets poses, inputs and
//! display facts from. It owns the opened driver system, sanitises what the
//! driver returns (once, at this boundary) and logs each kind of bad data
//! once. Its methods are plain calls that could be messages, so the
//! out-of-process service changes the transport, not this interface.

use crate::camera_hands::CameraHands;
use crate::config::{Config, HandSource};
use parallax_driver_simulated::SimulatedBuilder;
use parallax_sdk::sanitize;
use parallax_sdk::types::{DisplayInfo, Duration, Hand, HandJoints, Time, TrackedPose};
use parallax_sdk::{
    Builder, Device, DeviceRole, DriverError, Estimate, Hmd, InputValue, SystemDevices, Vibration,
};
use parallax_sdk_abi::discovery;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where a driver came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    BuiltIn,
    Manifest(PathBuf),
    Library(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => write!(f, "built in"),
            Origin::Manifest(p) => write!(f, "manifest {}", p.display()),
            Origin::Library(p) => write!(f, "library {}", p.display()),
        }
    }
}

/// One driver the survey found.
pub struct Candidate {
    pub name: String,
    pub origin: Origin,
    pub library: Option<PathBuf>,
    pub description: Option<String>,
    /// The loaded driver and its estimate, or why it cannot be used.
    pub usable: Result<(Box<dyn Builder>, Estimate), String>,
    /// Why it was chosen or passed over (filled by the selection).
    pub verdict: String,
}

/// Every driver found, and which one the configuration selects.
pub struct Survey {
    pub candidates: Vec<Candidate>,
    pub chosen: Option<usize>,
    /// Why nothing was chosen, when nothing was.
    pub problem: Option<String>,
}

/// Finds every driver (the built-in simulated headset first, then the
/// discovered libraries) and selects one: the one `PARALLAX_DRIVER` names,
/// else the highest estimate score among those offering a headset (the
/// first found wins a tie).
pub fn survey(config: &Config) -> Survey {
    let mut sim = SimulatedBuilder::new(config.sim_motion);
    sim.controllers = config.sim_controllers;
    sim.disconnect_after = config
        .sim_disconnect_after_ms
        .map(|ms| Duration::from_nanos(ms as i64 * 1_000_000));
    let sim_estimate = sim.estimate();
    let mut candidates = vec![Candidate {
        name: "simulated".into(),
        origin: Origin::BuiltIn,
        library: None,
        description: Some("the built-in simulated headset and controllers".into()),
        usable: Ok((Box::new(sim), sim_estimate)),
        verdict: String::new(),
    }];
    let driver_path = config.driver_path.clone();
    let env = move |k: &str| {
        if k == "PARALLAX_DRIVER_PATH" {
            driver_path.clone()
        } else {
            std::env::var(k).ok()
        }
    };
    for f in discovery::discover(&env) {
        let origin = match &f.manifest {
            Some(m) => Origin::Manifest(m.clone()),
            None => Origin::Library(f.library.clone().unwrap_or_default()),
        };
        let usable = f.outcome.map(|b| {
            let e = b.estimate();
            (Box::new(b) as Box<dyn Builder>, e)
        });
        let usable = match usable {
            Ok(_)
                if candidates
                    .iter()
                    .any(|c| c.name == f.name && c.usable.is_ok()) =>
            {
                Err(format!(
                    "shadowed: a driver named {:?} was found first",
                    f.name
                ))
            }
            other => other,
        };
        candidates.push(Candidate {
            name: f.name,
            origin,
            library: f.library,
            description: f.description,
            usable,
            verdict: String::new(),
        });
    }
    let mut chosen = None;
    let mut problem = None;
    if let Some(want) = &config.driver {
        match candidates.iter().position(|c| &c.name == want) {
            None => {
                problem = Some(format!(
                    "PARALLAX_DRIVER={want}: no driver of that name was found"
                ))
            }
            Some(i) => match &candidates[i].usable {
                Err(e) => problem = Some(format!("PARALLAX_DRIVER={want}: {e}")),
                Ok((_, e)) if !e.hmd => {
                    problem = Some(format!(
                        "PARALLAX_DRIVER={want}: it offers no head-mounted display now"
                    ))
                }
                Ok(_) => chosen = Some(i),
            },
        }
    } else {
        let mut best: Option<(usize, u32)> = None;
        for (i, c) in candidates.iter().enumerate() {
            if let Ok((_, e)) = &c.usable {
                if e.hmd && best.is_none_or(|(_, s)| e.score > s) {
                    best = Some((i, e.score));
                }
            }
        }
        chosen = best.map(|(i, _)| i);
        if chosen.is_none() {
            problem = Some("no driver offers a head-mounted display".into());
        }
    }
    for (i, c) in candidates.iter_mut().enumerate() {
        c.verdict = match (&c.usable, chosen) {
            (Err(e), _) => format!("skipped: {e}"),
            (Ok(_), Some(k)) if k == i => match &config.driver {
                Some(_) => "chosen: named by PARALLAX_DRIVER".into(),
                None => "chosen: highest estimate score".into(),
            },
            (Ok((_, e)), _) if !e.hmd => "skipped: offers no head-mounted display now".into(),
            (Ok(_), Some(_)) if config.driver.is_some() => {
                "not chosen: PARALLAX_DRIVER names another".into()
            }
            (Ok(_), Some(_)) => "not chosen: a higher (or earlier equal) score won".into(),
            (Ok(_), None) => "not chosen".into(),
        };
    }
    Survey {
        candidates,
        chosen,
        problem,
    }
}

/// Key of a "log once" cause: device, component, what went wrong.
type WarnKey = (DeviceIndex, String, String);

/// The opened devices.
pub struct DeviceHub {
    system: SystemDevices,
    driver: String,
    warned: Mutex<HashSet<WarnKey>>,
    /// Newest sample time returned per (device, pose component).
    last_sample: Mutex<Vec<(DeviceIndex, String, Time)>>,
    /// Set when the headset's driver failed for good (lost, or failed
    /// inside): the session goes to LOSS_PENDING.
    hmd_failed: AtomicBool,
    /// Devices marked inactive after their driver failed (lost or failed inside).
    inactive: Mutex<HashSet<DeviceIndex>>,
    /// Where hands come from (`PARALLAX_HANDS`).
    hands: HandSource,
    /// Hand tracking from the headset's cameras, when running.
    camera_hands: Option<CameraHands>,
}

/// Index of a device: 0 is the HMD, 1.. the other devices.
pub type DeviceIndex = usize;

/// One hand's joints and where they came from.
#[derive(Copy, Clone, Debug)]
pub struct HandSample {
    pub joints: HandJoints,
    /// The source is a controller held in that hand (its joints are the
    /// hand around it, so a controller-conforming range applies).
    pub held_controller: bool,
}

impl DeviceHub {
    /// Surveys the drivers and opens the selected one.
    pub fn open(config: &Config) -> Result<Self, DriverError> {
        let mut survey = survey(config);
        for c in &survey.candidates {
            tracing::debug!(driver = %c.name, origin = %c.origin, "{}", c.verdict);
        }
        let Some(i) = survey.chosen else {
            return Err(DriverError::OpenFailed(
                survey.problem.unwrap_or_else(|| "no driver".into()),
            ));
        };
        let chosen = survey.candidates.swap_remove(i);
        let (builder, _) = chosen.usable.map_err(DriverError::OpenFailed)?;
        let mut system = builder.open()?;
        if config.sim_cameras_rendered {
            match parallax_hand_sim::cameras::RenderedCameras::wrap(system.clone()) {
                Ok(s) => system = s,
                Err(e) => tracing::warn!("PARALLAX_SIM_CAMERAS=rendered: {e}; cameras unchanged"),
            }
        }
        if let Some(hz) = config.refresh_hz {
            if let Err(e) = system.hmd.set_refresh_rate(hz) {
                tracing::warn!(
                    "PARALLAX_REFRESH_HZ={hz}: {e}; keeping {} Hz",
                    system.hmd.refresh_rate()
                );
            }
        }
        tracing::info!(driver = builder.name(), origin = %chosen.origin, system = %system.system_name, "opened device system");
        let mut hub = Self::from_system(system, builder.name());
        hub.hands = config.hands;
        let devices_track = hub.devices_track_hands();
        let want_cameras = match config.hands {
            HandSource::Cameras => true,
            HandSource::Auto => !devices_track && hub.hmd().description().cameras.len() >= 2,
            HandSource::Devices | HandSource::Off => false,
        };
        if want_cameras {
            match CameraHands::start(hub.hmd().clone()) {
                Ok(c) => hub.camera_hands = Some(c),
                Err(e) if config.hands == HandSource::Cameras => {
                    tracing::warn!("PARALLAX_HANDS=cameras: {e}; no hand tracking")
                }
                Err(e) => tracing::info!("no hand tracking from the cameras: {e}"),
            }
        }
        Ok(hub)
    }

    /// A hub over an already opened system (tests, tools).
    pub fn from_system(system: SystemDevices, driver: &str) -> Self {
        Self {
            system,
            driver: driver.to_string(),
            warned: Mutex::new(HashSet::new()),
            last_sample: Mutex::new(Vec::new()),
            hmd_failed: AtomicBool::new(false),
            inactive: Mutex::new(HashSet::new()),
            hands: HandSource::Devices,
            camera_hands: None,
        }
    }

    /// Keyboard and mouse controls the driver offers the desktop window.
    pub fn desktop_controls(&self) -> Option<parallax_sdk::types::DesktopControls> {
        self.system.desktop_input.clone()
    }

    /// The name of the driver in use.
    pub fn driver_name(&self) -> &str {
        &self.driver
    }

    pub fn system_name(&self) -> &str {
        &self.system.system_name
    }

    pub fn vendor_id(&self) -> u32 {
        self.system.vendor_id
    }

    pub fn hmd(&self) -> &Arc<dyn Hmd> {
        &self.system.hmd
    }

    pub fn display(&self) -> &DisplayInfo {
        self.system.hmd.display()
    }

    pub fn play_area(&self) -> Option<parallax_sdk::types::PlayArea> {
        self.system.play_area
    }

    /// Whether the headset is there: connected, and its driver has not failed.
    pub fn is_connected(&self) -> bool {
        !self.hmd_failed.load(Ordering::Relaxed) && self.system.hmd.is_connected()
    }

    /// Whether a device can be used now (connected, its driver not failed).
    pub fn is_active(&self, index: DeviceIndex) -> bool {
        if index == 0 {
            return self.is_connected();
        }
        !self.inactive.lock().contains(&index)
            && self.device(index).is_some_and(|d| d.is_connected())
    }

    fn warn_once(&self, index: DeviceIndex, component: &str, cause: String, message: String) {
        if self
            .warned
            .lock()
            .insert((index, component.to_string(), cause))
        {
            tracing::warn!("{message}");
        }
    }

    /// Handles a driver error: a lost or internally failed headset loses
    /// the session; such a device becomes inactive; other errors are logged
    /// once per cause.
    fn driver_failed(&self, index: DeviceIndex, component: &str, e: &DriverError) {
        let name = self
            .device(index)
            .map(|d| d.description().name.clone())
            .unwrap_or_default();
        match e {
            DriverError::Disconnected => {}
            DriverError::Lost(_) | DriverError::Internal(_) => {
                if index == 0 {
                    if !self.hmd_failed.swap(true, Ordering::Relaxed) {
                        tracing::error!("{name}: driver failed ({e}); the headset is lost");
                    }
                } else if self.inactive.lock().insert(index) {
                    tracing::error!("{name}: driver failed ({e}); device marked inactive");
                }
            }
            other => {
                let cause = format!("{:?}", std::mem::discriminant(other));
                self.warn_once(
                    index,
                    component,
                    cause,
                    format!("{name} {component}: {other}"),
                );
            }
        }
    }

    fn device(&self, index: DeviceIndex) -> Option<&dyn Device> {
        if index == 0 {
            Some(&*self.system.hmd as &dyn Device)
        } else {
            self.system.devices.get(index - 1).map(|d| &**d)
        }
    }

    /// Devices other than the HMD, with their indices.
    pub fn devices(&self) -> impl Iterator<Item = (DeviceIndex, &Arc<dyn Device>)> {
        self.system
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (i + 1, d))
    }

    /// The device that feeds a top-level user path.
    pub fn device_for_user_path(&self, user_path: &str) -> Option<DeviceIndex> {
        self.devices()
            .find(|(_, d)| d.description().role.user_path() == Some(user_path))
            .map(|(i, _)| i)
    }

    pub fn description(&self, index: DeviceIndex) -> Option<&parallax_sdk::DeviceDescription> {
        self.device(index).map(|d| d.description())
    }

    /// A sanitised pose of a device component, predicted to `at`.
    pub fn pose(&self, index: DeviceIndex, component: &str, at: Time) -> Option<TrackedPose> {
        if index != 0 && self.inactive.lock().contains(&index) {
            return None;
        }
        if index == 0 && self.hmd_failed.load(Ordering::Relaxed) {
            return None;
        }
        let dev = self.device(index)?;
        // The driver is asked under the sample-time lock: two threads asking
        // at once must not see each other's newer sample as "backwards".
        let mut last = self.last_sample.lock();
        match dev.pose(component, at) {
            Ok(p) => {
                let slot = last
                    .iter()
                    .position(|(i, c, _)| *i == index && c == component);
                let prev = slot.map(|s| last[s].2);
                match sanitize::tracked_pose(p, prev) {
                    Ok(p) => {
                        match slot {
                            Some(s) => last[s].2 = p.time,
                            None => last.push((index, component.to_string(), p.time)),
                        }
                        Some(p)
                    }
                    Err(r) => {
                        drop(last);
                        let name = &dev.description().name;
                        self.warn_once(
                            index,
                            component,
                            format!("{:?}", r.cause),
                            format!("{name} {component}: rejected pose: {r}"),
                        );
                        None
                    }
                }
            }
            Err(e) => {
                drop(last);
                self.driver_failed(index, component, &e);
                None
            }
        }
    }

    /// The head pose (`stage_from_head`) predicted to `at`.
    pub fn head(&self, at: Time) -> Option<TrackedPose> {
        self.pose(0, "head", at)
    }

    /// Reads a device's non-pose inputs into `out` (one slot per input of its
    /// description, `None` where the value is missing or was rejected),
    /// reusing the buffer: this runs on every `xrSyncActions`.
    pub fn read_inputs(&self, index: DeviceIndex, out: &mut Vec<Option<InputValue>>) {
        out.clear();
        let Some(dev) = self.device(index) else {
            return;
        };
        let desc = dev.description();
        out.resize(desc.inputs.len(), None);
        if index != 0 && self.inactive.lock().contains(&index) {
            return;
        }
        if let Err(e) = dev.read_inputs(out) {
            out.iter_mut().for_each(|v| *v = None);
            self.driver_failed(index, "inputs", &e);
            return;
        }
        for (slot, c) in out.iter_mut().zip(&desc.inputs) {
            if let Some(v) = *slot {
                *slot = match sanitize::input(v) {
                    Ok(v) => Some(v),
                    Err(r) => {
                        self.warn_once(
                            index,
                            &c.path,
                            format!("{:?}", r.cause),
                            format!("{} {}: rejected input: {r}", desc.name, c.path),
                        );
                        None
                    }
                };
            }
        }
    }

    /// Whether a device reports hand joints itself (controllers, gloves, a
    /// headset that tracks hands in its driver).
    fn devices_track_hands(&self) -> bool {
        std::iter::once(0)
            .chain(self.devices().map(|(i, _)| i))
            .any(|i| {
                self.device(i)
                    .is_some_and(|d| d.description().capabilities.hand_tracking)
            })
    }

    /// Whether this system can report hands (`PARALLAX_HANDS` decides from
    /// which sources).
    pub fn supports_hand_tracking(&self) -> bool {
        match self.hands {
            HandSource::Off => false,
            HandSource::Devices => self.devices_track_hands(),
            HandSource::Cameras => self.camera_hands.is_some(),
            HandSource::Auto => self.devices_track_hands() || self.camera_hands.is_some(),
        }
    }

    /// The first device (the headset first) that tracks the eyes.
    fn eye_tracker(&self) -> Option<DeviceIndex> {
        self.first_with(|c| c.eye_gaze)
    }

    /// The first device (the headset first) whose capabilities pass `has`.
    fn first_with(&self, has: impl Fn(&parallax_sdk::Capabilities) -> bool) -> Option<DeviceIndex> {
        std::iter::once(0)
            .chain(self.devices().map(|(i, _)| i))
            .find(|&i| {
                self.device(i)
                    .is_some_and(|d| has(&d.description().capabilities))
            })
    }

    /// The first device (the headset first) that tracks the face.
    fn face_tracker(&self) -> Option<DeviceIndex> {
        self.first_with(|c| c.face_expressions)
    }

    /// Whether a device reports face expressions (`XR_FB_face_tracking2`,
    /// visual data source).
    pub fn supports_face_tracking(&self) -> bool {
        self.face_tracker().is_some()
    }

    /// The face expression weights (ARKit order) at `at`, checked; `None`
    /// when no device tracks the face, it is not active, or it failed or
    /// sent weights out of range (logged once per cause).
    pub fn face_expressions(&self, at: Time) -> Option<parallax_sdk::types::FaceExpressions> {
        let index = self.face_tracker()?;
        let dev = self.device(index)?;
        if !self.is_active(index) {
            return None;
        }
        let f = match dev.face_expressions(at) {
            Ok(f) => f,
            Err(DriverError::Unsupported) => return None,
            Err(e) => {
                self.driver_failed(index, "face expressions", &e);
                return None;
            }
        };
        match sanitize::face_expressions(f) {
            Ok(f) => Some(f),
            Err(r) => {
                self.warn_once(
                    index,
                    "face expressions",
                    format!("{:?}", r.cause),
                    format!("{} face expressions: rejected: {r}", dev.description().name),
                );
                None
            }
        }
    }

    /// The first device (the headset first) that tracks the body.
    fn body_tracker(&self) -> Option<DeviceIndex> {
        self.first_with(|c| c.body_tracking)
    }

    /// Whether a device reports the upper body (`XR_FB_body_tracking`).
    pub fn supports_body_tracking(&self) -> bool {
        self.body_tracker().is_some()
    }

    /// The upper body (stage) predicted to `at`, checked; `None` when no
    /// device tracks the body, it is not active, or it failed or sent a
    /// garbage joint (logged once per cause).
    pub fn body_joints(&self, at: Time) -> Option<parallax_sdk::types::BodyJoints> {
        let index = self.body_tracker()?;
        let dev = self.device(index)?;
        if !self.is_active(index) {
            return None;
        }
        let b = match dev.body_joints(at) {
            Ok(b) => b,
            Err(DriverError::Unsupported) => return None,
            Err(e) => {
                self.driver_failed(index, "body joints", &e);
                return None;
            }
        };
        match sanitize::body_joints(b) {
            Ok(b) => Some(b),
            Err(r) => {
                self.warn_once(
                    index,
                    "body joints",
                    format!("{:?}", r.cause),
                    format!("{} body joints: rejected: {r}", dev.description().name),
                );
                None
            }
        }
    }

    /// Whether a device reports eye gaze (`XR_EXT_eye_gaze_interaction`).
    pub fn supports_eye_gaze(&self) -> bool {
        self.eye_tracker().is_some()
    }

    /// The combined eye gaze in the stage (`stage_from_gaze`, looking down
    /// -Z) predicted to `at`, and whether it is tracked now.
    pub fn eye_gaze(&self, at: Time) -> Option<(parallax_sdk::types::Pose, bool)> {
        let index = self.eye_tracker()?;
        let dev = self.device(index)?;
        if !self.is_active(index) {
            return None;
        }
        let g = match dev.eye_gaze(at) {
            Ok(g) => g,
            Err(DriverError::Unsupported) => return None,
            Err(e) => {
                self.driver_failed(index, "eye gaze", &e);
                return None;
            }
        };
        let gaze = match sanitize::pose(g.gaze) {
            Ok(p) => p,
            Err(r) => {
                self.warn_once(
                    index,
                    "eye gaze",
                    format!("{:?}", r.cause),
                    format!("{} eye gaze: rejected: {r}", dev.description().name),
                );
                return None;
            }
        };
        let head = self.head(at)?;
        let tracked = g.valid && head.orientation_tracked && head.position_tracked;
        Some((head.pose.mul(&gaze), tracked))
    }

    /// Whether someone wears the headset, where the system can tell. Drivers
    /// that simulate a headset (they take desktop input) simulate a wearer
    /// who never takes it off; hardware drivers have no proximity stream in
    /// the driver ABI yet, so their systems do not report presence.
    pub fn user_present(&self) -> Option<bool> {
        self.system.desktop_input.as_ref().map(|_| true)
    }

    /// The camera tracker, when it runs.
    pub fn camera_hands(&self) -> Option<&CameraHands> {
        self.camera_hands.as_ref()
    }

    /// A hand's sanitised joints predicted to `at`, or `None` when nothing
    /// tracks that hand now. Sources in order: a device held in that hand
    /// (a controller or glove), then the headset's driver, then any other
    /// device, then the camera tracker; the first that reports the hand
    /// active wins (`PARALLAX_HANDS` can limit this to devices or cameras).
    pub fn hand_joints(&self, hand: Hand, at: Time) -> Option<HandSample> {
        let from_cameras = || {
            let joints = self.camera_hands.as_ref()?.hand_joints(hand, at)?;
            Some(HandSample {
                joints,
                held_controller: false,
            })
        };
        match self.hands {
            HandSource::Off => return None,
            HandSource::Cameras => return from_cameras(),
            HandSource::Devices | HandSource::Auto => {}
        }
        self.hand_joints_from_devices(hand, at)
            .or_else(from_cameras)
    }

    fn hand_joints_from_devices(&self, hand: Hand, at: Time) -> Option<HandSample> {
        let role = match hand {
            Hand::Left => DeviceRole::LeftHand,
            Hand::Right => DeviceRole::RightHand,
        };
        // Held devices first, then the headset, then the rest (no allocation:
        // this runs on every xrLocateHandJointsEXT).
        let is_held =
            |i: DeviceIndex| i != 0 && self.description(i).is_some_and(|d| d.role == role);
        let all = || std::iter::once(0).chain(self.devices().map(|(i, _)| i));
        let order = all()
            .filter(|i| is_held(*i))
            .chain(all().filter(|i| !is_held(*i)));
        for index in order {
            let Some(dev) = self.device(index) else {
                continue;
            };
            let desc = dev.description();
            if !desc.capabilities.hand_tracking || !self.is_active(index) {
                continue;
            }
            match dev.hand_joints(hand, at) {
                Ok(j) => match sanitize::hand_joints(j) {
                    Ok(joints) if joints.active => {
                        return Some(HandSample {
                            joints,
                            held_controller: is_held(index)
                                && desc.inputs.iter().any(|c| c.path == "input/grip/pose"),
                        })
                    }
                    Ok(_) => {}
                    Err(r) => self.warn_once(
                        index,
                        "hand joints",
                        format!("{:?}", r.cause),
                        format!("{} hand joints: rejected: {r}", desc.name),
                    ),
                },
                // A device that tracks only the other hand.
                Err(DriverError::InvalidArgument(_) | DriverError::Unsupported) => {}
                Err(e) => self.driver_failed(index, "hand joints", &e),
            }
        }
        None
    }

    /// Starts or stops a vibration.
    pub fn vibrate(&self, index: DeviceIndex, output: &str, v: Option<Vibration>) {
        if let Some(dev) = self.device(index) {
            if let Err(e) = dev.set_vibration(output, v) {
                self.driver_failed(index, output, &e);
            }
        }
    }
}
