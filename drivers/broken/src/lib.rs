//! A deliberately broken driver: the simulated headset (static motion)
//! with faults planted on request, so the host's boundary checks and
//! `parallax driver-check` can be shown to catch each one by name.
//!
//! Faults come from the manifest config `{"faults": ["nan_pose", ...]}` or
//! `PARALLAX_BROKEN_FAULTS=nan_pose,panic`:
//! - `nan_pose`: the head position is NaN;
//! - `non_unit_quaternion`: the head orientation has length 3;
//! - `backwards_time`: head sample timestamps go backwards;
//! - `out_of_range_input`: the right trigger reads 5.0;
//! - `panic`: `get_pose` of the headset panics from its third call on (a
//!   Rust driver's panic is contained by `export_driver!`'s shims and
//!   reported as an internal error);
//! - `wrong_vtable_size`: the vtable claims 24 bytes;
//! - `refresh_rate_lie`: the driver reports a refresh rate it never offered;
//! - `no_stop`: vibrations cannot be stopped (stop returns an error);
//! - `face_out_of_range`: the face stream reports jawOpen at 1.5.
//! - `gaze_out_of_range`: the eye-gaze stream reports the left eye 1.5 open.
//! - `body_non_unit`: the body stream's chest orientation has length 2.
//! - `abi_1_0`: the driver says it was built against ABI 1.0 and hands over
//!   a 1.0-sized vtable (no `get_body_joints`), as an older driver would.

use parallax_driver_simulated::{MotionKind, SimulatedBuilder};
use parallax_sdk::types::{
    Battery, BodyJoints, DisplayInfo, EyeGaze, FaceExpressions, Hand, HandJoints, Time, TrackedPose,
};
use parallax_sdk::{
    Builder, Device, DeviceDescription, DriverError, Estimate, Hmd, InputValue, SystemDevices,
    Vibration,
};
use parallax_sdk_abi::ffi::{
    PxDriverInfo, PxDriverVtable, PxHostInfo, PxResultCode, PX_DRIVER_VTABLE_SIZE_1_0,
};
use std::collections::HashSet;
use std::ffi::CStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const FAULTS: &[&str] = &[
    "nan_pose",
    "non_unit_quaternion",
    "backwards_time",
    "out_of_range_input",
    "panic",
    "wrong_vtable_size",
    "refresh_rate_lie",
    "no_stop",
    "face_out_of_range",
    "gaze_out_of_range",
    "body_non_unit",
    "abi_1_0",
];

type Faults = Arc<HashSet<String>>;

fn faults_from(config: &str) -> Result<Faults, DriverError> {
    let cfg: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| DriverError::InvalidArgument(format!("config is not JSON: {e}")))?;
    let mut set: HashSet<String> = cfg
        .get("faults")
        .and_then(|f| f.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(env) = std::env::var("PARALLAX_BROKEN_FAULTS") {
        set.extend(
            env.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    if let Some(bad) = set.iter().find(|f| !FAULTS.contains(&f.as_str())) {
        return Err(DriverError::InvalidArgument(format!("unknown fault {bad}")));
    }
    Ok(Arc::new(set))
}

struct BrokenBuilder {
    inner: SimulatedBuilder,
    faults: Faults,
}

impl Builder for BrokenBuilder {
    fn name(&self) -> &str {
        "broken"
    }

    fn estimate(&self) -> Estimate {
        // Never chosen over a working driver unless asked for by name.
        Estimate {
            score: 0,
            ..self.inner.estimate()
        }
    }

    fn open(&self) -> Result<SystemDevices, DriverError> {
        let mut sys = self.inner.open()?;
        sys.system_name = "Broken Test Headset".into();
        sys.hmd = Arc::new(BrokenHmd {
            inner: sys.hmd.clone(),
            faults: self.faults.clone(),
            clock: AtomicI64::new(Time::now().0),
            calls: AtomicI64::new(0),
        });
        sys.devices = sys
            .devices
            .into_iter()
            .map(|d| {
                Arc::new(BrokenController {
                    inner: d,
                    faults: self.faults.clone(),
                }) as Arc<dyn Device>
            })
            .collect();
        Ok(sys)
    }
}

struct BrokenHmd {
    inner: Arc<dyn Hmd>,
    faults: Faults,
    /// Runs backwards under `backwards_time`.
    clock: AtomicI64,
    calls: AtomicI64,
}

impl Device for BrokenHmd {
    fn description(&self) -> &DeviceDescription {
        self.inner.description()
    }

    // The description (capabilities included) is the simulated headset's,
    // so its optional streams are passed through too.
    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        let mut f = self.inner.face_expressions(at)?;
        if self.faults.contains("face_out_of_range") {
            f.weights[17] = 1.5; // jawOpen past fully open
        }
        Ok(f)
    }

    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        let mut g = self.inner.eye_gaze(at)?;
        if self.faults.contains("gaze_out_of_range") {
            g.openness[0] = 1.5; // the left eye more than fully open
        }
        Ok(g)
    }

    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        let mut b = self.inner.body_joints(at)?;
        if self.faults.contains("body_non_unit") {
            b.joints[5].pose.orientation *= 2.0; // the chest
        }
        Ok(b)
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        if self.faults.contains("panic") && self.calls.fetch_add(1, Ordering::Relaxed) >= 2 {
            panic!("planted fault: panic in get_pose");
        }
        let mut p = self.inner.pose(component, at)?;
        if self.faults.contains("nan_pose") {
            p.pose.position.x = f32::NAN;
        }
        if self.faults.contains("non_unit_quaternion") {
            p.pose.orientation *= 3.0;
        }
        if self.faults.contains("backwards_time") {
            p.time = Time(self.clock.fetch_sub(1_000_000, Ordering::Relaxed));
        }
        Ok(p)
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        self.inner.read_inputs(values)
    }

    fn set_vibration(&self, output: &str, v: Option<Vibration>) -> Result<(), DriverError> {
        self.inner.set_vibration(output, v)
    }
}

impl Hmd for BrokenHmd {
    fn display(&self) -> &DisplayInfo {
        self.inner.display()
    }

    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError> {
        self.inner.set_refresh_rate(hz)
    }

    fn refresh_rate(&self) -> f32 {
        if self.faults.contains("refresh_rate_lie") {
            return 33.0;
        }
        self.inner.refresh_rate()
    }
}

struct BrokenController {
    inner: Arc<dyn Device>,
    faults: Faults,
}

impl Device for BrokenController {
    fn description(&self) -> &DeviceDescription {
        self.inner.description()
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        self.inner.pose(component, at)
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        self.inner.read_inputs(values)?;
        if self.faults.contains("out_of_range_input") {
            let desc = self.inner.description();
            if let Some(i) = desc
                .inputs
                .iter()
                .position(|c| c.path == "input/trigger/value")
            {
                if let Some(v) = values.get_mut(i) {
                    *v = Some(InputValue::Float(5.0));
                }
            }
        }
        Ok(())
    }

    fn set_vibration(&self, output: &str, v: Option<Vibration>) -> Result<(), DriverError> {
        if v.is_none() && self.faults.contains("no_stop") {
            return Err(DriverError::Internal("cannot stop".into()));
        }
        self.inner.set_vibration(output, v)
    }

    // The description (capabilities included) is the simulated controller's,
    // so its optional streams are passed through too.
    fn hand_joints(&self, hand: Hand, at: Time) -> Result<HandJoints, DriverError> {
        self.inner.hand_joints(hand, at)
    }

    fn battery(&self) -> Result<Battery, DriverError> {
        self.inner.battery()
    }
}

fn make(config: &str) -> Result<Box<dyn Builder>, DriverError> {
    Ok(Box::new(BrokenBuilder {
        inner: SimulatedBuilder::new(MotionKind::Static),
        faults: faults_from(config)?,
    }))
}

/// The ABI entry point, written out (rather than with `export_driver!`) so
/// that `wrong_vtable_size` can hand the host a truncated table.
///
/// # Safety
/// Called by a Parallax host with valid pointers, as the ABI says.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn parallax_driver_negotiate(
    host: *const PxHostInfo,
    info: *mut PxDriverInfo,
) -> PxResultCode {
    // SAFETY: forwarded unchanged from the host, which upholds the ABI.
    let code = unsafe { parallax_sdk_abi::guest::negotiate(host, info, "broken", make) };
    if code != 0 || host.is_null() || info.is_null() {
        return code;
    }
    // SAFETY: `host` is valid for the call; its config, when set, is a
    // NUL-terminated string.
    let config = unsafe {
        let h = &*host;
        if h.config_json.is_null() {
            String::from("{}")
        } else {
            CStr::from_ptr(h.config_json).to_string_lossy().into_owned()
        }
    };
    let faults = faults_from(&config).unwrap_or_default();
    let size = if faults.contains("wrong_vtable_size") {
        Some(24)
    } else if faults.contains("abi_1_0") {
        // SAFETY: `info` was filled by `negotiate` above.
        unsafe { (*info).abi_version = 1 << 16 };
        Some(PX_DRIVER_VTABLE_SIZE_1_0)
    } else {
        None
    };
    if let Some(size) = size {
        let mut vt: PxDriverVtable = parallax_sdk_abi::guest::GUEST_VTABLE;
        vt.struct_size = size;
        // SAFETY: `info` was filled by `negotiate` above; the leaked table
        // lives for the rest of the process, longer than any use.
        unsafe { (*info).vtable = Box::leak(Box::new(vt)) };
    }
    code
}
