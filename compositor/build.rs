//! Compiles the WGSL shaders in `shaders/` to SPIR-V with naga, so the
//! binaries always match their source.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    println!("cargo:rerun-if-changed=shaders/common.wgsl");
    let common = std::fs::read_to_string("shaders/common.wgsl").expect("shader source");
    // WGSL has no includes: the layer shaders get the shared prelude here.
    for (name, prelude) in [
        ("layer", true),
        ("cube", true),
        ("depth", true),
        ("distort", false),
        ("avatar", false),
    ] {
        let src_path = format!("shaders/{name}.wgsl");
        println!("cargo:rerun-if-changed={src_path}");
        let own = std::fs::read_to_string(&src_path).expect("shader source");
        let src = if prelude {
            format!("{common}\n{own}")
        } else {
            own
        };
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{src_path}: {}", e.emit_to_string(&src)));
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::IMMEDIATES,
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{src_path}: {e:?}"));
        // The shaders are written in Vulkan's conventions (NDC y down), so
        // naga must not flip y for us.
        let mut options = naga::back::spv::Options::default();
        options
            .flags
            .remove(naga::back::spv::WriterFlags::ADJUST_COORDINATE_SPACE);
        let words = naga::back::spv::write_vec(&module, &info, &options, None)
            .unwrap_or_else(|e| panic!("{src_path}: {e}"));
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(Path::new(&out).join(format!("{name}.spv")), bytes).expect("write SPIR-V");
    }
}
