//! `PARALLAX_SIM_KEYS`: desktop-simulator keys played at given app frames, so
//! an interactive app can be driven in a test without a display or a person.
//!
//! The script is a list of `FRAME:KEY` items separated by spaces or commas:
//! `KEY` taps the key once, `KEY*N` taps it N times, `KEY+` presses and holds
//! it, `KEY-` lets it go. Keys are the simulator's (`space`, `g`, `m`, `w`,
//! `a`, `s`, `d`, `q`, `e`, `1`, `2`, `r`, and `j`, which leaves and joins the
//! meeting of `PARALLAX_MEETING`; see the legend of
//! `parallax run`'s window). `FRAME` counts the frames the app has ended since
//! `xrBeginSession` (1 is the first), so a script does the same thing however
//! slowly the app renders: `"30:space+ 31:e*6 32:d*12 40:space-"` picks up
//! with the right hand at frame 30, rises 30 cm, steps 60 cm right and lets go.
//!
//! Written here rather than with a crate: the grammar is a dozen lines.

use parallax_sdk::types::{DesktopControls, DesktopInput};

/// What happens to a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyAction {
    /// Press and release, this many times.
    Tap(u32),
    Press,
    Release,
}

/// One scripted key event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub frame: u64,
    pub key: String,
    pub action: KeyAction,
}

/// Most taps one item may ask for (a typo must not hang a frame).
const MAX_TAPS: u32 = 1000;

/// Parses a script; the error names the first bad item.
pub fn parse(script: &str) -> Result<Vec<KeyEvent>, String> {
    let mut events = Vec::new();
    for item in script
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let bad = |why: &str| format!("{item:?}: {why}");
        let (frame, key) = item
            .split_once(':')
            .ok_or_else(|| bad("expected FRAME:KEY"))?;
        let frame: u64 = frame
            .parse()
            .map_err(|_| bad("the frame is not a whole number"))?;
        let key = key.to_ascii_lowercase();
        let (key, action) = if let Some(k) = key.strip_suffix('+') {
            (k.to_string(), KeyAction::Press)
        } else if let Some(k) = key.strip_suffix('-') {
            (k.to_string(), KeyAction::Release)
        } else if let Some((k, n)) = key.split_once('*') {
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| (1..=MAX_TAPS).contains(n))
                .ok_or_else(|| bad("the tap count must be 1 to 1000"))?;
            (k.to_string(), KeyAction::Tap(n))
        } else {
            (key, KeyAction::Tap(1))
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("the key must be a key name such as space, w or 1"));
        }
        events.push(KeyEvent { frame, key, action });
    }
    // Stable: events of one frame keep their written order.
    events.sort_by_key(|e| e.frame);
    Ok(events)
}

/// Sends the events of `frame` to the driver's desktop controls.
pub fn play(events: &[KeyEvent], frame: u64, controls: &DesktopControls) {
    let key = |name: &str, pressed: bool| DesktopInput::Key {
        name: name.to_string(),
        pressed,
        repeat: false,
    };
    for e in events.iter().filter(|e| e.frame == frame) {
        tracing::debug!(frame, key = %e.key, action = ?e.action, "scripted key");
        match e.action {
            KeyAction::Press => (controls.sink)(&key(&e.key, true)),
            KeyAction::Release => (controls.sink)(&key(&e.key, false)),
            KeyAction::Tap(n) => {
                for _ in 0..n {
                    (controls.sink)(&key(&e.key, true));
                    (controls.sink)(&key(&e.key, false));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::sync::Arc;

    #[test]
    fn parses_taps_presses_and_releases_in_frame_order() {
        let e = parse("40:space-, 30:space+ 31:e*6  31:D").unwrap();
        assert_eq!(
            e,
            vec![
                KeyEvent {
                    frame: 30,
                    key: "space".into(),
                    action: KeyAction::Press
                },
                KeyEvent {
                    frame: 31,
                    key: "e".into(),
                    action: KeyAction::Tap(6)
                },
                KeyEvent {
                    frame: 31,
                    key: "d".into(),
                    action: KeyAction::Tap(1)
                },
                KeyEvent {
                    frame: 40,
                    key: "space".into(),
                    action: KeyAction::Release
                },
            ]
        );
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn rejects_bad_items_by_name() {
        for bad in [
            "space", "x:space", "3:", "3:e*0", "3:e*x", "3:e*5000", "3:sp ace", "3:+",
        ] {
            let err = parse(bad);
            assert!(err.is_err(), "{bad:?} was accepted: {err:?}");
        }
        assert!(parse("1:w 2:e*x").unwrap_err().contains("2:e*x"));
    }

    #[test]
    fn plays_only_the_events_of_the_frame() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let controls = DesktopControls {
            legend: String::new(),
            sink: Arc::new(move |ev: &DesktopInput| {
                if let DesktopInput::Key { name, pressed, .. } = ev {
                    s.lock()
                        .push(format!("{name}{}", if *pressed { "+" } else { "-" }));
                }
            }),
        };
        let e = parse("1:space+ 2:d*2 3:space-").unwrap();
        play(&e, 2, &controls);
        assert_eq!(*seen.lock(), ["d+", "d-", "d+", "d-"]);
        play(&e, 5, &controls);
        assert_eq!(seen.lock().len(), 4);
    }
}
