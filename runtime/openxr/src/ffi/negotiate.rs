//! Loader negotiation: the library's only exported symbol.

use super::dispatch::xrGetInstanceProcAddr;
use openxr_sys as xr;
use std::panic::catch_unwind;

/// Lowest and highest OpenXR versions served (major.minor; patch ignored).
const MIN_API: (u16, u16) = (1, 0);
const MAX_API: (u16, u16) = (1, 1);

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    // By default wgpu's notes about optional Vulkan extensions it does not
    // find (the simulated cameras' renderer) stay out of apps' logs.
    let filter = EnvFilter::try_from_env("PARALLAX_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,wgpu_hal=error,wgpu_core=error,naga=error"));
    // Colour codes only on a terminal, so logs read cleanly when piped.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

fn negotiate(
    loader: &xr::NegotiateLoaderInfo,
    request: &mut xr::NegotiateRuntimeRequest,
) -> Result<(), String> {
    if loader.struct_type != xr::NegotiateLoaderInfo::TYPE
        || loader.struct_version != xr::NegotiateLoaderInfo::VERSION
        || loader.struct_size != std::mem::size_of::<xr::NegotiateLoaderInfo>()
    {
        return Err(format!(
            "loader info has type {:?} version {} size {}; expected {:?} {} {}",
            loader.struct_type,
            loader.struct_version,
            loader.struct_size,
            xr::NegotiateLoaderInfo::TYPE,
            xr::NegotiateLoaderInfo::VERSION,
            std::mem::size_of::<xr::NegotiateLoaderInfo>()
        ));
    }
    if request.struct_type != xr::NegotiateRuntimeRequest::TYPE
        || request.struct_version != xr::NegotiateRuntimeRequest::VERSION
        || request.struct_size != std::mem::size_of::<xr::NegotiateRuntimeRequest>()
    {
        return Err("runtime request has the wrong type, version or size".into());
    }
    let ours = xr::CURRENT_LOADER_RUNTIME_VERSION as u32;
    if loader.min_interface_version > ours || loader.max_interface_version < ours {
        return Err(format!(
            "loader speaks interface {}..={}, runtime speaks {ours}",
            loader.min_interface_version, loader.max_interface_version
        ));
    }
    let mm = |v: xr::Version| (v.major(), v.minor());
    if mm(loader.max_api_version) < MIN_API || mm(loader.min_api_version) > MAX_API {
        return Err(format!(
            "loader asks for API {}.{}..={}.{}, runtime serves 1.0..=1.1",
            loader.min_api_version.major(),
            loader.min_api_version.minor(),
            loader.max_api_version.major(),
            loader.max_api_version.minor()
        ));
    }
    let ours_api = xr::CURRENT_API_VERSION;
    request.runtime_interface_version = ours;
    request.runtime_api_version = if mm(loader.max_api_version) < mm(ours_api) {
        loader.max_api_version
    } else {
        ours_api
    };
    request.get_instance_proc_addr = Some(xrGetInstanceProcAddr);
    Ok(())
}

/// `xrNegotiateLoaderRuntimeInterface`: checks the loader's structures by
/// type, version and size and the requested interface and API ranges.
///
/// # Safety
/// Called by the loader with pointers to its negotiation structures (or
/// null, which is rejected).
#[no_mangle]
pub unsafe extern "system" fn xrNegotiateLoaderRuntimeInterface(
    loader_info: *const xr::NegotiateLoaderInfo,
    runtime_request: *mut xr::NegotiateRuntimeRequest,
) -> xr::Result {
    init_logging();
    if loader_info.is_null() || runtime_request.is_null() {
        tracing::error!("xrNegotiateLoaderRuntimeInterface: null argument");
        return xr::Result::ERROR_INITIALIZATION_FAILED;
    }
    // SAFETY: both non-null; the loader owns them for the call.
    let (loader, request) = unsafe { (&*loader_info, &mut *runtime_request) };
    match catch_unwind(std::panic::AssertUnwindSafe(|| negotiate(loader, request))) {
        Ok(Ok(())) => xr::Result::SUCCESS,
        Ok(Err(why)) => {
            tracing::error!("loader negotiation failed: {why}");
            xr::Result::ERROR_INITIALIZATION_FAILED
        }
        Err(_) => xr::Result::ERROR_INITIALIZATION_FAILED,
    }
}

#[cfg(test)]
#[allow(
    clippy::undocumented_unsafe_blocks,
    reason = "calls with pointers to locals"
)]
mod tests {
    use super::*;

    fn loader() -> xr::NegotiateLoaderInfo {
        xr::NegotiateLoaderInfo {
            struct_type: xr::NegotiateLoaderInfo::TYPE,
            struct_version: xr::NegotiateLoaderInfo::VERSION,
            struct_size: std::mem::size_of::<xr::NegotiateLoaderInfo>(),
            min_interface_version: 1,
            max_interface_version: 1,
            min_api_version: xr::Version::new(1, 0, 0),
            max_api_version: xr::Version::new(1, 0x3ff, 0xfff),
        }
    }

    fn request() -> xr::NegotiateRuntimeRequest {
        xr::NegotiateRuntimeRequest {
            struct_type: xr::NegotiateRuntimeRequest::TYPE,
            struct_version: xr::NegotiateRuntimeRequest::VERSION,
            struct_size: std::mem::size_of::<xr::NegotiateRuntimeRequest>(),
            runtime_interface_version: 0,
            runtime_api_version: xr::Version::new(0, 0, 0),
            get_instance_proc_addr: None,
        }
    }

    #[test]
    fn checks_structs_and_ranges() {
        let call = |l: &xr::NegotiateLoaderInfo, r: &mut xr::NegotiateRuntimeRequest| {
            // SAFETY: valid pointers to locals.
            unsafe { xrNegotiateLoaderRuntimeInterface(l, r) }
        };
        let mut r = request();
        assert_eq!(call(&loader(), &mut r), xr::Result::SUCCESS);
        assert_eq!(r.runtime_interface_version, 1);
        assert!(r.get_instance_proc_addr.is_some());
        assert_eq!(
            (r.runtime_api_version.major(), r.runtime_api_version.minor()),
            (1, 1)
        );

        let mut old = loader();
        old.max_api_version = xr::Version::new(1, 0, 20);
        let mut r = request();
        assert_eq!(call(&old, &mut r), xr::Result::SUCCESS);
        assert_eq!(r.runtime_api_version.minor(), 0);

        let mut bad = loader();
        bad.struct_size -= 1;
        assert_eq!(
            call(&bad, &mut request()),
            xr::Result::ERROR_INITIALIZATION_FAILED
        );
        let mut bad = loader();
        bad.min_interface_version = 2;
        bad.max_interface_version = 3;
        assert_eq!(
            call(&bad, &mut request()),
            xr::Result::ERROR_INITIALIZATION_FAILED
        );
        let mut bad = loader();
        bad.min_api_version = xr::Version::new(2, 0, 0);
        bad.max_api_version = xr::Version::new(2, 0, 0);
        assert_eq!(
            call(&bad, &mut request()),
            xr::Result::ERROR_INITIALIZATION_FAILED
        );
        let mut r = request();
        r.struct_version = 9;
        assert_eq!(
            call(&loader(), &mut r),
            xr::Result::ERROR_INITIALIZATION_FAILED
        );
        // SAFETY: null pointers are rejected before use.
        assert_eq!(
            unsafe { xrNegotiateLoaderRuntimeInterface(std::ptr::null(), std::ptr::null_mut()) },
            xr::Result::ERROR_INITIALIZATION_FAILED
        );
    }
}
