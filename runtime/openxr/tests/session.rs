//! Session lifecycle, frame loop, spaces and actions through the real
//! Khronos loader, on a headless session of the simulated headset.
#![allow(unsafe_code)]
// Raw calls pass pointers to locals and live handles; each group says why above it.
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;
use openxr as xr;
use openxr::sys;

#[test]
fn lifecycle_and_frame_order() {
    on_loader_thread(|| {
        let mut h = headless_session(instance());
        let fp = *h.instance.fp();
        let s = h.session.as_raw();
        // Not begun yet.
        // SAFETY: valid handles, null optional infos.
        unsafe {
            assert_eq!(
                (fp.begin_frame)(s, std::ptr::null()),
                sys::Result::ERROR_SESSION_NOT_RUNNING
            );
            assert_eq!(
                (fp.request_exit_session)(s),
                sys::Result::ERROR_SESSION_NOT_RUNNING
            );
        }
        run_to_focused(&mut h);
        assert_eq!(
            h.session
                .begin(xr::ViewConfigurationType::PRIMARY_STEREO)
                .err(),
            Some(sys::Result::ERROR_SESSION_RUNNING)
        );
        // SAFETY: valid handles, null optional infos.
        unsafe {
            // xrBeginFrame without xrWaitFrame.
            assert_eq!(
                (fp.begin_frame)(s, std::ptr::null()),
                sys::Result::ERROR_CALL_ORDER_INVALID
            );
        }
        let st = h.waiter.wait().unwrap();
        assert!(st.should_render);
        let end = |t: sys::Time| {
            let info = sys::FrameEndInfo {
                ty: sys::FrameEndInfo::TYPE,
                next: std::ptr::null(),
                display_time: t,
                environment_blend_mode: sys::EnvironmentBlendMode::OPAQUE,
                layer_count: 0,
                layers: std::ptr::null(),
            };
            // SAFETY: valid session and info.
            unsafe { (fp.end_frame)(s, &info) }
        };
        assert_eq!(
            end(st.predicted_display_time),
            sys::Result::ERROR_CALL_ORDER_INVALID
        );
        // SAFETY: valid handles.
        unsafe { assert_eq!((fp.begin_frame)(s, std::ptr::null()), sys::Result::SUCCESS) };
        // A second begin without end discards the first frame.
        let st2 = h.waiter.wait().unwrap();
        assert!(st2.predicted_display_time.as_nanos() > st.predicted_display_time.as_nanos());
        // SAFETY: valid handles.
        unsafe {
            assert_eq!(
                (fp.begin_frame)(s, std::ptr::null()),
                sys::Result::FRAME_DISCARDED
            )
        };
        assert_eq!(
            end(sys::Time::from_nanos(0)),
            sys::Result::ERROR_TIME_INVALID
        );
        let bad_blend = sys::FrameEndInfo {
            ty: sys::FrameEndInfo::TYPE,
            next: std::ptr::null(),
            display_time: st2.predicted_display_time,
            environment_blend_mode: sys::EnvironmentBlendMode::ADDITIVE,
            layer_count: 0,
            layers: std::ptr::null(),
        };
        // SAFETY: valid session and info.
        assert_eq!(
            unsafe { (fp.end_frame)(s, &bad_blend) },
            sys::Result::ERROR_ENVIRONMENT_BLEND_MODE_UNSUPPORTED
        );
        let too_many = sys::FrameEndInfo {
            layer_count: 17,
            ..bad_blend
        };
        // SAFETY: the count is rejected before the (null) array is read.
        assert_eq!(
            unsafe { (fp.end_frame)(s, &too_many) },
            sys::Result::ERROR_LAYER_LIMIT_EXCEEDED
        );
        assert_eq!(end(st2.predicted_display_time), sys::Result::SUCCESS);
        // Ending before stopping is refused.
        assert_eq!(
            h.session.end().err(),
            Some(sys::Result::ERROR_SESSION_NOT_STOPPING)
        );
        h.session.request_exit().unwrap();
        assert_eq!(
            drain_states(&h.instance),
            vec![
                xr::SessionState::VISIBLE,
                xr::SessionState::SYNCHRONIZED,
                xr::SessionState::STOPPING
            ]
        );
        h.session.end().unwrap();
        assert_eq!(
            drain_states(&h.instance),
            vec![xr::SessionState::IDLE, xr::SessionState::EXITING]
        );
        assert_eq!(
            h.session.end().err(),
            Some(sys::Result::ERROR_SESSION_NOT_RUNNING)
        );
    });
}

#[test]
fn wait_frame_paces_to_the_display() {
    on_loader_thread(|| {
        let mut h = headless_session(instance());
        run_to_focused(&mut h);
        let mut times = Vec::new();
        let period = expected().period_ns;
        let start = std::time::Instant::now();
        for _ in 0..30 {
            let st = empty_frame(&mut h);
            assert_eq!(st.predicted_display_period.as_nanos(), period);
            times.push(st.predicted_display_time.as_nanos());
        }
        // Display times step by whole refresh periods.
        for w in times.windows(2) {
            let d = w[1] - w[0];
            assert!(
                d > 0 && d % period <= 1 || (period - d % period) <= 1,
                "step {d}"
            );
        }
        // 30 paced frames take about 30 periods (a free-running loop takes microseconds).
        let el = start.elapsed().as_secs_f64();
        assert!(
            el > 25.0 * period as f64 * 1e-9,
            "frames were not paced: {el} s"
        );
    });
}

#[test]
fn reference_spaces_and_views() {
    on_loader_thread(|| {
        let mut h = headless_session(instance());
        run_to_focused(&mut h);
        let types = h.session.enumerate_reference_spaces().unwrap();
        for t in [
            xr::ReferenceSpaceType::VIEW,
            xr::ReferenceSpaceType::LOCAL,
            xr::ReferenceSpaceType::STAGE,
            xr::ReferenceSpaceType::LOCAL_FLOOR,
        ] {
            assert!(types.contains(&t), "{t:?}");
        }
        let ident = xr::Posef::IDENTITY;
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, ident)
            .unwrap();
        let local = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::LOCAL, ident)
            .unwrap();
        let floor = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::LOCAL_FLOOR, ident)
            .unwrap();
        let view = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::VIEW, ident)
            .unwrap();
        let bad = xr::Posef {
            orientation: xr::Quaternionf {
                x: 0.0,
                y: 0.0,
                z: 0.0,
                w: 0.0,
            },
            position: xr::Vector3f::default(),
        };
        assert_eq!(
            h.session
                .create_reference_space(xr::ReferenceSpaceType::STAGE, bad)
                .err(),
            Some(sys::Result::ERROR_POSE_INVALID)
        );
        let st = h.waiter.wait().unwrap();
        let t = st.predicted_display_time;
        // Static motion: the head stands still above the stage floor.
        let height = expected().head_height;
        let v = view.locate(&stage, t).unwrap();
        assert!(v.location_flags.contains(
            xr::SpaceLocationFlags::POSITION_VALID | xr::SpaceLocationFlags::ORIENTATION_TRACKED
        ));
        assert!((v.pose.position.y - height).abs() < 1e-4, "{:?}", v.pose);
        let f = floor.locate(&stage, t).unwrap();
        assert!(f.pose.position.y.abs() < 1e-5);
        let l = local.locate(&floor, t).unwrap();
        assert!((l.pose.position.y - height).abs() < 1e-4);
        assert_eq!(
            view.locate(&stage, xr::Time::from_nanos(0)).err(),
            Some(sys::Result::ERROR_TIME_INVALID)
        );
        // Views: two eyes the display's IPD apart, with its field of view.
        let (flags, views) = h
            .session
            .locate_views(xr::ViewConfigurationType::PRIMARY_STEREO, t, &stage)
            .unwrap();
        assert!(flags
            .contains(xr::ViewStateFlags::POSITION_VALID | xr::ViewStateFlags::ORIENTATION_VALID));
        let dx = views[1].pose.position.x - views[0].pose.position.x;
        assert!((dx - expected().ipd).abs() < 1e-4, "{dx}");
        assert!(views[0].fov.angle_left < 0.0 && views[0].fov.angle_right > 0.0);
        assert_eq!(
            h.session
                .locate_views(xr::ViewConfigurationType::PRIMARY_MONO, t, &stage)
                .err(),
            Some(sys::Result::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED)
        );
        let b = h
            .session
            .reference_space_bounds_rect(xr::ReferenceSpaceType::STAGE)
            .unwrap();
        assert_eq!(b.map(|b| (b.width, b.height)), expected().play_area);
        assert!(h
            .session
            .reference_space_bounds_rect(xr::ReferenceSpaceType::LOCAL)
            .unwrap()
            .is_none());
        h.stream.begin().unwrap();
        h.stream
            .end(t, xr::EnvironmentBlendMode::OPAQUE, &[])
            .unwrap();
    });
}

#[test]
fn actions_with_conformance_automation() {
    on_loader_thread(|| {
        let mut h = headless_session(instance());
        let i = h.instance.clone();
        let set = i.create_action_set("gameplay", "Gameplay", 0).unwrap();
        let left = i.string_to_path("/user/hand/left").unwrap();
        let right = i.string_to_path("/user/hand/right").unwrap();
        let select = set
            .create_action::<bool>("select", "Select", &[left, right])
            .unwrap();
        let grip = set
            .create_action::<xr::Posef>("grip", "Grip", &[left, right])
            .unwrap();
        let buzz = set
            .create_action::<xr::Haptic>("buzz", "Buzz", &[left, right])
            .unwrap();
        assert_eq!(
            set.create_action::<bool>("select", "Other", &[]).err(),
            Some(sys::Result::ERROR_NAME_DUPLICATED)
        );
        assert_eq!(
            set.create_action::<bool>("Bad Name", "Bad", &[]).err(),
            Some(sys::Result::ERROR_PATH_FORMAT_INVALID)
        );
        let simple = i
            .string_to_path("/interaction_profiles/khr/simple_controller")
            .unwrap();
        let p = |s: &str| i.string_to_path(s).unwrap();
        i.suggest_interaction_profile_bindings(
            simple,
            &[
                xr::Binding::new(&select, p("/user/hand/left/input/select/click")),
                xr::Binding::new(&select, p("/user/hand/right/input/select/click")),
                xr::Binding::new(&grip, p("/user/hand/left/input/grip/pose")),
                xr::Binding::new(&buzz, p("/user/hand/left/output/haptic")),
            ],
        )
        .unwrap();
        // A path the profile does not have, and a profile of a non-enabled extension.
        assert_eq!(
            i.suggest_interaction_profile_bindings(
                simple,
                &[xr::Binding::new(
                    &select,
                    p("/user/hand/left/input/x/click")
                )]
            )
            .err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        // A bare `input` under a hand is neither a component nor an identifier.
        assert_eq!(
            i.suggest_interaction_profile_bindings(
                simple,
                &[xr::Binding::new(&select, p("/user/hand/right/input"))]
            )
            .err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        assert_eq!(
            i.create_action_set("", "Empty", 0).err(),
            Some(sys::Result::ERROR_NAME_INVALID)
        );
        assert_eq!(
            set.create_action::<bool>("", "Empty", &[]).err(),
            Some(sys::Result::ERROR_NAME_INVALID)
        );
        let hand_ext = p("/interaction_profiles/ext/hand_interaction_ext");
        assert_eq!(
            i.suggest_interaction_profile_bindings(
                hand_ext,
                &[xr::Binding::new(
                    &select,
                    p("/user/hand/left/input/select/value")
                )]
            )
            .err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        // The palm pose needs XR_EXT_palm_pose, which this instance did not enable.
        assert_eq!(
            i.suggest_interaction_profile_bindings(
                simple,
                &[xr::Binding::new(
                    &grip,
                    p("/user/hand/left/input/palm_ext/pose")
                )]
            )
            .err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        assert_eq!(
            select.state(&h.session, xr::Path::NULL).err(),
            Some(sys::Result::ERROR_ACTIONSET_NOT_ATTACHED)
        );
        h.session.attach_action_sets(&[&set]).unwrap();
        assert_eq!(
            h.session.attach_action_sets(&[&set]).err(),
            Some(sys::Result::ERROR_ACTIONSETS_ALREADY_ATTACHED)
        );
        assert_eq!(
            set.create_action::<f32>("late", "Late", &[]).err(),
            Some(sys::Result::ERROR_ACTIONSETS_ALREADY_ATTACHED)
        );
        run_to_focused(&mut h);
        // The Touch controllers drive the simple-controller bindings.
        assert_eq!(h.session.current_interaction_profile(left).unwrap(), simple);
        let auto = i.exts().ext_conformance_automation.unwrap();
        let s = h.session.as_raw();
        // SAFETY: valid session and paths.
        unsafe {
            assert_eq!(
                (auto.set_input_device_active)(s, simple, left, sys::TRUE),
                sys::Result::SUCCESS
            );
            assert_eq!(
                (auto.set_input_device_state_bool)(
                    s,
                    left,
                    p("/user/hand/left/input/select/click"),
                    sys::TRUE
                ),
                sys::Result::SUCCESS
            );
            assert_eq!(
                (auto.set_input_device_state_bool)(
                    s,
                    left,
                    p("/user/hand/left/input/nothing/click"),
                    sys::TRUE
                ),
                sys::Result::ERROR_PATH_UNSUPPORTED
            );
        }
        h.session
            .sync_actions(&[xr::ActiveActionSet::new(&set)])
            .unwrap();
        let st = select.state(&h.session, left).unwrap();
        assert!(st.is_active && st.current_state);
        let r = select.state(&h.session, right).unwrap();
        assert!(r.is_active && !r.current_state);
        let all = select.state(&h.session, xr::Path::NULL).unwrap();
        assert!(all.current_state);
        assert_eq!(
            select.state(&h.session, p("/user/head")).err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        // Release: changed since last sync.
        // SAFETY: valid session and paths.
        unsafe {
            (auto.set_input_device_state_bool)(
                s,
                left,
                p("/user/hand/left/input/select/click"),
                sys::FALSE,
            )
        };
        h.session
            .sync_actions(&[xr::ActiveActionSet::new(&set)])
            .unwrap();
        let st = select.state(&h.session, left).unwrap();
        assert!(!st.current_state && st.changed_since_last_sync);
        // Type mismatch through the raw call.
        let info = sys::ActionStateGetInfo {
            ty: sys::ActionStateGetInfo::TYPE,
            next: std::ptr::null(),
            action: grip.as_raw(),
            subaction_path: xr::Path::NULL,
        };
        let mut b = sys::ActionStateBoolean {
            ty: sys::ActionStateBoolean::TYPE,
            next: std::ptr::null_mut(),
            current_state: sys::FALSE,
            changed_since_last_sync: sys::FALSE,
            last_change_time: sys::Time::from_nanos(0),
            is_active: sys::FALSE,
        };
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { (i.fp().get_action_state_boolean)(s, &info, &mut b) },
            sys::Result::ERROR_ACTION_TYPE_MISMATCH
        );
        // Pose action: an action space follows the controller grip.
        let grip_space = grip
            .create_space(&h.session, left, xr::Posef::IDENTITY)
            .unwrap();
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let fs = h.waiter.wait().unwrap();
        let loc = grip_space
            .locate(&stage, fs.predicted_display_time)
            .unwrap();
        assert!(loc
            .location_flags
            .contains(xr::SpaceLocationFlags::POSITION_VALID));
        assert!((loc.pose.position.x + 0.2).abs() < 1e-4, "{:?}", loc.pose);
        h.stream.begin().unwrap();
        h.stream
            .end(
                fs.predicted_display_time,
                xr::EnvironmentBlendMode::OPAQUE,
                &[],
            )
            .unwrap();
        // Bound sources and their names.
        let sources = select.bound_sources(&h.session).unwrap();
        assert_eq!(sources.len(), 2);
        let name = h
            .session
            .input_source_localized_name(
                sources[0],
                xr::InputSourceLocalizedNameFlags::USER_PATH
                    | xr::InputSourceLocalizedNameFlags::COMPONENT,
            )
            .unwrap();
        assert!(name.contains("Hand") && name.contains("Select"), "{name}");
        // Haptics: the runtime accepts a vibration for a bound hand and a
        // stop (what the driver receives is not visible through OpenXR),
        // and refuses the wrong action type and a foreign subaction path.
        let vib = xr::HapticVibration::new()
            .amplitude(0.5)
            .duration(xr::Duration::MIN_HAPTIC)
            .frequency(0.0);
        let head = p("/user/head");
        assert_eq!(
            buzz.apply_feedback(&h.session, head, &vib).err(),
            Some(sys::Result::ERROR_PATH_UNSUPPORTED)
        );
        let hinfo = sys::HapticActionInfo {
            ty: sys::HapticActionInfo::TYPE,
            next: std::ptr::null(),
            action: select.as_raw(),
            subaction_path: left,
        };
        let raw_vib = sys::HapticVibration {
            ty: sys::HapticVibration::TYPE,
            next: std::ptr::null(),
            duration: sys::Duration::MIN_HAPTIC,
            frequency: 0.0,
            amplitude: 0.5,
        };
        // SAFETY: valid session, action and structures.
        let r = unsafe {
            (i.fp().apply_haptic_feedback)(
                s,
                &hinfo,
                &raw_vib as *const _ as *const sys::HapticBaseHeader,
            )
        };
        assert_eq!(r, sys::Result::ERROR_ACTION_TYPE_MISMATCH);
        buzz.apply_feedback(
            &h.session,
            left,
            &xr::HapticVibration::new()
                .amplitude(0.5)
                .duration(xr::Duration::MIN_HAPTIC)
                .frequency(0.0),
        )
        .unwrap();
        buzz.stop_feedback(&h.session, left).unwrap();
    });
}

#[test]
fn destroying_the_session_invalidates_its_spaces() {
    on_loader_thread(|| {
        let h = headless_session(instance());
        let fp = *h.instance.fp();
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let raw_space = stage.as_raw();
        let raw_session = h.session.as_raw();
        std::mem::forget(stage);
        // SAFETY: destroying the session through the runtime, then using its
        // stale space handle, which the runtime must reject.
        unsafe {
            assert_eq!((fp.destroy_session)(raw_session), sys::Result::SUCCESS);
            assert_eq!(
                (fp.destroy_space)(raw_space),
                sys::Result::ERROR_HANDLE_INVALID
            );
            assert_eq!(
                (fp.destroy_session)(raw_session),
                sys::Result::ERROR_HANDLE_INVALID
            );
        }
        let raw_instance = h.instance.as_raw();
        std::mem::forget(h.session);
        std::mem::forget(h.stream);
        std::mem::forget(h.waiter);
        std::mem::forget(h.instance);
        // SAFETY: the crate's wrappers were forgotten, so the instance is destroyed once.
        unsafe { assert_eq!((fp.destroy_instance)(raw_instance), sys::Result::SUCCESS) };
    });
}
