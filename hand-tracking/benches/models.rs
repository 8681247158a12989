//! Per-inference time of each hand model: the candle port against the TFLite
//! runtime (ai-edge-litert with XNNPACK, from the fetch script's venv) on the
//! same input, in the same run, on the same cores. Prints a table.
//!
//! `cargo bench -p parallax-hand-tracking --bench models`

use candle_core::{Device, Tensor};
use parallax_hand_tracking::landmark::Image;
use parallax_hand_tracking::palm::Roi;
use parallax_hand_tracking::tracker::LandmarkSource;
use parallax_hand_tracking::{models_dir, Graph, HandLandmarker, Variant, MODELS};
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
    // A whole stereo frame as the tracker's worst case runs it: on each of
    // two 640x480 cameras the detector plus the landmark model on two hand
    // regions (when tracking, the detector is skipped).
    let landmarker = HandLandmarker::load(&dir, Variant::Lite, &Device::Cpu).unwrap();
    let r = candle_core::safetensors::load(
        dir.join("hand_landmark_lite.reference.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let hand: Vec<f32> = r["input"]
        .get(2)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    // The hand-like reference picture, tiled into a camera image.
    let (w, h) = (640usize, 480usize);
    let rgb: Vec<f32> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = ((i % w) % 224, (i / w) % 224);
            let k = (y * 224 + x) * 3;
            [hand[k], hand[k + 1], hand[k + 2]]
        })
        .collect();
    let img = Image {
        width: w,
        height: h,
        rgb: &rgb,
    };
    let rois = [0.25f32, 0.75].map(|x| Roi {
        center: glam::Vec2::new(x, 0.5),
        size: glam::Vec2::new(224.0 / w as f32, 224.0 / h as f32),
        rotation: 0.3,
    });
    let frame = || {
        for _camera in 0..2 {
            landmarker.detect_palms(&img).unwrap();
            for roi in &rois {
                landmarker.landmarks(&img, roi).unwrap();
            }
        }
    };
    frame();
    let times = (0..RUNS / 2)
        .map(|_| {
            let t = Instant::now();
            frame();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (m, p) = median_p90(times);
    let reference = match (
        tflite.get("palm_detection_lite"),
        tflite.get("hand_landmark_lite"),
    ) {
        (Some(d), Some(l)) => format!(
            "{:.2} | n/a | {:.2}",
            2.0 * (d.0 + 2.0 * l.0),
            m / (2.0 * (d.0 + 2.0 * l.0))
        ),
        _ => "n/a | n/a | n/a".into(),
    };
    println!("| stereo frame (lite: 2 x (detector + 2 crops), crop and resize included) | {m:.2} | {p:.2} | {reference} |");
    // The tracking case: both hands followed in both cameras, no detector:
    // four crops, run side by side as the tracker does.
    let mut source = landmarker;
    let images = [img, img];
    let jobs: Vec<(usize, Roi)> = (0..2)
        .flat_map(|cam| rois.iter().map(move |r| (cam, *r)))
        .collect();
    let mut tracked = || {
        LandmarkSource::landmarks_batch(&mut source, &images, &jobs).unwrap();
    };
    tracked();
    let times = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            tracked();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let (m, p) = median_p90(times);
    let reference = match tflite.get("hand_landmark_lite") {
        Some(l) => format!("{:.2} | n/a | {:.2}", 4.0 * l.0, m / (4.0 * l.0)),
        None => "n/a | n/a | n/a".into(),
    };
    println!("| tracked stereo frame (lite: 4 crops side by side, crop and resize included) | {m:.2} | {p:.2} | {reference} |");
    if tflite.is_empty() {
        println!(
            "(TFLite reference not run: {} missing; run ./scripts/fetch-hand-models.sh)",
            python.display()
        );
    }
}
