//! Driver libraries loaded through the ABI: the simulated headset built as
//! a library must be indistinguishable from the built-in one, the C driver
//! must load and describe itself, and every planted fault of the broken
//! driver must be refused or contained. The libraries are built by
//! `cargo build --workspace` (scripts/test.sh does that first).

use parallax_driver_simulated::{MotionKind, SimulatedBuilder};
use parallax_sdk::types::Time;
use parallax_sdk::{Builder, DriverError, InputKind, InputValue};
use parallax_sdk_abi::host::{load, LoadError};
use std::path::PathBuf;

fn lib(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let p = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        p.exists(),
        "{} missing: run `cargo build --workspace` first",
        p.display()
    );
    p
}

#[test]
fn simulated_library_matches_the_built_in_driver() {
    let abi = load(
        &lib("libparallax_driver_simulated.so"),
        Some(r#"{"motion":"static"}"#),
    )
    .unwrap();
    assert_eq!(abi.name(), "simulated-abi");
    assert_eq!(abi.abi_version(), "1.1");
    let native = SimulatedBuilder::new(MotionKind::Static);
    assert_eq!(abi.estimate(), native.estimate());
    let a = abi.open().unwrap();
    let n = native.open().unwrap();
    assert!(
        abi.open().is_err(),
        "a second open of the same library must fail"
    );
    assert_eq!(a.system_name, n.system_name);
    assert_eq!(a.vendor_id, n.vendor_id);
    assert_eq!(a.play_area, n.play_area);
    assert_eq!(a.hmd.display(), n.hmd.display());
    assert_eq!(a.hmd.description(), n.hmd.description());
    assert_eq!(a.devices.len(), n.devices.len());
    let t = Time::now();
    let (pa, pn) = (
        a.hmd.pose("head", t).unwrap(),
        n.hmd.pose("head", t).unwrap(),
    );
    assert_eq!((pa.pose, pa.velocity), (pn.pose, pn.velocity));
    // The 1.1 body stream, joint for joint.
    assert!(a.hmd.description().capabilities.body_tracking);
    assert_eq!(a.hmd.body_joints(t).unwrap(), n.hmd.body_joints(t).unwrap());
    for (da, dn) in a.devices.iter().zip(&n.devices) {
        assert_eq!(da.description(), dn.description());
        let ga = da.pose("input/aim/pose", t).unwrap();
        let gn = dn.pose("input/aim/pose", t).unwrap();
        assert_eq!(ga.pose, gn.pose);
        let mut va = vec![None; da.description().inputs.len()];
        let mut vn = va.clone();
        da.read_inputs(&mut va).unwrap();
        dn.read_inputs(&mut vn).unwrap();
        assert_eq!(va, vn);
        assert!(da.battery().is_ok());
        assert_eq!(
            da.pose("input/nothing/pose", t).unwrap_err(),
            DriverError::NoSuchComponent("get_pose".into())
        );
    }
    assert_eq!(
        a.hmd.face_expressions(t).unwrap(),
        n.hmd.face_expressions(t).unwrap()
    );
    // Refresh rates go through to the library.
    assert_eq!(a.hmd.refresh_rate(), 90.0);
    a.hmd.set_refresh_rate(120.0).unwrap();
    assert_eq!(a.hmd.refresh_rate(), 120.0);
    assert_eq!(a.hmd.set_refresh_rate(50.0), Err(DriverError::Unsupported));
    // Camera streams: described identically, frames carried through the
    // host's buffer with their sequence, time and pixels.
    assert_eq!(a.hmd.description().cameras.len(), 2);
    let mut frame = parallax_sdk::types::CameraFrame::default();
    assert!(a.hmd.camera_frame(1, &mut frame).unwrap());
    assert_eq!((frame.width, frame.height, frame.stride), (640, 480, 640));
    let mut expect = Vec::new();
    parallax_driver_simulated::camera_image(1, frame.sequence, 640, 480, &mut expect);
    assert_eq!(frame.data, expect);
    assert!(frame.time <= Time::now());
    let seq = frame.sequence;
    // Nothing newer within the same 33 ms frame; a newer one after it.
    if !a.hmd.camera_frame(1, &mut frame).unwrap() {
        assert_eq!(frame.sequence, seq);
    }
    std::thread::sleep(std::time::Duration::from_millis(40));
    assert!(a.hmd.camera_frame(1, &mut frame).unwrap());
    assert!(frame.sequence > seq);
    assert!(a.hmd.camera_frame(5, &mut frame).is_err());
    // Closing (dropping every device) lets it open again.
    drop(a);
    let again = abi.open().unwrap();
    assert_eq!(again.hmd.refresh_rate(), 90.0);
}

#[test]
fn c_driver_loads_and_describes_its_headset() {
    let c = load(&PathBuf::from(parallax_driver_c::LIBRARY), None).unwrap();
    assert_eq!(c.name(), "c-sample");
    let e = c.estimate();
    assert!(e.hmd && e.controllers == 2 && e.score == 5);
    let sys = c.open().unwrap();
    assert_eq!(sys.system_name, "Parallax C Sample Headset");
    let d = sys.hmd.display();
    assert_eq!((d.width_per_eye, d.height_per_eye), (1832, 1920));
    assert_eq!(d.refresh_rates_hz, vec![90.0, 120.0, 60.0]);
    assert!((d.ipd() - 0.065).abs() < 1e-6);
    assert_eq!(d.lens.aperture, 1.25);
    let head = sys.hmd.pose("head", Time::now()).unwrap();
    assert!((head.pose.position.y - 1.7).abs() < 1e-6);
    assert!(head.time.0 > 0);
    let right = &sys.devices[1];
    let desc = right.description();
    assert_eq!(
        desc.interaction_profile.as_deref(),
        Some("/interaction_profiles/khr/simple_controller")
    );
    assert_eq!(desc.inputs[0].kind, InputKind::Boolean);
    let mut vals = vec![None; desc.inputs.len()];
    right.read_inputs(&mut vals).unwrap();
    assert_eq!(vals[0], Some(InputValue::Boolean(false)));
    assert_eq!(vals[2], None, "pose inputs carry no value");
    assert!(desc.capabilities.battery && !desc.capabilities.hand_tracking);
    assert!((right.battery().unwrap().charge - 0.8).abs() < 1e-6);
    // Optional functions the C driver left NULL are simply unsupported.
    assert_eq!(
        right.hand_joints(parallax_sdk::types::Hand::Left, Time::now()),
        Err(DriverError::Unsupported)
    );
    let v = parallax_sdk::Vibration {
        duration: parallax_sdk::types::Duration(10_000_000),
        frequency: 0.0,
        amplitude: 0.5,
    };
    right.set_vibration("output/haptic", Some(v)).unwrap();
    right.set_vibration("output/haptic", None).unwrap();
    assert!(right.set_vibration("output/nope", None).is_err());
    let bad = parallax_sdk::Vibration {
        amplitude: 7.0,
        ..v
    };
    assert!(matches!(
        right.set_vibration("output/haptic", Some(bad)),
        Err(DriverError::InvalidArgument(_))
    ));
}

fn broken(faults: &str) -> Result<parallax_sdk_abi::host::AbiBuilder, LoadError> {
    load(
        &lib("libparallax_driver_broken.so"),
        Some(&format!(r#"{{"faults":[{faults}]}}"#)),
    )
}

#[test]
fn broken_driver_faults_are_refused_or_contained() {
    // Wrong vtable size: refused at load, by name.
    let e = broken(r#""wrong_vtable_size""#).unwrap_err();
    assert_eq!(e, LoadError::VtableTooSmall { size: 24, min: 120 });
    // Unknown fault: the driver itself refuses its config.
    assert!(matches!(
        broken(r#""bogus""#),
        Err(LoadError::Negotiation(_))
    ));
    // A panic inside get_pose is contained and reported as an internal error.
    let b = broken(r#""panic""#).unwrap();
    let sys = b.open().unwrap();
    assert!(sys.hmd.pose("head", Time::now()).is_ok());
    assert!(sys.hmd.pose("head", Time::now()).is_ok());
    let third = sys.hmd.pose("head", Time::now());
    assert!(matches!(third, Err(DriverError::Internal(_))), "{third:?}");
    // ...and the library keeps working afterwards.
    assert!(sys.devices[0].pose("input/grip/pose", Time::now()).is_ok());
    drop(sys);
    // NaN poses pass the ABI (it carries numbers) but not the sanitiser.
    let b = broken(r#""nan_pose""#).unwrap();
    let sys = b.open().unwrap();
    let p = sys.hmd.pose("head", Time::now()).unwrap();
    assert!(parallax_sdk::sanitize::tracked_pose(p, None).is_err());
    drop(sys);
    // Backwards timestamps are caught against the previous sample.
    let b = broken(r#""backwards_time""#).unwrap();
    let sys = b.open().unwrap();
    let first = sys.hmd.pose("head", Time::now()).unwrap();
    let second = sys.hmd.pose("head", Time::now()).unwrap();
    assert!(parallax_sdk::sanitize::tracked_pose(second, Some(first.time)).is_err());
    // A refresh rate the display never offered is replaced by the default.
    drop(sys);
    let b = broken(r#""refresh_rate_lie""#).unwrap();
    assert_eq!(b.open().unwrap().hmd.refresh_rate(), 90.0);
    // A body joint with a garbage quaternion passes the ABI but not the
    // sanitiser.
    let b = broken(r#""body_non_unit""#).unwrap();
    let body = b.open().unwrap().hmd.body_joints(Time::now()).unwrap();
    assert!(parallax_sdk::sanitize::body_joints(body).is_err());
}

#[test]
fn a_driver_built_against_abi_1_0_still_works() {
    // The broken driver passing for a 1.0 driver: its vtable ends before
    // get_body_joints, so the host sees no body stream even though the
    // device's capability bit says so, and everything else works.
    let b = broken(r#""abi_1_0""#).unwrap();
    assert_eq!(b.abi_version(), "1.0");
    assert_eq!(
        b.vtable_size(),
        parallax_sdk_abi::ffi::PX_DRIVER_VTABLE_SIZE_1_0
    );
    let sys = b.open().unwrap();
    let caps = sys.hmd.description().capabilities;
    assert!(!caps.body_tracking && caps.face_expressions && caps.eye_gaze);
    assert_eq!(
        sys.hmd.body_joints(Time::now()),
        Err(DriverError::Unsupported)
    );
    assert!(sys.hmd.face_expressions(Time::now()).is_ok());
    assert!(sys.hmd.pose("head", Time::now()).is_ok());
}

#[test]
fn not_a_driver_is_refused() {
    let e = load(&lib("libparallax_openxr.so"), None).unwrap_err();
    assert!(matches!(e, LoadError::MissingSymbol(_)), "{e}");
    let e = load(&PathBuf::from("/nonexistent/libx.so"), None).unwrap_err();
    assert!(matches!(e, LoadError::Open { .. }), "{e}");
}
