//! The simulated headset exported through the C ABI, so the ABI path is
//! exercised by the same devices the built-in path uses.
//!
//! Config (the manifest's `config` object): `{"motion": "static" |
//! "scripted[:SEED]", "disconnect_after_ms": N}`; without it the
//! `PARALLAX_SIM_MOTION` variable applies, as for the built-in headset.

use parallax_driver_simulated::{MotionKind, SimulatedBuilder};
use parallax_sdk::types::Duration;
use parallax_sdk::{Builder, DriverError};

fn make(config: &str) -> Result<Box<dyn Builder>, DriverError> {
    let cfg: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| DriverError::InvalidArgument(format!("config is not JSON: {e}")))?;
    let motion = match cfg.get("motion").and_then(|m| m.as_str()) {
        Some(m) => MotionKind::parse(m)
            .ok_or_else(|| DriverError::InvalidArgument(format!("motion {m:?}")))?,
        None => std::env::var("PARALLAX_SIM_MOTION")
            .ok()
            .and_then(|m| MotionKind::parse(&m))
            .unwrap_or(MotionKind::Scripted { seed: 1 }),
    };
    let mut b = SimulatedBuilder::new(motion);
    b.name = "simulated-abi";
    b.disconnect_after = cfg
        .get("disconnect_after_ms")
        .and_then(|v| v.as_u64())
        .map(|ms| Duration::from_nanos(ms as i64 * 1_000_000));
    Ok(Box::new(b))
}

parallax_sdk_abi::export_driver!("simulated-abi", make);
