//! The device hub: the one place the state tracker gets poses, inputs and
//! display facts from. It owns the opened driver system, sanitises what the
//! driver returns (once, at this boundary) and logs each kind of bad data
//! once. Its methods are plain calls that could be messages, so the
//! out-of-process service changes the transport, not this interface.

use crate::config::Config;
use parallax_driver_simulated::SimulatedBuilder;
use parallax_sdk::types::{DisplayInfo, Duration, Time, TrackedPose};
use parallax_sdk::{
    sanitize, Builder, Device, DriverError, Hmd, InputValue, SystemDevices, Vibration,
};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;

/// The opened devices.
pub struct DeviceHub {
    system: SystemDevices,
    warned: Mutex<HashSet<String>>,
}

/// Index of a device: 0 is the HMD, 1.. the other devices.
pub type DeviceIndex = usize;

impl DeviceHub {
    /// Chooses and opens a driver. Today the built-in simulated headset is
    /// the only builder; the vendor ABI adds discovered ones.
    pub fn open(config: &Config) -> Result<Self, DriverError> {
        let mut sim = SimulatedBuilder::new(config.sim_motion);
        sim.disconnect_after = config
            .sim_disconnect_after_ms
            .map(|ms| Duration::from_nanos(ms as i64 * 1_000_000));
        let builders: Vec<Box<dyn Builder>> = vec![Box::new(sim)];
        let best = builders
            .iter()
            .filter(|b| b.estimate().hmd)
            .max_by_key(|b| b.estimate().score)
            .ok_or_else(|| {
                DriverError::OpenFailed("no driver offers a head-mounted display".into())
            })?;
        let system = best.open()?;
        if let Some(hz) = config.refresh_hz {
            if let Err(e) = system.hmd.set_refresh_rate(hz) {
                tracing::warn!(
                    "PARALLAX_REFRESH_HZ={hz}: {e}; keeping {} Hz",
                    system.hmd.refresh_rate()
                );
            }
        }
        tracing::info!(driver = best.name(), system = %system.system_name, "opened device system");
        Ok(Self {
            system,
            warned: Mutex::new(HashSet::new()),
        })
    }

    pub fn system_name(&self) -> &str {
        &self.system.system_name
    }

    pub fn vendor_id(&self) -> u32 {
        self.system.vendor_id
    }

    pub fn hmd(&self) -> &Arc<dyn Hmd> {
        &self.system.hmd
    }

    pub fn display(&self) -> &DisplayInfo {
        self.system.hmd.display()
    }

    pub fn play_area(&self) -> Option<parallax_sdk::types::PlayArea> {
        self.system.play_area
    }

    pub fn is_connected(&self) -> bool {
        self.system.hmd.is_connected()
    }

    fn warn_once(&self, cause: String) {
        if self.warned.lock().insert(cause.clone()) {
            tracing::warn!("{cause}");
        }
    }

    fn device(&self, index: DeviceIndex) -> Option<&dyn Device> {
        if index == 0 {
            Some(&*self.system.hmd as &dyn Device)
        } else {
            self.system.devices.get(index - 1).map(|d| &**d)
        }
    }

    /// Devices other than the HMD, with their indices.
    pub fn devices(&self) -> impl Iterator<Item = (DeviceIndex, &Arc<dyn Device>)> {
        self.system
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (i + 1, d))
    }

    /// The device that feeds a top-level user path.
    pub fn device_for_user_path(&self, user_path: &str) -> Option<DeviceIndex> {
        self.devices()
            .find(|(_, d)| d.description().role.user_path() == Some(user_path))
            .map(|(i, _)| i)
    }

    pub fn description(&self, index: DeviceIndex) -> Option<&parallax_sdk::DeviceDescription> {
        self.device(index).map(|d| d.description())
    }

    /// A sanitised pose of a device component, predicted to `at`.
    pub fn pose(&self, index: DeviceIndex, component: &str, at: Time) -> Option<TrackedPose> {
        let dev = self.device(index)?;
        let name = &dev.description().name;
        match dev.pose(component, at) {
            // Queries may ask for any time (prediction), so sample order is
            // not checked here; streaming drivers are checked where they push.
            Ok(p) => match sanitize::tracked_pose(p, None) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.warn_once(format!("{name} {component}: rejected pose: {e}"));
                    None
                }
            },
            Err(DriverError::Disconnected) => None,
            Err(e) => {
                self.warn_once(format!("{name} {component}: {e}"));
                None
            }
        }
    }

    /// The head pose (`stage_from_head`) predicted to `at`.
    pub fn head(&self, at: Time) -> Option<TrackedPose> {
        self.pose(0, "head", at)
    }

    /// Reads a device's non-pose inputs into `out` (one slot per input of its
    /// description, `None` where the value is missing or was rejected),
    /// reusing the buffer: this runs on every `xrSyncActions`.
    pub fn read_inputs(&self, index: DeviceIndex, out: &mut Vec<Option<InputValue>>) {
        out.clear();
        let Some(dev) = self.device(index) else {
            return;
        };
        let desc = dev.description();
        out.resize(desc.inputs.len(), None);
        if let Err(e) = dev.read_inputs(out) {
            self.warn_once(format!("{}: reading inputs failed: {e}", desc.name));
            out.iter_mut().for_each(|v| *v = None);
            return;
        }
        for (slot, c) in out.iter_mut().zip(&desc.inputs) {
            if let Some(v) = *slot {
                *slot = match sanitize::input(v) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.warn_once(format!("{} {}: {e}", desc.name, c.path));
                        None
                    }
                };
            }
        }
    }

    /// Starts or stops a vibration.
    pub fn vibrate(&self, index: DeviceIndex, output: &str, v: Option<Vibration>) {
        if let Some(dev) = self.device(index) {
            if let Err(e) = dev.set_vibration(output, v) {
                self.warn_once(format!("{} {output}: {e}", dev.description().name));
            }
        }
    }
}
