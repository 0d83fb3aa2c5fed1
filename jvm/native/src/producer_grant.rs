//! `io.rewrap.ProducerGrant`: issued, described and verified by the engine; Java keeps only
//! the serialized bytes.

use jni::objects::{JByteArray, JClass, JObjectArray, JString};
use jni::sys::{jbyteArray, jlong, jobjectArray};
use jni::JNIEnv;
use rewrap::{ProducerGrant, PublicKey, SecretKey, Signer};

use crate::arrays::{bytes, new_bytes, new_strings, string};
use crate::error::guard;
use crate::handle::borrow;
use crate::keys::public_keys;

/// Issues a grant letting `producer` (33 bytes) produce to `topic`, signed by the secret key
/// behind handle `admin`; valid from `not_before` to `expires` (Unix seconds, 0 = never).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_producerGrantIssue<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    admin: jlong,
    topic: JString<'l>,
    producer: JByteArray<'l>,
    not_before: jlong,
    expires: jlong,
) -> jbyteArray {
    guard(&mut env, |env| {
        let topic = string(env, &topic, "topic")?;
        let producer = PublicKey::from_bytes(&bytes(env, &producer, "producer key")?)?;
        let signer = Signer::from_secret(borrow::<SecretKey>(admin)?);
        let grant = ProducerGrant::issue(
            &mut rewrap::rng(),
            &signer,
            &topic,
            &producer,
            not_before.max(0) as u64,
            (expires > 0).then_some(expires as u64),
        )?;
        new_bytes(env, &grant.to_bytes())
    })
}

/// Parses a producer grant; returns {topic, producer key hex, admin key hex, not before,
/// expires (0: never)} as strings.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_producerGrantDescribe<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, |env| {
        let g = ProducerGrant::from_bytes(&bytes(env, &data, "producer grant")?)?;
        let (producer, admin) = (g.producer().to_hex(), g.admin_key().to_hex());
        let not_before = g.not_before().to_string();
        let expires = g.expires().unwrap_or(0).to_string();
        new_strings(env, &[g.topic(), &producer, &admin, &not_before, &expires])
    })
}

/// Checks the grant's signature against `admins` and its validity at `now`.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_producerGrantVerify<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
    admins: JObjectArray<'l>,
    now: jlong,
) {
    guard(&mut env, |env| {
        let g = ProducerGrant::from_bytes(&bytes(env, &data, "producer grant")?)?;
        let admins = public_keys(env, &admins)?;
        g.verify(&admins, now.max(0) as u64)?;
        Ok(())
    })
}
