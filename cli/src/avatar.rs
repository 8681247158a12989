//! `parallax avatar`: train the expression codec and measure it.

use indicatif::{ProgressBar, ProgressStyle};
use parallax_avatar::codec::Scratch;
use parallax_avatar::eval::{mesh_error, mesh_error_of, quantise, ErrorStats};
use parallax_avatar::expressions::{preset, scripted_cycle, ExpressionSource, Weights, PRESETS};
use parallax_avatar::packet::{AvatarFrame, Gaze, Pose};
use parallax_avatar::train::{reference_roundtrip, train, Targets, TrainConfig};
use parallax_avatar::{sheet, AvatarDecoder, Codec, FaceModel};
use std::path::Path;
use std::time::Instant;

/// The seed of the held-out random expressions (training draws from
/// `seed ^ 0x5eed0fface`, so no training seed below 2^32 meets it).
const HELD_OUT_SEED: u64 = 0x0e7a_1000_0000_0000;

pub fn train_codec(cfg: &TrainConfig, out: &Path) -> Result<(), String> {
    let model = FaceModel::ict_facekit();
    let pb = ProgressBar::new(cfg.steps as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "training [{bar:40}] {pos}/{len} steps, {elapsed} ({eta} left) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let start = Instant::now();
    let mut smooth = None::<f32>;
    let codec = train(&model, cfg, |step, loss| {
        let s = smooth.map_or(loss, |s| 0.98 * s + 0.02 * loss);
        smooth = Some(s);
        pb.set_position(step as u64 + 1);
        if step % 50 == 0 {
            pb.set_message(format!("rms {:.3} mm", s.sqrt()));
        }
    })
    .map_err(|e| e.to_string())?;
    pb.finish();
    let bytes = codec.write();
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "trained in {:.0} s: {} ({} bytes, code of {} values)",
        start.elapsed().as_secs_f64(),
        out.display(),
        bytes.len(),
        codec.code_len()
    );
    let held = held_out(2000);
    let r = mesh_error(&model, &codec, &held);
    println!(
        "held-out random expressions: mean {:.3} mm, p99 {:.3} mm over {} vertices × {} frames",
        r.mean_mm, r.p99_mm, r.vertices, r.frames
    );
    Ok(())
}

pub fn held_out(n: usize) -> Vec<Weights> {
    let mut src = ExpressionSource::new(HELD_OUT_SEED);
    (0..n).map(|_| src.next_weights()).collect()
}

fn median_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// The error of sending the 52 weights themselves at 8 bits: the anchor
/// at 12.5 kbit/s.
fn direct_8bit(model: &FaceModel, codec: &Codec, frames: &[Weights]) -> ErrorStats {
    let mut targets = Targets::new(model, &codec.shapes);
    mesh_error_of(model, &codec.shapes, frames, |f, got| {
        targets.of(&f.map(|w| (w * 255.0).round() / 255.0), got)
    })
}

pub fn eval(codec_path: Option<&Path>, frames: usize, out: &Path) -> Result<(), String> {
    let model = FaceModel::ict_facekit();
    let codec = match codec_path {
        Some(p) => {
            let bytes =
                std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            Codec::read(&bytes).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Codec::shipped(),
    };
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let n = codec.code_len();
    println!(
        "codec: a code of {n} values; {} expression shapes; {}",
        codec.shapes.len(),
        codec
            .provenance
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Reconstruction.
    let held = held_out(frames);
    let scripted = scripted_cycle();
    let presets: Vec<Weights> = PRESETS.iter().filter_map(|(p, _)| preset(p)).collect();
    println!();
    println!(
        "reconstruction error (mm, over the {} vertices expressions move; code quantised to 8 bits)",
        mesh_error(&model, &codec, &presets[..1]).vertices
    );
    println!(
        "{:<34} {:>7} {:>8} {:>8} {:>8} {:>12}",
        "set", "frames", "mean", "p99", "max", "worst frame"
    );
    let mut rows = Vec::new();
    for (name, set) in [
        ("held-out random expressions", &held),
        ("scripted cycle (12 s at 30 Hz)", &scripted),
        ("named presets", &presets),
    ] {
        let r = mesh_error(&model, &codec, set);
        println!(
            "{:<34} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>12.3}",
            name, r.frames, r.mean_mm, r.p99_mm, r.max_mm, r.worst_frame_mean_mm
        );
        rows.push(
            serde_json::json!({"set": name, "frames": r.frames, "mean_mm": r.mean_mm,
            "p99_mm": r.p99_mm, "max_mm": r.max_mm}),
        );
    }
    let d = direct_8bit(&model, &codec, &held);
    println!(
        "{:<34} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>12.3}",
        "anchor: 52 weights at 8 bits",
        d.frames,
        d.mean_mm,
        d.p99_mm,
        d.max_mm,
        d.worst_frame_mean_mm
    );

    // Bitrate.
    let pose = Pose {
        position: glam::Vec3::new(0.0, 1.6, 0.0),
        orientation: glam::Quat::IDENTITY,
    };
    let hand = Pose {
        position: glam::Vec3::new(0.2, 1.2, -0.3),
        ..pose
    };
    let gaze = Gaze {
        direction: -glam::Vec3::Z,
        confidence: 1.0,
    };
    let mut frame = AvatarFrame {
        sequence: 0,
        timestamp: 0,
        code: vec![0.0; n],
        head: pose,
        hands: [None, None],
        gaze: Some([gaze, gaze]),
    };
    let face_bytes = frame.encode().map_err(|e| e.to_string())?.len();
    frame.hands = [Some(hand), Some(hand)];
    let body_bytes = frame.encode().map_err(|e| e.to_string())?.len();
    let kbit = |b: usize| b as f64 * 8.0 * 30.0 / 1000.0;
    println!();
    println!("bitrate at 30 Hz (packet payload, before encryption and transport headers)");
    println!("{:<44} {:>6} {:>9}", "stream", "bytes", "kbit/s");
    for (name, b) in [
        ("face code + head + gaze", face_bytes),
        ("face code + head + gaze + both hands", body_bytes),
        ("code alone", n),
        ("anchor: 52 blendshapes at 8 bits", 52),
        ("anchor: Ava-256, 256 × 8 bits", 256),
        ("anchor: Ava-256, 256 × f32", 1024),
    ] {
        println!("{:<44} {:>6} {:>9.1}", name, b, kbit(b));
    }

    // Timing, one thread (this one), after a warm-up.
    let mut scratch = Scratch::default();
    let mut code = vec![0.0f32; n];
    let mut dec = AvatarDecoder::new(codec.clone(), &model).map_err(|e| e.to_string())?;
    let neutral = dec.identity_neutral(&model, &[]);
    let mut mesh = Vec::new();
    let (mut enc_t, mut net_t, mut dec_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut weights = vec![0.0f32; codec.shapes.len()];
    for (i, f) in held.iter().cycle().take(held.len().max(500)).enumerate() {
        let t = Instant::now();
        codec.encode(f, &mut scratch, &mut code);
        let e = t.elapsed().as_secs_f64() * 1e6;
        quantise(&mut code);
        let t = Instant::now();
        codec.decode(&code, &mut scratch, &mut weights);
        let w = t.elapsed().as_secs_f64() * 1e6;
        let t = Instant::now();
        dec.decode_into(&code, &neutral, &mut mesh);
        let m = t.elapsed().as_secs_f64() * 1e6;
        if i >= 50 {
            enc_t.push(e);
            net_t.push(w);
            dec_t.push(m);
        }
    }
    let batch: Vec<Weights> = vec![held[0]];
    let mut cand = Vec::new();
    for i in 0..300 {
        let t = Instant::now();
        reference_roundtrip(&codec, &batch).map_err(|e| e.to_string())?;
        if i >= 20 {
            cand.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    println!();
    println!("time per avatar frame, one CPU thread (µs)");
    println!("{:<52} {:>9} {:>9}", "step", "median", "p99");
    for (name, v) in [
        ("encode (52 weights -> code)", enc_t),
        ("decode network (code -> shape weights)", net_t),
        ("decode to mesh (network + basis, 26719 vertices)", dec_t),
        ("reference: candle encode + decode network", cand),
    ] {
        let (m, p) = median_p99(v);
        println!("{:<52} {:>9.1} {:>9.1}", name, m, p);
    }

    // The sheet: truth, decoded, error (0 to 2 mm) for a few expressions.
    let size = 256;
    let picks: Vec<(&str, Weights)> = ["smile", "surprise", "talk-o", "anger", "wink"]
        .iter()
        .filter_map(|p| preset(p).map(|w| (*p, w)))
        .chain(std::iter::once(("scripted 2.0 s", scripted[60])))
        .collect();
    let mut img = sheet::Image::new(size * 3, size * picks.len(), [0, 0, 0]);
    let mut targets = Targets::new(&model, &codec.shapes);
    let mut truth_w = vec![0.0f32; codec.shapes.len()];
    let mut all = Vec::new();
    for (row, (_, w)) in picks.iter().enumerate() {
        targets.of(w, &mut truth_w);
        let mut full = vec![0.0f32; model.shapes.len()];
        for (name, v) in codec.shapes.iter().zip(&truth_w) {
            if let Some(i) = model.shape(name) {
                full[i] = *v;
            }
        }
        let truth = model.evaluate(&full);
        codec.encode(w, &mut scratch, &mut code);
        quantise(&mut code);
        dec.decode_into(&code, &neutral, &mut mesh);
        let err: Vec<f32> = truth
            .iter()
            .zip(&mesh)
            .map(|(a, b)| (*a - *b).length() * 1e3 / 2.0)
            .collect();
        img.blit(
            &sheet::render_face(&model, &truth, None, size),
            0,
            row * size,
        );
        img.blit(
            &sheet::render_face(&model, &mesh, None, size),
            size,
            row * size,
        );
        img.blit(
            &sheet::render_face(&model, &truth, Some(&err), size),
            2 * size,
            row * size,
        );
        all.push(serde_json::json!({"expression": picks[row].0,
            "max_mm": err.iter().copied().fold(0.0f32, f32::max) * 2.0}));
    }
    let sheet_path = out.join("sheet.png");
    std::fs::write(&sheet_path, sheet::png(&img))
        .map_err(|e| format!("cannot write {}: {e}", sheet_path.display()))?;
    let json = serde_json::json!({
        "code": n, "reconstruction": rows,
        "bytes": {"face": face_bytes, "face_and_hands": body_bytes},
        "sheet": all,
    });
    std::fs::write(
        out.join("eval.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write eval.json: {e}"))?;
    println!();
    println!(
        "wrote {} (rows: {}; columns: truth, decoded, error 0 to 2 mm blue to red) and eval.json",
        sheet_path.display(),
        picks.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
