//! `XrSession`: the session state machine and the frame loop.
//!
//! States and events follow the spec's lifecycle: IDLE and READY on
//! creation; SYNCHRONIZED, VISIBLE and FOCUSED once the frame loop runs;
//! STOPPING on an exit request (the app's or the runtime's), IDLE and then
//! EXITING or READY after `xrEndSession`; LOSS_PENDING when the headset is
//! lost.

use crate::action::InputState;
use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::hub::DeviceHub;
use crate::instance::{Event, Instance};
use openxr_sys as xr;
use parallax_compositor::gl::{Binding, GlContext};
use parallax_compositor::vk::compositor::VkCompositor;
use parallax_compositor::vk::AppBinding;
use parallax_compositor::{Compositor, Frame, FrameFence, Layer, NullCompositor};
use parallax_sdk::types::{Duration, Pose, Time};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

/// Most composition layers one frame may submit.
pub const MAX_LAYERS: u32 = 16;

/// Environment blend modes the simulated headset supports (opaque only).
pub const BLEND_MODES: &[xr::EnvironmentBlendMode] = &[xr::EnvironmentBlendMode::OPAQUE];

#[derive(Debug)]
pub(crate) struct FrameLoop {
    /// A frame was returned by `xrWaitFrame` and not yet begun.
    pub waited: Option<Time>,
    /// Display time of the frame begun and not yet ended.
    pub begun: Option<Time>,
    pub last_display: Option<Time>,
    /// Display times handed out by `xrWaitFrame` that `xrEndFrame` may still name.
    pub predicted: std::collections::VecDeque<Time>,
    pub frames_ended: u64,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub state: xr::SessionState,
    pub running: bool,
    pub exit_requested: bool,
    pub view_configuration: Option<xr::ViewConfigurationType>,
    pub frame: FrameLoop,
}

/// An `XrSession`.
pub struct Session {
    pub instance: Arc<Instance>,
    pub hub: Arc<DeviceHub>,
    pub compositor: Arc<dyn Compositor>,
    pub headless: bool,
    /// The app's graphics API and the compositor drawing its frames.
    pub graphics: Graphics,
    handle: OnceLock<Raw>,
    pub(crate) inner: Mutex<Inner>,
    frame_cv: Condvar,
    pub(crate) input: Mutex<InputState>,
    /// `stage_from_local`: where LOCAL was put when the session began
    /// (the head's position and yaw at creation, at the floor's x/z).
    pub stage_from_local: Pose,
    /// Simulated meeting participants shown by the compositor
    /// (`PARALLAX_AVATARS`); stopped with the session.
    _participants: Option<crate::participants::Participants>,
    /// The holographic meeting the wearer is in (`PARALLAX_MEETING`);
    /// left with the session.
    _meeting: Option<crate::meeting::MeetingLink>,
    /// The desktop simulator's controls: the driver's, with the system's
    /// keys (the meeting's) added.
    desktop: Option<parallax_sdk::types::DesktopControls>,
}

/// What `xrWaitFrame` returns.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct FrameState {
    pub predicted_display_time: Time,
    pub predicted_display_period: Duration,
    pub should_render: bool,
    /// `XR_SESSION_LOSS_PENDING` should be returned (success code).
    pub loss_pending: bool,
}

/// A session's graphics: none (headless), or the app's API with the
/// compositor that shares its images.
pub enum Graphics {
    Headless,
    Vulkan(crate::graphics::VulkanSession),
    OpenGl(crate::graphics::GlSession),
}

impl Graphics {
    /// The compositor of a session with graphics.
    pub fn compositor(&self) -> Option<&Arc<VkCompositor>> {
        match self {
            Graphics::Headless => None,
            Graphics::Vulkan(v) => Some(&v.compositor),
            Graphics::OpenGl(g) => Some(&g.compositor),
        }
    }

    /// The app's OpenGL context, for an OpenGL session.
    pub fn gl(&self) -> Option<&Arc<GlContext>> {
        match self {
            Graphics::OpenGl(g) => Some(&g.context),
            _ => None,
        }
    }
}

/// The graphics binding chained to `XrSessionCreateInfo`.
#[derive(Clone, Debug, PartialEq)]
pub enum GraphicsBinding {
    /// None: a headless session (needs `XR_MND_headless`).
    None,
    Vulkan(AppBinding),
    /// `XrGraphicsBindingOpenGLXlibKHR` or `XrGraphicsBindingEGLMNDX`.
    OpenGl(Binding),
    /// A binding of an API this runtime does not offer (named).
    Other(String),
}

/// Creates a session.
pub fn create(instance: &Arc<Instance>, system: u64, binding: GraphicsBinding) -> Result<Raw> {
    let hub = instance.check_system(system)?;
    let headless = binding == GraphicsBinding::None;
    match &binding {
        GraphicsBinding::None if !instance.has_extension("XR_MND_headless") => {
            return Err(Error::graphics_device_invalid(
                "no graphics binding given (enable XR_MND_headless for a session without graphics)",
            ));
        }
        GraphicsBinding::Other(what) => {
            return Err(Error::graphics_device_invalid(format!(
                "{what} graphics bindings are not supported"
            )));
        }
        _ => {}
    }
    let mut slot = instance.session.lock();
    if let Some(existing) = *slot {
        if handles::get::<Session>(Kind::Session, existing).is_ok() {
            return Err(Error::limit_reached(
                "this runtime serves one session per instance at a time",
            ));
        }
    }
    if !hub.is_connected() {
        return Err(Error::session_lost(
            "the head-mounted display is disconnected",
        ));
    }
    let period = Duration::from_secs_f64(1.0 / hub.hmd().refresh_rate() as f64);
    // The meeting's desktop key joins the driver's controls.
    let meeting_switch: crate::meeting::Switch = Arc::new(AtomicBool::new(true));
    let desktop = match &instance.config.meeting {
        Some(_) => crate::meeting::desktop_controls(hub.desktop_controls(), &meeting_switch),
        None => hub.desktop_controls(),
    };
    let (compositor, graphics): (Arc<dyn Compositor>, _) = match binding {
        GraphicsBinding::Vulkan(b) => {
            let v = crate::graphics::open_vulkan(instance, &hub, b, period, desktop.clone())?;
            (v.compositor.clone(), Graphics::Vulkan(v))
        }
        GraphicsBinding::OpenGl(b) => {
            let g = crate::graphics::open_opengl(instance, &hub, b, period, desktop.clone())?;
            (g.compositor.clone(), Graphics::OpenGl(g))
        }
        _ => (Arc::new(NullCompositor::new(period)), Graphics::Headless),
    };
    let head = hub.head(Time::now()).map(|p| p.pose).unwrap_or_default();
    let (yaw, _, _) = head.orientation.to_euler(glam::EulerRot::YXZ);
    let stage_from_local = Pose::new(glam::Quat::from_rotation_y(yaw), head.position);
    let participants = if graphics.compositor().is_some() {
        let c = &instance.config;
        crate::participants::Participants::start(
            c.avatars,
            c.avatars_frozen
                .unwrap_or(c.sim_motion == parallax_driver_simulated::MotionKind::Static),
            compositor.clone(),
        )
    } else {
        None
    };
    let meeting = match (&instance.config.meeting, graphics.compositor()) {
        (Some(settings), Some(_)) => crate::meeting::MeetingLink::start(
            settings.clone(),
            hub.clone(),
            compositor.clone(),
            meeting_switch,
        ),
        (Some(_), None) => {
            tracing::warn!("PARALLAX_MEETING: a headless session shows no meeting");
            None
        }
        _ => None,
    };
    let session = Arc::new(Session {
        instance: instance.clone(),
        hub,
        compositor,
        _participants: participants,
        _meeting: meeting,
        desktop,
        headless,
        graphics,
        handle: OnceLock::new(),
        inner: Mutex::new(Inner {
            state: xr::SessionState::UNKNOWN,
            running: false,
            exit_requested: false,
            view_configuration: None,
            frame: FrameLoop {
                waited: None,
                begun: None,
                last_display: None,
                predicted: Default::default(),
                frames_ended: 0,
            },
        }),
        frame_cv: Condvar::new(),
        input: Mutex::new(InputState::default()),
        stage_from_local,
    });
    let raw = handles::insert(Kind::Session, instance.handle(), session.clone());
    let _ = session.handle.set(raw);
    *slot = Some(raw);
    drop(slot);
    {
        let mut inner = session.inner.lock();
        session.transition(&mut inner, xr::SessionState::IDLE);
        session.transition(&mut inner, xr::SessionState::READY);
    }
    tracing::info!(headless, "session created");
    Ok(raw)
}

/// Destroys a session and its spaces and swapchains (whose OpenGL
/// textures are deleted in the app's context, which xrDestroySession may
/// use).
/// How long xrEndFrame waits for an OpenGL app's earlier frame before it
/// reports XR_ERROR_RUNTIME_FAILURE (software GL can take seconds for one
/// large frame; a GPU that takes this long has hung).
const GL_WAIT_LIMIT_S: u64 = 20;

pub fn destroy(raw: Raw) -> Result<()> {
    let s = handles::get::<Session>(Kind::Session, raw)?;
    let removed = handles::remove(Kind::Session, raw)?;
    crate::swapchain::release_removed(&removed);
    if let Graphics::OpenGl(g) = &s.graphics {
        // xrDestroySession may use the context: the fences left.
        if let Err(e) = g.context.drop_fences() {
            tracing::warn!("cannot delete the app's GL fences: {e}");
        }
    }
    s.on_destroy();
    Ok(())
}

impl Session {
    pub fn handle(&self) -> Raw {
        self.handle.get().copied().unwrap_or(0)
    }

    pub(crate) fn on_destroy(&self) {
        self.instance.forget_session_events(self.handle());
        let mut slot = self.instance.session.lock();
        if *slot == Some(self.handle()) {
            *slot = None;
        }
        // Wake anyone blocked in xrWaitFrame; they will see the session gone.
        let mut inner = self.inner.lock();
        inner.running = false;
        self.frame_cv.notify_all();
    }

    pub(crate) fn transition(&self, inner: &mut Inner, state: xr::SessionState) {
        if inner.state == state {
            return;
        }
        tracing::debug!(from = ?inner.state, to = ?state, "session state");
        inner.state = state;
        self.instance.push_event(Event::SessionStateChanged {
            session: self.handle(),
            state,
            time: Time::now(),
        });
    }

    pub fn state(&self) -> xr::SessionState {
        self.inner.lock().state
    }

    pub fn is_focused(&self) -> bool {
        self.inner.lock().state == xr::SessionState::FOCUSED
    }

    /// Moves the session to LOSS_PENDING when its headset is gone; returns
    /// whether the session is (now) loss-pending.
    pub fn check_loss(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.state == xr::SessionState::LOSS_PENDING {
            return true;
        }
        if !self.hub.is_connected() {
            tracing::warn!("head-mounted display lost: session is LOSS_PENDING");
            self.transition(&mut inner, xr::SessionState::LOSS_PENDING);
            self.frame_cv.notify_all();
            return true;
        }
        false
    }

    /// `xrBeginSession`.
    pub fn begin(&self, view_configuration: xr::ViewConfigurationType) -> Result<()> {
        self.instance.check_view_configuration(view_configuration)?;
        if self.check_loss() {
            return Err(Error::session_lost("the session is being lost"));
        }
        let mut inner = self.inner.lock();
        if inner.running {
            return Err(Error::session_running("xrBeginSession was already called"));
        }
        if inner.state != xr::SessionState::READY {
            return Err(Error::session_not_ready(format!(
                "the session is {:?}, not READY",
                inner.state
            )));
        }
        inner.running = true;
        inner.view_configuration = Some(view_configuration);
        inner.frame = FrameLoop {
            waited: None,
            begun: None,
            last_display: inner.frame.last_display,
            predicted: Default::default(),
            frames_ended: 0,
        };
        drop(inner);
        // XR_EXT_user_presence: every successful xrBeginSession tells the
        // app whether someone wears the headset, whatever the value.
        if self.instance.has_extension("XR_EXT_user_presence") {
            if let Some(present) = self.hub.user_present() {
                self.instance.push_event(Event::UserPresenceChanged {
                    session: self.handle(),
                    present,
                });
            }
        }
        Ok(())
    }

    /// Walks down from the current state to STOPPING, queueing each event.
    fn stop_locked(&self, inner: &mut Inner) {
        use xr::SessionState as S;
        if inner.state == S::FOCUSED {
            self.transition(inner, S::VISIBLE);
        }
        if inner.state == S::VISIBLE {
            self.transition(inner, S::SYNCHRONIZED);
        }
        if inner.state == S::READY {
            self.transition(inner, S::SYNCHRONIZED);
        }
        if inner.state == S::SYNCHRONIZED {
            self.transition(inner, S::STOPPING);
        }
        self.frame_cv.notify_all();
    }

    /// `xrRequestExitSession`.
    pub fn request_exit(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        inner.exit_requested = true;
        self.stop_locked(&mut inner);
        Ok(())
    }

    /// `xrEndSession`.
    pub fn end(&self) -> Result<()> {
        let mut inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        if inner.state != xr::SessionState::STOPPING {
            return Err(Error::session_not_stopping(format!(
                "the session is {:?}, not STOPPING",
                inner.state
            )));
        }
        inner.running = false;
        inner.frame.waited = None;
        inner.frame.begun = None;
        self.transition(&mut inner, xr::SessionState::IDLE);
        if inner.exit_requested {
            self.transition(&mut inner, xr::SessionState::EXITING);
        } else {
            self.transition(&mut inner, xr::SessionState::READY);
        }
        self.frame_cv.notify_all();
        Ok(())
    }

    /// `xrWaitFrame`: blocks until the app should start its next frame.
    pub fn wait_frame(&self) -> Result<FrameState> {
        let loss = self.check_loss();
        let clock = self.compositor.clock();
        let mut inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        // A frame waited but not begun: block until xrBeginFrame (another
        // thread's) releases it, as the spec requires.
        while inner.running && inner.frame.waited.is_some() && !loss {
            self.frame_cv.wait(&mut inner);
        }
        if !inner.running {
            return Err(Error::session_not_running(
                "the session stopped running while waiting",
            ));
        }
        let prediction = clock.predict(Time::now(), inner.frame.last_display);
        inner.frame.last_display = Some(prediction.display_time);
        inner.frame.waited = Some(prediction.display_time);
        inner.frame.predicted.push_back(prediction.display_time);
        while inner.frame.predicted.len() > 8 {
            inner.frame.predicted.pop_front();
        }
        drop(inner);
        if !loss {
            prediction.wake_time.sleep_until();
        }
        let mut inner = self.inner.lock();
        use xr::SessionState as S;
        if inner.running && inner.state == S::READY && !loss {
            self.transition(&mut inner, S::SYNCHRONIZED);
            self.transition(&mut inner, S::VISIBLE);
            self.transition(&mut inner, S::FOCUSED);
        }
        let should_render = matches!(inner.state, S::VISIBLE | S::FOCUSED);
        Ok(FrameState {
            predicted_display_time: prediction.display_time,
            predicted_display_period: prediction.period,
            should_render,
            loss_pending: loss,
        })
    }

    /// `xrBeginFrame`; `Ok(true)` means `XR_FRAME_DISCARDED`.
    pub fn begin_frame(&self) -> Result<bool> {
        let mut inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        let Some(display) = inner.frame.waited.take() else {
            return Err(Error::call_order_invalid(
                "xrBeginFrame without a preceding xrWaitFrame",
            ));
        };
        let discarded = inner.frame.begun.replace(display).is_some();
        self.frame_cv.notify_all();
        drop(inner);
        if let Graphics::OpenGl(g) = &self.graphics {
            g.context.poll(); // xrBeginFrame may use the context
        }
        Ok(discarded)
    }

    /// The call-order checks of `xrEndFrame`, done before its layers are read.
    pub fn check_can_end_frame(&self) -> Result<()> {
        let inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        if inner.frame.begun.is_none() {
            return Err(Error::call_order_invalid(
                "xrEndFrame without a matching xrBeginFrame",
            ));
        }
        Ok(())
    }

    /// `xrEndFrame` after the FFI layer has validated and resolved the layers.
    pub fn end_frame(
        &self,
        display_time: Time,
        blend_mode: xr::EnvironmentBlendMode,
        layers: Vec<Layer>,
    ) -> Result<()> {
        let mut inner = self.inner.lock();
        if !inner.running {
            return Err(Error::session_not_running("the session is not running"));
        }
        if inner.frame.begun.is_none() {
            return Err(Error::call_order_invalid(
                "xrEndFrame without a matching xrBeginFrame",
            ));
        }
        if display_time.0 <= 0 || !inner.frame.predicted.contains(&display_time) {
            return Err(Error::time_invalid(format!(
                "displayTime {} is not a predictedDisplayTime returned by xrWaitFrame",
                display_time.0
            )));
        }
        if !BLEND_MODES.contains(&blend_mode) {
            return Err(Error::environment_blend_mode_unsupported(format!(
                "{blend_mode:?} is not supported"
            )));
        }
        inner.frame.begun = None;
        inner.frame.frames_ended += 1;
        let ended = inner.frame.frames_ended;
        if !inner.exit_requested && self.compositor.stats().window_closed {
            inner.exit_requested = true;
            self.stop_locked(&mut inner);
        }
        if let Some(n) = self.instance.config.exit_after_frames {
            if ended >= n && !inner.exit_requested {
                tracing::info!(
                    frames = ended,
                    "PARALLAX_EXIT_AFTER_FRAMES reached: ending the session"
                );
                inner.exit_requested = true;
                self.stop_locked(&mut inner);
            }
        }
        drop(inner);
        // Scripted simulator keys (PARALLAX_SIM_KEYS): the driver's controls
        // are fetched only on frames that have keys (and on the first, to
        // warn once when the driver has none).
        let keys = &self.instance.config.sim_keys;
        if keys.iter().any(|k| k.frame == ended) || (ended == 1 && !keys.is_empty()) {
            match &self.desktop {
                Some(controls) => crate::keyscript::play(keys, ended, controls),
                None if ended == 1 => tracing::warn!(
                    "PARALLAX_SIM_KEYS is set but the driver {} has no desktop controls",
                    self.hub.driver_name()
                ),
                None => {}
            }
        }
        let fence = match &self.graphics {
            Graphics::Vulkan(v) => {
                Some(FrameFence::Vulkan(v.app.fence_queue().map_err(|e| {
                    Error::runtime_failure(format!("fencing the app's queue: {e}"))
                })?))
            }
            // OpenGL: a flag raised once the work before the newest
            // xrReleaseSwapchainImage is done (no semaphores to share).
            // The app's GL work is waited for until the compositor would
            // take the frame for its display time, and no longer.
            Graphics::OpenGl(g) => g
                .context
                .end_frame(GL_WAIT_LIMIT_S, {
                    let margin = self.compositor.clock().compose_margin();
                    (display_time - margin - Time::now()).0.max(0) as u64
                })
                .map_err(|e| Error::runtime_failure(format!("the app's GL work: {e}")))?
                .map(FrameFence::Flag),
            Graphics::Headless => None,
        };
        if let Err(e) = self.compositor.submit(Frame {
            display_time,
            layers,
            fence,
        }) {
            return Err(Error::session_lost(format!("compositor: {e}")));
        }
        Ok(())
    }

    /// Frames completed since `xrBeginSession`.
    pub fn frames_ended(&self) -> u64 {
        self.inner.lock().frame.frames_ended
    }
}
