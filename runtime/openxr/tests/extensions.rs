//! `XR_EXT_dpad_binding` (with `XR_KHR_binding_modification`),
//! `XR_EXT_eye_gaze_interaction` and `XR_EXT_user_presence` through the
//! Khronos loader on the simulated headset, driven by conformance automation.
#![allow(unsafe_code)]

mod common;
use common::*;
use openxr as xr;
use openxr::sys;
use std::f32::consts::PI;
use std::ptr::{null, null_mut};

fn exts() -> xr::ExtensionSet {
    let mut e = headless_exts();
    e.khr_binding_modification = true;
    e.ext_dpad_binding = true;
    e.ext_eye_gaze_interaction = true;
    e.ext_user_presence = true;
    e
}

fn dpad(binding: xr::Path, set: &xr::ActionSet) -> sys::InteractionProfileDpadBindingEXT {
    sys::InteractionProfileDpadBindingEXT {
        ty: sys::InteractionProfileDpadBindingEXT::TYPE,
        next: null(),
        binding,
        action_set: set.as_raw(),
        force_threshold: 0.5,
        force_threshold_released: 0.4,
        center_region: 0.3,
        wedge_angle: PI / 2.0,
        is_sticky: sys::FALSE,
        on_haptic: null(),
        off_haptic: null(),
    }
}

/// xrSuggestInteractionProfileBindings with the pads chained.
fn suggest(
    i: &xr::Instance,
    profile: xr::Path,
    bindings: &[sys::ActionSuggestedBinding],
    pads: &[&sys::InteractionProfileDpadBindingEXT],
) -> sys::Result {
    let list: Vec<*const sys::BindingModificationBaseHeaderKHR> = pads
        .iter()
        .map(|p| *p as *const _ as *const sys::BindingModificationBaseHeaderKHR)
        .collect();
    let mods = sys::BindingModificationsKHR {
        ty: sys::BindingModificationsKHR::TYPE,
        next: null(),
        binding_modification_count: list.len() as u32,
        binding_modifications: list.as_ptr(),
    };
    let info = sys::InteractionProfileSuggestedBinding {
        ty: sys::InteractionProfileSuggestedBinding::TYPE,
        next: if pads.is_empty() {
            null()
        } else {
            &mods as *const _ as *const _
        },
        interaction_profile: profile,
        count_suggested_bindings: bindings.len() as u32,
        suggested_bindings: bindings.as_ptr(),
    };
    // SAFETY: every pointer is to a live local.
    unsafe { (i.fp().suggest_interaction_profile_bindings)(i.as_raw(), &info) }
}

fn binding(action: &xr::Action<bool>, path: xr::Path) -> sys::ActionSuggestedBinding {
    sys::ActionSuggestedBinding {
        action: action.as_raw(),
        binding: path,
    }
}

#[test]
fn dpad_eye_gaze_and_user_presence() {
    on_loader_thread(|| {
        let i = instance_with(&entry(), &exts(), xr::Version::new(1, 0, 0)).unwrap();
        let p = |s: &str| i.string_to_path(s).unwrap();
        let system = i.system(xr::FormFactor::HEAD_MOUNTED_DISPLAY).unwrap();
        // The simulated headset has a wearer and an eye tracker.
        let mut eye = sys::SystemEyeGazeInteractionPropertiesEXT {
            ty: sys::SystemEyeGazeInteractionPropertiesEXT::TYPE,
            next: null_mut(),
            supports_eye_gaze_interaction: sys::FALSE,
        };
        let mut presence = sys::SystemUserPresencePropertiesEXT {
            ty: sys::SystemUserPresencePropertiesEXT::TYPE,
            next: &mut eye as *mut _ as *mut _,
            supports_user_presence: sys::FALSE,
        };
        let mut props = sys::SystemProperties {
            ty: sys::SystemProperties::TYPE,
            next: &mut presence as *mut _ as *mut _,
            // SAFETY: a plain C structure, all zero is valid.
            ..unsafe { std::mem::zeroed() }
        };
        assert_eq!(
            // SAFETY: valid chain of locals.
            unsafe { (i.fp().get_system_properties)(i.as_raw(), system, &mut props) },
            sys::Result::SUCCESS
        );
        assert_eq!(presence.supports_user_presence, sys::TRUE);
        assert_eq!(eye.supports_eye_gaze_interaction, sys::TRUE);

        let set = i.create_action_set("pads", "Pads", 0).unwrap();
        let other = i.create_action_set("other", "Other", 0).unwrap();
        let up = set.create_action::<bool>("up", "Up", &[]).unwrap();
        let right = set.create_action::<bool>("right", "Right", &[]).unwrap();
        let gaze = set
            .create_action::<xr::Posef>("gaze", "Gaze", &[p("/user/eyes_ext")])
            .unwrap();
        let touch = p("/interaction_profiles/oculus/touch_controller");
        let simple = p("/interaction_profiles/khr/simple_controller");
        let stick = p("/user/hand/left/input/thumbstick");
        let pads = [
            binding(&up, p("/user/hand/left/input/thumbstick/dpad_up")),
            binding(&right, p("/user/hand/left/input/thumbstick/dpad_right")),
        ];
        // Parameter ranges, paths and duplicates.
        let mut bad = dpad(stick, &set);
        bad.wedge_angle = PI;
        assert_eq!(
            suggest(&i, touch, &pads, &[&bad]),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let mut bad = dpad(stick, &set);
        bad.force_threshold_released = 0.6;
        assert_eq!(
            suggest(&i, touch, &pads, &[&bad]),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let trigger = dpad(p("/user/hand/left/input/trigger"), &set);
        assert_eq!(
            suggest(&i, touch, &pads, &[&trigger]),
            sys::Result::ERROR_PATH_UNSUPPORTED
        );
        let leaf = dpad(p("/user/hand/left/input/thumbstick/dpad_up"), &set);
        assert_eq!(
            suggest(&i, touch, &pads, &[&leaf]),
            sys::Result::ERROR_PATH_UNSUPPORTED
        );
        let pad = dpad(stick, &set);
        assert_eq!(
            suggest(&i, touch, &pads, &[&pad, &pad]),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        // The same pad for two action sets is two pads.
        let mut sticky = dpad(stick, &set);
        sticky.is_sticky = sys::TRUE;
        assert_eq!(
            suggest(&i, touch, &pads, &[&sticky, &dpad(stick, &other)]),
            sys::Result::SUCCESS
        );
        // The simple controller has no thumbstick to make a pad of.
        assert_eq!(
            suggest(&i, simple, &pads[..1], &[]),
            sys::Result::ERROR_PATH_UNSUPPORTED
        );
        i.suggest_interaction_profile_bindings(
            p("/interaction_profiles/ext/eye_gaze_interaction"),
            &[xr::Binding::new(
                &gaze,
                p("/user/eyes_ext/input/gaze_ext/pose"),
            )],
        )
        .unwrap();

        let mut h = headless_session(i.clone());
        h.session.attach_action_sets(&[&set]).unwrap();
        begin_when_ready(&mut h);
        // xrBeginSession tells whether the user is present.
        let mut buf = xr::EventDataBuffer::new();
        let mut present = None;
        while let Some(e) = i.poll_event(&mut buf).unwrap() {
            if let xr::Event::UserPresenceChangedEXT(u) = e {
                present = Some(u.is_user_present());
            }
        }
        assert_eq!(present, Some(true));
        empty_frame(&mut h);
        drain_states(&h.instance);

        let auto = i.exts().ext_conformance_automation.unwrap();
        let s = h.session.as_raw();
        let left = p("/user/hand/left");
        let eyes = p("/user/eyes_ext");
        let sync = |h: &Headless| {
            h.session
                .sync_actions(&[xr::ActiveActionSet::new(&set)])
                .unwrap()
        };
        let push = |x: f32, y: f32| {
            // SAFETY: valid session and paths.
            let r = unsafe {
                (auto.set_input_device_state_vector2f)(s, left, stick, sys::Vector2f { x, y })
            };
            assert_eq!(r, sys::Result::SUCCESS);
        };
        // The eye tracker gives the eyes their profile at the first sync.
        sync(&h);
        assert_eq!(
            h.session.current_interaction_profile(eyes).unwrap(),
            p("/interaction_profiles/ext/eye_gaze_interaction")
        );
        assert!(gaze.is_active(&h.session, xr::Path::NULL).unwrap());
        // SAFETY: valid session and paths.
        unsafe {
            assert_eq!(
                (auto.set_input_device_active)(s, touch, left, sys::TRUE),
                sys::Result::SUCCESS
            );
            assert_eq!(
                (auto.set_input_device_active)(
                    s,
                    p("/interaction_profiles/ext/eye_gaze_interaction"),
                    eyes,
                    sys::TRUE
                ),
                sys::Result::SUCCESS
            );
        }
        push(0.0, 0.9);
        sync(&h);
        assert_eq!(
            h.session.current_interaction_profile(eyes).unwrap(),
            p("/interaction_profiles/ext/eye_gaze_interaction")
        );
        assert!(gaze.is_active(&h.session, xr::Path::NULL).unwrap());
        let state = |a: &xr::Action<bool>| a.state(&h.session, xr::Path::NULL).unwrap();
        assert!(state(&up).is_active && state(&up).current_state);
        assert!(!state(&right).current_state);
        // Sticky: pushed round to the right, up stays on and right off.
        push(0.9, 0.0);
        sync(&h);
        assert!(state(&up).current_state && !state(&right).current_state);
        // Released, then pushed right.
        push(0.0, 0.0);
        sync(&h);
        assert!(!state(&up).current_state && state(&up).changed_since_last_sync);
        push(0.9, 0.0);
        sync(&h);
        assert!(!state(&up).current_state && state(&right).current_state);
        // A thumbstick presses by its extent: a short push is no press.
        push(0.2, 0.0);
        sync(&h);
        assert!(!state(&right).current_state);
    });
}

/// The gaze pose is the simulated wearer's scripted gaze (exact ground truth
/// from the driver) in the head's frame, at every predicted display time.
#[test]
fn gaze_is_the_simulated_wearers() {
    on_loader_thread(|| {
        let _g = serial();
        let e = entry();
        // Scripted motion for this instance only (the driver reads it when
        // the system opens); the other tests expect a still headset.
        std::env::set_var("PARALLAX_SIM_MOTION", "scripted");
        let i = instance_with(&e, &exts(), xr::Version::new(1, 0, 0));
        std::env::set_var("PARALLAX_SIM_MOTION", "static");
        let i = i.unwrap();
        let set = i.create_action_set("eyes", "Eyes", 0).unwrap();
        let eyes = i.string_to_path("/user/eyes_ext").unwrap();
        let gaze = set
            .create_action::<xr::Posef>("gaze", "Gaze", &[eyes])
            .unwrap();
        i.suggest_interaction_profile_bindings(
            i.string_to_path("/interaction_profiles/ext/eye_gaze_interaction")
                .unwrap(),
            &[xr::Binding::new(
                &gaze,
                i.string_to_path("/user/eyes_ext/input/gaze_ext/pose")
                    .unwrap(),
            )],
        )
        .unwrap();
        let mut h = headless_session(i.clone());
        h.session.attach_action_sets(&[&set]).unwrap();
        begin_when_ready(&mut h);
        let space = gaze
            .create_space(&h.session, xr::Path::NULL, xr::Posef::IDENTITY)
            .unwrap();
        let view = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::VIEW, xr::Posef::IDENTITY)
            .unwrap();
        let motion = parallax_driver_simulated::Motion {
            kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
        };
        let mut turned = 0f32;
        for _ in 0..20 {
            let st = empty_frame(&mut h);
            h.session
                .sync_actions(&[xr::ActiveActionSet::new(&set)])
                .unwrap();
            let t = st.predicted_display_time;
            let loc = space.locate(&view, t).unwrap();
            assert!(loc
                .location_flags
                .contains(xr::SpaceLocationFlags::ORIENTATION_VALID));
            let want = parallax_driver_simulated::face::gaze(
                &motion,
                parallax_sdk::types::Time(t.as_nanos()),
            )
            .gaze;
            let o = loc.pose.orientation;
            let got = glam::Quat::from_xyzw(o.x, o.y, o.z, o.w);
            let off = (got.inverse() * want.orientation).xyz().length().asin() * 2.0;
            assert!(off < 1e-3, "gaze off by {off} rad at {t:?}");
            let p = loc.pose.position;
            assert!(glam::Vec3::new(p.x, p.y, p.z).length() < 1e-4);
            turned = turned.max(want.orientation.angle_between(glam::Quat::IDENTITY));
        }
        // The scripted eyes look around (yaw 0.35 rad over 5 s, pitch
        // 0.15 rad over 7 s: both within 2 mrad of straight ahead is a
        // window of about 1e-5 of the time), so the check above is not
        // only of a still gaze.
        assert!(
            turned > 2e-3,
            "the gaze stayed straight ahead ({turned} rad)"
        );
    });
}
