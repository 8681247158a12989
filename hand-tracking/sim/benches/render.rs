//! Time to render one simulated camera image (640×480 grey) with the wgpu
//! renderer, per evaluation sequence: the cost behind every frame of
//! `PARALLAX_SIM_CAMERAS=rendered`. Prints a table (median and p90 over the
//! frames, milliseconds). `cargo bench -p parallax-hand-sim --bench render`.

use parallax_driver_simulated::camera_infos;
use parallax_hand_sim::gpu::Renderer;
use parallax_hand_sim::sequences::{frame, SEQUENCES};
use parallax_hand_tracking::stereo::Camera;
use std::time::Instant;

fn main() {
    let renderer = Renderer::new().expect("a Vulkan adapter (lavapipe counts)");
    let cameras: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
    let frames: usize = std::env::var("FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    // The first render compiles the pipeline's shader: not counted.
    let warm = frame(&SEQUENCES[0], 0);
    renderer.render(&warm.scene, &cameras[0]).unwrap();
    println!(
        "{:<16} {:>8} {:>10} {:>8}",
        "sequence", "images", "median ms", "p90 ms"
    );
    let mut all = Vec::new();
    for seq in &SEQUENCES {
        let mut ms = Vec::new();
        for i in 0..frames {
            let f = frame(seq, i * seq.frames / frames);
            for cam in &cameras {
                let t = Instant::now();
                renderer.render(&f.scene, cam).unwrap();
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{:<16} {:>8} {:>10.1} {:>8.1}",
            seq.name,
            ms.len(),
            ms[ms.len() / 2],
            ms[ms.len() * 9 / 10]
        );
        all.extend(ms);
    }
    let mut empty = warm.scene.clone();
    empty.capsules.clear();
    let mut ms = Vec::new();
    for _ in 0..frames {
        let t = Instant::now();
        renderer.render(&empty, &cameras[0]).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{:<16} {:>8} {:>10.1} {:>8.1}",
        "(no hands)",
        ms.len(),
        ms[ms.len() / 2],
        ms[ms.len() * 9 / 10]
    );
    all.sort_by(f64::total_cmp);
    println!(
        "{:<16} {:>8} {:>10.1} {:>8.1}",
        "all",
        all.len(),
        all[all.len() / 2],
        all[all.len() * 9 / 10]
    );
}
