//! Frame pacing: the display's refresh clock and the prediction that
//! `xrWaitFrame` hands to apps.
//!
//! The target refreshes at `epoch + k * period`. The compositor composes at
//! `compose_margin` before each refresh, so an app frame for refresh `v`
//! must be submitted by `v - compose_margin`; the app is woken one period
//! before that refresh to render.

use parallax_sdk_types::{Duration, Time};
use parking_lot::Mutex;

/// The prediction for one app frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FramePrediction {
    /// When the app should start its frame (`xrWaitFrame` returns then).
    pub wake_time: Time,
    /// When the frame's photons are predicted to reach the eyes.
    pub display_time: Time,
    pub period: Duration,
}

#[derive(Debug)]
struct ClockState {
    epoch: Time,
    period: Duration,
}

/// The refresh clock of a compositor target.
#[derive(Debug)]
pub struct FrameClock {
    state: Mutex<ClockState>,
    /// Smoothed time the compositor needs per refresh (ns), as reported.
    compose_ns: Mutex<Option<f64>>,
}

/// The least and the most of a period the compositor reserves for itself.
const MIN_MARGIN_NS: i64 = 2_000_000;

impl FrameClock {
    pub fn new(epoch: Time, period: Duration) -> Self {
        assert!(period.0 > 0, "refresh period must be positive");
        Self {
            state: Mutex::new(ClockState { epoch, period }),
            compose_ns: Mutex::new(None),
        }
    }

    pub fn period(&self) -> Duration {
        self.state.lock().period
    }

    /// Changes the period, keeping the refresh phase continuous at `now`.
    pub fn set_period(&self, period: Duration) {
        if period.0 <= 0 {
            return;
        }
        let now = Time::now();
        let mut s = self.state.lock();
        let next = Self::next_vsync_locked(&s, now);
        s.epoch = next;
        s.period = period;
    }

    fn next_vsync_locked(s: &ClockState, at: Time) -> Time {
        let since = at.0 - s.epoch.0;
        let k = if since <= 0 {
            0
        } else {
            (since + s.period.0 - 1) / s.period.0
        };
        Time(s.epoch.0 + k * s.period.0)
    }

    /// The first refresh at or after `at`.
    pub fn next_vsync(&self, at: Time) -> Time {
        Self::next_vsync_locked(&self.state.lock(), at)
    }

    /// Predicts the next app frame: the earliest refresh after
    /// `previous_display` that the app can still make if it starts now.
    pub fn predict(&self, now: Time, previous_display: Option<Time>) -> FramePrediction {
        let s = self.state.lock();
        let period = s.period;
        // The app needs (period - margin) to render; it can make refresh v if
        // v - period >= now - slack. A small slack keeps a punctual app on
        // the refresh it was aiming for despite scheduler jitter.
        let slack = Duration(period.0 / 4);
        let mut display = Self::next_vsync_locked(&s, now + period - slack);
        if let Some(prev) = previous_display {
            if display <= prev {
                display = Self::next_vsync_locked(&s, prev + Duration(1));
            }
        }
        FramePrediction {
            wake_time: display - period,
            display_time: display,
            period,
        }
    }

    /// The compositor reports how long a composition took; the margin it
    /// wakes before each refresh follows (smoothed, with headroom).
    pub fn report_compose(&self, took: Duration) {
        let mut c = self.compose_ns.lock();
        let x = took.0.max(0) as f64;
        *c = Some(match *c {
            Some(avg) => avg * 0.9 + x * 0.1,
            None => x,
        });
    }

    /// Time before each refresh at which the compositor composes: 1.25x
    /// its smoothed composition time plus 1 ms, at least 2 ms and at most
    /// half a period.
    pub fn compose_margin(&self) -> Duration {
        let period = self.period().0;
        let est = self
            .compose_ns
            .lock()
            .map_or(0, |c| (c * 1.25) as i64 + 1_000_000);
        Duration(est.clamp(MIN_MARGIN_NS, (period / 2).max(MIN_MARGIN_NS)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_on_refreshes_and_increase() {
        let clock = FrameClock::new(Time(1_000), Duration(10_000_000));
        let p1 = clock.predict(Time(1_000), None);
        assert_eq!((p1.display_time.0 - 1_000) % 10_000_000, 0);
        assert_eq!(p1.wake_time, p1.display_time - Duration(10_000_000));
        let p2 = clock.predict(Time(1_000), Some(p1.display_time));
        assert_eq!(p2.display_time.0, p1.display_time.0 + 10_000_000);
        // A late app skips to a refresh it can still make.
        let late = clock.predict(Time(95_000_000), Some(p1.display_time));
        assert!(late.display_time.0 >= 95_000_000 + 10_000_000 - 2_500_000);
    }

    #[test]
    fn margin_follows_reported_compose_time() {
        let clock = FrameClock::new(Time(0), Duration(11_111_111));
        assert_eq!(clock.compose_margin(), Duration(2_000_000));
        for _ in 0..50 {
            clock.report_compose(Duration(3_000_000));
        }
        let m = clock.compose_margin().0;
        assert!((4_700_000..=4_800_000).contains(&m), "{m}");
        for _ in 0..50 {
            clock.report_compose(Duration(100_000_000));
        }
        assert_eq!(clock.compose_margin(), Duration(11_111_111 / 2));
    }

    #[test]
    fn period_change_keeps_phase_continuous() {
        let clock = FrameClock::new(Time::now(), Duration(11_111_111));
        clock.set_period(Duration(8_333_333));
        assert_eq!(clock.period(), Duration(8_333_333));
        let a = clock.next_vsync(Time::now());
        let b = clock.next_vsync(a + Duration(1));
        assert_eq!(b.0 - a.0, 8_333_333);
    }
}
