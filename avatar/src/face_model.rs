//! The open face model the avatars are built on: ICT-FaceKit Light (USC
//! ICT, MIT licence), converted from its OBJ files into one compact file
//! (`avatar/data/ict-facekit.pxface`, licence beside it) by
//! `cargo run -p parallax-avatar --bin convert-ict-facekit`.
//!
//! The model is linear: a vertex is the neutral position plus the weighted
//! sum of expression deltas (the ARKit-named blendshapes: `jawOpen`,
//! `eyeBlink_L`, ...) and identity deltas (principal components of scanned
//! faces). Positions are in metres, in the model's frame (+Y up, +Z out of
//! the face). Deltas are stored sparse (only vertices a shape moves) in
//! IEEE half precision: about 5 µm of error on a 1 cm move, far below what
//! the codec reconstructs (its goal is 1 mm).
//!
//! # File format (`PXFACE`, version 1, little-endian)
//!
//! | field | type |
//! |---|---|
//! | magic | 8 bytes `PXFACE\0\0` |
//! | version | u32 (1) |
//! | vertex, triangle, part, shape counts | 4 × u32 |
//! | parts | each: name (u16 length + UTF-8), first vertex, vertex count, first triangle, triangle count (4 × u32) |
//! | neutral positions | vertex count × 3 × f32 (metres) |
//! | triangles | triangle count × 3 × u32 (counter-clockwise seen from outside) |
//! | levels of detail | count u32; each: triangle count t, per part its triangle range (first, count: 2 × u32), t × 3 × u32 |
//! | shapes | each: kind u8 (0 expression, 1 identity), name, run count r (u32), r runs of moved vertices (first u32, length u32; ascending, disjoint, not touching), then one delta per moved vertex: 3 × f16 (metres) |
//! | checksum | u32 CRC-32 of everything before it |
//!
//! Reading checks every count against the bytes present, every index
//! against the vertex count, the ordering, finiteness and the checksum: a
//! damaged or future file is an error, never a panic or a garbage mesh.

use glam::Vec3;
use half::f16;

const MAGIC: &[u8; 8] = b"PXFACE\0\0";
pub const VERSION: u32 = 1;
/// Bounds that keep a hostile file from asking for huge allocations.
const MAX_VERTICES: u32 = 1 << 22;
const MAX_TRIANGLES: u32 = 1 << 23;
const MAX_PARTS: u32 = 1024;
const MAX_SHAPES: u32 = 4096;
const MAX_NAME: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("not a Parallax face model (bad magic)")]
    Magic,
    #[error("face model version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("the face model is truncated at byte {0}")]
    Truncated(usize),
    #[error("the face model's checksum does not match: the file is damaged")]
    Checksum,
    #[error("invalid face model: {0}")]
    Invalid(String),
}

/// A named range of the mesh (the ICT sub-meshes: face, teeth, eyeballs...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub vertices: std::ops::Range<u32>,
    pub triangles: std::ops::Range<u32>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ShapeKind {
    Expression,
    Identity,
}

/// One linear shape: the vertices it moves and by how much (metres).
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub kind: ShapeKind,
    pub name: String,
    pub indices: Vec<u32>,
    pub deltas: Vec<[f16; 3]>,
}

/// A coarser triangle list over the same vertices (so every shape applies
/// unchanged), for avatars seen from afar; `parts[i]` is the triangle range
/// of the model's part `i` in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lod {
    pub triangles: Vec<[u32; 3]>,
    pub parts: Vec<std::ops::Range<u32>>,
}

/// ARKit weight index to shape index pairs of one model
/// ([`FaceModel::arkit_map`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArkitMap {
    pairs: Vec<(usize, usize)>,
    shapes: usize,
}

impl ArkitMap {
    /// The model's shape weights for ARKit-order weights, into `out`
    /// (resized to the model's shape count; other shapes at 0).
    pub fn weights_into(
        &self,
        arkit: &[f32; parallax_sdk_types::FACE_EXPRESSION_COUNT],
        out: &mut Vec<f32>,
    ) {
        out.clear();
        out.resize(self.shapes, 0.0);
        for &(k, i) in &self.pairs {
            out[i] = arkit[k];
        }
    }

    /// The ARKit-order weights for the model's shape weights: each the
    /// weight of the shape it drives, or the mean of the two it drives
    /// (`browInnerUp`, `cheekPuff`); 0 for one that drives none
    /// (`tongueOut`).
    pub fn arkit_from(&self, weights: &[f32]) -> [f32; parallax_sdk_types::FACE_EXPRESSION_COUNT] {
        let mut sum = [0.0f32; parallax_sdk_types::FACE_EXPRESSION_COUNT];
        let mut n = [0u8; parallax_sdk_types::FACE_EXPRESSION_COUNT];
        for &(k, i) in &self.pairs {
            sum[k] += weights.get(i).copied().unwrap_or(0.0);
            n[k] += 1;
        }
        std::array::from_fn(|k| if n[k] > 0 { sum[k] / n[k] as f32 } else { 0.0 })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FaceModel {
    pub neutral: Vec<Vec3>,
    /// The full-detail triangles (level of detail 0).
    pub triangles: Vec<[u32; 3]>,
    pub parts: Vec<Part>,
    /// Levels of detail 1, 2, ...: fewer triangles each.
    pub lods: Vec<Lod>,
    pub shapes: Vec<Shape>,
}

impl FaceModel {
    /// The model converted from ICT-FaceKit that the repository ships.
    pub fn ict_facekit() -> FaceModel {
        static BYTES: &[u8] = include_bytes!("../data/ict-facekit.pxface");
        FaceModel::read(BYTES).expect("the committed face model is valid (checked by its tests)")
    }

    /// The shapes of one kind, in file order.
    pub fn shapes_of(&self, kind: ShapeKind) -> impl Iterator<Item = (usize, &Shape)> {
        self.shapes
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.kind == kind)
    }

    /// The index of a shape by name.
    pub fn shape(&self, name: &str) -> Option<usize> {
        self.shapes.iter().position(|s| s.name == name)
    }

    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Which shape each of the SDK's face expression weights (ARKit order,
    /// [`parallax_sdk_types::FACE_EXPRESSION_NAMES`]) drives: the expression
    /// of the same name (`jawLeft`), or with the side as ICT writes it
    /// (`eyeBlinkLeft` is `eyeBlink_L`); ARKit's `browInnerUp` and
    /// `cheekPuff` drive both sides of ICT's; `tongueOut` has no ICT shape.
    /// Made once per model (it matches names); applying it allocates nothing.
    pub fn arkit_map(&self) -> ArkitMap {
        let mut pairs = Vec::new();
        for (k, name) in parallax_sdk_types::FACE_EXPRESSION_NAMES.iter().enumerate() {
            let side = name
                .strip_suffix("Left")
                .map(|b| format!("{b}_L"))
                .or_else(|| name.strip_suffix("Right").map(|b| format!("{b}_R")));
            let targets = if self.shape(name).is_some() {
                vec![name.to_string()]
            } else {
                match side {
                    Some(b) => vec![b],
                    None => vec![format!("{name}_L"), format!("{name}_R")],
                }
            };
            pairs.extend(targets.iter().filter_map(|t| self.shape(t)).map(|i| (k, i)));
        }
        ArkitMap {
            pairs,
            shapes: self.shapes.len(),
        }
    }

    /// Shape weights (file order) for ARKit-order weights, through a map
    /// made on the spot (for one-off use; keep an [`ArkitMap`] per frame).
    pub fn weights_from_arkit(
        &self,
        arkit: &[f32; parallax_sdk_types::FACE_EXPRESSION_COUNT],
    ) -> Vec<f32> {
        let mut w = Vec::new();
        self.arkit_map().weights_into(arkit, &mut w);
        w
    }

    /// Vertex positions for `weights` (one per shape, in file order; a
    /// shorter slice leaves the rest at 0), written into `out`.
    pub fn evaluate_into(&self, weights: &[f32], out: &mut Vec<Vec3>) {
        out.clear();
        out.extend_from_slice(&self.neutral);
        for (shape, &w) in self.shapes.iter().zip(weights) {
            if w == 0.0 {
                continue;
            }
            for (&i, d) in shape.indices.iter().zip(&shape.deltas) {
                out[i as usize] += w * Vec3::new(d[0].to_f32(), d[1].to_f32(), d[2].to_f32());
            }
        }
    }

    pub fn evaluate(&self, weights: &[f32]) -> Vec<Vec3> {
        let mut out = Vec::with_capacity(self.neutral.len());
        self.evaluate_into(weights, &mut out);
        out
    }

    /// The model in the file format above.
    pub fn write(&self) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(MAGIC);
        for n in [
            VERSION,
            self.neutral.len() as u32,
            self.triangles.len() as u32,
            self.parts.len() as u32,
            self.shapes.len() as u32,
        ] {
            w.extend_from_slice(&n.to_le_bytes());
        }
        let name = |w: &mut Vec<u8>, s: &str| {
            w.extend_from_slice(&(s.len() as u16).to_le_bytes());
            w.extend_from_slice(s.as_bytes());
        };
        for p in &self.parts {
            name(&mut w, &p.name);
            for n in [
                p.vertices.start,
                p.vertices.len() as u32,
                p.triangles.start,
                p.triangles.len() as u32,
            ] {
                w.extend_from_slice(&n.to_le_bytes());
            }
        }
        for v in &self.neutral {
            for c in v.to_array() {
                w.extend_from_slice(&c.to_le_bytes());
            }
        }
        for t in &self.triangles {
            for i in t {
                w.extend_from_slice(&i.to_le_bytes());
            }
        }
        w.extend_from_slice(&(self.lods.len() as u32).to_le_bytes());
        for lod in &self.lods {
            w.extend_from_slice(&(lod.triangles.len() as u32).to_le_bytes());
            for r in &lod.parts {
                for n in [r.start, r.len() as u32] {
                    w.extend_from_slice(&n.to_le_bytes());
                }
            }
            for t in &lod.triangles {
                for i in t {
                    w.extend_from_slice(&i.to_le_bytes());
                }
            }
        }
        for s in &self.shapes {
            w.push(match s.kind {
                ShapeKind::Expression => 0,
                ShapeKind::Identity => 1,
            });
            name(&mut w, &s.name);
            // Moved vertices come in runs (a shape moves regions of the
            // mesh): (first, length) pairs instead of an index each.
            let mut runs: Vec<[u32; 2]> = Vec::new();
            for &i in &s.indices {
                match runs.last_mut() {
                    Some([first, len]) if *first + *len == i => *len += 1,
                    _ => runs.push([i, 1]),
                }
            }
            w.extend_from_slice(&(runs.len() as u32).to_le_bytes());
            for run in runs {
                for n in run {
                    w.extend_from_slice(&n.to_le_bytes());
                }
            }
            for d in &s.deltas {
                for c in d {
                    w.extend_from_slice(&c.to_le_bytes());
                }
            }
        }
        let crc = crc32fast::hash(&w);
        w.extend_from_slice(&crc.to_le_bytes());
        w
    }

    /// Reads and checks a model in the file format above.
    pub fn read(bytes: &[u8]) -> Result<FaceModel, FormatError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(FormatError::Magic);
        }
        let mut r = Reader { bytes, at: 8 };
        let version = r.u32()?;
        if version != VERSION {
            return Err(FormatError::Version(version));
        }
        if bytes.len() < 4 {
            return Err(FormatError::Truncated(bytes.len()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        let counts = [r.u32()?, r.u32()?, r.u32()?, r.u32()?];
        if crc32fast::hash(body) != crc {
            return Err(FormatError::Checksum);
        }
        let [nv, nt, np, ns] = counts;
        let invalid = |m: String| Err(FormatError::Invalid(m));
        if nv > MAX_VERTICES || nt > MAX_TRIANGLES || np > MAX_PARTS || ns > MAX_SHAPES {
            return invalid(format!(
                "counts out of range: {nv} vertices, {nt} triangles, {np} parts, {ns} shapes"
            ));
        }
        r.bytes = body;
        let mut parts = Vec::with_capacity(np as usize);
        for _ in 0..np {
            let name = r.name()?;
            let [v0, vn, t0, tn] = [r.u32()?, r.u32()?, r.u32()?, r.u32()?];
            let (Some(v1), Some(t1)) = (v0.checked_add(vn), t0.checked_add(tn)) else {
                return invalid(format!("part {name}: range overflows"));
            };
            if v1 > nv || t1 > nt {
                return invalid(format!("part {name}: outside the mesh"));
            }
            parts.push(Part {
                name,
                vertices: v0..v1,
                triangles: t0..t1,
            });
        }
        let mut neutral = Vec::with_capacity(nv as usize);
        r.need(nv as usize * 12)?;
        for _ in 0..nv {
            let v = Vec3::new(r.f32()?, r.f32()?, r.f32()?);
            if !v.is_finite() {
                return invalid("a neutral position is not finite".into());
            }
            neutral.push(v);
        }
        let triangles = r.triangles(nt, nv)?;
        let nl = r.u32()?;
        if nl > 16 {
            return invalid(format!("{nl} levels of detail"));
        }
        let mut lods = Vec::with_capacity(nl as usize);
        for _ in 0..nl {
            let t = r.u32()?;
            if t > nt {
                return invalid(format!("a level of detail with {t} of {nt} triangles"));
            }
            let mut ranges = Vec::with_capacity(np as usize);
            for p in &parts {
                let (first, len) = (r.u32()?, r.u32()?);
                match first.checked_add(len) {
                    Some(end) if end <= t => ranges.push(first..end),
                    _ => return invalid(format!("part {} outside a level of detail", p.name)),
                }
            }
            lods.push(Lod {
                triangles: r.triangles(t, nv)?,
                parts: ranges,
            });
        }
        let mut shapes = Vec::with_capacity(ns as usize);
        for _ in 0..ns {
            let kind = match r.u8()? {
                0 => ShapeKind::Expression,
                1 => ShapeKind::Identity,
                k => return invalid(format!("unknown shape kind {k}")),
            };
            let name = r.name()?;
            let runs = r.u32()?;
            if runs > nv {
                return invalid(format!("shape {name}: {runs} runs of {nv} vertices"));
            }
            r.need(runs as usize * 8)?;
            let mut indices: Vec<u32> = Vec::new();
            for _ in 0..runs {
                let (first, len) = (r.u32()?, r.u32()?);
                let end = first.checked_add(len).filter(|&e| len > 0 && e <= nv);
                // Runs are ascending and apart (touching runs would be one).
                let apart = indices.last().is_none_or(|&last| first > last + 1);
                let Some(end) = end.filter(|_| apart) else {
                    return invalid(format!(
                        "shape {name}: run {first}+{len} out of order or range"
                    ));
                };
                indices.extend(first..end);
            }
            let n = indices.len();
            r.need(n * 6)?;
            let mut deltas = Vec::with_capacity(n);
            for _ in 0..n {
                let d = [r.f16()?, r.f16()?, r.f16()?];
                if d.iter().any(|c| !c.is_finite()) {
                    return invalid(format!("shape {name}: a delta is not finite"));
                }
                deltas.push(d);
            }
            shapes.push(Shape {
                kind,
                name,
                indices,
                deltas,
            });
        }
        if r.at != body.len() {
            return invalid(format!("{} bytes after the last shape", body.len() - r.at));
        }
        Ok(FaceModel {
            neutral,
            triangles,
            parts,
            lods,
            shapes,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn need(&self, n: usize) -> Result<(), FormatError> {
        if self.bytes.len().saturating_sub(self.at) < n {
            return Err(FormatError::Truncated(self.bytes.len()));
        }
        Ok(())
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        self.need(N)?;
        let b = self.bytes[self.at..self.at + N]
            .try_into()
            .expect("length checked");
        self.at += N;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.take()?))
    }
    fn f16(&mut self) -> Result<f16, FormatError> {
        Ok(f16::from_le_bytes(self.take()?))
    }
    fn triangles(&mut self, n: u32, vertices: u32) -> Result<Vec<[u32; 3]>, FormatError> {
        self.need(n as usize * 12)?;
        (0..n)
            .map(|_| {
                let t = [self.u32()?, self.u32()?, self.u32()?];
                if t.iter().any(|&i| i >= vertices) {
                    return Err(FormatError::Invalid(format!(
                        "triangle {t:?} names a vertex past {vertices}"
                    )));
                }
                Ok(t)
            })
            .collect()
    }

    fn name(&mut self) -> Result<String, FormatError> {
        let n = u16::from_le_bytes(self.take()?) as usize;
        if n > MAX_NAME {
            return Err(FormatError::Invalid(format!("a name of {n} bytes")));
        }
        self.need(n)?;
        let s = std::str::from_utf8(&self.bytes[self.at..self.at + n])
            .map_err(|_| FormatError::Invalid("a name is not UTF-8".into()))?
            .to_string();
        self.at += n;
        Ok(s)
    }
}
