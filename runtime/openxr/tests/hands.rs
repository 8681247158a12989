//! `XR_EXT_hand_tracking` and `XR_EXT_hand_joints_motion_range` through the
//! real Khronos loader: the joints an app gets match the driver's ground
//! truth in any space, inactive hands report nothing, the controller range
//! opens a fist around the handle, and every error code the spec lists for
//! the three functions. With a driver that tracks no hands, the system says
//! so and trackers cannot be created.
#![allow(unsafe_code)]
// Raw calls pass pointers to locals and live handles; each group says why above it.
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;
use openxr as xr;
use openxr::sys;
use openxr::sys::Handle as _;
use parallax_sdk::types::{Hand, Time};

fn hand_exts(motion_range: bool) -> xr::ExtensionSet {
    let mut e = headless_exts();
    e.ext_hand_tracking = true;
    e.ext_hand_joints_motion_range = motion_range;
    e
}

/// Ends one frame and returns its predicted display time.
fn frame(h: &mut Headless) -> xr::Time {
    empty_frame(h).predicted_display_time
}

/// Raw `xrLocateHandJointsEXT` with an optional motion range and velocities.
fn locate_raw(
    h: &Headless,
    tracker: sys::HandTrackerEXT,
    base: sys::Space,
    time: xr::Time,
    range: Option<sys::HandJointsMotionRangeEXT>,
    joints: &mut [sys::HandJointLocationEXT],
    velocities: Option<&mut [sys::HandJointVelocityEXT]>,
) -> (sys::Result, bool) {
    let fp = h.instance.exts().ext_hand_tracking.unwrap();
    let range_info = range.map(|r| sys::HandJointsMotionRangeInfoEXT {
        ty: sys::HandJointsMotionRangeInfoEXT::TYPE,
        next: std::ptr::null(),
        hand_joints_motion_range: r,
    });
    let info = sys::HandJointsLocateInfoEXT {
        ty: sys::HandJointsLocateInfoEXT::TYPE,
        next: range_info
            .as_ref()
            .map_or(std::ptr::null(), |r| r as *const _ as *const _),
        base_space: base,
        time,
    };
    let mut vel = velocities.map(|v| sys::HandJointVelocitiesEXT {
        ty: sys::HandJointVelocitiesEXT::TYPE,
        next: std::ptr::null_mut(),
        joint_count: v.len() as u32,
        joint_velocities: v.as_mut_ptr(),
    });
    let mut out = sys::HandJointLocationsEXT {
        ty: sys::HandJointLocationsEXT::TYPE,
        next: vel
            .as_mut()
            .map_or(std::ptr::null_mut(), |v| v as *mut _ as *mut _),
        is_active: sys::FALSE,
        joint_count: joints.len() as u32,
        joint_locations: joints.as_mut_ptr(),
    };
    // SAFETY: every pointer is to a live local of the stated size.
    let r = unsafe { (fp.locate_hand_joints)(tracker, &info, &mut out) };
    (r, out.is_active == sys::TRUE)
}

fn tip_to_palm(j: &[sys::HandJointLocationEXT], tip: usize) -> f32 {
    (pose(&j[tip].pose).position - pose(&j[0].pose).position).length()
}

#[test]
fn hand_joints_through_the_loader() {
    on_loader_thread(|| {
        // The right hand's grip is held from frame 3 on (the desktop
        // simulator's G key; the right hand is the active one).
        std::env::set_var("PARALLAX_SIM_KEYS", "3:g+");
        std::env::set_var("PARALLAX_SIM_MOTION", "static");
        std::env::remove_var("PARALLAX_HANDS");
        std::env::remove_var("PARALLAX_SIM_CAMERAS");
        let e = expected();
        let config = parallax_runtime::config::Config::from_env();
        let truth = parallax_runtime::hub::DeviceHub::open(&config).unwrap();
        let instance =
            instance_with(&entry(), &hand_exts(true), xr::Version::new(1, 0, 0)).unwrap();
        let system = instance
            .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
            .unwrap();
        let supported = instance.supports_hand_tracking(system).unwrap();
        assert_eq!(supported, truth.supports_hand_tracking(), "{}", e.driver);
        let mut h = headless_session(instance);
        if !supported {
            // SAFETY: valid session, create info and output.
            let fp = h.instance.exts().ext_hand_tracking.unwrap();
            let info = sys::HandTrackerCreateInfoEXT {
                ty: sys::HandTrackerCreateInfoEXT::TYPE,
                next: std::ptr::null(),
                hand: sys::HandEXT::LEFT,
                hand_joint_set: sys::HandJointSetEXT::DEFAULT,
            };
            let mut t = sys::HandTrackerEXT::NULL;
            let r = unsafe { (fp.create_hand_tracker)(h.session.as_raw(), &info, &mut t) };
            assert_eq!(r, sys::Result::ERROR_FEATURE_UNSUPPORTED);
            return;
        }
        let left = h.session.create_hand_tracker(xr::Hand::LEFT).unwrap();
        let right = h.session.create_hand_tracker(xr::Hand::RIGHT).unwrap();
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let local = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::LOCAL, xr::Posef::IDENTITY)
            .unwrap();
        // Not focused yet: no hands.
        let now = h.instance.now().unwrap();
        assert!(stage.locate_hand_joints(&left, now).unwrap().is_none());
        run_to_focused(&mut h);
        let t = frame(&mut h); // frame 2: grip not yet held
        for (tracker, hand) in [(&left, Hand::Left), (&right, Hand::Right)] {
            let (joints, velocities) = stage
                .relate_hand_joints(tracker, t)
                .unwrap()
                .expect("an active hand");
            let gt = truth
                .hand_joints(hand, Time(t.as_nanos()))
                .expect("the driver tracks this hand")
                .joints;
            for (i, (j, g)) in joints.iter().zip(gt.joints.iter()).enumerate() {
                let all = sys::SpaceLocationFlags::POSITION_VALID
                    | sys::SpaceLocationFlags::ORIENTATION_VALID
                    | sys::SpaceLocationFlags::POSITION_TRACKED
                    | sys::SpaceLocationFlags::ORIENTATION_TRACKED;
                assert_eq!(j.location_flags, all, "{hand:?} joint {i}");
                let p = pose(&j.pose);
                assert!(
                    (p.position - g.pose.position).length() < 1e-5,
                    "{hand:?} joint {i}: {:?} vs {:?}",
                    p.position,
                    g.pose.position
                );
                assert!(p.orientation.angle_between(g.pose.orientation) < 1e-3);
                assert!((j.radius - g.radius).abs() < 1e-7 && j.radius > 0.0);
                let v = &velocities[i];
                assert!(v.velocity_flags.contains(
                    sys::SpaceVelocityFlags::LINEAR_VALID | sys::SpaceVelocityFlags::ANGULAR_VALID
                ));
            }
            // The same joints in LOCAL are LOCAL's inverse applied to STAGE's.
            let in_local = local.locate_hand_joints(tracker, t).unwrap().unwrap();
            let stage_in_local = pose(&stage.locate(&local, t).unwrap().pose);
            for (a, b) in in_local.iter().zip(joints.iter()) {
                let want = stage_in_local.mul(&pose(&b.pose));
                assert!((pose(&a.pose).position - want.position).length() < 1e-5);
            }
        }

        // Frames 3 and 4: the right hand grips (scripted desktop keys: only
        // the built-in simulated driver has them). Unobstructed it makes a
        // fist; conforming to the controller it wraps the handle.
        frame(&mut h);
        let t = frame(&mut h);
        let keys = truth.desktop_controls().is_some();
        let mut free = [sys::HandJointLocationEXT::default(); 26];
        let mut held = [sys::HandJointLocationEXT::default(); 26];
        let (r, active) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            Some(sys::HandJointsMotionRangeEXT::UNOBSTRUCTED),
            &mut free,
            None,
        );
        assert_eq!((r, active), (sys::Result::SUCCESS, true));
        let (r, active) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            Some(sys::HandJointsMotionRangeEXT::CONFORMING_TO_CONTROLLER),
            &mut held,
            None,
        );
        assert_eq!((r, active), (sys::Result::SUCCESS, true));
        for tip in [10, 15, 20, 25] {
            let (f, c) = (tip_to_palm(&free, tip), tip_to_palm(&held, tip));
            if keys {
                assert!(f < 0.05, "fist tip {tip} {f} m from the palm");
                assert!(
                    c > f + 0.01,
                    "tip {tip}: conforming {c} vs unobstructed {f}"
                );
            } else {
                // A relaxed hand does not reach into the handle.
                assert!(
                    c >= f - 1e-4,
                    "tip {tip}: conforming {c} vs unobstructed {f}"
                );
            }
        }
        // Wrist, palm and thumb are the same in both ranges.
        for i in 0..6 {
            assert_eq!(free[i].pose, held[i].pose, "joint {i}");
        }
        // The default (no chain) is the unobstructed range.
        let mut default = [sys::HandJointLocationEXT::default(); 26];
        locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            None,
            &mut default,
            None,
        );
        assert_eq!(default, free);

        // Error codes.
        let mut v = [sys::HandJointVelocityEXT::default(); 26];
        let mut short = [sys::HandJointLocationEXT::default(); 25];
        let mut short_v = [sys::HandJointVelocityEXT::default(); 25];
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            None,
            &mut short,
            None,
        );
        assert_eq!(r, sys::Result::ERROR_VALIDATION_FAILURE, "jointCount 25");
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            None,
            &mut free,
            Some(&mut short_v),
        );
        assert_eq!(
            r,
            sys::Result::ERROR_VALIDATION_FAILURE,
            "velocities jointCount 25"
        );
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            None,
            &mut free,
            Some(&mut v),
        );
        assert_eq!(r, sys::Result::SUCCESS);
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            xr::Time::from_nanos(0),
            None,
            &mut free,
            None,
        );
        assert_eq!(r, sys::Result::ERROR_TIME_INVALID);
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            stage.as_raw(),
            t,
            Some(sys::HandJointsMotionRangeEXT::from_raw(7)),
            &mut free,
            None,
        );
        assert_eq!(r, sys::Result::ERROR_VALIDATION_FAILURE, "motion range 7");
        let (r, _) = locate_raw(
            &h,
            right.as_raw(),
            sys::Space::NULL,
            t,
            None,
            &mut free,
            None,
        );
        assert_eq!(r, sys::Result::ERROR_HANDLE_INVALID, "null base space");
        let fp = h.instance.exts().ext_hand_tracking.unwrap();
        let info = |hand: i32, set: i32| sys::HandTrackerCreateInfoEXT {
            ty: sys::HandTrackerCreateInfoEXT::TYPE,
            next: std::ptr::null(),
            hand: sys::HandEXT::from_raw(hand),
            hand_joint_set: sys::HandJointSetEXT::from_raw(set),
        };
        let mut t3 = sys::HandTrackerEXT::NULL;
        // SAFETY: valid session; infos and outputs are locals or null where tested.
        unsafe {
            let s = h.session.as_raw();
            assert_eq!(
                (fp.create_hand_tracker)(s, &info(3, 0), &mut t3),
                sys::Result::ERROR_VALIDATION_FAILURE
            );
            assert_eq!(
                (fp.create_hand_tracker)(s, &info(1, 1000149000), &mut t3),
                sys::Result::ERROR_VALIDATION_FAILURE
            );
            assert_eq!(
                (fp.create_hand_tracker)(s, std::ptr::null(), &mut t3),
                sys::Result::ERROR_VALIDATION_FAILURE
            );
            assert_eq!(
                (fp.create_hand_tracker)(s, &info(1, 0), std::ptr::null_mut()),
                sys::Result::ERROR_VALIDATION_FAILURE
            );
            let mut wrong = info(1, 0);
            wrong.ty = sys::StructureType::ACTION_CREATE_INFO;
            assert_eq!(
                (fp.create_hand_tracker)(s, &wrong, &mut t3),
                sys::Result::ERROR_VALIDATION_FAILURE
            );
            assert_eq!(
                (fp.create_hand_tracker)(s, &info(1, 0), &mut t3),
                sys::Result::SUCCESS
            );
            assert_eq!((fp.destroy_hand_tracker)(t3), sys::Result::SUCCESS);
            assert_eq!(
                (fp.destroy_hand_tracker)(t3),
                sys::Result::ERROR_HANDLE_INVALID
            );
        }
        let (r, _) = locate_raw(&h, t3, stage.as_raw(), t, None, &mut free, None);
        assert_eq!(r, sys::Result::ERROR_HANDLE_INVALID, "destroyed tracker");
        // Destroying the session destroys its trackers.
        let core = *h.instance.fp();
        let raw_instance = h.instance.as_raw();
        // SAFETY: destroying the session through the runtime, then using its
        // stale tracker handle, which the runtime must reject.
        unsafe {
            assert_eq!(
                (core.destroy_session)(h.session.as_raw()),
                sys::Result::SUCCESS
            );
            assert_eq!(
                (fp.destroy_hand_tracker)(left.as_raw()),
                sys::Result::ERROR_HANDLE_INVALID
            );
        }
        std::mem::forget((left, right, stage, local));
        std::mem::forget(h.session);
        std::mem::forget(h.stream);
        std::mem::forget(h.waiter);
        std::mem::forget(h.instance);
        // SAFETY: the crate's wrappers were forgotten, so the instance is destroyed once.
        unsafe { assert_eq!((core.destroy_instance)(raw_instance), sys::Result::SUCCESS) };
    });
}

#[test]
fn functions_need_the_extension() {
    on_loader_thread(|| {
        let instance =
            instance_with(&entry(), &hand_exts(false), xr::Version::new(1, 0, 0)).unwrap();
        drop(instance);
        let instance =
            instance_with(&entry(), &headless_exts(), xr::Version::new(1, 0, 0)).unwrap();
        for name in [
            "xrCreateHandTrackerEXT",
            "xrLocateHandJointsEXT",
            "xrDestroyHandTrackerEXT",
        ] {
            let c = std::ffi::CString::new(name).unwrap();
            let mut f = None;
            // SAFETY: valid instance, NUL-terminated name, writable output.
            let r = unsafe {
                (instance.fp().get_instance_proc_addr)(instance.as_raw(), c.as_ptr(), &mut f)
            };
            assert_eq!(r, sys::Result::ERROR_FUNCTION_UNSUPPORTED, "{name}");
            assert!(f.is_none());
        }
    });
}

/// Hand tracking from the simulated headset's two cameras, end to end: the
/// cameras render the simulated hands (raised in front of them, the left
/// one out of view from 6.5 s to 11 s of every 12), the runtime's camera tracker
/// runs the models on the images, and an app reads the joints. They match
/// the simulated hands' ground truth within the stated error, and the left
/// hand is inactive while it is out of view, not a guess.
#[test]
fn hands_from_the_headset_cameras() {
    on_loader_thread(|| {
        let e = expected();
        if e.driver != "simulated" {
            eprintln!(
                "skipped on {}: needs the simulated headset's rendered cameras",
                e.driver
            );
            return;
        }
        std::env::set_var("PARALLAX_SIM_MOTION", "hands");
        std::env::set_var("PARALLAX_HANDS", "cameras");
        std::env::set_var("PARALLAX_SIM_CAMERAS", "rendered");
        std::env::remove_var("PARALLAX_SIM_KEYS");
        let truth = parallax_runtime::hub::DeviceHub::from_system(
            parallax_sdk::Builder::open(&parallax_driver_simulated::SimulatedBuilder::new(
                parallax_driver_simulated::MotionKind::Hands,
            ))
            .unwrap(),
            "simulated",
        );
        let instance =
            instance_with(&entry(), &hand_exts(false), xr::Version::new(1, 0, 0)).unwrap();
        let system = instance
            .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
            .unwrap();
        assert!(
            instance.supports_hand_tracking(system).unwrap(),
            "the camera tracker did not start"
        );
        let mut h = headless_session(instance);
        run_to_focused(&mut h);
        let trackers = [
            h.session.create_hand_tracker(xr::Hand::LEFT).unwrap(),
            h.session.create_hand_tracker(xr::Hand::RIGHT).unwrap(),
        ];
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let start = std::time::Instant::now();
        // Per hand: errors (metres) of located frames while steady in view.
        let mut errors: [Vec<f32>; 2] = [Vec::new(), Vec::new()];
        let (mut left_active_in_view, mut left_out_samples, mut left_active_out) = (0, 0, 0);
        let mut first = None;
        while start.elapsed() < std::time::Duration::from_secs(60) {
            let t = frame(&mut h);
            let secs = t.as_nanos() as f64 * 1e-9;
            let phase = secs.rem_euclid(12.0);
            // The cycle's phase follows the clock, so the test starts
            // anywhere in it: the left hand's error counts only in cycles
            // whose hand came into view after the tracker had run for a
            // second (a tracker started mid-window has not settled; CI
            // failed on that once).
            let t0 = *first.get_or_insert(secs);
            let warm = secs - phase + 0.3 >= t0 + 1.0;
            // The left hand is fully in view from 0.3 s to 5.3 s of the
            // cycle and fully out from 6.5 s to 11 s; camera frames come
            // about once a second on lavapipe and take as long to render and
            // track, so it must be inactive from 9 s on, and its error is
            // measured from 2 s on (after it has come back and settled).
            let in_view = [(0.3..5.3).contains(&phase), true];
            let settled = [(2.0..5.3).contains(&phase) && warm, true];
            for (k, tracker) in trackers.iter().enumerate() {
                let located = stage.locate_hand_joints(tracker, t).unwrap();
                if k == 0 && (9.0..11.0).contains(&phase) {
                    left_out_samples += 1;
                    left_active_out += located.is_some() as u32;
                }
                let Some(joints) = located else { continue };
                if k == 0 && in_view[0] {
                    left_active_in_view += 1;
                }
                if !settled[k] {
                    continue;
                }
                let hand = if k == 0 { Hand::Left } else { Hand::Right };
                let gt = truth.hand_joints(hand, Time(t.as_nanos())).unwrap().joints;
                let mean = joints
                    .iter()
                    .zip(gt.joints.iter())
                    .map(|(j, g)| (pose(&j.pose).position - g.pose.position).length())
                    .sum::<f32>()
                    / 26.0;
                errors[k].push(mean);
            }
            let done = errors[1].len() > 400 && errors[0].len() > 250 && left_out_samples > 30;
            if done {
                break;
            }
        }
        let stats = |v: &Vec<f32>| {
            let mut s = v.clone();
            s.sort_by(|a, b| a.total_cmp(b));
            (s.len(), s.get(s.len() / 2).copied().unwrap_or(f32::NAN))
        };
        let (nr, right_median) = stats(&errors[1]);
        let (nl, left_median) = stats(&errors[0]);
        eprintln!(
            "camera hands: right {nr} located frames, median MPJPE {:.1} mm; left {nl} in view, median {:.1} mm; left active in {left_active_out} of {left_out_samples} frames while out of view",
            right_median * 1e3,
            left_median * 1e3
        );
        assert!(nr > 400, "the right hand was located in only {nr} frames");
        assert!(
            left_active_in_view > 400,
            "the left hand was found in only {left_active_in_view} frames in view"
        );
        assert!(
            nl > 250,
            "the left hand was located in only {nl} settled frames"
        );
        assert!(
            left_out_samples > 30,
            "the run did not reach the left hand's time out of view"
        );
        assert_eq!(
            left_active_out, 0,
            "the left hand was active while out of view"
        );
        // The stated bounds: median joint error under 40 mm for the right
        // hand and 50 mm for the left (measured 22-31 and 25-41 mm). Camera
        // frames take about a second to render on lavapipe and to track, so
        // the hands (and the fingers, changing shape) move between them:
        // most of the error is that latency, not the tracker.
        assert!(
            right_median < 0.040,
            "right hand median MPJPE {right_median}"
        );
        assert!(left_median < 0.050, "left hand median MPJPE {left_median}");
        drop((trackers, stage));
        drop(h);
        std::env::set_var("PARALLAX_SIM_MOTION", "static");
        std::env::remove_var("PARALLAX_HANDS");
        std::env::remove_var("PARALLAX_SIM_CAMERAS");
    });
}
