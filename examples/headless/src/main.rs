//! A headless OpenXR app (`XR_MND_headless`): runs a frame loop with
//! actions and view location for N frames on whatever runtime the loader
//! picks, and prints frame timing: the wake-up error of `xrWaitFrame`
//! (when it returned minus when it promised, `predictedDisplayTime -
//! predictedDisplayPeriod`) and the CPU time per frame spent inside the
//! runtime (thread CPU time, so `xrWaitFrame`'s sleep does not count).
//!
//! Run it on Parallax with `parallax run -- parallax-example-headless`.
#![deny(unsafe_code)]

use clap::Parser;
use openxr as xr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Headless OpenXR frame loop with timing")]
struct Args {
    /// Frames to run.
    #[arg(long, default_value_t = 1000)]
    frames: u32,
}

fn monotonic_ns() -> i64 {
    rustix_time(false)
}

fn rustix_time(thread_cpu: bool) -> i64 {
    use rustix::time::{clock_gettime, ClockId};
    let ts = clock_gettime(if thread_cpu {
        ClockId::ThreadCPUTime
    } else {
        ClockId::Monotonic
    });
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn run(args: Args) -> Result<(), String> {
    // SAFETY: the system's OpenXR loader is trusted to be conformant.
    #[allow(unsafe_code)]
    let entry = unsafe { xr::Entry::load(&()) }
        .map_err(|e| format!("cannot load the OpenXR loader: {e}"))?;
    let mut exts = xr::ExtensionSet::default();
    exts.mnd_headless = true;
    let instance = entry
        .create_instance(
            &xr::ApplicationInfo {
                application_name: "parallax-headless",
                application_version: 1,
                engine_name: "none",
                engine_version: 0,
                api_version: xr::Version::new(1, 0, 0),
            },
            &exts,
            &[],
            &(),
        )
        .map_err(|e| format!("xrCreateInstance: {e}"))?;
    let props = instance.properties().map_err(|e| e.to_string())?;
    let system = instance
        .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .map_err(|e| format!("xrGetSystem: {e}"))?;
    // SAFETY: headless sessions take no graphics handles.
    #[allow(unsafe_code)]
    let (session, mut waiter, mut stream) = unsafe {
        instance.create_session::<xr::Headless>(system, &xr::headless::SessionCreateInfo {})
    }
    .map_err(|e| format!("xrCreateSession: {e}"))?;
    let set = instance
        .create_action_set("main", "Main", 0)
        .map_err(|e| e.to_string())?;
    let select = set
        .create_action::<bool>("select", "Select", &[])
        .map_err(|e| e.to_string())?;
    let profile = instance
        .string_to_path("/interaction_profiles/khr/simple_controller")
        .map_err(|e| e.to_string())?;
    let path = instance
        .string_to_path("/user/hand/right/input/select/click")
        .map_err(|e| e.to_string())?;
    instance
        .suggest_interaction_profile_bindings(profile, &[xr::Binding::new(&select, path)])
        .map_err(|e| e.to_string())?;
    session
        .attach_action_sets(&[&set])
        .map_err(|e| e.to_string())?;
    let stage = session
        .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
        .map_err(|e| e.to_string())?;

    let mut buf = xr::EventDataBuffer::new();
    let mut running = false;
    let mut frames = 0u32;
    let mut wake_errors_ms = Vec::new();
    let mut cpu_us = Vec::new();
    'outer: loop {
        while let Some(ev) = instance.poll_event(&mut buf).map_err(|e| e.to_string())? {
            if let xr::Event::SessionStateChanged(s) = ev {
                match s.state() {
                    xr::SessionState::READY => {
                        session
                            .begin(xr::ViewConfigurationType::PRIMARY_STEREO)
                            .map_err(|e| e.to_string())?;
                        running = true;
                    }
                    xr::SessionState::STOPPING => {
                        session.end().map_err(|e| e.to_string())?;
                        running = false;
                    }
                    xr::SessionState::EXITING | xr::SessionState::LOSS_PENDING => break 'outer,
                    _ => {}
                }
            }
        }
        if !running {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        let cpu0 = rustix_time(true);
        let st = waiter.wait().map_err(|e| format!("xrWaitFrame: {e}"))?;
        let woke = monotonic_ns();
        let cpu1 = rustix_time(true);
        stream.begin().map_err(|e| format!("xrBeginFrame: {e}"))?;
        session
            .sync_actions(&[xr::ActiveActionSet::new(&set)])
            .map_err(|e| format!("xrSyncActions: {e}"))?;
        let _ = select
            .state(&session, xr::Path::NULL)
            .map_err(|e| e.to_string())?;
        let _views = session
            .locate_views(
                xr::ViewConfigurationType::PRIMARY_STEREO,
                st.predicted_display_time,
                &stage,
            )
            .map_err(|e| e.to_string())?;
        let cpu2 = rustix_time(true);
        stream
            .end(
                st.predicted_display_time,
                xr::EnvironmentBlendMode::OPAQUE,
                &[],
            )
            .map_err(|e| format!("xrEndFrame: {e}"))?;
        let cpu3 = rustix_time(true);
        let promised =
            st.predicted_display_time.as_nanos() - st.predicted_display_period.as_nanos();
        wake_errors_ms.push((woke - promised) as f64 / 1e6);
        cpu_us.push(((cpu1 - cpu0) + (cpu2 - cpu1) + (cpu3 - cpu2)) as f64 / 1e3);
        frames += 1;
        if frames == args.frames {
            session.request_exit().map_err(|e| e.to_string())?;
        }
    }
    println!("runtime: {} {}", props.runtime_name, props.runtime_version);
    println!("frames: {frames}");
    let n = wake_errors_ms.len();
    println!("| metric | median | p99 |");
    println!("|---|---|---|");
    println!(
        "| xrWaitFrame wake-up error (ms) | {:.3} | {:.3} |",
        percentile(&mut wake_errors_ms.clone(), 0.5),
        percentile(&mut wake_errors_ms, 0.99)
    );
    println!(
        "| runtime CPU per frame (us): wait+begin+sync+state+views+end | {:.1} | {:.1} |",
        percentile(&mut cpu_us.clone(), 0.5),
        percentile(&mut cpu_us, 0.99)
    );
    if n == 0 {
        return Err("no frame ran".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parallax-example-headless: {e}");
            ExitCode::FAILURE
        }
    }
}
