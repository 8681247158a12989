//! The host side: loads a vendor driver library, negotiates the ABI and
//! wraps it as an ordinary [`Builder`], so the runtime cannot tell a C
//! driver from a built-in Rust one.
//!
//! Everything the library returns is validated here before it becomes a
//! Rust value (strings, enumerations, counts, display geometry); poses and
//! inputs are sanitised by the runtime's device hub like any driver's.
#![allow(unsafe_code)]

use crate::conv::*;
use crate::ffi::*;
use parallax_sdk::types::{
    Battery, BodyJoints, CameraFrame, DisplayInfo, EyeGaze, FaceExpressions, Hand, HandJoints,
    PlayArea, Time, TrackedPose,
};
use parallax_sdk::{
    Builder, Capabilities, Device, DeviceDescription, DriverError, Estimate, Hmd, InputComponent,
    InputKind, InputValue, OutputComponent, SystemDevices, Vibration,
};
use parking_lot::Mutex;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a driver library could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("cannot load {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{0} does not export parallax_driver_negotiate")]
    MissingSymbol(String),
    #[error("negotiation failed: {0}")]
    Negotiation(String),
    #[error("driver ABI {driver} is incompatible with host ABI {host} (major versions differ)")]
    IncompatibleAbi { driver: String, host: String },
    #[error("wrong vtable: {0}")]
    BadVtable(String),
    #[error("vtable struct_size {size} is smaller than the ABI 1.0 minimum {min}")]
    VtableTooSmall { size: u32, min: u32 },
    #[error("required function `{0}` is NULL")]
    MissingFunction(&'static str),
    #[error("invalid driver name: {0}")]
    BadName(String),
}

fn version_string(v: u32) -> String {
    format!("{}.{}", v >> 16, v & 0xffff)
}

/// Logs what a driver reports through `PxHostInfo::log`.
unsafe extern "C" fn host_log(level: i32, message: *const c_char) {
    let _ = std::panic::catch_unwind(|| {
        if message.is_null() {
            return;
        }
        // SAFETY: the driver passes a NUL-terminated string valid for the call.
        let msg = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        match level {
            PX_LOG_ERROR => tracing::error!(target: "parallax_driver", "{msg}"),
            PX_LOG_WARN => tracing::warn!(target: "parallax_driver", "{msg}"),
            PX_LOG_INFO => tracing::info!(target: "parallax_driver", "{msg}"),
            _ => tracing::debug!(target: "parallax_driver", "{msg}"),
        }
    });
}

/// A loaded library with its negotiated context.
struct Library {
    vt: PxDriverVtable,
    ctx: *mut c_void,
    /// Serialises `open`, `close` and `destroy`; true while open.
    open: Mutex<bool>,
    name: String,
    abi_version: u32,
    path: PathBuf,
    /// Declared last: the library is unloaded after `destroy` ran in `drop`.
    _lib: libloading::Library,
}

// SAFETY: the ABI requires every driver function to be callable from any
// thread, concurrently (open/close/destroy are serialised by `open`); the
// context pointer is only ever handed back to the driver.
unsafe impl Send for Library {}
// SAFETY: as above.
unsafe impl Sync for Library {}

impl Drop for Library {
    fn drop(&mut self) {
        let mut open = self.open.lock();
        if *open {
            if let Some(close) = self.vt.close {
                // SAFETY: `ctx` came from this library's negotiate; close is
                // serialised by the lock.
                unsafe { close(self.ctx) };
            }
            *open = false;
        }
        if let Some(destroy) = self.vt.destroy {
            // SAFETY: as above; nothing calls into the context afterwards.
            unsafe { destroy(self.ctx) };
        }
    }
}

/// Calls a vtable function, turning its result code into a `Result`.
macro_rules! call {
    ($lib:expr, $f:ident, $what:expr $(, $arg:expr)*) => {{
        match $lib.vt.$f {
            // SAFETY: the function pointer came from the driver's vtable and
            // is called with its own context and arguments that are valid for
            // the call, as the ABI specifies.
            Some(f) => match error_from(unsafe { f($lib.ctx $(, $arg)*) }, $what) {
                None => Ok(()),
                Some(e) => Err(e),
            },
            None => Err(DriverError::Unsupported),
        }
    }};
}

/// A driver library, negotiated and ready to estimate and open.
#[derive(Clone)]
pub struct AbiBuilder {
    lib: Arc<Library>,
}

impl std::fmt::Debug for AbiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbiBuilder")
            .field("name", &self.lib.name)
            .field("path", &self.lib.path)
            .finish()
    }
}

/// Loads a driver library and negotiates the ABI with it.
pub fn load(path: &Path, config_json: Option<&str>) -> Result<AbiBuilder, LoadError> {
    let shown = path.display().to_string();
    // SAFETY: loading a library runs its initialisers; a driver library is
    // trusted code the user installed (as any OpenXR runtime trusts its
    // drivers). The out-of-process service will isolate it.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| LoadError::Open {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    // SAFETY: the symbol is declared by the ABI with exactly this type.
    let negotiate: PxNegotiateFn = unsafe {
        *lib.get::<PxNegotiateFn>(b"parallax_driver_negotiate\0")
            .map_err(|_| LoadError::MissingSymbol(shown.clone()))?
    };
    let host_name = CString::new(format!("parallax {}", env!("CARGO_PKG_VERSION"))).unwrap();
    let config = config_json
        .map(|c| CString::new(c).map_err(|_| LoadError::Negotiation("config contains NUL".into())))
        .transpose()?;
    let host = PxHostInfo {
        struct_type: PX_STRUCT_HOST_INFO,
        struct_size: std::mem::size_of::<PxHostInfo>() as u32,
        abi_version: PX_ABI_VERSION,
        host_name: host_name.as_ptr(),
        config_json: config.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        log: Some(host_log),
    };
    let mut info = PxDriverInfo {
        struct_type: PX_STRUCT_DRIVER_INFO,
        struct_size: std::mem::size_of::<PxDriverInfo>() as u32,
        abi_version: 0,
        name: [0; 64],
        context: std::ptr::null_mut(),
        vtable: std::ptr::null(),
    };
    // SAFETY: `host` and `info` are valid for the call; the strings they
    // point at outlive it.
    let code = unsafe { negotiate(&host, &mut info) };
    if let Some(e) = error_from(code, "parallax_driver_negotiate") {
        return Err(match PxResult::from_code(code) {
            Some(PxResult::ErrorIncompatibleVersion) => LoadError::IncompatibleAbi {
                driver: "(refused)".into(),
                host: version_string(PX_ABI_VERSION),
            },
            _ => LoadError::Negotiation(e.to_string()),
        });
    }
    if info.abi_version >> 16 != PX_ABI_VERSION_MAJOR {
        return Err(LoadError::IncompatibleAbi {
            driver: version_string(info.abi_version),
            host: version_string(PX_ABI_VERSION),
        });
    }
    let name =
        read_str(&info.name, "driver name").map_err(|e| LoadError::BadName(e.to_string()))?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(LoadError::BadName(format!("{name:?} (use [a-z0-9_-])")));
    }
    if info.vtable.is_null() {
        return Err(LoadError::BadVtable("vtable is NULL".into()));
    }
    // SAFETY: a non-NULL vtable points at the driver's table; its first two
    // fields are common to every version.
    let (ty, size) = unsafe { ((*info.vtable).struct_type, (*info.vtable).struct_size) };
    if ty != PX_STRUCT_DRIVER_VTABLE {
        return Err(LoadError::BadVtable(format!(
            "struct_type {ty:#x}, expected PX_STRUCT_DRIVER_VTABLE"
        )));
    }
    if size < PX_DRIVER_VTABLE_MIN_SIZE {
        return Err(LoadError::VtableTooSmall {
            size,
            min: PX_DRIVER_VTABLE_MIN_SIZE,
        });
    }
    // Copy the fields both sides know; the rest stays NULL (absent).
    let mut vt = std::mem::MaybeUninit::<PxDriverVtable>::zeroed();
    let n = (size as usize).min(std::mem::size_of::<PxDriverVtable>());
    // SAFETY: the driver's table is at least `size` bytes; `n` bytes fit in
    // `vt`; an all-zero PxDriverVtable is valid (integers and NULL
    // `Option<fn>`), and so is any prefix of a valid one over zeros.
    let vt = unsafe {
        std::ptr::copy_nonoverlapping(info.vtable as *const u8, vt.as_mut_ptr() as *mut u8, n);
        vt.assume_init()
    };
    let lib = Library {
        vt,
        ctx: info.context,
        open: Mutex::new(false),
        name,
        abi_version: info.abi_version,
        path: path.to_path_buf(),
        _lib: lib,
    };
    let required: [(&'static str, bool); 14] = [
        ("destroy", vt.destroy.is_some()),
        ("estimate", vt.estimate.is_some()),
        ("open", vt.open.is_some()),
        ("close", vt.close.is_some()),
        ("get_display", vt.get_display.is_some()),
        ("get_device", vt.get_device.is_some()),
        ("get_input", vt.get_input.is_some()),
        ("get_output", vt.get_output.is_some()),
        ("get_pose", vt.get_pose.is_some()),
        ("read_inputs", vt.read_inputs.is_some()),
        ("set_vibration", vt.set_vibration.is_some()),
        ("is_connected", vt.is_connected.is_some()),
        ("get_refresh_rate", vt.get_refresh_rate.is_some()),
        ("set_refresh_rate", vt.set_refresh_rate.is_some()),
    ];
    if let Some((f, _)) = required.iter().find(|(_, present)| !present) {
        // `lib` is dropped here: destroy (if present) runs, then unload.
        return Err(LoadError::MissingFunction(f));
    }
    Ok(AbiBuilder { lib: Arc::new(lib) })
}

impl AbiBuilder {
    /// The ABI version the driver was built against, as `major.minor`.
    pub fn abi_version(&self) -> String {
        version_string(self.lib.abi_version)
    }

    pub fn path(&self) -> &Path {
        &self.lib.path
    }

    /// Byte size of the driver's vtable, for reports.
    pub fn vtable_size(&self) -> u32 {
        self.lib.vt.struct_size
    }

    /// Raw calls for conformance checking (`parallax driver-check`): the
    /// result code exactly as the driver returned it, with none of the
    /// host's own argument checks in front.
    pub fn raw(&self) -> Raw<'_> {
        Raw { lib: &self.lib }
    }

    fn try_estimate(&self) -> Result<Estimate, DriverError> {
        let mut e = PxEstimate::default();
        call!(self.lib, estimate, "estimate", &mut e)?;
        Ok(Estimate {
            hmd: e.has_hmd != 0,
            controllers: e.controllers,
            score: e.score,
        })
    }

    fn describe(&self, index: u32) -> Result<DeviceDescription, DriverError> {
        let lib = &self.lib;
        let mut d = std::mem::MaybeUninit::<PxDeviceInfo>::zeroed();
        call!(lib, get_device, "get_device", index, d.as_mut_ptr())?;
        // SAFETY: zero-initialised and then (possibly) written by the driver;
        // every bit pattern is a valid PxDeviceInfo (integers and arrays).
        let d = unsafe { d.assume_init() };
        if d.input_count > 1024 || d.output_count > 64 || d.camera_count > 16 {
            return Err(DriverError::InvalidData(format!(
                "device {index}: implausible counts ({} inputs, {} outputs, {} cameras)",
                d.input_count, d.output_count, d.camera_count
            )));
        }
        let profile = read_str(&d.interaction_profile, "interaction_profile")?;
        let mut inputs = Vec::with_capacity(d.input_count as usize);
        for i in 0..d.input_count {
            let mut c = std::mem::MaybeUninit::<PxComponent>::zeroed();
            call!(lib, get_input, "get_input", index, i, c.as_mut_ptr())?;
            // SAFETY: as above: any bit pattern is a valid PxComponent.
            let c = unsafe { c.assume_init() };
            inputs.push(InputComponent {
                path: read_str(&c.path, "input path")?,
                kind: kind_from(c.kind)?,
            });
        }
        let mut outputs = Vec::with_capacity(d.output_count as usize);
        for i in 0..d.output_count {
            let mut c = std::mem::MaybeUninit::<PxComponent>::zeroed();
            call!(lib, get_output, "get_output", index, i, c.as_mut_ptr())?;
            // SAFETY: as above.
            let c = unsafe { c.assume_init() };
            outputs.push(OutputComponent {
                path: read_str(&c.path, "output path")?,
            });
        }
        let mut cameras = Vec::new();
        for i in 0..d.camera_count {
            let mut c = std::mem::MaybeUninit::<PxCameraInfo>::zeroed();
            call!(lib, get_camera, "get_camera", index, i, c.as_mut_ptr())?;
            // SAFETY: as above: integers, floats and a char array.
            cameras.push(camera_from(&unsafe { c.assume_init() })?);
        }
        let caps = d.capabilities;
        Ok(DeviceDescription {
            name: read_str(&d.name, "device name")?,
            serial: read_str(&d.serial, "device serial")?,
            role: role_from(d.role)?,
            interaction_profile: (!profile.is_empty()).then_some(profile),
            inputs,
            outputs,
            capabilities: Capabilities {
                hand_tracking: caps & PX_CAP_HAND_TRACKING != 0 && lib.vt.get_hand_joints.is_some(),
                eye_gaze: caps & PX_CAP_EYE_GAZE != 0 && lib.vt.get_eye_gaze.is_some(),
                face_expressions: caps & PX_CAP_FACE_EXPRESSIONS != 0
                    && lib.vt.get_face_expressions.is_some(),
                battery: caps & PX_CAP_BATTERY != 0 && lib.vt.get_battery.is_some(),
                body_tracking: caps & PX_CAP_BODY_TRACKING != 0 && lib.vt.get_body_joints.is_some(),
            },
            cameras,
        })
    }

    fn open_system(
        &self,
        guard: Arc<OpenGuard>,
        info: &PxSystemInfo,
    ) -> Result<SystemDevices, DriverError> {
        let lib = &self.lib;
        let mut d = PxDisplayInfo::default();
        call!(lib, get_display, "get_display", &mut d)?;
        let display = display_from(&d)?;
        if info.device_count == 0 || info.device_count > 64 {
            return Err(DriverError::InvalidData(format!(
                "device_count {} not in 1..=64",
                info.device_count
            )));
        }
        let hmd_desc = self.describe(0)?;
        if hmd_desc.role != parallax_sdk::DeviceRole::Head {
            return Err(DriverError::InvalidData(
                "device 0 is not the headset (role head)".into(),
            ));
        }
        let mut rate = 0.0f32;
        call!(lib, get_refresh_rate, "get_refresh_rate", &mut rate)?;
        let hmd = Arc::new(AbiHmd {
            dev: AbiDevice::new(guard.clone(), 0, hmd_desc),
            display,
        });
        let mut devices: Vec<Arc<dyn Device>> = Vec::new();
        for i in 1..info.device_count {
            devices.push(Arc::new(AbiDevice::new(
                guard.clone(),
                i,
                self.describe(i)?,
            )));
        }
        let w = info.play_area_width;
        let dpt = info.play_area_depth;
        Ok(SystemDevices {
            system_name: read_str(&info.name, "system name")?,
            vendor_id: info.vendor_id,
            hmd,
            devices,
            play_area: (info.has_play_area != 0
                && w.is_finite()
                && dpt.is_finite()
                && w > 0.0
                && dpt > 0.0)
                .then_some(PlayArea {
                    width: w,
                    depth: dpt,
                }),
            desktop_input: None,
        })
    }
}

impl Builder for AbiBuilder {
    fn name(&self) -> &str {
        &self.lib.name
    }

    fn estimate(&self) -> Estimate {
        self.try_estimate().unwrap_or_else(|e| {
            tracing::warn!(driver = %self.lib.name, "estimate failed: {e}");
            Estimate::default()
        })
    }

    fn open(&self) -> Result<SystemDevices, DriverError> {
        let mut open = self.lib.open.lock();
        if *open {
            return Err(DriverError::OpenFailed("already open".into()));
        }
        let mut info = std::mem::MaybeUninit::<PxSystemInfo>::zeroed();
        call!(self.lib, open, "open", info.as_mut_ptr())?;
        *open = true;
        drop(open);
        // SAFETY: zeroed then written by the driver; any bit pattern is a
        // valid PxSystemInfo.
        let info = unsafe { info.assume_init() };
        let guard = Arc::new(OpenGuard {
            lib: self.lib.clone(),
        });
        // On failure `guard` drops here and closes the system again.
        self.open_system(guard, &info)
    }
}

/// Closes the driver's system when the last device of it is dropped.
struct OpenGuard {
    lib: Arc<Library>,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let mut open = self.lib.open.lock();
        if *open {
            if let Some(close) = self.lib.vt.close {
                // SAFETY: the context is live (the library outlives this
                // guard through `lib`) and close is serialised by the lock.
                unsafe { close(self.lib.ctx) };
            }
            *open = false;
        }
    }
}

/// One device of a driver library.
struct AbiDevice {
    guard: Arc<OpenGuard>,
    index: u32,
    desc: DeviceDescription,
    /// NUL-terminated names of the pose components, so pose queries (every
    /// frame) do not allocate.
    pose_names: Vec<(String, CString)>,
    scratch: Mutex<Vec<PxInputValue>>,
}

impl AbiDevice {
    fn new(guard: Arc<OpenGuard>, index: u32, desc: DeviceDescription) -> Self {
        let mut pose_names: Vec<(String, CString)> = desc
            .inputs
            .iter()
            .filter(|c| c.kind == InputKind::Pose)
            .filter_map(|c| Some((c.path.clone(), CString::new(c.path.as_str()).ok()?)))
            .collect();
        pose_names.push(("head".into(), CString::new("head").unwrap()));
        let scratch = Mutex::new(vec![PxInputValue::default(); desc.inputs.len()]);
        Self {
            guard,
            index,
            desc,
            pose_names,
            scratch,
        }
    }

    fn lib(&self) -> &Library {
        &self.guard.lib
    }
}

impl Device for AbiDevice {
    fn description(&self) -> &DeviceDescription {
        &self.desc
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        let owned;
        let name = match self.pose_names.iter().find(|(n, _)| n == component) {
            Some((_, c)) => c.as_c_str(),
            None => {
                owned = CString::new(component)
                    .map_err(|_| DriverError::NoSuchComponent(component.into()))?;
                owned.as_c_str()
            }
        };
        let mut p = PxTrackedPose::default();
        call!(
            self.lib(),
            get_pose,
            "get_pose",
            self.index,
            name.as_ptr(),
            at.0,
            &mut p
        )?;
        Ok(tracked_pose_from(&p))
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        let mut scratch = self.scratch.lock();
        scratch
            .iter_mut()
            .for_each(|v| *v = PxInputValue::default());
        let n = scratch.len() as u32;
        call!(
            self.lib(),
            read_inputs,
            "read_inputs",
            self.index,
            scratch.as_mut_ptr(),
            n
        )?;
        for ((out, v), c) in values.iter_mut().zip(scratch.iter()).zip(&self.desc.inputs) {
            *out = input_from(*v, c.kind);
        }
        Ok(())
    }

    fn set_vibration(&self, output: &str, vibration: Option<Vibration>) -> Result<(), DriverError> {
        let i = self
            .desc
            .outputs
            .iter()
            .position(|o| o.path == output)
            .ok_or_else(|| DriverError::NoSuchComponent(output.into()))?;
        let v = vibration.as_ref().map(vibration_to);
        let ptr = v
            .as_ref()
            .map_or(std::ptr::null(), |v| v as *const PxVibration);
        call!(
            self.lib(),
            set_vibration,
            "set_vibration",
            self.index,
            i as u32,
            ptr
        )
    }

    fn is_connected(&self) -> bool {
        call!(self.lib(), is_connected, "is_connected", self.index).is_ok()
    }

    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        let h = match hand {
            Hand::Left => PX_HAND_LEFT,
            Hand::Right => PX_HAND_RIGHT,
        };
        let mut out = std::mem::MaybeUninit::<PxHandJoints>::zeroed();
        call!(
            self.lib(),
            get_hand_joints,
            "get_hand_joints",
            self.index,
            h,
            at.0,
            out.as_mut_ptr()
        )?;
        // SAFETY: zeroed then written by the driver; any bit pattern is valid.
        Ok(hand_joints_from(&unsafe { out.assume_init() }))
    }

    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        let mut g = PxEyeGaze::default();
        call!(
            self.lib(),
            get_eye_gaze,
            "get_eye_gaze",
            self.index,
            at.0,
            &mut g
        )?;
        Ok(EyeGaze {
            time: Time(g.sample_time_ns),
            valid: g.valid != 0,
            gaze: pose_from(g.gaze),
            openness: g.openness,
        })
    }

    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        let mut out = std::mem::MaybeUninit::<PxFaceExpressions>::zeroed();
        call!(
            self.lib(),
            get_face_expressions,
            "get_face_expressions",
            self.index,
            at.0,
            out.as_mut_ptr()
        )?;
        // SAFETY: zeroed then written by the driver; any bit pattern is valid.
        let f = unsafe { out.assume_init() };
        Ok(FaceExpressions {
            time: Time(f.sample_time_ns),
            valid: f.valid != 0,
            weights: f.weights,
        })
    }

    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        let mut out = std::mem::MaybeUninit::<PxBodyJoints>::zeroed();
        call!(
            self.lib(),
            get_body_joints,
            "get_body_joints",
            self.index,
            at.0,
            out.as_mut_ptr()
        )?;
        // SAFETY: zeroed then written by the driver; any bit pattern is valid.
        Ok(body_joints_from(&unsafe { out.assume_init() }))
    }

    fn battery(&self) -> Result<Battery, DriverError> {
        let mut b = PxBattery::default();
        call!(self.lib(), get_battery, "get_battery", self.index, &mut b)?;
        Ok(Battery {
            charge: b.charge,
            charging: b.charging != 0,
        })
    }

    fn camera_frame(&self, index: usize, frame: &mut CameraFrame) -> Result<bool, DriverError> {
        let cam = self
            .desc
            .cameras
            .get(index)
            .ok_or_else(|| DriverError::NoSuchComponent(format!("camera {index}")))?;
        let need = (cam.width * cam.height * cam.format.bytes_per_pixel()) as usize;
        if frame.data.len() < need {
            frame.data.resize(need, 0);
        }
        let mut f = PxCameraFrame {
            capacity: frame.data.len() as u32,
            size: 0,
            data: frame.data.as_mut_ptr(),
            sequence: frame.sequence,
            sample_time_ns: 0,
            width: 0,
            height: 0,
            stride: 0,
            format: 0,
        };
        call!(
            self.lib(),
            get_camera_frame,
            "get_camera_frame",
            self.index,
            index as u32,
            &mut f
        )?;
        if f.size == 0 {
            return Ok(false);
        }
        if f.size as usize > frame.data.len() || f.stride.saturating_mul(f.height) > f.size {
            return Err(DriverError::InvalidData("camera frame size".into()));
        }
        frame.data.truncate(f.size as usize);
        frame.sequence = f.sequence;
        frame.time = Time(f.sample_time_ns);
        frame.width = f.width;
        frame.height = f.height;
        frame.stride = f.stride;
        frame.format = Some(format_from(f.format)?);
        Ok(true)
    }
}

/// The headset of a driver library.
struct AbiHmd {
    dev: AbiDevice,
    display: DisplayInfo,
}

impl Device for AbiHmd {
    fn description(&self) -> &DeviceDescription {
        self.dev.description()
    }
    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        self.dev.pose(component, at)
    }
    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        self.dev.read_inputs(values)
    }
    fn set_vibration(&self, output: &str, v: Option<Vibration>) -> Result<(), DriverError> {
        self.dev.set_vibration(output, v)
    }
    fn is_connected(&self) -> bool {
        self.dev.is_connected()
    }
    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        self.dev.hand_joints(hand, at)
    }
    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        self.dev.eye_gaze(at)
    }
    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        self.dev.body_joints(at)
    }
    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        self.dev.face_expressions(at)
    }
    fn battery(&self) -> Result<Battery, DriverError> {
        self.dev.battery()
    }
    fn camera_frame(&self, index: usize, frame: &mut CameraFrame) -> Result<bool, DriverError> {
        self.dev.camera_frame(index, frame)
    }
}

impl Hmd for AbiHmd {
    fn display(&self) -> &DisplayInfo {
        &self.display
    }

    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError> {
        if !self.display.refresh_rates_hz.contains(&hz) {
            return Err(DriverError::Unsupported);
        }
        call!(self.dev.lib(), set_refresh_rate, "set_refresh_rate", hz)
    }

    fn refresh_rate(&self) -> f32 {
        let mut hz = 0.0f32;
        match call!(
            self.dev.lib(),
            get_refresh_rate,
            "get_refresh_rate",
            &mut hz
        ) {
            Ok(()) if self.display.refresh_rates_hz.contains(&hz) => hz,
            // A driver reporting a rate it never offered gets its default.
            _ => self.display.refresh_rates_hz[0],
        }
    }
}

/// Raw vtable calls; see [`AbiBuilder::raw`].
pub struct Raw<'a> {
    lib: &'a Library,
}

impl Raw<'_> {
    /// `get_pose`; the code and what the driver wrote.
    pub fn get_pose(
        &self,
        device: u32,
        component: &str,
        at_ns: i64,
    ) -> (PxResultCode, PxTrackedPose) {
        let mut p = PxTrackedPose::default();
        let Ok(c) = CString::new(component) else {
            return (PxResult::ErrorInvalidArgument as PxResultCode, p);
        };
        let code = match self.lib.vt.get_pose {
            // SAFETY: driver function with its context, a valid C string and
            // a valid out pointer, as the ABI specifies.
            Some(f) => unsafe { f(self.lib.ctx, device, c.as_ptr(), at_ns, &mut p) },
            None => PxResult::ErrorUnsupported as PxResultCode,
        };
        (code, p)
    }

    pub fn get_refresh_rate(&self) -> (PxResultCode, f32) {
        let mut hz = 0.0f32;
        let code = match self.lib.vt.get_refresh_rate {
            // SAFETY: as above.
            Some(f) => unsafe { f(self.lib.ctx, &mut hz) },
            None => PxResult::ErrorUnsupported as PxResultCode,
        };
        (code, hz)
    }

    pub fn set_refresh_rate(&self, hz: f32) -> PxResultCode {
        match self.lib.vt.set_refresh_rate {
            // SAFETY: as above.
            Some(f) => unsafe { f(self.lib.ctx, hz) },
            None => PxResult::ErrorUnsupported as PxResultCode,
        }
    }

    pub fn is_connected(&self, device: u32) -> PxResultCode {
        match self.lib.vt.is_connected {
            // SAFETY: as above.
            Some(f) => unsafe { f(self.lib.ctx, device) },
            None => PxResult::ErrorUnsupported as PxResultCode,
        }
    }

    /// `set_vibration` by output index (`None` stops).
    pub fn set_vibration(&self, device: u32, output: u32, v: Option<&Vibration>) -> PxResultCode {
        let v = v.map(vibration_to);
        let ptr = v
            .as_ref()
            .map_or(std::ptr::null(), |v| v as *const PxVibration);
        match self.lib.vt.set_vibration {
            // SAFETY: as above; `ptr` is NULL or points at `v`, alive for the call.
            Some(f) => unsafe { f(self.lib.ctx, device, output, ptr) },
            None => PxResult::ErrorUnsupported as PxResultCode,
        }
    }
}

/// The name of a result code, for reports.
pub fn result_name(code: PxResultCode) -> String {
    match PxResult::from_code(code) {
        Some(r) => format!("{r:?}"),
        None => format!("unknown result {code}"),
    }
}
