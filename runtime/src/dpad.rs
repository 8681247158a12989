//! `XR_EXT_dpad_binding`: a thumbstick or trackpad read as a directional
//! pad (`.../thumbstick/dpad_up`, `.../trackpad/dpad_center`, ...), with the
//! parameters an app may chain to its suggested bindings
//! (`XrInteractionProfileDpadBindingEXT` in `XrBindingModificationsKHR`).
//!
//! Each (hand, thumbstick or trackpad, action set) has its own pad: whether
//! it is pressed (force with hysteresis) and which directions are on. A
//! direction is on while the pad is pressed, the position lies outside the
//! center region and within the direction's wedge (`wedgeAngle` wide,
//! centred on up, down, left or right; wedges wider than a quarter turn
//! overlap so diagonals turn two directions on). `dpad_center` (trackpads
//! only) is on while pressed inside the center region. A sticky pad keeps
//! the directions it turned on until it is released, wherever the position
//! moves meanwhile.

use crate::error::{Error, Result};
use crate::handles::Raw;
use glam::Vec2;
use parallax_sdk::Vibration;
use std::f32::consts::{FRAC_PI_2, PI};

/// The input a pad is made of.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Parent {
    Thumbstick,
    Trackpad,
}

impl Parent {
    /// The profile component (`input/thumbstick`).
    pub fn component(self) -> &'static str {
        match self {
            Parent::Thumbstick => "input/thumbstick",
            Parent::Trackpad => "input/trackpad",
        }
    }

    /// The parent named by a binding component (`input/trackpad`).
    pub fn of(component: &str) -> Option<Parent> {
        match component {
            "input/thumbstick" => Some(Parent::Thumbstick),
            "input/trackpad" => Some(Parent::Trackpad),
            _ => None,
        }
    }
}

/// One of a pad's outputs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
    Left,
    Right,
    Center,
}

impl Direction {
    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The direction's angle from +X, counter-clockwise (None for center).
    fn angle(self) -> Option<f32> {
        match self {
            Direction::Right => Some(0.0),
            Direction::Up => Some(FRAC_PI_2),
            Direction::Left => Some(PI),
            Direction::Down => Some(-FRAC_PI_2),
            Direction::Center => None,
        }
    }
}

/// Splits `input/thumbstick/dpad_up` into its parent and direction.
pub fn parse_component(component: &str) -> Option<(Parent, Direction)> {
    let (parent, leaf) = component.rsplit_once('/')?;
    let dir = match leaf {
        "dpad_up" => Direction::Up,
        "dpad_down" => Direction::Down,
        "dpad_left" => Direction::Left,
        "dpad_right" => Direction::Right,
        "dpad_center" => Direction::Center,
        _ => return None,
    };
    Some((Parent::of(parent)?, dir))
}

/// The behaviour of one pad.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Params {
    pub force_threshold: f32,
    pub force_threshold_released: f32,
    pub center_region: f32,
    pub wedge_angle: f32,
    pub is_sticky: bool,
    pub on_haptic: Option<Vibration>,
    pub off_haptic: Option<Vibration>,
}

impl Default for Params {
    /// The spec's values for a pad no modification describes.
    fn default() -> Self {
        Params {
            force_threshold: 0.5,
            force_threshold_released: 0.4,
            center_region: 0.5,
            wedge_angle: FRAC_PI_2,
            is_sticky: false,
            on_haptic: None,
            off_haptic: None,
        }
    }
}

impl Params {
    /// The ranges `XrInteractionProfileDpadBindingEXT` allows.
    pub fn validate(&self) -> Result<()> {
        let unit = |v: f32| v > 0.0 && v <= 1.0;
        if !unit(self.force_threshold) {
            return Err(Error::validation(format!(
                "forceThreshold {} is outside (0, 1]",
                self.force_threshold
            )));
        }
        if !unit(self.force_threshold_released) {
            return Err(Error::validation(format!(
                "forceThresholdReleased {} is outside (0, 1]",
                self.force_threshold_released
            )));
        }
        if self.force_threshold_released > self.force_threshold {
            return Err(Error::validation(format!(
                "forceThresholdReleased {} is above forceThreshold {}",
                self.force_threshold_released, self.force_threshold
            )));
        }
        if !(self.center_region > 0.0 && self.center_region < 1.0) {
            return Err(Error::validation(format!(
                "centerRegion {} is outside (0, 1)",
                self.center_region
            )));
        }
        if !(self.wedge_angle >= 0.0 && self.wedge_angle < PI) {
            return Err(Error::validation(format!(
                "wedgeAngle {} is outside [0, pi)",
                self.wedge_angle
            )));
        }
        Ok(())
    }
}

/// Parameters an app chained for one pad of one profile.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Modification {
    /// Top-level user path (`/user/hand/left`).
    pub user: &'static str,
    pub parent: Parent,
    pub action_set: Raw,
    pub params: Params,
}

/// Which pad a state belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub user: &'static str,
    pub parent: Parent,
    pub action_set: Raw,
}

/// The memory of one pad between syncs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pressed: bool,
    on: u8,
}

/// What an update turned on and off (for the haptics).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Transitions {
    pub turned_on: bool,
    pub turned_off: bool,
}

impl State {
    /// Moves the pad to the position `xy` pressed with `force` (0..=1).
    /// Calling it again with the same reading changes nothing, so every
    /// action bound to the pad may call it in one sync.
    pub fn update(&mut self, p: &Params, xy: Vec2, force: f32, parent: Parent) -> Transitions {
        let before = self.on;
        self.pressed = if self.pressed {
            force > p.force_threshold_released
        } else {
            force >= p.force_threshold
        };
        if !self.pressed {
            self.on = 0;
        } else if !(p.is_sticky && self.on != 0) {
            self.on = directions(p, xy, parent);
        }
        Transitions {
            turned_on: self.on & !before != 0,
            turned_off: before & !self.on != 0,
        }
    }

    pub fn is_on(&self, d: Direction) -> bool {
        self.on & d.bit() != 0
    }
}

/// The directions a pressed pad at `xy` turns on.
fn directions(p: &Params, xy: Vec2, parent: Parent) -> u8 {
    if xy.length() <= p.center_region {
        return match parent {
            Parent::Trackpad => Direction::Center.bit(),
            Parent::Thumbstick => 0,
        };
    }
    let theta = xy.y.atan2(xy.x);
    let half = p.wedge_angle / 2.0;
    [
        Direction::Up,
        Direction::Down,
        Direction::Left,
        Direction::Right,
    ]
    .into_iter()
    .filter(|d| {
        let a = d.angle().unwrap_or(0.0);
        let mut diff = (theta - a).abs() % (2.0 * PI);
        if diff > PI {
            diff = 2.0 * PI - diff;
        }
        diff <= half
    })
    .fold(0, |m, d| m | d.bit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad(p: &Params, s: &mut State, x: f32, y: f32, parent: Parent) -> Vec<Direction> {
        let xy = Vec2::new(x, y);
        s.update(p, xy, xy.length(), parent);
        [
            Direction::Up,
            Direction::Down,
            Direction::Left,
            Direction::Right,
            Direction::Center,
        ]
        .into_iter()
        .filter(|d| s.is_on(*d))
        .collect()
    }

    #[test]
    fn directions_wedges_and_hysteresis() {
        use Direction::*;
        let p = Params::default();
        let mut s = State::default();
        assert_eq!(pad(&p, &mut s, 0.0, 0.3, Parent::Thumbstick), vec![]);
        assert_eq!(pad(&p, &mut s, 0.0, 0.9, Parent::Thumbstick), vec![Up]);
        assert_eq!(pad(&p, &mut s, -0.9, 0.0, Parent::Thumbstick), vec![Left]);
        assert_eq!(pad(&p, &mut s, 0.0, -0.9, Parent::Thumbstick), vec![Down]);
        // 45 degrees is on the border of two quarter-turn wedges: both.
        let d = 0.9 / 2f32.sqrt();
        assert_eq!(pad(&p, &mut s, d, d, Parent::Thumbstick), vec![Up, Right]);
        // Narrow wedges leave the diagonal dead.
        let narrow = Params {
            wedge_angle: 0.5,
            ..p
        };
        assert_eq!(pad(&narrow, &mut s, d, d, Parent::Thumbstick), vec![]);
        // Released below 0.4, not below 0.5.
        let mut s = State::default();
        let xy = Vec2::new(0.45, 0.0);
        s.update(&p, xy, 0.45, Parent::Trackpad);
        assert!(!s.is_on(Right), "0.45 does not press a released pad");
        s.update(&p, Vec2::new(0.9, 0.0), 0.6, Parent::Trackpad);
        assert!(s.is_on(Right));
        s.update(&p, Vec2::new(0.9, 0.0), 0.45, Parent::Trackpad);
        assert!(s.is_on(Right), "still pressed above the release threshold");
        s.update(&p, Vec2::new(0.9, 0.0), 0.3, Parent::Trackpad);
        assert!(!s.is_on(Right));
        // A trackpad pressed in the middle is the center.
        s.update(&p, Vec2::new(0.1, 0.1), 1.0, Parent::Trackpad);
        assert!(s.is_on(Center));
    }

    #[test]
    fn sticky_pads_hold_their_direction_until_released() {
        let p = Params {
            is_sticky: true,
            ..Params::default()
        };
        let mut s = State::default();
        let t = s.update(&p, Vec2::new(0.0, 0.9), 0.9, Parent::Thumbstick);
        assert!(t.turned_on && !t.turned_off);
        // Same reading again: nothing changes (idempotent within a sync).
        assert_eq!(
            s.update(&p, Vec2::new(0.0, 0.9), 0.9, Parent::Thumbstick),
            Transitions::default()
        );
        s.update(&p, Vec2::new(0.9, 0.0), 0.9, Parent::Thumbstick);
        assert!(s.is_on(Direction::Up) && !s.is_on(Direction::Right));
        let t = s.update(&p, Vec2::ZERO, 0.0, Parent::Thumbstick);
        assert!(t.turned_off && !s.is_on(Direction::Up));
        s.update(&p, Vec2::new(0.9, 0.0), 0.9, Parent::Thumbstick);
        assert!(s.is_on(Direction::Right));
    }

    #[test]
    fn parameter_ranges() {
        let ok = Params::default();
        assert!(ok.validate().is_ok());
        for bad in [
            Params {
                force_threshold: 0.0,
                ..ok
            },
            Params {
                force_threshold: 1.0001,
                ..ok
            },
            Params {
                force_threshold: 0.3,
                force_threshold_released: 0.5,
                ..ok
            },
            Params {
                center_region: 1.0,
                ..ok
            },
            Params {
                wedge_angle: PI,
                ..ok
            },
            Params {
                wedge_angle: f32::NAN,
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(Params {
            wedge_angle: 0.0,
            force_threshold: 1.0,
            force_threshold_released: 1.0,
            ..ok
        }
        .validate()
        .is_ok());
        assert_eq!(
            parse_component("input/trackpad/dpad_center"),
            Some((Parent::Trackpad, Direction::Center))
        );
        assert_eq!(parse_component("input/trigger/dpad_up"), None);
    }
}
