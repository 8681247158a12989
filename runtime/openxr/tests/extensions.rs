//! `XR_EXT_dpad_binding` (with `XR_KHR_binding_modification`),
//! `XR_EXT_eye_gaze_interaction` and `XR_EXT_user_presence` through the
//! Khronos loader on the simulated headset, driven by conformance automation.
#![allow(unsafe_code)]

mod common;
use common::*;
use openxr as xr;
use openxr::sys;
use openxr::sys::Handle as _;
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

/// An OpenXR 1.0 instance whose simulated headset plays scripted motion
/// (the driver reads it when the system opens; the other tests expect a
/// still headset, so the variable is put back at once).
fn scripted_instance(x: &xr::ExtensionSet) -> xr::Instance {
    let e = entry();
    std::env::set_var("PARALLAX_SIM_MOTION", "scripted");
    let i = instance_with(&e, x, xr::Version::new(1, 0, 0));
    std::env::set_var("PARALLAX_SIM_MOTION", "static");
    i.unwrap()
}

/// `xrGetSystemProperties` with `chain` (an extension structure, typed
/// and linked by the caller) chained to it.
fn system_properties(i: &xr::Instance, chain: *mut std::ffi::c_void) -> sys::Result {
    let system = i.system(xr::FormFactor::HEAD_MOUNTED_DISPLAY).unwrap();
    let mut props = sys::SystemProperties {
        ty: sys::SystemProperties::TYPE,
        next: chain,
        // SAFETY: a plain C structure, all zero is valid.
        ..unsafe { std::mem::zeroed() }
    };
    // SAFETY: valid structures; the caller's chain is valid by contract.
    unsafe { (i.fp().get_system_properties)(i.as_raw(), system, &mut props) }
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
        assert_eq!(
            system_properties(&i, &mut presence as *mut _ as *mut _),
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
        let i = scripted_instance(&exts());
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

/// `XR_FB_face_tracking2` through the loader: the system says it tracks
/// faces visually, trackers are refused by the spec's codes, and the
/// weights at every predicted display time are the simulated wearer's
/// scripted face (exact ground truth from the driver).
#[test]
fn face_weights_are_the_simulated_wearers() {
    on_loader_thread(|| {
        let _g = serial();
        let mut x = exts();
        x.fb_face_tracking2 = true;
        let i = scripted_instance(&x);
        let mut face = sys::SystemFaceTrackingProperties2FB {
            ty: sys::SystemFaceTrackingProperties2FB::TYPE,
            next: null_mut(),
            supports_visual_face_tracking: sys::FALSE,
            supports_audio_face_tracking: sys::TRUE,
        };
        assert_eq!(
            system_properties(&i, &mut face as *mut _ as *mut _),
            sys::Result::SUCCESS
        );
        assert_eq!(face.supports_visual_face_tracking, sys::TRUE);
        assert_eq!(face.supports_audio_face_tracking, sys::FALSE);

        let fp = i.exts().fb_face_tracking2.unwrap();
        let mut h = headless_session(i.clone());
        begin_when_ready(&mut h);
        let s = h.session.as_raw();
        let create = |set: sys::FaceExpressionSet2FB,
                      sources: &[sys::FaceTrackingDataSource2FB]| {
            let info = sys::FaceTrackerCreateInfo2FB {
                ty: sys::FaceTrackerCreateInfo2FB::TYPE,
                next: null(),
                face_expression_set: set,
                requested_data_source_count: sources.len() as u32,
                requested_data_sources: sources.as_ptr() as *mut _,
            };
            let mut t = sys::FaceTracker2FB::NULL;
            // SAFETY: valid locals.
            let r = unsafe { (fp.create_face_tracker2)(s, &info, &mut t) };
            (r, t)
        };
        let default = sys::FaceExpressionSet2FB::DEFAULT;
        let (visual, audio) = (
            sys::FaceTrackingDataSource2FB::VISUAL,
            sys::FaceTrackingDataSource2FB::AUDIO,
        );
        assert_eq!(
            create(sys::FaceExpressionSet2FB::from_raw(7), &[visual]).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            create(default, &[sys::FaceTrackingDataSource2FB::from_raw(9)]).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            create(default, &[audio]).0,
            sys::Result::ERROR_FEATURE_UNSUPPORTED
        );
        assert_eq!(
            create(default, &[]).0,
            sys::Result::ERROR_FEATURE_UNSUPPORTED
        );
        let mut t = sys::FaceTracker2FB::NULL;
        assert_eq!(
            // SAFETY: a null create info is what is being tested.
            unsafe { (fp.create_face_tracker2)(s, null(), &mut t) },
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let (r, tracker) = create(default, &[audio, visual]);
        assert_eq!(r, sys::Result::SUCCESS);

        let mut w = [0f32; 70];
        let mut c = [0f32; 2];
        let get = |tracker: sys::FaceTracker2FB,
                   t: sys::Time,
                   w: &mut [f32],
                   c: &mut [f32]|
         -> (sys::Result, sys::FaceExpressionWeights2FB) {
            let info = sys::FaceExpressionInfo2FB {
                ty: sys::FaceExpressionInfo2FB::TYPE,
                next: null(),
                time: t,
            };
            let mut out = sys::FaceExpressionWeights2FB {
                ty: sys::FaceExpressionWeights2FB::TYPE,
                next: null_mut(),
                weight_count: w.len() as u32,
                weights: w.as_mut_ptr(),
                confidence_count: c.len() as u32,
                confidences: c.as_mut_ptr(),
                is_valid: sys::FALSE,
                is_eye_following_blendshapes_valid: sys::FALSE,
                data_source: sys::FaceTrackingDataSource2FB::AUDIO,
                time: sys::Time::from_nanos(0),
            };
            // SAFETY: valid locals, counts match the buffers.
            let r = unsafe { (fp.get_face_expression_weights2)(tracker, &info, &mut out) };
            (r, out)
        };
        let now = sys::Time::from_nanos(1_000_000_000);
        assert_eq!(
            get(tracker, now, &mut [0.0; 63], &mut c).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            get(tracker, now, &mut w, &mut [0.0; 1]).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            get(tracker, sys::Time::from_nanos(0), &mut w, &mut c).0,
            sys::Result::ERROR_TIME_INVALID
        );
        assert_eq!(
            get(sys::FaceTracker2FB::NULL, now, &mut w, &mut c).0,
            sys::Result::ERROR_HANDLE_INVALID
        );

        let motion = parallax_driver_simulated::Motion {
            kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
        };
        let name = |n: &str| parallax_sdk::types::face_expression(n).unwrap();
        let (mut valid, mut moved) = (0, 0f32);
        for _ in 0..20 {
            let st = empty_frame(&mut h);
            let t = st.predicted_display_time;
            let (r, out) = get(tracker, t, &mut w, &mut c);
            assert_eq!(r, sys::Result::SUCCESS);
            if out.is_valid == sys::FALSE {
                // Only before the session has input focus.
                assert!(w.iter().all(|v| *v == 0.0));
                continue;
            }
            valid += 1;
            assert_eq!(out.is_eye_following_blendshapes_valid, sys::TRUE);
            assert_eq!(out.data_source, visual);
            assert_eq!(out.time, t);
            assert_eq!(c, [1.0, 1.0]);
            let truth = parallax_driver_simulated::face::expressions(
                &motion,
                parallax_sdk::types::Time(t.as_nanos()),
            )
            .weights;
            assert_eq!(w, parallax_runtime::face::fb2_from_arkit(&truth));
            // Spot checks by the extension's own names.
            let fb = |e: sys::FaceExpression2FB| w[e.into_raw() as usize];
            assert_eq!(fb(sys::FaceExpression2FB::JAW_DROP), truth[name("jawOpen")]);
            assert_eq!(
                fb(sys::FaceExpression2FB::LIP_CORNER_PULLER_L),
                truth[name("mouthSmileLeft")]
            );
            assert_eq!(
                fb(sys::FaceExpression2FB::EYES_CLOSED_R),
                truth[name("eyeBlinkRight")]
            );
            assert_eq!(
                fb(sys::FaceExpression2FB::EYES_LOOK_LEFT_L),
                truth[name("eyeLookOutLeft")]
            );
            assert_eq!(
                fb(sys::FaceExpression2FB::EYES_LOOK_LEFT_R),
                truth[name("eyeLookInRight")]
            );
            assert_eq!(fb(sys::FaceExpression2FB::CHEEK_SUCK_L), 0.0);
            moved = moved.max(w.iter().sum());
        }
        assert!(valid >= 15, "only {valid} of 20 frames had a face");
        // The scripted eyes always look somewhere (their eyeLook weights
        // cross zero only at instants), so the checks above are not only
        // of a neutral face.
        assert!(moved > 0.01, "a neutral face throughout ({moved})");
        // SAFETY: a live tracker.
        let destroyed = unsafe { (fp.destroy_face_tracker2)(tracker) };
        assert_eq!(destroyed, sys::Result::SUCCESS);
        assert_eq!(
            get(tracker, now, &mut w, &mut c).0,
            sys::Result::ERROR_HANDLE_INVALID
        );
    });
}

/// `XR_HTC_facial_tracking` through the loader: eye and lip trackers, the
/// spec's codes, and expressions equal to the simulated wearer's script at
/// the sample time the runtime reports.
#[test]
fn htc_facial_expressions_are_the_simulated_wearers() {
    on_loader_thread(|| {
        let _g = serial();
        let mut x = exts();
        x.htc_facial_tracking = true;
        let i = scripted_instance(&x);
        let mut props_htc = sys::SystemFacialTrackingPropertiesHTC {
            ty: sys::SystemFacialTrackingPropertiesHTC::TYPE,
            next: null_mut(),
            support_eye_facial_tracking: sys::FALSE,
            support_lip_facial_tracking: sys::FALSE,
        };
        assert_eq!(
            system_properties(&i, &mut props_htc as *mut _ as *mut _),
            sys::Result::SUCCESS
        );
        assert_eq!(props_htc.support_eye_facial_tracking, sys::TRUE);
        assert_eq!(props_htc.support_lip_facial_tracking, sys::TRUE);
        let fp = i.exts().htc_facial_tracking.unwrap();
        let mut h = headless_session(i.clone());
        begin_when_ready(&mut h);
        let s = h.session.as_raw();
        let create = |ty: sys::FacialTrackingTypeHTC| {
            let info = sys::FacialTrackerCreateInfoHTC {
                ty: sys::FacialTrackerCreateInfoHTC::TYPE,
                next: null(),
                facial_tracking_type: ty,
            };
            let mut t = sys::FacialTrackerHTC::NULL;
            // SAFETY: valid locals.
            let r = unsafe { (fp.create_facial_tracker)(s, &info, &mut t) };
            (r, t)
        };
        assert_eq!(
            create(sys::FacialTrackingTypeHTC::from_raw(5)).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let (r, eye) = create(sys::FacialTrackingTypeHTC::EYE_DEFAULT);
        assert_eq!(r, sys::Result::SUCCESS);
        let (r, lip) = create(sys::FacialTrackingTypeHTC::LIP_DEFAULT);
        assert_eq!(r, sys::Result::SUCCESS);
        let get = |t: sys::FacialTrackerHTC, w: &mut [f32]| {
            let mut out = sys::FacialExpressionsHTC {
                ty: sys::FacialExpressionsHTC::TYPE,
                next: null(),
                is_active: sys::FALSE,
                sample_time: sys::Time::from_nanos(0),
                expression_count: w.len() as u32,
                expression_weightings: w.as_mut_ptr(),
            };
            // SAFETY: valid locals; the count matches the buffer.
            let r = unsafe { (fp.get_facial_expressions)(t, &mut out) };
            (r, out)
        };
        assert_eq!(
            get(eye, &mut [0.0; 13]).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            get(lip, &mut [0.0; 14]).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let motion = parallax_driver_simulated::Motion {
            kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
        };
        let name = |n: &str| parallax_sdk::types::face_expression(n).unwrap();
        let mut active = 0;
        for _ in 0..20 {
            empty_frame(&mut h);
            // A longer buffer is fine; only the set's count is written.
            let mut w = [7.0f32; 40];
            let (r, out) = get(lip, &mut w);
            assert_eq!(r, sys::Result::SUCCESS);
            assert!(w[37..].iter().all(|v| *v == 7.0));
            let mut e = [0.0f32; 14];
            let (r, eout) = get(eye, &mut e);
            assert_eq!(r, sys::Result::SUCCESS);
            if out.is_active == sys::FALSE {
                assert!(w[..37].iter().all(|v| *v == 0.0));
                continue;
            }
            active += 1;
            let truth = |t: sys::Time| {
                parallax_driver_simulated::face::expressions(
                    &motion,
                    parallax_sdk::types::Time(t.as_nanos()),
                )
                .weights
            };
            let lt = truth(out.sample_time);
            let lipx = |x: sys::LipExpressionHTC| w[x.into_raw() as usize];
            assert_eq!(lipx(sys::LipExpressionHTC::JAW_OPEN), lt[name("jawOpen")]);
            assert_eq!(
                lipx(sys::LipExpressionHTC::MOUTH_SMILE_LEFT),
                lt[name("mouthSmileLeft")]
            );
            assert_eq!(lipx(sys::LipExpressionHTC::CHEEK_SUCK), 0.0);
            let et = truth(eout.sample_time);
            let eyex = |x: sys::EyeExpressionHTC| e[x.into_raw() as usize];
            assert_eq!(
                eyex(sys::EyeExpressionHTC::LEFT_BLINK),
                et[name("eyeBlinkLeft")]
            );
            assert_eq!(
                eyex(sys::EyeExpressionHTC::RIGHT_IN),
                et[name("eyeLookInRight")]
            );
            assert_eq!(
                eyex(sys::EyeExpressionHTC::LEFT_SQUEEZE),
                et[name("eyeSquintLeft")]
            );
        }
        assert!(active >= 15, "only {active} of 20 frames active");
        for t in [eye, lip] {
            // SAFETY: live trackers.
            let r = unsafe { (fp.destroy_facial_tracker)(t) };
            assert_eq!(r, sys::Result::SUCCESS);
        }
        assert_eq!(
            get(eye, &mut [0.0; 14]).0,
            sys::Result::ERROR_HANDLE_INVALID
        );
    });
}

/// `XR_FB_body_tracking` through the loader: the system says it tracks the
/// body, trackers and their calls return the spec's codes, and at every
/// predicted display time the 70 joints in the stage are the simulated
/// wearer's (the driver's upper body, then the hands the controllers hold),
/// with a skeleton whose bones have the located body's lengths.
#[test]
fn body_joints_are_the_simulated_wearers() {
    on_loader_thread(|| {
        let _g = serial();
        let mut x = exts();
        x.fb_body_tracking = true;
        let i = scripted_instance(&x);
        let mut props = sys::SystemBodyTrackingPropertiesFB {
            ty: sys::SystemBodyTrackingPropertiesFB::TYPE,
            next: null_mut(),
            supports_body_tracking: sys::FALSE,
        };
        assert_eq!(
            system_properties(&i, &mut props as *mut _ as *mut _),
            sys::Result::SUCCESS
        );
        assert_eq!(props.supports_body_tracking, sys::TRUE);
        // The same headset in this process: the ground truth.
        let truth = parallax_runtime::hub::DeviceHub::from_system(
            parallax_sdk::Builder::open(&parallax_driver_simulated::SimulatedBuilder::new(
                parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
            ))
            .unwrap(),
            "simulated",
        );

        let fp = i.exts().fb_body_tracking.unwrap();
        let mut h = headless_session(i.clone());
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let s = h.session.as_raw();
        let create = |set: sys::BodyJointSetFB| {
            let info = sys::BodyTrackerCreateInfoFB {
                ty: sys::BodyTrackerCreateInfoFB::TYPE,
                next: null(),
                body_joint_set: set,
            };
            let mut t = sys::BodyTrackerFB::NULL;
            // SAFETY: valid locals.
            let r = unsafe { (fp.create_body_tracker)(s, &info, &mut t) };
            (r, t)
        };
        assert_eq!(
            create(sys::BodyJointSetFB::from_raw(1000274000)).0,
            sys::Result::ERROR_VALIDATION_FAILURE,
            "the full-body set needs XR_META_body_tracking_full_body"
        );
        let mut t = sys::BodyTrackerFB::NULL;
        assert_eq!(
            // SAFETY: a null create info is what is being tested.
            unsafe { (fp.create_body_tracker)(s, null(), &mut t) },
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        let (r, tracker) = create(sys::BodyJointSetFB::DEFAULT);
        assert_eq!(r, sys::Result::SUCCESS);

        let mut joints = [sys::BodyJointLocationFB {
            location_flags: sys::SpaceLocationFlags::EMPTY,
            pose: xr::Posef::IDENTITY,
        }; 70];
        let locate = |tracker: sys::BodyTrackerFB,
                      t: sys::Time,
                      joints: &mut [sys::BodyJointLocationFB]|
         -> (sys::Result, sys::BodyJointLocationsFB) {
            let info = sys::BodyJointsLocateInfoFB {
                ty: sys::BodyJointsLocateInfoFB::TYPE,
                next: null(),
                base_space: stage.as_raw(),
                time: t,
            };
            let mut out = sys::BodyJointLocationsFB {
                ty: sys::BodyJointLocationsFB::TYPE,
                next: null_mut(),
                is_active: sys::FALSE,
                confidence: -1.0,
                joint_count: joints.len() as u32,
                joint_locations: joints.as_mut_ptr(),
                skeleton_changed_count: 99,
                time: sys::Time::from_nanos(0),
            };
            // SAFETY: valid locals; the count matches the buffer.
            let r = unsafe { (fp.locate_body_joints)(tracker, &info, &mut out) };
            (r, out)
        };
        let now = sys::Time::from_nanos(1_000_000_000);
        let mut short = joints[..69].to_vec();
        assert_eq!(
            locate(tracker, now, &mut short).0,
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(
            locate(tracker, sys::Time::from_nanos(0), &mut joints).0,
            sys::Result::ERROR_TIME_INVALID
        );
        assert_eq!(
            locate(sys::BodyTrackerFB::NULL, now, &mut joints).0,
            sys::Result::ERROR_HANDLE_INVALID
        );
        // Before the session has input focus: inactive, nothing located.
        let (r, out) = locate(tracker, now, &mut joints);
        assert_eq!(r, sys::Result::SUCCESS);
        assert_eq!(out.is_active, sys::FALSE);
        assert_eq!(out.skeleton_changed_count, 0);
        assert!(joints
            .iter()
            .all(|j| j.location_flags == sys::SpaceLocationFlags::EMPTY));

        run_to_focused(&mut h);
        let near = |a: &xr::Posef, b: &parallax_sdk::types::Pose, what: String| {
            let a = pose(a);
            assert!(
                (a.position - b.position).length() < 1e-5
                    && a.orientation.dot(b.orientation).abs() > 0.99999,
                "{what}: {a:?} is not {b:?}"
            );
        };
        let tracked = sys::SpaceLocationFlags::POSITION_VALID
            | sys::SpaceLocationFlags::ORIENTATION_VALID
            | sys::SpaceLocationFlags::POSITION_TRACKED
            | sys::SpaceLocationFlags::ORIENTATION_TRACKED;
        let (mut active, mut moved) = (0, 0f32);
        let mut first_wrist = None;
        let mut count = 0;
        // At least 20 frames, and on until the right arm has moved: how
        // far it moves in 20 frames depends on where in the script the
        // clock is (it moved 9.6 mm once), in 3 s it always moves.
        for i in 0..300 {
            if i >= 20 && moved > 0.01 {
                break;
            }
            let st = empty_frame(&mut h);
            let t = st.predicted_display_time;
            let (r, out) = locate(tracker, t, &mut joints);
            assert_eq!(r, sys::Result::SUCCESS);
            assert_eq!(out.is_active, sys::TRUE);
            active += 1;
            assert_eq!(out.time, t);
            assert_eq!(out.confidence, 1.0);
            // One skeleton: the wearer's proportions do not change.
            assert!(out.skeleton_changed_count >= 1);
            if count == 0 {
                count = out.skeleton_changed_count;
            }
            assert_eq!(out.skeleton_changed_count, count);
            let at = parallax_sdk::types::Time(t.as_nanos());
            let body = truth.body_joints(at).unwrap();
            for (k, j) in body.joints.iter().enumerate() {
                assert_eq!(joints[k].location_flags, tracked, "joint {k}");
                near(&joints[k].pose, &j.pose, format!("body joint {k}"));
            }
            for (side, hand) in [
                parallax_sdk::types::Hand::Left,
                parallax_sdk::types::Hand::Right,
            ]
            .into_iter()
            .enumerate()
            {
                let hj = truth.hand_joints(hand, at).unwrap().joints;
                for (k, j) in hj.joints.iter().enumerate() {
                    let f = 18 + 26 * side + k;
                    assert!(joints[f].location_flags.contains(
                        sys::SpaceLocationFlags::POSITION_VALID
                            | sys::SpaceLocationFlags::ORIENTATION_VALID
                    ));
                    near(&joints[f].pose, &j.pose, format!("hand joint {f}"));
                }
                // The hand's wrist is where the arm's wrist twist ends.
                let twist = pose(&joints[[12, 17][side]].pose).position;
                let wrist = pose(&joints[18 + 26 * side + 1].pose).position;
                assert!((twist - wrist).length() < 1e-4, "side {side}");
            }
            let w =
                pose(&joints[sys::BodyJointFB::RIGHT_HAND_WRIST_TWIST.into_raw() as usize].pose)
                    .position;
            moved = moved.max((w - *first_wrist.get_or_insert(w)).length());
        }
        assert!(active >= 15);
        assert!(moved > 0.01, "the right arm stood still ({moved} m)");

        // The skeleton: the FB hierarchy, in T-pose, with the located
        // body's bone lengths.
        let mut skel = [sys::BodySkeletonJointFB {
            joint: -7,
            parent_joint: -7,
            pose: xr::Posef::IDENTITY,
        }; 70];
        let get = |tracker: sys::BodyTrackerFB, joints: &mut [sys::BodySkeletonJointFB]| {
            let mut out = sys::BodySkeletonFB {
                ty: sys::BodySkeletonFB::TYPE,
                next: null_mut(),
                joint_count: joints.len() as u32,
                joints: joints.as_mut_ptr(),
            };
            // SAFETY: valid locals; the count matches the buffer.
            unsafe { (fp.get_body_skeleton)(tracker, &mut out) }
        };
        assert_eq!(
            get(tracker, &mut skel[..3].to_vec()),
            sys::Result::ERROR_VALIDATION_FAILURE
        );
        assert_eq!(get(tracker, &mut skel), sys::Result::SUCCESS);
        let body = truth.body_joints(parallax_sdk::types::Time::now()).unwrap();
        for (k, j) in skel.iter().enumerate() {
            assert_eq!(j.joint, k as i32);
            if k == 0 {
                assert_eq!(j.parent_joint, sys::BodyJointFB::NONE.into_raw());
                continue;
            }
            // Parents come first but for the palms (the wrist after them).
            let palm = k == 18 || k == 44;
            assert!(
                (0..70).contains(&j.parent_joint) && (palm || j.parent_joint < k as i32),
                "joint {k}"
            );
            // The hips' height is a posture (the wearer's head bobs): the
            // skeleton keeps the first located; every other bone is fixed.
            if (2..18).contains(&k) {
                let p = j.parent_joint as usize;
                let bone = (body.joints[k].pose.position - body.joints[p].pose.position).length();
                let got = (pose(&j.pose).position - pose(&skel[p].pose).position).length();
                assert!((bone - got).abs() < 1e-4, "bone {p}-{k}: {got} vs {bone}");
            }
        }
        let hips = pose(&skel[1].pose).position;
        assert!(
            (hips.y - body.joints[1].pose.position.y).abs() < 0.05 && hips.x == 0.0,
            "hips at {hips}"
        );
        let (lw, rw) = (pose(&skel[12].pose).position, pose(&skel[17].pose).position);
        assert!(lw.x < -0.5 && rw.x > 0.5, "arms out to the sides");

        // SAFETY: a live tracker.
        let destroyed = unsafe { (fp.destroy_body_tracker)(tracker) };
        assert_eq!(destroyed, sys::Result::SUCCESS);
        assert_eq!(
            locate(tracker, now, &mut joints).0,
            sys::Result::ERROR_HANDLE_INVALID
        );
    });
}
