//! The wgpu renderer draws what the CPU reference draws, and the models see
//! a hand in it where the ground truth puts one.

use glam::{Quat, Vec3};
use parallax_driver_simulated::camera_infos;
use parallax_driver_simulated::hand::{joint_poses, HandShape};
use parallax_hand_sim::gpu::Renderer;
use parallax_hand_sim::sequences::{frame, SEQUENCES};
use parallax_hand_sim::{hand_capsules, render_cpu, Background, Capsule, GrayImage, Scene};
use parallax_hand_tracking::skeleton::LANDMARK_OF_JOINT;
use parallax_hand_tracking::stereo::Camera;
use parallax_hand_tracking::{models_dir, HandLandmarker, Variant};
use parallax_sdk_types::{Hand, Pose};

fn scene() -> (Scene, [(Pose, f32); 26]) {
    // A right hand, palm to the cameras, fingers up, 35 cm ahead.
    let wrist = Pose::new(
        Quat::from_rotation_z(std::f32::consts::PI)
            * Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2),
        Vec3::new(0.0, -0.08, -0.35),
    );
    let joints = joint_poses(Hand::Right, wrist, &HandShape::RELAXED);
    let mut capsules = hand_capsules(&joints, 0.7, 0);
    // A bar in front of the little finger's side.
    capsules.push(Capsule {
        a: Vec3::new(0.09, -0.3, -0.3),
        ra: 0.01,
        b: Vec3::new(0.09, 0.3, -0.3),
        rb: 0.01,
        albedo: 0.45,
        group: 1,
    });
    let scene = Scene {
        capsules,
        light: Vec3::new(0.3, 0.6, 0.8),
        ambient: 0.3,
        background: Background::Checker {
            a: 0.1,
            b: 0.2,
            size: 0.1,
        },
        noise: 0.02,
        seed: 7,
    };
    (scene, joints)
}

/// The simulated headset's first camera scaled by `1 / div`.
fn small_camera(div: u32) -> Camera {
    let mut info = camera_infos()[0].clone();
    let f = div as f32;
    info.width /= div;
    info.height /= div;
    info.intrinsics.fx /= f;
    info.intrinsics.fy /= f;
    info.intrinsics.cx = (info.intrinsics.cx + 0.5) / f - 0.5;
    info.intrinsics.cy = (info.intrinsics.cy + 0.5) / f - 0.5;
    Camera::from(&info)
}

/// Compares the GPU's image with the CPU reference's: the mean difference,
/// the pixels off by more than 8 levels overall and per 8×8 tile (the GPU
/// marches each tile with only the capsules it found near the tile's rays,
/// so a capsule lost by that culling shows up as a tile of wrong pixels).
fn assert_matches(gpu: &GrayImage, cpu: &GrayImage) {
    assert_eq!((gpu.width, gpu.height), (cpu.width, cpu.height));
    let w = gpu.width as usize;
    let diffs: Vec<i32> = gpu
        .pixels
        .iter()
        .zip(&cpu.pixels)
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .collect();
    let mean = diffs.iter().sum::<i32>() as f32 / diffs.len() as f32;
    let off = diffs.iter().filter(|d| **d > 8).count();
    // Float rounding differs (GPU fused multiply-adds); silhouette edges may
    // flip a pixel or two.
    assert!(mean < 0.5, "mean difference {mean}");
    assert!(
        off < diffs.len() / 200,
        "{off} pixels differ by more than 8"
    );
    let mut per_tile = std::collections::HashMap::new();
    for (i, d) in diffs.iter().enumerate() {
        if *d > 8 {
            *per_tile.entry((i % w / 8, i / w / 8)).or_insert(0) += 1;
        }
    }
    let worst = per_tile.iter().max_by_key(|(_, n)| **n);
    assert!(
        worst.is_none_or(|(_, n)| *n <= 6),
        "tile {worst:?}: pixels differ by more than 8"
    );
}

#[test]
fn gpu_matches_the_cpu_reference() {
    let (scene, _) = scene();
    let renderer = Renderer::new().expect("a Vulkan adapter (lavapipe)");
    // A quarter-size camera keeps the CPU reference quick.
    let cam = small_camera(4);
    let gpu = renderer.render(&scene, &cam).unwrap();
    let cpu = render_cpu(&scene, &cam);
    assert_eq!((gpu.width, gpu.height), (160, 120));
    assert_matches(&gpu, &cpu);
    // The hand is there: skin brighter than the checker background.
    let bright = gpu.pixels.iter().filter(|v| **v > 100).count();
    assert!(bright > 800, "{bright} bright pixels");
    // Both hands with their forearms and a checker background, at half
    // size: every sequence's scene comes out as the reference draws it.
    let cam = small_camera(2);
    for seq in &SEQUENCES {
        let f = frame(seq, seq.frames / 2);
        assert_matches(
            &renderer.render(&f.scene, &cam).unwrap(),
            &render_cpu(&f.scene, &cam),
        );
    }
}

#[test]
fn the_models_find_the_rendered_hand() {
    let (scene, joints) = scene();
    let renderer = Renderer::new().unwrap();
    let cam = Camera::from(&camera_infos()[0]);
    let t = std::time::Instant::now();
    let img = renderer.render(&scene, &cam).unwrap();
    eprintln!(
        "rendered 640x480 on {} in {:?}",
        renderer.adapter,
        t.elapsed()
    );
    let image = img.as_image();
    let mut lm =
        HandLandmarker::load(&models_dir(), Variant::Full, &candle_core::Device::Cpu).unwrap();
    let hands = lm.process(&image).unwrap();
    assert_eq!(hands.len(), 1, "one hand");
    let h = &hands[0];
    assert!(
        h.presence > 0.8 && h.right > 0.5,
        "{} {}",
        h.presence,
        h.right
    );
    let mut err = 0.0;
    for (j, l) in LANDMARK_OF_JOINT.iter().enumerate() {
        if let Some(l) = l {
            err += (h.image[*l].truncate() - cam.project(joints[j].0.position).unwrap()).length();
        }
    }
    let err = err / 21.0;
    eprintln!("mean landmark error {err:.1} px");
    assert!(err < 15.0, "{err}");
}
