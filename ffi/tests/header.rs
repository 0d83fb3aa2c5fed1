//! include/rewrap.h must be exactly what cbindgen generates from this crate: the C ABI and
//! its header can never drift. `REWRAP_BLESS=1 cargo test -p rewrap-ffi --test header`
//! rewrites the header after an intended ABI change.

use std::path::PathBuf;

#[test]
fn checked_in_header_matches_fresh_generation() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/rewrap.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut fresh);
    if std::env::var_os("REWRAP_BLESS").is_some() {
        std::fs::write(&header, &fresh).unwrap();
    }
    let checked_in = std::fs::read(&header).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/rewrap.h is stale: rerun with REWRAP_BLESS=1 and commit it"
    );
}

#[test]
fn header_names_in_the_header_are_the_engines() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../include/rewrap.h"))
        .unwrap();
    assert!(text.contains(&format!(
        "#define REWRAP_EDEK_HEADER \"{}\"",
        rewrap::EDEK_HEADER
    )));
    assert!(text.contains(&format!(
        "#define REWRAP_CFRAG_HEADER \"{}\"",
        rewrap::CFRAG_HEADER
    )));
}
