//! `io.rewrap.Decryptor`: the consumer side. Every header of the record crosses as it is
//! (names and values, null values as empty); the engine selects the rewrap ones and reports
//! what the record was (`OpenedKind`), so Java never mistakes a plaintext record let through
//! by `allowPlaintext` for an authenticated one.

use jni::objects::{JByteArray, JClass, JIntArray, JObjectArray};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jlongArray};
use jni::JNIEnv;
use rewrap::{Decryptor, DecryptorConfig, Error, Header, SecretKey};

use crate::arrays::{
    byte_arrays, bytes_or_empty, new_bytes, new_longs, strings, topic, with_critical,
};
use crate::error::{guard, Failure};
use crate::handle::{borrow, free, into_handle};
use crate::keys::public_keys;

/// A decryptor for the secret key behind handle `secret` (copied: the Java key stays the
/// caller's), trusting `admins`. 0 for the capacity means the engine's default, 0 for the TTL
/// keeps DEKs until evicted.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorNew<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    secret: jlong,
    admins: JObjectArray<'l>,
    cache_capacity: jint,
    cache_ttl_secs: jlong,
    allow_plaintext: jboolean,
) -> jlong {
    guard(&mut env, |env| {
        let admins = public_keys(env, &admins)?;
        let own = SecretKey::from_bytes(borrow::<SecretKey>(secret)?.to_bytes().as_slice())?;
        let config = DecryptorConfig::or_default(
            cache_capacity.max(0) as usize,
            cache_ttl_secs.max(0) as u64,
            allow_plaintext != 0,
        );
        Ok(into_handle(Decryptor::with_config(own, &admins, config)?))
    })
}

/// Opens a record read from `topic` (UTF-8 bytes); `value` null is a tombstone. `names[i]`
/// and `values[i]` are the record's i-th header. Writes the engine's `OpenedKind` number to
/// `kind_out[0]` and returns the payload (null for a tombstone).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rewrap_Native_decryptorOpen<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic_utf8: JByteArray<'l>,
    value: JByteArray<'l>,
    names: JObjectArray<'l>,
    values: JObjectArray<'l>,
    kind_out: JIntArray<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        if kind_out.is_null() {
            return Err(Failure::Null("kind"));
        }
        let topic = topic(env, &topic_utf8)?;
        let names = strings(env, &names, "header names")?;
        let values = byte_arrays(env, &values, "header values", |env, v| {
            bytes_or_empty(env, v)
        })?;
        if names.len() != values.len() {
            return Err(Error::InvalidArgument("header names and values differ in number").into());
        }
        let headers: Vec<Header<'_>> = names
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(Vec::as_slice))
            .collect();
        let opened = if value.is_null() {
            dec.open(&topic, None, &headers)?
        } else {
            with_critical(env, &value, "value", |v| {
                dec.open(&topic, Some(v), &headers)
            })??
        };
        env.set_int_array_region(&kind_out, 0, &[opened.kind() as jint])?;
        match opened.into_value() {
            Some(payload) => new_bytes(env, &payload),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// {hits, misses, evictions, entries, capacity, dekOpens}
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorStats(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jlongArray {
    guard(&mut env, |env| {
        let s = borrow::<Decryptor>(h)?.stats();
        let c = s.cache;
        new_longs(
            env,
            &[
                c.hits as i64,
                c.misses as i64,
                c.evictions as i64,
                c.entries as i64,
                c.capacity as i64,
                s.dek_opens as i64,
            ],
        )
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, |_| {
        free::<Decryptor>(h);
        Ok(())
    })
}
