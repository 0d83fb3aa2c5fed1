//! `io.rewrap.Decryptor`: the consumer side. Every header of the record crosses as it is
//! (names and values, null values as empty); the engine selects the rewrap ones and reports
//! what the record was (`OpenedKind`), so Java never mistakes a plaintext record let through
//! by `allowPlaintext` for an authenticated one, nor an unsigned record for a vouched one.

use jni::objects::{JByteArray, JClass, JLongArray, JObjectArray, JString};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jlongArray, jstring};
use jni::JNIEnv;
use rewrap::{
    Decryptor, DecryptorConfig, DirGrantStore, Error, Header, Opened, Policy, ProducerGrant,
    PublicKey, SecretKey,
};

use crate::arrays::{
    byte_arrays, bytes, bytes_or_empty, new_bytes, new_longs, optional_bytes, optional_string,
    string, strings, topic, with_critical,
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

/// Opens a record read from `topic` (UTF-8 bytes) with Kafka key `key` (null: a null key);
/// `value` null is a tombstone. `names[i]` and `values[i]` are the record's i-th header.
/// Returns the payload (null for a tombstone) and writes {kind, counter, vouch, mode (0: none),
/// producer present (0/1)} to `meta_out` and session id ‖ producer key to `ids_out`
/// (16 + 33 bytes; the numbers are the engine's `repr`s).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rewrap_Native_decryptorOpen<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic_utf8: JByteArray<'l>,
    key: JByteArray<'l>,
    value: JByteArray<'l>,
    names: JObjectArray<'l>,
    values: JObjectArray<'l>,
    meta_out: JLongArray<'l>,
    ids_out: JByteArray<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        if meta_out.is_null() || ids_out.is_null() {
            return Err(Failure::Null("out arrays"));
        }
        let topic = topic(env, &topic_utf8)?;
        let key = optional_bytes(env, &key)?;
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
            dec.open(&topic, key.as_deref(), None, &headers)?
        } else {
            with_critical(env, &value, "value", |v| {
                dec.open(&topic, key.as_deref(), Some(v), &headers)
            })??
        };
        let mut meta = [opened.kind() as jlong, 0, 0, 0, 0];
        if let Opened::Decrypted(d) = &opened {
            meta[1] = d.counter as jlong;
            meta[2] = d.vouch as jlong;
            meta[3] = d.mode.map_or(0, |m| m as jlong);
            // jbyte is i8: the same bits.
            let mut ids: Vec<i8> = d.session.as_bytes().iter().map(|&b| b as i8).collect();
            if let Some(p) = &d.producer {
                meta[4] = 1;
                ids.extend(p.to_bytes().iter().map(|&b| b as i8));
            }
            env.set_byte_array_region(&ids_out, 0, &ids)?;
        }
        env.set_long_array_region(&meta_out, 0, &meta)?;
        match opened.into_value() {
            Some(payload) => new_bytes(env, &payload),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// Sets the signature policy ("require", "optional", "off") of `topic`, or the default for
/// every topic when `topic` is null.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorSetPolicy<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    policy: JString<'l>,
) {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let topic = optional_string(env, &topic)?;
        let policy = Policy::parse(&string(env, &policy, "policy")?)?;
        Ok(dec.set_policy(topic.as_deref(), policy)?)
    })
}

/// The name of the policy `topic` is read under.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorPolicy<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jstring {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        Ok(env.new_string(dec.policy(&topic).name())?.into_raw())
    })
}

/// Verifies a serialized producer grant and accepts its producer on its topic.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorAddProducerGrant<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    grant: JByteArray<'l>,
) {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let grant = ProducerGrant::from_bytes(&bytes(env, &grant, "producer grant")?)?;
        Ok(dec.add_producer_grant(&grant)?)
    })
}

/// Installs every valid producer grant of the grant store directory `dir`; returns how many.
/// Grants that do not parse or verify are skipped: their producers stay unauthorized.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorLoadProducerGrants<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    dir: JString<'l>,
) -> jint {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let dir = string(env, &dir, "directory")?;
        let mut installed: jint = 0;
        for (_, grant) in DirGrantStore::open(dir)?.list_producers()? {
            if grant.and_then(|g| dec.add_producer_grant(&g)).is_ok() {
                installed = installed.saturating_add(1);
            }
        }
        Ok(installed)
    })
}

/// Stops accepting `producer` (33 bytes) on `topic`; returns whether it had a grant.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorRevokeProducer<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    producer: JByteArray<'l>,
) -> jboolean {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let producer = PublicKey::from_bytes(&bytes(env, &producer, "producer key")?)?;
        Ok(jboolean::from(
            dec.revoke_producer(&topic, &producer.key_id()),
        ))
    })
}

/// Trusts `key` (33 bytes) as `topic`'s channel signing key.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorTrustChannelKey<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    key: JByteArray<'l>,
) {
    guard(&mut env, |env| {
        let dec = borrow::<Decryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let key = PublicKey::from_bytes(&bytes(env, &key, "channel key")?)?;
        Ok(dec.trust_channel_key(&topic, key)?)
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
