//! `parallax driver-check`: the driver conformance kit. Loads a driver
//! library through the ABI exactly as the runtime does, exercises it, and
//! prints one line per check (PASS, WARN, FAIL or SKIP) with what to fix.

use parallax_runtime::profiles::{self, ComponentKind};
use parallax_sdk::sanitize;
use parallax_sdk::types::{Duration, Time};
use parallax_sdk::{
    Builder, DeviceDescription, DeviceRole, DriverError, InputKind, SystemDevices, Vibration,
};
use parallax_sdk_abi::ffi::{PxResult, PX_POSE_ORIENTATION_VALID, PX_POSE_POSITION_VALID};
use parallax_sdk_abi::host::{load, result_name, AbiBuilder, LoadError};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Pass(String),
    Warn(String),
    Fail(String),
    Skip(String),
}

/// One named check and how it went.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
}

/// The checks, in the order they run.
pub const CHECKS: &[&str] = &[
    "load",
    "negotiation",
    "vtable",
    "estimate",
    "open",
    "display",
    "input-paths",
    "pose-values",
    "pose-timing",
    "inputs",
    "hand-joints",
    "haptics",
    "refresh-rate",
    "disconnect",
    "robustness",
    "panic-safety",
    "close-reopen",
];

struct Report {
    checks: Vec<Check>,
    /// Internal errors (contained panics) seen, by function.
    internal: Vec<String>,
}

impl Report {
    fn add(&mut self, name: &'static str, outcome: Outcome) {
        self.checks.push(Check { name, outcome });
    }

    /// Records a driver error: an internal one (a contained panic) is kept
    /// for the panic-safety check.
    fn note(&mut self, e: &DriverError) {
        if let DriverError::Internal(what) = e {
            if !self.internal.contains(what) {
                self.internal.push(what.clone());
            }
        }
    }

    fn skip_rest(&mut self, from: &'static str, why: &str) {
        let start = CHECKS
            .iter()
            .position(|c| *c == from)
            .unwrap_or(CHECKS.len());
        for c in &CHECKS[start..] {
            if !self.checks.iter().any(|k| k.name == *c) {
                self.add(c, Outcome::Skip(why.into()));
            }
        }
    }
}

/// Runs every check on the library at `path`; also returns the driver's
/// name when it loaded.
pub fn run(path: &Path, config: Option<&str>) -> (Vec<Check>, Option<String>) {
    let mut name = None;
    let checks = run_checks(path, config, &mut name);
    (checks, name)
}

fn run_checks(path: &Path, config: Option<&str>, name: &mut Option<String>) -> Vec<Check> {
    let mut r = Report {
        checks: Vec::new(),
        internal: Vec::new(),
    };
    let builder = match load(path, config) {
        Ok(b) => {
            *name = Some(b.name().to_string());
            r.add(
                "load",
                Outcome::Pass("library loaded, parallax_driver_negotiate found".into()),
            );
            r.add(
                "negotiation",
                Outcome::Pass(format!("driver {:?}, ABI {}", b.name(), b.abi_version())),
            );
            r.add(
                "vtable",
                Outcome::Pass(format!(
                    "{} bytes, every required function present",
                    b.vtable_size()
                )),
            );
            b
        }
        Err(e) => {
            let (failed, passed): (&'static str, &[&'static str]) = match &e {
                LoadError::Open { .. } | LoadError::MissingSymbol(_) => ("load", &[]),
                LoadError::Negotiation(_)
                | LoadError::IncompatibleAbi { .. }
                | LoadError::BadName(_) => ("negotiation", &["load"]),
                LoadError::BadVtable(_)
                | LoadError::VtableTooSmall { .. }
                | LoadError::MissingFunction(_) => ("vtable", &["load", "negotiation"]),
            };
            for p in passed {
                r.add(p, Outcome::Pass("ok".into()));
            }
            r.add(failed, Outcome::Fail(e.to_string()));
            r.skip_rest("load", "the driver did not load");
            return r.checks;
        }
    };
    check_estimate(&mut r, &builder);
    let sys = match builder.open() {
        Ok(s) => {
            r.add(
                "open",
                Outcome::Pass(format!(
                    "{:?}: headset and {} other devices",
                    s.system_name,
                    s.devices.len()
                )),
            );
            s
        }
        Err(e) => {
            r.note(&e);
            r.add("open", Outcome::Fail(format!("open failed: {e}")));
            r.skip_rest("display", "the system did not open");
            return r.checks;
        }
    };
    check_display(&mut r, &sys);
    check_input_paths(&mut r, &sys);
    check_pose_values(&mut r, &sys);
    check_pose_timing(&mut r, &sys);
    check_inputs(&mut r, &sys);
    check_hand_joints(&mut r, &sys);
    check_face_expressions(&mut r, &sys);
    check_eye_gaze(&mut r, &sys);
    check_body_joints(&mut r, &sys);
    check_haptics(&mut r, &builder, &sys);
    check_refresh(&mut r, &builder, &sys);
    check_disconnect(&mut r, &builder, &sys);
    check_robustness(&mut r, &builder, &sys);
    let reopen_display = sys.hmd.display().clone();
    drop(sys);
    if r.internal.is_empty() {
        r.add(
            "panic-safety",
            Outcome::Pass("no call failed inside the driver".into()),
        );
    } else {
        r.add(
            "panic-safety",
            Outcome::Fail(format!(
                "the driver failed inside (a panic or internal error) in: {}",
                r.internal.join(", ")
            )),
        );
    }
    match builder.open() {
        Ok(s) if *s.hmd.display() == reopen_display => r.add(
            "close-reopen",
            Outcome::Pass("closed and opened again, same display".into()),
        ),
        Ok(_) => r.add(
            "close-reopen",
            Outcome::Fail("the display changed after reopening".into()),
        ),
        Err(e) => r.add(
            "close-reopen",
            Outcome::Fail(format!("reopening after close failed: {e}")),
        ),
    }
    r.checks
}

fn check_estimate(r: &mut Report, b: &AbiBuilder) {
    let t = std::time::Instant::now();
    let a = b.estimate();
    let took = t.elapsed();
    let again = b.estimate();
    r.add(
        "estimate",
        if a != again {
            Outcome::Fail(format!("two estimates differ: {a:?} then {again:?}"))
        } else if !a.hmd {
            Outcome::Warn(
                "estimate offers no headset: the runtime will not choose this driver".into(),
            )
        } else if took > std::time::Duration::from_millis(100) {
            Outcome::Warn(format!(
                "estimate took {took:?}: it must not open devices (budget 100 ms)"
            ))
        } else {
            Outcome::Pass(format!(
                "headset, {} controllers, score {}",
                a.controllers, a.score
            ))
        },
    );
}

fn check_display(r: &mut Report, sys: &SystemDevices) {
    // Structural validity (sizes, rates, FOV ranges, finite lens) was
    // enforced by the host at open; here: plausibility.
    let d = sys.hmd.display();
    let ipd = d.ipd() * 1000.0;
    let mut warns = Vec::new();
    if !(50.0..=80.0).contains(&ipd) {
        warns.push(format!("IPD {ipd:.1} mm outside 50..80 mm"));
    }
    for (i, e) in d.eyes.iter().enumerate() {
        let h = (e.fov.right - e.fov.left).to_degrees();
        let v = (e.fov.up - e.fov.down).to_degrees();
        if !(40.0..=170.0).contains(&h) || !(40.0..=170.0).contains(&v) {
            warns.push(format!(
                "eye {i} field of view {h:.0}°x{v:.0}° is implausible"
            ));
        }
    }
    if d.eyes[0].head_from_eye.position.x >= d.eyes[1].head_from_eye.position.x {
        r.add(
            "display",
            Outcome::Fail("the left eye is not left of the right eye".into()),
        );
        return;
    }
    let rate = sys.hmd.refresh_rate();
    r.add(
        "display",
        if warns.is_empty() {
            Outcome::Pass(format!(
                "{}x{} per eye, {:?} Hz (now {rate}), IPD {ipd:.1} mm",
                d.width_per_eye, d.height_per_eye, d.refresh_rates_hz
            ))
        } else {
            Outcome::Warn(warns.join("; "))
        },
    );
}

fn devices(sys: &SystemDevices) -> Vec<(usize, std::sync::Arc<dyn parallax_sdk::Device>)> {
    let mut v: Vec<(usize, std::sync::Arc<dyn parallax_sdk::Device>)> = vec![(0, sys.hmd.clone())];
    v.extend(
        sys.devices
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, d)| (i + 1, d)),
    );
    v
}

fn pose_components(desc: &DeviceDescription, index: usize) -> Vec<String> {
    let mut c: Vec<String> = desc
        .inputs
        .iter()
        .filter(|c| c.kind == InputKind::Pose)
        .map(|c| c.path.clone())
        .collect();
    if index == 0 {
        c.insert(0, "head".into());
    }
    c
}

fn check_input_paths(r: &mut Report, sys: &SystemDevices) {
    let all = profiles::all();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (i, d) in devices(sys) {
        let desc = d.description();
        let well_formed = |p: &str| {
            let parts: Vec<&str> = p.split('/').collect();
            (parts.len() == 2 || parts.len() == 3)
                && (parts[0] == "input" || parts[0] == "output")
                && parts[1..].iter().all(|s| {
                    !s.is_empty()
                        && s.bytes().all(|b| {
                            b.is_ascii_lowercase()
                                || b.is_ascii_digit()
                                || b == b'_'
                                || b == b'-'
                                || b == b'.'
                        })
                })
        };
        for c in desc
            .inputs
            .iter()
            .map(|c| &c.path)
            .chain(desc.outputs.iter().map(|o| &o.path))
        {
            if !well_formed(c) {
                problems.push(format!(
                    "device {i} {:?}: {c:?} is not a well-formed component path",
                    desc.name
                ));
            }
        }
        let Some(profile) = &desc.interaction_profile else {
            continue;
        };
        let Some(user) = desc.role.user_path() else {
            problems.push(format!(
                "device {i}: a tracker cannot claim profile {profile}"
            ));
            continue;
        };
        let Some(p) = all.iter().find(|p| p.path == profile) else {
            problems.push(format!("device {i}: unknown interaction profile {profile}"));
            continue;
        };
        for c in &desc.inputs {
            checked += 1;
            let found = p
                .components
                .iter()
                .find(|k| k.user_path == user && k.path == c.path);
            match found {
                None => problems.push(format!("device {i}: {user}/{} is not in {profile}", c.path)),
                Some(k) if k.kind != ComponentKind::Input(c.kind) => problems.push(format!(
                    "device {i}: {user}/{} is {:?} in {profile}, the driver says {:?}",
                    c.path, k.kind, c.kind
                )),
                Some(_) => {}
            }
        }
        for o in &desc.outputs {
            checked += 1;
            if !p
                .components
                .iter()
                .any(|k| k.user_path == user && k.path == o.path && k.kind == ComponentKind::Haptic)
            {
                problems.push(format!(
                    "device {i}: {user}/{} is not a haptic output of {profile}",
                    o.path
                ));
            }
        }
    }
    r.add(
        "input-paths",
        if problems.is_empty() {
            Outcome::Pass(format!(
                "{checked} components match their interaction profiles"
            ))
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

fn check_pose_values(r: &mut Report, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let mut renormalised = 0;
    let mut n = 0;
    let base = Time::now();
    for (i, d) in devices(sys) {
        let desc = d.description();
        for c in pose_components(desc, i) {
            for k in 0..100 {
                let at = base + Duration(k * 1_000_000);
                match d.pose(&c, at) {
                    Ok(p) => {
                        n += 1;
                        if (p.pose.orientation.length() - 1.0).abs() > 1e-4 {
                            renormalised += 1;
                        }
                        if let Err(e) = sanitize::tracked_pose(p, None) {
                            problems.push(format!("device {i} {c}: {e} (query {k})"));
                            break;
                        }
                    }
                    Err(DriverError::Disconnected) => break,
                    Err(e) => {
                        r.note(&e);
                        problems.push(format!("device {i} {c}: {e}"));
                        break;
                    }
                }
            }
        }
    }
    r.add(
        "pose-values",
        if !problems.is_empty() {
            Outcome::Fail(problems.join("; "))
        } else if renormalised > 0 {
            Outcome::Warn(format!(
                "{renormalised} of {n} quaternions were not unit length (renormalised at the boundary)"
            ))
        } else {
            Outcome::Pass(format!("{n} poses finite with unit quaternions"))
        },
    );
}

fn check_pose_timing(r: &mut Report, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let mut n = 0;
    for (i, d) in devices(sys) {
        let desc = d.description();
        for c in pose_components(desc, i) {
            let mut last: Option<parallax_sdk::types::TrackedPose> = None;
            for k in 0..200 {
                let now = Time::now();
                // Predict a little ahead, the way xrWaitFrame's display times do.
                let at = now + Duration(10_000_000 + (k % 3) * 1_000_000);
                let p = match d.pose(&c, at) {
                    Ok(p) => p,
                    Err(DriverError::Disconnected) => break,
                    Err(e) => {
                        r.note(&e);
                        problems.push(format!("device {i} {c}: {e}"));
                        break;
                    }
                };
                n += 1;
                if p.time.0 <= 0 {
                    problems.push(format!(
                        "device {i} {c}: sample time {} is not a CLOCK_MONOTONIC time",
                        p.time.0
                    ));
                    break;
                }
                if p.time > Time::now() + Duration(1_000_000) {
                    problems.push(format!(
                        "device {i} {c}: sample time is {:.1} ms in the future (a sample time is when the data was measured)",
                        (p.time.0 - Time::now().0) as f64 * 1e-6
                    ));
                    break;
                }
                if let Some(prev) = last {
                    if p.time < prev.time {
                        problems.push(format!(
                            "device {i} {c}: sample timestamp went backwards by {} ns (call {k})",
                            prev.time.0 - p.time.0
                        ));
                        break;
                    }
                }
                last = Some(p);
            }
            // Prediction continuity: 1 ms apart, poses move at most 20 m/s
            // and 50 rad/s.
            let t = Time::now() + Duration(20_000_000);
            if let (Ok(a), Ok(b)) = (d.pose(&c, t), d.pose(&c, t + Duration(1_000_000))) {
                let dp = (b.pose.position - a.pose.position).length();
                let da = a
                    .pose
                    .orientation
                    .normalize()
                    .angle_between(b.pose.orientation.normalize());
                if dp.is_finite() && da.is_finite() && (dp > 0.02 || da > 0.05) {
                    problems.push(format!(
                        "device {i} {c}: prediction jumps {:.1} cm / {:.2} rad within 1 ms",
                        dp * 100.0,
                        da
                    ));
                }
            }
        }
    }
    r.add(
        "pose-timing",
        if problems.is_empty() {
            Outcome::Pass(format!(
                "{n} samples with monotonic timestamps, predictions continuous"
            ))
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

fn check_inputs(r: &mut Report, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let mut n = 0;
    for (i, d) in devices(sys) {
        let desc = d.description();
        let mut vals = vec![None; desc.inputs.len()];
        for _ in 0..20 {
            if let Err(e) = d.read_inputs(&mut vals) {
                r.note(&e);
                problems.push(format!("device {i}: read_inputs: {e}"));
                break;
            }
            for (v, c) in vals.iter().zip(&desc.inputs) {
                let Some(v) = v else { continue };
                n += 1;
                let kind_ok = matches!(
                    (v, c.kind),
                    (parallax_sdk::InputValue::Boolean(_), InputKind::Boolean)
                        | (parallax_sdk::InputValue::Float(_), InputKind::Float)
                        | (parallax_sdk::InputValue::Vector2(_), InputKind::Vector2)
                );
                if !kind_ok {
                    problems.push(format!(
                        "device {i} {}: value {v:?} is not a {:?}",
                        c.path, c.kind
                    ));
                } else if let Err(e) = sanitize::input(*v) {
                    problems.push(format!("device {i} {}: {e}", c.path));
                }
            }
            if !problems.is_empty() {
                break;
            }
        }
    }
    r.add(
        "inputs",
        if problems.is_empty() {
            Outcome::Pass(format!("{n} values of the declared kinds, in range"))
        } else {
            problems.dedup();
            Outcome::Fail(problems.join("; "))
        },
    );
}

/// Devices that claim hand tracking: 100 samples over a second per hand,
/// each active sample with finite positions, unit quaternions and positive
/// radii, and every bone (consecutive joints of a finger) keeping its length
/// within 2 mm: a user's bones do not grow.
fn check_hand_joints(r: &mut Report, sys: &SystemDevices) {
    use parallax_sdk::types::Hand;
    let mut problems = Vec::new();
    let (mut hands, mut samples) = (0, 0);
    let mut worst_drift = 0f32;
    let base = Time::now();
    for (i, d) in devices(sys) {
        let desc = d.description();
        if !desc.capabilities.hand_tracking {
            continue;
        }
        let which: &[Hand] = match desc.role {
            DeviceRole::LeftHand => &[Hand::Left],
            DeviceRole::RightHand => &[Hand::Right],
            _ => &[Hand::Left, Hand::Right],
        };
        for &hand in which {
            hands += 1;
            let mut lengths: Option<Vec<f32>> = None;
            for k in 0..100 {
                let at = base + Duration(k * 10_000_000);
                let j = match d.hand_joints(hand, at) {
                    Ok(j) => j,
                    Err(DriverError::Disconnected) => break,
                    Err(e) => {
                        r.note(&e);
                        problems.push(format!("device {i} {hand:?} hand: {e}"));
                        break;
                    }
                };
                if !j.active {
                    continue;
                }
                samples += 1;
                let sound = |x: &parallax_sdk::types::HandJoint| {
                    x.pose.position.is_finite()
                        && x.pose.orientation.is_finite()
                        && (x.pose.orientation.length() - 1.0).abs() <= 1e-3
                        && x.radius.is_finite()
                        && x.radius > 0.0
                };
                let bad = j.joints.iter().position(|x| !sound(x));
                if let Some(b) = bad {
                    problems.push(format!(
                        "device {i} {hand:?} hand, sample {k}: joint {b} is not finite, not unit or has no radius"
                    ));
                    break;
                }
                // Bones: wrist-free finger chains, XrHandJointEXT 2..=5, 6..=10, ...
                let chains: [&[usize]; 5] = [
                    &[2, 3, 4, 5],
                    &[6, 7, 8, 9, 10],
                    &[11, 12, 13, 14, 15],
                    &[16, 17, 18, 19, 20],
                    &[21, 22, 23, 24, 25],
                ];
                let now: Vec<f32> = chains
                    .iter()
                    .flat_map(|c| c.windows(2))
                    .map(|w| {
                        j.joints[w[0]]
                            .pose
                            .position
                            .distance(j.joints[w[1]].pose.position)
                    })
                    .collect();
                match &lengths {
                    None => lengths = Some(now),
                    Some(first) => {
                        let drift = first
                            .iter()
                            .zip(&now)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0f32, f32::max);
                        worst_drift = worst_drift.max(drift);
                    }
                }
            }
        }
    }
    r.add(
        "hand-joints",
        if !problems.is_empty() {
            Outcome::Fail(problems.join("; "))
        } else if hands == 0 {
            Outcome::Skip("no device claims hand tracking".into())
        } else if worst_drift > 0.002 {
            Outcome::Fail(format!(
                "bone lengths change by up to {:.1} mm over a second",
                worst_drift * 1e3
            ))
        } else {
            Outcome::Pass(format!(
                "{hands} hands, {samples} active samples: finite, unit quaternions, radii > 0, bones within {:.2} mm",
                worst_drift * 1e3
            ))
        },
    );
}

/// Devices that claim face expressions: 100 samples over a second, each
/// valid one with 52 finite weights in [0, 1] and its time set, and the
/// face not frozen (some weight changes) when samples are valid.
fn check_face_expressions(r: &mut Report, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let (mut faces, mut valid, mut moving) = (0, 0, 0);
    let base = Time::now();
    for (i, d) in devices(sys) {
        if !d.description().capabilities.face_expressions {
            continue;
        }
        faces += 1;
        let mut first: Option<[f32; parallax_sdk::types::FACE_EXPRESSION_COUNT]> = None;
        let mut changed = false;
        for k in 0..100 {
            let at = base + Duration(k * 10_000_000);
            let f = match d.face_expressions(at) {
                Ok(f) => f,
                Err(DriverError::Disconnected) => break,
                Err(e) => {
                    r.note(&e);
                    problems.push(format!("device {i} face: {e}"));
                    break;
                }
            };
            if !f.valid {
                continue;
            }
            valid += 1;
            if let Some(w) = f.weights.iter().position(|w| !(0.0..=1.0).contains(w)) {
                problems.push(format!(
                    "device {i} face, sample {k}: weight {w} ({}) is {} (not in [0, 1])",
                    parallax_sdk::types::FACE_EXPRESSION_NAMES[w],
                    f.weights[w]
                ));
                break;
            }
            if f.time.0 <= 0 {
                problems.push(format!("device {i} face, sample {k}: no time"));
                break;
            }
            match &first {
                None => first = Some(f.weights),
                Some(w) => changed |= *w != f.weights,
            }
        }
        moving += usize::from(changed);
    }
    r.add(
        "face-expressions",
        if !problems.is_empty() {
            Outcome::Fail(problems.join("; "))
        } else if faces == 0 {
            Outcome::Skip("no device claims face expressions".into())
        } else if valid == 0 {
            Outcome::Warn(format!("{faces} faces, but no valid sample over a second"))
        } else {
            Outcome::Pass(format!(
                "{faces} faces, {valid} valid samples: 52 weights in [0, 1], timed; {moving} of them moving"
            ))
        },
    );
}

/// Devices that claim eye gaze: 100 samples over a second, each valid one
/// with a finite `head_from_gaze` (unit quaternion, origin within 20 cm of
/// the head's), openness in [0, 1] and its time set.
fn check_eye_gaze(r: &mut Report, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let (mut eyes, mut valid) = (0, 0);
    let base = Time::now();
    for (i, d) in devices(sys) {
        if !d.description().capabilities.eye_gaze {
            continue;
        }
        eyes += 1;
        for k in 0..100 {
            let at = base + Duration(k * 10_000_000);
            let g = match d.eye_gaze(at) {
                Ok(g) => g,
                Err(DriverError::Disconnected) => break,
                Err(e) => {
                    r.note(&e);
                    problems.push(format!("device {i} gaze: {e}"));
                    break;
                }
            };
            if !g.valid {
                continue;
            }
            valid += 1;
            let q = g.gaze.orientation;
            let p = g.gaze.position;
            let bad = if !(q.is_finite() && p.is_finite()) {
                Some("a non-finite pose".to_string())
            } else if (q.length() - 1.0).abs() > 1e-3 {
                Some(format!("a quaternion of length {}", q.length()))
            } else if p.length() > 0.2 {
                Some(format!("an origin {:.3} m from the head's", p.length()))
            } else if !g.openness.iter().all(|o| (0.0..=1.0).contains(o)) {
                Some(format!("openness {:?} (not in [0, 1])", g.openness))
            } else if g.time.0 <= 0 {
                Some("no time".into())
            } else {
                None
            };
            if let Some(b) = bad {
                problems.push(format!("device {i} gaze, sample {k}: {b}"));
                break;
            }
        }
    }
    r.add(
        "eye-gaze",
        if !problems.is_empty() {
            Outcome::Fail(problems.join("; "))
        } else if eyes == 0 {
            Outcome::Skip("no device claims eye gaze".into())
        } else if valid == 0 {
            Outcome::Warn(format!("{eyes} eye trackers, but no valid sample over a second"))
        } else {
            Outcome::Pass(format!(
                "{eyes} eye trackers, {valid} valid samples: unit gaze near the head, openness in [0, 1], timed"
            ))
        },
    );
}

/// Devices that claim body tracking: 100 samples over a second, each
/// active one with a confidence in [0, 1], its time set, every valid joint
/// finite with a unit quaternion, the bones (parent to child) keeping their
/// lengths within 1 cm, and the head joint within 30 cm of the headset.
fn check_body_joints(r: &mut Report, sys: &SystemDevices) {
    use parallax_sdk::types::{BODY_JOINT_COUNT, BODY_JOINT_NAMES, BODY_JOINT_PARENTS};
    let mut problems = Vec::new();
    let (mut bodies, mut active) = (0, 0);
    let mut worst_drift = 0.0f32;
    let base = Time::now();
    for (i, d) in devices(sys) {
        if !d.description().capabilities.body_tracking {
            continue;
        }
        bodies += 1;
        let mut bones: Option<[f32; BODY_JOINT_COUNT]> = None;
        for k in 0..100 {
            let at = base + Duration(k * 10_000_000);
            let b = match d.body_joints(at) {
                Ok(b) => b,
                Err(DriverError::Disconnected) => break,
                Err(e) => {
                    r.note(&e);
                    problems.push(format!("device {i} body: {e}"));
                    break;
                }
            };
            if !b.active {
                continue;
            }
            active += 1;
            let bad_joint = b.joints.iter().enumerate().find_map(|(j, joint)| {
                let (q, p) = (joint.pose.orientation, joint.pose.position);
                if !joint.pose_valid {
                    None
                } else if !(q.is_finite() && p.is_finite()) {
                    Some(format!("{} has a non-finite pose", BODY_JOINT_NAMES[j]))
                } else if (q.length() - 1.0).abs() > 1e-3 {
                    Some(format!(
                        "{} has a quaternion of length {}",
                        BODY_JOINT_NAMES[j],
                        q.length()
                    ))
                } else {
                    None
                }
            });
            let head = sys.hmd.pose("head", at).ok().map(|p| p.pose.position);
            let head_joint = &b.joints[parallax_sdk::body::joint::HEAD];
            let bad = if !(0.0..=1.0).contains(&b.confidence) {
                Some(format!("confidence {} (not in [0, 1])", b.confidence))
            } else if b.time.0 <= 0 {
                Some("no time".into())
            } else if bad_joint.is_some() {
                bad_joint
            } else if let (Some(h), true) = (head, head_joint.pose_valid) {
                let off = (head_joint.pose.position - h).length();
                (off > 0.3).then(|| format!("the head joint is {off:.2} m from the headset"))
            } else {
                None
            };
            if let Some(bad) = bad {
                problems.push(format!("device {i} body, sample {k}: {bad}"));
                break;
            }
            let mut lengths = [0.0; BODY_JOINT_COUNT];
            for (j, parent) in BODY_JOINT_PARENTS.iter().enumerate() {
                if let Some(p) = parent {
                    if b.joints[j].pose_valid && b.joints[*p].pose_valid && *p != 0 {
                        lengths[j] =
                            (b.joints[j].pose.position - b.joints[*p].pose.position).length();
                    }
                }
            }
            match &bones {
                None => bones = Some(lengths),
                Some(first) => {
                    for (a, b) in first.iter().zip(&lengths) {
                        worst_drift = worst_drift.max((a - b).abs());
                    }
                }
            }
        }
    }
    r.add(
        "body-joints",
        if !problems.is_empty() {
            Outcome::Fail(problems.join("; "))
        } else if bodies == 0 {
            Outcome::Skip("no device claims body tracking".into())
        } else if active == 0 {
            Outcome::Warn(format!("{bodies} bodies, but no active sample over a second"))
        } else if worst_drift > 0.01 {
            Outcome::Fail(format!(
                "bone lengths change by up to {:.1} mm over a second",
                worst_drift * 1e3
            ))
        } else {
            Outcome::Pass(format!(
                "{bodies} bodies, {active} active samples: finite, unit quaternions, head joint at the headset, bones within {:.2} mm",
                worst_drift * 1e3
            ))
        },
    );
}

fn check_haptics(r: &mut Report, b: &AbiBuilder, sys: &SystemDevices) {
    let mut problems = Vec::new();
    let mut n = 0;
    let v = Vibration {
        duration: Duration(20_000_000),
        frequency: 0.0,
        amplitude: 0.5,
    };
    for (i, d) in devices(sys) {
        let desc = d.description();
        for (k, o) in desc.outputs.iter().enumerate() {
            n += 1;
            if let Err(e) = d.set_vibration(&o.path, Some(v)) {
                r.note(&e);
                problems.push(format!("device {i} {}: start: {e}", o.path));
            }
            if let Err(e) = d.set_vibration(&o.path, None) {
                r.note(&e);
                problems.push(format!("device {i} {}: stop: {e}", o.path));
            }
            let _ = k;
        }
        let code = b
            .raw()
            .set_vibration(i as u32, desc.outputs.len() as u32 + 3, Some(&v));
        if code == PxResult::Success as i32 {
            problems.push(format!(
                "device {i}: set_vibration on output {} (which does not exist) succeeded",
                desc.outputs.len() + 3
            ));
        }
    }
    r.add(
        "haptics",
        if problems.is_empty() {
            Outcome::Pass(format!(
                "{n} outputs start and stop; unknown outputs refused"
            ))
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

fn check_refresh(r: &mut Report, b: &AbiBuilder, sys: &SystemDevices) {
    let rates = sys.hmd.display().refresh_rates_hz.clone();
    let raw = b.raw();
    let mut problems = Vec::new();
    let (code, now) = raw.get_refresh_rate();
    if code != 0 {
        problems.push(format!("get_refresh_rate returned {}", result_name(code)));
    } else if !rates.contains(&now) {
        problems.push(format!(
            "get_refresh_rate reports {now} Hz, which the display does not offer ({rates:?})"
        ));
    }
    for &hz in &rates {
        let code = raw.set_refresh_rate(hz);
        let (gc, got) = raw.get_refresh_rate();
        if code != 0 || gc != 0 || got != hz {
            problems.push(format!(
                "set {hz} Hz: {} then get: {} {got} Hz",
                result_name(code),
                result_name(gc)
            ));
        }
    }
    let code = raw.set_refresh_rate(1.0);
    if code == 0 {
        problems.push("set_refresh_rate(1 Hz), which is not offered, succeeded".into());
    }
    let _ = raw.set_refresh_rate(rates[0]);
    r.add(
        "refresh-rate",
        if problems.is_empty() {
            Outcome::Pass(format!(
                "{} rates switch and read back; unoffered rates refused",
                rates.len()
            ))
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

fn check_disconnect(r: &mut Report, b: &AbiBuilder, sys: &SystemDevices) {
    let raw = b.raw();
    let mut problems = Vec::new();
    let mut disconnected = 0;
    for (i, d) in devices(sys) {
        let code = raw.is_connected(i as u32);
        match PxResult::from_code(code) {
            Some(PxResult::Success) => {}
            Some(PxResult::ErrorDisconnected) => {
                disconnected += 1;
                for c in pose_components(d.description(), i) {
                    let (pc, p) = raw.get_pose(i as u32, &c, Time::now().0);
                    let flags = PX_POSE_ORIENTATION_VALID | PX_POSE_POSITION_VALID;
                    if pc == 0 && p.flags & flags != 0 {
                        problems.push(format!(
                            "device {i} is disconnected but {c} returns a valid pose"
                        ));
                    }
                }
            }
            _ => problems.push(format!(
                "device {i}: is_connected returned {} (expected SUCCESS or ERROR_DISCONNECTED)",
                result_name(code)
            )),
        }
    }
    r.add(
        "disconnect",
        if problems.is_empty() {
            Outcome::Pass(format!(
                "{} devices report their connection ({disconnected} disconnected, none with valid poses)",
                sys.devices.len() + 1
            ))
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

fn check_robustness(r: &mut Report, b: &AbiBuilder, sys: &SystemDevices) {
    let raw = b.raw();
    let bad = sys.devices.len() as u32 + 7;
    let mut problems = Vec::new();
    let (code, _) = raw.get_pose(bad, "head", Time::now().0);
    if code != PxResult::ErrorInvalidArgument as i32 {
        problems.push(format!(
            "get_pose(device {bad}) returned {}, expected ErrorInvalidArgument",
            result_name(code)
        ));
    }
    let (code, _) = raw.get_pose(0, "input/does_not_exist/pose", Time::now().0);
    if code != PxResult::ErrorNoSuchComponent as i32 {
        problems.push(format!(
            "get_pose of an unknown component returned {}, expected ErrorNoSuchComponent",
            result_name(code)
        ));
    }
    let code = raw.is_connected(bad);
    if code != PxResult::ErrorInvalidArgument as i32 {
        problems.push(format!(
            "is_connected(device {bad}) returned {}, expected ErrorInvalidArgument",
            result_name(code)
        ));
    }
    r.add(
        "robustness",
        if problems.is_empty() {
            Outcome::Pass(
                "bad device indices and unknown components are refused with the right codes".into(),
            )
        } else {
            Outcome::Fail(problems.join("; "))
        },
    );
}

/// Prints the report; returns whether every check passed (warnings pass).
pub fn print(path: &Path, name: Option<&str>, checks: &[Check]) -> bool {
    println!("driver-check {}", path.display());
    let (mut pass, mut warn, mut fail, mut skip) = (0, 0, 0, 0);
    for c in checks {
        let (tag, msg) = match &c.outcome {
            Outcome::Pass(m) => {
                pass += 1;
                ("PASS", m)
            }
            Outcome::Warn(m) => {
                warn += 1;
                ("WARN", m)
            }
            Outcome::Fail(m) => {
                fail += 1;
                ("FAIL", m)
            }
            Outcome::Skip(m) => {
                skip += 1;
                ("SKIP", m)
            }
        };
        println!("  {tag} {:<13} {msg}", c.name);
    }
    println!("result: {pass} passed, {warn} warnings, {fail} failed, {skip} skipped");
    if let (0, Some(name)) = (fail, name) {
        println!(
            "next: run hello_xr on it: PARALLAX_DRIVER_PATH={} PARALLAX_DRIVER={name} parallax run -- hello_xr -g Vulkan2",
            path.display()
        );
    }
    fail == 0
}
