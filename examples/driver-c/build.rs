//! Builds driver.c into a shared library with the C compiler the `cc`
//! crate finds, and places it beside the other driver libraries in
//! `target/<profile>/` so tests, scripts and manifests find them together.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let include = dir.join("../../sdk/abi/include");
    let lib = out.join("libparallax_driver_c.so");
    println!("cargo:rerun-if-changed=driver.c");
    println!(
        "cargo:rerun-if-changed={}",
        include.join("parallax_driver.h").display()
    );
    let compiler = cc::Build::new().opt_level(2).get_compiler();
    let status = compiler
        .to_command()
        .args([
            "-shared",
            "-fPIC",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fvisibility=hidden",
        ])
        .arg("-I")
        .arg(&include)
        .arg(dir.join("driver.c"))
        .arg("-o")
        .arg(&lib)
        .args(["-lm", "-lpthread"])
        .status()
        .expect("cannot run the C compiler");
    assert!(status.success(), "compiling driver.c failed");
    // OUT_DIR is target/<profile>/build/<pkg>-<hash>/out.
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let _ = std::fs::copy(&lib, profile_dir.join("libparallax_driver_c.so"));
    }
    println!("cargo:rustc-env=PARALLAX_DRIVER_C_LIB={}", lib.display());
}
