//! What a renderer needs of a decoded face beyond its positions: normals,
//! colours per part, the eyeballs turned to where the participant looks,
//! and the triangles worth drawing at each level of detail.
//!
//! ICT-FaceKit's eye occlusion shells, tear films and eye blends are
//! semi-transparent overlays meant for a textured, blended render; drawn
//! opaque they would cover the eyes, so they are left out. The eyeballs
//! carry no iris geometry (ICT paints it in a texture): the vertices within
//! 0.6 rad of each eyeball's forward axis are coloured as the iris, and the
//! eyeball turns rigidly about its centre, so the gaze shows.

use crate::face_model::FaceModel;
use glam::{Quat, Vec3};

/// One vertex for the renderer: position and normal in the model's frame
/// (metres; +Y up, +Z out of the face), linear RGB colour in 0..=255.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct ShadedVertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    pub color: [u8; 4],
}

/// The parts drawn, and their colours (linear RGB).
const PARTS: &[(&str, [u8; 4])] = &[
    ("face", [171, 102, 77, 255]),
    ("head_and_neck", [165, 98, 74, 255]),
    ("eye_socket_left", [120, 66, 52, 255]),
    ("eye_socket_right", [120, 66, 52, 255]),
    ("mouth_socket", [60, 14, 14, 255]),
    ("gums_and_tongue", [130, 28, 30, 255]),
    ("teeth", [205, 196, 165, 255]),
    ("eyeball_left", [215, 212, 205, 255]),
    ("eyeball_right", [215, 212, 205, 255]),
    ("eyelashes_left", [12, 9, 7, 255]),
    ("eyelashes_right", [12, 9, 7, 255]),
];
const IRIS: [u8; 4] = [40, 22, 10, 255];
/// The half-angle of the iris as seen from the eyeball's centre.
const IRIS_ANGLE: f32 = 0.6;

struct Eye {
    vertices: std::ops::Range<usize>,
    centre: Vec3,
}

/// Shading for one face model (made once; per frame it allocates nothing).
pub struct FaceShading {
    colors: Vec<[u8; 4]>,
    /// The drawn triangles of each level of detail (0 = full).
    pub lods: Vec<Vec<[u32; 3]>>,
    eyes: Vec<Eye>,
    normals: Vec<Vec3>,
}

impl FaceShading {
    pub fn new(model: &FaceModel) -> FaceShading {
        let n = model.neutral.len();
        let mut colors = vec![[0, 0, 0, 255]; n];
        let mut drawn = vec![false; model.parts.len()];
        for (pi, part) in model.parts.iter().enumerate() {
            if let Some((_, c)) = PARTS.iter().find(|(name, _)| *name == part.name) {
                drawn[pi] = true;
                for v in part.vertices.clone() {
                    colors[v as usize] = *c;
                }
            }
        }
        let mut eyes = Vec::new();
        for name in ["eyeball_left", "eyeball_right"] {
            if let Some(p) = model.part(name) {
                let r = p.vertices.start as usize..p.vertices.end as usize;
                let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
                for v in &model.neutral[r.clone()] {
                    lo = lo.min(*v);
                    hi = hi.max(*v);
                }
                let centre = (lo + hi) / 2.0;
                for v in r.clone() {
                    let d = (model.neutral[v] - centre).normalize_or_zero();
                    if d.angle_between(Vec3::Z) < IRIS_ANGLE {
                        colors[v] = IRIS;
                    }
                }
                eyes.push(Eye {
                    vertices: r,
                    centre,
                });
            }
        }
        let mut lods = vec![model
            .parts
            .iter()
            .zip(&drawn)
            .filter(|(_, d)| **d)
            .flat_map(|(p, _)| {
                model.triangles[p.triangles.start as usize..p.triangles.end as usize]
                    .iter()
                    .copied()
            })
            .collect::<Vec<_>>()];
        for lod in &model.lods {
            lods.push(
                lod.parts
                    .iter()
                    .zip(&drawn)
                    .filter(|(_, d)| **d)
                    .flat_map(|(r, _)| {
                        lod.triangles[r.start as usize..r.end as usize]
                            .iter()
                            .copied()
                    })
                    .collect(),
            );
        }
        FaceShading {
            colors,
            lods,
            eyes,
            normals: vec![Vec3::ZERO; n],
        }
    }

    /// The renderer's vertices for a decoded mesh, with each eyeball turned
    /// to look along `gaze` (per eye, left then right, as directions in the
    /// model's frame; straight ahead is +Z), into `out`.
    pub fn shade(&mut self, mesh: &[Vec3], gaze: Option<[Vec3; 2]>, out: &mut Vec<ShadedVertex>) {
        out.clear();
        if mesh.len() != self.colors.len() {
            return;
        }
        out.extend(mesh.iter().zip(&self.colors).map(|(p, c)| ShadedVertex {
            position: p.to_array(),
            normal: [0.0; 3],
            color: *c,
        }));
        if let Some(gaze) = gaze {
            for (eye, dir) in self.eyes.iter().zip(gaze) {
                let dir = dir.normalize_or(Vec3::Z);
                // Within what eyes can do (about 45° from straight ahead).
                let angle = dir.angle_between(Vec3::Z);
                let dir = if angle > 0.8 {
                    Quat::IDENTITY.slerp(Quat::from_rotation_arc(Vec3::Z, dir), 0.8 / angle)
                        * Vec3::Z
                } else {
                    dir
                };
                let q = Quat::from_rotation_arc(Vec3::Z, dir);
                for v in &mut out[eye.vertices.clone()] {
                    let p = Vec3::from_array(v.position) - eye.centre;
                    v.position = (eye.centre + q * p).to_array();
                }
            }
        }
        // Area-weighted normals over the drawn full-detail triangles.
        self.normals.fill(Vec3::ZERO);
        for t in &self.lods[0] {
            let [a, b, c] = t.map(|i| Vec3::from_array(out[i as usize].position));
            let n = (b - a).cross(c - a);
            for &i in t {
                self.normals[i as usize] += n;
            }
        }
        for (v, n) in out.iter_mut().zip(&self.normals) {
            v.normal = n.normalize_or(Vec3::Z).to_array();
        }
    }
}

/// The model frame of a head pose given in OpenXR's convention (looking
/// down -Z): the face model looks down +Z, so it is the head turned half
/// a turn about +Y.
pub fn model_from_head() -> Quat {
    Quat::from_rotation_y(std::f32::consts::PI)
}
