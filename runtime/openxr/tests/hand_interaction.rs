//! `XR_EXT_hand_interaction` through the real Khronos loader: bare tracked
//! hands drive the hand interaction profile (poses where the joints say,
//! pinch and grasp from the hand's shape), controllers serve the same
//! profile from their trigger and grip, every hand profile gains the pinch
//! and poke poses, and nothing of it exists without the extension.

mod common;
use common::*;
use glam::Vec3;
use openxr as xr;
use openxr::sys;
use parallax_sdk::types::Pose;

fn exts(hand_interaction: bool) -> xr::ExtensionSet {
    let mut e = headless_exts();
    e.ext_hand_tracking = true;
    e.ext_hand_interaction = hand_interaction;
    e
}

const PROFILE: &str = "/interaction_profiles/ext/hand_interaction_ext";
const HANDS: [&str; 2] = ["/user/hand/left", "/user/hand/right"];

/// The actions an app using only the hand interaction profile makes.
struct HandActions {
    set: xr::ActionSet,
    aim: xr::Action<xr::Posef>,
    grip: xr::Action<xr::Posef>,
    pinch_pose: xr::Action<xr::Posef>,
    poke: xr::Action<xr::Posef>,
    pinch: xr::Action<f32>,
    pinch_click: xr::Action<bool>,
    pinch_ready: xr::Action<bool>,
    aim_activate: xr::Action<f32>,
    grasp: xr::Action<f32>,
    grasp_ready: xr::Action<bool>,
    paths: [xr::Path; 2],
}

impl HandActions {
    fn new(i: &xr::Instance) -> Self {
        let set = i.create_action_set("hands", "Hands", 0).unwrap();
        let paths = HANDS.map(|h| i.string_to_path(h).unwrap());
        let pose = |n: &str| set.create_action::<xr::Posef>(n, n, &paths).unwrap();
        let float = |n: &str| set.create_action::<f32>(n, n, &paths).unwrap();
        let boolean = |n: &str| set.create_action::<bool>(n, n, &paths).unwrap();
        let a = HandActions {
            aim: pose("aim"),
            grip: pose("grip"),
            pinch_pose: pose("pinch_pose"),
            poke: pose("poke"),
            pinch: float("pinch"),
            pinch_click: boolean("pinch_click"),
            pinch_ready: boolean("pinch_ready"),
            aim_activate: float("aim_activate"),
            grasp: float("grasp"),
            grasp_ready: boolean("grasp_ready"),
            set,
            paths,
        };
        let mut bindings = Vec::new();
        for hand in HANDS {
            let p = |c: &str| i.string_to_path(&format!("{hand}/{c}")).unwrap();
            bindings.extend([
                xr::Binding::new(&a.aim, p("input/aim/pose")),
                xr::Binding::new(&a.grip, p("input/grip/pose")),
                xr::Binding::new(&a.pinch_pose, p("input/pinch_ext/pose")),
                xr::Binding::new(&a.poke, p("input/poke_ext/pose")),
                xr::Binding::new(&a.pinch, p("input/pinch_ext/value")),
                // A boolean action on the value: a click when the tips touch.
                xr::Binding::new(&a.pinch_click, p("input/pinch_ext/value")),
                xr::Binding::new(&a.pinch_ready, p("input/pinch_ext/ready_ext")),
                xr::Binding::new(&a.aim_activate, p("input/aim_activate_ext/value")),
                xr::Binding::new(&a.grasp, p("input/grasp_ext/value")),
                xr::Binding::new(&a.grasp_ready, p("input/grasp_ext/ready_ext")),
            ]);
        }
        i.suggest_interaction_profile_bindings(i.string_to_path(PROFILE).unwrap(), &bindings)
            .unwrap();
        a
    }

    fn sync(&self, h: &Headless) {
        h.session
            .sync_actions(&[xr::ActiveActionSet::new(&self.set)])
            .unwrap();
    }

    fn float(&self, h: &Headless, a: &xr::Action<f32>, hand: usize) -> f32 {
        let s = a.state(&h.session, self.paths[hand]).unwrap();
        assert!(s.is_active);
        s.current_state
    }

    fn boolean(&self, h: &Headless, a: &xr::Action<bool>, hand: usize) -> bool {
        let s = a.state(&h.session, self.paths[hand]).unwrap();
        assert!(s.is_active);
        s.current_state
    }
}

fn located(space: &xr::Space, base: &xr::Space, t: xr::Time) -> Pose {
    let l = space.locate(base, t).unwrap();
    assert!(
        l.location_flags.contains(
            xr::SpaceLocationFlags::POSITION_VALID | xr::SpaceLocationFlags::ORIENTATION_VALID
        ),
        "{:?}",
        l.location_flags
    );
    pose(&l.pose)
}

/// Runs frames until `frame` frames have ended since xrBeginSession,
/// syncing the actions each time; returns the last predicted display time.
fn run_until(h: &mut Headless, a: &HandActions, ended: &mut u64, frame: u64) -> xr::Time {
    let mut t = xr::Time::from_nanos(1);
    while *ended < frame {
        t = empty_frame(h).predicted_display_time;
        *ended += 1;
        a.sync(h);
    }
    t
}

#[test]
fn bare_hands_drive_the_hand_interaction_profile() {
    on_loader_thread(|| {
        if expected().driver != "simulated" {
            // PARALLAX_SIM_CONTROLLERS and the desktop keys are the
            // built-in simulated driver's.
            return;
        }
        // No controllers: the simulated headset tracks the bare hands. The
        // right hand pinches from frame 6 (the trigger key of the active
        // right hand), the left makes a fist from frame 12.
        std::env::set_var("PARALLAX_SIM_CONTROLLERS", "none");
        std::env::set_var("PARALLAX_SIM_KEYS", "6:space+ 10:1 12:g+");
        std::env::remove_var("PARALLAX_HANDS");
        let instance = instance_with(&entry(), &exts(true), xr::Version::new(1, 0, 0)).unwrap();
        let i = instance.clone();
        let a = HandActions::new(&i);
        // The same app also suggests Touch bindings: with no controller in
        // the hands, the runtime picks the hand profile.
        let touch = i
            .string_to_path("/interaction_profiles/oculus/touch_controller")
            .unwrap();
        i.suggest_interaction_profile_bindings(
            touch,
            &[xr::Binding::new(
                &a.pinch,
                i.string_to_path("/user/hand/right/input/trigger/value")
                    .unwrap(),
            )],
        )
        .unwrap();
        let mut h = headless_session(instance);
        h.session.attach_action_sets(&[&a.set]).unwrap();
        let profile = i.string_to_path(PROFILE).unwrap();
        for p in a.paths {
            assert_eq!(h.session.current_interaction_profile(p).unwrap(), profile);
        }
        run_to_focused(&mut h);
        let mut ended = 1;
        let stage = h
            .session
            .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
            .unwrap();
        let trackers = [xr::Hand::LEFT, xr::Hand::RIGHT]
            .map(|hand| h.session.create_hand_tracker(hand).unwrap());
        let spaces = |act: &xr::Action<xr::Posef>| {
            a.paths.map(|p| {
                act.create_space(&h.session, p, xr::Posef::IDENTITY)
                    .unwrap()
            })
        };
        let (aim, grip, pinch_pose, poke) = (
            spaces(&a.aim),
            spaces(&a.grip),
            spaces(&a.pinch_pose),
            spaces(&a.poke),
        );

        // Relaxed hands: ready, not pinching, not grasping.
        let t = run_until(&mut h, &a, &mut ended, 3);
        for hand in 0..2 {
            assert!(a.boolean(&h, &a.pinch_ready, hand));
            assert!(a.boolean(&h, &a.grasp_ready, hand));
            assert_eq!(a.float(&h, &a.pinch, hand), 0.0);
            assert_eq!(a.float(&h, &a.grasp, hand), 0.0);
            assert!(!a.boolean(&h, &a.pinch_click, hand));
            assert!(a.aim.is_active(&h.session, a.paths[hand]).unwrap());
            // The poses agree with the joints the app reads at the same time.
            let joints = stage
                .locate_hand_joints(&trackers[hand], t)
                .unwrap()
                .unwrap();
            let j = |k: usize| pose(&joints[k].pose);
            let tip = j(10);
            let p = located(&poke[hand], &stage, t);
            assert!(
                (p.position - tip.position).length() - joints[10].radius < 1e-4,
                "poke on the index tip's surface"
            );
            assert!(p.orientation.dot(tip.orientation).abs() > 0.9999);
            let pinch = located(&pinch_pose[hand], &stage, t);
            let mid = (j(5).position + j(10).position) / 2.0;
            assert!((pinch.position - mid).length() < 1e-4);
            let g = located(&grip[hand], &stage, t);
            assert!((g.position - j(0).position).length() < 0.05);
            // Grip -Z runs from the little finger's knuckle to the index's.
            let across = (j(7).position - j(22).position).normalize();
            assert!((g.orientation * Vec3::NEG_Z).dot(across) > 0.9);
            // The aim ray points away from the user (the head looks down -Z).
            let ray = located(&aim[hand], &stage, t).orientation * Vec3::NEG_Z;
            assert!(ray.z < -0.5, "{ray}");
        }

        // The right hand pinches: value 1, click, aim activation; the left
        // hand does not.
        run_until(&mut h, &a, &mut ended, 9);
        assert!(a.float(&h, &a.pinch, 1) > 0.95);
        assert!(a.boolean(&h, &a.pinch_click, 1));
        assert!(a.float(&h, &a.aim_activate, 1) > 0.95);
        assert_eq!(a.float(&h, &a.pinch, 0), 0.0);
        let st = a.pinch_click.state(&h.session, a.paths[1]).unwrap();
        let all = a.pinch_click.state(&h.session, xr::Path::NULL).unwrap();
        assert!(all.current_state && all.is_active && st.is_active);

        // The left hand closes: grasp 1, and a fist is no pinch.
        run_until(&mut h, &a, &mut ended, 15);
        assert!(a.float(&h, &a.grasp, 0) > 0.95);
        assert!(!a.boolean(&h, &a.pinch_ready, 0));
        assert_eq!(a.float(&h, &a.pinch, 0), 0.0);
        assert!(a.float(&h, &a.pinch, 1) > 0.95);

        // Bound sources and their names.
        let sources = a.pinch.bound_sources(&h.session).unwrap();
        let expect: Vec<xr::Path> = HANDS
            .iter()
            .map(|u| {
                i.string_to_path(&format!("{u}/input/pinch_ext/value"))
                    .unwrap()
            })
            .collect();
        assert_eq!(sources.len(), 2);
        assert!(expect.iter().all(|p| sources.contains(p)));
        let name = h
            .session
            .input_source_localized_name(
                expect[1],
                xr::InputSourceLocalizedNameFlags::USER_PATH
                    | xr::InputSourceLocalizedNameFlags::INTERACTION_PROFILE
                    | xr::InputSourceLocalizedNameFlags::COMPONENT,
            )
            .unwrap();
        assert_eq!(name, "Right Hand Hand Interaction Pinch Value");
        drop(trackers);
        std::env::remove_var("PARALLAX_SIM_CONTROLLERS");
        std::env::remove_var("PARALLAX_SIM_KEYS");
    });
}

#[test]
fn controllers_serve_the_hand_interaction_profile() {
    on_loader_thread(|| {
        std::env::remove_var("PARALLAX_SIM_CONTROLLERS");
        let e = expected();
        let config = parallax_runtime::config::Config::from_env();
        let truth = parallax_runtime::hub::DeviceHub::open(&config).unwrap();
        let keys = truth.desktop_controls().is_some();
        let has_trigger = |user: &str| {
            truth
                .device_for_user_path(user)
                .and_then(|d| truth.description(d))
                .is_some_and(|d| {
                    d.inputs.iter().any(|c| c.path == "input/trigger/value")
                        && d.inputs.iter().any(|c| c.path == "input/grip/pose")
                })
        };
        if !has_trigger("/user/hand/right") {
            return; // this driver has no controller with a trigger
        }
        if keys {
            std::env::set_var("PARALLAX_SIM_KEYS", "6:space+");
        }
        {
            let instance = instance_with(&entry(), &exts(true), xr::Version::new(1, 0, 0)).unwrap();
            let i = instance.clone();
            let a = HandActions::new(&i);
            // The pinch and poke poses exist on controller profiles too.
            let touch = i
                .string_to_path("/interaction_profiles/oculus/touch_controller")
                .unwrap();
            let other = i.create_action_set("other", "Other", 1).unwrap();
            let poke = other
                .create_action::<xr::Posef>("touch_poke", "Touch poke", &[])
                .unwrap();
            let p = |s: &str| i.string_to_path(s).unwrap();
            i.suggest_interaction_profile_bindings(
                touch,
                &[
                    xr::Binding::new(&poke, p("/user/hand/left/input/poke_ext/pose")),
                    xr::Binding::new(&poke, p("/user/hand/right/input/pinch_ext/pose")),
                ],
            )
            .unwrap();
            // ... but not the gestures.
            assert_eq!(
                i.suggest_interaction_profile_bindings(
                    touch,
                    &[xr::Binding::new(
                        &a.pinch,
                        p("/user/hand/left/input/pinch_ext/value")
                    )],
                )
                .err(),
                Some(sys::Result::ERROR_PATH_UNSUPPORTED)
            );
            let h = headless_session(instance);
            h.session.attach_action_sets(&[&a.set, &other]).unwrap();
            // Touch was suggested and is the controllers' own profile.
            let right = a.paths[1];
            assert_eq!(h.session.current_interaction_profile(right).unwrap(), touch);
        }

        // An app that suggests only the hand profile gets it from the
        // controllers.
        let instance = instance_with(&entry(), &exts(true), xr::Version::new(1, 0, 0)).unwrap();
        let i = instance.clone();
        let a = HandActions::new(&i);
        let mut h = headless_session(instance);
        h.session.attach_action_sets(&[&a.set]).unwrap();
        let profile = i.string_to_path(PROFILE).unwrap();
        let right = a.paths[1];
        assert_eq!(
            h.session.current_interaction_profile(right).unwrap(),
            profile,
            "{}",
            e.driver
        );
        run_to_focused(&mut h);
        let mut ended = 1;
        let t = run_until(&mut h, &a, &mut ended, 3);
        // Controllers are always ready; the values are the trigger and grip.
        assert!(a.boolean(&h, &a.pinch_ready, 1));
        assert!(a.boolean(&h, &a.grasp_ready, 1));
        let grip = a
            .grip
            .create_space(&h.session, right, xr::Posef::IDENTITY)
            .unwrap();
        let pinch = a
            .pinch_pose
            .create_space(&h.session, right, xr::Posef::IDENTITY)
            .unwrap();
        let poke = a
            .poke
            .create_space(&h.session, right, xr::Posef::IDENTITY)
            .unwrap();
        // In front of the controller at a fixed offset from the grip, +Y up
        // (the grip's -Z) and +Z back at the user (the grip's +Y).
        let rel = located(&pinch, &grip, t);
        assert!((rel.position - Vec3::new(0.0, -0.07, -0.02)).length() < 1e-4);
        assert!((rel.orientation * Vec3::Y - Vec3::NEG_Z).length() < 1e-4);
        assert!((rel.orientation * Vec3::Z - Vec3::Y).length() < 1e-4);
        let rel = located(&poke, &grip, t);
        assert!((rel.position - Vec3::new(0.0, -0.09, -0.02)).length() < 1e-4);
        if keys {
            assert_eq!(a.float(&h, &a.pinch, 1), 0.0);
            run_until(&mut h, &a, &mut ended, 9);
            assert_eq!(a.float(&h, &a.pinch, 1), 1.0);
            assert_eq!(a.float(&h, &a.aim_activate, 1), 1.0);
            assert!(a.boolean(&h, &a.pinch_click, 1));
            assert_eq!(a.float(&h, &a.grasp, 1), 0.0);
            std::env::remove_var("PARALLAX_SIM_KEYS");
        }
    });
}

#[test]
fn nothing_without_the_extension() {
    on_loader_thread(|| {
        let instance = instance_with(&entry(), &exts(false), xr::Version::new(1, 0, 0)).unwrap();
        let i = &instance;
        let set = i.create_action_set("plain", "Plain", 0).unwrap();
        let act = set.create_action::<xr::Posef>("pose", "Pose", &[]).unwrap();
        let p = |s: &str| i.string_to_path(s).unwrap();
        for (profile, component) in [
            (PROFILE, "/user/hand/left/input/aim/pose"),
            (
                "/interaction_profiles/oculus/touch_controller",
                "/user/hand/left/input/pinch_ext/pose",
            ),
            (
                "/interaction_profiles/khr/simple_controller",
                "/user/hand/right/input/poke_ext/pose",
            ),
        ] {
            assert_eq!(
                i.suggest_interaction_profile_bindings(
                    p(profile),
                    &[xr::Binding::new(&act, p(component))]
                )
                .err(),
                Some(sys::Result::ERROR_PATH_UNSUPPORTED),
                "{profile} {component}"
            );
        }
    });
}
