//! Calls straight into the runtime's entry points (the same code the `.so`
//! exports, linked as a Rust library), for what Debian's 1.0.20 loader
//! cannot carry: OpenXR 1.1 instances, stale handles (the loader itself
//! crashes on them), events lost to a full queue, runtime-initiated exit,
//! headset loss, messengers receiving the runtime's own warnings, and
//! calls from several threads.
#![allow(unsafe_code)]
#![allow(clippy::undocumented_unsafe_blocks)] // raw calls with locals and live handles

use openxr_sys as sys;
use openxr_sys::Handle;
use parallax_openxr::ffi::{action as a, debug as d, instance as i, session as s, space as sp};
use std::ffi::{c_char, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::{Arc, Mutex};

/// Tests here change the process environment the runtime reads at
/// instance creation, so they run one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn set_env(vars: &[(&str, &str)]) {
    for k in [
        "PARALLAX_EVENT_QUEUE",
        "PARALLAX_EXIT_AFTER_FRAMES",
        "PARALLAX_SIM_DISCONNECT_AFTER_MS",
        "PARALLAX_DRIVER",
        "PARALLAX_DRIVER_PATH",
        "PARALLAX_BROKEN_FAULTS",
    ] {
        std::env::remove_var(k);
    }
    std::env::set_var("PARALLAX_SIM_MOTION", "static");
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
}

fn name_array<const N: usize>(s: &str) -> [c_char; N] {
    let mut a = [0 as c_char; N];
    for (d, b) in a.iter_mut().zip(s.bytes()) {
        *d = b as c_char;
    }
    a
}

fn create_instance(
    version: sys::Version,
    exts: &[&CStr],
    next: *const c_void,
) -> Result<sys::Instance, sys::Result> {
    let ext_ptrs: Vec<*const c_char> = exts.iter().map(|e| e.as_ptr()).collect();
    let ci = sys::InstanceCreateInfo {
        ty: sys::InstanceCreateInfo::TYPE,
        next,
        create_flags: sys::InstanceCreateFlags::EMPTY,
        application_info: sys::ApplicationInfo {
            application_name: name_array("direct-tests"),
            application_version: 1,
            engine_name: name_array(""),
            engine_version: 0,
            api_version: version,
        },
        enabled_api_layer_count: 0,
        enabled_api_layer_names: null(),
        enabled_extension_count: ext_ptrs.len() as u32,
        enabled_extension_names: ext_ptrs.as_ptr(),
    };
    let mut inst = sys::Instance::NULL;
    match unsafe { i::xrCreateInstance(&ci, &mut inst) } {
        sys::Result::SUCCESS => Ok(inst),
        e => Err(e),
    }
}

const HEADLESS: &CStr = c"XR_MND_headless";

fn get_system(
    inst: sys::Instance,
    form_factor: sys::FormFactor,
) -> Result<sys::SystemId, sys::Result> {
    let gi = sys::SystemGetInfo {
        ty: sys::SystemGetInfo::TYPE,
        next: null(),
        form_factor,
    };
    let mut system = sys::SystemId::NULL;
    match unsafe { i::xrGetSystem(inst, &gi, &mut system) } {
        sys::Result::SUCCESS => Ok(system),
        e => Err(e),
    }
}

fn headless_session(inst: sys::Instance) -> sys::Session {
    let system = get_system(inst, sys::FormFactor::HEAD_MOUNTED_DISPLAY).unwrap();
    let ci = sys::SessionCreateInfo {
        ty: sys::SessionCreateInfo::TYPE,
        next: null(),
        create_flags: sys::SessionCreateFlags::EMPTY,
        system_id: system,
    };
    let mut session = sys::Session::NULL;
    assert_eq!(
        unsafe { s::xrCreateSession(inst, &ci, &mut session) },
        sys::Result::SUCCESS
    );
    session
}

fn event_buffer() -> sys::EventDataBuffer {
    sys::EventDataBuffer {
        ty: sys::EventDataBuffer::TYPE,
        next: null(),
        varying: [0; 4000],
    }
}

/// Polls every event, returning (type, state for state changes).
fn poll_all(inst: sys::Instance) -> Vec<(sys::StructureType, Option<sys::SessionState>, u32)> {
    let mut out = Vec::new();
    loop {
        let mut buf = event_buffer();
        match unsafe { i::xrPollEvent(inst, &mut buf) } {
            sys::Result::EVENT_UNAVAILABLE => return out,
            sys::Result::SUCCESS => {
                let state = (buf.ty == sys::EventDataSessionStateChanged::TYPE).then(|| unsafe {
                    (*(&buf as *const _ as *const sys::EventDataSessionStateChanged)).state
                });
                let lost = if buf.ty == sys::EventDataEventsLost::TYPE {
                    unsafe {
                        (*(&buf as *const _ as *const sys::EventDataEventsLost)).lost_event_count
                    }
                } else {
                    0
                };
                out.push((buf.ty, state, lost));
            }
            e => panic!("xrPollEvent: {e:?}"),
        }
    }
}

fn begin(session: sys::Session) {
    let bi = sys::SessionBeginInfo {
        ty: sys::SessionBeginInfo::TYPE,
        next: null(),
        primary_view_configuration_type: sys::ViewConfigurationType::PRIMARY_STEREO,
    };
    assert_eq!(
        unsafe { s::xrBeginSession(session, &bi) },
        sys::Result::SUCCESS
    );
}

fn frame_state() -> sys::FrameState {
    sys::FrameState {
        ty: sys::FrameState::TYPE,
        next: null_mut(),
        predicted_display_time: sys::Time::from_nanos(0),
        predicted_display_period: sys::Duration::from_nanos(0),
        should_render: sys::FALSE,
    }
}

/// One whole frame; returns xrEndFrame's result.
fn frame(session: sys::Session) -> sys::Result {
    let mut fs = frame_state();
    let r = unsafe { s::xrWaitFrame(session, null(), &mut fs) };
    if r.into_raw() < 0 {
        return r;
    }
    let r = unsafe { s::xrBeginFrame(session, null()) };
    if r.into_raw() < 0 {
        return r;
    }
    let info = sys::FrameEndInfo {
        ty: sys::FrameEndInfo::TYPE,
        next: null(),
        display_time: fs.predicted_display_time,
        environment_blend_mode: sys::EnvironmentBlendMode::OPAQUE,
        layer_count: 0,
        layers: null(),
    };
    unsafe { s::xrEndFrame(session, &info) }
}

#[test]
fn openxr_1_1_instances_get_1_1_rules() {
    let _g = serial();
    set_env(&[]);
    // 1.1 without XR_EXT_local_floor: LOCAL_FLOOR is core.
    let inst = create_instance(sys::Version::new(1, 1, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    let mut n = 0;
    let mut types = [sys::ReferenceSpaceType::VIEW; 8];
    assert_eq!(
        unsafe { sp::xrEnumerateReferenceSpaces(session, 8, &mut n, types.as_mut_ptr()) },
        sys::Result::SUCCESS
    );
    assert!(types[..n as usize].contains(&sys::ReferenceSpaceType::LOCAL_FLOOR));
    // xrLocateSpaces is core in 1.1 and reachable through xrGetInstanceProcAddr.
    let mut f = None;
    assert_eq!(
        unsafe {
            parallax_openxr::ffi::dispatch::xrGetInstanceProcAddr(
                inst,
                c"xrLocateSpaces".as_ptr(),
                &mut f,
            )
        },
        sys::Result::SUCCESS
    );
    let ci = sys::ReferenceSpaceCreateInfo {
        ty: sys::ReferenceSpaceCreateInfo::TYPE,
        next: null(),
        reference_space_type: sys::ReferenceSpaceType::STAGE,
        pose_in_reference_space: sys::Posef::IDENTITY,
    };
    let mut stage = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &ci, &mut stage) },
        sys::Result::SUCCESS
    );
    let ci = sys::ReferenceSpaceCreateInfo {
        reference_space_type: sys::ReferenceSpaceType::VIEW,
        ..ci
    };
    let mut view = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &ci, &mut view) },
        sys::Result::SUCCESS
    );
    let spaces = [view, stage];
    let mut data = [sys::SpaceLocationData {
        location_flags: sys::SpaceLocationFlags::EMPTY,
        pose: sys::Posef::IDENTITY,
    }; 2];
    let mut vel = [sys::SpaceVelocityData {
        velocity_flags: sys::SpaceVelocityFlags::EMPTY,
        linear_velocity: Default::default(),
        angular_velocity: Default::default(),
    }; 2];
    let mut velocities = sys::SpaceVelocities {
        ty: sys::SpaceVelocities::TYPE,
        next: null_mut(),
        velocity_count: 2,
        velocities: vel.as_mut_ptr(),
    };
    let mut locs = sys::SpaceLocations {
        ty: sys::SpaceLocations::TYPE,
        next: &mut velocities as *mut _ as *mut c_void,
        location_count: 2,
        locations: data.as_mut_ptr(),
    };
    let mut t = sys::Time::from_nanos(0);
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    t = sys::Time::from_nanos(ts.tv_sec * 1_000_000_000 + ts.tv_nsec + t.as_nanos());
    let info = sys::SpacesLocateInfo {
        ty: sys::SpacesLocateInfo::TYPE,
        next: null(),
        base_space: stage,
        time: t,
        space_count: 2,
        spaces: spaces.as_ptr(),
    };
    assert_eq!(
        unsafe { sp::xrLocateSpaces(session, &info, &mut locs) },
        sys::Result::SUCCESS
    );
    assert!((data[0].pose.position.y - 1.6).abs() < 1e-4);
    assert!(data[1]
        .location_flags
        .contains(sys::SpaceLocationFlags::POSITION_VALID));
    assert!(vel[0]
        .velocity_flags
        .contains(sys::SpaceVelocityFlags::LINEAR_VALID));
    // Mismatched counts are invalid.
    let mut bad = sys::SpaceLocations {
        location_count: 1,
        next: null_mut(),
        ..locs
    };
    assert_eq!(
        unsafe { sp::xrLocateSpaces(session, &info, &mut bad) },
        sys::Result::ERROR_VALIDATION_FAILURE
    );
    assert_eq!(unsafe { i::xrDestroyInstance(inst) }, sys::Result::SUCCESS);
    // A 1.0 instance without the extension has no LOCAL_FLOOR.
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    let ci = sys::ReferenceSpaceCreateInfo {
        ty: sys::ReferenceSpaceCreateInfo::TYPE,
        next: null(),
        reference_space_type: sys::ReferenceSpaceType::LOCAL_FLOOR,
        pose_in_reference_space: sys::Posef::IDENTITY,
    };
    let mut sp_ = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &ci, &mut sp_) },
        sys::Result::ERROR_REFERENCE_SPACE_UNSUPPORTED
    );
    // A reference space type no extension defines is unsupported too.
    let unknown = sys::ReferenceSpaceCreateInfo {
        reference_space_type: sys::ReferenceSpaceType::from_raw(0x7fff_ffff),
        ..ci
    };
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &unknown, &mut sp_) },
        sys::Result::ERROR_REFERENCE_SPACE_UNSUPPORTED
    );
    // So is a form factor no one defined.
    assert_eq!(
        get_system(inst, sys::FormFactor::from_raw(0x7fff_ffff)).err(),
        Some(sys::Result::ERROR_FORM_FACTOR_UNSUPPORTED)
    );
    // A headless session's layers are not read: the CTS hands it a
    // projection layer without views.
    begin(session);
    let mut fs = frame_state();
    assert_eq!(
        unsafe { s::xrWaitFrame(session, null(), &mut fs) },
        sys::Result::SUCCESS
    );
    assert_eq!(
        unsafe { s::xrBeginFrame(session, null()) },
        sys::Result::SUCCESS
    );
    let projection = sys::CompositionLayerProjection {
        ty: sys::CompositionLayerProjection::TYPE,
        next: null(),
        layer_flags: sys::CompositionLayerFlags::EMPTY,
        space: sys::Space::NULL,
        view_count: 0,
        views: null(),
    };
    let layers = [&projection as *const _ as *const sys::CompositionLayerBaseHeader];
    let info = sys::FrameEndInfo {
        ty: sys::FrameEndInfo::TYPE,
        next: null(),
        display_time: fs.predicted_display_time,
        environment_blend_mode: sys::EnvironmentBlendMode::OPAQUE,
        layer_count: 1,
        layers: layers.as_ptr(),
    };
    assert_eq!(
        unsafe { s::xrEndFrame(session, &info) },
        sys::Result::SUCCESS
    );
    unsafe { i::xrDestroyInstance(inst) };
    // Extension dependencies: an error in 1.1, tolerated in 1.0.
    let dpad = c"XR_EXT_dpad_binding";
    assert_eq!(
        create_instance(sys::Version::new(1, 1, 0), &[HEADLESS, dpad], null()).err(),
        Some(sys::Result::ERROR_EXTENSION_DEPENDENCY_NOT_ENABLED)
    );
    let inst = create_instance(
        sys::Version::new(1, 1, 0),
        &[dpad, c"XR_KHR_binding_modification"],
        null(),
    )
    .unwrap();
    unsafe { i::xrDestroyInstance(inst) };
    let inst = create_instance(sys::Version::new(1, 0, 0), &[dpad], null()).unwrap();
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn stale_handles_null_pointers_and_wrong_types() {
    let _g = serial();
    set_env(&[]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    let mut props = sys::InstanceProperties {
        ty: sys::InstanceProperties::TYPE,
        next: null_mut(),
        runtime_version: sys::Version::new(0, 0, 0),
        runtime_name: [0; 128],
    };
    unsafe {
        assert_eq!(
            i::xrGetInstanceProperties(inst, null_mut()),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let mut wrong = props;
        wrong.ty = sys::StructureType::SYSTEM_PROPERTIES;
        assert_eq!(
            i::xrGetInstanceProperties(inst, &mut wrong),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        // A session handle where an instance is expected.
        assert_eq!(
            i::xrGetInstanceProperties(sys::Instance::from_raw(session.into_raw()), &mut props),
            sys::Result::ERROR_HANDLE_INVALID
        );
        assert_eq!(
            i::xrGetInstanceProperties(sys::Instance::from_raw(0xdead_beef), &mut props),
            sys::Result::ERROR_HANDLE_INVALID
        );
        // Destroying the instance destroys its session.
        assert_eq!(i::xrDestroyInstance(inst), sys::Result::SUCCESS);
        assert_eq!(
            i::xrGetInstanceProperties(inst, &mut props),
            sys::Result::ERROR_HANDLE_INVALID
        );
        assert_eq!(
            s::xrRequestExitSession(session),
            sys::Result::ERROR_HANDLE_INVALID
        );
        assert_eq!(
            i::xrDestroyInstance(inst),
            sys::Result::ERROR_HANDLE_INVALID
        );
    }
    // No graphics binding and no XR_MND_headless: no session.
    let inst = create_instance(sys::Version::new(1, 0, 0), &[], null()).unwrap();
    let gi = sys::SystemGetInfo {
        ty: sys::SystemGetInfo::TYPE,
        next: null(),
        form_factor: sys::FormFactor::HEAD_MOUNTED_DISPLAY,
    };
    let mut system = sys::SystemId::NULL;
    assert_eq!(
        unsafe { i::xrGetSystem(inst, &gi, &mut system) },
        sys::Result::SUCCESS
    );
    let ci = sys::SessionCreateInfo {
        ty: sys::SessionCreateInfo::TYPE,
        next: null(),
        create_flags: sys::SessionCreateFlags::EMPTY,
        system_id: system,
    };
    let mut session = sys::Session::NULL;
    assert_eq!(
        unsafe { s::xrCreateSession(inst, &ci, &mut session) },
        sys::Result::ERROR_GRAPHICS_DEVICE_INVALID
    );
    // An empty application name.
    let mut bad = sys::InstanceCreateInfo {
        ty: sys::InstanceCreateInfo::TYPE,
        next: null(),
        create_flags: sys::InstanceCreateFlags::EMPTY,
        application_info: sys::ApplicationInfo {
            application_name: [0; 128],
            application_version: 0,
            engine_name: [0; 128],
            engine_version: 0,
            api_version: sys::Version::new(1, 0, 0),
        },
        enabled_api_layer_count: 0,
        enabled_api_layer_names: null(),
        enabled_extension_count: 0,
        enabled_extension_names: null(),
    };
    let mut out = sys::Instance::NULL;
    assert_eq!(
        unsafe { i::xrCreateInstance(&bad, &mut out) },
        sys::Result::ERROR_NAME_INVALID
    );
    bad.application_info.application_name = name_array("x");
    bad.enabled_extension_count = 1;
    assert_eq!(
        unsafe { i::xrCreateInstance(&bad, &mut out) },
        sys::Result::ERROR_VALIDATION_FAILURE
    );
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn full_event_queue_reports_lost_events() {
    let _g = serial();
    set_env(&[("PARALLAX_EVENT_QUEUE", "4")]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst); // IDLE, READY
    begin(session);
    assert_eq!(frame(session), sys::Result::SUCCESS); // SYNCHRONIZED, VISIBLE, FOCUSED: 5 events, 4 fit
    let events = poll_all(inst);
    assert_eq!(events[0].0, sys::EventDataEventsLost::TYPE);
    assert_eq!(events[0].2, 1);
    assert_eq!(events.len(), 5);
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn runtime_ends_the_session_after_n_frames() {
    let _g = serial();
    set_env(&[("PARALLAX_EXIT_AFTER_FRAMES", "5")]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    begin(session);
    for _ in 0..5 {
        assert_eq!(frame(session), sys::Result::SUCCESS);
    }
    let states: Vec<_> = poll_all(inst).into_iter().filter_map(|e| e.1).collect();
    assert_eq!(
        states.last(),
        Some(&sys::SessionState::STOPPING),
        "{states:?}"
    );
    assert_eq!(unsafe { s::xrEndSession(session) }, sys::Result::SUCCESS);
    let states: Vec<_> = poll_all(inst).into_iter().filter_map(|e| e.1).collect();
    assert_eq!(
        states,
        vec![sys::SessionState::IDLE, sys::SessionState::EXITING]
    );
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn lost_headset_makes_the_session_loss_pending() {
    let _g = serial();
    set_env(&[("PARALLAX_SIM_DISCONNECT_AFTER_MS", "150")]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    begin(session);
    let start = std::time::Instant::now();
    let mut last = sys::Result::SUCCESS;
    while start.elapsed() < std::time::Duration::from_secs(2) {
        last = frame(session);
        if last == sys::Result::SESSION_LOSS_PENDING {
            break;
        }
        assert_eq!(last, sys::Result::SUCCESS);
    }
    assert_eq!(last, sys::Result::SESSION_LOSS_PENDING);
    let states: Vec<_> = poll_all(inst).into_iter().filter_map(|e| e.1).collect();
    assert_eq!(states.last(), Some(&sys::SessionState::LOSS_PENDING));
    // The system is gone: a new session cannot be had.
    let gi = sys::SystemGetInfo {
        ty: sys::SystemGetInfo::TYPE,
        next: null(),
        form_factor: sys::FormFactor::HEAD_MOUNTED_DISPLAY,
    };
    let mut system = sys::SystemId::NULL;
    assert_eq!(
        unsafe { i::xrGetSystem(inst, &gi, &mut system) },
        sys::Result::ERROR_FORM_FACTOR_UNAVAILABLE
    );
    assert_eq!(
        unsafe { s::xrDestroySession(session) },
        sys::Result::SUCCESS
    );
    unsafe { i::xrDestroyInstance(inst) };
}

type Log = Arc<Mutex<Vec<(u64, String, String)>>>;

unsafe extern "system" fn record(
    sev: sys::DebugUtilsMessageSeverityFlagsEXT,
    _t: sys::DebugUtilsMessageTypeFlagsEXT,
    data: *const sys::DebugUtilsMessengerCallbackDataEXT,
    user: *mut c_void,
) -> sys::Bool32 {
    let log = unsafe { &*(user as *const Mutex<Vec<(u64, String, String)>>) };
    let d = unsafe { &*data };
    let f = unsafe { CStr::from_ptr(d.function_name) }
        .to_string_lossy()
        .into_owned();
    let m = unsafe { CStr::from_ptr(d.message) }
        .to_string_lossy()
        .into_owned();
    log.lock().unwrap().push((sev.into_raw(), f, m));
    sys::FALSE
}

/// A driver that panics inside a callback (contained by the ABI shims) is a
/// lost headset: the session goes to LOSS_PENDING, the app does not crash.
#[test]
fn failing_driver_makes_the_session_loss_pending() {
    let _g = serial();
    let exe = std::env::current_exe().unwrap();
    let lib = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libparallax_driver_broken.so");
    assert!(
        lib.exists(),
        "{} missing: cargo build --workspace",
        lib.display()
    );
    let lib = lib.to_string_lossy().into_owned();
    set_env(&[
        ("PARALLAX_DRIVER_PATH", &lib),
        ("PARALLAX_DRIVER", "broken"),
        ("PARALLAX_BROKEN_FAULTS", "panic"),
    ]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    begin(session);
    let ci = sys::ReferenceSpaceCreateInfo {
        ty: sys::ReferenceSpaceCreateInfo::TYPE,
        next: null(),
        reference_space_type: sys::ReferenceSpaceType::VIEW,
        pose_in_reference_space: sys::Posef::IDENTITY,
    };
    let mut view = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &ci, &mut view) },
        sys::Result::SUCCESS
    );
    let local_ci = sys::ReferenceSpaceCreateInfo {
        reference_space_type: sys::ReferenceSpaceType::LOCAL,
        ..ci
    };
    let mut local = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &local_ci, &mut local) },
        sys::Result::SUCCESS
    );
    let start = std::time::Instant::now();
    let mut last = sys::Result::SUCCESS;
    while start.elapsed() < std::time::Duration::from_secs(2) {
        let mut loc = sys::SpaceLocation {
            ty: sys::SpaceLocation::TYPE,
            next: null_mut(),
            location_flags: sys::SpaceLocationFlags::EMPTY,
            pose: sys::Posef::IDENTITY,
        };
        let t = sys::Time::from_nanos(now_ns());
        let r = unsafe { sp::xrLocateSpace(view, local, t, &mut loc) };
        assert_eq!(
            r,
            sys::Result::SUCCESS,
            "locating never fails, it goes untracked"
        );
        last = frame(session);
        if last == sys::Result::SESSION_LOSS_PENDING {
            break;
        }
        assert_eq!(last, sys::Result::SUCCESS);
    }
    assert_eq!(last, sys::Result::SESSION_LOSS_PENDING);
    let states: Vec<_> = poll_all(inst).into_iter().filter_map(|e| e.1).collect();
    assert_eq!(states.last(), Some(&sys::SessionState::LOSS_PENDING));
    unsafe { i::xrDestroyInstance(inst) };
}

fn now_ns() -> i64 {
    parallax_sdk::types::Time::now().as_nanos()
}

#[test]
fn messengers_receive_runtime_warnings_and_app_messages() {
    let _g = serial();
    set_env(&[]);
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let ci = sys::DebugUtilsMessengerCreateInfoEXT {
        ty: sys::DebugUtilsMessengerCreateInfoEXT::TYPE,
        next: null(),
        message_severities: sys::DebugUtilsMessageSeverityFlagsEXT::from_raw(0x1111),
        message_types: sys::DebugUtilsMessageTypeFlagsEXT::from_raw(0xF),
        user_callback: Some(record),
        user_data: Arc::as_ptr(&log) as *mut c_void,
    };
    // Chained at creation: gets the creation message.
    let inst = create_instance(
        sys::Version::new(1, 0, 0),
        &[HEADLESS, c"XR_EXT_debug_utils"],
        &ci as *const _ as *const c_void,
    )
    .unwrap();
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.1 == "xrCreateInstance"));
    let mut m = sys::DebugUtilsMessengerEXT::NULL;
    assert_eq!(
        unsafe { d::xrCreateDebugUtilsMessengerEXT(inst, &ci, &mut m) },
        sys::Result::SUCCESS
    );
    // A bad call is reported with the function's name.
    let mut path = sys::Path::NULL;
    assert_eq!(
        unsafe { i::xrStringToPath(inst, c"/Bad//Path".as_ptr(), &mut path) },
        sys::Result::ERROR_PATH_FORMAT_INVALID
    );
    {
        let l = log.lock().unwrap();
        let w = l
            .iter()
            .find(|e| e.1 == "xrStringToPath")
            .expect("warning delivered");
        assert_eq!(
            w.0,
            sys::DebugUtilsMessageSeverityFlagsEXT::WARNING.into_raw()
        );
        assert!(w.2.contains("not well-formed"), "{}", w.2);
    }
    // App-submitted messages.
    let data = sys::DebugUtilsMessengerCallbackDataEXT {
        ty: sys::DebugUtilsMessengerCallbackDataEXT::TYPE,
        next: null(),
        message_id: c"app-1".as_ptr(),
        function_name: c"appFunction".as_ptr(),
        message: c"hello".as_ptr(),
        object_count: 0,
        objects: null_mut(),
        session_label_count: 0,
        session_labels: null_mut(),
    };
    assert_eq!(
        unsafe {
            d::xrSubmitDebugUtilsMessageEXT(
                inst,
                sys::DebugUtilsMessageSeverityFlagsEXT::INFO,
                sys::DebugUtilsMessageTypeFlagsEXT::GENERAL,
                &data,
            )
        },
        sys::Result::SUCCESS
    );
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|e| e.1 == "appFunction" && e.2 == "hello"));
    assert_eq!(
        unsafe { d::xrDestroyDebugUtilsMessengerEXT(m) },
        sys::Result::SUCCESS
    );
    assert_eq!(
        unsafe { d::xrDestroyDebugUtilsMessengerEXT(m) },
        sys::Result::ERROR_HANDLE_INVALID
    );
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn wait_frame_blocks_until_the_previous_frame_begins() {
    let _g = serial();
    set_env(&[]);
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    begin(session);
    let mut fs = frame_state();
    assert_eq!(
        unsafe { s::xrWaitFrame(session, null(), &mut fs) },
        sys::Result::SUCCESS
    );
    // A second xrWaitFrame on another thread must wait for xrBeginFrame here.
    let raw = session.into_raw();
    let waiter = std::thread::spawn(move || {
        let mut fs2 = frame_state();
        let r = unsafe { s::xrWaitFrame(sys::Session::from_raw(raw), null(), &mut fs2) };
        (
            r,
            std::time::Instant::now(),
            fs2.predicted_display_time.as_nanos(),
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    let began = std::time::Instant::now();
    assert_eq!(
        unsafe { s::xrBeginFrame(session, null()) },
        sys::Result::SUCCESS
    );
    let (r, returned, t2) = waiter.join().unwrap();
    assert_eq!(r, sys::Result::SUCCESS);
    assert!(
        returned >= began,
        "xrWaitFrame returned before xrBeginFrame"
    );
    assert!(t2 > fs.predicted_display_time.as_nanos());
    // Actions are not attached: syncing says so.
    let sync = sys::ActionsSyncInfo {
        ty: sys::ActionsSyncInfo::TYPE,
        next: null(),
        count_active_action_sets: 0,
        active_action_sets: null(),
    };
    assert_eq!(
        unsafe { a::xrSyncActions(session, &sync) },
        sys::Result::ERROR_ACTIONSET_NOT_ATTACHED
    );
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn scripted_motion_is_predicted_exactly() {
    let _g = serial();
    set_env(&[]);
    std::env::set_var("PARALLAX_SIM_MOTION", "scripted:7");
    let inst = create_instance(sys::Version::new(1, 0, 0), &[HEADLESS], null()).unwrap();
    let session = headless_session(inst);
    let mk = |ty| {
        let ci = sys::ReferenceSpaceCreateInfo {
            ty: sys::ReferenceSpaceCreateInfo::TYPE,
            next: null(),
            reference_space_type: ty,
            pose_in_reference_space: sys::Posef::IDENTITY,
        };
        let mut sp_ = sys::Space::NULL;
        assert_eq!(
            unsafe { sp::xrCreateReferenceSpace(session, &ci, &mut sp_) },
            sys::Result::SUCCESS
        );
        sp_
    };
    let (view, stage) = (
        mk(sys::ReferenceSpaceType::VIEW),
        mk(sys::ReferenceSpaceType::STAGE),
    );
    let motion = parallax_driver_simulated::Motion {
        kind: parallax_driver_simulated::MotionKind::Scripted { seed: 7 },
    };
    // Any time, past or future: prediction is the closed form.
    for t in [1_000_000_000i64, 5_123_456_789, 987_654_321_000] {
        let mut loc = sys::SpaceLocation {
            ty: sys::SpaceLocation::TYPE,
            next: null_mut(),
            location_flags: sys::SpaceLocationFlags::EMPTY,
            pose: sys::Posef::IDENTITY,
        };
        assert_eq!(
            unsafe { sp::xrLocateSpace(view, stage, sys::Time::from_nanos(t), &mut loc) },
            sys::Result::SUCCESS
        );
        let (want, _) = motion.head(parallax_sdk::types::Time(t));
        let got = glam::Vec3::new(
            loc.pose.position.x,
            loc.pose.position.y,
            loc.pose.position.z,
        );
        assert!(
            (got - want.position).length() < 1e-5,
            "{got} vs {}",
            want.position
        );
        let q = glam::Quat::from_xyzw(
            loc.pose.orientation.x,
            loc.pose.orientation.y,
            loc.pose.orientation.z,
            loc.pose.orientation.w,
        );
        assert!(q.dot(want.orientation).abs() > 0.99999);
    }
    std::env::set_var("PARALLAX_SIM_MOTION", "static");
    unsafe { i::xrDestroyInstance(inst) };
}

#[test]
fn visibility_mask_from_the_lens_model() {
    let _g = serial();
    set_env(&[]);
    let inst = create_instance(
        sys::Version::new(1, 0, 0),
        &[HEADLESS, c"XR_KHR_visibility_mask"],
        null(),
    )
    .unwrap();
    let session = headless_session(inst);
    let empty = || sys::VisibilityMaskKHR {
        ty: sys::VisibilityMaskKHR::TYPE,
        next: null_mut(),
        vertex_capacity_input: 0,
        vertex_count_output: 0,
        vertices: null_mut(),
        index_capacity_input: 0,
        index_count_output: 0,
        indices: null_mut(),
    };
    let stereo = sys::ViewConfigurationType::PRIMARY_STEREO;
    for kind in [
        sys::VisibilityMaskTypeKHR::HIDDEN_TRIANGLE_MESH,
        sys::VisibilityMaskTypeKHR::VISIBLE_TRIANGLE_MESH,
        sys::VisibilityMaskTypeKHR::LINE_LOOP,
    ] {
        let mut m = empty();
        assert_eq!(
            unsafe { sp::xrGetVisibilityMaskKHR(session, stereo, 1, kind, &mut m) },
            sys::Result::SUCCESS
        );
        assert!(m.vertex_count_output > 0 && m.index_count_output > 0);
        let mut v = vec![sys::Vector2f::default(); m.vertex_count_output as usize];
        let mut idx = vec![0u32; m.index_count_output as usize];
        let mut small = sys::VisibilityMaskKHR {
            vertex_capacity_input: 1,
            vertices: v.as_mut_ptr(),
            index_capacity_input: idx.len() as u32,
            indices: idx.as_mut_ptr(),
            ..empty()
        };
        assert_eq!(
            unsafe { sp::xrGetVisibilityMaskKHR(session, stereo, 1, kind, &mut small) },
            sys::Result::ERROR_SIZE_INSUFFICIENT
        );
        let mut full = sys::VisibilityMaskKHR {
            vertex_capacity_input: v.len() as u32,
            vertices: v.as_mut_ptr(),
            index_capacity_input: idx.len() as u32,
            indices: idx.as_mut_ptr(),
            ..empty()
        };
        assert_eq!(
            unsafe { sp::xrGetVisibilityMaskKHR(session, stereo, 1, kind, &mut full) },
            sys::Result::SUCCESS
        );
        assert!(idx.iter().all(|&i| (i as usize) < v.len()));
        if kind != sys::VisibilityMaskTypeKHR::HIDDEN_TRIANGLE_MESH {
            // The simulated lens sees up to a tangent radius of 1.3.
            assert!(v
                .iter()
                .all(|p| (p.x * p.x + p.y * p.y).sqrt() <= 1.3 + 1e-4));
        }
    }
    let mut m = empty();
    assert_eq!(
        unsafe {
            sp::xrGetVisibilityMaskKHR(
                session,
                stereo,
                2,
                sys::VisibilityMaskTypeKHR::LINE_LOOP,
                &mut m,
            )
        },
        sys::Result::ERROR_VALIDATION_FAILURE
    );
    assert_eq!(
        unsafe {
            sp::xrGetVisibilityMaskKHR(
                session,
                stereo,
                0,
                sys::VisibilityMaskTypeKHR::from_raw(9),
                &mut m,
            )
        },
        sys::Result::ERROR_VALIDATION_FAILURE
    );
    assert_eq!(
        unsafe {
            sp::xrGetVisibilityMaskKHR(
                session,
                sys::ViewConfigurationType::PRIMARY_MONO,
                0,
                sys::VisibilityMaskTypeKHR::LINE_LOOP,
                &mut m,
            )
        },
        sys::Result::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED
    );
    unsafe { i::xrDestroyInstance(inst) };
}

/// What a message carried, copied inside the callback (its pointers are only
/// valid during the call).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: String,
    objects: Vec<(sys::ObjectType, u64, Option<String>)>,
    labels: Vec<String>,
}

type SeenLog = Mutex<Vec<Seen>>;

unsafe fn opt_str(p: *const c_char) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

unsafe extern "system" fn record_seen(
    _s: sys::DebugUtilsMessageSeverityFlagsEXT,
    _t: sys::DebugUtilsMessageTypeFlagsEXT,
    data: *const sys::DebugUtilsMessengerCallbackDataEXT,
    user: *mut c_void,
) -> sys::Bool32 {
    let log = unsafe { &*(user as *const SeenLog) };
    let d = unsafe { &*data };
    let objects = (0..d.object_count as usize)
        .map(|i| {
            let o = unsafe { &*d.objects.add(i) };
            (o.object_type, o.object_handle, unsafe {
                opt_str(o.object_name)
            })
        })
        .collect();
    let labels = (0..d.session_label_count as usize)
        .map(|i| unsafe { opt_str((*d.session_labels.add(i)).label_name) }.unwrap_or_default())
        .collect();
    log.lock().unwrap().push(Seen {
        id: unsafe { opt_str(d.message_id) }.unwrap_or_default(),
        objects,
        labels,
    });
    sys::FALSE
}

fn messenger_info(
    callback: sys::pfn::DebugUtilsMessengerCallbackEXT,
    user: *const c_void,
) -> sys::DebugUtilsMessengerCreateInfoEXT {
    sys::DebugUtilsMessengerCreateInfoEXT {
        ty: sys::DebugUtilsMessengerCreateInfoEXT::TYPE,
        next: null(),
        message_severities: sys::DebugUtilsMessageSeverityFlagsEXT::from_raw(0x1111),
        message_types: sys::DebugUtilsMessageTypeFlagsEXT::from_raw(0xF),
        user_callback: Some(callback),
        user_data: user as *mut c_void,
    }
}

fn submit(inst: sys::Instance, id: &CStr, objects: &mut [sys::DebugUtilsObjectNameInfoEXT]) {
    let data = sys::DebugUtilsMessengerCallbackDataEXT {
        ty: sys::DebugUtilsMessengerCallbackDataEXT::TYPE,
        next: null(),
        message_id: id.as_ptr(),
        function_name: c"test".as_ptr(),
        message: c"message".as_ptr(),
        object_count: objects.len() as u32,
        objects: objects.as_mut_ptr(),
        session_label_count: 0,
        session_labels: null_mut(),
    };
    assert_eq!(
        unsafe {
            d::xrSubmitDebugUtilsMessageEXT(
                inst,
                sys::DebugUtilsMessageSeverityFlagsEXT::VERBOSE,
                sys::DebugUtilsMessageTypeFlagsEXT::PERFORMANCE,
                &data,
            )
        },
        sys::Result::SUCCESS
    );
}

fn object(
    ty: sys::ObjectType,
    handle: u64,
    name: Option<&CStr>,
) -> sys::DebugUtilsObjectNameInfoEXT {
    sys::DebugUtilsObjectNameInfoEXT {
        ty: sys::DebugUtilsObjectNameInfoEXT::TYPE,
        next: null(),
        object_type: ty,
        object_handle: handle,
        object_name: name.map_or(null(), |n| n.as_ptr()),
    }
}

fn label(name: &CStr) -> sys::DebugUtilsLabelEXT {
    sys::DebugUtilsLabelEXT {
        ty: sys::DebugUtilsLabelEXT::TYPE,
        next: null(),
        label_name: name.as_ptr(),
    }
}

/// Session labels come most recent first (the inserted label, then the open
/// regions from the innermost out); an inserted label lasts until the next
/// label call; names set on a handle replace the names a message carries.
#[test]
fn session_labels_and_object_names_follow_the_spec() {
    let _g = serial();
    set_env(&[]);
    let inst = create_instance(
        sys::Version::new(1, 0, 0),
        &[HEADLESS, c"XR_EXT_debug_utils"],
        null(),
    )
    .unwrap();
    let session = headless_session(inst);
    let log: SeenLog = Mutex::new(Vec::new());
    let ci = messenger_info(record_seen, &log as *const SeenLog as *const c_void);
    let mut m = sys::DebugUtilsMessengerEXT::NULL;
    assert_eq!(
        unsafe { d::xrCreateDebugUtilsMessengerEXT(inst, &ci, &mut m) },
        sys::Result::SUCCESS
    );
    let (i_raw, s_raw) = (inst.into_raw(), session.into_raw());
    let labels_after = |id: &CStr| -> Vec<String> {
        submit(
            inst,
            id,
            &mut [object(sys::ObjectType::SESSION, s_raw, None)],
        );
        let l = log.lock().unwrap();
        let seen = l.iter().find(|s| s.id == id.to_str().unwrap()).unwrap();
        seen.labels.clone()
    };
    let ok = sys::Result::SUCCESS;
    assert_eq!(
        unsafe { d::xrSessionInsertDebugUtilsLabelEXT(session, &label(c"first")) },
        ok
    );
    assert_eq!(labels_after(c"1"), ["first"]);
    assert_eq!(
        unsafe { d::xrSessionBeginDebugUtilsLabelRegionEXT(session, &label(c"region A")) },
        ok
    );
    assert_eq!(labels_after(c"2"), ["region A"]);
    assert_eq!(
        unsafe { d::xrSessionInsertDebugUtilsLabelEXT(session, &label(c"second")) },
        ok
    );
    assert_eq!(labels_after(c"3"), ["second", "region A"]);
    assert_eq!(
        unsafe { d::xrSessionInsertDebugUtilsLabelEXT(session, &label(c"third")) },
        ok
    );
    assert_eq!(labels_after(c"4"), ["third", "region A"]);
    assert_eq!(
        unsafe { d::xrSessionBeginDebugUtilsLabelRegionEXT(session, &label(c"region B")) },
        ok
    );
    assert_eq!(labels_after(c"5"), ["region B", "region A"]);
    assert_eq!(
        unsafe { d::xrSessionEndDebugUtilsLabelRegionEXT(session) },
        ok
    );
    assert_eq!(labels_after(c"6"), ["region A"]);
    assert_eq!(
        unsafe { d::xrSessionEndDebugUtilsLabelRegionEXT(session) },
        ok
    );
    assert!(labels_after(c"7").is_empty());
    // Ending a region that is not open is a no-op, as in the Khronos loader.
    assert_eq!(
        unsafe { d::xrSessionEndDebugUtilsLabelRegionEXT(session) },
        ok
    );
    assert_eq!(
        unsafe { d::xrSessionInsertDebugUtilsLabelEXT(session, null()) },
        sys::Result::ERROR_VALIDATION_FAILURE
    );

    // Names: a stored name wins over the message's; others keep theirs;
    // an empty name removes the stored one.
    let name = object(sys::ObjectType::INSTANCE, i_raw, Some(c"My Instance"));
    assert_eq!(unsafe { d::xrSetDebugUtilsObjectNameEXT(inst, &name) }, ok);
    submit(
        inst,
        c"names",
        &mut [
            object(sys::ObjectType::INSTANCE, i_raw, Some(c"Not my instance")),
            object(sys::ObjectType::SESSION, s_raw, Some(c"My Session")),
        ],
    );
    let unset = object(sys::ObjectType::INSTANCE, i_raw, Some(c""));
    assert_eq!(unsafe { d::xrSetDebugUtilsObjectNameEXT(inst, &unset) }, ok);
    submit(
        inst,
        c"unnamed",
        &mut [object(sys::ObjectType::INSTANCE, i_raw, None)],
    );
    {
        let l = log.lock().unwrap();
        let names = |id: &str| -> Vec<Option<String>> {
            l.iter()
                .find(|s| s.id == id)
                .unwrap()
                .objects
                .iter()
                .map(|o| o.2.clone())
                .collect()
        };
        assert_eq!(
            names("names"),
            [
                Some("My Instance".to_owned()),
                Some("My Session".to_owned())
            ]
        );
        assert_eq!(names("unnamed"), [None]);
    }
    assert_eq!(unsafe { d::xrDestroyDebugUtilsMessengerEXT(m) }, ok);
    unsafe { i::xrDestroyInstance(inst) };
}

/// What one messenger's `userData` points to in the thread test.
#[derive(Default)]
struct Watch {
    destroyed: std::sync::atomic::AtomicBool,
    calls: std::sync::atomic::AtomicU64,
    late: std::sync::atomic::AtomicU64,
}

unsafe extern "system" fn watch(
    _s: sys::DebugUtilsMessageSeverityFlagsEXT,
    _t: sys::DebugUtilsMessageTypeFlagsEXT,
    data: *const sys::DebugUtilsMessengerCallbackDataEXT,
    user: *mut c_void,
) -> sys::Bool32 {
    use std::sync::atomic::Ordering::SeqCst;
    let w = unsafe { &*(user as *const Watch) };
    let d = unsafe { &*data };
    // Read every string the runtime handed over (a freed one shows under
    // valgrind), and stay a while so destroys on other threads overlap.
    let mut bytes = unsafe { CStr::from_ptr(d.message) }.to_bytes().len();
    for i in 0..d.object_count as usize {
        bytes += unsafe { opt_str((*d.objects.add(i)).object_name) }.map_or(0, |s| s.len());
    }
    for i in 0..d.session_label_count as usize {
        bytes += unsafe { opt_str((*d.session_labels.add(i)).label_name) }.map_or(0, |s| s.len());
    }
    std::hint::black_box(bytes);
    std::thread::sleep(std::time::Duration::from_micros(50));
    if w.destroyed.load(SeqCst) {
        w.late.fetch_add(1, SeqCst);
    }
    w.calls.fetch_add(1, SeqCst);
    sys::FALSE
}

/// Messengers created and destroyed on several threads while others submit
/// messages, name objects and push labels: no callback ever runs after its
/// messenger's destroy returned (the app frees `userData` then). Also run
/// under valgrind by `scripts/test.sh`.
#[test]
fn messengers_and_labels_from_several_threads() {
    use std::sync::atomic::Ordering::SeqCst;
    let _g = serial();
    set_env(&[]);
    let inst = create_instance(
        sys::Version::new(1, 0, 0),
        &[HEADLESS, c"XR_EXT_debug_utils"],
        null(),
    )
    .unwrap();
    let session = headless_session(inst);
    let (i_raw, s_raw) = (inst.into_raw(), session.into_raw());
    let rounds: usize = std::env::var("PARALLAX_TEST_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let watches: Vec<Arc<Watch>> = (0..2 * rounds).map(|_| Arc::default()).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::scope(|scope| {
        // Two threads create and destroy messengers.
        for part in watches.chunks(rounds) {
            scope.spawn(move || {
                let inst = sys::Instance::from_raw(i_raw);
                for w in part {
                    let ci = messenger_info(watch, Arc::as_ptr(w) as *const c_void);
                    let mut m = sys::DebugUtilsMessengerEXT::NULL;
                    assert_eq!(
                        unsafe { d::xrCreateDebugUtilsMessengerEXT(inst, &ci, &mut m) },
                        sys::Result::SUCCESS
                    );
                    std::thread::sleep(std::time::Duration::from_micros(100));
                    assert_eq!(
                        unsafe { d::xrDestroyDebugUtilsMessengerEXT(m) },
                        sys::Result::SUCCESS
                    );
                    w.destroyed.store(true, SeqCst);
                }
            });
        }
        // Two threads submit messages naming the session and the instance.
        for t in 0..2 {
            let stop = stop.clone();
            scope.spawn(move || {
                let inst = sys::Instance::from_raw(i_raw);
                while !stop.load(SeqCst) {
                    submit(
                        inst,
                        if t == 0 { c"a" } else { c"b" },
                        &mut [
                            object(sys::ObjectType::SESSION, s_raw, None),
                            object(sys::ObjectType::INSTANCE, i_raw, Some(c"inline name")),
                        ],
                    );
                }
            });
        }
        // One thread renames objects and moves the session's labels.
        let stop2 = stop.clone();
        scope.spawn(move || {
            let inst = sys::Instance::from_raw(i_raw);
            let session = sys::Session::from_raw(s_raw);
            let mut n = 0u32;
            while !stop2.load(SeqCst) {
                let name = std::ffi::CString::new(format!("name {n}")).unwrap();
                let info = object(sys::ObjectType::SESSION, s_raw, Some(&name));
                unsafe {
                    d::xrSetDebugUtilsObjectNameEXT(inst, &info);
                    let l = std::ffi::CString::new(format!("label {n}")).unwrap();
                    d::xrSessionBeginDebugUtilsLabelRegionEXT(session, &label(&l));
                    d::xrSessionInsertDebugUtilsLabelEXT(session, &label(&l));
                    d::xrSessionEndDebugUtilsLabelRegionEXT(session);
                }
                n = n.wrapping_add(1);
            }
        });
        // The destroying threads end first; then the rest stop.
        while watches.iter().any(|w| !w.destroyed.load(SeqCst)) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        stop.store(true, SeqCst);
    });
    let calls: u64 = watches.iter().map(|w| w.calls.load(SeqCst)).sum();
    let late: u64 = watches.iter().map(|w| w.late.load(SeqCst)).sum();
    assert!(calls > 0, "no callback ran");
    assert_eq!(
        late, 0,
        "{late} of {calls} callbacks ran after their messenger was destroyed"
    );
    unsafe { i::xrDestroyInstance(inst) };
}

/// View configuration types: a type the instance knows (core, or of an
/// enabled extension) but the system lacks is UNSUPPORTED; an extension's
/// type without the extension is not a valid enum value (VALIDATION_FAILURE);
/// PRIMARY_STEREO_WITH_FOVEATED_INSET is core from 1.1 on.
#[test]
fn view_configuration_types_follow_the_instance() {
    let _g = serial();
    set_env(&[]);
    let inset = sys::ViewConfigurationType::PRIMARY_QUAD_VARJO; // == STEREO_WITH_FOVEATED_INSET
    let observer = sys::ViewConfigurationType::SECONDARY_MONO_FIRST_PERSON_OBSERVER_MSFT;
    let mono = sys::ViewConfigurationType::PRIMARY_MONO;
    let bogus = sys::ViewConfigurationType::from_raw(0x7fff_0000);
    use sys::Result as R;
    for (version, expect) in [
        (
            sys::Version::new(1, 0, 0),
            [
                (mono, R::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED),
                (inset, R::ERROR_VALIDATION_FAILURE),
                (observer, R::ERROR_VALIDATION_FAILURE),
                (bogus, R::ERROR_VALIDATION_FAILURE),
            ],
        ),
        (
            sys::Version::new(1, 1, 0),
            [
                (mono, R::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED),
                (inset, R::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED),
                (observer, R::ERROR_VALIDATION_FAILURE),
                (bogus, R::ERROR_VALIDATION_FAILURE),
            ],
        ),
    ] {
        let inst = create_instance(version, &[HEADLESS], null()).unwrap();
        let system = get_system(inst, sys::FormFactor::HEAD_MOUNTED_DISPLAY).unwrap();
        let session = headless_session(inst);
        for (ty, want) in expect {
            let mut n = 0;
            let got = unsafe {
                i::xrEnumerateViewConfigurationViews(inst, system, ty, 0, &mut n, null_mut())
            };
            assert_eq!(got, want, "{version:?} views of {ty:?}");
            let bi = sys::SessionBeginInfo {
                ty: sys::SessionBeginInfo::TYPE,
                next: null(),
                primary_view_configuration_type: ty,
            };
            let got = unsafe { s::xrBeginSession(session, &bi) };
            assert_eq!(got, want, "{version:?} xrBeginSession with {ty:?}");
        }
        unsafe { i::xrDestroyInstance(inst) };
    }
}
