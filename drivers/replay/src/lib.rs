//! Record a session from any driver, and play it back as a driver.
//!
//! # File format (`.pxrec`, version 1)
//! UTF-8 JSON Lines. The first line is the header:
//! ```json
//! {"format":"parallax-recording","version":1,"driver":"simulated",
//!  "system":{"name":"…","vendor_id":20568,"play_area":[3.0,2.5]},
//!  "display":{…DisplayInfo…},
//!  "devices":[{"name":"…","serial":"…","role":"head","interaction_profile":null,
//!              "inputs":[{"path":"input/trigger/value","kind":"float"}],
//!              "outputs":["output/haptic"],"poses":["head"]}],
//!  "period_ns":4000000}
//! ```
//! Device 0 is the headset. Every following line is one sample, `t` being
//! nanoseconds since the recording started:
//! - a pose: `{"t":4000000,"d":1,"c":"input/grip/pose","p":[qx,qy,qz,qw,x,y,z],"v":[lx,ly,lz,ax,ay,az],"f":15}`
//!   (`f`: bits 1 orientation valid, 2 position valid, 4 orientation
//!   tracked, 8 position tracked);
//! - the inputs of a device: `{"t":4000000,"d":1,"i":[false,0.5,[0.0,1.0],null]}`,
//!   one value per input of the header in order (`null` for pose inputs or
//!   no value);
//! - face expression weights of a device whose header says `"face":true`:
//!   `{"t":4000000,"d":0,"fx":[52 ARKit-order weights],"ok":true}`;
//! - eye gaze of a device whose header says `"gaze":true`:
//!   `{"t":4000000,"d":0,"g":[qx,qy,qz,qw,x,y,z],"o":[left,right],"ok":true}`
//!   (`head_from_gaze` and each eye's openness);
//! - the upper body of a device whose header says `"body":true`:
//!   `{"t":4000000,"d":0,"b":[18 × qx,qy,qz,qw,x,y,z],"bf":[18 flags],"cf":1.0,"ok":true}`
//!   (joints in `BODY_JOINT_NAMES` order; flags as for poses; `cf` the
//!   confidence, `ok` whether the body is active).
//!
//! Face, gaze and body lines were added within version 1: readers that
//! predate them skip them, as every unknown line, and ignore the header
//! fields.
//!
//! Floats are written in the shortest form that reads back to the same
//! `f32`, so a replay reproduces the recorded numbers exactly. Samples are
//! in time order; lines a reader does not know are skipped (later versions
//! add camera frames).
//!
//! # Playback
//! The recording starts when the system is opened. A pose asked for at a
//! recorded instant is that sample exactly; between samples it is
//! interpolated (linear position and velocity, spherical orientation);
//! beyond the end it holds the last sample, or wraps when looping. The
//! reported sample time is the newest recorded sample already played, so it
//! never goes backwards.

use glam::{Quat, Vec2, Vec3};
use parallax_sdk::types::{
    BodyJoint, BodyJoints, DisplayInfo, Duration, EyeGaze, FaceExpressions, Pose, Time,
    TrackedPose, Velocity, BODY_JOINT_COUNT, FACE_EXPRESSION_COUNT,
};
use parallax_sdk::{
    Builder, Capabilities, Device, DeviceDescription, DeviceRole, DriverError, Estimate, Hmd,
    InputComponent, InputKind, InputValue, OutputComponent, SystemDevices, Vibration,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const FORMAT: &str = "parallax-recording";
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {msg}")]
    Format { line: usize, msg: String },
    #[error("driver: {0}")]
    Driver(#[from] DriverError),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemHeader {
    pub name: String,
    pub vendor_id: u32,
    pub play_area: Option<(f32, f32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputHeader {
    pub path: String,
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceHeader {
    pub name: String,
    pub serial: String,
    pub role: String,
    pub interaction_profile: Option<String>,
    pub inputs: Vec<InputHeader>,
    pub outputs: Vec<String>,
    /// Pose components recorded for this device.
    pub poses: Vec<String>,
    /// Face expression weights are recorded for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub face: bool,
    /// Eye gaze is recorded for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gaze: bool,
    /// The upper body is recorded for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub driver: String,
    pub system: SystemHeader,
    pub display: DisplayInfo,
    pub devices: Vec<DeviceHeader>,
    /// Nominal time between samples.
    pub period_ns: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PoseLine {
    t: i64,
    d: usize,
    c: String,
    p: [f32; 7],
    v: [f32; 6],
    f: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct FaceLine {
    t: i64,
    d: usize,
    fx: Vec<f32>,
    ok: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BodyLine {
    t: i64,
    d: usize,
    b: Vec<f32>,
    bf: Vec<u32>,
    cf: f32,
    ok: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct GazeLine {
    t: i64,
    d: usize,
    g: [f32; 7],
    o: [f32; 2],
    ok: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum JsonValue {
    Bool(bool),
    Float(f32),
    Vec2([f32; 2]),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct InputLine {
    t: i64,
    d: usize,
    i: Vec<Option<JsonValue>>,
}

fn role_name(r: DeviceRole) -> &'static str {
    match r {
        DeviceRole::Head => "head",
        DeviceRole::LeftHand => "left_hand",
        DeviceRole::RightHand => "right_hand",
        DeviceRole::Tracker => "tracker",
    }
}

fn role_from(s: &str) -> Option<DeviceRole> {
    Some(match s {
        "head" => DeviceRole::Head,
        "left_hand" => DeviceRole::LeftHand,
        "right_hand" => DeviceRole::RightHand,
        "tracker" => DeviceRole::Tracker,
        _ => return None,
    })
}

fn kind_name(k: InputKind) -> &'static str {
    match k {
        InputKind::Boolean => "boolean",
        InputKind::Float => "float",
        InputKind::Vector2 => "vector2",
        InputKind::Pose => "pose",
    }
}

fn kind_from(s: &str) -> Option<InputKind> {
    Some(match s {
        "boolean" => InputKind::Boolean,
        "float" => InputKind::Float,
        "vector2" => InputKind::Vector2,
        "pose" => InputKind::Pose,
        _ => return None,
    })
}

fn flags(p: &TrackedPose) -> u32 {
    p.orientation_valid as u32
        | (p.position_valid as u32) << 1
        | (p.orientation_tracked as u32) << 2
        | (p.position_tracked as u32) << 3
}

/// Writes a recording of an opened system.
pub struct Recorder<W: Write> {
    out: W,
    devices: Vec<Arc<dyn Device>>,
    poses: Vec<Vec<String>>,
    values: Vec<Option<InputValue>>,
    pub samples: u64,
}

impl<W: Write> Recorder<W> {
    /// Writes the header. `period` is the nominal sample spacing.
    pub fn new(
        mut out: W,
        driver: &str,
        system: &SystemDevices,
        period: Duration,
    ) -> Result<Self, RecordingError> {
        let mut devices: Vec<Arc<dyn Device>> = vec![system.hmd.clone()];
        devices.extend(system.devices.iter().cloned());
        let mut headers = Vec::new();
        let mut poses = Vec::new();
        for d in &devices {
            let desc = d.description();
            let mut p: Vec<String> = desc
                .inputs
                .iter()
                .filter(|c| c.kind == InputKind::Pose)
                .map(|c| c.path.clone())
                .collect();
            if desc.role == DeviceRole::Head {
                p.insert(0, "head".into());
            }
            headers.push(DeviceHeader {
                name: desc.name.clone(),
                serial: desc.serial.clone(),
                role: role_name(desc.role).into(),
                interaction_profile: desc.interaction_profile.clone(),
                inputs: desc
                    .inputs
                    .iter()
                    .map(|c| InputHeader {
                        path: c.path.clone(),
                        kind: kind_name(c.kind).into(),
                    })
                    .collect(),
                outputs: desc.outputs.iter().map(|o| o.path.clone()).collect(),
                poses: p.clone(),
                face: desc.capabilities.face_expressions,
                gaze: desc.capabilities.eye_gaze,
                body: desc.capabilities.body_tracking,
            });
            poses.push(p);
        }
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            driver: driver.into(),
            system: SystemHeader {
                name: system.system_name.clone(),
                vendor_id: system.vendor_id,
                play_area: system.play_area.map(|a| (a.width, a.depth)),
            },
            display: system.hmd.display().clone(),
            devices: headers,
            period_ns: period.0,
        };
        serde_json::to_writer(&mut out, &header).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(Self {
            out,
            devices,
            poses,
            values: Vec::new(),
            samples: 0,
        })
    }

    /// Records every pose and input of every device as the driver reports
    /// it for `at`, stamped `t` (nanoseconds since the recording started).
    /// Poses the driver cannot give now are skipped.
    pub fn sample(&mut self, at: Time, t: i64) -> Result<(), RecordingError> {
        for (d, dev) in self.devices.iter().enumerate() {
            for c in &self.poses[d] {
                let Ok(p) = dev.pose(c, at) else { continue };
                let Ok(p) = parallax_sdk::sanitize::tracked_pose(p, None) else {
                    continue;
                };
                let (q, x, v) = (p.pose.orientation, p.pose.position, p.velocity);
                let line = PoseLine {
                    t,
                    d,
                    c: c.clone(),
                    p: [q.x, q.y, q.z, q.w, x.x, x.y, x.z],
                    v: [
                        v.linear.x,
                        v.linear.y,
                        v.linear.z,
                        v.angular.x,
                        v.angular.y,
                        v.angular.z,
                    ],
                    f: flags(&p),
                };
                serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
                self.out.write_all(b"\n")?;
            }
            let desc = dev.description();
            if desc.capabilities.face_expressions {
                if let Ok(f) = dev
                    .face_expressions(at)
                    .and_then(|f| parallax_sdk::sanitize::face_expressions(f).map_err(Into::into))
                {
                    let line = FaceLine {
                        t,
                        d,
                        fx: f.weights.to_vec(),
                        ok: f.valid,
                    };
                    serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
                    self.out.write_all(b"\n")?;
                }
            }
            if desc.capabilities.eye_gaze {
                if let Ok(g) = dev.eye_gaze(at) {
                    if let Ok(pose) = parallax_sdk::sanitize::pose(g.gaze) {
                        let (q, x) = (pose.orientation, pose.position);
                        let line = GazeLine {
                            t,
                            d,
                            g: [q.x, q.y, q.z, q.w, x.x, x.y, x.z],
                            o: g.openness,
                            ok: g.valid,
                        };
                        serde_json::to_writer(&mut self.out, &line)
                            .map_err(std::io::Error::from)?;
                        self.out.write_all(b"\n")?;
                    }
                }
            }
            if desc.capabilities.body_tracking {
                if let Ok(b) = dev
                    .body_joints(at)
                    .and_then(|b| parallax_sdk::sanitize::body_joints(b).map_err(Into::into))
                {
                    let line = BodyLine {
                        t,
                        d,
                        b: b.joints
                            .iter()
                            .flat_map(|j| {
                                let (q, x) = (j.pose.orientation, j.pose.position);
                                [q.x, q.y, q.z, q.w, x.x, x.y, x.z]
                            })
                            .collect(),
                        bf: b
                            .joints
                            .iter()
                            .map(|j| (j.pose_valid as u32) * 3 + (j.pose_tracked as u32) * 12)
                            .collect(),
                        cf: b.confidence,
                        ok: b.active,
                    };
                    serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
                    self.out.write_all(b"\n")?;
                }
            }
            if desc.inputs.iter().any(|c| c.kind != InputKind::Pose) {
                self.values.clear();
                self.values.resize(desc.inputs.len(), None);
                if dev.read_inputs(&mut self.values).is_ok() {
                    let line = InputLine {
                        t,
                        d,
                        i: self
                            .values
                            .iter()
                            .map(|v| {
                                v.map(|v| match v {
                                    InputValue::Boolean(b) => JsonValue::Bool(b),
                                    InputValue::Float(f) => JsonValue::Float(f),
                                    InputValue::Vector2(v) => JsonValue::Vec2([v.x, v.y]),
                                })
                            })
                            .collect(),
                    };
                    serde_json::to_writer(&mut self.out, &line).map_err(std::io::Error::from)?;
                    self.out.write_all(b"\n")?;
                }
            }
        }
        self.samples += 1;
        Ok(())
    }

    pub fn finish(mut self) -> Result<W, RecordingError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One recorded pose.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PoseSample {
    pub t: i64,
    pub pose: Pose,
    pub velocity: Velocity,
    pub flags: u32,
}

/// A recording read into memory.
#[derive(Clone, Debug)]
pub struct Recording {
    pub header: Header,
    /// Per device, per pose component (header order): samples by time.
    pub poses: Vec<Vec<Vec<PoseSample>>>,
    /// Per device: input snapshots by time.
    pub inputs: Vec<Vec<(i64, Vec<Option<InputValue>>)>>,
    /// Per device: face expression weights by time.
    pub faces: Vec<Vec<(i64, FaceExpressions)>>,
    /// Per device: eye gaze by time.
    pub gazes: Vec<Vec<(i64, EyeGaze)>>,
    /// Per device: the upper body by time.
    pub bodies: Vec<Vec<(i64, BodyJoints)>>,
    /// Time of the last sample.
    pub end: i64,
}

impl Recording {
    pub fn read(path: &Path) -> Result<Self, RecordingError> {
        let f = std::fs::File::open(path)?;
        Self::from_reader(std::io::BufReader::new(f))
    }

    pub fn from_reader(r: impl BufRead) -> Result<Self, RecordingError> {
        let mut lines = r.lines().enumerate();
        let err = |line: usize, msg: String| RecordingError::Format {
            line: line + 1,
            msg,
        };
        let (_, first) = lines.next().ok_or_else(|| err(0, "empty file".into()))?;
        let header: Header =
            serde_json::from_str(&first?).map_err(|e| err(0, format!("header: {e}")))?;
        if header.format != FORMAT {
            return Err(err(0, format!("not a {FORMAT} file")));
        }
        if header.version != VERSION {
            return Err(err(
                0,
                format!("version {} (this reads {VERSION})", header.version),
            ));
        }
        if header.devices.first().map(|d| d.role.as_str()) != Some("head") {
            return Err(err(0, "device 0 must be the headset".into()));
        }
        for d in &header.devices {
            if role_from(&d.role).is_none() || d.inputs.iter().any(|i| kind_from(&i.kind).is_none())
            {
                return Err(err(
                    0,
                    format!("device {:?}: unknown role or input kind", d.name),
                ));
            }
        }
        let mut poses: Vec<Vec<Vec<PoseSample>>> = header
            .devices
            .iter()
            .map(|d| vec![Vec::new(); d.poses.len()])
            .collect();
        let mut inputs: Vec<Vec<(i64, Vec<Option<InputValue>>)>> =
            vec![Vec::new(); header.devices.len()];
        let mut faces: Vec<Vec<(i64, FaceExpressions)>> = vec![Vec::new(); header.devices.len()];
        let mut gazes: Vec<Vec<(i64, EyeGaze)>> = vec![Vec::new(); header.devices.len()];
        let mut bodies: Vec<Vec<(i64, BodyJoints)>> = vec![Vec::new(); header.devices.len()];
        let mut end = 0i64;
        let mut last_t = i64::MIN;
        for (n, line) in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| err(n, e.to_string()))?;
            let t = v.get("t").and_then(|t| t.as_i64());
            if let Some(t) = t {
                if t < last_t {
                    return Err(err(n, format!("time {t} goes backwards")));
                }
                last_t = t;
                end = end.max(t);
            }
            if v.get("c").is_some() {
                let p: PoseLine = serde_json::from_value(v).map_err(|e| err(n, e.to_string()))?;
                let dev = header
                    .devices
                    .get(p.d)
                    .ok_or_else(|| err(n, format!("no device {}", p.d)))?;
                let ci = dev
                    .poses
                    .iter()
                    .position(|c| *c == p.c)
                    .ok_or_else(|| err(n, format!("device {} has no pose {}", p.d, p.c)))?;
                poses[p.d][ci].push(PoseSample {
                    t: p.t,
                    pose: Pose::new(
                        Quat::from_xyzw(p.p[0], p.p[1], p.p[2], p.p[3]),
                        Vec3::new(p.p[4], p.p[5], p.p[6]),
                    ),
                    velocity: Velocity {
                        linear: Vec3::new(p.v[0], p.v[1], p.v[2]),
                        angular: Vec3::new(p.v[3], p.v[4], p.v[5]),
                    },
                    flags: p.f,
                });
            } else if v.get("i").is_some() {
                let l: InputLine = serde_json::from_value(v).map_err(|e| err(n, e.to_string()))?;
                let dev = header
                    .devices
                    .get(l.d)
                    .ok_or_else(|| err(n, format!("no device {}", l.d)))?;
                if l.i.len() != dev.inputs.len() {
                    return Err(err(
                        n,
                        format!("{} input values for {} inputs", l.i.len(), dev.inputs.len()),
                    ));
                }
                let vals =
                    l.i.iter()
                        .zip(&dev.inputs)
                        .map(|(v, c)| match (v, kind_from(&c.kind)) {
                            (Some(JsonValue::Bool(b)), Some(InputKind::Boolean)) => {
                                Some(InputValue::Boolean(*b))
                            }
                            (Some(JsonValue::Float(f)), Some(InputKind::Float)) => {
                                Some(InputValue::Float(*f))
                            }
                            (Some(JsonValue::Vec2([x, y])), Some(InputKind::Vector2)) => {
                                Some(InputValue::Vector2(Vec2::new(*x, *y)))
                            }
                            _ => None,
                        })
                        .collect();
                inputs[l.d].push((l.t, vals));
            } else if v.get("fx").is_some() {
                let l: FaceLine = serde_json::from_value(v).map_err(|e| err(n, e.to_string()))?;
                if !header.devices.get(l.d).is_some_and(|d| d.face) {
                    return Err(err(n, format!("device {} records no face", l.d)));
                }
                let weights: [f32; FACE_EXPRESSION_COUNT] =
                    l.fx.as_slice().try_into().map_err(|_| {
                        err(
                            n,
                            format!(
                                "{} face weights (ARKit has {FACE_EXPRESSION_COUNT})",
                                l.fx.len()
                            ),
                        )
                    })?;
                let f = parallax_sdk::sanitize::face_expressions(FaceExpressions {
                    time: Time(0),
                    valid: l.ok,
                    weights,
                })
                .map_err(|r| err(n, r.to_string()))?;
                faces[l.d].push((l.t, f));
            } else if v.get("g").is_some() {
                let l: GazeLine = serde_json::from_value(v).map_err(|e| err(n, e.to_string()))?;
                if !header.devices.get(l.d).is_some_and(|d| d.gaze) {
                    return Err(err(n, format!("device {} records no gaze", l.d)));
                }
                // Recorded already checked; read back exactly (a second
                // renormalisation could move the last bit).
                let pose = Pose::new(
                    Quat::from_xyzw(l.g[0], l.g[1], l.g[2], l.g[3]),
                    Vec3::new(l.g[4], l.g[5], l.g[6]),
                );
                parallax_sdk::sanitize::pose(pose).map_err(|r| err(n, r.to_string()))?;
                if !l.o.iter().all(|o| (0.0..=1.0).contains(o)) {
                    return Err(err(n, format!("eye openness {:?} outside 0..=1", l.o)));
                }
                gazes[l.d].push((
                    l.t,
                    EyeGaze {
                        time: Time(0),
                        valid: l.ok,
                        gaze: pose,
                        openness: l.o,
                    },
                ));
            } else if v.get("b").is_some() {
                let l: BodyLine = serde_json::from_value(v).map_err(|e| err(n, e.to_string()))?;
                if !header.devices.get(l.d).is_some_and(|d| d.body) {
                    return Err(err(n, format!("device {} records no body", l.d)));
                }
                if l.b.len() != 7 * BODY_JOINT_COUNT || l.bf.len() != BODY_JOINT_COUNT {
                    return Err(err(
                        n,
                        format!(
                            "{} body numbers and {} flags (a body has {BODY_JOINT_COUNT} joints)",
                            l.b.len(),
                            l.bf.len()
                        ),
                    ));
                }
                let mut body = BodyJoints {
                    time: Time(0),
                    active: l.ok,
                    confidence: l.cf,
                    joints: [BodyJoint::default(); BODY_JOINT_COUNT],
                };
                for (j, (out, (p, f))) in body
                    .joints
                    .iter_mut()
                    .zip(l.b.chunks_exact(7).zip(&l.bf))
                    .enumerate()
                {
                    if *f & !15 != 0 {
                        return Err(err(n, format!("body joint {j}: flags {f}")));
                    }
                    *out = BodyJoint {
                        pose: Pose::new(
                            Quat::from_xyzw(p[0], p[1], p[2], p[3]),
                            Vec3::new(p[4], p[5], p[6]),
                        ),
                        pose_valid: f & 3 == 3,
                        pose_tracked: f & 12 == 12,
                    };
                }
                // Recorded already checked; checked again, read back
                // exactly (a second renormalisation could move the last bit).
                parallax_sdk::sanitize::body_joints(body).map_err(|r| err(n, r.to_string()))?;
                bodies[l.d].push((l.t, body));
            }
            // Other lines: a later version's samples; skipped.
        }
        Ok(Self {
            header,
            poses,
            inputs,
            faces,
            gazes,
            bodies,
            end,
        })
    }

    /// Length of one loop: the last sample plus one period.
    pub fn duration(&self) -> i64 {
        self.end + self.header.period_ns.max(1)
    }
}

/// Interpolates a pose track at `t`.
fn pose_at(track: &[PoseSample], t: i64) -> Option<(Pose, Velocity, u32)> {
    let i = track.partition_point(|s| s.t <= t);
    if i == 0 {
        return track.first().map(|s| (s.pose, s.velocity, s.flags));
    }
    let a = &track[i - 1];
    if a.t == t || i == track.len() {
        return Some((a.pose, a.velocity, a.flags));
    }
    let b = &track[i];
    let f = (t - a.t) as f32 / (b.t - a.t) as f32;
    Some((
        Pose::new(
            a.pose.orientation.slerp(b.pose.orientation, f),
            a.pose.position.lerp(b.pose.position, f),
        ),
        Velocity {
            linear: a.velocity.linear.lerp(b.velocity.linear, f),
            angular: a.velocity.angular.lerp(b.velocity.angular, f),
        },
        a.flags & b.flags,
    ))
}

/// The samples around `t` and how far between them it is (0 at the
/// first); before the first and after the last, that one twice.
fn bracket<T: Copy>(track: &[(i64, T)], t: i64) -> Option<(T, T, f32)> {
    let i = track.partition_point(|s| s.0 <= t);
    if i == 0 {
        return track.first().map(|s| (s.1, s.1, 0.0));
    }
    let a = &track[i - 1];
    if a.0 == t || i == track.len() {
        return Some((a.1, a.1, 0.0));
    }
    let b = &track[i];
    Some((a.1, b.1, (t - a.0) as f32 / (b.0 - a.0) as f32))
}

/// Plays a recording back.
pub struct ReplayBuilder {
    pub file: PathBuf,
    pub looping: bool,
    /// When playback starts (CLOCK_MONOTONIC ns); `None`: when opened.
    pub start: Option<Time>,
}

impl ReplayBuilder {
    /// From the manifest config `{"file": "...", "loop": true, "start_ns": N}`;
    /// the file defaults to `PARALLAX_REPLAY_FILE`, the start to the moment
    /// the system is opened (`start_ns` lines playback up with other clocks).
    pub fn from_config(config: &str) -> Result<Self, DriverError> {
        let cfg: serde_json::Value = serde_json::from_str(config)
            .map_err(|e| DriverError::InvalidArgument(format!("config is not JSON: {e}")))?;
        let file = cfg
            .get("file")
            .and_then(|f| f.as_str())
            .map(String::from)
            .or_else(|| std::env::var("PARALLAX_REPLAY_FILE").ok())
            .ok_or_else(|| {
                DriverError::InvalidArgument(
                    "no recording: set config.file or PARALLAX_REPLAY_FILE".into(),
                )
            })?;
        Ok(Self {
            file: PathBuf::from(file),
            looping: cfg.get("loop").and_then(|l| l.as_bool()).unwrap_or(true),
            start: cfg.get("start_ns").and_then(|s| s.as_i64()).map(Time),
        })
    }
}

impl Builder for ReplayBuilder {
    fn name(&self) -> &str {
        "replay"
    }

    fn estimate(&self) -> Estimate {
        // Offered only when asked for by name: a replay never wins over live
        // hardware (or the simulated headset) on its own.
        Estimate {
            hmd: self.file.is_file(),
            controllers: 0,
            score: 0,
        }
    }

    fn open(&self) -> Result<SystemDevices, DriverError> {
        let rec = Recording::read(&self.file)
            .map_err(|e| DriverError::OpenFailed(format!("{}: {e}", self.file.display())))?;
        Ok(play(
            Arc::new(rec),
            self.start.unwrap_or_else(Time::now),
            self.looping,
        ))
    }
}

/// The devices of a recording, played from `start`.
pub fn play(rec: Arc<Recording>, start: Time, looping: bool) -> SystemDevices {
    let player = Arc::new(Player {
        rec: rec.clone(),
        start,
        looping,
    });
    let mut devices: Vec<Arc<dyn Device>> = Vec::new();
    for (i, d) in rec.header.devices.iter().enumerate().skip(1) {
        devices.push(Arc::new(ReplayDevice::new(player.clone(), i, d)));
    }
    let h = &rec.header;
    SystemDevices {
        system_name: h.system.name.clone(),
        vendor_id: h.system.vendor_id,
        hmd: Arc::new(ReplayHmd {
            dev: ReplayDevice::new(player.clone(), 0, &h.devices[0]),
            display: h.display.clone(),
            rate: Mutex::new(h.display.refresh_rates_hz[0]),
        }),
        devices,
        play_area: h
            .system
            .play_area
            .map(|(width, depth)| parallax_sdk::types::PlayArea { width, depth }),
        desktop_input: None,
    }
}

struct Player {
    rec: Arc<Recording>,
    start: Time,
    looping: bool,
}

impl Player {
    /// Recording time for a wall-clock time: (loop start, time in loop).
    fn map(&self, at: Time) -> (i64, i64) {
        let rel = at.0 - self.start.0;
        if self.looping && rel >= 0 {
            let d = self.rec.duration();
            let k = rel.div_euclid(d);
            (k * d, rel.rem_euclid(d))
        } else {
            (0, rel)
        }
    }
}

struct ReplayDevice {
    player: Arc<Player>,
    index: usize,
    desc: DeviceDescription,
}

impl ReplayDevice {
    fn new(player: Arc<Player>, index: usize, h: &DeviceHeader) -> Self {
        let desc = DeviceDescription {
            name: h.name.clone(),
            serial: h.serial.clone(),
            role: role_from(&h.role).unwrap_or(DeviceRole::Tracker),
            interaction_profile: h.interaction_profile.clone(),
            inputs: h
                .inputs
                .iter()
                .map(|c| InputComponent {
                    path: c.path.clone(),
                    kind: kind_from(&c.kind).unwrap_or(InputKind::Float),
                })
                .collect(),
            outputs: h
                .outputs
                .iter()
                .map(|p| OutputComponent { path: p.clone() })
                .collect(),
            capabilities: Capabilities {
                face_expressions: h.face,
                eye_gaze: h.gaze,
                body_tracking: h.body,
                ..Capabilities::default()
            },
            cameras: vec![],
        };
        Self {
            player,
            index,
            desc,
        }
    }
}

impl Device for ReplayDevice {
    fn description(&self) -> &DeviceDescription {
        &self.desc
    }

    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        let rec = &self.player.rec;
        let ci = rec.header.devices[self.index]
            .poses
            .iter()
            .position(|c| c == component)
            .ok_or_else(|| DriverError::NoSuchComponent(component.into()))?;
        let track = &rec.poses[self.index][ci];
        let (_, t) = self.player.map(at);
        let (pose, velocity, f) = pose_at(track, t).ok_or(DriverError::Disconnected)?;
        // The newest sample already played (by the wall clock).
        let (base, now) = self.player.map(Time::now());
        let newest = track
            .get(track.partition_point(|s| s.t <= now).saturating_sub(1))
            .map_or(0, |s| s.t);
        Ok(TrackedPose {
            pose,
            velocity,
            time: Time(self.player.start.0 + base + newest),
            orientation_valid: f & 1 != 0,
            position_valid: f & 2 != 0,
            orientation_tracked: f & 4 != 0,
            position_tracked: f & 8 != 0,
        })
    }

    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        let track = &self.player.rec.faces[self.index];
        if !self.desc.capabilities.face_expressions {
            return Err(DriverError::Unsupported);
        }
        let (_, t) = self.player.map(at);
        let (a, b, f) = bracket(track, t).ok_or(DriverError::Disconnected)?;
        let mut out = a;
        for (o, w) in out.weights.iter_mut().zip(b.weights) {
            *o += (w - *o) * f;
        }
        out.valid = a.valid && b.valid;
        out.time = at;
        Ok(out)
    }

    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        let track = &self.player.rec.gazes[self.index];
        if !self.desc.capabilities.eye_gaze {
            return Err(DriverError::Unsupported);
        }
        let (_, t) = self.player.map(at);
        let (a, b, f) = bracket(track, t).ok_or(DriverError::Disconnected)?;
        // At a recorded instant the sample itself (slerp would move bits).
        let gaze = if f == 0.0 {
            a.gaze
        } else {
            Pose::new(
                a.gaze.orientation.slerp(b.gaze.orientation, f),
                a.gaze.position.lerp(b.gaze.position, f),
            )
        };
        Ok(EyeGaze {
            time: at,
            valid: a.valid && b.valid,
            gaze,
            openness: [0, 1].map(|i| a.openness[i] + (b.openness[i] - a.openness[i]) * f),
        })
    }

    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        let track = &self.player.rec.bodies[self.index];
        if !self.desc.capabilities.body_tracking {
            return Err(DriverError::Unsupported);
        }
        let (_, t) = self.player.map(at);
        let (a, b, f) = bracket(track, t).ok_or(DriverError::Disconnected)?;
        let mut out = a;
        // At a recorded instant the sample itself (slerp would move bits).
        if f != 0.0 {
            for (o, j) in out.joints.iter_mut().zip(&b.joints) {
                o.pose = Pose::new(
                    o.pose.orientation.slerp(j.pose.orientation, f),
                    o.pose.position.lerp(j.pose.position, f),
                );
                o.pose_valid &= j.pose_valid;
                o.pose_tracked &= j.pose_tracked;
            }
            out.confidence += (b.confidence - a.confidence) * f;
        }
        out.active = a.active && b.active;
        out.time = at;
        Ok(out)
    }

    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        let snaps = &self.player.rec.inputs[self.index];
        let (_, now) = self.player.map(Time::now());
        let i = snaps.partition_point(|(t, _)| *t <= now);
        let snap = snaps.get(i.saturating_sub(1));
        for (k, v) in values.iter_mut().enumerate() {
            *v = snap.and_then(|(_, s)| s.get(k).copied().flatten());
        }
        Ok(())
    }

    fn set_vibration(&self, output: &str, v: Option<Vibration>) -> Result<(), DriverError> {
        if !self.desc.outputs.iter().any(|o| o.path == output) {
            return Err(DriverError::NoSuchComponent(output.into()));
        }
        tracing::debug!(device = %self.desc.name, ?v, "replay: vibration (not played)");
        Ok(())
    }
}

struct ReplayHmd {
    dev: ReplayDevice,
    display: DisplayInfo,
    rate: Mutex<f32>,
}

impl Device for ReplayHmd {
    fn description(&self) -> &DeviceDescription {
        self.dev.description()
    }
    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError> {
        self.dev.pose(component, at)
    }
    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError> {
        self.dev.read_inputs(values)
    }
    fn set_vibration(&self, output: &str, v: Option<Vibration>) -> Result<(), DriverError> {
        self.dev.set_vibration(output, v)
    }
    fn face_expressions(&self, at: Time) -> Result<FaceExpressions, DriverError> {
        self.dev.face_expressions(at)
    }
    fn eye_gaze(&self, at: Time) -> Result<EyeGaze, DriverError> {
        self.dev.eye_gaze(at)
    }
    fn body_joints(&self, at: Time) -> Result<BodyJoints, DriverError> {
        self.dev.body_joints(at)
    }
}

impl Hmd for ReplayHmd {
    fn display(&self) -> &DisplayInfo {
        &self.display
    }
    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError> {
        if !self.display.refresh_rates_hz.contains(&hz) {
            return Err(DriverError::Unsupported);
        }
        *self.rate.lock() = hz;
        Ok(())
    }
    fn refresh_rate(&self) -> f32 {
        *self.rate.lock()
    }
}

fn make(config: &str) -> Result<Box<dyn Builder>, DriverError> {
    Ok(Box::new(ReplayBuilder::from_config(config)?))
}

parallax_sdk_abi::export_driver!("replay", make);

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_driver_simulated::{MotionKind, SimulatedBuilder};

    #[test]
    fn replayed_poses_and_inputs_equal_the_recorded_ones() {
        let sim = SimulatedBuilder::new(MotionKind::Scripted { seed: 3 });
        sim.controls
            .set(1, "input/trigger/value", InputValue::Float(0.25))
            .unwrap();
        let live = sim.open().unwrap();
        let period = Duration::from_nanos(4_000_000);
        let t0 = Time(1_000_000_000_000);
        let mut rec = Recorder::new(Vec::new(), "simulated", &live, period).unwrap();
        for k in 0..50 {
            rec.sample(t0 + Duration(k * period.0), k * period.0)
                .unwrap();
        }
        let bytes = rec.finish().unwrap();
        let recording = Arc::new(Recording::from_reader(&bytes[..]).unwrap());
        assert_eq!(recording.header.display, *live.hmd.display());
        let start = Time(5_000_000_000_000);
        let replay = play(recording, start, false);
        for k in 0..50 {
            let at = t0 + Duration(k * period.0);
            let again = start + Duration(k * period.0);
            let a = live.hmd.pose("head", at).unwrap();
            let b = replay.hmd.pose("head", again).unwrap();
            assert_eq!((a.pose, a.velocity), (b.pose, b.velocity), "sample {k}");
            for (dl, dr) in live.devices.iter().zip(&replay.devices) {
                for c in ["input/grip/pose", "input/aim/pose"] {
                    assert_eq!(
                        dl.pose(c, at).unwrap().pose,
                        dr.pose(c, again).unwrap().pose
                    );
                }
            }
        }
        // Between samples the pose is interpolated, not snapped.
        let mid = replay
            .hmd
            .pose("head", start + Duration(2_000_000))
            .unwrap()
            .pose;
        let a = replay.hmd.pose("head", start).unwrap().pose;
        let b = replay.hmd.pose("head", start + period).unwrap().pose;
        assert!(mid.position != a.position && mid.position != b.position);
        assert!((mid.position - (a.position + b.position) / 2.0).length() < 1e-6);
        // Inputs replay (the recording's start is long past, so its last snapshot holds).
        let right = &replay.devices[1];
        let mut vals = vec![None; right.description().inputs.len()];
        right.read_inputs(&mut vals).unwrap();
        let i = right
            .description()
            .inputs
            .iter()
            .position(|c| c.path == "input/trigger/value")
            .unwrap();
        assert_eq!(vals[i], Some(InputValue::Float(0.25)));
        // Everything but the optional capabilities (a replay has no battery).
        assert_eq!(
            *right.description(),
            DeviceDescription {
                capabilities: Capabilities::default(),
                ..live.devices[1].description().clone()
            }
        );
    }

    #[test]
    fn the_face_and_gaze_replay_as_recorded() {
        let live = SimulatedBuilder::new(MotionKind::Scripted { seed: 1 })
            .open()
            .unwrap();
        let period = Duration::from_nanos(10_000_000);
        let t0 = Time(1_000_000_000);
        let mut rec = Recorder::new(Vec::new(), "simulated", &live, period).unwrap();
        for k in 0..100 {
            rec.sample(t0 + Duration(k * period.0), k * period.0)
                .unwrap();
        }
        let bytes = rec.finish().unwrap();
        let recording = Arc::new(Recording::from_reader(&bytes[..]).unwrap());
        let start = Time(9_000_000_000_000);
        let replay = play(recording, start, false);
        let caps = replay.hmd.description().capabilities;
        assert!(caps.face_expressions && caps.eye_gaze && caps.body_tracking);
        let mut moved = 0.0f32;
        for k in 0..100 {
            let (at, again) = (t0 + Duration(k * period.0), start + Duration(k * period.0));
            let a = live.hmd.face_expressions(at).unwrap();
            let b = replay.hmd.face_expressions(again).unwrap();
            assert_eq!((a.weights, a.valid), (b.weights, b.valid), "sample {k}");
            // The gaze as recorded: checked (renormalised) once.
            let g = live.hmd.eye_gaze(at).unwrap();
            let h = replay.hmd.eye_gaze(again).unwrap();
            let g_pose = parallax_sdk::sanitize::pose(g.gaze).unwrap();
            assert_eq!((g_pose, g.openness, g.valid), (h.gaze, h.openness, h.valid));
            // The body as recorded (checked once).
            let lb =
                parallax_sdk::sanitize::body_joints(live.hmd.body_joints(at).unwrap()).unwrap();
            let rb = replay.hmd.body_joints(again).unwrap();
            assert_eq!(
                (lb.joints, lb.active, lb.confidence),
                (rb.joints, rb.active, rb.confidence),
                "sample {k}"
            );
            moved = moved.max(a.weights.iter().sum());
        }
        assert!(moved > 0.1, "a neutral face throughout");
        // Between samples the weights are interpolated.
        let jaw = parallax_sdk::types::face_expression("jawOpen").unwrap();
        let w = |t: i64| {
            replay
                .hmd
                .face_expressions(start + Duration(t))
                .unwrap()
                .weights[jaw]
        };
        let mid = w(5_000_000);
        assert!((mid - (w(0) + w(10_000_000)) / 2.0).abs() < 1e-6);
        // Between samples the body moves between the two.
        let wrist = |t: i64| {
            replay.hmd.body_joints(start + Duration(t)).unwrap().joints[17]
                .pose
                .position
        };
        let mid = wrist(5_000_000);
        assert!((mid - (wrist(0) + wrist(10_000_000)) / 2.0).length() < 1e-6);
        // A recorded device without a face has none to replay.
        assert!(matches!(
            replay.devices[0].face_expressions(start),
            Err(DriverError::Unsupported)
        ));
        // Damaged face lines are refused with their line number.
        let text = String::from_utf8(bytes).unwrap();
        let line = text.lines().position(|l| l.contains("\"fx\"")).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[line] = lines[line].replacen("\"fx\":[", "\"fx\":[0.5,", 1);
        let bad = lines.join("\n");
        let e = Recording::from_reader(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(&e, RecordingError::Format { line: l, .. } if *l == line + 1),
            "{e}"
        );
        // So are body lines missing a joint, or with a garbage quaternion.
        let line = text.lines().position(|l| l.contains("\"b\":[")).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[line] = lines[line].replacen("\"bf\":[15,", "\"bf\":[", 1);
        let e = Recording::from_reader(lines.join("\n").as_bytes()).unwrap_err();
        assert!(e.to_string().contains("18 joints"), "{e}");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[line] = lines[line].replacen("\"b\":[", "\"b\":[9.0,", 1);
        lines[line] = lines[line].replacen(",\"bf\"", "\"bf\"", 1);
        let e = Recording::from_reader(lines.join("\n").as_bytes());
        assert!(e.is_err());
    }

    #[test]
    fn corrupt_recordings_are_refused_with_the_line() {
        let bad = b"{\"format\":\"parallax-recording\",\"version\":1}\n";
        assert!(matches!(
            Recording::from_reader(&bad[..]),
            Err(RecordingError::Format { line: 1, .. })
        ));
        let sim = SimulatedBuilder::new(MotionKind::Static).open().unwrap();
        let mut rec = Recorder::new(Vec::new(), "simulated", &sim, Duration(1)).unwrap();
        rec.sample(Time(10), 10).unwrap();
        rec.sample(Time(5), 5).unwrap();
        let bytes = rec.finish().unwrap();
        let e = Recording::from_reader(&bytes[..]).unwrap_err();
        assert!(e.to_string().contains("goes backwards"), "{e}");
    }
}
