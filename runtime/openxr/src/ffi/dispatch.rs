//! The one dispatch table: every entry point by name, type-checked against
//! its `openxr-sys` `pfn` type, with what gates it (core 1.0, core 1.1, or
//! an extension the app must enable).

use super::{
    action as a, body as b, debug as d, face as f, guard, hand as h, instance as i, opengl as gl,
    out_ptr, session as s, space as sp, vulkan as v,
};
use openxr_sys as xr;
use parallax_runtime::handles::{self, Kind};
use parallax_runtime::instance::Instance;
use parallax_runtime::Error;
use std::ffi::c_char;

/// What makes an entry point available.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    Core10,
    Core11,
    Extension(&'static str),
}

/// One row of the table.
pub struct Entry {
    pub name: &'static str,
    pub gate: Gate,
    pub function: xr::pfn::VoidFunction,
}

macro_rules! table {
    ($($name:ident : $pfn:ident = $f:path, $gate:expr;)*) => {
        /// Every entry point of the runtime.
        pub fn table() -> &'static [Entry] {
            static TABLE: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
            TABLE.get_or_init(|| vec![$(
                Entry {
                    name: stringify!($name),
                    gate: $gate,
                    function: {
                        // The binding checks the thunk's signature against the spec's.
                        let f: xr::pfn::$pfn = $f;
                        // SAFETY: the loader casts this back to the same
                        // `pfn` type by name before calling it.
                        unsafe { std::mem::transmute::<xr::pfn::$pfn, xr::pfn::VoidFunction>(f) }
                    },
                },
            )*])
        }
    };
}

use Gate::*;
const DEBUG: Gate = Extension("XR_EXT_debug_utils");
const AUTOMATION: Gate = Extension("XR_EXT_conformance_automation");
const VK1: Gate = Extension("XR_KHR_vulkan_enable");
const VK2: Gate = Extension("XR_KHR_vulkan_enable2");
const HANDS: Gate = Extension("XR_EXT_hand_tracking");
const GL: Gate = Extension("XR_KHR_opengl_enable");
const FACE2: Gate = Extension("XR_FB_face_tracking2");
const HTC_FACE: Gate = Extension("XR_HTC_facial_tracking");
const BODY: Gate = Extension("XR_FB_body_tracking");

table! {
    xrGetInstanceProcAddr: GetInstanceProcAddr = xrGetInstanceProcAddr, Core10;
    xrEnumerateApiLayerProperties: EnumerateApiLayerProperties = i::xrEnumerateApiLayerProperties, Core10;
    xrEnumerateInstanceExtensionProperties: EnumerateInstanceExtensionProperties = i::xrEnumerateInstanceExtensionProperties, Core10;
    xrCreateInstance: CreateInstance = i::xrCreateInstance, Core10;
    xrDestroyInstance: DestroyInstance = i::xrDestroyInstance, Core10;
    xrGetInstanceProperties: GetInstanceProperties = i::xrGetInstanceProperties, Core10;
    xrPollEvent: PollEvent = i::xrPollEvent, Core10;
    xrResultToString: ResultToString = i::xrResultToString, Core10;
    xrStructureTypeToString: StructureTypeToString = i::xrStructureTypeToString, Core10;
    xrStringToPath: StringToPath = i::xrStringToPath, Core10;
    xrPathToString: PathToString = i::xrPathToString, Core10;
    xrGetSystem: GetSystem = i::xrGetSystem, Core10;
    xrGetSystemProperties: GetSystemProperties = i::xrGetSystemProperties, Core10;
    xrEnumerateViewConfigurations: EnumerateViewConfigurations = i::xrEnumerateViewConfigurations, Core10;
    xrGetViewConfigurationProperties: GetViewConfigurationProperties = i::xrGetViewConfigurationProperties, Core10;
    xrEnumerateViewConfigurationViews: EnumerateViewConfigurationViews = i::xrEnumerateViewConfigurationViews, Core10;
    xrEnumerateEnvironmentBlendModes: EnumerateEnvironmentBlendModes = i::xrEnumerateEnvironmentBlendModes, Core10;
    xrCreateSession: CreateSession = s::xrCreateSession, Core10;
    xrDestroySession: DestroySession = s::xrDestroySession, Core10;
    xrBeginSession: BeginSession = s::xrBeginSession, Core10;
    xrEndSession: EndSession = s::xrEndSession, Core10;
    xrRequestExitSession: RequestExitSession = s::xrRequestExitSession, Core10;
    xrWaitFrame: WaitFrame = s::xrWaitFrame, Core10;
    xrBeginFrame: BeginFrame = s::xrBeginFrame, Core10;
    xrEndFrame: EndFrame = s::xrEndFrame, Core10;
    xrEnumerateSwapchainFormats: EnumerateSwapchainFormats = s::xrEnumerateSwapchainFormats, Core10;
    xrCreateSwapchain: CreateSwapchain = s::xrCreateSwapchain, Core10;
    xrDestroySwapchain: DestroySwapchain = s::xrDestroySwapchain, Core10;
    xrEnumerateSwapchainImages: EnumerateSwapchainImages = s::xrEnumerateSwapchainImages, Core10;
    xrAcquireSwapchainImage: AcquireSwapchainImage = s::xrAcquireSwapchainImage, Core10;
    xrWaitSwapchainImage: WaitSwapchainImage = s::xrWaitSwapchainImage, Core10;
    xrReleaseSwapchainImage: ReleaseSwapchainImage = s::xrReleaseSwapchainImage, Core10;
    xrEnumerateReferenceSpaces: EnumerateReferenceSpaces = sp::xrEnumerateReferenceSpaces, Core10;
    xrCreateReferenceSpace: CreateReferenceSpace = sp::xrCreateReferenceSpace, Core10;
    xrGetReferenceSpaceBoundsRect: GetReferenceSpaceBoundsRect = sp::xrGetReferenceSpaceBoundsRect, Core10;
    xrCreateActionSpace: CreateActionSpace = sp::xrCreateActionSpace, Core10;
    xrLocateSpace: LocateSpace = sp::xrLocateSpace, Core10;
    xrDestroySpace: DestroySpace = sp::xrDestroySpace, Core10;
    xrLocateViews: LocateViews = sp::xrLocateViews, Core10;
    xrLocateSpaces: LocateSpaces = sp::xrLocateSpaces, Core11;
    xrLocateSpacesKHR: LocateSpacesKHR = sp::xrLocateSpaces, Extension("XR_KHR_locate_spaces");
    xrCreateActionSet: CreateActionSet = a::xrCreateActionSet, Core10;
    xrDestroyActionSet: DestroyActionSet = a::xrDestroyActionSet, Core10;
    xrCreateAction: CreateAction = a::xrCreateAction, Core10;
    xrDestroyAction: DestroyAction = a::xrDestroyAction, Core10;
    xrSuggestInteractionProfileBindings: SuggestInteractionProfileBindings = a::xrSuggestInteractionProfileBindings, Core10;
    xrAttachSessionActionSets: AttachSessionActionSets = a::xrAttachSessionActionSets, Core10;
    xrGetCurrentInteractionProfile: GetCurrentInteractionProfile = a::xrGetCurrentInteractionProfile, Core10;
    xrGetActionStateBoolean: GetActionStateBoolean = a::xrGetActionStateBoolean, Core10;
    xrGetActionStateFloat: GetActionStateFloat = a::xrGetActionStateFloat, Core10;
    xrGetActionStateVector2f: GetActionStateVector2f = a::xrGetActionStateVector2f, Core10;
    xrGetActionStatePose: GetActionStatePose = a::xrGetActionStatePose, Core10;
    xrSyncActions: SyncActions = a::xrSyncActions, Core10;
    xrEnumerateBoundSourcesForAction: EnumerateBoundSourcesForAction = a::xrEnumerateBoundSourcesForAction, Core10;
    xrGetInputSourceLocalizedName: GetInputSourceLocalizedName = a::xrGetInputSourceLocalizedName, Core10;
    xrApplyHapticFeedback: ApplyHapticFeedback = a::xrApplyHapticFeedback, Core10;
    xrStopHapticFeedback: StopHapticFeedback = a::xrStopHapticFeedback, Core10;
    xrConvertTimespecTimeToTimeKHR: ConvertTimespecTimeToTimeKHR = i::xrConvertTimespecTimeToTimeKHR, Extension("XR_KHR_convert_timespec_time");
    xrConvertTimeToTimespecTimeKHR: ConvertTimeToTimespecTimeKHR = i::xrConvertTimeToTimespecTimeKHR, Extension("XR_KHR_convert_timespec_time");
    xrSetDebugUtilsObjectNameEXT: SetDebugUtilsObjectNameEXT = d::xrSetDebugUtilsObjectNameEXT, DEBUG;
    xrCreateDebugUtilsMessengerEXT: CreateDebugUtilsMessengerEXT = d::xrCreateDebugUtilsMessengerEXT, DEBUG;
    xrDestroyDebugUtilsMessengerEXT: DestroyDebugUtilsMessengerEXT = d::xrDestroyDebugUtilsMessengerEXT, DEBUG;
    xrSubmitDebugUtilsMessageEXT: SubmitDebugUtilsMessageEXT = d::xrSubmitDebugUtilsMessageEXT, DEBUG;
    xrSessionBeginDebugUtilsLabelRegionEXT: SessionBeginDebugUtilsLabelRegionEXT = d::xrSessionBeginDebugUtilsLabelRegionEXT, DEBUG;
    xrSessionEndDebugUtilsLabelRegionEXT: SessionEndDebugUtilsLabelRegionEXT = d::xrSessionEndDebugUtilsLabelRegionEXT, DEBUG;
    xrSessionInsertDebugUtilsLabelEXT: SessionInsertDebugUtilsLabelEXT = d::xrSessionInsertDebugUtilsLabelEXT, DEBUG;
    xrSetInputDeviceActiveEXT: SetInputDeviceActiveEXT = a::xrSetInputDeviceActiveEXT, AUTOMATION;
    xrSetInputDeviceStateBoolEXT: SetInputDeviceStateBoolEXT = a::xrSetInputDeviceStateBoolEXT, AUTOMATION;
    xrSetInputDeviceStateFloatEXT: SetInputDeviceStateFloatEXT = a::xrSetInputDeviceStateFloatEXT, AUTOMATION;
    xrSetInputDeviceStateVector2fEXT: SetInputDeviceStateVector2fEXT = a::xrSetInputDeviceStateVector2fEXT, AUTOMATION;
    xrSetInputDeviceLocationEXT: SetInputDeviceLocationEXT = a::xrSetInputDeviceLocationEXT, AUTOMATION;
    xrGetVulkanGraphicsRequirementsKHR: GetVulkanGraphicsRequirementsKHR = v::xrGetVulkanGraphicsRequirementsKHR, VK1;
    xrGetVulkanInstanceExtensionsKHR: GetVulkanInstanceExtensionsKHR = v::xrGetVulkanInstanceExtensionsKHR, VK1;
    xrGetVulkanDeviceExtensionsKHR: GetVulkanDeviceExtensionsKHR = v::xrGetVulkanDeviceExtensionsKHR, VK1;
    xrGetVulkanGraphicsDeviceKHR: GetVulkanGraphicsDeviceKHR = v::xrGetVulkanGraphicsDeviceKHR, VK1;
    xrGetVulkanGraphicsRequirements2KHR: GetVulkanGraphicsRequirements2KHR = v::xrGetVulkanGraphicsRequirementsKHR, VK2;
    xrGetVulkanGraphicsDevice2KHR: GetVulkanGraphicsDevice2KHR = v::xrGetVulkanGraphicsDevice2KHR, VK2;
    xrCreateVulkanInstanceKHR: CreateVulkanInstanceKHR = v::xrCreateVulkanInstanceKHR, VK2;
    xrCreateVulkanDeviceKHR: CreateVulkanDeviceKHR = v::xrCreateVulkanDeviceKHR, VK2;
    xrGetOpenGLGraphicsRequirementsKHR: GetOpenGLGraphicsRequirementsKHR = gl::xrGetOpenGLGraphicsRequirementsKHR, GL;
    xrCreateHandTrackerEXT: CreateHandTrackerEXT = h::xrCreateHandTrackerEXT, HANDS;
    xrDestroyHandTrackerEXT: DestroyHandTrackerEXT = h::xrDestroyHandTrackerEXT, HANDS;
    xrLocateHandJointsEXT: LocateHandJointsEXT = h::xrLocateHandJointsEXT, HANDS;
    xrCreateFaceTracker2FB: CreateFaceTracker2FB = f::xrCreateFaceTracker2FB, FACE2;
    xrDestroyFaceTracker2FB: DestroyFaceTracker2FB = f::xrDestroyFaceTracker2FB, FACE2;
    xrGetFaceExpressionWeights2FB: GetFaceExpressionWeights2FB = f::xrGetFaceExpressionWeights2FB, FACE2;
    xrCreateFacialTrackerHTC: CreateFacialTrackerHTC = f::xrCreateFacialTrackerHTC, HTC_FACE;
    xrDestroyFacialTrackerHTC: DestroyFacialTrackerHTC = f::xrDestroyFacialTrackerHTC, HTC_FACE;
    xrGetFacialExpressionsHTC: GetFacialExpressionsHTC = f::xrGetFacialExpressionsHTC, HTC_FACE;
    xrCreateBodyTrackerFB: CreateBodyTrackerFB = b::xrCreateBodyTrackerFB, BODY;
    xrDestroyBodyTrackerFB: DestroyBodyTrackerFB = b::xrDestroyBodyTrackerFB, BODY;
    xrLocateBodyJointsFB: LocateBodyJointsFB = b::xrLocateBodyJointsFB, BODY;
    xrGetBodySkeletonFB: GetBodySkeletonFB = b::xrGetBodySkeletonFB, BODY;
    xrGetVisibilityMaskKHR: GetVisibilityMaskKHR = sp::xrGetVisibilityMaskKHR, Extension("XR_KHR_visibility_mask");
}

/// Functions that may be looked up with `XR_NULL_HANDLE`.
const NULL_INSTANCE_OK: &[&str] = &[
    "xrEnumerateInstanceExtensionProperties",
    "xrEnumerateApiLayerProperties",
    "xrCreateInstance",
];

/// Whether an instance may call a gated entry point.
pub fn enabled(inst: &Instance, gate: Gate) -> bool {
    match gate {
        Core10 => true,
        Core11 => inst.is_1_1(),
        Extension(e) => inst.has_extension(e),
    }
}

/// `xrGetInstanceProcAddr`.
///
/// # Safety
/// `name` is null or a NUL-terminated string; `function` null or writable.
pub unsafe extern "system" fn xrGetInstanceProcAddr(
    instance: xr::Instance,
    name: *const c_char,
    function: *mut Option<xr::pfn::VoidFunction>,
) -> xr::Result {
    guard("xrGetInstanceProcAddr", |ctx| {
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(function, "function")? };
        *out = None;
        // SAFETY: contract of this function.
        let name = unsafe { super::c_str(name, "name")? };
        let inst = if instance == <xr::Instance as xr::Handle>::NULL {
            if !NULL_INSTANCE_OK.contains(&name) {
                return Err(Error::handle_invalid(format!(
                    "{name} needs a valid XrInstance"
                )));
            }
            None
        } else {
            let i = handles::get::<Instance>(Kind::Instance, xr::Handle::into_raw(instance))?;
            ctx.instance = Some(i.clone());
            Some(i)
        };
        let entry = table().iter().find(|e| e.name == name).ok_or_else(|| {
            Error::function_unsupported(format!("{name} is not provided by this runtime"))
        })?;
        if let Some(i) = &inst {
            if !enabled(i, entry.gate) {
                return Err(Error::function_unsupported(format!(
                    "{name} needs {:?}, which this instance did not enable",
                    entry.gate
                )));
            }
        } else if entry.gate != Core10 {
            return Err(Error::function_unsupported(format!(
                "{name} needs an instance"
            )));
        }
        *out = Some(entry.function);
        Ok(xr::Result::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_unique_names_and_known_gates() {
        let t = table();
        let mut names: Vec<_> = t.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), t.len(), "duplicate entry");
        for e in t {
            assert!(e.name.starts_with("xr"));
            if let Extension(ext) = e.gate {
                assert!(
                    parallax_runtime::instance::EXTENSIONS
                        .iter()
                        .any(|(n, _)| *n == ext),
                    "{} gated by unknown {ext}",
                    e.name
                );
            }
        }
    }
}
