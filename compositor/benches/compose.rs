//! Benchmark (not a test): compositor time per frame at 2 x 2064 x 2208
//! with one projection layer and two quads, split into the layer pass and
//! the distortion pass (GPU timestamps), on whatever Vulkan device is here
//! (lavapipe on the CI machine, NVIDIA on the lent H200). Prints a table of
//! medians and p99s, then the same with 8 codec avatars (the ICT face,
//! levels of detail by distance) drawn into the layer pass, and the ratio.
//!
//! `cargo bench -p parallax-compositor --bench compose [-- FRAMES]`

use glam::{Quat, Vec3};
use parallax_compositor::vk::compositor::{OfflineCompositor, TargetConfig};
use parallax_compositor::vk::harness::Harness;
use parallax_compositor::{Blend, Eyes, Frame, Layer, LayerKind, ProjectionView, SubImage};
use parallax_sdk_types::{Fov, LensModel, Pose, Time};
use std::sync::Arc;

fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[((v.len() - 1) as f64 * 0.99) as usize])
}

fn main() {
    let frames: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let Some(h) = Harness::new().expect("Vulkan") else {
        println!("no Vulkan device");
        return;
    };
    let (w, hgt) = (2064u32, 2208u32);
    let fov = [
        Fov::from_degrees(-54.0, 40.0, 44.0, -49.0),
        Fov::from_degrees(-40.0, 54.0, 44.0, -49.0),
    ];
    let lens = LensModel {
        red: [0.215, 0.205, 0.0],
        green: [0.22, 0.21, 0.0],
        blue: [0.226, 0.218, 0.0],
        aperture: 1.3,
    };
    // The head turns a little every frame, so reprojection has work to do.
    let config = TargetConfig {
        eye_width: w,
        eye_height: hgt,
        fov,
        lens,
        eye_poses: Arc::new(|t: Time| {
            let yaw = (t.0 as f32) * 1e-3;
            let head = Pose::new(Quat::from_rotation_y(yaw), Vec3::new(0.0, 1.6, 0.0));
            Some([
                head.mul(&Pose::from_position(Vec3::new(-0.0315, 0.0, 0.0))),
                head.mul(&Pose::from_position(Vec3::new(0.0315, 0.0, 0.0))),
            ])
        }),
        capture: None,
        window: false,
        desktop: None,
        timing_log: None,
    };
    let mut c = OfflineCompositor::new(h.gpu().clone(), config).unwrap();
    let proj = h
        .swapchain(w, hgt, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    let quad = h
        .swapchain(1024, 1024, 1, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    for l in 0..2 {
        h.fill(
            &proj,
            l,
            &[
                ([0, 0, w, hgt], [90, 120, 160, 255]),
                ([w / 4, hgt / 4, w / 2, hgt / 2], [200, 60, 40, 255]),
            ],
        )
        .unwrap();
    }
    h.fill(&quad, 0, &[([0, 0, 1024, 1024], [30, 200, 90, 200])])
        .unwrap();
    let sub = |chain: &Arc<parallax_compositor::vk::swapchain::SharedSwapchain>, i: u32| {
        Some(SubImage {
            hold: chain.hold(0),
            rect: [0, 0, chain.desc.width as i32, chain.desc.height as i32],
            array_index: i,
        })
    };
    let head = Pose::new(Quat::IDENTITY, Vec3::new(0.0, 1.6, 0.0));
    let frame = Frame {
        display_time: Time(1),
        layers: vec![
            Layer {
                stage_from_space: Pose::IDENTITY,
                blend: Blend::default(),
                eyes: Eyes::Both,
                kind: LayerKind::Projection {
                    views: (0..2)
                        .map(|i| ProjectionView {
                            pose: head.mul(&Pose::from_position(Vec3::new(
                                if i == 0 { -0.0315 } else { 0.0315 },
                                0.0,
                                0.0,
                            ))),
                            fov: fov[i],
                            image: sub(&proj, i as u32),
                            depth: None,
                        })
                        .collect(),
                },
            },
            Layer {
                stage_from_space: Pose::IDENTITY,
                blend: Blend {
                    source_alpha: true,
                    unpremultiplied: false,
                },
                eyes: Eyes::Both,
                kind: LayerKind::Quad {
                    pose: Pose::from_position(Vec3::new(-0.4, 1.5, -1.5)),
                    size: [0.6, 0.6],
                    image: sub(&quad, 0),
                },
            },
            Layer {
                stage_from_space: Pose::IDENTITY,
                blend: Blend {
                    source_alpha: true,
                    unpremultiplied: false,
                },
                eyes: Eyes::Both,
                kind: LayerKind::Quad {
                    pose: Pose::from_position(Vec3::new(0.4, 1.7, -1.2)),
                    size: [0.5, 0.3],
                    image: sub(&quad, 0),
                },
            },
        ],
        fence: None,
    };
    let run = |c: &mut OfflineCompositor| {
        // Warm up, then measure.
        for i in 0..3 {
            c.compose(Some(&frame), Time(i), None).unwrap();
        }
        let (mut layer, mut distort, mut total) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..frames {
            let t = c
                .compose(Some(&frame), Time(i as i64 * 11_111_111), None)
                .unwrap();
            total.push(t.total_ms);
            if let (Some(l), Some(d)) = (t.layer_ms, t.distortion_ms) {
                layer.push(l);
                distort.push(d);
            }
        }
        (layer, distort, total)
    };
    let (mut layer, mut distort, mut total) = run(&mut c);
    // 8 avatars around the user, 1.1 m to 3 m away (LOD 0 within 1.5 m,
    // LOD 1 within 4 m), each with its own mesh upload per composition.
    let model = parallax_avatar::FaceModel::ict_facekit();
    let mut shading = parallax_avatar::shading::FaceShading::new(&model);
    let mut shaded = Vec::new();
    shading.shade(&model.neutral, None, &mut shaded);
    let vertices: Arc<Vec<parallax_compositor::AvatarVertex>> = Arc::new(
        shaded
            .iter()
            .map(|v| parallax_compositor::AvatarVertex {
                position: v.position,
                normal: v.normal,
                color: v.color,
            })
            .collect(),
    );
    let gpu_model = Arc::new(parallax_compositor::AvatarModel {
        vertex_count: model.neutral.len() as u32,
        lods: shading.lods.clone(),
        lod_distances: vec![1.5, 4.0],
    });
    let avatars: Vec<_> = (0..8)
        .map(|k| {
            let angle = (k as f32 - 3.5) * 0.35;
            let d = 1.1 + 0.27 * k as f32;
            let pos = Vec3::new(d * angle.sin(), 1.6, -d * angle.cos());
            parallax_compositor::AvatarInstance {
                model: gpu_model.clone(),
                pose: Pose::new(Quat::from_rotation_y(angle + std::f32::consts::PI), pos),
                vertices: Arc::new((*vertices).clone()),
            }
        })
        .collect();
    c.set_avatars(avatars);
    let (mut alayer, mut adistort, mut atotal) = run(&mut c);
    println!(
        "compose: {frames} frames, 2 x {w}x{hgt}, 1 projection + 2 quads, device {}",
        h.gpu().name
    );
    println!("| pass | median ms | p99 ms |");
    println!("|---|---|---|");
    let mut ratio = None;
    if !layer.is_empty() && !alayer.is_empty() {
        let (plain, p) = stats(&mut layer);
        println!("| layer pass (GPU) | {plain:.2} | {p:.2} |");
        let (m2, p2) = stats(&mut alayer);
        println!("| layer pass with 8 avatars (GPU) | {m2:.2} | {p2:.2} |");
        let (m, p) = stats(&mut distort);
        println!("| distortion pass (GPU) | {m:.2} | {p:.2} |");
        let (m3, p3) = stats(&mut adistort);
        println!("| distortion pass, avatar run (GPU) | {m3:.2} | {p3:.2} |");
        ratio = Some((m2 / plain, m2 - plain));
    }
    let (m, p) = stats(&mut total);
    println!("| whole composition (CPU wall, submit to fence) | {m:.2} | {p:.2} |");
    let (m, p) = stats(&mut atotal);
    println!("| whole composition with 8 avatars (CPU wall) | {m:.2} | {p:.2} |");
    if let Some((r, extra)) = ratio {
        println!(
            "8 avatars: layer pass x{r:.2} of the plain one, +{extra:.2} ms GPU per composition (both eyes)"
        );
    }
    drop(frame);
    drop(c);
}
