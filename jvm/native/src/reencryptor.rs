//! `io.rewrap.ReEncryptor`: the broker side (verified grants, fragment cache, and the notary
//! that checks producer signatures and attaches channel signatures).

use jni::objects::{JByteArray, JClass, JObjectArray, JString};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jlongArray, jobjectArray};
use jni::JNIEnv;
use rewrap::{Grant, Policy, ProducerGrant, PublicKey, ReEncryptor, ReEncryptorConfig};

use crate::arrays::{
    bytes, new_byte_arrays, new_bytes, new_longs, optional_bytes, optional_string, string,
};
use crate::error::guard;
use crate::handle::{borrow, free, into_handle};
use crate::keys::public_keys;

/// A re-encryptor trusting `admins`; 0 for the capacity means the engine's default, 0 for the
/// TTL keeps entries until evicted.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorNew<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    admins: JObjectArray<'l>,
    cache_capacity: jint,
    cache_ttl_secs: jlong,
) -> jlong {
    guard(&mut env, |env| {
        let admins = public_keys(env, &admins)?;
        let config = ReEncryptorConfig::or_default(
            cache_capacity.max(0) as usize,
            cache_ttl_secs.max(0) as u64,
        );
        Ok(into_handle(ReEncryptor::with_config(&admins, config)?))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorAddGrant<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    grant: JByteArray<'l>,
) {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        re.add_grant(&Grant::from_bytes(&bytes(env, &grant, "grant")?)?)?;
        Ok(())
    })
}

/// Revokes `consumer` on `topic`; returns how many grants were removed.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorRevoke<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    consumer: JString<'l>,
) -> jint {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let consumer = string(env, &consumer, "consumer")?;
        Ok(jint::try_from(re.revoke(&topic, &consumer)).unwrap_or(jint::MAX))
    })
}

/// The `rewrap.cfrag` header values for `consumer` reading `edek` on `topic`.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorReencrypt<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    edek: JByteArray<'l>,
    consumer: JString<'l>,
) -> jobjectArray {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let consumer = string(env, &consumer, "consumer")?;
        let cfrags = re.reencrypt(&topic, &bytes(env, &edek, "edek")?, &consumer)?;
        let refs: Vec<&[u8]> = cfrags.iter().map(|c| &c[..]).collect();
        new_byte_arrays(env, &refs)
    })
}

/// Sets the producer-signature policy ("require", "optional", "off") of `topic`, or the
/// default when `topic` is null.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorSetPolicy<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    policy: JString<'l>,
) {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = optional_string(env, &topic)?;
        let policy = Policy::parse(&string(env, &policy, "policy")?)?;
        Ok(re.set_policy(topic.as_deref(), policy)?)
    })
}

/// Derives channel signing keys from this 32-byte seed (null: attach no channel signature).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorSetChannelSeed<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    seed: JByteArray<'l>,
) {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let seed = optional_bytes(env, &seed)?;
        Ok(re.set_channel_seed(seed.as_deref())?)
    })
}

/// `topic`'s channel verifying key (33 bytes), or null when no seed is set.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorChannelKey<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        match re.channel_key(&topic)? {
            Some(key) => new_bytes(env, &key.to_bytes()),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// Verifies and installs a serialized producer grant.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorAddProducerGrant<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    grant: JByteArray<'l>,
) {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let grant = ProducerGrant::from_bytes(&bytes(env, &grant, "producer grant")?)?;
        Ok(re.add_producer_grant(&grant)?)
    })
}

/// Removes `producer`'s (33 bytes) grant for `topic`; returns whether it had one.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorRevokeProducer<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    producer: JByteArray<'l>,
) -> jboolean {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let producer = PublicKey::from_bytes(&bytes(env, &producer, "producer key")?)?;
        Ok(jboolean::from(
            re.revoke_producer(&topic, &producer.key_id()),
        ))
    })
}

/// Checks a record's producer signature (`sig`, the `rewrap.sig` value; null when absent)
/// under `topic`'s policy; returns the channel signature to attach, or null for none.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorAttest<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    edek: JByteArray<'l>,
    sig: JByteArray<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let re = borrow::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let edek = bytes(env, &edek, "edek")?;
        let sig = optional_bytes(env, &sig)?;
        match re.attest(&topic, &edek, sig.as_deref(), None)? {
            Some(chsig) => new_bytes(env, &chsig),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// {hits, misses, evictions, entries, capacity, reencryptions, refused, grants}
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorStats(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jlongArray {
    guard(&mut env, |env| {
        let s = borrow::<ReEncryptor>(h)?.stats();
        let c = s.cache;
        new_longs(
            env,
            &[
                c.hits as i64,
                c.misses as i64,
                c.evictions as i64,
                c.entries as i64,
                c.capacity as i64,
                s.reencryptions as i64,
                s.refused as i64,
                s.grants as i64,
            ],
        )
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, |_| {
        free::<ReEncryptor>(h);
        Ok(())
    })
}
