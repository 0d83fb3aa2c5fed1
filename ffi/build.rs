//! Gives the cdylib an ELF SONAME, which rustc does not set: without one, a program linked
//! with `-lrewrap_ffi` records the bare `librewrap_ffi.so` (the unversioned development
//! symlink) and would load any later, ABI-incompatible release. The SONAME carries the part of
//! the version Cargo's compatibility rule keeps stable (`0.MINOR` before 1.0, `MAJOR` after),
//! so `make install` can put incompatible releases side by side. Set here rather than through
//! RUSTFLAGS: it is a property of the library in every build, and only the cdylib's link sees it.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    // ELF platforms only: Mach-O (install_name) and Windows (DLL names) have their own schemes.
    if family == "unix" && !matches!(os.as_str(), "macos" | "ios" | "tvos" | "watchos") {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        let abi = if major == "0" {
            format!("0.{}", env!("CARGO_PKG_VERSION_MINOR"))
        } else {
            major.to_string()
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librewrap_ffi.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
