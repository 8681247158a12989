//! Where each participant sits in the room: the room's frame is shared by
//! everyone in it, and each participant's own stage (the floor space its
//! headset tracks in) is placed at a seat of its own, so that nobody stands
//! inside anybody else. The server gives each newcomer the lowest free
//! seat. Seats are around the room's table (the shared objects' table at
//! the origin), six to a ring of 1.3 m, the next six on a ring 0.8 m
//! further out, facing its centre.
//!
//! A ring fills as a triangle first (0°, 120°, 240°), then the places
//! between: two people sit at a corner of the table, three see each other
//! 30° either side of straight ahead (inside any headset's field of view),
//! and the fourth sits across from the first.

use glam::{Quat, Vec3};

/// Seats per ring.
pub const PER_RING: u32 = 6;
/// The first ring's radius, metres.
pub const RADIUS: f32 = 1.3;
/// How much further out each next ring is, metres.
pub const RING_STEP: f32 = 0.8;

/// The order a ring's places fill in (places are 60° apart).
const ORDER: [u32; PER_RING as usize] = [0, 2, 4, 3, 5, 1];

/// `room_from_stage` of seat `seat`: the seat's position on the floor and
/// its turn about +Y. A stage's -Z (where a user who stands at its origin
/// looks) faces the table.
pub fn room_from_stage(seat: u32) -> (Vec3, Quat) {
    let ring = seat / PER_RING;
    let place = ORDER[(seat % PER_RING) as usize];
    // Each ring is turned half a place from the one inside it.
    let a = place as f32 * std::f32::consts::TAU / PER_RING as f32
        + ring as f32 * std::f32::consts::PI / PER_RING as f32;
    let r = RADIUS + RING_STEP * ring as f32;
    (
        r * Vec3::new(a.sin(), 0.0, a.cos()),
        Quat::from_rotation_y(a),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_face_the_table_and_keep_apart() {
        let seats: Vec<_> = (0..18).map(room_from_stage).collect();
        for (i, (p, q)) in seats.iter().enumerate() {
            // Looking down the stage's -Z from the seat points at the centre.
            let look = *q * -Vec3::Z;
            assert!(look.dot(-p.normalize()) > 0.9999, "seat {i}");
            for (j, (o, _)) in seats.iter().enumerate().skip(i + 1) {
                assert!(p.distance(*o) > 0.6, "seats {i} and {j}");
            }
        }
        // The first three see each other 30° either side of ahead.
        for i in 0..3 {
            let (p, q) = seats[i];
            for (j, (o, _)) in seats.iter().enumerate().take(3) {
                if i != j {
                    let local = q.inverse() * (*o - p);
                    let angle = local.x.atan2(-local.z).to_degrees();
                    assert!(
                        (angle.abs() - 30.0).abs() < 1e-3,
                        "{i} sees {j} at {angle}°"
                    );
                }
            }
        }
    }
}
