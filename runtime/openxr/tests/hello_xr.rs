//! Debian's `hello_xr`, a real third-party OpenXR app, renders on Parallax
//! through the real loader on real Vulkan (lavapipe here): 300 frames, then
//! the runtime ends the session and the app must exit 0. A composed frame is
//! captured and must show hello_xr's cubes in each eye, right side up.
//! The OpenGL run needs an X server with GLX and VidMode: the desktop's, or
//! else Xorg on the dummy video driver, started by the test (Xvfb lacks
//! VidMode and hello_xr's GL window crashes there).

mod common;
use std::path::Path;

/// Counts pixels that are clearly one of hello_xr's face colours (pure red,
/// green or blue in sRGB, allowing for the blit's filtering at edges), and
/// pixels of its background (DarkSlateGray, about (118, 150, 150) in sRGB).
/// Also returns how many face pixels lie in the lower half of the image.
fn classify(rgba: &[u8], width: u32) -> ([usize; 3], usize, usize) {
    let mut faces = [0; 3];
    let mut background = 0;
    let mut lower = 0;
    let height = rgba.len() / 4 / width as usize;
    for (i, p) in rgba.chunks_exact(4).enumerate() {
        let low = i / width as usize >= height / 2;
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        if (r - 118).abs() < 12 && (g - 150).abs() < 12 && (b - 150).abs() < 12 {
            background += 1;
        }
        for (c, channel) in [r, g, b].into_iter().enumerate() {
            let others = [r, g, b]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != c)
                .map(|(_, v)| v)
                .max()
                .unwrap();
            if channel > 200 && others < 60 {
                faces[c] += 1;
                lower += low as usize;
            }
        }
    }
    (faces, background, lower)
}

fn run_hello_xr(graphics: &str) {
    let _g = common::serial();
    common::entry(); // writes the runtime manifest and sets XR_RUNTIME_JSON
                     // On a desktop (DISPLAY set) the app's GL window opens there; without
                     // one, on Xorg's dummy driver.
    let x =
        (graphics == "OpenGL" && std::env::var_os("DISPLAY").is_none()).then(common::DummyX::start);
    let capture = common::target_dir().join(format!("hello_xr_capture_{graphics}"));
    let _ = std::fs::remove_dir_all(&capture);
    let display = x.as_ref().map(|x| std::ffi::OsString::from(&x.display));
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("PARALLAX_EXIT_AFTER_FRAMES", "300".as_ref()),
        ("PARALLAX_CAPTURE", capture.as_os_str()),
        ("PARALLAX_CAPTURE_FRAMES", "30".as_ref()),
    ];
    if let Some(d) = &display {
        env.push(("DISPLAY", d));
    }
    let (status, err) = common::hello_xr(graphics, &env);
    assert!(
        status.success(),
        "hello_xr -g {graphics} exited with {status}:\n{err}"
    );
    for eye in 0..2 {
        let (w, h, rgba) = common::read_png(&capture.join(format!("frame-00030-eye{eye}.png")));
        let e = common::expected();
        assert_eq!((w, h), (e.width, e.height));
        let (faces, background, lower) = classify(&rgba, w);
        let total = (w * h) as usize;
        // The background fills most of the view; the cubes' red, green and
        // blue faces each cover at least a few thousand pixels.
        assert!(
            background > total / 2,
            "eye {eye}: background {background} of {total}"
        );
        for (c, n) in faces.iter().enumerate() {
            assert!(
                *n > 2_000,
                "eye {eye}: only {n} pixels of colour {c}: {faces:?}"
            );
        }
        // The cubes at the hands and on the floor are below the eyes: most
        // face pixels are in the lower half (an image upside down fails).
        let all: usize = faces.iter().sum();
        assert!(
            lower * 4 > all * 3,
            "eye {eye}: {lower} of {all} face pixels in the lower half"
        );
    }
    check_panel(&capture);
}

/// The panel (after lens distortion) keeps the scene inside each lens's
/// area and black outside it.
fn check_panel(dir: &Path) {
    let (w, h, rgba) = common::read_png(&dir.join("frame-00030-panel.png"));
    let e = common::expected();
    assert_eq!((w, h), (2 * e.width, e.height));
    let px = |x: u32, y: u32| {
        let i = ((y * w + x) * 4) as usize;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    };
    // Corners are outside the distorted image: black.
    for (x, y) in [(2, 2), (w - 3, 2), (2, h - 3), (w - 3, h - 3), (w / 2, 2)] {
        assert_eq!(px(x, y), [0, 0, 0], "panel pixel ({x}, {y})");
    }
    let (faces, background, _) = classify(&rgba, w);
    assert!(
        background > (w * h) as usize / 10,
        "panel background {background}"
    );
    assert!(faces.iter().all(|n| *n > 2_000), "panel faces {faces:?}");
}

#[test]
fn hello_xr_vulkan2_renders_cubes() {
    run_hello_xr("Vulkan2");
}

#[test]
fn hello_xr_vulkan_renders_cubes() {
    run_hello_xr("Vulkan");
}

#[test]
fn hello_xr_opengl_renders_cubes() {
    run_hello_xr("OpenGL");
}
