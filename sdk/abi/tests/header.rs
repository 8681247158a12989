//! The committed C header must be exactly what cbindgen generates from
//! `src/ffi.rs`: CI fails on any difference. To update it after changing
//! the ABI: `cargo test -p parallax-sdk-abi --test header -- --ignored`.

use std::path::PathBuf;

fn generate() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen could not parse src/ffi.rs")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

fn header_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include/parallax_driver.h")
}

#[test]
fn committed_header_is_current() {
    let committed = std::fs::read_to_string(header_path()).unwrap_or_default();
    let generated = generate();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map(|l| l + 1)
            .unwrap_or(committed.lines().count().min(generated.lines().count()) + 1);
        panic!(
            "include/parallax_driver.h is out of date (first difference at line {line}); \
             regenerate it with `cargo test -p parallax-sdk-abi --test header -- --ignored`"
        );
    }
}

#[test]
#[ignore = "writes include/parallax_driver.h"]
fn regenerate_header() {
    std::fs::write(header_path(), generate()).unwrap();
}
