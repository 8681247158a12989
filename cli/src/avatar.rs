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

/// `parallax avatar map-landmarks`: where each face-mesh landmark lies on
/// the face model, found by the landmark model on the simulated face
/// camera's neutral face, written for `avatar/data/`.
pub fn map_landmarks(out: &Path) -> Result<(), String> {
    use parallax_avatar::face_camera::FaceCamera;
    use parallax_avatar::face_fit::{calibrate, LandmarkMap};
    use parallax_hand_tracking::face::FaceLandmarker;
    let model = FaceModel::ict_facekit();
    let dir = parallax_hand_tracking::models_dir();
    let landmarker = FaceLandmarker::load(&dir, &candle_core::Device::Cpu).map_err(|e| {
        format!(
            "face landmark model not loaded from {}: {e} (run scripts/fetch-hand-models.sh)",
            dir.display()
        )
    })?;
    let camera = FaceCamera::default();
    let map = calibrate(&model, &camera, |img: &sheet::Image| {
        let image = parallax_hand_tracking::landmark::Image::bytes(
            img.width,
            img.height,
            &img.rgb,
            3,
            img.width * 3,
        )
        .ok_or("the rendered image is short")?;
        // Found as the tracker finds a face, then once more in the region
        // those landmarks give.
        let found =
            parallax_avatar::face_tracker::find(&landmarker, &image).map_err(|e| e.to_string())?;
        let l = landmarker
            .landmarks(&image, &found.next_roi(img.width, img.height))
            .map_err(|e| e.to_string())?;
        if l.presence < 0.5 {
            return Err(format!(
                "no face found in the render (presence {:.2})",
                l.presence
            ));
        }
        Ok::<_, String>(l.points)
    })
    .map_err(|e| e.to_string())?;
    let text = map.write(&model);
    LandmarkMap::read(&text, &model).map_err(|e| format!("the map does not read back: {e}"))?;
    std::fs::write(out, text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "{}: {} landmarks on the face model",
        out.display(),
        map.points.len()
    );
    Ok(())
}

/// `parallax avatar track`: the camera path on the simulated face camera
/// (error against the wearer's exact face) or on a folder of PNG images.
pub fn track(images: Option<&Path>, fov_deg: f32, frames: usize, out: &Path) -> Result<(), String> {
    use parallax_avatar::face_camera::FaceCamera;
    use parallax_avatar::face_fit::Intrinsics;
    use parallax_avatar::face_tracker::FaceTracker;
    let model = FaceModel::ict_facekit();
    let tracker = |camera: Intrinsics| {
        FaceTracker::new(&parallax_hand_tracking::models_dir(), &model, camera)
            .map_err(|e| format!("{e} (run scripts/fetch-hand-models.sh)"))
    };
    if let Some(dir) = images {
        return track_images(dir, fov_deg.to_radians(), tracker);
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut tracker = tracker(FaceCamera::default().intrinsics())?;
    // The scripted cycle is 12 s: spread the frames over it.
    let step = (360 / frames.max(1)).max(1);
    let cam =
        parallax_avatar::face_camera::scripted_wearer(&model, &FaceCamera::default(), frames, step);
    let mut times = Vec::new();
    let mut estimates = Vec::new();
    let mut misses = 0;
    let mut drawn = Vec::new();
    for f in &cam {
        let img = parallax_hand_tracking::landmark::Image::bytes(
            f.image.width,
            f.image.height,
            &f.image.rgb,
            3,
            f.image.width * 3,
        )
        .ok_or("the rendered image is short")?;
        let t = Instant::now();
        let r = tracker.track(&img).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        match r.fit {
            Some(fit) => estimates.push(fit.arkit),
            None => {
                misses += 1;
                estimates.push([0.0; parallax_sdk::types::FACE_EXPRESSION_COUNT]);
            }
        }
        if drawn.len() < 6 && estimates.len() % (frames / 6).max(1) == 1 {
            let mut img = f.image.clone();
            for p in &r.landmarks.points {
                let (x, y) = (p.x as usize, p.y as usize);
                if x < img.width && y < img.height {
                    img.rgb[(y * img.width + x) * 3..(y * img.width + x) * 3 + 3]
                        .copy_from_slice(&[60, 255, 60]);
                }
            }
            drawn.push(img);
        }
    }
    let truths: Vec<Weights> = cam.iter().map(|f| f.truth).collect();
    let codec = Codec::shipped();
    let mut targets = Targets::new(&model, &codec.shapes);
    // The tracked face (its weights as the codec's input), the tracked face
    // through the codec and the wire, and a neutral face, against the truth.
    let mut next = estimates.iter();
    let tracked = mesh_error_of(&model, &codec.shapes, &truths, |_, got| {
        targets.of(next.next().expect("one estimate per frame"), got)
    });
    let mut scratch = Scratch::default();
    let mut code = vec![0.0f32; codec.code_len()];
    let mut next = estimates.iter();
    let through = mesh_error_of(&model, &codec.shapes, &truths, |_, got| {
        codec.encode(
            next.next().expect("one estimate per frame"),
            &mut scratch,
            &mut code,
        );
        quantise(&mut code);
        codec.decode(&code, &mut scratch, got);
    });
    let neutral = mesh_error_of(&model, &codec.shapes, &truths, |_, got| got.fill(0.0));
    println!(
        "camera path on the simulated face camera: {} frames of the scripted wearer (320×320, head turning ±14°), {misses} without a face",
        cam.len()
    );
    println!();
    println!(
        "mesh error against the wearer's face (mm, over the {} vertices expressions move)",
        tracked.vertices
    );
    println!("{:<44} {:>8} {:>8} {:>8}", "", "mean", "p99", "max");
    for (name, r) in [
        ("tracked (fitted weights)", &tracked),
        ("tracked, through the codec and the packet", &through),
        ("anchor: a neutral face (nothing tracked)", &neutral),
    ] {
        println!(
            "{name:<44} {:>8.2} {:>8.2} {:>8.2}",
            r.mean_mm, r.p99_mm, r.max_mm
        );
    }
    println!();
    println!(
        "{:<20} {:>10} {:>12} {:>10}",
        "weight", "mean |err|", "correlation", "truth max"
    );
    for name in [
        "jawOpen",
        "mouthSmileLeft",
        "mouthSmileRight",
        "mouthFunnel",
        "eyeBlinkLeft",
        "eyeBlinkRight",
        "browInnerUp",
    ] {
        let k = parallax_sdk::types::face_expression(name).expect("an ARKit name");
        let t: Vec<f64> = truths.iter().map(|w| w[k] as f64).collect();
        let e: Vec<f64> = estimates.iter().map(|w| w[k] as f64).collect();
        let mae = t.iter().zip(&e).map(|(a, b)| (a - b).abs()).sum::<f64>() / t.len() as f64;
        println!(
            "{name:<20} {mae:>10.3} {:>12} {:>10.2}",
            correlation(&t, &e).map_or("-".into(), |c| format!("{c:.2}")),
            t.iter().cloned().fold(0.0, f64::max)
        );
    }
    let (med, p99) = median_p99(times);
    println!();
    println!("landmarks + fit per frame on one thread of this machine: median {med:.1} ms, p99 {p99:.1} ms");
    // A strip of frames with their landmarks.
    let mut strip = sheet::Image::new(320 * drawn.len().max(1), 320, [0, 0, 0]);
    for (i, img) in drawn.iter().enumerate() {
        strip.blit(img, i * 320, 0);
    }
    let path = out.join("frames.png");
    std::fs::write(&path, sheet::png(&strip))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let json = serde_json::json!({
        "frames": cam.len(),
        "misses": misses,
        "tracked_mean_mm": tracked.mean_mm,
        "tracked_p99_mm": tracked.p99_mm,
        "through_codec_mean_mm": through.mean_mm,
        "neutral_mean_mm": neutral.mean_mm,
        "median_ms": med,
    });
    let path = out.join("track.json");
    std::fs::write(&path, json.to_string())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {} and frames.png", path.display());
    Ok(())
}

/// Pearson's correlation, `None` when either side is constant.
fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 1e-12 && sbb > 1e-12).then(|| sab / (saa * sbb).sqrt())
}

/// The camera path on every PNG of `dir` (in name order), taken by a
/// camera with a horizontal field of view of `fov` radians: each frame's
/// strongest weights.
fn track_images(
    dir: &Path,
    fov: f32,
    tracker: impl Fn(
        parallax_avatar::face_fit::Intrinsics,
    ) -> Result<parallax_avatar::face_tracker::FaceTracker, String>,
) -> Result<(), String> {
    let mut current: Option<((usize, usize), parallax_avatar::face_tracker::FaceTracker)> = None;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no PNG images in {}", dir.display()));
    }
    for f in files {
        let (w, h, rgb) = read_png_rgb(&f)?;
        let img = parallax_hand_tracking::landmark::Image::bytes(w, h, &rgb, 3, w * 3)
            .ok_or("short image")?;
        if current.as_ref().is_none_or(|(size, _)| *size != (w, h)) {
            let camera = parallax_avatar::face_fit::Intrinsics::from_fov(w, h, fov);
            current = Some(((w, h), tracker(camera)?));
        }
        let Some((_, tracker)) = current.as_mut() else {
            unreachable!("made just above")
        };
        let r = tracker.track(&img).map_err(|e| e.to_string())?;
        let name = f
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        match r.fit {
            None => println!("{name}: no face (presence {:.2})", r.landmarks.presence),
            Some(fit) => {
                let mut top: Vec<(usize, f32)> = fit.arkit.iter().copied().enumerate().collect();
                top.sort_by(|a, b| b.1.total_cmp(&a.1));
                let top: Vec<String> = top
                    .iter()
                    .take(4)
                    .filter(|(_, v)| *v > 0.05)
                    .map(|(k, v)| {
                        format!("{} {v:.2}", parallax_sdk::types::FACE_EXPRESSION_NAMES[*k])
                    })
                    .collect();
                println!(
                    "{name}: face {:.2}, fit {:.1} px rms, {:.2} m away; {}",
                    r.landmarks.presence,
                    fit.rms_px,
                    fit.translation.z,
                    if top.is_empty() {
                        "neutral".into()
                    } else {
                        top.join(", ")
                    }
                );
            }
        }
    }
    Ok(())
}

/// An 8-bit PNG as RGB bytes (grey, RGB and RGBA accepted).
fn read_png_rgb(path: &Path) -> Result<(usize, usize, Vec<u8>), String> {
    let (w, h, color, buf) = crate::hands::read_png(path)?;
    let (w, h) = (w as usize, h as usize);
    let px = w * h;
    let rgb = match color {
        png::ColorType::Rgb => buf[..px * 3].to_vec(),
        png::ColorType::Rgba => buf[..px * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..px].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..px * 2]
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        other => return Err(format!("{}: {other:?} images are not read", path.display())),
    };
    Ok((w, h, rgb))
}
