//! README.md and docs/app-developers.md document every runtime option the
//! code reads.

#[test]
fn docs_list_every_option() {
    for doc in ["README.md", "docs/app-developers.md"] {
        let path = format!("{}/../{doc}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for (key, _) in parallax_runtime::config::OPTIONS {
            assert!(
                text.contains(&format!("`{key}`")),
                "{doc} does not document {key}"
            );
        }
    }
}
