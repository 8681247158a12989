//! The meeting's shared objects (`parallax_meeting::objects`) as meshes
//! the compositor draws beside the avatars: the room's table top and the
//! cubes and the ball on it, lit like the avatars, where the client's
//! replica predicts them (the server simulates; corrections ease in). The
//! wearer's hands grab them ([`Grip`]): squeeze a controller's grip near
//! one to take it (the server gives it to the first who asks), move it,
//! let go to throw it with the hand's velocity.

use parallax_compositor::{AvatarInstance, AvatarModel, AvatarVertex};
use parallax_meeting::objects::{ObjectState, Replica, Shape, TABLE_HALF, TABLE_TOP};
use parallax_meeting::protocol::ClientMsg;
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
    /// When the shown positions last changed for a reason other than
    /// motion (a state arrived, a hand took or let go), client seconds.
    touched: Option<f64>,
}

impl RoomObjects {
    /// A state message from the server, `now` seconds into the stay.
    pub fn apply(&mut self, tick: u64, states: &[ObjectState], now: f64) {
        self.touched = Some(now);
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

    /// The free object nearest to `p` (room) within reach of it: its
    /// surface within [`REACH`].
    pub fn within_reach(&self, p: glam::Vec3, now: f64) -> Option<u32> {
        self.replica
            .states()
            .iter()
            .filter(|s| s.holder.is_none())
            .filter_map(|s| {
                let size = match s.shape {
                    Shape::Cube { half } => half * 3f32.sqrt(),
                    Shape::Ball { radius } => radius,
                };
                let d = self.replica.position(s.id, now)?.distance(p) - size;
                (d <= REACH).then_some((s.id, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id)
    }

    /// Who holds object `id` as the server last said (`None`: unknown
    /// object).
    pub fn holder(&self, id: u32) -> Option<Option<u32>> {
        self.replica
            .states()
            .into_iter()
            .find(|s| s.id == id)
            .map(|s| s.holder)
    }

    /// Shows object `id` in this wearer's hand (`None`: let go).
    pub fn hold_here(&mut self, id: u32, pose: Option<(glam::Vec3, glam::Quat)>, now: f64) {
        self.replica.hold_here(id, pose);
        self.touched = Some(now);
    }

    /// Whether what is shown at `now` differs from what was shown a moment
    /// ago: something moves or is held, a state arrived, or a correction
    /// is still easing in. The compositor re-uploads every mesh it is given,
    /// so still objects are not given again.
    pub fn moving(&self, now: f64) -> bool {
        let recent = self
            .touched
            .is_some_and(|t| now - t <= Replica::EASE + 0.05);
        recent
            || self
                .replica
                .states()
                .iter()
                .any(|s| !s.resting || s.holder.is_some())
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

/// How far from an object's surface a hand takes it, metres.
pub const REACH: f32 = 0.1;
/// A grip squeezed past this holds.
pub const SQUEEZE: f32 = 0.6;

/// One hand of the wearer and the object it holds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Grip {
    pub held: Option<u32>,
}

/// A hand this tick: its grip pose in the room, its velocity in the room
/// (linear, angular) and how far its grip is squeezed.
#[derive(Debug, Clone, Copy)]
pub struct HandNow {
    pub pose: Pose,
    pub linvel: glam::Vec3,
    pub angvel: glam::Vec3,
    pub squeeze: f32,
}

impl Grip {
    /// What the hand asks of the server this tick, if anything; the
    /// object shown in the hand at once (the server's echo follows).
    /// `me`: this participant's id (an object the server gave someone
    /// else is let go of).
    pub fn step(
        &mut self,
        hand: Option<HandNow>,
        objects: &mut RoomObjects,
        me: u32,
        now: f64,
    ) -> Option<ClientMsg> {
        match (self.held, hand) {
            // Someone else got it first.
            (Some(id), _)
                if objects
                    .holder(id)
                    .is_some_and(|h| h.is_some_and(|h| h != me)) =>
            {
                objects.hold_here(id, None, now);
                self.held = None;
                None
            }
            (Some(id), Some(h)) if h.squeeze >= SQUEEZE => {
                objects.hold_here(id, Some((h.pose.position, h.pose.orientation)), now);
                Some(ClientMsg::Hold {
                    object: id,
                    position: h.pose.position.to_array(),
                    orientation: h.pose.orientation.to_array(),
                })
            }
            (Some(id), h) => {
                // Let go (or the hand was lost): thrown with its velocity.
                objects.hold_here(id, None, now);
                self.held = None;
                let (linvel, angvel) = h.map_or((glam::Vec3::ZERO, glam::Vec3::ZERO), |h| {
                    (h.linvel, h.angvel)
                });
                Some(ClientMsg::Release {
                    object: id,
                    linvel: linvel.to_array(),
                    angvel: angvel.to_array(),
                })
            }
            (None, Some(h)) if h.squeeze >= SQUEEZE => {
                let id = objects.within_reach(h.pose.position, now)?;
                self.held = Some(id);
                objects.hold_here(id, Some((h.pose.position, h.pose.orientation)), now);
                Some(ClientMsg::Grab { object: id })
            }
            (None, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects() -> RoomObjects {
        let mut o = RoomObjects::default();
        let ball = ObjectState {
            id: 4,
            shape: Shape::Ball { radius: 0.05 },
            position: [0.0, 0.8, -0.3],
            orientation: [0.0, 0.0, 0.0, 1.0],
            linvel: [0.0; 3],
            angvel: [0.0; 3],
            holder: None,
            resting: true,
        };
        o.apply(1, &[ball], 0.0);
        o
    }

    fn hand(p: glam::Vec3, squeeze: f32) -> Option<HandNow> {
        Some(HandNow {
            pose: Pose::from_position(p),
            linvel: glam::Vec3::new(0.0, 1.0, 0.0),
            angvel: glam::Vec3::ZERO,
            squeeze,
        })
    }

    #[test]
    fn a_hand_grabs_holds_and_throws_what_is_within_reach() {
        let mut o = objects();
        let mut g = Grip::default();
        let near = glam::Vec3::new(0.05, 0.85, -0.3);
        // Open hand near it, squeezed far from it: nothing.
        assert_eq!(g.step(hand(near, 0.0), &mut o, 7, 0.1), None);
        assert_eq!(
            g.step(hand(glam::Vec3::new(0.0, 1.2, -0.3), 1.0), &mut o, 7, 0.1),
            None
        );
        // Squeezed near it: taken, shown in the hand at once.
        assert_eq!(
            g.step(hand(near, 1.0), &mut o, 7, 0.2),
            Some(ClientMsg::Grab { object: 4 })
        );
        assert_eq!(o.replica.position(4, 0.2), Some(near));
        // Held: where the hand is.
        let up = glam::Vec3::new(0.05, 1.0, -0.3);
        assert!(matches!(
            g.step(hand(up, 1.0), &mut o, 7, 0.3),
            Some(ClientMsg::Hold { object: 4, position, .. }) if position == up.to_array()
        ));
        // Let go: thrown with the hand's velocity.
        assert_eq!(
            g.step(hand(up, 0.0), &mut o, 7, 0.4),
            Some(ClientMsg::Release {
                object: 4,
                linvel: [0.0, 1.0, 0.0],
                angvel: [0.0; 3]
            })
        );
        assert_eq!(g.held, None);
        // Someone else holds it (the server's state says so): not grabbed,
        // and a hand that thought it had it lets go.
        let mut taken = o.replica.states();
        taken[0].holder = Some(9);
        o.apply(2, &taken, 0.5);
        assert_eq!(g.step(hand(near, 1.0), &mut o, 7, 0.6), None);
        g.held = Some(4);
        assert_eq!(g.step(hand(near, 1.0), &mut o, 7, 0.7), None);
        assert_eq!(g.held, None);
    }

    #[test]
    fn still_objects_are_not_given_again() {
        let mut o = objects();
        assert!(o.moving(0.05), "a state just arrived");
        assert!(!o.moving(1.0), "resting, nobody holds it");
        let mut g = Grip::default();
        g.step(hand(glam::Vec3::new(0.05, 0.85, -0.3), 1.0), &mut o, 7, 2.0);
        assert!(o.moving(2.0), "in a hand");
        let mut thrown = o.replica.states();
        thrown[0].resting = false;
        o.apply(3, &thrown, 3.0);
        assert!(o.moving(9.0), "flying");
    }

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
