//! The driver side for Rust vendors: [`export_driver!`](crate::export_driver)
//! turns any [`Builder`] into a library that speaks the C ABI, so a Rust
//! driver is written against the safe traits and still ships as a `.so`
//! any Parallax host can load.
//!
//! Every function here is an `extern "C"` entry point: each one checks its
//! pointers, runs the safe trait call inside `catch_unwind`, and reports a
//! panic as `PX_RESULT_ERROR_INTERNAL` (logged through the host) instead of
//! unwinding into the host.
#![allow(unsafe_code)]

use crate::conv::*;
use crate::ffi::*;
use parallax_sdk::types::{CameraFrame, Hand, Time};
use parallax_sdk::{Builder, Device, DriverError, SystemDevices};
use parking_lot::{Mutex, RwLock};
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Makes a driver's builder from the `config` object of its manifest
/// (`"{}"` when there is none).
pub type MakeBuilder = fn(config: &str) -> Result<Box<dyn Builder>, DriverError>;

struct Opened {
    /// Index 0 is the headset.
    devices: Vec<Arc<dyn Device>>,
    system: SystemDevices,
    /// Camera frame buffers reused between calls, per (device, camera).
    frames: Mutex<Vec<((u32, u32), CameraFrame)>>,
    /// Input value buffers reused between `read_inputs` calls (one per
    /// device), so the per-frame input path does not allocate.
    inputs: Vec<Mutex<Vec<Option<parallax_sdk::InputValue>>>>,
}

struct Guest {
    builder: Box<dyn Builder>,
    opened: RwLock<Option<Opened>>,
    log: PxLogFn,
}

impl Guest {
    fn log(&self, level: i32, msg: &str) {
        if let (Some(log), Ok(c)) = (self.log, CString::new(msg)) {
            // SAFETY: `log` is the host's callback from PxHostInfo, valid for
            // the library's life; `c` is a NUL-terminated string that lives
            // across the call.
            unsafe { log(level, c.as_ptr()) };
        }
    }

    fn with_device<T>(
        &self,
        device: u32,
        f: impl FnOnce(&Opened, &Arc<dyn Device>) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let opened = self.opened.read();
        let o = opened
            .as_ref()
            .ok_or_else(|| DriverError::InvalidArgument("system not open".into()))?;
        let d = o
            .devices
            .get(device as usize)
            .ok_or_else(|| DriverError::InvalidArgument(format!("no device {device}")))?;
        f(o, d)
    }
}

/// Runs one entry point: resolves the context, catches panics, maps errors.
fn entry(
    ctx: *mut c_void,
    name: &str,
    f: impl FnOnce(&Guest) -> Result<(), DriverError>,
) -> PxResultCode {
    if ctx.is_null() {
        return PxResult::ErrorInvalidArgument as PxResultCode;
    }
    // SAFETY: the host passes back the context this library created in
    // `negotiate` (a leaked `Box<Guest>`), valid until `destroy`.
    let guest = unsafe { &*(ctx as *const Guest) };
    match catch_unwind(AssertUnwindSafe(|| f(guest))) {
        Ok(Ok(())) => PxResult::Success as PxResultCode,
        Ok(Err(e)) => error_to(&e),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            guest.log(PX_LOG_ERROR, &format!("{name} panicked: {msg}"));
            PxResult::ErrorInternal as PxResultCode
        }
    }
}

/// Writes through an out pointer, refusing NULL.
fn put<T>(out: *mut T, v: T) -> Result<(), DriverError> {
    if out.is_null() {
        return Err(DriverError::InvalidArgument("NULL output pointer".into()));
    }
    // SAFETY: the host passes a valid, writable, aligned pointer to a `T`
    // (the ABI contract); NULL was refused above.
    unsafe { out.write(v) };
    Ok(())
}

unsafe extern "C" fn destroy(ctx: *mut c_void) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: `ctx` is the `Box<Guest>` leaked in `negotiate`; the host
    // calls destroy once and nothing after it.
    let guest = unsafe { Box::from_raw(ctx as *mut Guest) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(guest)));
}

unsafe extern "C" fn estimate(ctx: *mut c_void, out: *mut PxEstimate) -> PxResultCode {
    entry(ctx, "estimate", |g| {
        let e = g.builder.estimate();
        put(
            out,
            PxEstimate {
                has_hmd: e.hmd as u32,
                controllers: e.controllers,
                score: e.score,
            },
        )
    })
}

unsafe extern "C" fn open(ctx: *mut c_void, out: *mut PxSystemInfo) -> PxResultCode {
    entry(ctx, "open", |g| {
        if out.is_null() {
            return Err(DriverError::InvalidArgument("NULL output pointer".into()));
        }
        let system = g.builder.open()?;
        let mut devices: Vec<Arc<dyn Device>> = vec![system.hmd.clone()];
        devices.extend(system.devices.iter().cloned());
        let mut info = PxSystemInfo {
            name: [0; PX_MAX_NAME],
            vendor_id: system.vendor_id,
            device_count: devices.len() as u32,
            has_play_area: system.play_area.is_some() as u32,
            play_area_width: system.play_area.map_or(0.0, |a| a.width),
            play_area_depth: system.play_area.map_or(0.0, |a| a.depth),
        };
        write_str(&mut info.name, &system.system_name);
        let inputs = devices
            .iter()
            .map(|d| Mutex::new(vec![None; d.description().inputs.len()]))
            .collect();
        *g.opened.write() = Some(Opened {
            devices,
            system,
            frames: Mutex::new(Vec::new()),
            inputs,
        });
        put(out, info)
    })
}

unsafe extern "C" fn close(ctx: *mut c_void) {
    entry(ctx, "close", |g| {
        g.opened.write().take();
        Ok(())
    });
}

unsafe extern "C" fn get_display(ctx: *mut c_void, out: *mut PxDisplayInfo) -> PxResultCode {
    entry(ctx, "get_display", |g| {
        let o = g.opened.read();
        let o = o
            .as_ref()
            .ok_or_else(|| DriverError::InvalidArgument("system not open".into()))?;
        put(out, display_to(o.system.hmd.display()))
    })
}

unsafe extern "C" fn get_device(
    ctx: *mut c_void,
    device: u32,
    out: *mut PxDeviceInfo,
) -> PxResultCode {
    entry(ctx, "get_device", |g| {
        g.with_device(device, |_, d| {
            let desc = d.description();
            let mut info = PxDeviceInfo {
                name: [0; PX_MAX_NAME],
                serial: [0; PX_MAX_NAME],
                role: role_to(desc.role),
                interaction_profile: [0; PX_MAX_PATH],
                input_count: desc.inputs.len() as u32,
                output_count: desc.outputs.len() as u32,
                capabilities: {
                    let c = desc.capabilities;
                    (c.hand_tracking as u32 * PX_CAP_HAND_TRACKING)
                        | (c.eye_gaze as u32 * PX_CAP_EYE_GAZE)
                        | (c.face_expressions as u32 * PX_CAP_FACE_EXPRESSIONS)
                        | (c.battery as u32 * PX_CAP_BATTERY)
                        | (c.body_tracking as u32 * PX_CAP_BODY_TRACKING)
                },
                camera_count: desc.cameras.len() as u32,
            };
            write_str(&mut info.name, &desc.name);
            write_str(&mut info.serial, &desc.serial);
            if let Some(p) = &desc.interaction_profile {
                write_str(&mut info.interaction_profile, p);
            }
            put(out, info)
        })
    })
}

unsafe extern "C" fn get_input(
    ctx: *mut c_void,
    device: u32,
    index: u32,
    out: *mut PxComponent,
) -> PxResultCode {
    entry(ctx, "get_input", |g| {
        g.with_device(device, |_, d| {
            let c = d
                .description()
                .inputs
                .get(index as usize)
                .ok_or_else(|| DriverError::NoSuchComponent(format!("input {index}")))?;
            let mut comp = PxComponent {
                path: [0; PX_MAX_PATH],
                kind: kind_to(c.kind),
            };
            write_str(&mut comp.path, &c.path);
            put(out, comp)
        })
    })
}

unsafe extern "C" fn get_output(
    ctx: *mut c_void,
    device: u32,
    index: u32,
    out: *mut PxComponent,
) -> PxResultCode {
    entry(ctx, "get_output", |g| {
        g.with_device(device, |_, d| {
            let c = d
                .description()
                .outputs
                .get(index as usize)
                .ok_or_else(|| DriverError::NoSuchComponent(format!("output {index}")))?;
            let mut comp = PxComponent {
                path: [0; PX_MAX_PATH],
                kind: 0,
            };
            write_str(&mut comp.path, &c.path);
            put(out, comp)
        })
    })
}

unsafe extern "C" fn get_pose(
    ctx: *mut c_void,
    device: u32,
    component: *const c_char,
    at_ns: i64,
    out: *mut PxTrackedPose,
) -> PxResultCode {
    entry(ctx, "get_pose", |g| {
        if component.is_null() {
            return Err(DriverError::InvalidArgument("NULL component".into()));
        }
        // SAFETY: the host passes a NUL-terminated string valid for the call.
        let component = unsafe { CStr::from_ptr(component) }
            .to_str()
            .map_err(|_| DriverError::InvalidArgument("component is not UTF-8".into()))?;
        g.with_device(device, |_, d| {
            let p = d.pose(component, Time(at_ns))?;
            put(out, tracked_pose_to(&p))
        })
    })
}

unsafe extern "C" fn read_inputs(
    ctx: *mut c_void,
    device: u32,
    values: *mut PxInputValue,
    count: u32,
) -> PxResultCode {
    entry(ctx, "read_inputs", |g| {
        if values.is_null() && count > 0 {
            return Err(DriverError::InvalidArgument("NULL values".into()));
        }
        g.with_device(device, |o, d| {
            let mut vals = o.inputs[device as usize].lock();
            vals.iter_mut().for_each(|v| *v = None);
            d.read_inputs(&mut vals)?;
            let n = (count as usize).min(vals.len());
            for (i, v) in vals.iter().take(n).enumerate() {
                // SAFETY: `values` points at `count` writable elements (the
                // ABI contract) and `i < n <= count`.
                unsafe { values.add(i).write(input_to(*v)) };
            }
            Ok(())
        })
    })
}

unsafe extern "C" fn set_vibration(
    ctx: *mut c_void,
    device: u32,
    output: u32,
    vibration: *const PxVibration,
) -> PxResultCode {
    entry(ctx, "set_vibration", |g| {
        let v = if vibration.is_null() {
            None
        } else {
            // SAFETY: non-NULL `vibration` points at a valid PxVibration for the call.
            Some(vibration_from(unsafe { &*vibration }))
        };
        g.with_device(device, |_, d| {
            let path = d
                .description()
                .outputs
                .get(output as usize)
                .ok_or_else(|| DriverError::NoSuchComponent(format!("output {output}")))?
                .path
                .clone();
            d.set_vibration(&path, v)
        })
    })
}

unsafe extern "C" fn is_connected(ctx: *mut c_void, device: u32) -> PxResultCode {
    entry(ctx, "is_connected", |g| {
        g.with_device(device, |_, d| {
            if d.is_connected() {
                Ok(())
            } else {
                Err(DriverError::Disconnected)
            }
        })
    })
}

unsafe extern "C" fn get_refresh_rate(ctx: *mut c_void, out: *mut f32) -> PxResultCode {
    entry(ctx, "get_refresh_rate", |g| {
        let o = g.opened.read();
        let o = o
            .as_ref()
            .ok_or_else(|| DriverError::InvalidArgument("system not open".into()))?;
        put(out, o.system.hmd.refresh_rate())
    })
}

unsafe extern "C" fn set_refresh_rate(ctx: *mut c_void, hz: f32) -> PxResultCode {
    entry(ctx, "set_refresh_rate", |g| {
        let o = g.opened.read();
        let o = o
            .as_ref()
            .ok_or_else(|| DriverError::InvalidArgument("system not open".into()))?;
        o.system.hmd.set_refresh_rate(hz)
    })
}

unsafe extern "C" fn get_hand_joints(
    ctx: *mut c_void,
    device: u32,
    hand: u32,
    at_ns: i64,
    out: *mut PxHandJoints,
) -> PxResultCode {
    entry(ctx, "get_hand_joints", |g| {
        let hand = match hand {
            PX_HAND_LEFT => Hand::Left,
            PX_HAND_RIGHT => Hand::Right,
            other => return Err(DriverError::InvalidArgument(format!("hand {other}"))),
        };
        g.with_device(device, |_, d| {
            let j = d.hand_joints(hand, Time(at_ns))?;
            put(out, hand_joints_to(&j))
        })
    })
}

unsafe extern "C" fn get_eye_gaze(
    ctx: *mut c_void,
    device: u32,
    at_ns: i64,
    out: *mut PxEyeGaze,
) -> PxResultCode {
    entry(ctx, "get_eye_gaze", |g| {
        g.with_device(device, |_, d| {
            let e = d.eye_gaze(Time(at_ns))?;
            put(
                out,
                PxEyeGaze {
                    sample_time_ns: e.time.0,
                    valid: e.valid as u32,
                    gaze: pose_to(e.gaze),
                    openness: e.openness,
                },
            )
        })
    })
}

unsafe extern "C" fn get_face_expressions(
    ctx: *mut c_void,
    device: u32,
    at_ns: i64,
    out: *mut PxFaceExpressions,
) -> PxResultCode {
    entry(ctx, "get_face_expressions", |g| {
        g.with_device(device, |_, d| {
            let f = d.face_expressions(Time(at_ns))?;
            put(
                out,
                PxFaceExpressions {
                    sample_time_ns: f.time.0,
                    valid: f.valid as u32,
                    weights: f.weights,
                },
            )
        })
    })
}

unsafe extern "C" fn get_body_joints(
    ctx: *mut c_void,
    device: u32,
    at_ns: i64,
    out: *mut PxBodyJoints,
) -> PxResultCode {
    entry(ctx, "get_body_joints", |g| {
        g.with_device(device, |_, d| {
            let b = d.body_joints(Time(at_ns))?;
            put(out, body_joints_to(&b))
        })
    })
}

unsafe extern "C" fn get_battery(
    ctx: *mut c_void,
    device: u32,
    out: *mut PxBattery,
) -> PxResultCode {
    entry(ctx, "get_battery", |g| {
        g.with_device(device, |_, d| {
            let b = d.battery()?;
            put(
                out,
                PxBattery {
                    charge: b.charge,
                    charging: b.charging as u32,
                },
            )
        })
    })
}

unsafe extern "C" fn get_camera(
    ctx: *mut c_void,
    device: u32,
    index: u32,
    out: *mut PxCameraInfo,
) -> PxResultCode {
    entry(ctx, "get_camera", |g| {
        g.with_device(device, |_, d| {
            let c = d
                .description()
                .cameras
                .get(index as usize)
                .ok_or_else(|| DriverError::NoSuchComponent(format!("camera {index}")))?;
            put(out, camera_to(c))
        })
    })
}

unsafe extern "C" fn get_camera_frame(
    ctx: *mut c_void,
    device: u32,
    index: u32,
    frame: *mut PxCameraFrame,
) -> PxResultCode {
    let code = entry(ctx, "get_camera_frame", |g| {
        if frame.is_null() {
            return Err(DriverError::InvalidArgument("NULL frame".into()));
        }
        // SAFETY: non-NULL `frame` points at a valid, writable PxCameraFrame.
        let f = unsafe { &mut *frame };
        g.with_device(device, |o, d| {
            let mut frames = o.frames.lock();
            let slot = match frames.iter().position(|(k, _)| *k == (device, index)) {
                Some(i) => i,
                None => {
                    frames.push(((device, index), CameraFrame::default()));
                    frames.len() - 1
                }
            };
            let buf = &mut frames[slot].1;
            // Refreshes the cache when the device has a newer frame; the
            // host may still lack the cached one.
            d.camera_frame(index as usize, buf)?;
            if buf.data.is_empty() || buf.sequence <= f.sequence {
                f.size = 0;
                return Ok(());
            }
            f.size = buf.data.len() as u32;
            if buf.data.len() > f.capacity as usize || f.data.is_null() {
                // Reported as PX_RESULT_ERROR_BUFFER_TOO_SMALL below.
                return Err(DriverError::InvalidArgument(
                    "camera buffer too small".into(),
                ));
            }
            // SAFETY: `f.data` points at `f.capacity` writable bytes (the
            // ABI contract) and the copy is no longer than that.
            unsafe { std::ptr::copy_nonoverlapping(buf.data.as_ptr(), f.data, buf.data.len()) };
            f.sequence = buf.sequence;
            f.sample_time_ns = buf.time.0;
            f.width = buf.width;
            f.height = buf.height;
            f.stride = buf.stride;
            f.format = buf.format.map(format_to).unwrap_or(PX_FORMAT_GRAY8);
            Ok(())
        })
    });
    if code == PxResult::ErrorInvalidArgument as PxResultCode && !frame.is_null() {
        // SAFETY: non-NULL `frame` is the host's PxCameraFrame (see above).
        let f = unsafe { &*frame };
        if f.size > f.capacity || (f.data.is_null() && f.size > 0) {
            return PxResult::ErrorBufferTooSmall as PxResultCode;
        }
    }
    code
}

/// The function table every Rust driver exports.
pub static GUEST_VTABLE: PxDriverVtable = PxDriverVtable {
    struct_type: PX_STRUCT_DRIVER_VTABLE,
    struct_size: std::mem::size_of::<PxDriverVtable>() as u32,
    destroy: Some(destroy),
    estimate: Some(estimate),
    open: Some(open),
    close: Some(close),
    get_display: Some(get_display),
    get_device: Some(get_device),
    get_input: Some(get_input),
    get_output: Some(get_output),
    get_pose: Some(get_pose),
    read_inputs: Some(read_inputs),
    set_vibration: Some(set_vibration),
    is_connected: Some(is_connected),
    get_refresh_rate: Some(get_refresh_rate),
    set_refresh_rate: Some(set_refresh_rate),
    get_hand_joints: Some(get_hand_joints),
    get_eye_gaze: Some(get_eye_gaze),
    get_face_expressions: Some(get_face_expressions),
    get_battery: Some(get_battery),
    get_camera: Some(get_camera),
    get_camera_frame: Some(get_camera_frame),
    get_body_joints: Some(get_body_joints),
};

/// The body of `parallax_driver_negotiate` for a Rust driver; see
/// [`export_driver!`](crate::export_driver).
///
/// # Safety
/// `host` and `info` must be NULL or valid pointers, as the ABI says.
pub unsafe fn negotiate(
    host: *const PxHostInfo,
    info: *mut PxDriverInfo,
    name: &str,
    make: MakeBuilder,
) -> PxResultCode {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if host.is_null() || info.is_null() {
            return PxResult::ErrorInvalidArgument as PxResultCode;
        }
        // SAFETY: non-NULL `host` points at the host's PxHostInfo; only the
        // fields its `struct_size` covers are read.
        let h = unsafe { &*host };
        if h.struct_type != PX_STRUCT_HOST_INFO
            || (h.struct_size as usize) < std::mem::size_of::<PxHostInfo>()
        {
            return PxResult::ErrorInvalidArgument as PxResultCode;
        }
        if h.abi_version >> 16 != PX_ABI_VERSION_MAJOR {
            return PxResult::ErrorIncompatibleVersion as PxResultCode;
        }
        // SAFETY: non-NULL `info` points at a writable PxDriverInfo whose
        // type and size the host set; checked before writing.
        let out = unsafe { &mut *info };
        if out.struct_type != PX_STRUCT_DRIVER_INFO
            || (out.struct_size as usize) < std::mem::size_of::<PxDriverInfo>()
        {
            return PxResult::ErrorInvalidArgument as PxResultCode;
        }
        let config = if h.config_json.is_null() {
            "{}".to_string()
        } else {
            // SAFETY: a non-NULL config is a NUL-terminated string valid for the call.
            unsafe { CStr::from_ptr(h.config_json) }
                .to_string_lossy()
                .into_owned()
        };
        let guest = Guest {
            builder: match make(&config) {
                Ok(b) => b,
                Err(e) => {
                    if let (Some(log), Ok(c)) = (h.log, CString::new(format!("{name}: {e}"))) {
                        // SAFETY: the host's log callback with a valid C string.
                        unsafe { log(PX_LOG_ERROR, c.as_ptr()) };
                    }
                    return error_to(&e);
                }
            },
            opened: RwLock::new(None),
            log: h.log,
        };
        out.abi_version = PX_ABI_VERSION;
        write_str(&mut out.name, name);
        out.context = Box::into_raw(Box::new(guest)) as *mut c_void;
        out.vtable = &GUEST_VTABLE;
        PxResult::Success as PxResultCode
    }));
    r.unwrap_or(PxResult::ErrorInternal as PxResultCode)
}

/// Exports a Rust [`Builder`](parallax_sdk::Builder) as a Parallax driver
/// library: defines `parallax_driver_negotiate`. Use it once, in a crate
/// built as `crate-type = ["cdylib"]`.
///
/// ```ignore
/// fn make(config: &str) -> Result<Box<dyn parallax_sdk::Builder>, parallax_sdk::DriverError> {
///     Ok(Box::new(MyBuilder::from_json(config)?))
/// }
/// parallax_sdk_abi::export_driver!("my-headset", make);
/// ```
#[macro_export]
macro_rules! export_driver {
    ($name:expr, $make:expr) => {
        /// The Parallax driver ABI entry point.
        ///
        /// # Safety
        /// Called by a Parallax host with valid pointers, as the ABI says.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn parallax_driver_negotiate(
            host: *const $crate::ffi::PxHostInfo,
            info: *mut $crate::ffi::PxDriverInfo,
        ) -> $crate::ffi::PxResultCode {
            // SAFETY: forwarded unchanged from the host, which upholds the ABI.
            unsafe { $crate::guest::negotiate(host, info, $name, $make) }
        }
    };
}
