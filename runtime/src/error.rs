//! The state tracker's error type: an OpenXR result code plus a message that
//! says what was wrong, logged and sent to debug messengers by the FFI layer.

use openxr_sys as xr;
use std::borrow::Cow;

/// An OpenXR failure with its reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Error {
    pub code: xr::Result,
    pub message: Cow<'static, str>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: xr::Result, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Shorthand constructors, one per result code the tracker returns.
macro_rules! codes {
    ($($fn_name:ident => $code:ident),* $(,)?) => {
        impl Error {
            $(
                #[allow(dead_code)]
                pub fn $fn_name(message: impl Into<Cow<'static, str>>) -> Self {
                    Self::new(xr::Result::$code, message)
                }
            )*
        }
    };
}

codes! {
    validation => ERROR_VALIDATION_FAILURE,
    runtime_failure => ERROR_RUNTIME_FAILURE,
    handle_invalid => ERROR_HANDLE_INVALID,
    size_insufficient => ERROR_SIZE_INSUFFICIENT,
    path_invalid => ERROR_PATH_INVALID,
    path_format_invalid => ERROR_PATH_FORMAT_INVALID,
    path_unsupported => ERROR_PATH_UNSUPPORTED,
    call_order_invalid => ERROR_CALL_ORDER_INVALID,
    session_not_running => ERROR_SESSION_NOT_RUNNING,
    session_running => ERROR_SESSION_RUNNING,
    session_not_ready => ERROR_SESSION_NOT_READY,
    session_not_stopping => ERROR_SESSION_NOT_STOPPING,
    time_invalid => ERROR_TIME_INVALID,
    feature_unsupported => ERROR_FEATURE_UNSUPPORTED,
    function_unsupported => ERROR_FUNCTION_UNSUPPORTED,
    extension_not_present => ERROR_EXTENSION_NOT_PRESENT,
    extension_dependency_not_enabled => ERROR_EXTENSION_DEPENDENCY_NOT_ENABLED,
    api_version_unsupported => ERROR_API_VERSION_UNSUPPORTED,
    api_layer_not_present => ERROR_API_LAYER_NOT_PRESENT,
    initialization_failed => ERROR_INITIALIZATION_FAILED,
    form_factor_unsupported => ERROR_FORM_FACTOR_UNSUPPORTED,
    form_factor_unavailable => ERROR_FORM_FACTOR_UNAVAILABLE,
    system_invalid => ERROR_SYSTEM_INVALID,
    view_configuration_type_unsupported => ERROR_VIEW_CONFIGURATION_TYPE_UNSUPPORTED,
    environment_blend_mode_unsupported => ERROR_ENVIRONMENT_BLEND_MODE_UNSUPPORTED,
    reference_space_unsupported => ERROR_REFERENCE_SPACE_UNSUPPORTED,
    pose_invalid => ERROR_POSE_INVALID,
    graphics_device_invalid => ERROR_GRAPHICS_DEVICE_INVALID,
    layer_invalid => ERROR_LAYER_INVALID,
    layer_limit_exceeded => ERROR_LAYER_LIMIT_EXCEEDED,
    swapchain_rect_invalid => ERROR_SWAPCHAIN_RECT_INVALID,
    swapchain_format_unsupported => ERROR_SWAPCHAIN_FORMAT_UNSUPPORTED,
    action_type_mismatch => ERROR_ACTION_TYPE_MISMATCH,
    actionset_not_attached => ERROR_ACTIONSET_NOT_ATTACHED,
    actionsets_already_attached => ERROR_ACTIONSETS_ALREADY_ATTACHED,
    name_duplicated => ERROR_NAME_DUPLICATED,
    name_invalid => ERROR_NAME_INVALID,
    localized_name_duplicated => ERROR_LOCALIZED_NAME_DUPLICATED,
    localized_name_invalid => ERROR_LOCALIZED_NAME_INVALID,
    path_count_exceeded => ERROR_PATH_COUNT_EXCEEDED,
    instance_lost => ERROR_INSTANCE_LOST,
    session_lost => ERROR_SESSION_LOST,
    limit_reached => ERROR_LIMIT_REACHED,
    index_out_of_range => ERROR_INDEX_OUT_OF_RANGE,
    out_of_memory => ERROR_OUT_OF_MEMORY,
}
