//! The desktop window target under a virtual X server (Debian `xvfb`): the
//! runtime opens a window and presents the composed panel into it while
//! the layers example runs.

use std::process::Command;

#[test]
fn panel_is_presented_to_a_desktop_window() {
    let exe = env!("CARGO_BIN_EXE_parallax-example-layers");
    let dir = std::path::Path::new(exe).parent().unwrap();
    let lib = dir.join("libparallax_openxr.so");
    assert!(
        lib.exists(),
        "{} missing: build the workspace",
        lib.display()
    );
    let manifest = dir.join("parallax_window_test_runtime.json");
    std::fs::write(&manifest, format!(r#"{{"file_format_version":"1.0.0","runtime":{{"name":"Parallax","library_path":"{}"}}}}"#, lib.display())).unwrap();
    let out = Command::new("xvfb-run")
        .args([
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            exe,
            "--frames",
            "100000",
        ])
        .env("XR_RUNTIME_JSON", &manifest)
        .env("PARALLAX_TARGET", "window")
        .env("PARALLAX_SIM_MOTION", "static")
        .env("PARALLAX_EXIT_AFTER_FRAMES", "60")
        .env("PARALLAX_LOG", "parallax_compositor=info,warn")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .output()
        .expect("xvfb-run (Debian xvfb) must be installed");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "example failed under Xvfb:\n{log}");
    assert!(
        log.contains("desktop window target open"),
        "no window opened:\n{log}"
    );
    // The target logs how many panel images it presented when it closes.
    // (Logs carry no colour codes when piped.)
    let presented: u64 = log
        .lines()
        .find(|l| l.contains("desktop window target closed"))
        .and_then(|l| l.split("presented=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the window target reported what it presented:\n{log}"));
    assert!(presented > 0, "nothing was presented:\n{log}");
}

/// The desktop simulator: keys typed into the window (through the X server,
/// with `xdotool`) walk the simulated headset, and the app sees it move.
#[test]
fn simulator_keys_move_the_headset() {
    let exe = env!("CARGO_BIN_EXE_parallax-example-layers");
    let dir = std::path::Path::new(exe).parent().unwrap();
    let lib = dir.join("libparallax_openxr.so");
    assert!(
        lib.exists(),
        "{} missing: build the workspace",
        lib.display()
    );
    let manifest = dir.join("parallax_simulator_test_runtime.json");
    std::fs::write(&manifest, format!(r#"{{"file_format_version":"1.0.0","runtime":{{"name":"Parallax","library_path":"{}"}}}}"#, lib.display())).unwrap();
    let flag = dir.join(format!("simulator-test-done-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let report = dir.join(format!("simulator-test-heads-{}", std::process::id()));
    // Start the app, wait for its window, focus it, type W ten times, wait
    // (up to a minute: window updates are slow on a busy software renderer)
    // until the app reports the head moved, then ask the app to exit.
    let script = format!(
        r#"
"{exe}" --frames 100000 --report-head --exit-when "{flag}" > "{report}" &
app=$!
wid=$(timeout 60 xdotool search --sync --name "Parallax simulator" | head -1)
xdotool windowfocus --sync "$wid"
sleep 1
xdotool key --delay 150 w w w w w w w w w w
for i in $(seq 60); do
  sleep 1
  awk '/ head /{{ if ($6 <= -0.45) found=1 }} END {{ exit !found }}' "{report}" && break
done
sleep 1
touch "{flag}"
wait $app
status=$?
cat "{report}"
exit $status"#,
        flag = flag.display(),
        report = report.display()
    );
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "sh", "-c", &script])
        .env("XR_RUNTIME_JSON", &manifest)
        .env("PARALLAX_TARGET", "window")
        .env("PARALLAX_SIM_MOTION", "static")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .output()
        .expect("xvfb-run and xdotool (Debian xvfb, xdotool) must be installed");
    let _ = std::fs::remove_file(&flag);
    let _ = std::fs::remove_file(&report);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "simulator run failed:\n{stdout}\n{log}"
    );
    let z: Vec<f32> = stdout
        .lines()
        .filter_map(|l| l.split(" head ").nth(1))
        .filter_map(|p| p.split_whitespace().nth(2)?.parse().ok())
        .collect();
    assert!(z.len() >= 2, "too few head reports:\n{stdout}");
    assert!(
        z[0].abs() < 1e-3,
        "the head starts at the stage origin: {z:?}"
    );
    let last = *z.last().unwrap();
    // Ten presses of W: 5 cm each, plus up to 0.1 s at 1 m/s for each press
    // the window saw held across one of its (slow, on lavapipe) updates.
    assert!(
        (-1.5..=-0.45).contains(&last),
        "the head did not walk forward 0.5 m: {last} (reports {z:?})"
    );
}
