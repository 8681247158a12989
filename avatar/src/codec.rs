//! The expression codec: an encoder from a face tracker's 52 ARKit weights
//! to a latent code of a few dozen numbers in [-1, 1] (sent as 8-bit values
//! in the [`packet`](crate::packet)), and a decoder from the code back to
//! the face: weights of the face model's expression shapes, whose linear
//! basis turns them into vertex offsets ([`AvatarDecoder`]).
//!
//! Both are small multilayer perceptrons (SiLU hidden layers, `tanh` on the
//! code) trained by [`crate::train`] with candle on expressions from
//! [`crate::expressions`], with the loss measured on the mesh: the squared
//! vertex error in mm² over every vertex an expression moves. The decoder's
//! last layer is the face model's expression basis, fixed, so its outputs
//! are vertex offsets for any identity (ICT-FaceKit's expression deltas do
//! not depend on the identity) and the committed weights stay small.
//!
//! Gaze travels beside the code (the eyeballs turn rigidly), as do the head
//! and hand poses: they are quantised directly in the packet, since a
//! network would only add error to them.
//!
//! The forward pass here is plain Rust: the layers are tiny (tens of
//! thousands of weights), where candle's per-operation overhead would
//! dominate; it allocates nothing per frame. The tests check it against
//! candle's forward pass on the same weights.
//!
//! # File (`avatar/data/codec.safetensors`)
//!
//! A safetensors file: `enc.{0,1,2}.{weight,bias}` and `dec.{0,1,2}.{weight,bias}`
//! as f32 (weights `[out, in]`), and metadata: `format` =
//! `parallax-avatar-codec`, `version` = `1`, `shapes` (the decoder's output
//! shapes by name, comma-separated), `crc32` (of the tensor bytes in name
//! order), and how it was trained (`seed`, `steps`, ...).

use crate::face_model::{FaceModel, ShapeKind};
use glam::Vec3;
use parallax_sdk_types::FACE_EXPRESSION_COUNT;
use std::collections::HashMap;

pub const FORMAT: &str = "parallax-avatar-codec";
pub const VERSION: u32 = 1;
/// The largest code a packet carries.
pub const MAX_CODE: usize = crate::packet::MAX_CODE;
const MAX_WIDTH: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("not a codec file: {0}")]
    Format(String),
    #[error("codec file version {0} is not supported (this build reads version {VERSION})")]
    Version(String),
    #[error("the codec file's checksum does not match: it is damaged")]
    Checksum,
    #[error("invalid codec: {0}")]
    Invalid(String),
    #[error("the codec decodes to shape {0}, which the face model does not have")]
    MissingShape(String),
}

/// One dense layer: `y = W x + b`, `W` row-major `[out][in]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Dense {
    fn forward(&self, x: &[f32], y: &mut [f32]) {
        for (o, out) in y.iter_mut().enumerate().take(self.outputs) {
            let row = &self.weight[o * self.inputs..(o + 1) * self.inputs];
            // Four partial sums: the compiler vectorises this.
            let mut acc = [0.0f32; 4];
            let mut chunks = row.chunks_exact(4).zip(x.chunks_exact(4));
            for (w, v) in &mut chunks {
                for k in 0..4 {
                    acc[k] += w[k] * v[k];
                }
            }
            let tail = self.inputs - self.inputs % 4;
            let mut s = self.bias[o] + (acc[0] + acc[1]) + (acc[2] + acc[3]);
            for k in tail..self.inputs {
                s += row[k] * x[k];
            }
            *out = s;
        }
    }
}

fn silu(v: &mut [f32]) {
    for x in v {
        *x /= 1.0 + (-*x).exp();
    }
}

/// Three dense layers, SiLU between them.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub layers: [Dense; 3],
}

impl Mlp {
    fn width(&self) -> usize {
        self.layers.iter().map(|l| l.outputs).max().unwrap_or(0)
    }

    /// Runs the network; `a` and `b` are scratch of at least [`Self::width`].
    fn forward(&self, x: &[f32], a: &mut [f32], b: &mut [f32], y: &mut [f32]) {
        let [l0, l1, l2] = &self.layers;
        l0.forward(x, &mut a[..l0.outputs]);
        silu(&mut a[..l0.outputs]);
        l1.forward(&a[..l0.outputs], &mut b[..l1.outputs]);
        silu(&mut b[..l1.outputs]);
        l2.forward(&b[..l1.outputs], &mut y[..l2.outputs]);
    }
}

/// The trained codec: its two networks and what they decode to.
#[derive(Clone, Debug, PartialEq)]
pub struct Codec {
    pub encoder: Mlp,
    pub decoder: Mlp,
    /// The expression shapes the decoder's outputs weight, by name.
    pub shapes: Vec<String>,
    /// How it was made (seed, steps, ...), as stored in the file, by key.
    pub provenance: Vec<(String, String)>,
}

/// Reusable buffers for [`Codec::encode`] and [`Codec::decode`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Scratch {
    fn fit(&mut self, n: usize) -> (&mut [f32], &mut [f32]) {
        if self.a.len() < n {
            self.a.resize(n, 0.0);
            self.b.resize(n, 0.0);
        }
        (&mut self.a[..], &mut self.b[..])
    }
}

impl Codec {
    /// The codec trained by `parallax avatar train` that the repository ships.
    pub fn shipped() -> Codec {
        static BYTES: &[u8] = include_bytes!("../data/codec.safetensors");
        Codec::read(BYTES).expect("the committed codec is valid (checked by its tests)")
    }

    pub fn code_len(&self) -> usize {
        self.encoder.layers[2].outputs
    }

    /// The code for one frame of ARKit weights, into `code`
    /// ([`Self::code_len`] values in [-1, 1]).
    pub fn encode(
        &self,
        arkit: &[f32; FACE_EXPRESSION_COUNT],
        scratch: &mut Scratch,
        code: &mut [f32],
    ) {
        let n = self.code_len();
        let (a, b) = scratch.fit(self.encoder.width());
        self.encoder.forward(arkit, a, b, &mut code[..n]);
        for c in &mut code[..n] {
            *c = c.tanh();
        }
    }

    /// The expression shape weights ([`Self::shapes`] order) for a code;
    /// values outside [-1, 1] are clamped and NaN is 0, as in the packet.
    pub fn decode(&self, code: &[f32], scratch: &mut Scratch, weights: &mut [f32]) {
        let n = self.code_len();
        let mut c = [0.0f32; MAX_CODE];
        for (d, s) in c.iter_mut().zip(code.iter().take(n)) {
            *d = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
        }
        let (a, b) = scratch.fit(self.decoder.width());
        self.decoder
            .forward(&c[..n], a, b, &mut weights[..self.shapes.len()]);
    }

    /// The codec as a safetensors file, with `provenance` in its metadata.
    pub fn write(&self) -> Vec<u8> {
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (net, mlp) in [("enc", &self.encoder), ("dec", &self.decoder)] {
            for (i, l) in mlp.layers.iter().enumerate() {
                tensors.push((
                    format!("{net}.{i}.weight"),
                    vec![l.outputs, l.inputs],
                    l.weight.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ));
                tensors.push((
                    format!("{net}.{i}.bias"),
                    vec![l.outputs],
                    l.bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ));
            }
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut crc = crc32fast::Hasher::new();
        for (_, _, bytes) in &tensors {
            crc.update(bytes);
        }
        let mut meta: HashMap<String, String> = self.provenance.iter().cloned().collect();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("version".into(), VERSION.to_string());
        meta.insert("shapes".into(), self.shapes.join(","));
        meta.insert("crc32".into(), format!("{:08x}", crc.finalize()));
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    bytes,
                )
                .expect("shape and bytes agree");
                (name.clone(), view)
            })
            .collect();
        let bytes =
            safetensors::serialize(views, Some(meta)).expect("a small, valid set of tensors");
        canonical_header(bytes)
    }

    /// Reads a codec file, checking its format, version, checksum, every
    /// tensor's shape against its neighbours and every value's finiteness.
    pub fn read(bytes: &[u8]) -> Result<Codec, CodecError> {
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| CodecError::Format(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| CodecError::Format(e.to_string()))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(CodecError::Format(format!("its format is not {FORMAT}")));
        }
        let version = meta.get("version").cloned().unwrap_or_default();
        if version != VERSION.to_string() {
            return Err(CodecError::Version(version));
        }
        let mut names: Vec<&str> = st.names();
        names.sort();
        let mut crc = crc32fast::Hasher::new();
        for n in &names {
            crc.update(
                st.tensor(n)
                    .map_err(|e| CodecError::Format(e.to_string()))?
                    .data(),
            );
        }
        if meta.get("crc32") != Some(&format!("{:08x}", crc.finalize())) {
            return Err(CodecError::Checksum);
        }
        let tensor = |name: &str| -> Result<(Vec<usize>, Vec<f32>), CodecError> {
            let t = st
                .tensor(name)
                .map_err(|_| CodecError::Invalid(format!("no tensor {name}")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(CodecError::Invalid(format!("{name} is not f32")));
            }
            let v: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(CodecError::Invalid(format!(
                    "{name} holds a non-finite value"
                )));
            }
            Ok((t.shape().to_vec(), v))
        };
        let mlp = |net: &str, inputs: usize| -> Result<Mlp, CodecError> {
            let mut layers = Vec::new();
            let mut width = inputs;
            for i in 0..3 {
                let (ws, weight) = tensor(&format!("{net}.{i}.weight"))?;
                let (bs, bias) = tensor(&format!("{net}.{i}.bias"))?;
                if ws.len() != 2
                    || ws[1] != width
                    || bs != [ws[0]]
                    || ws[0] == 0
                    || ws[0] > MAX_WIDTH
                {
                    return Err(CodecError::Invalid(format!(
                        "{net}.{i} has shape {ws:?} / {bs:?}; its input is {width} wide"
                    )));
                }
                width = ws[0];
                layers.push(Dense {
                    inputs: ws[1],
                    outputs: ws[0],
                    weight,
                    bias,
                });
            }
            let layers: [Dense; 3] = layers.try_into().expect("three layers");
            Ok(Mlp { layers })
        };
        let encoder = mlp("enc", FACE_EXPRESSION_COUNT)?;
        let code = encoder.layers[2].outputs;
        if code > MAX_CODE {
            return Err(CodecError::Invalid(format!(
                "a code of {code} values (a packet carries at most {MAX_CODE})"
            )));
        }
        let decoder = mlp("dec", code)?;
        let shapes: Vec<String> = meta
            .get("shapes")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        if shapes.len() != decoder.layers[2].outputs {
            return Err(CodecError::Invalid(format!(
                "the decoder has {} outputs for {} shapes",
                decoder.layers[2].outputs,
                shapes.len()
            )));
        }
        let mut provenance: Vec<(String, String)> = meta
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "format" | "version" | "shapes" | "crc32"))
            .collect();
        provenance.sort();
        Ok(Codec {
            encoder,
            decoder,
            shapes,
            provenance,
        })
    }
}

/// The file with its JSON header's keys in sorted order: safetensors
/// writes the metadata map in hash order, which differs between runs, and
/// one seed must give one file, byte for byte. The data offsets are
/// relative to the end of the header, so only the header changes.
fn canonical_header(bytes: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + n]).expect("safetensors wrote JSON");
    let mut json = serde_json::to_vec(&sorted(header)).expect("a JSON value");
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

/// `v` with every object's keys in order (whatever map serde_json uses).
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut kv: Vec<(String, serde_json::Value)> = m.into_iter().collect();
            kv.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        other => other,
    }
}

/// The expression shapes of `model` a codec decodes to: every expression
/// shape, in file order.
pub fn expression_shapes(model: &FaceModel) -> Vec<String> {
    model
        .shapes_of(ShapeKind::Expression)
        .map(|(_, s)| s.name.clone())
        .collect()
}

/// One expression shape as f32 offsets, for fast decoding.
#[derive(Clone, Debug)]
struct Basis {
    indices: Vec<u32>,
    deltas: Vec<Vec3>,
}

/// Decodes codes into meshes of one face model: the codec's shape weights
/// applied through the model's expression basis (kept in f32, so no
/// conversion per frame), on a participant's identity.
#[derive(Clone, Debug)]
pub struct AvatarDecoder {
    codec: Codec,
    basis: Vec<Basis>,
    identity_basis: Vec<Basis>,
    scratch: Scratch,
    weights: Vec<f32>,
}

fn basis_of(model: &FaceModel, index: usize) -> Basis {
    let s = &model.shapes[index];
    Basis {
        indices: s.indices.clone(),
        deltas: s
            .deltas
            .iter()
            .map(|d| Vec3::new(d[0].to_f32(), d[1].to_f32(), d[2].to_f32()))
            .collect(),
    }
}

impl AvatarDecoder {
    pub fn new(codec: Codec, model: &FaceModel) -> Result<AvatarDecoder, CodecError> {
        let basis = codec
            .shapes
            .iter()
            .map(|name| match model.shape(name) {
                Some(i) if model.shapes[i].kind == ShapeKind::Expression => Ok(basis_of(model, i)),
                _ => Err(CodecError::MissingShape(name.clone())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let identity_basis = model
            .shapes_of(ShapeKind::Identity)
            .map(|(i, _)| basis_of(model, i))
            .collect();
        let n = codec.shapes.len();
        Ok(AvatarDecoder {
            codec,
            basis,
            identity_basis,
            scratch: Scratch::default(),
            weights: vec![0.0; n],
        })
    }

    pub fn codec(&self) -> &Codec {
        &self.codec
    }

    /// The identity's neutral face: `neutral` plus the weighted identity
    /// shapes (a participant sends these once, not per frame).
    pub fn identity_neutral(&self, model: &FaceModel, identity: &[f32]) -> Vec<Vec3> {
        let mut out = model.neutral.clone();
        for (b, &w) in self.identity_basis.iter().zip(identity) {
            apply(&mut out, b, w);
        }
        out
    }

    /// The decoded shape weights of the last [`Self::decode_into`].
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The mesh for `code` on a participant's neutral face (from
    /// [`Self::identity_neutral`]), into `out`.
    pub fn decode_into(&mut self, code: &[f32], neutral: &[Vec3], out: &mut Vec<Vec3>) {
        self.codec
            .decode(code, &mut self.scratch, &mut self.weights);
        out.clear();
        out.extend_from_slice(neutral);
        for (b, &w) in self.basis.iter().zip(&self.weights) {
            apply(out, b, w);
        }
    }
}

fn apply(out: &mut [Vec3], b: &Basis, w: f32) {
    if w == 0.0 {
        return;
    }
    for (&i, d) in b.indices.iter().zip(&b.deltas) {
        if let Some(v) = out.get_mut(i as usize) {
            *v += w * *d;
        }
    }
}
