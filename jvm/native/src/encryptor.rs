//! `io.rewrap.Encryptor`: the producer side. The payload is sealed in place (no copy into
//! Rust); the result crosses as {value, name, value, ...}: the engine chooses which headers
//! (edek, and the signatures when signing) the record carries and in what order.

use jni::objects::{JByteArray, JClass, JString};
use jni::sys::{jbyteArray, jint, jlong, jobjectArray};
use jni::JNIEnv;
use rewrap::{Compression, Encryptor, PublicKey, RotationPolicy, SecretKey, SigningMode};

use crate::arrays::{
    bytes, new_byte_arrays, new_bytes, optional_bytes, string, topic, with_critical,
};
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

/// Seals `payload` for `topic` (UTF-8 bytes) under the record `key` (null: a null Kafka
/// key); returns {value, header name (UTF-8), header value, ...}.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSeal<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic_utf8: JByteArray<'l>,
    key: JByteArray<'l>,
    payload: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, |env| {
        let enc = borrow::<Encryptor>(h)?;
        let topic = topic(env, &topic_utf8)?;
        let key = optional_bytes(env, &key)?;
        let record = with_critical(env, &payload, "payload", |p| {
            enc.seal(&topic, key.as_deref(), p)
        })??;
        let headers = record.headers();
        let mut out: Vec<&[u8]> = Vec::with_capacity(1 + 2 * headers.len());
        out.push(&record.value);
        for (name, value) in &headers {
            out.push(name.as_bytes());
            out.push(value);
        }
        new_byte_arrays(env, &out)
    })
}

/// Compresses payloads before sealing with `codec` ("none", "lz4" or "zstd"; `level` is the
/// zstd level, 0 for its default).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSetCompression<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    codec: JString<'l>,
    level: jint,
) {
    guard(&mut env, |env| {
        let setting = Compression::from_name(&string(env, &codec, "codec")?, level)?;
        borrow::<Encryptor>(h)?.set_compression(setting)?;
        Ok(())
    })
}

/// Signs new sessions with the secret key behind handle `secret` in `mode` ("session" or
/// "record"); `secret` 0 turns signing off. Takes effect at the next session.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSetSigner<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    secret: jlong,
    mode: JString<'l>,
) {
    guard(&mut env, |env| {
        let enc = borrow::<Encryptor>(h)?;
        if secret == 0 {
            enc.set_signer(None);
        } else {
            let mode = SigningMode::parse(&string(env, &mode, "mode")?)?;
            enc.set_signer(Some((borrow::<SecretKey>(secret)?, mode)));
        }
        Ok(())
    })
}

/// {mode number} ‖ the signer's 33-byte public key, or null when not signing.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSigner(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jbyteArray {
    guard(&mut env, |env| match borrow::<Encryptor>(h)?.signer() {
        None => Ok(std::ptr::null_mut()),
        Some((key, mode)) => {
            let mut out = vec![mode as u8];
            out.extend_from_slice(&key.to_bytes());
            new_bytes(env, &out)
        }
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
