//! The desktop simulator: keyboard and mouse in the compositor's window
//! move the simulated headset and press the simulated controllers' buttons.
//!
//! | input | effect |
//! |---|---|
//! | W A S D | walk forward, left, back, right (5 cm per press, 1 m/s held) |
//! | Q E | down, up |
//! | right mouse button + drag | look around |
//! | Space or left mouse button | trigger of the active hand |
//! | G | grip (squeeze) of the active hand |
//! | M | menu button (left controller) |
//! | 1 2 | make the left / right controller the active hand |
//! | R | recenter |

use crate::{Controls, EYE_HEIGHT};
use glam::{EulerRot, Quat, Vec3};
use parallax_sdk::types::{DesktopInput, Pose, Time};
use parallax_sdk::InputValue;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// The legend shown in the simulator window.
pub const LEGEND: &str = "Parallax simulator | WASD/QE move | right-drag look | Space/click trigger | G grip | M menu | 1/2 hand | R recenter";

const STEP: f32 = 0.05;
const SPEED: f32 = 1.0;
const LOOK_PER_PIXEL: f32 = 0.004;

#[derive(Default)]
struct State {
    offset: Vec3,
    yaw: f32,
    pitch: f32,
    /// Keys held down, with when their press arrived.
    held: HashMap<String, Time>,
    dragging: bool,
    last_tick: Option<Time>,
    hand: usize,
}

/// Where the desktop user has moved and turned the simulated user.
pub struct Rig {
    state: Mutex<State>,
    controls: Arc<Controls>,
}

impl Rig {
    pub fn new(controls: Arc<Controls>) -> Self {
        Self {
            state: Mutex::new(State {
                hand: 1,
                ..Default::default()
            }),
            controls,
        }
    }

    fn yaw_quat(s: &State) -> Quat {
        Quat::from_rotation_y(s.yaw)
    }

    fn walk(s: &mut State, key: &str, distance: f32) {
        let r = Self::yaw_quat(s);
        let d = match key {
            "w" => r * -Vec3::Z,
            "s" => r * Vec3::Z,
            "a" => r * -Vec3::X,
            "d" => r * Vec3::X,
            "q" => -Vec3::Y,
            "e" => Vec3::Y,
            _ => return,
        };
        s.offset += d * distance;
    }

    fn button(&self, hand: usize, path: &str, pressed: bool) {
        let v = if path.ends_with("/click") {
            InputValue::Boolean(pressed)
        } else {
            InputValue::Float(if pressed { 1.0 } else { 0.0 })
        };
        // The right controller has no menu button; such presses do nothing.
        let _ = self.controls.set(hand, path, v);
    }

    /// Applies one input event.
    pub fn input(&self, ev: &DesktopInput) {
        if !matches!(ev, DesktopInput::Tick(_)) {
            tracing::debug!(?ev, "desktop input");
        }
        let mut s = self.state.lock();
        match ev {
            DesktopInput::Key {
                name,
                pressed,
                repeat,
            } => {
                let name = name.as_str();
                if *pressed && !*repeat {
                    Self::walk(&mut s, name, STEP);
                }
                if *pressed {
                    s.held.entry(name.to_string()).or_insert_with(Time::now);
                } else {
                    s.held.remove(name);
                }
                if *repeat {
                    return;
                }
                let hand = s.hand;
                match name {
                    "space" => self.button(hand, "input/trigger/value", *pressed),
                    "g" => self.button(hand, "input/squeeze/value", *pressed),
                    "m" => self.button(0, "input/menu/click", *pressed),
                    "1" if *pressed => s.hand = 0,
                    "2" if *pressed => s.hand = 1,
                    "r" if *pressed => {
                        s.offset = Vec3::ZERO;
                        s.yaw = 0.0;
                        s.pitch = 0.0;
                    }
                    _ => {}
                }
            }
            DesktopInput::MouseButton { button, pressed } => match button {
                0 => self.button(s.hand, "input/trigger/value", *pressed),
                1 => s.dragging = *pressed,
                _ => {}
            },
            DesktopInput::CursorMoved { dx, dy } => {
                if s.dragging {
                    s.yaw -= dx * LOOK_PER_PIXEL;
                    s.pitch = (s.pitch - dy * LOOK_PER_PIXEL).clamp(-1.4, 1.4);
                }
            }
            DesktopInput::Tick(now) => {
                // Each held key walks from when it was pressed (or the last
                // tick, whichever is later), at most 0.1 s per tick.
                let last = s.last_tick;
                let held: Vec<(String, Time)> =
                    s.held.iter().map(|(k, t)| (k.clone(), *t)).collect();
                for (k, pressed_at) in held {
                    let from = last.map_or(pressed_at, |l| l.max(pressed_at));
                    let dt = ((*now - from).as_secs_f64() as f32).clamp(0.0, 0.1);
                    Self::walk(&mut s, &k, SPEED * dt);
                }
                s.last_tick = Some(*now);
            }
            DesktopInput::FocusLost => {
                s.held.clear();
                s.dragging = false;
                for hand in 0..2 {
                    self.button(hand, "input/trigger/value", false);
                    self.button(hand, "input/squeeze/value", false);
                }
                self.button(0, "input/menu/click", false);
            }
        }
    }

    /// `stage_from_head` with the desktop user's walking and looking applied.
    pub fn head(&self, head: Pose) -> Pose {
        let s = self.state.lock();
        let look = Quat::from_euler(EulerRot::YXZ, s.yaw, s.pitch, 0.0);
        Pose::new(look * head.orientation, head.position + s.offset)
    }

    /// A hand pose carried along with the user's walking and turning.
    pub fn hand(&self, hand: Pose) -> Pose {
        let s = self.state.lock();
        let base = Vec3::new(0.0, EYE_HEIGHT, 0.0);
        let r = Self::yaw_quat(&s);
        Pose::new(
            r * hand.orientation,
            s.offset + base + r * (hand.position - base),
        )
    }

    /// Rotates a velocity vector by the user's turn.
    pub fn rotate(&self, v: Vec3) -> Vec3 {
        Self::yaw_quat(&self.state.lock()) * v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, pressed: bool) -> DesktopInput {
        DesktopInput::Key {
            name: name.into(),
            pressed,
            repeat: false,
        }
    }

    #[test]
    fn keys_walk_and_mouse_looks() {
        let rig = Rig::new(Arc::new(Controls::default()));
        let start = Pose::from_position(Vec3::new(0.0, EYE_HEIGHT, 0.0));
        for _ in 0..10 {
            rig.input(&key("w", true));
            rig.input(&key("w", false));
        }
        let p = rig.head(start);
        assert!((p.position.z + 0.5).abs() < 1e-5, "{p:?}");
        // Held for 0.5 s (in ticks) at 1 m/s, from the moment of the press.
        rig.input(&DesktopInput::Key {
            name: "d".into(),
            pressed: true,
            repeat: false,
        });
        let t0 = rig.state.lock().held["d"];
        for i in 1..=5 {
            rig.input(&DesktopInput::Tick(Time(t0.0 + i * 100_000_000)));
        }
        rig.input(&key("d", false));
        assert!((rig.head(start).position.x - 0.55).abs() < 1e-4);
        // Dragging with the right button turns left/right.
        rig.input(&DesktopInput::MouseButton {
            button: 1,
            pressed: true,
        });
        rig.input(&DesktopInput::CursorMoved {
            dx: -100.0,
            dy: 0.0,
        });
        let (yaw, _, _) = rig.head(start).orientation.to_euler(EulerRot::YXZ);
        assert!((yaw - 0.4).abs() < 1e-5);
        rig.input(&key("r", true));
        assert_eq!(rig.head(start), start);
    }

    #[test]
    fn buttons_reach_the_controllers() {
        let controls = Arc::new(Controls::default());
        let rig = Rig::new(controls.clone());
        rig.input(&key("space", true));
        assert_eq!(
            controls.get(1, "input/trigger/value"),
            Some(InputValue::Float(1.0))
        );
        rig.input(&key("1", true));
        rig.input(&key("g", true));
        assert_eq!(
            controls.get(0, "input/squeeze/value"),
            Some(InputValue::Float(1.0))
        );
        rig.input(&DesktopInput::FocusLost);
        assert_eq!(
            controls.get(1, "input/trigger/value"),
            Some(InputValue::Float(0.0))
        );
    }
}
