//! `io.rewrap.Encryptor`: the producer side. The payload is sealed in place (no copy into
//! Rust); the result crosses as {value, edek}.

use jni::objects::{JByteArray, JClass};
use jni::sys::{jlong, jobjectArray};
use jni::JNIEnv;
use rewrap::{Encryptor, PublicKey, RotationPolicy};

use crate::arrays::{bytes, new_byte_arrays, topic, with_critical};
use crate::error::guard;
use crate::handle::{borrow, free, into_handle};

/// An encryptor for `delegating`; 0 for either limit means the engine's default.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorNew<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    delegating: JByteArray<'l>,
    max_messages: jlong,
    max_age_secs: jlong,
) -> jlong {
    guard(&mut env, |env| {
        let key = PublicKey::from_bytes(&bytes(env, &delegating, "delegating key")?)?;
        let policy =
            RotationPolicy::or_default(max_messages.max(0) as u64, max_age_secs.max(0) as u64);
        Ok(into_handle(Encryptor::with_policy(key, policy)?))
    })
}

/// Seals `payload` for `topic` (UTF-8 bytes); returns {value, edek}.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSeal<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic_utf8: JByteArray<'l>,
    payload: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, |env| {
        let enc = borrow::<Encryptor>(h)?;
        let topic = topic(env, &topic_utf8)?;
        let record = with_critical(env, &payload, "payload", |p| enc.seal(&topic, p))??;
        new_byte_arrays(env, &[&record.value, &record.edek])
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorRotate(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, |_| {
        borrow::<Encryptor>(h)?.rotate();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, |_| {
        free::<Encryptor>(h);
        Ok(())
    })
}
