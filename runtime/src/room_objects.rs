//! The meeting's shared objects (`parallax_meeting::objects`) as meshes
//! the compositor draws beside the avatars: the room's table top and the
//! cubes and the ball on it, lit like the avatars, where the client's
//! replica predicts them (the server simulates; corrections ease in).

use parallax_compositor::{AvatarInstance, AvatarModel, AvatarVertex};
use parallax_meeting::objects::{ObjectState, Replica, Shape, TABLE_HALF, TABLE_TOP};
use parallax_sdk::types::Pose;
use std::collections::HashMap;
use std::sync::Arc;

/// A mesh: its model and its vertices in the object's frame.
#[derive(Clone)]
struct Mesh {
    model: Arc<AvatarModel>,
    vertices: Arc<Vec<AvatarVertex>>,
}

fn mesh(vertices: Vec<AvatarVertex>, triangles: Vec<[u32; 3]>) -> Mesh {
    Mesh {
        model: Arc::new(AvatarModel {
            vertex_count: vertices.len() as u32,
            lods: vec![triangles],
            lod_distances: vec![],
        }),
        vertices: Arc::new(vertices),
    }
}

/// A box of half extents `h`, four vertices per face (flat normals).
fn cuboid(h: glam::Vec3, color: [u8; 4]) -> Mesh {
    let mut v = Vec::new();
    let mut t = Vec::new();
    for axis in 0..3 {
        for sign in [-1.0f32, 1.0] {
            let mut n = glam::Vec3::ZERO;
            n[axis] = sign;
            // Two axes across the face, ordered so the triangles face out.
            let (a, b) = ((axis + 1) % 3, (axis + 2) % 3);
            let (mut u, mut w) = (glam::Vec3::ZERO, glam::Vec3::ZERO);
            u[a] = 1.0;
            w[b] = 1.0;
            if sign < 0.0 {
                std::mem::swap(&mut u, &mut w);
            }
            let base = v.len() as u32;
            for (su, sw) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                let p = (n + u * su + w * sw) * h;
                v.push(AvatarVertex {
                    position: p.to_array(),
                    normal: n.to_array(),
                    color,
                });
            }
            t.push([base, base + 1, base + 2]);
            t.push([base, base + 2, base + 3]);
        }
    }
    mesh(v, t)
}

/// A ball of radius `r` (latitude-longitude, 16 x 10).
fn ball(r: f32, color: [u8; 4]) -> Mesh {
    let (slices, stacks) = (16u32, 10u32);
    let mut v = Vec::new();
    for i in 0..=stacks {
        let theta = std::f32::consts::PI * i as f32 / stacks as f32;
        for j in 0..=slices {
            let phi = std::f32::consts::TAU * j as f32 / slices as f32;
            let n = glam::Vec3::new(
                theta.sin() * phi.cos(),
                theta.cos(),
                theta.sin() * phi.sin(),
            );
            v.push(AvatarVertex {
                position: (n * r).to_array(),
                normal: n.to_array(),
                color,
            });
        }
    }
    let mut t = Vec::new();
    let row = slices + 1;
    for i in 0..stacks {
        for j in 0..slices {
            let (a, b) = (i * row + j, (i + 1) * row + j);
            t.push([a, a + 1, b]);
            t.push([a + 1, b + 1, b]);
        }
    }
    mesh(v, t)
}

/// Colours of the objects by id (none skin-like, so they are not taken
/// for faces), then a neutral one.
fn color(id: u32) -> [u8; 4] {
    match id {
        1 => [200, 45, 45, 255],
        2 => [45, 160, 70, 255],
        3 => [60, 90, 210, 255],
        4 => [40, 170, 200, 255],
        _ => [150, 150, 160, 255],
    }
}

/// The shared objects as this headset shows them.
#[derive(Default)]
pub struct RoomObjects {
    replica: Replica,
    meshes: HashMap<u32, Mesh>,
    table: Option<Mesh>,
}

impl RoomObjects {
    /// A state message from the server, `now` seconds into the stay.
    pub fn apply(&mut self, tick: u64, states: &[ObjectState], now: f64) {
        for s in states {
            self.meshes.entry(s.id).or_insert_with(|| match s.shape {
                Shape::Cube { half } => cuboid(glam::Vec3::splat(half), color(s.id)),
                Shape::Ball { radius } => ball(radius, color(s.id)),
            });
        }
        self.replica.apply(tick, states, now);
    }

    /// Whether the server has sent the objects.
    pub fn is_empty(&self) -> bool {
        self.meshes.is_empty()
    }

    /// The table and the objects at `now`, placed by `stage_from_room`.
    pub fn instances(&mut self, now: f64, stage_from_room: &Pose) -> Vec<AvatarInstance> {
        if self.meshes.is_empty() {
            return Vec::new();
        }
        let table = self
            .table
            .get_or_insert_with(|| {
                cuboid(
                    glam::Vec3::new(TABLE_HALF, 0.02, TABLE_HALF),
                    [70, 75, 90, 255],
                )
            })
            .clone();
        let mut out = vec![AvatarInstance {
            model: table.model,
            pose: stage_from_room.mul(&Pose::from_position(glam::Vec3::new(
                0.0,
                TABLE_TOP - 0.02,
                0.0,
            ))),
            vertices: table.vertices,
        }];
        for s in self.replica.states() {
            let (Some(m), Some(p)) = (self.meshes.get(&s.id), self.replica.position(s.id, now))
            else {
                continue;
            };
            let q = glam::Quat::from_array(s.orientation).normalize();
            out.push(AvatarInstance {
                model: m.model.clone(),
                pose: stage_from_room.mul(&Pose::new(q, p)),
                vertices: m.vertices.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meshes_are_closed_and_face_out() {
        for m in [
            cuboid(glam::Vec3::new(0.1, 0.2, 0.3), [1; 4]),
            ball(0.1, [1; 4]),
        ] {
            let v = &m.vertices;
            for t in &m.model.lods[0] {
                let [a, b, c] = t.map(|i| glam::Vec3::from_array(v[i as usize].position));
                let n = (b - a).cross(c - a);
                if n.length() < 1e-9 {
                    continue; // a pole's degenerate triangle
                }
                // Counter-clockwise seen from outside: the normal points
                // away from the centre.
                assert!(n.dot((a + b + c) / 3.0) > 0.0, "{t:?}");
            }
        }
    }
}
