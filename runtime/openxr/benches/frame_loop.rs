//! Benchmark (not a test): thread CPU time per frame inside the runtime for
//! `xrWaitFrame` (its sleep does not count: thread CPU time), `xrBeginFrame`,
//! `xrEndFrame`, `xrLocateViews` and `xrSyncActions` (4 actions bound on two
//! hands), called directly (the code the `.so` exports) on a headless
//! session of the simulated headset. Prints a table of medians and p99s.
//!
//! `cargo bench -p parallax-openxr --bench frame_loop [-- FRAMES]`
#![allow(unsafe_code)]
#![allow(clippy::undocumented_unsafe_blocks)] // raw calls with locals and live handles

use openxr_sys as sys;
use openxr_sys::Handle;
use parallax_openxr::ffi::{action as a, instance as i, session as s, space as sp};
use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

fn cpu_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn fixed<const N: usize>(s: &str) -> [c_char; N] {
    let mut a = [0 as c_char; N];
    for (d, b) in a.iter_mut().zip(s.bytes()) {
        *d = b as c_char;
    }
    a
}

fn path(inst: sys::Instance, s: &CStr) -> sys::Path {
    let mut p = sys::Path::NULL;
    assert_eq!(
        unsafe { i::xrStringToPath(inst, s.as_ptr(), &mut p) },
        sys::Result::SUCCESS
    );
    p
}

fn stats(name: &str, v: &mut [f64]) {
    v.sort_by(|a, b| a.total_cmp(b));
    let med = v[v.len() / 2];
    let p99 = v[((v.len() - 1) as f64 * 0.99) as usize];
    println!("| {name} | {med:.2} | {p99:.2} |");
}

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(600);
    std::env::set_var("PARALLAX_SIM_MOTION", "scripted:3");
    let exts = [c"XR_MND_headless".as_ptr()];
    let ci = sys::InstanceCreateInfo {
        ty: sys::InstanceCreateInfo::TYPE,
        next: null(),
        create_flags: sys::InstanceCreateFlags::EMPTY,
        application_info: sys::ApplicationInfo {
            application_name: fixed("bench"),
            application_version: 1,
            engine_name: fixed(""),
            engine_version: 0,
            api_version: sys::Version::new(1, 0, 0),
        },
        enabled_api_layer_count: 0,
        enabled_api_layer_names: null(),
        enabled_extension_count: 1,
        enabled_extension_names: exts.as_ptr(),
    };
    let mut inst = sys::Instance::NULL;
    assert_eq!(
        unsafe { i::xrCreateInstance(&ci, &mut inst) },
        sys::Result::SUCCESS
    );
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
    let sci = sys::SessionCreateInfo {
        ty: sys::SessionCreateInfo::TYPE,
        next: null(),
        create_flags: sys::SessionCreateFlags::EMPTY,
        system_id: system,
    };
    let mut session = sys::Session::NULL;
    assert_eq!(
        unsafe { s::xrCreateSession(inst, &sci, &mut session) },
        sys::Result::SUCCESS
    );

    // Actions: a trigger, a select, a thumbstick and a grip pose on both hands.
    let aci = sys::ActionSetCreateInfo {
        ty: sys::ActionSetCreateInfo::TYPE,
        next: null(),
        action_set_name: fixed("game"),
        localized_action_set_name: fixed("Game"),
        priority: 0,
    };
    let mut set = sys::ActionSet::NULL;
    assert_eq!(
        unsafe { a::xrCreateActionSet(inst, &aci, &mut set) },
        sys::Result::SUCCESS
    );
    let hands = [
        path(inst, c"/user/hand/left"),
        path(inst, c"/user/hand/right"),
    ];
    let mut actions = Vec::new();
    for (name, ty) in [
        ("trigger", sys::ActionType::FLOAT_INPUT),
        ("select", sys::ActionType::BOOLEAN_INPUT),
        ("move", sys::ActionType::VECTOR2F_INPUT),
        ("grip", sys::ActionType::POSE_INPUT),
    ] {
        let ci = sys::ActionCreateInfo {
            ty: sys::ActionCreateInfo::TYPE,
            next: null(),
            action_name: fixed(name),
            action_type: ty,
            count_subaction_paths: 2,
            subaction_paths: hands.as_ptr(),
            localized_action_name: fixed(name),
        };
        let mut act = sys::Action::NULL;
        assert_eq!(
            unsafe { a::xrCreateAction(set, &ci, &mut act) },
            sys::Result::SUCCESS
        );
        actions.push(act);
    }
    let mut bindings = Vec::new();
    for side in ["left", "right"] {
        for (k, comp) in [
            "input/trigger/value",
            "input/a/click",
            "input/thumbstick",
            "input/grip/pose",
        ]
        .iter()
        .enumerate()
        {
            let comp = if side == "left" && *comp == "input/a/click" {
                "input/x/click"
            } else {
                comp
            };
            let p = std::ffi::CString::new(format!("/user/hand/{side}/{comp}")).unwrap();
            bindings.push(sys::ActionSuggestedBinding {
                action: actions[k],
                binding: path(inst, &p),
            });
        }
    }
    let sb = sys::InteractionProfileSuggestedBinding {
        ty: sys::InteractionProfileSuggestedBinding::TYPE,
        next: null(),
        interaction_profile: path(inst, c"/interaction_profiles/oculus/touch_controller"),
        count_suggested_bindings: bindings.len() as u32,
        suggested_bindings: bindings.as_ptr(),
    };
    assert_eq!(
        unsafe { a::xrSuggestInteractionProfileBindings(inst, &sb) },
        sys::Result::SUCCESS
    );
    let att = sys::SessionActionSetsAttachInfo {
        ty: sys::SessionActionSetsAttachInfo::TYPE,
        next: null(),
        count_action_sets: 1,
        action_sets: &set,
    };
    assert_eq!(
        unsafe { a::xrAttachSessionActionSets(session, &att) },
        sys::Result::SUCCESS
    );
    let rci = sys::ReferenceSpaceCreateInfo {
        ty: sys::ReferenceSpaceCreateInfo::TYPE,
        next: null(),
        reference_space_type: sys::ReferenceSpaceType::STAGE,
        pose_in_reference_space: sys::Posef::IDENTITY,
    };
    let mut stage = sys::Space::NULL;
    assert_eq!(
        unsafe { sp::xrCreateReferenceSpace(session, &rci, &mut stage) },
        sys::Result::SUCCESS
    );
    let bi = sys::SessionBeginInfo {
        ty: sys::SessionBeginInfo::TYPE,
        next: null(),
        primary_view_configuration_type: sys::ViewConfigurationType::PRIMARY_STEREO,
    };
    assert_eq!(
        unsafe { s::xrBeginSession(session, &bi) },
        sys::Result::SUCCESS
    );

    let active = sys::ActiveActionSet {
        action_set: set,
        subaction_path: sys::Path::NULL,
    };
    let sync = sys::ActionsSyncInfo {
        ty: sys::ActionsSyncInfo::TYPE,
        next: null(),
        count_active_action_sets: 1,
        active_action_sets: &active,
    };
    // Reference: the same pacing done by hand, a bare absolute sleep to the
    // next 90 Hz deadline: the floor of any xrWaitFrame that blocks.
    let mut bare = Vec::new();
    let period = 11_111_111i64;
    let mono = || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    let mut deadline = mono();
    for _ in 0..frames.min(300) {
        deadline += period;
        let t0 = cpu_ns();
        let ts = libc::timespec {
            tv_sec: deadline / 1_000_000_000,
            tv_nsec: deadline % 1_000_000_000,
        };
        unsafe {
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, null_mut())
        };
        bare.push((cpu_ns() - t0) as f64 / 1e3);
    }
    let (mut wait, mut beginf, mut endf, mut views_t, mut sync_t, mut total) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut views = [sys::View {
        ty: sys::View::TYPE,
        next: null_mut(),
        pose: sys::Posef::IDENTITY,
        fov: Default::default(),
    }; 2];
    for _ in 0..frames {
        let mut fs = sys::FrameState {
            ty: sys::FrameState::TYPE,
            next: null_mut(),
            predicted_display_time: sys::Time::from_nanos(0),
            predicted_display_period: sys::Duration::from_nanos(0),
            should_render: sys::FALSE,
        };
        let t0 = cpu_ns();
        assert!(unsafe { s::xrWaitFrame(session, null(), &mut fs) }.into_raw() >= 0);
        let t1 = cpu_ns();
        assert!(unsafe { s::xrBeginFrame(session, null()) }.into_raw() >= 0);
        let t2 = cpu_ns();
        assert!(unsafe { a::xrSyncActions(session, &sync) }.into_raw() >= 0);
        let t3 = cpu_ns();
        let vli = sys::ViewLocateInfo {
            ty: sys::ViewLocateInfo::TYPE,
            next: null(),
            view_configuration_type: sys::ViewConfigurationType::PRIMARY_STEREO,
            display_time: fs.predicted_display_time,
            space: stage,
        };
        let mut vs = sys::ViewState {
            ty: sys::ViewState::TYPE,
            next: null_mut(),
            view_state_flags: sys::ViewStateFlags::EMPTY,
        };
        let mut n = 0;
        assert_eq!(
            unsafe { sp::xrLocateViews(session, &vli, &mut vs, 2, &mut n, views.as_mut_ptr()) },
            sys::Result::SUCCESS
        );
        let t4 = cpu_ns();
        let fe = sys::FrameEndInfo {
            ty: sys::FrameEndInfo::TYPE,
            next: null(),
            display_time: fs.predicted_display_time,
            environment_blend_mode: sys::EnvironmentBlendMode::OPAQUE,
            layer_count: 0,
            layers: null(),
        };
        assert!(unsafe { s::xrEndFrame(session, &fe) }.into_raw() >= 0);
        let t5 = cpu_ns();
        let us = |a: i64, b: i64| (b - a) as f64 / 1e3;
        wait.push(us(t0, t1));
        beginf.push(us(t1, t2));
        sync_t.push(us(t2, t3));
        views_t.push(us(t3, t4));
        endf.push(us(t4, t5));
        total.push(us(t0, t5));
    }
    println!(
        "frame_loop: {frames} frames at 90 Hz, headless, simulated headset, thread CPU time (us)"
    );
    println!("| call | median | p99 |");
    println!("|---|---|---|");
    stats("xrWaitFrame (CPU, sleep excluded)", &mut wait);
    stats("xrBeginFrame", &mut beginf);
    stats("xrSyncActions (4 actions x 2 hands)", &mut sync_t);
    stats("xrLocateViews", &mut views_t);
    stats("xrEndFrame", &mut endf);
    stats("total per frame", &mut total);
    stats(
        "reference: bare clock_nanosleep to the next refresh",
        &mut bare,
    );
    unsafe { i::xrDestroyInstance(inst) };
}
