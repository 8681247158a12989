//! What the C ABI costs per call: the simulated headset called directly
//! (Rust traits, in-process) against the same headset built as a driver
//! library and called through the vtable (host wrapper, FFI, guest shims
//! with catch_unwind). Prints a table of ns per call and the ratio.
//!
//! `cargo build --release -p parallax-driver-simulated-abi && cargo bench -p parallax-sdk-abi`

use parallax_driver_simulated::{MotionKind, SimulatedBuilder};
use parallax_sdk::types::{Duration, Time};
use parallax_sdk::Builder;
use std::hint::black_box;

fn per_call(n: u32, mut f: impl FnMut(u32)) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = std::time::Instant::now();
            for i in 0..n {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    runs[runs.len() / 2]
}

fn main() {
    let exe = std::env::current_exe().unwrap();
    let lib = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libparallax_driver_simulated.so");
    if !lib.exists() {
        eprintln!(
            "{} missing: cargo build --release -p parallax-driver-simulated-abi",
            lib.display()
        );
        std::process::exit(1);
    }
    let abi = parallax_sdk_abi::host::load(&lib, Some(r#"{"motion":"scripted:1"}"#)).unwrap();
    let native = SimulatedBuilder::new(MotionKind::Scripted { seed: 1 });
    let systems = [
        ("native", native.open().unwrap()),
        ("abi", abi.open().unwrap()),
    ];
    let t0 = Time::now();
    let n = 200_000;
    let mut rows: Vec<(&str, [f64; 2])> = Vec::new();
    let mut measure = |name: &'static str, f: &dyn Fn(&parallax_sdk::SystemDevices, u32)| {
        let mut r = [0.0; 2];
        for (k, (_, sys)) in systems.iter().enumerate() {
            r[k] = per_call(n, |i| f(sys, i));
        }
        rows.push((name, r));
    };
    measure("pose head", &|s, i| {
        black_box(s.hmd.pose("head", t0 + Duration(i as i64 * 1000)).unwrap());
    });
    measure("pose grip", &|s, i| {
        black_box(
            s.devices[0]
                .pose("input/grip/pose", t0 + Duration(i as i64 * 1000))
                .unwrap(),
        );
    });
    let len = systems[0].1.devices[1].description().inputs.len();
    measure("read_inputs (13)", &|s, _| {
        let mut v = vec![None; len];
        s.devices[1].read_inputs(&mut v).unwrap();
        black_box(v);
    });
    measure("refresh_rate", &|s, _| {
        black_box(s.hmd.refresh_rate());
    });
    println!("| call | native ns | through the ABI ns | ratio |");
    println!("|---|---|---|---|");
    for (name, [a, b]) in rows {
        println!("| {name} | {a:.0} | {b:.0} | {:.2} |", b / a);
    }
}
