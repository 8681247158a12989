//! `parallax demo`: the showcase app on the simulated headset through the
//! whole stack (loader, runtime, compositor). With a display it opens the
//! desktop simulator window and runs until the window is closed; without
//! one it runs a bounded number of frames headless and writes composited
//! panel images and a frame-timing plot.

use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

pub struct Options {
    pub out: PathBuf,
    pub frames: u32,
    pub headless: bool,
    /// More environment for the app (runtime options).
    pub env: Vec<(String, String)>,
    /// The compositor frames captured headless.
    pub captures: Vec<u64>,
}

/// The composed frames captured in headless mode (compositor frame numbers).
pub const CAPTURE_FRAMES: &[u64] = &[5, 30];

fn showcase_app() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let app = exe
        .parent()
        .ok_or("executable has no folder")?
        .join("parallax-example-layers");
    if !app.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p parallax-example-layers` (scripts/demo.sh does)",
            app.display()
        ));
    }
    Ok(app)
}

pub fn run(opts: Options, manifest: &Path) -> Result<ExitCode, String> {
    let app = showcase_app()?;
    let display = std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
    let windowed = display && !opts.headless;
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let out = opts
        .out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let app_csv = out.join("app-timing.csv");
    let comp_csv = out.join("compositor-timing.csv");
    let mut cmd = Command::new(&app);
    cmd.arg("--showcase")
        .arg("--timing")
        .arg(&app_csv)
        .env("XR_RUNTIME_JSON", manifest)
        .env("PARALLAX_TIMING_LOG", &comp_csv)
        .envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    if windowed {
        println!("parallax demo: opening the desktop simulator window; close it to end the demo");
        cmd.args(["--frames", "0"])
            .env("PARALLAX_TARGET", "window")
            .env_remove("PARALLAX_EXIT_AFTER_FRAMES");
        if std::env::var_os("PARALLAX_SIM_MOTION").is_none() {
            // The user drives the headset; keep the scripted sway out of it.
            cmd.env("PARALLAX_SIM_MOTION", "static");
        }
    } else {
        let frames: Vec<String> = opts.captures.iter().map(|f| f.to_string()).collect();
        println!(
            "parallax demo: running {} frames headless (no display{}); writing into {}",
            opts.frames,
            if display { ", or --headless" } else { "" },
            out.display()
        );
        cmd.args(["--frames", "0"])
            .env("PARALLAX_TARGET", "headless")
            .env("PARALLAX_EXIT_AFTER_FRAMES", opts.frames.to_string())
            .env("PARALLAX_CAPTURE", &out)
            .env("PARALLAX_CAPTURE_FRAMES", frames.join(","));
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", app.display()))?;
    if !status.success() {
        return Err(format!("the showcase app failed: {status}"));
    }
    let plot = out.join("frame-timing.png");
    let stats = plot_timing(&app_csv, &comp_csv, &plot)?;
    println!("frame timing plot: {}", plot.display());
    println!(
        "  app frame time median {:.2} ms, compositor time median {:.2} ms, wake-up error median {:.3} ms, {} app frames, {} compositions",
        stats.app_ms, stats.compose_ms, stats.wake_ms, stats.app_frames, stats.compositions
    );
    if !windowed {
        for f in &opts.captures {
            let p = out.join(format!("frame-{f:05}-panel.png"));
            if p.exists() {
                println!("composited panel: {}", p.display());
            }
        }
        println!("(eye images before lens distortion: frame-NNNNN-eye0.png, -eye1.png)");
    }
    Ok(ExitCode::SUCCESS)
}

pub struct TimingStats {
    pub app_ms: f64,
    pub compose_ms: f64,
    pub wake_ms: f64,
    pub app_frames: usize,
    pub compositions: usize,
}

fn read_csv(path: &Path) -> Result<Vec<Vec<f64>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<f64>().ok())
                .collect::<Option<Vec<f64>>>()
        })
        .collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Loads DejaVu Sans (Debian `fonts-dejavu-core`) for the plot's labels.
pub fn register_font() -> Result<(), String> {
    const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    let bytes =
        std::fs::read(FONT).map_err(|e| format!("{FONT}: {e} (install fonts-dejavu-core)"))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| "cannot load the plot font".to_string())
}

/// Plots app frame time, compositor time and wake-up error per frame.
pub fn plot_timing(app_csv: &Path, comp_csv: &Path, png: &Path) -> Result<TimingStats, String> {
    let app = read_csv(app_csv)?;
    let comp = read_csv(comp_csv)?;
    let app_ms: Vec<(f64, f64)> = app.iter().map(|r| (r[0], r[2] / 1e6)).collect();
    let wake_ms: Vec<(f64, f64)> = app.iter().map(|r| (r[0], r[1] / 1e6)).collect();
    let comp_ms: Vec<(f64, f64)> = comp
        .iter()
        .enumerate()
        .map(|(i, r)| (i as f64, r[1] / 1e6))
        .collect();
    register_font()?;
    let e = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let root = BitMapBackend::new(png, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let areas = root.split_evenly((3, 1));
    type Panel<'a> = (&'a str, &'a str, &'a [(f64, f64)], RGBColor);
    let panels: [Panel; 3] = [
        (
            "app frame time (wake-up to xrEndFrame)",
            "app frame",
            &app_ms,
            BLUE,
        ),
        (
            "compositor time per composition",
            "composition",
            &comp_ms,
            RED,
        ),
        ("xrWaitFrame wake-up error", "app frame", &wake_ms, GREEN),
    ];
    for (area, (title, xlabel, data, color)) in areas.iter().zip(panels) {
        let xmax = data.iter().map(|p| p.0).fold(1.0, f64::max);
        let ymax = data.iter().map(|p| p.1).fold(0.0, f64::max).max(0.01) * 1.1;
        let ymin = data.iter().map(|p| p.1).fold(0.0, f64::min).min(0.0);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..xmax, ymin..ymax)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc(xlabel)
            .y_desc("ms")
            .draw()
            .map_err(|x| e(&x))?;
        chart
            .draw_series(LineSeries::new(data.iter().copied(), &color))
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(TimingStats {
        app_ms: median(app_ms.iter().map(|p| p.1).collect()),
        compose_ms: median(comp_ms.iter().map(|p| p.1).collect()),
        wake_ms: median(wake_ms.iter().map(|p| p.1).collect()),
        app_frames: app.len(),
        compositions: comp.len(),
    })
}
