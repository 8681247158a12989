//! `parallax demo` headless: it must write composited panels that show the
//! scene's layers, and a frame-timing plot.

use std::process::Command;

fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let bpp = info.color_type.samples();
    // Normalise to RGB.
    let rgb = buf
        .chunks_exact(bpp)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

#[test]
fn demo_writes_frames_showing_the_layers_and_a_timing_plot() {
    let exe = env!("CARGO_BIN_EXE_parallax");
    let dir = std::path::Path::new(exe).parent().unwrap();
    assert!(
        dir.join("parallax-example-layers").exists() && dir.join("libparallax_openxr.so").exists(),
        "build the workspace first"
    );
    let out = std::env::temp_dir().join(format!("parallax-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(exe)
        .args(["demo", "--out", out.to_str().unwrap(), "--frames", "90"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("PARALLAX_DRIVER")
        .env_remove("PARALLAX_DRIVER_PATH")
        .env("PARALLAX_SIM_MOTION", "static")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("frame timing plot:"), "{stdout}");
    let (w, h, _) = read_png(&out.join("frame-timing.png"));
    assert_eq!((w, h), (1200, 800));
    let (w, h, rgb) = read_png(&out.join("frame-00005-panel.png"));
    assert_eq!((w, h), (2 * 2064, 2208));
    // Count pixels of each layer's colours (after distortion).
    let mut sky = 0;
    let mut floor = 0;
    let mut red_tile = 0;
    let mut green_tile = 0;
    let mut white = 0;
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        if b > 150 && b > r + 40 && g > r {
            sky += 1; // equirect
        }
        if (r - g).abs() < 12 && (b - g).abs() < 20 && (60..200).contains(&r) {
            floor += 1; // projection
        }
        if r > 200 && g < 110 && b < 110 {
            red_tile += 1; // cylinder
        }
        if g > 150 && r < 120 && b < 140 {
            green_tile += 1; // cylinder
        }
        if r > 240 && g > 240 && b > 240 {
            white += 1; // quad title (and the tile labels)
        }
    }
    let total = (w * h) as usize;
    assert!(sky > total / 20, "sky {sky}");
    assert!(floor > total / 20, "floor {floor}");
    assert!(
        red_tile > 5_000 && green_tile > 5_000,
        "menu {red_tile} {green_tile}"
    );
    assert!(white > 5_000, "title {white}");
    let app_csv = std::fs::read_to_string(out.join("app-timing.csv")).unwrap();
    assert_eq!(
        app_csv.lines().count(),
        91,
        "one line per app frame plus the header"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
