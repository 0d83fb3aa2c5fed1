//! JNI shim for `io.rewrap.Native`: translates Java arrays, strings and `long` handles to the
//! `rewrap` facade, and engine errors to the Java exception class named after their row of the
//! engine's error table. No cryptography and no format or header logic here: record headers
//! cross as they are, and the engine selects the rewrap ones.
//!
//! One module per Java type (`keys`, `grant`, `producer_grant`, `encryptor`, `reencryptor`,
//! `decryptor`), as in
//! `ffi/`; every entry point runs inside `error::guard`, so nothing unwinds into the JVM.
#![deny(unsafe_op_in_unsafe_fn)]

mod arrays;
mod error;
mod handle;

mod decryptor;
mod encryptor;
mod grant;
mod keys;
mod producer_grant;
mod reencryptor;

/// The engine's version (the workspace version the wheel, the C library and the jar share).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_version<'l>(
    mut env: jni::JNIEnv<'l>,
    _: jni::objects::JClass<'l>,
) -> jni::sys::jstring {
    error::guard(&mut env, |env| {
        Ok(env.new_string(env!("CARGO_PKG_VERSION"))?.into_raw())
    })
}
