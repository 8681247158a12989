//! Runs the layers example on Parallax through the real loader on real
//! Vulkan, captures the first composed frame, and checks each layer type
//! shows its colour where its pose puts it (left eye, before distortion).
//! Positions come from the simulated display's field of view (left eye:
//! -54, 40, 44, -49 degrees; 2064 x 2208) with the head still.
//! Tolerance: 3/255 per channel.

use std::path::PathBuf;
use std::process::Command;

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_parallax-example-layers"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read_png(path: &std::path::Path) -> (u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, buf)
}

/// Pixel of the left eye image looking along tangents (tx, ty).
fn pixel_for(tx: f32, ty: f32) -> (u32, u32) {
    let (l, r, u, d) = (
        (-54f32).to_radians().tan(),
        40f32.to_radians().tan(),
        44f32.to_radians().tan(),
        (-49f32).to_radians().tan(),
    );
    (
        ((tx - l) / (r - l) * 2064.0) as u32,
        ((u - ty) / (u - d) * 2208.0) as u32,
    )
}

#[test]
fn every_layer_type_lands_where_it_belongs() {
    let dir = target_dir();
    let lib = dir.join("libparallax_openxr.so");
    assert!(
        lib.exists(),
        "{} missing: build the workspace",
        lib.display()
    );
    let manifest = dir.join("parallax_layers_test_runtime.json");
    std::fs::write(&manifest, format!(r#"{{"file_format_version":"1.0.0","runtime":{{"name":"Parallax","library_path":"{}"}}}}"#, lib.display())).unwrap();
    let capture = dir.join("layers_capture");
    let _ = std::fs::remove_dir_all(&capture);
    let out = Command::new(env!("CARGO_BIN_EXE_parallax-example-layers"))
        .args(["--frames", "100000", "--check-errors"])
        .env("XR_RUNTIME_JSON", &manifest)
        .env("PARALLAX_SIM_MOTION", "static")
        .env("PARALLAX_EXIT_AFTER_FRAMES", "120")
        .env("PARALLAX_CAPTURE", &capture)
        .env("PARALLAX_CAPTURE_FRAMES", "0")
        .env(
            "XDG_RUNTIME_DIR",
            std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "example failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bad depth range refused with ERROR_VALIDATION_FAILURE"),
        "{stdout}"
    );
    let (w, img) = read_png(&capture.join("frame-00000-eye0.png"));
    let at = |tx: f32, ty: f32| {
        let (x, y) = pixel_for(tx, ty);
        let i = ((y * w + x) * 4) as usize;
        [img[i], img[i + 1], img[i + 2]]
    };
    let close = |a: [u8; 3], b: [u8; 3]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (*x as i32 - y as i32).abs() <= 3)
    };
    let eye_x = -0.0315f32; // the left eye sits 31.5 mm left of the head
                            // Quad: 1 m wide, 2 m ahead of the head: centre at tangent 0.0315/2.
    let q = at(-eye_x / 2.0, 0.0);
    assert!(close(q, [255, 0, 0]), "quad centre {q:?}");
    assert!(
        close(at(-eye_x / 2.0 + 0.2, 0.2), [255, 0, 0]),
        "quad inner corner"
    );
    // Cylinder strip: 20 to 50 degrees left, at the horizon.
    let c = at(-(35f32.to_radians().tan()), 0.0);
    assert!(close(c, [0, 255, 0]), "cylinder {c:?}");
    // Equirect band 40 to 80 degrees up: straight up at 42.5 degrees.
    let e = at(0.0, 42.5f32.to_radians().tan());
    assert!(close(e, [255, 255, 0]), "equirect {e:?}");
    // Below the band, the projection layer shows.
    let p = at(0.3, 34f32.to_radians().tan());
    assert!(close(p, [10, 10, 60]), "projection {p:?}");
    let p = at(0.5, -0.6);
    assert!(close(p, [10, 10, 60]), "projection {p:?}");
    // The right eye shows only the cube: looking ahead, its -Z face.
    let (w1, right) = read_png(&capture.join("frame-00000-eye1.png"));
    let i = ((1104 * w1 + 1032) * 4) as usize;
    let c = [right[i], right[i + 1], right[i + 2]];
    assert!(close(c, [255, 0, 255]), "cube -Z face {c:?}");
}
