//! The driver tools end to end: `parallax driver-check` passes the real
//! drivers and names every fault planted in the broken one; `parallax
//! devices` explains each manifest; `parallax record` then the replay
//! library (loaded through the ABI) gives back the recorded poses.

use std::path::PathBuf;
use std::process::Command;

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_parallax"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn lib(name: &str) -> PathBuf {
    let p = target_dir().join(format!("libparallax_driver_{name}.so"));
    assert!(
        p.exists(),
        "{} missing: cargo build --workspace",
        p.display()
    );
    p
}

fn parallax(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_parallax"));
    c.args(args);
    for k in [
        "PARALLAX_DRIVER",
        "PARALLAX_DRIVER_PATH",
        "PARALLAX_BROKEN_FAULTS",
    ] {
        c.env_remove(k);
    }
    // Only the folders named here are searched.
    let empty = std::env::temp_dir().join("parallax-no-xdg");
    for k in [
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CONFIG_DIRS",
        "XDG_DATA_DIRS",
    ] {
        c.env(k, &empty);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn driver_check_passes_real_drivers() {
    for name in ["simulated", "c", "replay"] {
        let path = lib(name);
        let (ok, out) = if name == "replay" {
            let rec = record("check", 0.1);
            let cfg = format!(r#"{{"file":"{}"}}"#, rec.display());
            parallax(
                &["driver-check", path.to_str().unwrap(), "--config", &cfg],
                &[],
            )
        } else {
            parallax(&["driver-check", path.to_str().unwrap()], &[])
        };
        assert!(ok, "{name}:\n{out}");
        assert!(out.contains(" 0 failed, "), "{name}:\n{out}");
        // Only hand joints, face expressions, eye gaze and body joints may
        // be skipped, and only by drivers without them: the simulated
        // headset has all four, a replay of it its face, gaze and body
        // (recorded) but no hand joints, the C sample none.
        let skipped: Vec<&str> = out.lines().filter(|l| l.contains("SKIP")).collect();
        let want: &[&str] = match name {
            "simulated" => &[],
            "replay" => &["hand-joints"],
            _ => &["hand-joints", "face-expressions", "eye-gaze", "body-joints"],
        };
        assert!(
            skipped.len() == want.len()
                && want.iter().all(|w| skipped.iter().any(|l| l.contains(w))),
            "{name}:\n{out}"
        );
    }
}

#[test]
fn driver_check_names_every_planted_fault() {
    let path = lib("broken");
    let expect = [
        ("nan_pose", "pose-values"),
        ("non_unit_quaternion", "pose-values"),
        ("backwards_time", "pose-timing"),
        ("out_of_range_input", "inputs"),
        ("panic", "panic-safety"),
        ("wrong_vtable_size", "vtable"),
        ("refresh_rate_lie", "refresh-rate"),
        ("no_stop", "haptics"),
        ("face_out_of_range", "face-expressions"),
        ("gaze_out_of_range", "eye-gaze"),
        ("body_non_unit", "body-joints"),
    ];
    for (fault, check) in expect {
        let cfg = format!(r#"{{"faults":["{fault}"]}}"#);
        let (ok, out) = parallax(
            &["driver-check", path.to_str().unwrap(), "--config", &cfg],
            &[],
        );
        assert!(!ok, "{fault} was not caught:\n{out}");
        let line = format!("FAIL {check:<13}");
        assert!(out.contains(&line), "{fault} should fail {check}:\n{out}");
    }
    // With no fault planted the same library passes.
    let (ok, out) = parallax(&["driver-check", path.to_str().unwrap()], &[]);
    assert!(ok, "{out}");
}

#[test]
fn devices_explains_each_driver_found() {
    let dir = std::env::temp_dir().join(format!("parallax-manifests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = |file: &str, body: String| std::fs::write(dir.join(file), body).unwrap();
    manifest(
        "a-c-sample.json",
        format!(
            r#"{{"file_format_version":"1.0.0","driver":{{"name":"c-sample","library_path":"{}","abi_version":"1.0","description":"the C sample"}}}}"#,
            lib("c").display()
        ),
    );
    manifest("b-bad.json", "{ this is not json".into());
    manifest(
        "c-old.json",
        r#"{"file_format_version":"1.0.0","driver":{"name":"ancient","library_path":"x.so","abi_version":"0.9"}}"#.into(),
    );
    manifest(
        "d-broken.json",
        format!(
            r#"{{"file_format_version":"1.0.0","driver":{{"name":"broken","library_path":"{}","config":{{"faults":["wrong_vtable_size"]}}}}}}"#,
            lib("broken").display()
        ),
    );
    let d = dir.to_string_lossy().into_owned();
    let (ok, out) = parallax(&["devices"], &[("PARALLAX_DRIVER_PATH", &d)]);
    assert!(ok, "{out}");
    // The C sample scores 5, above the built-in simulated headset's 1.
    assert!(out.contains("* c-sample"), "{out}");
    assert!(out.contains("chosen: highest estimate score"), "{out}");
    assert!(out.contains("skipped: bad manifest"), "{out}");
    assert!(out.contains("skipped: ABI too old"), "{out}");
    assert!(
        out.contains("skipped: vtable struct_size 24 is smaller"),
        "{out}"
    );
    assert!(out.contains("not chosen: a higher"), "{out}");
    // PARALLAX_DRIVER overrides the score.
    let (ok, out) = parallax(
        &["devices"],
        &[
            ("PARALLAX_DRIVER_PATH", &d),
            ("PARALLAX_DRIVER", "simulated"),
        ],
    );
    assert!(
        ok && out.contains("* simulated") && out.contains("named by PARALLAX_DRIVER"),
        "{out}"
    );
    let (ok, out) = parallax(
        &["devices"],
        &[("PARALLAX_DRIVER_PATH", &d), ("PARALLAX_DRIVER", "ancient")],
    );
    assert!(
        !ok && out.contains("PARALLAX_DRIVER=ancient: ABI too old"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn record(tag: &str, seconds: f64) -> PathBuf {
    let out = std::env::temp_dir().join(format!("parallax-{tag}-{}.pxrec", std::process::id()));
    let (ok, text) = parallax(
        &[
            "record",
            "--out",
            out.to_str().unwrap(),
            "--seconds",
            &seconds.to_string(),
            "--rate",
            "100",
        ],
        &[
            ("PARALLAX_SIM_MOTION", "scripted:5"),
            ("PARALLAX_DRIVER", "simulated"),
        ],
    );
    assert!(ok, "{text}");
    out
}

#[test]
fn record_then_replay_through_the_abi_gives_the_recorded_poses() {
    use parallax_sdk::types::Time;
    use parallax_sdk::Builder;
    let file = record("replay", 0.3);
    let rec = parallax_driver_replay::Recording::read(&file).unwrap();
    assert_eq!(rec.header.driver, "simulated");
    assert_eq!(rec.poses[0][0].len(), 30);
    let start = 1_000_000_000_000i64;
    let cfg = format!(
        r#"{{"file":"{}","loop":false,"start_ns":{start}}}"#,
        file.display()
    );
    let replay = parallax_sdk_abi::host::load(&lib("replay"), Some(&cfg)).unwrap();
    assert_eq!(replay.name(), "replay");
    let sys = replay.open().unwrap();
    let devices: Vec<_> =
        std::iter::once(sys.hmd.clone() as std::sync::Arc<dyn parallax_sdk::Device>)
            .chain(sys.devices.iter().cloned())
            .collect();
    let mut compared = 0;
    for (d, dev) in devices.iter().enumerate() {
        for (c, comp) in rec.header.devices[d].poses.iter().enumerate() {
            for s in &rec.poses[d][c] {
                let p = dev.pose(comp, Time(start + s.t)).unwrap();
                assert_eq!(p.pose, s.pose, "device {d} {comp} at {}", s.t);
                assert_eq!(p.velocity, s.velocity);
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 30 * 5);
    std::fs::remove_file(&file).ok();
}
