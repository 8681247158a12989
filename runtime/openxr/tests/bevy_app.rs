//! The Bevy example (`examples/bevy-app`: Bevy 0.17, `bevy_mod_openxr`,
//! rapier3d) runs on Parallax unchanged: the real loader, the runtime, the
//! compositor, lavapipe. A script of desktop-simulator keys
//! (`PARALLAX_SIM_KEYS`) makes the right hand pick up the blue block, lift it,
//! carry it past the table's edge and let go; the app's own summary must show
//! it on the floor and the other blocks still on the table, and a captured
//! frame must show the scene.
//!
//! Bevy takes minutes to build, so this test is ignored by default; the test
//! script builds the app (`cargo build --manifest-path
//! examples/bevy-app/Cargo.toml`) and runs it with `--ignored`.
//! `PARALLAX_BEVY_APP` overrides where the binary is looked for.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Frames the runtime lets the app render before it ends the session.
const FRAMES: u32 = 120;
/// The keys: lower the hands 10 cm so the blue block is within reach of the
/// right hand, press the trigger (Space) at frame 70, rise 30 cm, step 60 cm
/// right (past the table's edge at x = 0.5 m) and let go at frame 90.
const KEYS: &str = "60:q*2 70:space+ 71:e*6 72:d*12 90:space-";

fn app() -> PathBuf {
    std::env::var_os("PARALLAX_BEVY_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/bevy-app/target/debug/parallax-example-bevy")
        })
}

/// Pixels within `tol` (per channel) of each colour.
fn count_near(rgba: &[u8], colours: &[[u8; 3]], tol: i32) -> Vec<usize> {
    let mut n = vec![0; colours.len()];
    for p in rgba.chunks_exact(4) {
        for (i, c) in colours.iter().enumerate() {
            if (0..3).all(|k| (p[k] as i32 - c[k] as i32).abs() <= tol) {
                n[i] += 1;
            }
        }
    }
    n
}

/// `name=(x,y,z)` from the app's summary line.
fn position(summary: &str, name: &str) -> [f32; 3] {
    let rest = summary
        .split(&format!(" {name}=("))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {summary:?}"));
    let inside = rest.split(')').next().unwrap();
    let v: Vec<f32> = inside.split(',').map(|x| x.parse().unwrap()).collect();
    [v[0], v[1], v[2]]
}

fn count(summary: &str, key: &str) -> u64 {
    summary
        .split(&format!("{key}="))
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {summary:?}"))
}

#[test]
#[ignore = "needs the Bevy example built (slow); scripts/test.sh runs it"]
fn bevy_app_runs_and_its_physics_and_grab_work() {
    let _g = common::serial();
    common::entry(); // the runtime manifest, XR_RUNTIME_JSON
    let app = app();
    assert!(
        app.exists(),
        "{} missing: cargo build --manifest-path examples/bevy-app/Cargo.toml",
        app.display()
    );
    let capture = common::target_dir().join("bevy_app_capture");
    let _ = std::fs::remove_dir_all(&capture);
    let log = common::target_dir().join("bevy_app.log");
    let mut child = Command::new("xvfb-run")
        // Bevy opens a desktop window of its own: give it a virtual display.
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(&app)
        .env("PARALLAX_DRIVER", "simulated")
        .env_remove("PARALLAX_DRIVER_PATH")
        .env("PARALLAX_TARGET", "headless")
        .env("PARALLAX_SIM_MOTION", "static")
        .env("PARALLAX_RENDER_SCALE", "0.5")
        .env("PARALLAX_EXIT_AFTER_FRAMES", FRAMES.to_string())
        .env("PARALLAX_SIM_KEYS", KEYS)
        .env("PARALLAX_CAPTURE", &capture)
        .env("PARALLAX_CAPTURE_FRAMES", "55")
        .env("NO_COLOR", "1")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("xvfb-run (Debian xvfb) must be installed");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = common::wait_or_kill(
        &mut child,
        Duration::from_secs(600),
        &format!("the Bevy app (log: {})", log.display()),
    );
    let out = reader.join().unwrap();
    let err = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: String = err
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        status.success(),
        "the Bevy app exited with {status}:\n{tail}"
    );
    println!(
        "Bevy app: {FRAMES} frames in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // The runtime's render scale reached the app: half of 2064x2208.
    assert!(
        err.contains("XrCamera resolution: [1032, 1104]"),
        "the app did not render at the recommended (scaled) size:\n{tail}"
    );

    // The app's own report: it rendered, rapier ran, the script's grab worked.
    let summary = out
        .lines()
        .find(|l| l.starts_with("bevy-app summary:"))
        .unwrap_or_else(|| panic!("no summary on stdout:\n{out}\n{tail}"));
    println!("{summary}");
    assert!(count(summary, "frames") >= FRAMES as u64, "{summary}");
    assert!(
        count(summary, "physics_steps") >= FRAMES as u64,
        "{summary}"
    );
    assert_eq!(count(summary, "grabs"), 1, "{summary}");
    assert_eq!(count(summary, "releases"), 1, "{summary}");
    // Resting on the table (top at 1.0 m, blocks 8 cm): centre at 1.04 m.
    for name in ["red", "green"] {
        let p = position(summary, name);
        assert!(
            (p[1] - 1.04).abs() < 0.01,
            "{name} is not on the table: {p:?}"
        );
    }
    // Carried 60 cm right from x = 0.15 and dropped past the edge: on the floor.
    let blue = position(summary, "blue");
    assert!(
        blue[1] < 0.05 && blue[0] > 0.5,
        "the blue block did not end on the floor right of the table: {blue:?}"
    );
    // The tower of crates (25 cm each) still stands.
    let top = position(summary, "crate4");
    assert!((top[1] - 0.875).abs() < 0.02, "the tower fell: {top:?}");

    // A captured frame shows the scene in each eye: sky, floor, table, the
    // blocks and the crates (colours as Bevy's lighting and tonemapping
    // render them; 14 levels of tolerance per channel).
    for eye in 0..2 {
        let (w, h, rgba) = common::read_png(&capture.join(format!("frame-00055-eye{eye}.png")));
        let total = (w * h) as usize;
        let names = ["sky", "floor", "table", "green", "blue", "crate", "crate"];
        let n = count_near(&rgba, &SCENE_COLOURS, 14);
        println!("eye {eye}: {:?}", names.iter().zip(&n).collect::<Vec<_>>());
        assert!(n[0] > total / 4, "eye {eye}: sky {} of {total}", n[0]);
        assert!(n[1] > total / 10, "eye {eye}: floor {} of {total}", n[1]);
        assert!(n[2] > total / 50, "eye {eye}: table {} of {total}", n[2]);
        for (i, name) in names.iter().enumerate().skip(3) {
            assert!(n[i] > 2_000, "eye {eye}: only {} {name} pixels", n[i]);
        }
    }
}

/// sRGB colours of the scene's lit surfaces in the captured eye images, as
/// measured on lavapipe (the red block is mostly behind the left
/// controller at frame 55, so it is not counted).
const SCENE_COLOURS: [[u8; 3]; 7] = [
    [140, 178, 229], // sky (clear colour)
    [118, 126, 136], // floor
    [166, 117, 78],  // table top
    [83, 195, 78],   // green block
    [77, 122, 233],  // blue block
    [207, 188, 92],  // yellow crate
    [213, 148, 70],  // orange crate
];
