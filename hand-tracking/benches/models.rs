//! Per-inference time of each hand model: the candle port against the TFLite
//! runtime (ai-edge-litert with XNNPACK, from the fetch script's venv) on the
//! same input, on the same cores, by turns of a few runs each (this
//! machine is noisy: all of one side's runs after the other's would compare
//! different moments). Prints a table of medians and the median of the
//! per-turn ratios.
//!
//! `cargo bench -p parallax-hand-tracking --bench models`

use candle_core::{Device, Tensor};
use parallax_hand_tracking::landmark::Image;
use parallax_hand_tracking::palm::Roi;
use parallax_hand_tracking::tracker::LandmarkSource;
use parallax_hand_tracking::{models_dir, Graph, HandLandmarker, Variant, MODELS};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const RUNS: usize = 40;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p90(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() * 9 / 10]
}

/// The TFLite side: `tools/bench_tflite.py`, kept running, asked for one
/// run of a model sequence at a time.
struct Reference {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reference {
    fn start(threads: usize) -> Result<Reference, String> {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/hand-tools-venv/bin/python");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/bench_tflite.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(models_dir())
            .arg(threads.to_string())
            .args(MODELS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            return Err(format!("{} did not start", python.display()));
        }
        Ok(Reference {
            child,
            stdin,
            stdout,
        })
    }

    /// Milliseconds of one run of `models` in order.
    fn run(&mut self, models: &[&str]) -> Option<f64> {
        writeln!(self.stdin, "run {}", models.join(" ")).ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        line.trim().parse().ok()
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// Runs per turn: each side runs this many times in a row (warm, as the
/// tracker runs the models frame after frame), then the other side.
const TURN: usize = 5;

/// One table row: `ours` and the reference's `models` by turns of
/// [`TURN`] runs; the ratio is the median over the turns of ours / theirs
/// (each turn's medians).
fn row(
    label: &str,
    reference: &mut Option<Reference>,
    models: &[&str],
    runs: usize,
    mut ours: impl FnMut(),
) {
    for _ in 0..3 {
        ours();
    }
    let (mut mine, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.div_ceil(TURN) {
        let turn: Vec<f64> = (0..TURN)
            .map(|_| {
                let t = Instant::now();
                ours();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        mine.extend(&turn);
        let Some(r) = reference.as_mut() else {
            continue;
        };
        let other: Option<Vec<f64>> = (0..TURN).map(|_| r.run(models)).collect();
        if let Some(other) = other {
            ratios.push(median(turn) / median(other.clone()));
            theirs.extend(other);
        }
    }
    let reference = if ratios.len() == runs.div_ceil(TURN) {
        format!(
            "{:.2} | {:.2} | {:.2}",
            median(theirs.clone()),
            p90(theirs),
            median(ratios)
        )
    } else {
        "n/a | n/a | n/a".into()
    };
    println!(
        "| {label} | {:.2} | {:.2} | {reference} |",
        median(mine.clone()),
        p90(mine)
    );
}

fn main() {
    let dir = models_dir();
    // The same number of threads on both sides (RAYON_NUM_THREADS sets ours).
    let threads = rayon::current_num_threads();
    let mut reference = Reference::start(threads)
        .map_err(|e| {
            println!("(TFLite reference not run: {e}; run ./scripts/fetch-hand-models.sh)")
        })
        .ok();
    println!("hand models, {threads} threads, {RUNS} runs, ours and TFLite by turns (ms)");
    println!("| what | ours median | ours p90 | TFLite median | TFLite p90 | ours / TFLite (median of turns) |");
    println!("|---|---|---|---|---|---|");
    let mut loaded = Vec::new();
    for name in MODELS {
        let graph = Graph::load(&dir, name, &Device::Cpu)
            .unwrap_or_else(|e| panic!("{e} (run ./scripts/fetch-hand-models.sh)"));
        let r = candle_core::safetensors::load(
            dir.join(format!("{name}.reference.safetensors")),
            &Device::Cpu,
        )
        .unwrap();
        let x: Tensor = r["input"].get(2).unwrap().unsqueeze(0).unwrap();
        row(name, &mut reference, &[name], RUNS, || {
            graph.run(&x).unwrap();
        });
        loaded.push((name, graph, x));
    }
    // The models of a stereo frame with the detector (see below) on the
    // same inputs on both sides: the models alone.
    let model = |name: &str| loaded.iter().find(|(n, ..)| *n == name).expect("loaded");
    let (det, lm) = ("palm_detection_lite", "hand_landmark_lite");
    let ((_, dg, dx), (_, lg, lx)) = (model(det), model(lm));
    row(
        "stereo frame, models only (lite: 2 x (detector + 2 x landmarks))",
        &mut reference,
        &[det, lm, lm, det, lm, lm],
        RUNS / 2,
        || {
            for _camera in 0..2 {
                dg.run(dx).unwrap();
                lg.run(lx).unwrap();
                lg.run(lx).unwrap();
            }
        },
    );
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
    // The hand-like reference picture, tiled into a grey camera frame
    // (bytes, as the headset's tracking cameras give them).
    let (w, h) = (640usize, 480usize);
    let frame = parallax_sdk_types::CameraFrame {
        width: w as u32,
        height: h as u32,
        stride: w as u32,
        format: Some(parallax_sdk_types::PixelFormat::Gray8),
        data: (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) % 224, (i / w) % 224);
                let k = (y * 224 + x) * 3;
                let luma = 0.299 * hand[k] + 0.587 * hand[k + 1] + 0.114 * hand[k + 2];
                (luma * 255.0).round() as u8
            })
            .collect(),
        ..Default::default()
    };
    let img = Image::from_frame(&frame).unwrap();
    let rois = [0.25f32, 0.75].map(|x| Roi {
        center: glam::Vec2::new(x, 0.5),
        size: glam::Vec2::new(224.0 / w as f32, 224.0 / h as f32),
        rotation: 0.3,
    });
    // As the tracker runs it (both cameras' detectors side by side, then
    // the regions' landmarks side by side).
    let mut source = landmarker;
    let images = [img, img];
    let jobs: Vec<(usize, Roi)> = (0..2)
        .flat_map(|cam| rois.iter().map(move |r| (cam, *r)))
        .collect();
    row(
        "stereo frame (lite: 2 x (detector + 2 crops); ours from grey camera bytes: crops, resizing and decoding included)",
        &mut reference,
        &[det, lm, lm, det, lm, lm],
        RUNS / 2,
        || {
            LandmarkSource::detect_batch(&mut source, &images, &[0, 1]).unwrap();
            LandmarkSource::landmarks_batch(&mut source, &images, &jobs).unwrap();
        },
    );
    // The tracking case: both hands followed in both cameras, no detector:
    // four crops, run side by side as the tracker does (TFLite: one after
    // the other, each on all threads).
    row(
        "tracked stereo frame (lite: 4 crops; ours side by side, from grey camera bytes)",
        &mut reference,
        &[lm, lm, lm, lm],
        RUNS,
        || {
            LandmarkSource::landmarks_batch(&mut source, &images, &jobs).unwrap();
        },
    );
}
