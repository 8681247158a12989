//! Time per op kind of each hand model (where the milliseconds go).
//! `cargo run --release -p parallax-hand-tracking --example profile`
use candle_core::Device;
use parallax_hand_tracking::{models_dir, Graph, MODELS};
use std::collections::HashMap;

fn main() {
    let dir = models_dir();
    for name in MODELS {
        let g = Graph::load(&dir, name, &Device::Cpu).expect("run ./scripts/fetch-hand-models.sh");
        let r = candle_core::safetensors::load(
            dir.join(format!("{name}.reference.safetensors")),
            &Device::Cpu,
        )
        .expect("reference inputs");
        let x = r["input"].get(2).unwrap().unsqueeze(0).unwrap();
        for _ in 0..3 {
            g.run(&x).unwrap();
        }
        let mut times = HashMap::new();
        let runs = 20;
        for _ in 0..runs {
            g.run_profiled(&x, &mut times).unwrap();
        }
        let mut v: Vec<_> = times.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        let total: f64 = v.iter().map(|(_, d)| d.as_secs_f64()).sum::<f64>() * 1e3 / runs as f64;
        println!("{name}: {total:.2} ms");
        for (k, d) in v {
            println!("  {k:16} {:7.2} ms", d.as_secs_f64() * 1e3 / runs as f64);
        }
    }
}
