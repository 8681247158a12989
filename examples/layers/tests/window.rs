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
