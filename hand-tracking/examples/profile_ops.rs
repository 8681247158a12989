//! Where the time of each hand model goes on the CPU: median and fastest
//! whole run, and the time per op kind (summed over the runs, per run).
//!
//! `cargo run --release -p parallax-hand-tracking --example profile_ops [MODEL...]`

use candle_core::{Device, Tensor};
use parallax_hand_tracking::{models_dir, Graph, MODELS};
use std::collections::HashMap;

fn main() {
    let dir = models_dir();
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for name in MODELS {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        let graph =
            Graph::load(&dir, name, &Device::Cpu).expect("run ./scripts/fetch-hand-models.sh");
        let shape = graph.input_shape().to_vec();
        let x = Tensor::rand(0f32, 1f32, shape.as_slice(), &Device::Cpu).unwrap();
        for _ in 0..10 {
            graph.run(&x).unwrap();
        }
        let runs = 100;
        let mut totals: Vec<f64> = (0..runs)
            .map(|_| {
                let t = std::time::Instant::now();
                graph.run(&x).unwrap();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        totals.sort_by(f64::total_cmp);
        let mut times = HashMap::new();
        for _ in 0..runs {
            graph.run_profiled(&x, &mut times).unwrap();
        }
        let mut v: Vec<_> = times.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        println!(
            "{name}: median {:.2} ms, fastest {:.2} ms per run",
            totals[runs / 2],
            totals[0]
        );
        for (k, d) in v {
            println!("  {k:<18} {:.3} ms", d.as_secs_f64() * 1e3 / runs as f64);
        }
    }
}
