//! Instance, system and path entry points through the real Khronos loader.
#![allow(unsafe_code)]
// Raw calls pass pointers to locals and live handles; each group says why above it.
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;
use common::*;
use openxr as xr;
use openxr::sys;
use std::ffi::CString;

#[test]
fn extensions_are_listed() {
    on_loader_thread(|| {
        let exts = entry().enumerate_extensions().unwrap();
        assert!(exts.mnd_headless && exts.ext_debug_utils && exts.ext_conformance_automation);
        assert!(exts.khr_convert_timespec_time && exts.ext_local_floor && exts.khr_locate_spaces);
        assert!(exts.khr_vulkan_enable && exts.khr_vulkan_enable2);
        assert!(exts.khr_opengl_enable && exts.mndx_egl_enable);
    });
}

#[test]
fn api_versions() {
    on_loader_thread(|| {
        let e = entry();
        // Debian's loader 1.0.20 refuses 1.1 apps itself; 1.1 is tested against
        // the runtime directly in `direct.rs`.
        assert_eq!(
            instance_with(&e, &headless_exts(), xr::Version::new(2, 0, 0)).err(),
            Some(sys::Result::ERROR_API_VERSION_UNSUPPORTED)
        );
        assert_eq!(
            instance_with(&e, &headless_exts(), xr::Version::new(1, 2, 0)).err(),
            Some(sys::Result::ERROR_API_VERSION_UNSUPPORTED)
        );
    });
}

#[test]
fn unknown_extension_is_refused() {
    on_loader_thread(|| {
        let e = entry();
        let mut exts = xr::ExtensionSet::default();
        // The crate hands these bytes to the loader as C strings: the NUL is ours
        // to add (without it the loader reads past the buffer).
        exts.other = vec![b"XR_PARALLAX_does_not_exist\0".to_vec()];
        let r = instance_with(&e, &exts, xr::Version::new(1, 0, 0));
        assert_eq!(r.err(), Some(sys::Result::ERROR_EXTENSION_NOT_PRESENT));
    });
}

#[test]
fn properties_and_strings() {
    on_loader_thread(|| {
        let i = instance();
        let p = i.properties().unwrap();
        assert_eq!(p.runtime_name, "Parallax");
        assert_eq!(
            i.result_to_string(sys::Result::ERROR_PATH_INVALID).unwrap(),
            "XR_ERROR_PATH_INVALID"
        );
        assert_eq!(
            i.result_to_string(sys::Result::from_raw(-1_000_999))
                .unwrap(),
            "XR_UNKNOWN_FAILURE_-1000999"
        );
        assert_eq!(
            i.structure_type_to_string(sys::StructureType::FRAME_STATE)
                .unwrap(),
            "XR_TYPE_FRAME_STATE"
        );
    });
}

#[test]
fn paths_round_trip_and_validate() {
    on_loader_thread(|| {
        let i = instance();
        let a = i.string_to_path("/user/hand/left").unwrap();
        assert_eq!(i.string_to_path("/user/hand/left").unwrap(), a);
        assert_eq!(i.path_to_string(a).unwrap(), "/user/hand/left");
        for bad in ["user/hand", "/user/", "/User", "//x", "/a/../b", "/a b"] {
            assert_eq!(
                i.string_to_path(bad).err(),
                Some(sys::Result::ERROR_PATH_FORMAT_INVALID),
                "{bad}"
            );
        }
        assert_eq!(
            i.path_to_string(xr::Path::from_raw(123_456)).err(),
            Some(sys::Result::ERROR_PATH_INVALID)
        );
        // Two-call idiom with a too-small buffer.
        let mut count = 0u32;
        let mut buf = [0 as std::ffi::c_char; 4];
        // SAFETY: valid instance, path and buffers.
        let r = unsafe { (i.fp().path_to_string)(i.as_raw(), a, 4, &mut count, buf.as_mut_ptr()) };
        assert_eq!(r, sys::Result::ERROR_SIZE_INSUFFICIENT);
        assert_eq!(count as usize, "/user/hand/left".len() + 1);
    });
}

#[test]
fn system_and_view_configurations() {
    on_loader_thread(|| {
        let i = instance();
        let sys_id = i.system(xr::FormFactor::HEAD_MOUNTED_DISPLAY).unwrap();
        assert_eq!(
            i.system(xr::FormFactor::HANDHELD_DISPLAY).err(),
            Some(sys::Result::ERROR_FORM_FACTOR_UNSUPPORTED)
        );
        let props = i.system_properties(sys_id).unwrap();
        assert_eq!(props.system_name, expected().system_name);
        assert!(props.tracking_properties.position_tracking);
        assert_eq!(
            i.enumerate_view_configurations(sys_id).unwrap(),
            vec![xr::ViewConfigurationType::PRIMARY_STEREO]
        );
        let views = i
            .enumerate_view_configuration_views(sys_id, xr::ViewConfigurationType::PRIMARY_STEREO)
            .unwrap();
        assert_eq!(views.len(), 2);
        assert_eq!(
            (
                views[0].recommended_image_rect_width,
                views[0].recommended_image_rect_height
            ),
            (expected().width, expected().height)
        );
        assert_eq!(
            i.enumerate_view_configuration_views(sys_id, xr::ViewConfigurationType::PRIMARY_MONO)
                .err(),
            Some(sys::Result::ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED)
        );
        assert_eq!(
            i.enumerate_environment_blend_modes(sys_id, xr::ViewConfigurationType::PRIMARY_STEREO)
                .unwrap(),
            vec![xr::EnvironmentBlendMode::OPAQUE]
        );
        assert_eq!(
            i.system_properties(xr::SystemId::from_raw(77)).err(),
            Some(sys::Result::ERROR_SYSTEM_INVALID)
        );
    });
}

#[test]
fn get_instance_proc_addr_rules() {
    on_loader_thread(|| {
        let i = instance();
        let gipa = i.entry().fp().get_instance_proc_addr;
        let mut f: Option<sys::pfn::VoidFunction> = None;
        let name = |s: &str| CString::new(s).unwrap();
        // SAFETY: valid arguments for each call.
        unsafe {
            assert_eq!(
                gipa(i.as_raw(), name("xrNotAFunction").as_ptr(), &mut f),
                sys::Result::ERROR_FUNCTION_UNSUPPORTED
            );
            assert!(f.is_none());
            assert_eq!(
                gipa(i.as_raw(), name("xrPollEvent").as_ptr(), &mut f),
                sys::Result::SUCCESS
            );
            assert!(f.is_some());
            // 1.1 core function on a 1.0 instance.
            assert_eq!(
                gipa(i.as_raw(), name("xrLocateSpaces").as_ptr(), &mut f),
                sys::Result::ERROR_FUNCTION_UNSUPPORTED
            );
            // Extension enabled.
            assert_eq!(
                gipa(i.as_raw(), name("xrLocateSpacesKHR").as_ptr(), &mut f),
                sys::Result::SUCCESS
            );
            // Null instance: only the three global functions.
            assert_eq!(
                gipa(
                    <sys::Instance as sys::Handle>::NULL,
                    name("xrCreateInstance").as_ptr(),
                    &mut f
                ),
                sys::Result::SUCCESS
            );
            assert_eq!(
                gipa(
                    <sys::Instance as sys::Handle>::NULL,
                    name("xrPollEvent").as_ptr(),
                    &mut f
                ),
                sys::Result::ERROR_HANDLE_INVALID
            );
        }
        drop(i);
        // Not-enabled extension functions. (The loader is reached through
        // the new instance's entry: dropping `i` may have unloaded the
        // library `gipa` pointed into.)
        let plain = instance_with(
            &entry(),
            &xr::ExtensionSet::default(),
            xr::Version::new(1, 0, 0),
        )
        .unwrap();
        let gipa2 = plain.entry().fp().get_instance_proc_addr;
        // SAFETY: valid arguments.
        unsafe {
            assert_eq!(
                gipa2(
                    plain.as_raw(),
                    name("xrSetInputDeviceActiveEXT").as_ptr(),
                    &mut f
                ),
                sys::Result::ERROR_FUNCTION_UNSUPPORTED
            );
        }
    });
}

#[test]
fn timespec_conversion() {
    on_loader_thread(|| {
        let i = instance();
        let conv = i.exts().khr_convert_timespec_time.unwrap();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointers.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mut t = sys::Time::from_nanos(0);
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { (conv.convert_timespec_time_to_time)(i.as_raw(), &ts, &mut t) },
            sys::Result::SUCCESS
        );
        assert_eq!(t.as_nanos(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec);
        let mut back = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { (conv.convert_time_to_timespec_time)(i.as_raw(), t, &mut back) },
            sys::Result::SUCCESS
        );
        assert_eq!((back.tv_sec, back.tv_nsec), (ts.tv_sec, ts.tv_nsec));
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe {
                (conv.convert_time_to_timespec_time)(
                    i.as_raw(),
                    sys::Time::from_nanos(0),
                    &mut back,
                )
            },
            sys::Result::ERROR_TIME_INVALID
        );
    });
}

#[test]
fn library_exports_only_the_negotiation_symbol() {
    on_loader_thread(|| {
        let lib = target_dir().join("libparallax_openxr.so");
        let out = std::process::Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(&lib)
            .output()
            .expect("nm (binutils) is needed");
        let text = String::from_utf8_lossy(&out.stdout);
        let symbols: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .collect();
        assert_eq!(symbols, vec!["xrNegotiateLoaderRuntimeInterface"], "{text}");
    });
}
