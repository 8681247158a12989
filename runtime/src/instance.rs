//! `XrInstance`: enabled extensions and API version, path atoms, the event
//! queue, debug messengers, the system, action sets and suggested bindings.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::hub::DeviceHub;
use crate::paths::{PathId, PathTable};
use crate::profiles::{self, Profile};
use openxr_sys as xr;
use parallax_sdk::types::Time;
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::thread::ThreadId;

/// Name the runtime reports.
pub const RUNTIME_NAME: &str = "Parallax";
/// Runtime version as `XrVersion` (major, minor, patch) from the crate version.
pub fn runtime_version() -> xr::Version {
    let v = |s: &str| s.parse::<u32>().unwrap_or(0);
    xr::Version::new(
        v(env!("CARGO_PKG_VERSION_MAJOR")) as u16,
        v(env!("CARGO_PKG_VERSION_MINOR")) as u16,
        v(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

/// Instance extensions this runtime offers, with their spec versions.
pub const EXTENSIONS: &[(&str, u32)] = &[
    ("XR_MND_headless", 2),
    ("XR_KHR_convert_timespec_time", 1),
    ("XR_EXT_debug_utils", 5),
    ("XR_EXT_local_floor", 1),
    ("XR_KHR_locate_spaces", 1),
    ("XR_EXT_conformance_automation", 3),
    ("XR_EXT_palm_pose", 3),
    ("XR_KHR_vulkan_enable", 8),
    ("XR_KHR_vulkan_enable2", 2),
    ("XR_KHR_opengl_enable", 10),
    ("XR_MNDX_egl_enable", 2),
    ("XR_KHR_composition_layer_cylinder", 4),
    ("XR_KHR_composition_layer_equirect2", 1),
    ("XR_KHR_visibility_mask", 2),
    ("XR_KHR_composition_layer_cube", 8),
    ("XR_KHR_composition_layer_depth", 6),
    ("XR_EXT_hand_tracking", 4),
    ("XR_EXT_hand_joints_motion_range", 1),
    ("XR_EXT_hand_interaction", 1),
    ("XR_KHR_binding_modification", 1),
    ("XR_EXT_dpad_binding", 1),
    ("XR_EXT_eye_gaze_interaction", 2),
    ("XR_EXT_user_presence", 1),
    ("XR_FB_face_tracking2", 1),
    ("XR_HTC_facial_tracking", 3),
    ("XR_FB_body_tracking", 1),
];

/// Extensions that need another one enabled with them (the registry's
/// `depends`).
const DEPENDS: &[(&str, &str)] = &[
    ("XR_EXT_hand_joints_motion_range", "XR_EXT_hand_tracking"),
    ("XR_EXT_dpad_binding", "XR_KHR_binding_modification"),
];

/// The one system id this runtime hands out.
pub const SYSTEM_ID: u64 = 1;

/// Highest minor version of OpenXR 1.x served.
pub const MAX_MINOR: u16 = 1;

/// An event waiting in an instance's queue.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    SessionStateChanged {
        session: Raw,
        state: xr::SessionState,
        time: Time,
    },
    InteractionProfileChanged {
        session: Raw,
    },
    /// `XR_EXT_user_presence`.
    UserPresenceChanged {
        session: Raw,
        present: bool,
    },
    ReferenceSpaceChangePending {
        session: Raw,
        space_type: xr::ReferenceSpaceType,
        change_time: Time,
    },
    InstanceLossPending {
        loss_time: Time,
    },
    EventsLost {
        count: u32,
    },
}

impl Event {
    fn session(&self) -> Option<Raw> {
        match self {
            Event::SessionStateChanged { session, .. }
            | Event::InteractionProfileChanged { session }
            | Event::UserPresenceChanged { session, .. }
            | Event::ReferenceSpaceChangePending { session, .. } => Some(*session),
            _ => None,
        }
    }
}

/// A bounded event queue; what overflows is counted and reported with one
/// `XrEventDataEventsLost` before the next event.
struct EventQueue {
    queue: VecDeque<Event>,
    capacity: usize,
    lost: u32,
}

impl EventQueue {
    fn push(&mut self, e: Event) {
        if self.queue.len() >= self.capacity {
            self.lost = self.lost.saturating_add(1);
            tracing::warn!(?e, "event queue full: event dropped");
        } else {
            self.queue.push_back(e);
        }
    }

    fn pop(&mut self) -> Option<Event> {
        if self.lost > 0 {
            let count = std::mem::take(&mut self.lost);
            return Some(Event::EventsLost { count });
        }
        self.queue.pop_front()
    }
}

/// A message for debug messengers.
#[derive(Clone, Debug, Default)]
pub struct DebugMessage {
    pub severity: xr::DebugUtilsMessageSeverityFlagsEXT,
    pub types: xr::DebugUtilsMessageTypeFlagsEXT,
    pub message_id: String,
    pub function_name: String,
    pub message: String,
    /// Objects involved: (type, handle, name given by the app).
    pub objects: Vec<(xr::ObjectType, u64, Option<String>)>,
    /// Labels of the session involved, most recent first: the label
    /// inserted since the last label call, then the open regions from the
    /// innermost out.
    pub session_labels: Vec<String>,
}

/// The callback of a debug messenger (built by the FFI layer).
pub type MessengerCallback = Box<dyn Fn(&DebugMessage) -> bool + Send + Sync>;

/// An `XrDebugUtilsMessengerEXT`.
///
/// Its callback hands the app's `userData` back to the app, which frees what
/// it points to once the messenger is destroyed. So a destroyed messenger
/// must never be called again, not even by a message another thread was
/// delivering at the time: [`Messenger::retire`] (called when its handle or
/// its instance is destroyed) waits for calls in flight on other threads
/// and stops new ones.
pub struct Messenger {
    pub severities: xr::DebugUtilsMessageSeverityFlagsEXT,
    pub types: xr::DebugUtilsMessageTypeFlagsEXT,
    callback: MessengerCallback,
    calls: Mutex<Calls>,
    idle: Condvar,
}

#[derive(Default)]
struct Calls {
    retired: bool,
    /// Threads inside the callback now (one entry per nested call).
    in_flight: Vec<ThreadId>,
}

impl Messenger {
    pub fn new(
        severities: xr::DebugUtilsMessageSeverityFlagsEXT,
        types: xr::DebugUtilsMessageTypeFlagsEXT,
        callback: MessengerCallback,
    ) -> Self {
        Self {
            severities,
            types,
            callback,
            calls: Mutex::new(Calls::default()),
            idle: Condvar::new(),
        }
    }

    fn wants(&self, m: &DebugMessage) -> bool {
        self.severities.intersects(m.severity) && self.types.intersects(m.types)
    }

    /// Calls the callback unless the messenger is retired.
    fn deliver(&self, m: &DebugMessage) {
        let me = std::thread::current().id();
        {
            let mut c = self.calls.lock();
            if c.retired {
                return;
            }
            c.in_flight.push(me);
        }
        // Leaves the in-flight list even if the callback unwinds.
        struct Leave<'a>(&'a Messenger, ThreadId);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut c = self.0.calls.lock();
                if let Some(i) = c.in_flight.iter().position(|t| *t == self.1) {
                    c.in_flight.swap_remove(i);
                }
                self.0.idle.notify_all();
            }
        }
        let _leave = Leave(self, me);
        let _abort_requested = (self.callback)(m);
    }

    /// Stops the callback for good. Returns once no other thread is inside
    /// it; a call on this thread (a callback destroying its own messenger)
    /// is not waited for.
    pub fn retire(&self) {
        let me = std::thread::current().id();
        let mut c = self.calls.lock();
        c.retired = true;
        while c.in_flight.iter().any(|t| *t != me) {
            self.idle.wait(&mut c);
        }
    }
}

/// Retires the messengers among destroyed objects.
pub fn retire_messengers(removed: &[handles::Removed]) {
    for (kind, _, obj) in removed {
        if *kind == Kind::Messenger {
            if let Some(m) = obj.downcast_ref::<Messenger>() {
                m.retire();
            }
        }
    }
}

/// What the app told `xrCreateInstance`.
#[derive(Clone, Debug, Default)]
pub struct InstanceInfo {
    pub application_name: String,
    pub application_version: u32,
    pub engine_name: String,
    pub engine_version: u32,
    pub api_version: xr::Version,
    pub extensions: Vec<String>,
}

/// Session label state per session (`XR_EXT_debug_utils`).
#[derive(Default, Clone)]
struct Labels {
    /// Open regions, outermost first.
    regions: Vec<String>,
    /// The individual label inserted since the last label call, if any.
    inserted: Option<String>,
}

impl Labels {
    /// The labels as messages carry them: most recent first (the inserted
    /// label, then the regions from the innermost out), as the spec's
    /// "Session labels" section orders `sessionLabels`.
    fn newest_first(&self) -> Vec<String> {
        self.inserted
            .iter()
            .chain(self.regions.iter().rev())
            .cloned()
            .collect()
    }
}

/// An `XrInstance`.
pub struct Instance {
    pub info: InstanceInfo,
    pub config: Config,
    handle: OnceLock<Raw>,
    paths: Mutex<PathTable>,
    events: Mutex<EventQueue>,
    hub: Mutex<Option<Arc<DeviceHub>>>,
    profiles: Vec<Profile>,
    bindings: Mutex<HashMap<PathId, Vec<(Raw, PathId)>>>,
    /// `XR_EXT_dpad_binding` parameters suggested with each profile.
    dpads: Mutex<HashMap<PathId, Vec<crate::dpad::Modification>>>,
    /// Messengers from the `next` chain of `XrInstanceCreateInfo`, used
    /// during create and destroy.
    create_messengers: Vec<Arc<Messenger>>,
    object_names: Mutex<HashMap<(i32, u64), String>>,
    labels: Mutex<HashMap<Raw, Labels>>,
    /// A session exists (the runtime serves one session per instance).
    pub(crate) session: Mutex<Option<Raw>>,
    pub(crate) vulkan: Mutex<crate::graphics::VulkanState>,
    /// `xrGetOpenGLGraphicsRequirementsKHR` was called.
    pub(crate) opengl_queried: Mutex<bool>,
}

/// Checks the requested extensions and API version, then creates an instance.
pub fn create(info: InstanceInfo, create_messengers: Vec<Arc<Messenger>>) -> Result<Raw> {
    let v = info.api_version;
    if v.major() != 1 || v.minor() > MAX_MINOR {
        return Err(Error::api_version_unsupported(format!(
            "API version {}.{}.{} requested; this runtime serves 1.0 and 1.{MAX_MINOR}",
            v.major(),
            v.minor(),
            v.patch()
        )));
    }
    for e in &info.extensions {
        if !EXTENSIONS.iter().any(|(n, _)| n == e) {
            return Err(Error::extension_not_present(format!(
                "extension {e} is not supported"
            )));
        }
    }
    // OpenXR 1.1 names the error for a missing dependency; a 1.0 app gets
    // its extension (1.0 leaves the case undefined, and refusing would
    // break apps that worked).
    if v.minor() >= 1 {
        for (e, needs) in DEPENDS {
            if info.extensions.iter().any(|x| x == e) && !info.extensions.iter().any(|x| x == needs)
            {
                return Err(Error::extension_dependency_not_enabled(format!(
                    "{e} needs {needs} enabled as well"
                )));
            }
        }
    }
    let config = Config::from_env();
    let instance = Arc::new(Instance {
        events: Mutex::new(EventQueue {
            queue: VecDeque::new(),
            capacity: config.event_queue,
            lost: 0,
        }),
        info,
        config,
        handle: OnceLock::new(),
        paths: Mutex::new(PathTable::default()),
        hub: Mutex::new(None),
        profiles: profiles::all(),
        bindings: Mutex::new(HashMap::new()),
        dpads: Mutex::new(HashMap::new()),
        create_messengers,
        object_names: Mutex::new(HashMap::new()),
        labels: Mutex::new(HashMap::new()),
        session: Mutex::new(None),
        vulkan: Mutex::new(Default::default()),
        opengl_queried: Mutex::new(false),
    });
    let raw = handles::insert(Kind::Instance, 0, instance.clone());
    let _ = instance.handle.set(raw);
    tracing::info!(
        app = %instance.info.application_name,
        api = %format!("{}.{}", instance.info.api_version.major(), instance.info.api_version.minor()),
        extensions = ?instance.info.extensions,
        "instance created"
    );
    Ok(raw)
}

/// Destroys an instance and everything created from it.
pub fn destroy(raw: Raw) -> Result<()> {
    let inst = handles::get::<Instance>(Kind::Instance, raw)?;
    let removed = handles::remove(Kind::Instance, raw)?;
    retire_messengers(&removed);
    for (kind, _, obj) in removed {
        if kind == Kind::Session {
            if let Ok(s) = obj.downcast::<crate::session::Session>() {
                s.on_destroy();
            }
        }
    }
    inst.debug_message(
        xr::DebugUtilsMessageSeverityFlagsEXT::INFO,
        "xrDestroyInstance",
        "instance destroyed".into(),
        vec![],
        true,
    );
    // Messengers chained at creation serve creation and destruction only.
    for m in &inst.create_messengers {
        m.retire();
    }
    Ok(())
}

impl Instance {
    pub fn handle(&self) -> Raw {
        self.handle.get().copied().unwrap_or(0)
    }

    /// Whether the app enabled an extension.
    pub fn has_extension(&self, name: &str) -> bool {
        self.info.extensions.iter().any(|e| e == name)
    }

    /// Whether the app asked for OpenXR 1.1 or later.
    pub fn is_1_1(&self) -> bool {
        self.info.api_version.minor() >= 1
    }

    /// A view configuration type from the app: Ok for the one this runtime
    /// supports (PRIMARY_STEREO); VIEW_CONFIGURATION_TYPE_UNSUPPORTED for a
    /// value valid on this instance (core, or of an enabled extension) that
    /// the system lacks; VALIDATION_FAILURE for any other value (an
    /// extension's type without the extension is not a valid enum value).
    pub fn check_view_configuration(&self, v: xr::ViewConfigurationType) -> Result<()> {
        use xr::ViewConfigurationType as V;
        let valid = match v {
            V::PRIMARY_STEREO => return Ok(()),
            V::PRIMARY_MONO => true,
            // PRIMARY_STEREO_WITH_FOVEATED_INSET, core since 1.1.
            V::PRIMARY_QUAD_VARJO => self.is_1_1() || self.has_extension("XR_VARJO_quad_views"),
            V::SECONDARY_MONO_FIRST_PERSON_OBSERVER_MSFT => {
                self.has_extension("XR_MSFT_first_person_observer")
            }
            _ => false,
        };
        if valid {
            Err(Error::view_configuration_type_unsupported(format!(
                "{v:?} is not supported; use PRIMARY_STEREO"
            )))
        } else {
            Err(Error::validation(format!(
                "{v:?} is not a valid XrViewConfigurationType for this instance"
            )))
        }
    }

    pub fn string_to_path(&self, s: &str) -> Result<PathId> {
        self.paths.lock().intern(s)
    }

    pub fn path_to_string(&self, id: PathId) -> Result<String> {
        self.paths.lock().string(id).map(str::to_owned)
    }

    /// Atom of a path the runtime itself names (always well-formed).
    pub(crate) fn path(&self, s: &str) -> PathId {
        self.paths.lock().intern(s).unwrap_or(0)
    }

    /// Lets the live session notice a lost headset (LOSS_PENDING).
    pub fn check_session_loss(&self) {
        let current = *self.session.lock();
        if let Some(s) = current {
            if let Ok(s) = handles::get::<crate::session::Session>(Kind::Session, s) {
                s.check_loss();
            }
        }
    }

    pub fn push_event(&self, e: Event) {
        self.events.lock().push(e);
    }

    pub fn poll_event(&self) -> Option<Event> {
        self.events.lock().pop()
    }

    /// Drops queued events about a destroyed session.
    pub(crate) fn forget_session_events(&self, session: Raw) {
        self.events
            .lock()
            .queue
            .retain(|e| e.session() != Some(session));
        self.labels.lock().remove(&session);
    }

    /// The device hub, opened on first use.
    pub fn hub(&self) -> Result<Arc<DeviceHub>> {
        let mut h = self.hub.lock();
        if let Some(hub) = &*h {
            return Ok(hub.clone());
        }
        let hub = Arc::new(DeviceHub::open(&self.config).map_err(|e| {
            Error::form_factor_unavailable(format!("no head-mounted display could be opened: {e}"))
        })?);
        *h = Some(hub.clone());
        Ok(hub)
    }

    /// `xrGetSystem`.
    pub fn get_system(&self, form_factor: xr::FormFactor) -> Result<u64> {
        match form_factor {
            xr::FormFactor::HEAD_MOUNTED_DISPLAY => {}
            xr::FormFactor::HANDHELD_DISPLAY => {
                return Err(Error::form_factor_unsupported(
                    "only head-mounted displays are supported",
                ))
            }
            // An unknown value (XR_FORM_FACTOR_MAX_ENUM, a newer header's
            // form factor) is unsupported, as the CTS expects.
            other => {
                return Err(Error::form_factor_unsupported(format!(
                    "{other:?} is not a form factor this runtime knows"
                )))
            }
        }
        let hub = self.hub()?;
        if !hub.is_connected() {
            return Err(Error::form_factor_unavailable(
                "the head-mounted display is disconnected",
            ));
        }
        Ok(SYSTEM_ID)
    }

    /// Checks a system id handed back by the app.
    pub fn check_system(&self, id: u64) -> Result<Arc<DeviceHub>> {
        if id != SYSTEM_ID || self.hub.lock().is_none() {
            return Err(Error::system_invalid(format!(
                "system id {id} was not returned by xrGetSystem"
            )));
        }
        self.hub()
    }

    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The known profile at a path, honouring extension gating.
    pub fn profile(&self, path: &str) -> Result<&Profile> {
        match self.profiles.iter().find(|p| p.path == path) {
            Some(p) if self.holds(p.when) => Ok(p),
            // A valid profile path of a version or extension this instance
            // has not: unsupported, not invalid.
            Some(p) => Err(Error::path_unsupported(format!(
                "{path} needs one of {:?}, which this instance has not enabled",
                p.when
            ))),
            None => Err(Error::path_unsupported(format!(
                "{path} is not an interaction profile this runtime knows"
            ))),
        }
    }

    /// Whether a profile or component condition holds for this instance.
    pub fn holds(&self, cond: profiles::Cond) -> bool {
        profiles::holds(cond, self.is_1_1(), |e| self.has_extension(e))
    }

    /// Replaces a profile's suggestion (bindings and pad parameters alike).
    pub(crate) fn set_bindings(
        &self,
        profile: PathId,
        bindings: Vec<(Raw, PathId)>,
        dpads: Vec<crate::dpad::Modification>,
    ) {
        self.bindings.lock().insert(profile, bindings);
        self.dpads.lock().insert(profile, dpads);
    }

    /// The pad parameters suggested for a profile's pad in an action set.
    pub(crate) fn dpad_params(
        &self,
        profile: PathId,
        key: &crate::dpad::Key,
    ) -> crate::dpad::Params {
        self.dpads
            .lock()
            .get(&profile)
            .and_then(|m| {
                m.iter().find(|m| {
                    m.user == key.user && m.parent == key.parent && m.action_set == key.action_set
                })
            })
            .map(|m| m.params)
            .unwrap_or_default()
    }

    pub(crate) fn bindings(&self) -> HashMap<PathId, Vec<(Raw, PathId)>> {
        self.bindings.lock().clone()
    }

    /// Names an object for debug messages.
    pub fn set_object_name(&self, ty: xr::ObjectType, handle: u64, name: Option<String>) {
        let mut names = self.object_names.lock();
        match name {
            Some(n) if !n.is_empty() => {
                names.insert((ty.into_raw(), handle), n);
            }
            _ => {
                names.remove(&(ty.into_raw(), handle));
            }
        }
    }

    pub fn begin_label(&self, session: Raw, label: String) {
        let mut l = self.labels.lock();
        let e = l.entry(session).or_default();
        e.inserted = None;
        e.regions.push(label);
    }

    /// Closes the innermost label region; false when none is open.
    pub fn end_label(&self, session: Raw) -> bool {
        let mut l = self.labels.lock();
        let e = l.entry(session).or_default();
        e.inserted = None;
        e.regions.pop().is_some()
    }

    pub fn insert_label(&self, session: Raw, label: String) {
        self.labels.lock().entry(session).or_default().inserted = Some(label);
    }

    /// Sends a message to every matching messenger (and to `tracing`).
    pub fn debug_message(
        &self,
        severity: xr::DebugUtilsMessageSeverityFlagsEXT,
        function: &str,
        message: String,
        objects: Vec<(xr::ObjectType, u64)>,
        include_create_messengers: bool,
    ) {
        let types = if severity.intersects(
            xr::DebugUtilsMessageSeverityFlagsEXT::WARNING
                | xr::DebugUtilsMessageSeverityFlagsEXT::ERROR,
        ) {
            xr::DebugUtilsMessageTypeFlagsEXT::VALIDATION
        } else {
            xr::DebugUtilsMessageTypeFlagsEXT::GENERAL
        };
        self.send(
            DebugMessage {
                severity,
                types,
                message_id: "parallax".into(),
                function_name: function.into(),
                message,
                objects: objects.into_iter().map(|(t, h)| (t, h, None)).collect(),
                session_labels: vec![],
            },
            include_create_messengers,
        );
    }

    /// Delivers a message (from the runtime or `xrSubmitDebugUtilsMessageEXT`).
    pub fn send(&self, mut m: DebugMessage, include_create_messengers: bool) {
        {
            let names = self.object_names.lock();
            // A name set with xrSetDebugUtilsObjectNameEXT wins over the one
            // the message carries; objects without a stored name keep theirs.
            for o in &mut m.objects {
                if let Some(n) = names.get(&(o.0.into_raw(), o.1)) {
                    o.2 = Some(n.clone());
                }
            }
        }
        if let Some(&(_, session, _)) = m.objects.iter().find(|o| o.0 == xr::ObjectType::SESSION) {
            if let Some(l) = self.labels.lock().get(&session) {
                m.session_labels = l.newest_first();
            }
        }
        let mut targets: Vec<Arc<Messenger>> = handles::children(self.handle(), Kind::Messenger)
            .into_iter()
            .filter_map(|h| handles::get::<Messenger>(Kind::Messenger, h).ok())
            .collect();
        if include_create_messengers {
            targets.extend(self.create_messengers.iter().cloned());
        }
        for t in targets.iter().filter(|t| t.wants(&m)) {
            t.deliver(&m);
        }
    }

    /// Messengers given at creation (for messages during `xrCreateInstance`).
    pub fn create_messengers(&self) -> &[Arc<Messenger>] {
        &self.create_messengers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_queue_reports_loss() {
        let mut q = EventQueue {
            queue: VecDeque::new(),
            capacity: 2,
            lost: 0,
        };
        for _ in 0..5 {
            q.push(Event::InstanceLossPending { loss_time: Time(1) });
        }
        assert_eq!(q.pop(), Some(Event::EventsLost { count: 3 }));
        assert!(matches!(q.pop(), Some(Event::InstanceLossPending { .. })));
        assert!(matches!(q.pop(), Some(Event::InstanceLossPending { .. })));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn version_and_extension_checks() {
        let mut info = InstanceInfo {
            api_version: xr::Version::new(2, 0, 0),
            ..Default::default()
        };
        assert_eq!(
            create(info.clone(), vec![]).unwrap_err().code,
            xr::Result::ERROR_API_VERSION_UNSUPPORTED
        );
        info.api_version = xr::Version::new(1, 2, 0);
        assert_eq!(
            create(info.clone(), vec![]).unwrap_err().code,
            xr::Result::ERROR_API_VERSION_UNSUPPORTED
        );
        info.api_version = xr::Version::new(1, 0, 0);
        info.extensions = vec!["XR_FOO_bar".into()];
        assert_eq!(
            create(info.clone(), vec![]).unwrap_err().code,
            xr::Result::ERROR_EXTENSION_NOT_PRESENT
        );
        info.extensions = vec!["XR_MND_headless".into()];
        let h = create(info, vec![]).unwrap();
        destroy(h).unwrap();
        assert!(destroy(h).is_err());
    }
}
