//! `parallax hands`: evaluate the camera hand tracker on the simulated
//! sequences, write a simulated camera stream to disk, and run the tracker
//! on a recorded stream or on the selected driver's cameras.

use indicatif::{ProgressBar, ProgressStyle};
use parallax_hand_sim::eval::{self, median_p99, Report};
use parallax_hand_sim::gpu::Renderer;
use parallax_hand_sim::sequences::{frame, Sequence, RATE, SEQUENCES};
use parallax_hand_tracking::landmark::{frames_as_images, Image};
use parallax_hand_tracking::stereo::Camera;
use parallax_hand_tracking::tracker::{HandTracker, StereoHandTracker, TrackedHand};
use parallax_hand_tracking::{models_dir, HandLandmarker, Variant};
use parallax_sdk::types::CameraInfo;
use plotters::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Joint names in `XrHandJointEXT` order, for the plot.
const JOINTS: [&str; 26] = [
    "palm", "wrist", "T-meta", "T-prox", "T-dist", "T-tip", "I-meta", "I-prox", "I-int", "I-dist",
    "I-tip", "M-meta", "M-prox", "M-int", "M-dist", "M-tip", "R-meta", "R-prox", "R-int", "R-dist",
    "R-tip", "L-meta", "L-prox", "L-int", "L-dist", "L-tip",
];

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>16} [{bar:40}] {pos}/{len} frames, {elapsed} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn pick(names: &[String]) -> Result<Vec<Sequence>, String> {
    if names.is_empty() {
        return Ok(SEQUENCES.to_vec());
    }
    names
        .iter()
        .map(|n| {
            SEQUENCES
                .iter()
                .find(|s| s.name == n)
                .copied()
                .ok_or_else(|| {
                    let all: Vec<_> = SEQUENCES.iter().map(|s| s.name).collect();
                    format!("no sequence {n:?} (there are: {})", all.join(", "))
                })
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `parallax hands eval`.
pub fn eval(
    variant: Variant,
    sequences: &[String],
    frames: Option<usize>,
    out: &Path,
) -> Result<(), String> {
    let seqs = pick(sequences)?;
    let total: usize = seqs
        .iter()
        .map(|s| frames.map_or(s.frames, |f| f.min(s.frames)))
        .sum();
    let pb = bar(total as u64, "evaluating");
    let report = eval::evaluate(&models_dir(), variant, &seqs, frames, |s, _| {
        pb.set_message(s.name);
        pb.inc(1);
    })
    .map_err(|e| format!("{e} (models: run ./scripts/fetch-hand-models.sh)"))?;
    pb.finish_and_clear();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "Hand tracking on {} simulated frames ({:?} models, {} rayon threads; images rendered on {})",
        report.times.len(),
        variant,
        rayon_threads(),
        report.adapter
    );
    println!(
        "{:<16} {:>6} {:>9} {:>10} {:>8} {:>11} {:>6} {:>6} {:>6}",
        "sequence",
        "hands",
        "detected",
        "handed ok",
        "MPJPE mm",
        "PA-MPJPE mm",
        "PCK10",
        "PCK20",
        "PCK30"
    );
    let row = |name: &str, r: &Report| {
        let visible = r.results.iter().filter(|x| x.visible).count();
        println!(
            "{:<16} {:>6} {:>8.1}% {:>9.1}% {:>8.1} {:>11.1} {:>5.0}% {:>5.0}% {:>5.0}%",
            name,
            visible,
            100.0 * r.detection_rate(),
            100.0 * r.handedness_accuracy(),
            1e3 * r.mpjpe(),
            1e3 * r.pa_mpjpe(),
            100.0 * r.pck(0.010),
            100.0 * r.pck(0.020),
            100.0 * r.pck(0.030),
        );
    };
    for s in &seqs {
        let sub = Report {
            results: report
                .results
                .iter()
                .filter(|r| r.sequence == s.name)
                .cloned()
                .collect(),
            ..Default::default()
        };
        row(s.name, &sub);
    }
    row("all", &report);
    println!("\nper stereo frame (2 cameras), ms:  median    p99");
    let stage = |name: &str, f: fn(&eval::FrameTimes) -> Duration| {
        let (m, p) = median_p99(report.times.iter().map(f).collect());
        println!("  {name:<30} {:>7.2} {:>7.2}", ms(m), ms(p));
    };
    stage("palm detector", |t| t.detect);
    stage("landmark model", |t| t.landmarks);
    stage("triangulate + filter + fit", |t| t.fuse);
    stage("tracker total", |t| t.track);
    stage("rendering (not tracking)", |t| t.render);
    plot_joints(&report, &out.join("joint-error.png"))?;
    draw_snapshots(&report, &out.join("frames.png"))?;
    write_json(&report, variant, &out.join("eval.json"))?;
    println!(
        "\nwrote {0}/joint-error.png (mean error per joint), {0}/frames.png (truth green, tracked red), {0}/eval.json",
        out.display()
    );
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn write_json(r: &Report, variant: Variant, path: &Path) -> Result<(), String> {
    let per_joint: Vec<f64> = r
        .per_joint()
        .iter()
        .map(|e| (*e as f64 * 1e4).round() / 10.0)
        .collect();
    let v = serde_json::json!({
        "variant": format!("{variant:?}"),
        "frames": r.times.len(),
        "detection_rate": r.detection_rate(),
        "handedness_accuracy": r.handedness_accuracy(),
        "mpjpe_mm": r.mpjpe() * 1e3,
        "pa_mpjpe_mm": r.pa_mpjpe() * 1e3,
        "pck": {"10mm": r.pck(0.01), "20mm": r.pck(0.02), "30mm": r.pck(0.03)},
        "per_joint_mm": per_joint,
    });
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap_or_default())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn plot_joints(r: &Report, png: &Path) -> Result<(), String> {
    crate::demo::register_font()?;
    let e = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let per = r.per_joint().map(|v| v as f64 * 1e3);
    let ymax = per.iter().copied().fold(1.0, f64::max) * 1.15;
    let root = BitMapBackend::new(png, (1300, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "hand tracking: mean position error per joint (simulated sequences)",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d((0..25usize).into_segmented(), 0.0..ymax)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_labels(26)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                JOINTS.get(*i).copied().unwrap_or("").to_string()
            }
            SegmentValue::Last => String::new(),
        })
        .y_desc("mm")
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(BLUE.filled())
                .margin(3)
                .data(per.iter().enumerate().map(|(i, v)| (i, *v))),
        )
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}

/// Camera 0 of one frame per sequence side by side, truth joints green,
/// tracked joints red.
fn draw_snapshots(r: &Report, png: &Path) -> Result<(), String> {
    if r.snapshots.is_empty() {
        return Ok(());
    }
    let (w, h) = (
        r.snapshots[0].image.width as usize,
        r.snapshots[0].image.height as usize,
    );
    let cols = r.snapshots.len().min(2);
    let rows = r.snapshots.len().div_ceil(cols);
    let (ow, oh) = (w * cols, h * rows);
    let mut rgb = vec![0u8; ow * oh * 3];
    for (k, s) in r.snapshots.iter().enumerate() {
        let (ox, oy) = ((k % cols) * w, (k / cols) * h);
        for y in 0..h {
            for x in 0..w {
                let g = s.image.pixels[y * w + x];
                let o = ((oy + y) * ow + ox + x) * 3;
                rgb[o..o + 3].copy_from_slice(&[g, g, g]);
            }
        }
        let mut dot = |p: glam::Vec2, c: [u8; 3]| {
            for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let (x, y) = (p.x as i32 + dx, p.y as i32 + dy);
                    if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                        let o = ((oy + y as usize) * ow + ox + x as usize) * 3;
                        rgb[o..o + 3].copy_from_slice(&c);
                    }
                }
            }
        };
        for hand in &s.truth {
            hand.iter().for_each(|p| dot(*p, [40, 220, 40]));
        }
        for hand in &s.tracked {
            hand.iter().for_each(|p| dot(*p, [230, 40, 40]));
        }
    }
    write_png(png, ow as u32, oh as u32, png::ColorType::Rgb, &rgb)
}

fn write_png(
    path: &Path,
    w: u32,
    h: u32,
    color: png::ColorType,
    data: &[u8],
) -> Result<(), String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), w, h);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(data))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A PNG's 8-bit pixels (palettes expanded, 16-bit samples cut to 8):
/// width, height, colour type and the rows.
pub fn read_png(path: &Path) -> Result<(u32, u32, png::ColorType, Vec<u8>), String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(f));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    buf.truncate(info.buffer_size());
    Ok((info.width, info.height, info.color_type, buf))
}

fn read_gray_png(path: &Path) -> Result<(u32, u32, Vec<u8>), String> {
    let (w, h, color, buf) = read_png(path)?;
    if color != png::ColorType::Grayscale {
        return Err(format!("{}: not an 8-bit grey PNG", path.display()));
    }
    Ok((w, h, buf))
}

/// `parallax hands record`: renders a simulated sequence to a stream folder
/// (`stream.json` with the camera calibration, one grey PNG per camera and
/// frame) that `parallax hands run` reads.
pub fn record(sequence: &str, frames: Option<usize>, out: &Path) -> Result<(), String> {
    let mut seq = pick(&[sequence.to_string()])?[0];
    seq.frames = frames.map_or(seq.frames, |f| f.min(seq.frames));
    let renderer = Renderer::new().map_err(|e| e.to_string())?;
    let infos = parallax_driver_simulated::camera_infos();
    let cams: Vec<Camera> = infos.iter().map(Camera::from).collect();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let pb = bar(seq.frames as u64, "rendering");
    for i in 0..seq.frames {
        let f = frame(&seq, i);
        for (c, cam) in cams.iter().enumerate() {
            let img = renderer.render(&f.scene, cam).map_err(|e| e.to_string())?;
            write_png(
                &out.join(format!("frame-{i:05}-cam{c}.png")),
                img.width,
                img.height,
                png::ColorType::Grayscale,
                &img.pixels,
            )?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let meta = serde_json::json!({
        "sequence": seq.name,
        "rate": RATE,
        "frames": seq.frames,
        "cameras": infos,
    });
    std::fs::write(
        out.join("stream.json"),
        serde_json::to_string_pretty(&meta).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "wrote {} frames x {} cameras of {:?} to {}",
        seq.frames,
        cams.len(),
        seq.name,
        out.display()
    );
    Ok(())
}

fn print_hands(i: usize, hands: &[Option<TrackedHand>; 2]) -> String {
    let mut s = format!("frame {i:>5}:");
    for (name, h) in ["left", "right"].iter().zip(hands) {
        match h {
            Some(h) => {
                let w = h.joints[1].pose.position;
                s += &format!(
                    "  {name} wrist ({:+.3}, {:+.3}, {:+.3}) m, confidence {:.2}",
                    w.x, w.y, w.z, h.confidence
                )
            }
            None => s += &format!("  {name} -"),
        }
    }
    s
}

/// `parallax hands run`: the tracker on a recorded stream folder, or (no
/// folder) on the selected driver's headset cameras for `seconds`.
pub fn run(stream: Option<&Path>, variant: Variant, seconds: f64) -> Result<(), String> {
    let landmarker = HandLandmarker::load(&models_dir(), variant, &candle_core::Device::Cpu)
        .map_err(|e| format!("{e} (models: run ./scripts/fetch-hand-models.sh)"))?;
    let mut times = Vec::new();
    let mut found = [0usize; 2];
    let mut frames = 0usize;
    match stream {
        Some(dir) => {
            let meta: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("stream.json"))
                    .map_err(|e| format!("{}/stream.json: {e}", dir.display()))?,
            )
            .map_err(|e| format!("{}/stream.json: {e}", dir.display()))?;
            let infos: Vec<CameraInfo> = serde_json::from_value(meta["cameras"].clone())
                .map_err(|e| format!("{}/stream.json cameras: {e}", dir.display()))?;
            let rate = meta["rate"].as_f64().unwrap_or(30.0);
            let n = meta["frames"].as_u64().unwrap_or(0) as usize;
            let cams: Vec<Camera> = infos.iter().map(Camera::from).collect();
            let mut tracker = StereoHandTracker::new(landmarker, cams.clone());
            let pb = bar(n as u64, "tracking");
            for i in 0..n {
                let grey = (0..cams.len())
                    .map(|c| read_gray_png(&dir.join(format!("frame-{i:05}-cam{c}.png"))))
                    .collect::<Result<Vec<_>, _>>()?;
                let images = grey
                    .iter()
                    .enumerate()
                    .map(|(c, (w, h, g))| {
                        Image::gray(*w as usize, *h as usize, g)
                            .ok_or(format!("frame {i} camera {c}: fewer pixels than its size"))
                    })
                    .collect::<Result<Vec<Image>, _>>()?;
                let t = Instant::now();
                let hands = tracker
                    .track(&images, i as f64 / rate)
                    .map_err(|e| e.to_string())?;
                times.push(t.elapsed());
                pb.suspend(|| println!("{}", print_hands(i, &hands)));
                for (k, h) in hands.iter().enumerate() {
                    found[k] += h.is_some() as usize;
                }
                frames += 1;
                pb.inc(1);
            }
            pb.finish_and_clear();
        }
        None => {
            let config = parallax_runtime::config::Config::from_env();
            let hub = parallax_runtime::hub::DeviceHub::open(&config).map_err(|e| e.to_string())?;
            let hmd = hub.hmd().clone();
            let infos = hmd.description().cameras.clone();
            if infos.len() < 2 {
                return Err(format!(
                    "{} has {} cameras; hand tracking needs two or more",
                    hub.system_name(),
                    infos.len()
                ));
            }
            let cams: Vec<Camera> = infos.iter().map(Camera::from).collect();
            let mut tracker = StereoHandTracker::new(landmarker, cams);
            let mut latest: Vec<parallax_sdk::types::CameraFrame> =
                vec![Default::default(); infos.len()];
            let start = Instant::now();
            let pb = ProgressBar::new_spinner();
            while start.elapsed().as_secs_f64() < seconds {
                let mut fresh = true;
                for (c, f) in latest.iter_mut().enumerate() {
                    fresh &= hmd
                        .camera_frame(c, f)
                        .map_err(|e| format!("camera {c}: {e}"))?;
                }
                if !fresh {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                let images = frames_as_images(&latest)
                    .ok_or("a camera frame's data is shorter than its rows")?;
                let t = Instant::now();
                let hands = tracker
                    .track(&images, latest[0].time.0 as f64 * 1e-9)
                    .map_err(|e| e.to_string())?;
                times.push(t.elapsed());
                pb.suspend(|| println!("{}", print_hands(frames, &hands)));
                for (k, h) in hands.iter().enumerate() {
                    found[k] += h.is_some() as usize;
                }
                frames += 1;
                pb.tick();
            }
            pb.finish_and_clear();
        }
    }
    let (m, p) = median_p99(times);
    println!(
        "{frames} frames: left hand in {}, right hand in {}; tracker {:.1} ms median, {:.1} ms p99 per frame",
        found[0],
        found[1],
        ms(m),
        ms(p)
    );
    Ok(())
}

/// The variant named on the command line.
pub fn variant(name: &str) -> Result<Variant, String> {
    match name {
        "lite" => Ok(Variant::Lite),
        "full" => Ok(Variant::Full),
        other => Err(format!("--variant {other:?}: lite or full")),
    }
}
