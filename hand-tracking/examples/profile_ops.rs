//! Where the time of each hand model goes on the CPU: median and fastest
//! whole run, then the time per op kind (summed over the runs, per run),
//! or with `--each` the median time of every op of the compiled plan with
//! its shapes and its rate (GFLOP/s, two per multiply-add).
//!
//! `cargo run --release -p parallax-hand-tracking --example profile_ops [--each] [MODEL...]`

use candle_core::{Device, Tensor};
use parallax_hand_tracking::{models_dir, Graph, MODELS};
use std::collections::HashMap;

fn main() {
    let dir = models_dir();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let each = args.iter().any(|a| a == "--each");
    let wanted: Vec<&String> = args.iter().filter(|a| *a != "--each").collect();
    for name in MODELS {
        if !wanted.is_empty() && !wanted.iter().any(|w| *w == name) {
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
        println!(
            "{name}: median {:.2} ms, fastest {:.2} ms per run",
            totals[runs / 2],
            totals[0]
        );
        if each {
            // Per op: the median over the runs.
            let profiles: Vec<_> = (0..runs)
                .map(|_| graph.profile_ops(&x).unwrap().1)
                .collect();
            let (mut sum, mut macs) = (0.0, 0u64);
            for (i, op) in profiles[0].iter().enumerate() {
                let mut t: Vec<f64> = profiles
                    .iter()
                    .map(|p| p[i].time.as_secs_f64() * 1e3)
                    .collect();
                t.sort_by(f64::total_cmp);
                let ms = t[runs / 2];
                sum += ms;
                macs += op.macs;
                let rate = if op.macs > 0 {
                    format!("{:6.1} GFLOP/s", 2.0 * op.macs as f64 / ms / 1e6)
                } else {
                    String::new()
                };
                println!(
                    "  {i:3} {:<18} {:<48} {ms:7.3} ms {rate}",
                    op.kind, op.detail
                );
            }
            println!(
                "  sum of medians {sum:.2} ms, {:.1} M multiply-adds, {:.1} GFLOP/s",
                macs as f64 / 1e6,
                2.0 * macs as f64 / sum / 1e6
            );
            continue;
        }
        let mut times = HashMap::new();
        for _ in 0..runs {
            graph.run_profiled(&x, &mut times).unwrap();
        }
        let mut v: Vec<_> = times.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (k, d) in v {
            println!("  {k:<18} {:.3} ms", d.as_secs_f64() * 1e3 / runs as f64);
        }
    }
}
