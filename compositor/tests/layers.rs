//! Golden checks of the compositor on real Vulkan (lavapipe here), driven
//! through a stand-in app device: orientation of projection layers,
//! rotational reprojection against a direct render (error bound stated),
//! quad placement and source-alpha blending in linear light, eye
//! visibility, cylinder and equirect placement, and where the chromatic
//! aberration fringes fall after distortion.
//!
//! Tolerances: colours within 3/255 of the expected sRGB value unless said.

use glam::{Quat, Vec3};
use parallax_compositor::vk::compositor::{EyePoses, Images, OfflineCompositor, TargetConfig};
use parallax_compositor::vk::harness::Harness;
use parallax_compositor::vk::swapchain::SharedSwapchain;
use parallax_compositor::{Blend, Depth, Eyes, Frame, Layer, LayerKind, ProjectionView, SubImage};
use parallax_sdk_types::{Fov, LensModel, Pose, Time};
use std::sync::Arc;

const W: u32 = 256;
const H: u32 = 256;
const RED: [u8; 4] = [255, 0, 0, 255];
const GREEN: [u8; 4] = [0, 255, 0, 255];
const BLUE: [u8; 4] = [0, 0, 255, 255];

fn fov() -> Fov {
    Fov::from_degrees(-45.0, 45.0, 45.0, -45.0)
}

/// The eyes at the origin of the stage, looking down -Z (no IPD, so both
/// eyes see the same thing), rotated by `yaw` radians.
fn eyes(yaw: f32) -> EyePoses {
    Arc::new(move |_| Some([Pose::new(Quat::from_rotation_y(yaw), Vec3::ZERO); 2]))
}

fn compositor(h: &Harness, yaw: f32, lens: LensModel) -> OfflineCompositor {
    let config = TargetConfig {
        eye_width: W,
        eye_height: H,
        fov: [fov(); 2],
        lens,
        eye_poses: eyes(yaw),
        capture: None,
        window: false,
        desktop: None,
        timing_log: None,
    };
    OfflineCompositor::new(h.gpu().clone(), config).unwrap()
}

fn harness() -> Option<Harness> {
    let h = Harness::new().expect("Vulkan works");
    if h.is_none() {
        eprintln!("no Vulkan device: skipping");
    }
    h
}

fn sub(chain: &Arc<SharedSwapchain>, array_index: u32) -> Option<SubImage> {
    Some(SubImage {
        hold: chain.hold(0),
        rect: [0, 0, chain.desc.width as i32, chain.desc.height as i32],
        array_index,
    })
}

fn projection(chain: &Arc<SharedSwapchain>, pose: Pose) -> Layer {
    projection_at(chain, pose, None, 0.0, 0.0)
}

/// A projection layer rendered from the origin, with `depth` (0..1 for
/// `near`..`far` metres) when given.
fn projection_with_depth(
    chain: &Arc<SharedSwapchain>,
    depth: Option<&Arc<SharedSwapchain>>,
    near: f32,
    far: f32,
) -> Layer {
    projection_at(chain, Pose::IDENTITY, depth, near, far)
}

/// A projection layer rendered from `pose`, with depth when given.
fn projection_at(
    chain: &Arc<SharedSwapchain>,
    pose: Pose,
    depth: Option<&Arc<SharedSwapchain>>,
    near: f32,
    far: f32,
) -> Layer {
    let views = (0..2)
        .map(|i| ProjectionView {
            pose,
            fov: fov(),
            image: sub(chain, i),
            depth: depth.map(|d| Depth {
                image: sub(d, i).unwrap(),
                min_depth: 0.0,
                max_depth: 1.0,
                near_z: near,
                far_z: far,
            }),
        })
        .collect();
    Layer {
        stage_from_space: Pose::IDENTITY,
        blend: Blend::default(),
        eyes: Eyes::Both,
        kind: LayerKind::Projection { views },
    }
}

fn px(img: &[u8], w: u32, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * w + x) * 4) as usize;
    [img[i], img[i + 1], img[i + 2], img[i + 3]]
}

fn close(a: [u8; 4], b: [u8; 4], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .take(3)
        .all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
}

fn compose(c: &mut OfflineCompositor, layers: Vec<Layer>) -> Images {
    let frame = Frame {
        display_time: Time(1),
        layers,
        fence: None,
    };
    c.compose_and_read(Some(&frame), Time(1)).unwrap()
}

#[test]
fn projection_is_upright_and_unchanged_without_motion() {
    let Some(h) = harness() else { return };
    let chain = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    for layer in 0..2 {
        h.fill(
            &chain,
            layer,
            &[
                ([0, 0, W, H / 2], RED),
                ([0, H / 2, W, H / 2], GREEN),
                ([0, 0, 16, 16], BLUE),
            ],
        )
        .unwrap();
    }
    let mut c = compositor(&h, 0.0, LensModel::default());
    let out = compose(&mut c, vec![projection(&chain, Pose::IDENTITY)]);
    for eye in &out.eyes {
        assert!(
            close(px(eye, W, 128, 40), RED, 3),
            "top {:?}",
            px(eye, W, 128, 40)
        );
        assert!(
            close(px(eye, W, 128, 220), GREEN, 3),
            "bottom {:?}",
            px(eye, W, 128, 220)
        );
        assert!(
            close(px(eye, W, 4, 4), BLUE, 3),
            "top-left corner {:?}",
            px(eye, W, 4, 4)
        );
        assert!(close(px(eye, W, 250, 4), RED, 3));
    }
}

/// Colour of a direction in the test world: vertical stripes a quarter
/// radian wide (about 20 pixels here), so edges are sharp and positions exact.
fn stripe(azimuth: f32) -> [u8; 4] {
    let k = ((azimuth * 4.0).floor() as i64).rem_euclid(3);
    [RED, GREEN, BLUE][k as usize]
}

/// Renders the striped world as seen from yaw `yaw` into layer `layer`.
fn render_world(h: &Harness, chain: &SharedSwapchain, layer: u32, yaw: f32) {
    let f = fov();
    let rects: Vec<([u32; 4], [u8; 4])> = (0..W)
        .map(|x| {
            let t = f.left.tan() + (x as f32 + 0.5) / W as f32 * (f.right.tan() - f.left.tan());
            // Azimuth grows to the left (counter-clockwise about +Y).
            let azimuth = yaw - t.atan();
            ([x, 0, 1, H], stripe(azimuth))
        })
        .collect();
    h.fill(chain, layer, &rects).unwrap();
}

#[test]
fn rotational_reprojection_matches_a_direct_render() {
    let Some(h) = harness() else { return };
    let (a, b) = (0.0f32, 0.12f32); // rendered at yaw A, shown at yaw B (6.9 degrees)
    let at_a = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    let at_b = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    for l in 0..2 {
        render_world(&h, &at_a, l, a);
        render_world(&h, &at_b, l, b);
    }
    let mut c = compositor(&h, b, LensModel::default());
    let reprojected = compose(
        &mut c,
        vec![projection(
            &at_a,
            Pose::new(Quat::from_rotation_y(a), Vec3::ZERO),
        )],
    );
    let direct = compose(
        &mut c,
        vec![projection(
            &at_b,
            Pose::new(Quat::from_rotation_y(b), Vec3::ZERO),
        )],
    );
    // Compare where frame A has content (the part of B's view that A saw).
    let f = fov();
    let mut compared = 0;
    let mut wrong = 0;
    for y in (0..H).step_by(8) {
        for x in 0..W {
            let t = f.left.tan() + (x as f32 + 0.5) / W as f32 * (f.right.tan() - f.left.tan());
            let az = b - t.atan();
            if (az - a).abs() > 0.7 {
                continue; // outside what frame A rendered
            }
            compared += 1;
            if !close(
                px(&reprojected.eyes[0], W, x, y),
                px(&direct.eyes[0], W, x, y),
                3,
            ) {
                wrong += 1;
            }
        }
    }
    // Error bound: only pixels on stripe edges may differ (bilinear
    // resampling, about two pixels per edge, six edges per row): at most 6%
    // of the compared pixels (4.8% seen on lavapipe).
    eprintln!("reprojection: {wrong} of {compared} compared pixels differ by more than 3/255");
    assert!(compared > 1000);
    assert!(
        wrong * 100 <= compared * 6,
        "{wrong} of {compared} pixels differ"
    );
    // And the rotation really moved the content: the unreprojected frame
    // differs from the direct render in many more places.
    let mut c0 = compositor(&h, a, LensModel::default());
    let stale = compose(
        &mut c0,
        vec![projection(
            &at_a,
            Pose::new(Quat::from_rotation_y(a), Vec3::ZERO),
        )],
    );
    let moved = (0..W)
        .filter(|&x| {
            !close(
                px(&stale.eyes[0], W, x, 128),
                px(&direct.eyes[0], W, x, 128),
                3,
            )
        })
        .count();
    assert!(moved > 40, "only {moved} pixels changed");
}

#[test]
fn quad_sits_where_placed_and_blends_in_linear_light() {
    let Some(h) = harness() else { return };
    let bg = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    for l in 0..2 {
        h.fill(&bg, l, &[([0, 0, W, H], RED)]).unwrap();
    }
    let quad = h
        .swapchain(64, 64, 1, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    // Premultiplied half-transparent blue: linear (0, 0, 0.5, 0.5) is sRGB 188.
    h.fill(&quad, 0, &[([0, 0, 64, 64], [0, 0, 188, 128])])
        .unwrap();
    let q = Layer {
        stage_from_space: Pose::IDENTITY,
        blend: Blend {
            source_alpha: true,
            unpremultiplied: false,
        },
        eyes: Eyes::Left,
        // 1 m wide, 2 m ahead: spans tan = +-0.25, i.e. the middle quarter of the view.
        kind: LayerKind::Quad {
            pose: Pose::from_position(Vec3::new(0.0, 0.0, -2.0)),
            size: [1.0, 1.0],
            image: sub(&quad, 0),
        },
    };
    let mut c = compositor(&h, 0.0, LensModel::default());
    let out = compose(&mut c, vec![projection(&bg, Pose::IDENTITY), q]);
    let left = &out.eyes[0];
    // Red (linear 1) under half blue: linear (0.5, 0, 0.5) -> sRGB (188, 0, 188).
    assert!(
        close(px(left, W, 128, 128), [188, 0, 188, 255], 3),
        "{:?}",
        px(left, W, 128, 128)
    );
    // Edges: the quad spans x in [96, 160).
    assert!(close(px(left, W, 100, 128), [188, 0, 188, 255], 3));
    assert!(
        close(px(left, W, 90, 128), RED, 3),
        "{:?}",
        px(left, W, 90, 128)
    );
    assert!(close(px(left, W, 166, 128), RED, 3));
    // Eye visibility: the right eye does not show it.
    assert!(close(px(&out.eyes[1], W, 128, 128), RED, 3));
}

#[test]
fn cylinder_and_equirect_face_the_viewer() {
    let Some(h) = harness() else { return };
    let img = h
        .swapchain(64, 64, 1, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    // Left half green, right half blue.
    h.fill(&img, 0, &[([0, 0, 32, 64], GREEN), ([32, 0, 32, 64], BLUE)])
        .unwrap();
    let mut c = compositor(&h, 0.0, LensModel::default());
    let cylinder = Layer {
        stage_from_space: Pose::IDENTITY,
        blend: Blend::default(),
        eyes: Eyes::Both,
        kind: LayerKind::Cylinder {
            pose: Pose::IDENTITY,
            radius: 2.0,
            central_angle: std::f32::consts::FRAC_PI_2,
            aspect_ratio: 2.0,
            image: sub(&img, 0),
        },
    };
    let out = compose(&mut c, vec![cylinder]);
    // 90 degrees of arc centred ahead fill the 90 degree view left to right.
    assert!(
        close(px(&out.eyes[0], W, 60, 128), GREEN, 3),
        "{:?}",
        px(&out.eyes[0], W, 60, 128)
    );
    assert!(close(px(&out.eyes[0], W, 196, 128), BLUE, 3));
    // Height = r * angle / aspect = 0.785 m at 2 m: tan 0.196, so the top rows are empty.
    assert!(close(px(&out.eyes[0], W, 60, 10), [0, 0, 0, 255], 3));
    let equirect = Layer {
        stage_from_space: Pose::IDENTITY,
        blend: Blend::default(),
        eyes: Eyes::Both,
        kind: LayerKind::Equirect {
            pose: Pose::IDENTITY,
            radius: 0.0,
            central_horizontal_angle: std::f32::consts::PI,
            upper_vertical_angle: std::f32::consts::FRAC_PI_2,
            lower_vertical_angle: -std::f32::consts::FRAC_PI_2,
            image: sub(&img, 0),
        },
    };
    let out = compose(&mut c, vec![equirect]);
    assert!(close(px(&out.eyes[0], W, 60, 128), GREEN, 3));
    assert!(close(px(&out.eyes[0], W, 196, 128), BLUE, 3));
    assert!(
        close(px(&out.eyes[0], W, 60, 10), GREEN, 3),
        "equirect covers the whole view height"
    );
}

#[test]
fn chromatic_aberration_fringes_fall_outward_in_channel_order() {
    let Some(h) = harness() else { return };
    let img = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    // A white square of half-width tan 0.5 in the middle, black around.
    for l in 0..2 {
        h.fill(
            &img,
            l,
            &[
                ([0, 0, W, H], [0, 0, 0, 255]),
                ([64, 64, 128, 128], [255, 255, 255, 255]),
            ],
        )
        .unwrap();
    }
    // Blue bends most, red least (a typical lens).
    let lens = LensModel {
        red: [0.16, 0.0, 0.0],
        green: [0.22, 0.0, 0.0],
        blue: [0.28, 0.0, 0.0],
        aperture: 0.0,
    };
    let mut c = compositor(&h, 0.0, lens);
    let out = compose(&mut c, vec![projection(&img, Pose::IDENTITY)]);
    // Walk the left eye's centre row outward from the centre; note where each
    // channel falls below half.
    let pw = 2 * W;
    let edge = |ch: usize| {
        (W / 2..W)
            .find(|&x| px(&out.panel, pw, x, H / 2)[ch] < 128)
            .expect("edge found")
    };
    let (r, g, b) = (edge(0), edge(1), edge(2));
    // The pre-distortion shrinks the square; blue, bent most, reads from
    // furthest out, so its edge comes first on the panel, then green, then red.
    assert!(b < g && g < r, "edges: red {r}, green {g}, blue {b}");
    // Centre stays white.
    assert!(close(
        px(&out.panel, pw, W / 2, H / 2),
        [255, 255, 255, 255],
        3
    ));
}

#[test]
fn cube_faces_are_chosen_by_view_direction() {
    let Some(h) = harness() else { return };
    let cube = h
        .cube_swapchain(32, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    // Faces in Vulkan order: +X, -X, +Y, -Y, +Z, -Z.
    let colours = [
        RED,
        GREEN,
        BLUE,
        [255, 255, 0, 255],
        [255, 255, 255, 255],
        [255, 0, 255, 255],
    ];
    for (face, c) in colours.iter().enumerate() {
        h.fill(&cube, face as u32, &[([0, 0, 32, 32], *c)]).unwrap();
    }
    let layer = |orientation: Quat| Layer {
        stage_from_space: Pose::IDENTITY,
        blend: Blend::default(),
        eyes: Eyes::Both,
        kind: LayerKind::Cube {
            orientation,
            image: Some(SubImage {
                hold: cube.hold(0),
                rect: [0, 0, 32, 32],
                array_index: 0,
            }),
        },
    };
    // Looking down -Z: the -Z face.
    let mut c = compositor(&h, 0.0, LensModel::default());
    let out = compose(&mut c, vec![layer(Quat::IDENTITY)]);
    assert!(
        close(px(&out.eyes[0], W, 128, 128), [255, 0, 255, 255], 3),
        "{:?}",
        px(&out.eyes[0], W, 128, 128)
    );
    // Turned 90 degrees left (looking down -X): the -X face.
    let mut left = compositor(&h, std::f32::consts::FRAC_PI_2, LensModel::default());
    let out = compose(&mut left, vec![layer(Quat::IDENTITY)]);
    assert!(
        close(px(&out.eyes[0], W, 128, 128), GREEN, 3),
        "{:?}",
        px(&out.eyes[0], W, 128, 128)
    );
    // The cube turned 90 degrees clockwise (seen from above) while the
    // viewer looks ahead: the view direction in cube space is -X.
    let out = compose(
        &mut c,
        vec![layer(Quat::from_rotation_y(-std::f32::consts::FRAC_PI_2))],
    );
    assert!(
        close(px(&out.eyes[0], W, 128, 128), GREEN, 3),
        "{:?}",
        px(&out.eyes[0], W, 128, 128)
    );
}

/// The plane z = -1 m of the depth test, striped by world x (0.125 m per
/// stripe), as seen from an eye at `eye_x` looking down -Z.
fn render_plane(h: &Harness, chain: &SharedSwapchain, layer: u32, eye_x: f32) {
    let f = fov();
    let rects: Vec<([u32; 4], [u8; 4])> = (0..W)
        .map(|x| {
            let t = f.left.tan() + (x as f32 + 0.5) / W as f32 * (f.right.tan() - f.left.tan());
            let world_x = eye_x + t;
            let k = ((world_x * 8.0).floor() as i64).rem_euclid(3);
            ([x, 0, 1, H], [RED, GREEN, BLUE][k as usize])
        })
        .collect();
    h.fill(chain, layer, &rects).unwrap();
}

#[test]
fn positional_reprojection_with_depth_matches_a_direct_render() {
    let Some(h) = harness() else { return };
    let (near, far, z) = (0.1f32, 100.0f32, 1.0f32);
    // The depth value of a surface 1 m away for that near/far.
    let d01 = far * (near - z) / (z * (near - far));
    let at_a = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    let at_b = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    let depth = h.depth_swapchain(W, H, 2).unwrap();
    let dv = d01.to_le_bytes();
    for l in 0..2 {
        render_plane(&h, &at_a, l, 0.0);
        render_plane(&h, &at_b, l, 0.1);
        h.fill(&depth, l, &[([0, 0, W, H], dv)]).unwrap();
    }
    // Shown 10 cm to the right of where it was rendered.
    let b = Vec3::new(0.1, 0.0, 0.0);
    let config = TargetConfig {
        eye_width: W,
        eye_height: H,
        fov: [fov(); 2],
        lens: LensModel::default(),
        eye_poses: Arc::new(move |_| Some([Pose::from_position(b); 2])),
        capture: None,
        window: false,
        desktop: None,
        timing_log: None,
    };
    let mut c = OfflineCompositor::new(h.gpu().clone(), config).unwrap();
    let with_depth =
        |use_depth: bool| projection_with_depth(&at_a, use_depth.then_some(&depth), near, far);
    let positional = compose(&mut c, vec![with_depth(true)]);
    let rotational = compose(&mut c, vec![with_depth(false)]);
    let direct = compose(&mut c, vec![projection(&at_b, Pose::from_position(b))]);
    let f = fov();
    let (mut compared, mut wrong_pos, mut wrong_rot) = (0, 0, 0);
    for y in (0..H).step_by(8) {
        for x in 0..W {
            let t = f.left.tan() + (x as f32 + 0.5) / W as f32 * (f.right.tan() - f.left.tan());
            if (t + 0.1).abs() > 0.95 {
                continue; // outside what frame A saw
            }
            compared += 1;
            let want = px(&direct.eyes[0], W, x, y);
            wrong_pos += usize::from(!close(px(&positional.eyes[0], W, x, y), want, 3));
            wrong_rot += usize::from(!close(px(&rotational.eyes[0], W, x, y), want, 3));
        }
    }
    eprintln!("positional reprojection: {wrong_pos} of {compared} pixels differ; rotational only: {wrong_rot}");
    // Error bound: stripe edges only (about two pixels per edge, 16 edges a
    // row): 10% (6.3% seen on lavapipe; rotational only: 81%).
    assert!(
        wrong_pos * 100 <= compared * 10,
        "{wrong_pos} of {compared}"
    );
    // Without depth the 10 cm shift is not corrected: far more pixels differ.
    assert!(
        wrong_rot > 3 * wrong_pos.max(1),
        "rotational {wrong_rot} vs positional {wrong_pos}"
    );
}

/// A flat square avatar `size` metres wide facing +Z, of one colour.
fn square_avatar(
    size: f32,
    color: [u8; 4],
) -> (
    Arc<parallax_compositor::AvatarModel>,
    Vec<parallax_compositor::AvatarVertex>,
) {
    let h = size / 2.0;
    let vertices = [[-h, -h], [h, -h], [h, h], [-h, h]]
        .iter()
        .map(|[x, y]| parallax_compositor::AvatarVertex {
            position: [*x, *y, 0.0],
            normal: [0.0, 0.0, 1.0],
            color,
        })
        .collect();
    let model = parallax_compositor::AvatarModel {
        vertex_count: 4,
        lods: vec![vec![[0, 1, 2], [0, 2, 3]]],
        lod_distances: vec![],
    };
    (Arc::new(model), vertices)
}

/// Avatars are drawn over the app's scene, hide it where they are nearer
/// than its depth, and are hidden where it is nearer: a wall 1 m away on
/// the left half of the view, nothing (100 m) on the right; one avatar in
/// front of the wall, one 2 m away across the wall's edge.
#[test]
fn avatars_hide_and_are_hidden_by_the_apps_depth() {
    let Some(h) = harness() else { return };
    let (near, far) = (0.1f32, 100.0f32);
    let d01 = |z: f32| far * (near - z) / (z * (near - far));
    let scene = [20, 40, 120, 255];
    let chain = h
        .swapchain(W, H, 2, ash::vk::Format::R8G8B8A8_SRGB)
        .unwrap();
    let depth = h.depth_swapchain(W, H, 2).unwrap();
    for l in 0..2 {
        h.fill(&chain, l, &[([0, 0, W, H], scene)]).unwrap();
        h.fill(
            &depth,
            l,
            &[
                ([0, 0, W / 2, H], d01(1.0).to_le_bytes()),
                ([W / 2, 0, W / 2, H], 1f32.to_le_bytes()),
            ],
        )
        .unwrap();
    }
    let layer =
        |with_depth: bool| projection_with_depth(&chain, with_depth.then_some(&depth), near, far);
    let mut c = compositor(&h, 0.0, LensModel::default());
    let (model, verts) = square_avatar(0.4, [255, 0, 0, 255]);
    let verts = Arc::new(verts);
    let at = |x: f32, z: f32| parallax_compositor::AvatarInstance {
        model: model.clone(),
        pose: Pose::from_position(Vec3::new(x, 0.0, z)),
        vertices: verts.clone(),
    };
    c.set_avatars(vec![at(-0.45, -0.7), at(0.0, -2.0)]);
    // Pixel column of a horizontal tangent (the field of view is ±45°).
    let col = |t: f32| ((t + 1.0) / 2.0 * W as f32) as u32;
    let red = |p: [u8; 4]| p[0] > 200 && p[1] < 40 && p[2] < 40;
    let out = compose(&mut c, vec![layer(true)]);
    for eye in &out.eyes {
        // The near avatar (tangent -0.64) is in front of the wall.
        assert!(
            red(px(eye, W, col(-0.643), 128)),
            "{:?}",
            px(eye, W, col(-0.643), 128)
        );
        // The far one: hidden by the wall on the left, shown on the right.
        let left = px(eye, W, col(-0.06), 128);
        assert!(close(left, scene, 3), "behind the wall: {left:?}");
        assert!(
            red(px(eye, W, col(0.06), 128)),
            "{:?}",
            px(eye, W, col(0.06), 128)
        );
        // The scene around them is untouched.
        assert!(close(px(eye, W, col(0.5), 40), scene, 3));
    }
    // Without the app's depth nothing can hide an avatar.
    let out = compose(&mut c, vec![layer(false)]);
    assert!(red(px(&out.eyes[0], W, col(-0.06), 128)));
    // With no avatars the scene is back.
    c.set_avatars(Vec::new());
    let out = compose(&mut c, vec![layer(true)]);
    assert!(close(px(&out.eyes[0], W, col(0.06), 128), scene, 3));
    assert!(close(px(&out.eyes[0], W, col(-0.643), 128), scene, 3));
}
