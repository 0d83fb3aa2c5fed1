//! One version and one licence for everything a release ships: the workspace's
//! `[workspace.package]` table is the source; the wheel, the jar, the C header and package and
//! the CHANGELOG must agree with it (the runtime values are checked by each binding's own tests:
//! `rewrap_version()` against pkg-config, `rewrap.__version__`, the jar's `Rewrap.version()`).

use std::path::Path;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The value of `key = "..."` in one `[section]` of a TOML file (enough for our manifests).
fn toml_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == key {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// The text of the first `<tag>` element after `after` in an XML file.
fn xml_after(text: &str, after: &str, tag: &str) -> String {
    let start = text.find(after).unwrap_or_else(|| panic!("no {after}")) + after.len();
    let open = format!("<{tag}>");
    let from = text[start..]
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> after {after}"))
        + start
        + open.len();
    let to = text[from..].find('<').unwrap() + from;
    text[from..to].trim().to_string()
}

#[test]
fn the_workspace_version_is_the_crate_version() {
    let cargo = read("Cargo.toml");
    assert_eq!(
        toml_value(&cargo, "workspace.package", "version").as_deref(),
        Some(format!("\"{VERSION}\"").as_str())
    );
    assert_eq!(
        toml_value(&cargo, "workspace.package", "license").as_deref(),
        Some("\"GPL-3.0-only\"")
    );
    for member in ["core", "cli", "ffi", "python", "jvm/native", "proxy"] {
        let manifest = read(&format!("{member}/Cargo.toml"));
        for key in ["version", "license"] {
            assert_eq!(
                toml_value(&manifest, "package", &format!("{key}.workspace")).as_deref(),
                Some("true"),
                "{member}/Cargo.toml must take its {key} from the workspace"
            );
        }
    }
}

#[test]
fn the_wheel_takes_its_version_from_cargo() {
    let pyproject = read("python/pyproject.toml");
    match toml_value(&pyproject, "project", "version") {
        // maturin reads the version from Cargo.toml when it is dynamic.
        None => assert!(
            toml_value(&pyproject, "project", "dynamic").is_some_and(|d| d.contains("\"version\"")),
            "pyproject.toml has neither a version nor a dynamic one"
        ),
        Some(v) => assert_eq!(v, format!("\"{VERSION}\""), "pyproject.toml version"),
    }
    assert!(
        toml_value(&pyproject, "project", "license").is_some_and(|l| l.contains("GPL-3.0-only")),
        "pyproject.toml licence"
    );
}

#[test]
fn the_jar_has_the_workspace_version_and_licence() {
    let pom = read("jvm/pom.xml");
    assert_eq!(
        xml_after(&pom, "<artifactId>rewrap</artifactId>", "version"),
        VERSION
    );
    assert!(pom.contains("GPL-3.0-only") || pom.contains("GNU General Public License v3.0 only"));
}

#[test]
fn the_header_documents_the_workspace_version() {
    let header = read("include/rewrap.h");
    let at = header
        .find("rewrap_version(void)")
        .expect("rewrap_version in rewrap.h");
    let doc = &header[header[..at].rfind("/**").unwrap()..at];
    // The doc comment may name the version; if it does, it must be this one.
    if let Some(open) = doc.find("(\"") {
        let close = doc[open + 2..].find('"').unwrap() + open + 2;
        assert_eq!(
            &doc[open + 2..close],
            VERSION,
            "rewrap.h documents another version"
        );
    }
}

#[test]
fn the_changelog_has_this_version() {
    let changelog = read("CHANGELOG.md");
    assert!(
        changelog
            .lines()
            .any(|l| l.starts_with(&format!("## {VERSION} "))),
        "CHANGELOG.md has no section for {VERSION}"
    );
}
