//! Repairs one common app bug in `xrCreateVulkanDeviceKHR`: the same
//! feature structure twice in `VkDeviceCreateInfo::pNext` (invalid usage,
//! VUID-VkDeviceCreateInfo-sType-unique). bevy_mod_openxr 0.4 pushes a
//! `VkPhysicalDeviceMultiviewFeatures` on top of the one wgpu already
//! chained; permissive drivers accept it, Mesa's lavapipe fails the device.
//! Since the runtime already edits the create info (it adds the extensions
//! it needs), it also merges such duplicates: every member of a feature
//! structure after its header is a `VkBool32`, so the merge is a bitwise OR
//! into the first occurrence. Chains with a structure whose size this table
//! does not know are passed on untouched (the driver then decides).

use ash::vk;
use ash::vk::TaggedStructure;

/// Feature structures the merge knows, by type and size.
fn feature_size(ty: vk::StructureType) -> Option<usize> {
    macro_rules! table {
        ($($t:ty),* $(,)?) => {
            $(if ty == <$t>::STRUCTURE_TYPE {
                return Some(std::mem::size_of::<$t>());
            })*
        };
    }
    table!(
        vk::PhysicalDeviceFeatures2<'static>,
        vk::PhysicalDeviceVulkan11Features<'static>,
        vk::PhysicalDeviceVulkan12Features<'static>,
        vk::PhysicalDeviceVulkan13Features<'static>,
        vk::PhysicalDeviceMultiviewFeatures<'static>,
        vk::PhysicalDevice16BitStorageFeatures<'static>,
        vk::PhysicalDevice8BitStorageFeatures<'static>,
        vk::PhysicalDeviceShaderFloat16Int8Features<'static>,
        vk::PhysicalDeviceDescriptorIndexingFeatures<'static>,
        vk::PhysicalDeviceTimelineSemaphoreFeatures<'static>,
        vk::PhysicalDeviceImagelessFramebufferFeatures<'static>,
        vk::PhysicalDeviceBufferDeviceAddressFeatures<'static>,
        vk::PhysicalDeviceScalarBlockLayoutFeatures<'static>,
        vk::PhysicalDeviceUniformBufferStandardLayoutFeatures<'static>,
        vk::PhysicalDeviceShaderDrawParametersFeatures<'static>,
        vk::PhysicalDeviceSamplerYcbcrConversionFeatures<'static>,
        vk::PhysicalDeviceVulkanMemoryModelFeatures<'static>,
        vk::PhysicalDeviceHostQueryResetFeatures<'static>,
        vk::PhysicalDeviceShaderAtomicInt64Features<'static>,
        vk::PhysicalDeviceRobustness2FeaturesEXT<'static>,
        vk::PhysicalDeviceImageRobustnessFeatures<'static>,
        vk::PhysicalDeviceDynamicRenderingFeatures<'static>,
        vk::PhysicalDeviceSynchronization2Features<'static>,
        vk::PhysicalDeviceZeroInitializeWorkgroupMemoryFeatures<'static>,
        vk::PhysicalDeviceSubgroupSizeControlFeatures<'static>,
        vk::PhysicalDeviceShaderIntegerDotProductFeatures<'static>,
        vk::PhysicalDeviceMaintenance4Features<'static>,
        vk::PhysicalDeviceShaderAtomicFloatFeaturesEXT<'static>,
        vk::PhysicalDeviceMeshShaderFeaturesEXT<'static>,
        vk::PhysicalDeviceAccelerationStructureFeaturesKHR<'static>,
        vk::PhysicalDeviceRayQueryFeaturesKHR<'static>,
        vk::PhysicalDeviceShaderDemoteToHelperInvocationFeatures<'static>,
        vk::PhysicalDeviceTextureCompressionASTCHDRFeatures<'static>,
        vk::PhysicalDevicePipelineCreationCacheControlFeatures<'static>,
        vk::PhysicalDeviceShaderTerminateInvocationFeatures<'static>,
        vk::PhysicalDevicePrivateDataFeatures<'static>,
        vk::PhysicalDeviceInlineUniformBlockFeatures<'static>,
        vk::PhysicalDeviceShaderSubgroupExtendedTypesFeatures<'static>,
        vk::PhysicalDeviceSeparateDepthStencilLayoutsFeatures<'static>,
        vk::PhysicalDeviceProtectedMemoryFeatures<'static>,
        vk::PhysicalDeviceVariablePointersFeatures<'static>,
    );
    None
}

/// Bytes of the `sType` + `pNext` header of every structure.
const HEADER: usize = std::mem::size_of::<vk::BaseOutStructure<'static>>();

/// A merged copy of a feature chain; the pointers it hands out stay valid
/// while it lives.
pub struct MergedChain {
    /// One buffer per structure, 8-byte aligned.
    nodes: Vec<Vec<u64>>,
    /// The structure types merged away.
    pub merged: Vec<vk::StructureType>,
}

impl MergedChain {
    /// The head of the merged chain.
    pub fn head(&self) -> *const std::ffi::c_void {
        self.nodes
            .first()
            .map_or(std::ptr::null(), |n| n.as_ptr() as *const std::ffi::c_void)
    }
}

/// Merges duplicate feature structures of a `pNext` chain. Returns `None`
/// when there is nothing to merge or the chain holds a structure of
/// unknown size.
///
/// # Safety
/// `head` is NULL or the start of a valid `pNext` chain of structures.
pub unsafe fn merge_duplicates(head: *const std::ffi::c_void) -> Option<MergedChain> {
    let mut nodes: Vec<(*const vk::BaseInStructure<'static>, usize)> = Vec::new();
    let mut p = head as *const vk::BaseInStructure<'static>;
    while !p.is_null() {
        // SAFETY: a valid chain node per the caller's contract.
        let (ty, next) = unsafe { ((*p).s_type, (*p).p_next) };
        let size = feature_size(ty)?;
        nodes.push((p, size));
        if nodes.len() > 256 {
            return None; // a cycle, or nonsense
        }
        p = next;
    }
    let mut types: Vec<vk::StructureType> = Vec::new();
    let mut merged = Vec::new();
    let mut out: Vec<Vec<u64>> = Vec::new();
    for (ptr, size) in nodes {
        // SAFETY: the node is `size` readable bytes (its type says so).
        let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, size) };
        // SAFETY: as above.
        let ty = unsafe { (*ptr).s_type };
        if let Some(i) = types.iter().position(|t| *t == ty) {
            // OR every VkBool32 after the header into the first occurrence.
            // SAFETY: out[i] holds a copy of the same type, `size` bytes.
            let first =
                unsafe { std::slice::from_raw_parts_mut(out[i].as_mut_ptr() as *mut u8, size) };
            for (dst, src) in first[HEADER..]
                .chunks_exact_mut(4)
                .zip(bytes[HEADER..].chunks_exact(4))
            {
                let v = u32::from_ne_bytes(dst.try_into().unwrap())
                    | u32::from_ne_bytes(src.try_into().unwrap());
                dst.copy_from_slice(&(v.min(1)).to_ne_bytes());
            }
            merged.push(ty);
            continue;
        }
        let mut buf = vec![0u64; size.div_ceil(8)];
        // SAFETY: `buf` has at least `size` bytes; the regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.as_mut_ptr() as *mut u8, size) };
        types.push(ty);
        out.push(buf);
    }
    if merged.is_empty() {
        return None;
    }
    // Relink the copies in order.
    for i in 0..out.len() {
        let next = out.get(i + 1).map_or(std::ptr::null(), |n| {
            n.as_ptr() as *const vk::BaseInStructure<'static>
        });
        let node = out[i].as_mut_ptr() as *mut vk::BaseInStructure<'static>;
        // SAFETY: every copy starts with a BaseInStructure header.
        unsafe { (*node).p_next = next };
    }
    Some(MergedChain { nodes: out, merged })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_features_are_merged_by_or() {
        let mut multiview_b = vk::PhysicalDeviceMultiviewFeatures {
            multiview: vk::TRUE,
            ..Default::default()
        };
        let mut timeline = vk::PhysicalDeviceTimelineSemaphoreFeatures {
            timeline_semaphore: vk::TRUE,
            ..Default::default()
        };
        let multiview_a = vk::PhysicalDeviceMultiviewFeatures {
            multiview_geometry_shader: vk::TRUE,
            ..Default::default()
        };
        // a -> timeline -> b
        multiview_b.p_next = std::ptr::null_mut();
        timeline.p_next = &mut multiview_b as *mut _ as *mut std::ffi::c_void;
        let mut a = multiview_a;
        a.p_next = &mut timeline as *mut _ as *mut std::ffi::c_void;
        // SAFETY: a valid chain of locals.
        let m = unsafe { merge_duplicates(&a as *const _ as *const std::ffi::c_void) }.unwrap();
        assert_eq!(
            m.merged,
            vec![vk::StructureType::PHYSICAL_DEVICE_MULTIVIEW_FEATURES]
        );
        // SAFETY: the merged chain's nodes are copies of the types above.
        unsafe {
            let first = &*(m.head() as *const vk::PhysicalDeviceMultiviewFeatures);
            assert_eq!(first.multiview, vk::TRUE);
            assert_eq!(first.multiview_geometry_shader, vk::TRUE);
            assert_eq!(first.multiview_tessellation_shader, vk::FALSE);
            let second = &*(first.p_next as *const vk::PhysicalDeviceTimelineSemaphoreFeatures);
            assert_eq!(
                second.s_type,
                vk::StructureType::PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES
            );
            assert_eq!(second.timeline_semaphore, vk::TRUE);
            assert!(
                second.p_next.is_null(),
                "the duplicate is gone from the chain"
            );
        }
        // No duplicate: nothing to do. Unknown structure: hands off.
        timeline.p_next = std::ptr::null_mut();
        let alone = &timeline as *const _ as *const std::ffi::c_void;
        // SAFETY: a one-structure chain of a local.
        let none = unsafe { merge_duplicates(alone) };
        assert!(none.is_none());
        let group = vk::DeviceGroupDeviceCreateInfo::default();
        let unknown = &group as *const _ as *const std::ffi::c_void;
        // SAFETY: a one-structure chain of a local.
        let none = unsafe { merge_duplicates(unknown) };
        assert!(none.is_none());
    }
}
