//! Converts ICT-FaceKit Light (its `FaceXModel` folder of OBJ files) into
//! the face model file Parallax commits (`avatar/data/ict-facekit.pxface`):
//!
//! ```sh
//! mkdir -p /tmp/ict && tar -xJf ../shared/assets/ict-facekit/ict-facekit-light.tar.xz -C /tmp/ict
//! cargo run --release -p parallax-avatar --bin convert-ict-facekit -- /tmp/ict/FaceXModel avatar/data/ict-facekit.pxface
//! ```
//!
//! Positions go from the OBJs' centimetres to metres; polygons (quads and
//! triangles) are split into triangles; each shape keeps the vertices it
//! moves by more than `--keep-um` (20 µm), as half-precision deltas. The sub-mesh ranges
//! are those the ICT-FaceKit README documents; the expression order is the
//! one of its `vertex_indices.json` (53 ARKit names), then the other
//! expression OBJs of the folder in name order, then the identity modes.
//! Levels of detail are simplified part by part with meshoptimizer, part
//! borders locked so that the parts stay stitched.
use clap::Parser;
use glam::Vec3;
use half::f16;
use parallax_avatar::{FaceModel, Lod, Part, Shape, ShapeKind};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Convert ICT-FaceKit Light's OBJ files into a Parallax face model")]
struct Args {
    /// The FaceXModel folder (generic_neutral_mesh.obj and the shape OBJs).
    dir: PathBuf,
    /// Where to write the model.
    out: PathBuf,
    /// Smallest move a shape keeps, in micrometres (smaller moves are
    /// dropped: the codec's error goal is 1000 µm).
    #[arg(long, default_value_t = 20.0)]
    keep_um: f32,
    /// How many identity modes to keep (the first ones: they explain the
    /// most variation). Each is dense (it moves the whole head: 160 kB);
    /// ten keep the committed file under 5 MB.
    #[arg(long, default_value_t = 10)]
    identities: usize,
}

/// The sub-meshes of ICT-FaceKit's README: name, vertex range, polygon range.
const PARTS: &[(&str, [u32; 2], [u32; 2])] = &[
    ("face", [0, 9408], [0, 9229]),
    ("head_and_neck", [9409, 11247], [9230, 11143]),
    ("mouth_socket", [11248, 13293], [11144, 13225]),
    ("eye_socket_left", [13294, 13677], [13226, 13629]),
    ("eye_socket_right", [13678, 14061], [13630, 14033]),
    ("gums_and_tongue", [14062, 17038], [14034, 17005]),
    ("teeth", [17039, 21450], [17006, 21495]),
    ("eyeball_left", [21451, 23020], [21496, 23093]),
    ("eyeball_right", [23021, 24590], [23094, 24691]),
    ("lacrimal_fluid_left", [24591, 24794], [24692, 24854]),
    ("lacrimal_fluid_right", [24795, 24998], [24855, 25017]),
    ("eye_blend_left", [24999, 25022], [25018, 25032]),
    ("eye_blend_right", [25023, 25046], [25033, 25047]),
    ("eye_occlusion_left", [25047, 25198], [25048, 25175]),
    ("eye_occlusion_right", [25199, 25350], [25176, 25303]),
    ("eyelashes_left", [25351, 26034], [25304, 25843]),
    ("eyelashes_right", [26035, 26718], [25844, 26383]),
];

/// Levels of detail: the share of each part's triangles to aim for, and
/// the largest error allowed (relative to the part's extent).
const LODS: [(f32, f32); 2] = [(0.25, 0.01), (0.08, 0.03)];

fn lod(positions: &[Vec3], triangles: &[[u32; 3]], parts: &[Part], keep: f32, error: f32) -> Lod {
    let points: Vec<[f32; 3]> = positions.iter().map(|p| p.to_array()).collect();
    let mut out = Vec::new();
    let mut ranges = Vec::new();
    for p in parts {
        let tris = &triangles[p.triangles.start as usize..p.triangles.end as usize];
        let indices: Vec<u32> = tris.iter().flatten().copied().collect();
        let target = ((tris.len() as f32 * keep) as usize).max(1) * 3;
        let simple = meshopt::simplify_decoder(
            &indices,
            &points,
            target,
            error,
            meshopt::SimplifyOptions::LockBorder | meshopt::SimplifyOptions::Sparse,
            None,
        );
        let first = out.len() as u32;
        out.extend(simple.chunks_exact(3).map(|t| [t[0], t[1], t[2]]));
        ranges.push(first..out.len() as u32);
    }
    Lod {
        triangles: out,
        parts: ranges,
    }
}

struct Obj {
    positions: Vec<Vec3>,
    polygons: Vec<Vec<u32>>,
}

fn read_obj(path: &Path) -> Result<Obj, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut positions = Vec::new();
    let mut polygons = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("{}:{}: cannot read {line:?}", path.display(), n + 1);
        let mut f = line.split_whitespace();
        match f.next() {
            Some("v") => {
                let c: Vec<f32> = f
                    .take(3)
                    .map(|x| x.parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?;
                let [x, y, z] = c[..] else { return Err(bad()) };
                // Centimetres to metres.
                positions.push(Vec3::new(x, y, z) * 0.01);
            }
            Some("f") => {
                let p: Vec<u32> = f
                    .map(|c| {
                        let v: u32 = c
                            .split('/')
                            .next()
                            .unwrap_or("")
                            .parse()
                            .map_err(|_| bad())?;
                        v.checked_sub(1).ok_or_else(bad)
                    })
                    .collect::<Result<_, _>>()?;
                if p.len() < 3 {
                    return Err(bad());
                }
                polygons.push(p);
            }
            _ => {}
        }
    }
    Ok(Obj {
        positions,
        polygons,
    })
}

fn shape(
    kind: ShapeKind,
    name: &str,
    neutral: &[Vec3],
    obj: &Obj,
    keep: f32,
) -> Result<(Shape, f32), String> {
    if obj.positions.len() != neutral.len() {
        return Err(format!(
            "{name}: {} vertices, the neutral mesh has {}",
            obj.positions.len(),
            neutral.len()
        ));
    }
    let (mut indices, mut deltas, mut worst) = (Vec::new(), Vec::new(), 0f32);
    for (i, (p, n)) in obj.positions.iter().zip(neutral).enumerate() {
        let d = *p - *n;
        if d.abs().max_element() <= keep {
            worst = worst.max(d.length());
            continue;
        }
        let h = d.to_array().map(f16::from_f32);
        let back = Vec3::new(h[0].to_f32(), h[1].to_f32(), h[2].to_f32());
        worst = worst.max((back - d).length());
        indices.push(i as u32);
        deltas.push(h);
    }
    let shape = Shape {
        kind,
        name: name.to_string(),
        indices,
        deltas,
    };
    Ok((shape, worst))
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let neutral = read_obj(&args.dir.join("generic_neutral_mesh.obj"))?;
    let (nv, np) = (
        neutral.positions.len() as u32,
        neutral.polygons.len() as u32,
    );
    if (nv, np) != (PARTS[16].1[1] + 1, PARTS[16].2[1] + 1) {
        return Err(format!(
            "the neutral mesh has {nv} vertices and {np} polygons; ICT-FaceKit Light has 26719 and 26384"
        ));
    }
    // Triangles, and where each polygon's start in them.
    let mut triangles = Vec::new();
    let mut first_triangle = Vec::with_capacity(np as usize + 1);
    for p in &neutral.polygons {
        first_triangle.push(triangles.len() as u32);
        for k in 1..p.len() - 1 {
            triangles.push([p[0], p[k], p[k + 1]]);
        }
    }
    first_triangle.push(triangles.len() as u32);
    let parts: Vec<Part> = PARTS
        .iter()
        .map(|(name, [v0, v1], [p0, p1])| Part {
            name: name.to_string(),
            vertices: *v0..v1 + 1,
            triangles: first_triangle[*p0 as usize]..first_triangle[*p1 as usize + 1],
        })
        .collect();

    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(args.dir.join("vertex_indices.json"))
            .map_err(|e| format!("vertex_indices.json: {e}"))?,
    )
    .map_err(|e| format!("vertex_indices.json: {e}"))?;
    let mut expressions: Vec<String> = index["expressions"]
        .as_array()
        .ok_or("vertex_indices.json has no expressions list")?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let mut extra = Vec::new();
    let mut identities = Vec::new();
    for e in std::fs::read_dir(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))? {
        let name = e
            .map_err(|e| e.to_string())?
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".obj") else {
            continue;
        };
        if stem == "generic_neutral_mesh" || expressions.iter().any(|x| x == stem) {
            continue;
        }
        if stem.starts_with("identity") {
            identities.push(stem.to_string());
        } else {
            extra.push(stem.to_string());
        }
    }
    extra.sort();
    identities.sort();
    identities.truncate(args.identities);
    expressions.extend(extra);

    let mut shapes = Vec::new();
    let mut worst = 0f32;
    for (kind, names) in [
        (ShapeKind::Expression, &expressions),
        (ShapeKind::Identity, &identities),
    ] {
        for name in names {
            let obj = read_obj(&args.dir.join(format!("{name}.obj")))?;
            let (s, w) = shape(kind, name, &neutral.positions, &obj, args.keep_um * 1e-6)?;
            worst = worst.max(w);
            shapes.push(s);
        }
    }
    let lods = LODS
        .iter()
        .map(|&(keep, error)| lod(&neutral.positions, &triangles, &parts, keep, error))
        .collect();
    let model = FaceModel {
        neutral: neutral.positions,
        triangles,
        parts,
        lods,
        shapes,
    };
    let bytes = model.write();
    FaceModel::read(&bytes).map_err(|e| format!("the written model does not read back: {e}"))?;
    std::fs::write(&args.out, &bytes).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let moved: usize = model.shapes.iter().map(|s| s.indices.len()).sum();
    let lod_sizes: Vec<usize> = model.lods.iter().map(|l| l.triangles.len()).collect();
    println!(
        "{}: {} vertices, {} triangles (levels of detail: {lod_sizes:?}), {} parts, {} expressions, {} identities, {} moved vertices, {:.2} MB; largest error {:.1} µm",
        args.out.display(),
        model.neutral.len(),
        model.triangles.len(),
        model.parts.len(),
        expressions.len(),
        identities.len(),
        moved,
        bytes.len() as f64 / 1e6,
        worst * 1e6
    );
    Ok(())
}
