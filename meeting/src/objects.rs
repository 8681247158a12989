//! Shared objects: a few rigid bodies on the room's table that participants
//! grab and throw. The server is authoritative: it simulates them with
//! `rapier3d` at 60 Hz and sends their state to everyone at 20 Hz while
//! anything moves; a participant grabs one (first come), moves it with its
//! hand (the object follows as a kinematic body, pushing the others) and
//! lets go with its hand's velocity. Clients show the held object at their
//! own hand at once and everything else extrapolated from the last state,
//! easing corrections in ([`Replica`]).
//!
//! Object state is not end-to-end encrypted: the server has to simulate
//! it. It is the room's shared furniture, not anyone's speech or face.

use glam::{Quat, Vec3};
use rapier3d::prelude as rp;
use serde::{Deserialize, Serialize};

/// Simulation steps per second.
pub const RATE: f32 = 60.0;
/// Height of the table's top, metres (the table stands at the room's
/// centre, 1.2 m square).
pub const TABLE_TOP: f32 = 0.75;
/// Half the table top's edge, metres.
pub const TABLE_HALF: f32 = 0.6;
/// Where a held object may be: within this of the room's centre
/// horizontally, and below this height.
pub const ROOM_HALF: f32 = 10.0;
pub const ROOM_HEIGHT: f32 = 5.0;
/// The fastest throw accepted, m/s (a fastball is ~40).
pub const MAX_SPEED: f32 = 20.0;
pub const MAX_SPIN: f32 = 50.0;

/// A saved object: its id, position and orientation (x, y, z, w).
pub type SavedPose = (u32, [f32; 3], [f32; 4]);

/// An object's shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A cube of this half edge, metres.
    Cube { half: f32 },
    /// A ball of this radius, metres.
    Ball { radius: f32 },
}

/// One object as everyone sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    pub id: u32,
    pub shape: Shape,
    pub position: [f32; 3],
    /// x, y, z, w.
    pub orientation: [f32; 4],
    pub linvel: [f32; 3],
    pub angvel: [f32; 3],
    /// The participant holding it.
    pub holder: Option<u32>,
    /// At rest (the simulation put it to sleep).
    pub resting: bool,
}

/// Why a grab, hold or release was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ObjectError {
    #[error("no object {0}")]
    NoObject(u32),
    #[error("object {object} is held by participant {by}")]
    HeldBy { object: u32, by: u32 },
    #[error("participant {who} does not hold object {object}")]
    NotHolding { object: u32, who: u32 },
    #[error("{0}")]
    Invalid(String),
}

struct Object {
    id: u32,
    shape: Shape,
    body: rp::RigidBodyHandle,
    holder: Option<u32>,
}

/// The room's objects and the table and floor they lie on.
pub struct World {
    bodies: rp::RigidBodySet,
    colliders: rp::ColliderSet,
    pipeline: rp::PhysicsPipeline,
    islands: rp::IslandManager,
    broad_phase: rp::BroadPhaseBvh,
    narrow_phase: rp::NarrowPhase,
    impulse_joints: rp::ImpulseJointSet,
    multibody_joints: rp::MultibodyJointSet,
    soft_bodies: rp::SoftBodySet,
    ccd: rp::CCDSolver,
    parameters: rp::IntegrationParameters,
    objects: Vec<Object>,
    tick: u64,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("objects", &self.objects.len())
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

fn v(a: [f32; 3]) -> rp::Vector {
    rp::Vector::from_array(a)
}

fn q(a: [f32; 4]) -> rp::Rotation {
    rp::Rotation::from_array(a).normalize()
}

/// The objects a new room starts with: three cubes and a ball on the
/// table.
pub fn default_objects() -> Vec<(u32, Shape, [f32; 3])> {
    let y = |h: f32| TABLE_TOP + h + 0.001;
    vec![
        (1, Shape::Cube { half: 0.04 }, [-0.3, y(0.04), 0.0]),
        (2, Shape::Cube { half: 0.04 }, [0.0, y(0.04), 0.25]),
        (3, Shape::Cube { half: 0.06 }, [0.3, y(0.06), -0.1]),
        (4, Shape::Ball { radius: 0.05 }, [0.0, y(0.05), -0.3]),
    ]
}

fn finite(a: &[f32]) -> bool {
    a.iter().all(|x| x.is_finite())
}

impl World {
    /// The room's table and objects; `saved` poses (id, position,
    /// orientation) replace the defaults where they name an object.
    pub fn new(saved: &[SavedPose]) -> World {
        let mut w = World {
            bodies: rp::RigidBodySet::new(),
            colliders: rp::ColliderSet::new(),
            pipeline: rp::PhysicsPipeline::new(),
            islands: rp::IslandManager::new(),
            broad_phase: rp::BroadPhaseBvh::new(),
            narrow_phase: rp::NarrowPhase::new(),
            impulse_joints: rp::ImpulseJointSet::new(),
            multibody_joints: rp::MultibodyJointSet::new(),
            soft_bodies: rp::SoftBodySet::new(),
            ccd: rp::CCDSolver::new(),
            parameters: rp::IntegrationParameters {
                dt: 1.0 / RATE,
                ..Default::default()
            },
            objects: Vec::new(),
            tick: 0,
        };
        // The floor (a thick slab under y = 0) and the table top.
        let floor = rp::ColliderBuilder::cuboid(ROOM_HALF, 0.5, ROOM_HALF)
            .translation(v([0.0, -0.5, 0.0]))
            .friction(0.8)
            .build();
        w.colliders.insert(floor);
        let table = rp::ColliderBuilder::cuboid(TABLE_HALF, 0.02, TABLE_HALF)
            .translation(v([0.0, TABLE_TOP - 0.02, 0.0]))
            .friction(0.6)
            .build();
        w.colliders.insert(table);
        for (id, shape, position) in default_objects() {
            let (position, orientation) = saved
                .iter()
                .find(|s| s.0 == id && finite(&s.1) && finite(&s.2))
                .map_or((position, [0.0, 0.0, 0.0, 1.0]), |s| (s.1, s.2));
            let body = rp::RigidBodyBuilder::dynamic()
                .pose(rp::Pose::from_parts(v(position), q(orientation)))
                .ccd_enabled(true)
                // Air drag and rolling resistance, which rapier does not
                // model: without them a ball rolls on forever.
                .linear_damping(0.3)
                .angular_damping(3.0)
                .build();
            let body = w.bodies.insert(body);
            let collider = match shape {
                Shape::Cube { half } => rp::ColliderBuilder::cuboid(half, half, half),
                Shape::Ball { radius } => rp::ColliderBuilder::ball(radius),
            }
            .density(600.0)
            .friction(0.6)
            .restitution(0.3)
            .build();
            w.colliders
                .insert_with_parent(collider, body, &mut w.bodies);
            w.objects.push(Object {
                id,
                shape,
                body,
                holder: None,
            });
        }
        w
    }

    /// Advances the simulation by one step (1/60 s).
    pub fn step(&mut self) {
        self.pipeline.step(
            rp::Vector::new(0.0, -9.81, 0.0),
            &self.parameters,
            &mut self.islands,
            &mut self.broad_phase,
            &mut self.narrow_phase,
            &mut self.bodies,
            &mut self.colliders,
            &mut self.impulse_joints,
            &mut self.multibody_joints,
            &mut self.soft_bodies,
            &mut self.ccd,
            &(),
            &(),
        );
        self.tick += 1;
    }

    /// Steps simulated so far.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    fn object(&mut self, id: u32) -> Result<&mut Object, ObjectError> {
        self.objects
            .iter_mut()
            .find(|o| o.id == id)
            .ok_or(ObjectError::NoObject(id))
    }

    /// `who` takes hold of object `id`: it stops falling and follows
    /// [`World::hold`].
    pub fn grab(&mut self, id: u32, who: u32) -> Result<(), ObjectError> {
        let o = self.object(id)?;
        match o.holder {
            Some(by) if by != who => return Err(ObjectError::HeldBy { object: id, by }),
            _ => {}
        }
        o.holder = Some(who);
        let body = o.body;
        let b = &mut self.bodies[body];
        b.set_body_type(rp::RigidBodyType::KinematicPositionBased, true);
        Ok(())
    }

    /// Moves a held object to where `who`'s hand has it.
    pub fn hold(
        &mut self,
        id: u32,
        who: u32,
        position: [f32; 3],
        orientation: [f32; 4],
    ) -> Result<(), ObjectError> {
        if !finite(&position) || !finite(&orientation) {
            return Err(ObjectError::Invalid("a pose with NaN or infinity".into()));
        }
        let [x, y, z] = position;
        if x.abs() > ROOM_HALF || z.abs() > ROOM_HALF || !(0.0..=ROOM_HEIGHT).contains(&y) {
            return Err(ObjectError::Invalid(format!(
                "position {position:?} is outside the room"
            )));
        }
        if Quat::from_array(orientation).length() < 0.5 {
            return Err(ObjectError::Invalid("not a rotation".into()));
        }
        let o = self.object(id)?;
        if o.holder != Some(who) {
            return Err(ObjectError::NotHolding { object: id, who });
        }
        let body = o.body;
        self.bodies[body]
            .set_next_kinematic_position(rp::Pose::from_parts(v(position), q(orientation)));
        Ok(())
    }

    /// `who` lets go of object `id` with this velocity (clamped to
    /// [`MAX_SPEED`] and [`MAX_SPIN`]).
    pub fn release(
        &mut self,
        id: u32,
        who: u32,
        linvel: [f32; 3],
        angvel: [f32; 3],
    ) -> Result<(), ObjectError> {
        if !finite(&linvel) || !finite(&angvel) {
            return Err(ObjectError::Invalid(
                "a velocity with NaN or infinity".into(),
            ));
        }
        let o = self.object(id)?;
        if o.holder != Some(who) {
            return Err(ObjectError::NotHolding { object: id, who });
        }
        o.holder = None;
        let body = o.body;
        let b = &mut self.bodies[body];
        b.set_body_type(rp::RigidBodyType::Dynamic, true);
        b.set_linvel(
            v(Vec3::from_array(linvel)
                .clamp_length_max(MAX_SPEED)
                .to_array()),
            true,
        );
        b.set_angvel(
            v(Vec3::from_array(angvel)
                .clamp_length_max(MAX_SPIN)
                .to_array()),
            true,
        );
        Ok(())
    }

    /// Drops whatever `who` holds (they left).
    pub fn release_all(&mut self, who: u32) {
        let held: Vec<u32> = self
            .objects
            .iter()
            .filter(|o| o.holder == Some(who))
            .map(|o| o.id)
            .collect();
        for id in held {
            let _ = self.release(id, who, [0.0; 3], [0.0; 3]);
        }
    }

    /// Every object's state.
    pub fn states(&self) -> Vec<ObjectState> {
        self.objects
            .iter()
            .map(|o| {
                let b = &self.bodies[o.body];
                ObjectState {
                    id: o.id,
                    shape: o.shape,
                    position: b.translation().to_array(),
                    orientation: b.rotation().to_array(),
                    linvel: b.linvel().to_array(),
                    angvel: b.angvel().to_array(),
                    holder: o.holder,
                    resting: b.is_sleeping(),
                }
            })
            .collect()
    }

    /// Nothing moves and nothing is held.
    pub fn at_rest(&self) -> bool {
        self.objects
            .iter()
            .all(|o| o.holder.is_none() && self.bodies[o.body].is_sleeping())
    }
}

/// A client's view of the objects: the server's last state, extrapolated
/// to now (a free object falls and flies on; the one this participant
/// holds is at its hand at once), with corrections eased in over
/// [`Replica::EASE`] seconds instead of snapping.
#[derive(Debug, Default)]
pub struct Replica {
    objects: Vec<Replicated>,
    /// The last server tick applied.
    tick: u64,
}

#[derive(Debug, Clone)]
struct Replicated {
    state: ObjectState,
    /// When the state arrived (client seconds).
    at: f64,
    /// What the display showed minus what the new state predicts, at
    /// `at`; fades out.
    offset: Vec3,
    /// Where this participant's hand holds it.
    held_here: Option<(Vec3, Quat)>,
}

impl Replica {
    /// Seconds over which a correction fades.
    pub const EASE: f64 = 0.1;

    /// Takes a state message from the server (older ticks are ignored).
    pub fn apply(&mut self, tick: u64, states: &[ObjectState], now: f64) {
        if tick < self.tick {
            return;
        }
        self.tick = tick;
        for s in states {
            let shown = self.position(s.id, now);
            let held_here = self
                .objects
                .iter()
                .find(|o| o.state.id == s.id)
                .and_then(|o| o.held_here);
            let offset = match shown {
                Some(p) => p - Vec3::from_array(s.position),
                None => Vec3::ZERO,
            };
            let r = Replicated {
                state: s.clone(),
                at: now,
                offset,
                held_here,
            };
            match self.objects.iter_mut().find(|o| o.state.id == s.id) {
                Some(o) => *o = r,
                None => self.objects.push(r),
            }
        }
    }

    /// This participant's hand has object `id` here (prediction: shown at
    /// once, before the server's echo); `None` when it lets go.
    pub fn hold_here(&mut self, id: u32, pose: Option<(Vec3, Quat)>) {
        if let Some(o) = self.objects.iter_mut().find(|o| o.state.id == id) {
            o.held_here = pose;
        }
    }

    /// Where object `id` is shown at `now`.
    pub fn position(&self, id: u32, now: f64) -> Option<Vec3> {
        let o = self.objects.iter().find(|o| o.state.id == id)?;
        if let Some((p, _)) = o.held_here {
            return Some(p);
        }
        let dt = (now - o.at).clamp(0.0, 0.5) as f32;
        let s = &o.state;
        let p = Vec3::from_array(s.position);
        let predicted = if s.resting || s.holder.is_some() {
            p
        } else {
            let mut q =
                p + Vec3::from_array(s.linvel) * dt + 0.5 * Vec3::new(0.0, -9.81, 0.0) * dt * dt;
            // Nothing sinks through the floor or the table.
            let floor = match s.shape {
                Shape::Cube { half } => half,
                Shape::Ball { radius } => radius,
            };
            let over_table = q.x.abs() < TABLE_HALF && q.z.abs() < TABLE_HALF && p.y >= TABLE_TOP;
            q.y = q.y.max(floor + if over_table { TABLE_TOP } else { 0.0 });
            q
        };
        let fade = (1.0 - (now - o.at) / Self::EASE).clamp(0.0, 1.0) as f32;
        Some(predicted + o.offset * fade)
    }

    /// The last state of every object.
    pub fn states(&self) -> Vec<ObjectState> {
        self.objects.iter().map(|o| o.state.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_rest_on_the_table_and_a_throw_lands_on_the_floor() {
        let mut w = World::new(&[]);
        for _ in 0..(3.0 * RATE) as usize {
            w.step();
        }
        assert!(w.at_rest(), "{:?}", w.states());
        for (s, (_, shape, start)) in w.states().iter().zip(default_objects()) {
            let h = match shape {
                Shape::Cube { half } => half,
                Shape::Ball { radius } => radius,
            };
            assert!((s.position[1] - (TABLE_TOP + h)).abs() < 0.005, "{s:?}");
            assert!((Vec3::from_array(s.position) - Vec3::from_array(start)).length() < 0.02);
        }
        // Participant 7 picks up the ball, lifts it and throws it.
        w.grab(4, 7).unwrap();
        assert_eq!(w.grab(4, 8), Err(ObjectError::HeldBy { object: 4, by: 7 }));
        for i in 0..30 {
            w.hold(
                4,
                7,
                [0.0, 1.0 + i as f32 * 0.01, -0.3],
                [0.0, 0.0, 0.0, 1.0],
            )
            .unwrap();
            w.step();
        }
        let held = &w.states()[3];
        assert_eq!(held.holder, Some(7));
        assert!((held.position[1] - 1.29).abs() < 0.02, "{held:?}");
        w.release(4, 7, [0.0, 2.0, -3.0], [0.0; 3]).unwrap();
        assert!(matches!(
            w.release(4, 7, [0.0; 3], [0.0; 3]),
            Err(ObjectError::NotHolding { .. })
        ));
        for _ in 0..(4.0 * RATE) as usize {
            w.step();
        }
        let ball = &w.states()[3];
        // It flew off the table's far edge (z < -0.6) and lies on the floor.
        assert!(ball.position[2] < -1.0, "{ball:?}");
        assert!(ball.position[1] < 0.06, "{ball:?}");
        assert!(w.hold(4, 7, [f32::NAN; 3], [0.0, 0.0, 0.0, 1.0]).is_err());
        assert_eq!(w.grab(9, 7), Err(ObjectError::NoObject(9)));
    }

    #[test]
    fn a_replica_predicts_and_eases_corrections_in() {
        let mut r = Replica::default();
        let mut s = ObjectState {
            id: 1,
            shape: Shape::Ball { radius: 0.05 },
            position: [0.0, 2.0, 0.0],
            orientation: [0.0, 0.0, 0.0, 1.0],
            linvel: [1.0, 0.0, 0.0],
            angvel: [0.0; 3],
            holder: None,
            resting: false,
        };
        r.apply(1, std::slice::from_ref(&s), 0.0);
        // 0.1 s later it has flown on and fallen: x + 0.1, y - g/2 * 0.01.
        let p = r.position(1, 0.1).unwrap();
        assert!(
            (p - Vec3::new(0.1, 2.0 - 0.04905, 0.0)).length() < 1e-4,
            "{p}"
        );
        // The server says it is 1 cm further: the shown position moves
        // there over 0.1 s, not at once.
        s.position = [0.11, 2.0 - 0.04905, 0.0];
        r.apply(2, std::slice::from_ref(&s), 0.1);
        let now = r.position(1, 0.1).unwrap();
        assert!((now - p).length() < 1e-4, "no jump: {now} vs {p}");
        let later = r.position(1, 0.2).unwrap();
        let expected = Vec3::new(0.11 + 0.1, 2.0 - 0.04905 - 0.04905, 0.0);
        assert!((later - expected).length() < 1e-3, "{later} vs {expected}");
        // An older message is ignored; a held object is at the hand.
        r.apply(
            1,
            &[ObjectState {
                position: [5.0; 3],
                ..s.clone()
            }],
            0.2,
        );
        assert!(r.position(1, 0.2).unwrap().x < 1.0);
        r.hold_here(1, Some((Vec3::ONE, Quat::IDENTITY)));
        assert_eq!(r.position(1, 0.3), Some(Vec3::ONE));
    }
}
