//! The committed face model (ICT-FaceKit Light, converted): its structure,
//! what its expressions do, and the file format's checks.

use glam::Vec3;
use parallax_avatar::{FaceModel, FormatError, ShapeKind};

/// The 53 expression names ICT-FaceKit lists (ARKit's, without tongueOut).
const ARKIT: [&str; 53] = [
    "browDown_L",
    "browDown_R",
    "browInnerUp_L",
    "browInnerUp_R",
    "browOuterUp_L",
    "browOuterUp_R",
    "cheekPuff_L",
    "cheekPuff_R",
    "cheekSquint_L",
    "cheekSquint_R",
    "eyeBlink_L",
    "eyeBlink_R",
    "eyeLookDown_L",
    "eyeLookDown_R",
    "eyeLookIn_L",
    "eyeLookIn_R",
    "eyeLookOut_L",
    "eyeLookOut_R",
    "eyeLookUp_L",
    "eyeLookUp_R",
    "eyeSquint_L",
    "eyeSquint_R",
    "eyeWide_L",
    "eyeWide_R",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimple_L",
    "mouthDimple_R",
    "mouthFrown_L",
    "mouthFrown_R",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDown_L",
    "mouthLowerDown_R",
    "mouthPress_L",
    "mouthPress_R",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmile_L",
    "mouthSmile_R",
    "mouthStretch_L",
    "mouthStretch_R",
    "mouthUpperUp_L",
    "mouthUpperUp_R",
    "noseSneer_L",
    "noseSneer_R",
];

fn weights(m: &FaceModel, name: &str, w: f32) -> Vec<f32> {
    let mut v = vec![0.0; m.shapes.len()];
    v[m.shape(name).unwrap_or_else(|| panic!("no shape {name}"))] = w;
    v
}

/// Vertices `name` moves by more than `mm`, with their moves.
fn moved(m: &FaceModel, name: &str, mm: f32) -> Vec<(usize, Vec3)> {
    let posed = m.evaluate(&weights(m, name, 1.0));
    posed
        .iter()
        .zip(&m.neutral)
        .enumerate()
        .map(|(i, (p, n))| (i, *p - *n))
        .filter(|(_, d)| d.length() > mm * 1e-3)
        .collect()
}

#[test]
fn the_committed_model_is_ict_facekit_light() {
    let m = FaceModel::ict_facekit();
    assert_eq!(m.neutral.len(), 26719);
    assert_eq!(m.parts.len(), 17);
    // The parts tile the mesh in order. The skin parts are stitched (the
    // README's polygon ranges of face and head overlap in the vertices they
    // use); the separate meshes (teeth, eyeballs) use only their own.
    let (mut v, mut t) = (0, 0);
    for p in &m.parts {
        assert_eq!((p.vertices.start, p.triangles.start), (v, t), "{}", p.name);
        if p.name == "teeth" || p.name.starts_with("eyeball") {
            for tri in &m.triangles[p.triangles.start as usize..p.triangles.end as usize] {
                assert!(
                    tri.iter().all(|i| p.vertices.contains(i)),
                    "{}: {tri:?}",
                    p.name
                );
            }
        }
        (v, t) = (p.vertices.end, p.triangles.end);
    }
    assert_eq!(
        (v as usize, t as usize),
        (m.neutral.len(), m.triangles.len())
    );
    // A head about 25 cm wide, in metres.
    let (lo, hi) = m
        .neutral
        .iter()
        .fold((Vec3::MAX, Vec3::MIN), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let size = hi - lo;
    assert!((0.2..0.3).contains(&size.x), "{size}");
    let expressions: Vec<_> = m.shapes_of(ShapeKind::Expression).collect();
    let identities = m.shapes_of(ShapeKind::Identity).count();
    assert_eq!((expressions.len(), identities), (57, 10));
    for (i, name) in ARKIT.iter().enumerate() {
        assert_eq!(&expressions[i].1.name, name);
    }
    let face = m.part("face").unwrap();
    assert_eq!(face.vertices, 0..9409);
}

fn area(m: &FaceModel, tris: &[[u32; 3]]) -> f32 {
    tris.iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| m.neutral[i as usize]);
            (b - a).cross(c - a).length() / 2.0
        })
        .sum()
}

#[test]
fn levels_of_detail_are_coarser_and_keep_the_shape() {
    let m = FaceModel::ict_facekit();
    assert_eq!(m.lods.len(), 2);
    let mut previous = m.triangles.len();
    for (k, lod) in m.lods.iter().enumerate() {
        assert!(
            lod.triangles.len() * 2 < previous,
            "level {} is not coarser",
            k + 1
        );
        previous = lod.triangles.len();
        let mut t = 0;
        for (p, r) in m.parts.iter().zip(&lod.parts) {
            assert_eq!(r.start, t, "level {}, part {}", k + 1, p.name);
            t = r.end;
            let tris = &lod.triangles[r.start as usize..r.end as usize];
            assert!(!tris.is_empty(), "level {} drops {}", k + 1, p.name);
            if p.name == "teeth" || p.name.starts_with("eyeball") {
                assert!(tris.iter().flatten().all(|i| p.vertices.contains(i)));
            }
            // The surface stays: the face's area within 5 % of full detail.
            if p.name == "face" {
                let full = area(
                    &m,
                    &m.triangles[p.triangles.start as usize..p.triangles.end as usize],
                );
                let coarse = area(&m, tris);
                assert!(
                    (coarse / full - 1.0).abs() < 0.05,
                    "level {}: {coarse} vs {full} m²",
                    k + 1
                );
            }
        }
        assert_eq!(t as usize, lod.triangles.len());
    }
}

#[test]
fn expressions_move_what_their_names_say() {
    let m = FaceModel::ict_facekit();
    // jawOpen: the chin goes down by centimetres, the skull stays.
    let jaw = moved(&m, "jawOpen", 1.0);
    let lowest = jaw.iter().map(|(_, d)| d.y).fold(0.0, f32::min);
    assert!(lowest < -0.01, "jawOpen lowers the chin by {} m", -lowest);
    let teeth = m.part("teeth").unwrap();
    assert!(jaw
        .iter()
        .any(|(i, _)| teeth.vertices.contains(&(*i as u32))));
    // Blinks close one eye each: every vertex a blink moves by over 1 mm is
    // on one side of the face, the other blink's on the other, going down.
    let left = moved(&m, "eyeBlink_L", 1.0);
    let right = moved(&m, "eyeBlink_R", 1.0);
    assert!(left.len() > 50 && right.len() > 50);
    let side = |v: &[(usize, Vec3)]| {
        let xs: Vec<f32> = v.iter().map(|(i, _)| m.neutral[*i].x).collect();
        (xs.iter().all(|x| *x > 0.0), xs.iter().all(|x| *x < 0.0))
    };
    let (l, r) = (side(&left), side(&right));
    assert!((l.0 && r.1) || (l.1 && r.0), "blink sides {l:?} {r:?}");
    let mean_y = left.iter().map(|(_, d)| d.y).sum::<f32>() / left.len() as f32;
    assert!(mean_y < 0.0, "the upper lid comes down");
    // Looking up moves the lids of the same eye as the blink of its side
    // (the eyeballs turn by the gaze, not by a shape).
    let look = moved(&m, "eyeLookUp_L", 0.5);
    assert!(!look.is_empty());
    assert_eq!(side(&look), l, "eyeLookUp_L is on eyeBlink_L's side");
    // Weights add linearly.
    let a = m.evaluate(&weights(&m, "jawOpen", 0.5));
    let b = m.evaluate(&weights(&m, "jawOpen", 1.0));
    for ((a, b), n) in a.iter().zip(&b).zip(&m.neutral) {
        assert!(((*a - *n) * 2.0 - (*b - *n)).length() < 1e-6);
    }
}

#[test]
fn the_format_round_trips_and_refuses_damage() {
    let m = FaceModel::ict_facekit();
    let bytes = m.write();
    assert_eq!(FaceModel::read(&bytes).as_ref(), Ok(&m));
    assert_eq!(FaceModel::read(b"PXFACE"), Err(FormatError::Magic));
    assert_eq!(
        FaceModel::read(b"GLTF\0\0\0\0\x01\0\0\0"),
        Err(FormatError::Magic)
    );
    // A future version is named as such.
    let mut future = bytes.clone();
    future[8] = 2;
    assert_eq!(FaceModel::read(&future), Err(FormatError::Version(2)));
    // Any flipped byte or truncation is an error, never a panic.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bad = bytes.clone();
        let at = 12 + (seed as usize % (bytes.len() - 12));
        bad[at] ^= 1 << ((seed >> 60) as u8 % 8);
        assert!(FaceModel::read(&bad).is_err(), "flip at {at}");
        assert!(FaceModel::read(&bytes[..at]).is_err(), "cut at {at}");
    }
    // A well-formed file (checksum right) with impossible contents is
    // refused with a reason: a triangle past the vertices, a shape run past
    // them, counts a hostile file would use to exhaust memory.
    let mut broken = m.clone();
    broken.triangles[0][1] = m.neutral.len() as u32;
    assert!(matches!(
        FaceModel::read(&broken.write()),
        Err(FormatError::Invalid(_))
    ));
    let mut broken = m.clone();
    broken.shapes[0].indices.push(m.neutral.len() as u32 + 5);
    broken.shapes[0].deltas.push(Default::default());
    assert!(matches!(
        FaceModel::read(&broken.write()),
        Err(FormatError::Invalid(_))
    ));
    let mut huge = bytes[..bytes.len() - 4].to_vec();
    huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32fast::hash(&huge);
    huge.extend_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        FaceModel::read(&huge),
        Err(FormatError::Invalid(_))
    ));
}

#[test]
fn the_simulated_wearers_face_drives_the_model() {
    use parallax_sdk::types::{Time, FACE_EXPRESSION_COUNT, FACE_EXPRESSION_NAMES};
    use parallax_sdk::Builder;
    let m = FaceModel::ict_facekit();
    // Every ARKit name but tongueOut reaches an ICT expression.
    for (k, name) in FACE_EXPRESSION_NAMES.iter().enumerate() {
        let mut one = [0.0; FACE_EXPRESSION_COUNT];
        one[k] = 1.0;
        let n = m
            .weights_from_arkit(&one)
            .iter()
            .filter(|w| **w == 1.0)
            .count();
        let want = match *name {
            "tongueOut" => 0,
            "browInnerUp" | "cheekPuff" => 2,
            _ => 1,
        };
        assert_eq!(n, want, "{name}");
    }
    // The simulated headset's scripted face, through the SDK: talking opens
    // the mesh's jaw, a blink closes its lids.
    let sys = parallax_driver_simulated::SimulatedBuilder::new(
        parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
    )
    .open()
    .unwrap();
    let map = m.arkit_map();
    let (mut w, mut posed) = (Vec::new(), Vec::new());
    let mut chin = |t: f64| {
        let f = sys.hmd.face_expressions(Time((t * 1e9) as i64)).unwrap();
        map.weights_into(&f.weights, &mut w);
        m.evaluate_into(&w, &mut posed);
        let face = m.part("face").unwrap();
        face.vertices
            .clone()
            .map(|i| posed[i as usize].y - m.neutral[i as usize].y)
            .fold(0.0, f32::min)
    };
    // Over one syllable cycle of the talking phase the lowest point of the
    // face drops by a centimetre and comes back; smiling at 1207 s it
    // stays (no syllables).
    let mut range = |t0: f64| {
        (0..25)
            .map(|k| chin(t0 + k as f64 * 0.01))
            .fold((0f32, -1f32), |(l, h), d| (l.min(d), h.max(d)))
    };
    let (lo, hi) = range(1201.0);
    assert!(
        lo < -0.01 && hi - lo > 0.01,
        "talking: the chin moves {lo}..{hi} m"
    );
    let (lo, hi) = range(1207.0);
    assert!(hi - lo < 0.001, "smiling: the chin stays ({lo}..{hi} m)");
}
