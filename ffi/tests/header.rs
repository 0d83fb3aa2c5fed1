//! include/rewrap.h must be exactly what cbindgen generates from this crate, plus the parts
//! generated from the engine's tables (shared constants and the `rewrap_result` enum): the C
//! ABI, its header and the engine can never drift, and a new error kind or constant needs no
//! edit here. `REWRAP_BLESS=1 cargo test -p rewrap-ffi --test header` rewrites the header.

use std::fmt::Write;
use std::path::PathBuf;

use rewrap::constants::{Value, CONSTANTS};
use rewrap::ERROR_KINDS;
use rewrap_ffi::error::c_name;

/// The `#define`s and the result enum, from the engine's tables.
fn generated_block() -> String {
    let mut out =
        String::from("\n\n/* Shared constants (the engine's table, core/src/constants.rs). */\n");
    for c in CONSTANTS {
        let value = match c.value {
            Value::Str(s) => format!("\"{s}\""),
            Value::Int(n) => n.to_string(),
        };
        writeln!(
            out,
            "/* {} */\n#define REWRAP_{} {value}",
            c.summary, c.name
        )
        .unwrap();
    }
    out.push_str(
        "\n/*\n * Result of every fallible rewrap function: 0 is success; every other value is a row of\n * the engine's error table (core/src/error.rs), with the same code in every binding.\n */\ntypedef enum rewrap_result {\n  /* Success. */\n  REWRAP_OK = 0,\n",
    );
    for row in ERROR_KINDS {
        writeln!(
            out,
            "  /* {} */\n  {} = {},",
            row.summary,
            c_name(row.name),
            row.code
        )
        .unwrap();
    }
    out.push_str("} rewrap_result;\n");
    out
}

#[test]
fn checked_in_header_matches_fresh_generation() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let header = crate_dir.join("../include/rewrap.h");
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    config.after_includes = Some(generated_block());
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
fn every_error_kind_and_constant_is_in_the_header() {
    // The generated part (the test above proves the checked-in header equals it).
    let text = generated_block();
    for row in ERROR_KINDS {
        assert!(text.contains(&format!("{} = {},", c_name(row.name), row.code)));
    }
    assert!(text.contains(&format!(
        "#define REWRAP_EDEK_HEADER \"{}\"",
        rewrap::EDEK_HEADER
    )));
    assert!(text.contains(&format!(
        "#define REWRAP_CFRAG_HEADER \"{}\"",
        rewrap::CFRAG_HEADER
    )));
}
