//! Per-inference time of each hand model: the candle port against the TFLite
//! runtime (ai-edge-litert with XNNPACK, from the fetch script's venv) on the
//! same input, in the same run, on the same cores. Prints a table.
//!
//! `cargo bench -p parallax-hand-tracking --bench models`

use candle_core::{Device, Tensor};
use parallax_hand_tracking::{models_dir, Graph, MODELS};
use std::time::Instant;

const RUNS: usize = 40;

fn median_p90(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    let dir = models_dir();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    for name in MODELS {
        let graph = Graph::load(&dir, name, &Device::Cpu)
            .unwrap_or_else(|e| panic!("{e} (run ./scripts/fetch-hand-models.sh)"));
        let r = candle_core::safetensors::load(
            dir.join(format!("{name}.reference.safetensors")),
            &Device::Cpu,
        )
        .unwrap();
        let x: Tensor = r["input"].get(2).unwrap().unsqueeze(0).unwrap();
        for _ in 0..5 {
            graph.run(&x).unwrap();
        }
        let times = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                graph.run(&x).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        rows.push((name, median_p90(times)));
    }
    // The reference, same inputs, same number of threads.
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/hand-tools-venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/bench_tflite.py");
    let tflite: std::collections::HashMap<String, (f64, f64)> = std::process::Command::new(&python)
        .arg(script)
        .arg(&dir)
        .arg(threads.to_string())
        .arg(RUNS.to_string())
        .args(MODELS)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    Some((
                        f.first()?.to_string(),
                        (f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    println!("hand models, one inference, {threads} threads, {RUNS} runs (ms)");
    println!(
        "| model | candle median | candle p90 | TFLite median | TFLite p90 | candle / TFLite |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, (m, p)) in rows {
        match tflite.get(name) {
            Some((tm, tp)) => println!(
                "| {name} | {m:.2} | {p:.2} | {tm:.2} | {tp:.2} | {:.2} |",
                m / tm
            ),
            None => println!("| {name} | {m:.2} | {p:.2} | n/a | n/a | n/a |"),
        }
    }
    if tflite.is_empty() {
        println!(
            "(TFLite reference not run: {} missing; run ./scripts/fetch-hand-models.sh)",
            python.display()
        );
    }
}
