//! Every runtime option, read once from `PARALLAX_*` environment variables.
//! README.md lists them; `parallax info` prints the values in force.

use parallax_driver_simulated::MotionKind;

/// Runtime options.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `PARALLAX_SIM_MOTION`: `scripted` (default), `static` or `hands`.
    pub sim_motion: MotionKind,
    /// `PARALLAX_REFRESH_HZ`: the display mode to start in (one the device offers).
    pub refresh_hz: Option<f32>,
    /// `PARALLAX_EXIT_AFTER_FRAMES`: the runtime ends every session after N frames.
    pub exit_after_frames: Option<u64>,
    /// `PARALLAX_EVENT_QUEUE`: capacity of each instance's event queue.
    pub event_queue: usize,
    /// `PARALLAX_SIM_DISCONNECT_AFTER_MS`: the simulated headset disconnects
    /// this long after it was opened (to exercise session loss).
    pub sim_disconnect_after_ms: Option<u64>,
    /// `PARALLAX_CAPTURE`: folder to write composed eye images to (PNG).
    pub capture: Option<std::path::PathBuf>,
    /// `PARALLAX_CAPTURE_FRAMES`: comma-separated app frame numbers to
    /// capture (default `60`).
    pub capture_frames: Vec<u64>,
    /// `PARALLAX_TARGET`: `window` shows the panel in a desktop window,
    /// `headless` does not; default `window` when a display is there.
    pub window: bool,
    /// `PARALLAX_TIMING_LOG`: CSV file the compositor appends one line per
    /// composition to (vsync, compose time, new frame, frame number, misses).
    pub timing_log: Option<std::path::PathBuf>,
    /// `PARALLAX_DRIVER`: the driver to open, by name (default: the best
    /// estimate among the built-in and discovered drivers).
    pub driver: Option<String>,
    /// `PARALLAX_DRIVER_PATH`: colon-separated manifests, folders of
    /// manifests or driver libraries, searched before the XDG folders.
    pub driver_path: Option<String>,
    /// `PARALLAX_SIM_KEYS`: desktop-simulator keys played at given frames
    /// (see [`crate::keyscript`]).
    pub sim_keys: Vec<crate::keyscript::KeyEvent>,
    /// `PARALLAX_RENDER_SCALE`: factor on the recommended image size
    /// (0.25 to 2; default 1), like a render-resolution setting.
    pub render_scale: f32,
    /// `PARALLAX_HANDS`: where hand joints come from.
    pub hands: HandSource,
    /// `PARALLAX_SIM_CAMERAS=rendered`: the simulated headset's cameras show
    /// the simulated hands (rendered with wgpu) instead of a test pattern.
    pub sim_cameras_rendered: bool,
    /// `PARALLAX_SIM_CONTROLLERS=none`: the simulated headset comes without
    /// controllers and tracks the bare hands itself.
    pub sim_controllers: bool,
    /// `PARALLAX_AVATARS`: simulated meeting participants the compositor
    /// shows as codec avatars (0 to 8; default 0).
    pub avatars: usize,
    /// `PARALLAX_AVATAR_MOTION`: `live` (faces move with the clock) or
    /// `frozen` (each holds one moment); default frozen under static
    /// simulated motion, live otherwise.
    pub avatars_frozen: Option<bool>,
    /// `PARALLAX_MEETING` (with `PARALLAX_MEETING_AUDIO` and
    /// `PARALLAX_MEETING_MIC`): the holographic meeting the wearer is in
    /// while a session runs.
    pub meeting: Option<crate::meeting::Settings>,
}

/// Where `XR_EXT_hand_tracking` takes hands from (`PARALLAX_HANDS`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum HandSource {
    /// Devices that report hand joints (controllers, gloves); the camera
    /// tracker when none does and the headset has two or more cameras.
    #[default]
    Auto,
    /// Only devices that report hand joints.
    Devices,
    /// Only the camera tracker (hand tracking from the headset's cameras).
    Cameras,
    /// No hand tracking.
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sim_motion: MotionKind::Scripted { seed: 1 },
            refresh_hz: None,
            exit_after_frames: None,
            event_queue: 64,
            sim_disconnect_after_ms: None,
            capture: None,
            capture_frames: vec![60],
            window: false,
            driver: None,
            driver_path: None,
            timing_log: None,
            sim_keys: Vec::new(),
            render_scale: 1.0,
            hands: HandSource::Auto,
            sim_cameras_rendered: false,
            sim_controllers: true,
            avatars: 0,
            avatars_frozen: None,
            meeting: None,
        }
    }
}

/// The options a user can set, with their meaning, for docs and `parallax info`.
pub const OPTIONS: &[(&str, &str)] = &[
    ("PARALLAX_LOG", "tracing filter for the runtime's logs (e.g. `info`, `parallax_runtime=debug`); default `warn`"),
    ("PARALLAX_SIM_MOTION", "`scripted[:SEED]` (default `scripted:1`), `static`, or `hands` (hands raised in front of the cameras, the left one out of view from 6.5 s to 11 s of every 12): how the simulated devices move"),
    ("PARALLAX_HANDS", "where hand joints come from: `auto` (default: devices that report them, else the camera tracker when the headset has two or more cameras), `devices`, `cameras` (hand tracking from the headset's cameras with the MediaPipe models) or `off`"),
    ("PARALLAX_SIM_CAMERAS", "`rendered`: the simulated headset's cameras show the simulated hands (rendered with wgpu) instead of a test pattern, so the camera tracker sees them"),
    ("PARALLAX_SIM_CONTROLLERS", "`none`: the simulated headset has no controllers and tracks the bare hands itself (the desktop trigger key pinches, the grip key makes a fist); default `touch`"),
    ("PARALLAX_REFRESH_HZ", "display refresh rate to start in: 90 (default), 72 or 120 on the simulated headset"),
    ("PARALLAX_EXIT_AFTER_FRAMES", "end every session (STOPPING, then EXITING) after N frames"),
    ("PARALLAX_EVENT_QUEUE", "capacity of the event queue per instance (default 64); overflow is reported with XrEventDataEventsLost"),
    ("PARALLAX_SIM_DISCONNECT_AFTER_MS", "the simulated headset disconnects after N ms (session goes to LOSS_PENDING)"),
    ("PARALLAX_TARGET", "`window` (default when DISPLAY or WAYLAND_DISPLAY is set) shows the panel in a desktop window; `headless` does not"),
    ("PARALLAX_CAPTURE", "folder where the compositor writes PNGs of each eye of the frames in PARALLAX_CAPTURE_FRAMES"),
    ("PARALLAX_TIMING_LOG", "CSV file the compositor writes one line per composition to: target vsync (ns), compose time (ns), whether the app's frame was new, app frame number, misses so far"),
    ("PARALLAX_DRIVER", "the driver to open by name (see `parallax devices`); default: the highest estimate score among the built-in `simulated` and discovered drivers"),
    ("PARALLAX_DRIVER_PATH", "colon-separated driver manifests, folders of manifests, or driver libraries (.so), searched before $XDG_CONFIG_HOME, $XDG_CONFIG_DIRS, $XDG_DATA_HOME and $XDG_DATA_DIRS (each + /parallax/drivers)"),
    ("PARALLAX_SIM_KEYS", "desktop-simulator keys played at app frames, e.g. `30:space+ 31:e*6 40:space-` (FRAME:KEY taps, KEY*N taps N times, KEY+ holds, KEY- lets go; frames count from xrBeginSession): drives an interactive app in a test without a display"),
    ("PARALLAX_RENDER_SCALE", "factor (0.25 to 2, default 1) on the per-eye image size recommended to apps (xrEnumerateViewConfigurationViews); below 1 apps render faster and blurrier, which helps on software Vulkan"),
    ("PARALLAX_AVATARS", "N (0 to 8, default 0): N simulated meeting participants stand in the stage in front of the user as codec avatars (their scripted faces encoded, sent through the avatar packet and decoded at 30 Hz), drawn by the compositor over the app's scene and depth-tested against the depth the app submits"),
    ("PARALLAX_AVATAR_MOTION", "`live` (the participants' faces move) or `frozen` (each holds one moment of its script, for reproducible captures); default `frozen` when PARALLAX_SIM_MOTION=static, else `live`"),
    ("PARALLAX_MEETING", "a meeting invitation (`pxm1.`..., from `parallax meeting invite`), or `@FILE` holding one: while a session runs, its wearer is in that room: remote participants stand around the user as codec avatars over the app, voices spatialised; the desktop key J leaves and joins again"),
    ("PARALLAX_MEETING_AUDIO", "where the meeting's voices go: `device` (default: the sound card, nothing without one), a `.wav` file path, or `off`"),
    ("PARALLAX_MEETING_MIC", "where the wearer's voice comes from: `device` (default: the default microphone, no voice without one), `talker` (a scripted voice, for the simulator) or `off`"),
    ("PARALLAX_CAPTURE_FRAMES", "comma-separated app frame numbers (0 = the first frame the compositor shows) to capture (default 60)"),
];

fn parse_motion(s: &str) -> Option<MotionKind> {
    MotionKind::parse(s)
}

impl Config {
    /// Reads the environment; a malformed value is logged and ignored.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads options through `get` (testable without touching the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut c = Config::default();
        fn parsed<T: std::str::FromStr>(key: &str, v: Option<String>) -> Option<T> {
            let v = v?;
            match v.trim().parse() {
                Ok(x) => Some(x),
                Err(_) => {
                    tracing::warn!("ignoring {key}={v:?}: not a valid value");
                    None
                }
            }
        }
        if let Some(m) = get("PARALLAX_SIM_MOTION") {
            match parse_motion(&m) {
                Some(k) => c.sim_motion = k,
                None => tracing::warn!(
                    "ignoring PARALLAX_SIM_MOTION={m:?}: use `static`, `hands` or `scripted[:SEED]`"
                ),
            }
        }
        c.refresh_hz = parsed("PARALLAX_REFRESH_HZ", get("PARALLAX_REFRESH_HZ"));
        c.exit_after_frames = parsed(
            "PARALLAX_EXIT_AFTER_FRAMES",
            get("PARALLAX_EXIT_AFTER_FRAMES"),
        );
        if let Some(q) = parsed::<usize>("PARALLAX_EVENT_QUEUE", get("PARALLAX_EVENT_QUEUE")) {
            c.event_queue = q.clamp(4, 1 << 16);
        }
        let display = get("DISPLAY").is_some_and(|d| !d.is_empty())
            || get("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty());
        c.window = match get("PARALLAX_TARGET").as_deref().map(str::trim) {
            Some("window") => true,
            Some("headless") => false,
            Some(other) => {
                tracing::warn!("ignoring PARALLAX_TARGET={other:?}: use `window` or `headless`");
                display
            }
            None => display,
        };
        c.capture = get("PARALLAX_CAPTURE")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from);
        if let Some(list) = get("PARALLAX_CAPTURE_FRAMES") {
            let frames: Result<Vec<u64>, _> =
                list.split(',').map(|f| f.trim().parse::<u64>()).collect();
            match frames {
                Ok(f) => c.capture_frames = f,
                Err(_) => tracing::warn!(
                    "ignoring PARALLAX_CAPTURE_FRAMES={list:?}: use numbers separated by commas"
                ),
            }
        }
        c.timing_log = get("PARALLAX_TIMING_LOG")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from);
        c.driver = get("PARALLAX_DRIVER").filter(|d| !d.trim().is_empty());
        c.driver_path = get("PARALLAX_DRIVER_PATH").filter(|d| !d.is_empty());
        if let Some(scale) = parsed::<f32>("PARALLAX_RENDER_SCALE", get("PARALLAX_RENDER_SCALE")) {
            if (0.25..=2.0).contains(&scale) {
                c.render_scale = scale;
            } else {
                tracing::warn!("ignoring PARALLAX_RENDER_SCALE={scale}: use 0.25 to 2");
            }
        }
        if let Some(script) = get("PARALLAX_SIM_KEYS") {
            match crate::keyscript::parse(&script) {
                Ok(keys) => c.sim_keys = keys,
                Err(e) => tracing::warn!("ignoring PARALLAX_SIM_KEYS: {e}"),
            }
        }
        if let Some(h) = get("PARALLAX_HANDS") {
            c.hands = match h.trim() {
                "auto" => HandSource::Auto,
                "devices" => HandSource::Devices,
                "cameras" => HandSource::Cameras,
                "off" => HandSource::Off,
                other => {
                    tracing::warn!(
                        "ignoring PARALLAX_HANDS={other:?}: use auto, devices, cameras or off"
                    );
                    HandSource::Auto
                }
            };
        }
        if let Some(v) = get("PARALLAX_SIM_CAMERAS") {
            match v.trim() {
                "rendered" => c.sim_cameras_rendered = true,
                "pattern" => c.sim_cameras_rendered = false,
                other => tracing::warn!(
                    "ignoring PARALLAX_SIM_CAMERAS={other:?}: use rendered or pattern"
                ),
            }
        }
        if let Some(v) = get("PARALLAX_SIM_CONTROLLERS") {
            match v.trim() {
                "none" => c.sim_controllers = false,
                "touch" => c.sim_controllers = true,
                other => {
                    tracing::warn!("ignoring PARALLAX_SIM_CONTROLLERS={other:?}: use touch or none")
                }
            }
        }
        if let Some(n) = parsed::<usize>("PARALLAX_AVATARS", get("PARALLAX_AVATARS")) {
            if n <= crate::participants::MAX_PARTICIPANTS {
                c.avatars = n;
            } else {
                tracing::warn!(
                    "ignoring PARALLAX_AVATARS={n}: at most {}",
                    crate::participants::MAX_PARTICIPANTS
                );
            }
        }
        if let Some(m) = get("PARALLAX_AVATAR_MOTION") {
            match m.trim() {
                "live" => c.avatars_frozen = Some(false),
                "frozen" => c.avatars_frozen = Some(true),
                other => tracing::warn!(
                    "ignoring PARALLAX_AVATAR_MOTION={other:?}: use `live` or `frozen`"
                ),
            }
        }
        c.meeting = meeting(&get);
        c.sim_disconnect_after_ms = parsed(
            "PARALLAX_SIM_DISCONNECT_AFTER_MS",
            get("PARALLAX_SIM_DISCONNECT_AFTER_MS"),
        );
        c
    }
}

/// `PARALLAX_MEETING*`: `None` (logged) when the invitation is missing or
/// unusable.
fn meeting(get: &impl Fn(&str) -> Option<String>) -> Option<crate::meeting::Settings> {
    use crate::meeting::{AudioOut, Mic};
    let value = get("PARALLAX_MEETING").filter(|v| !v.trim().is_empty())?;
    let text = match value.trim().strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("ignoring PARALLAX_MEETING: {path}: {e}");
                return None;
            }
        },
        None => value,
    };
    let invite = match parallax_meeting::invite::Invite::decode(&text) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("ignoring PARALLAX_MEETING: {e}");
            return None;
        }
    };
    let audio = match get("PARALLAX_MEETING_AUDIO").as_deref().map(str::trim) {
        None | Some("" | "device") => AudioOut::Device,
        Some("off") => AudioOut::Off,
        Some(path) if path.ends_with(".wav") => AudioOut::Wav(path.into()),
        Some(other) => {
            tracing::warn!(
                "ignoring PARALLAX_MEETING_AUDIO={other:?}: use device, off or a .wav path"
            );
            AudioOut::Device
        }
    };
    let mic = match get("PARALLAX_MEETING_MIC").as_deref().map(str::trim) {
        None | Some("" | "device") => Mic::Device,
        Some("talker") => Mic::Talker,
        Some("off") => Mic::Off,
        Some(other) => {
            tracing::warn!("ignoring PARALLAX_MEETING_MIC={other:?}: use device, talker or off");
            Mic::Device
        }
    };
    Some(crate::meeting::Settings { invite, audio, mic })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_settings() {
        use crate::meeting::{AudioOut, Mic};
        let invite = parallax_meeting::invite::Invite::to_server("r", "t", "127.0.0.1:9", b"c");
        let text = invite.encode();
        let with = |pairs: Vec<(&'static str, String)>| {
            Config::from_lookup(move |k| {
                pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
            })
            .meeting
        };
        let m = with(vec![("PARALLAX_MEETING", text.clone())]).unwrap();
        assert_eq!(m.invite, invite);
        assert_eq!((m.audio, m.mic), (AudioOut::Device, Mic::Device));
        let m = with(vec![
            ("PARALLAX_MEETING", text.clone()),
            ("PARALLAX_MEETING_AUDIO", "/tmp/x.wav".into()),
            ("PARALLAX_MEETING_MIC", "talker".into()),
        ])
        .unwrap();
        assert_eq!(
            (m.audio, m.mic),
            (AudioOut::Wav("/tmp/x.wav".into()), Mic::Talker)
        );
        let file = std::env::temp_dir().join(format!("px-invite-{}", std::process::id()));
        std::fs::write(&file, format!("{text}\n")).unwrap();
        let m = with(vec![("PARALLAX_MEETING", format!("@{}", file.display()))]).unwrap();
        assert_eq!(m.invite, invite);
        std::fs::remove_file(&file).unwrap();
        assert!(with(vec![("PARALLAX_MEETING", "pxm1.garbage".into())]).is_none());
        assert!(with(vec![("PARALLAX_MEETING", "@/nonexistent/invite".into())]).is_none());
        assert!(with(vec![]).is_none());
    }

    #[test]
    fn parses_options() {
        let c = Config::from_lookup(|k| match k {
            "PARALLAX_SIM_MOTION" => Some("scripted:42".into()),
            "PARALLAX_EXIT_AFTER_FRAMES" => Some("300".into()),
            "PARALLAX_REFRESH_HZ" => Some("abc".into()),
            _ => None,
        });
        assert_eq!(c.sim_motion, MotionKind::Scripted { seed: 42 });
        assert_eq!(c.exit_after_frames, Some(300));
        assert_eq!(c.refresh_hz, None);
        assert_eq!(parse_motion("static"), Some(MotionKind::Static));
        assert_eq!(parse_motion("hands"), Some(MotionKind::Hands));
        assert_eq!(parse_motion("wobbly"), None);
    }

    #[test]
    fn avatars_count_up_to_eight() {
        let get = |v: &'static str| {
            Config::from_lookup(move |k| (k == "PARALLAX_AVATARS").then(|| v.into())).avatars
        };
        assert_eq!(get("2"), 2);
        assert_eq!(get("8"), 8);
        assert_eq!(get("9"), 0);
        assert_eq!(get("many"), 0);
        assert_eq!(Config::default().avatars, 0);
        let motion = |v: &'static str| {
            Config::from_lookup(move |k| (k == "PARALLAX_AVATAR_MOTION").then(|| v.into()))
                .avatars_frozen
        };
        assert_eq!(motion("live"), Some(false));
        assert_eq!(motion("frozen"), Some(true));
        assert_eq!(motion("wiggly"), None);
    }

    #[test]
    fn hand_sources() {
        let get = |hands: &'static str, cams: &'static str| {
            Config::from_lookup(move |k| match k {
                "PARALLAX_HANDS" => Some(hands.into()),
                "PARALLAX_SIM_CAMERAS" => Some(cams.into()),
                _ => None,
            })
        };
        let c = get("cameras", "rendered");
        assert_eq!(
            (c.hands, c.sim_cameras_rendered),
            (HandSource::Cameras, true)
        );
        assert_eq!(get("off", "pattern").hands, HandSource::Off);
        assert_eq!(get("devices", "").hands, HandSource::Devices);
        assert!(Config::default().sim_controllers);
        let no_controllers =
            Config::from_lookup(|k| (k == "PARALLAX_SIM_CONTROLLERS").then(|| "none".into()));
        assert!(!no_controllers.sim_controllers);
        // Unknown values are ignored.
        let c = get("gloves", "ray-traced");
        assert_eq!((c.hands, c.sim_cameras_rendered), (HandSource::Auto, false));
        assert_eq!(Config::default().hands, HandSource::Auto);
    }

    #[test]
    fn render_scale_and_key_script() {
        let get = |scale: &'static str, keys: &'static str| {
            Config::from_lookup(move |k| match k {
                "PARALLAX_RENDER_SCALE" => Some(scale.into()),
                "PARALLAX_SIM_KEYS" => Some(keys.into()),
                _ => None,
            })
        };
        let c = get("0.5", "10:space+ 20:space-");
        assert_eq!(c.render_scale, 0.5);
        assert_eq!(c.sim_keys.len(), 2);
        // Out of range, not a number, a bad script: ignored, defaults kept.
        for (scale, keys) in [("3", "x"), ("0.1", "10"), ("big", "10:")] {
            let c = get(scale, keys);
            assert_eq!(c.render_scale, 1.0, "{scale}");
            assert!(c.sim_keys.is_empty(), "{keys}");
        }
    }
}
