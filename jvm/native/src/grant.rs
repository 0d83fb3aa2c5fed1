//! `io.rewrap.Grant`: issued, described, verified and split into shares by the engine; Java
//! keeps only the serialized bytes.

use jni::objects::{JByteArray, JClass, JObjectArray, JString};
use jni::sys::{jbyteArray, jint, jlong, jobjectArray};
use jni::JNIEnv;
use rewrap::{Error, Grant, GrantTerms, PublicKey, SecretKey, Signer};

use crate::arrays::{bytes, new_bytes, new_strings, string};
use crate::error::guard;
use crate::handle::borrow;
use crate::keys::public_keys;

/// Issues a grant of `topic` to `consumer`; `expires` 0 means never.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rewrap_Native_grantIssue<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    admin: jlong,
    delegating: jlong,
    topic: JString<'l>,
    consumer: JString<'l>,
    consumer_key: JByteArray<'l>,
    threshold: jint,
    shares: jint,
    not_before: jlong,
    expires: jlong,
) -> jbyteArray {
    guard(&mut env, |env| {
        let topic = string(env, &topic, "topic")?;
        let consumer = string(env, &consumer, "consumer")?;
        let consumer_key = PublicKey::from_bytes(&bytes(env, &consumer_key, "consumer key")?)?;
        let small = |v: jint| {
            u8::try_from(v)
                .map_err(|_| Error::InvalidArgument("threshold and shares must be 1..=255"))
        };
        let terms = GrantTerms {
            topic: &topic,
            consumer: &consumer,
            consumer_key,
            threshold: small(threshold)?,
            shares: small(shares)?,
            not_before: not_before as u64,
            expires: (expires > 0).then_some(expires as u64),
            issued_at: None,
        };
        let signer = Signer::from_secret(borrow::<SecretKey>(admin)?);
        let grant = Grant::issue(
            &mut rewrap::rng(),
            &signer,
            borrow::<SecretKey>(delegating)?,
            &terms,
        )?;
        new_bytes(env, &grant.to_bytes())
    })
}

/// Parses a grant; returns {topic, consumer, delegating key hex, consumer key hex,
/// threshold, shares} as strings.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantDescribe<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let (threshold, shares) = (g.threshold().to_string(), g.shares().to_string());
        let (delegating, consumer_key) = (g.delegating_key().to_hex(), g.consumer_key().to_hex());
        new_strings(
            env,
            &[
                g.topic(),
                g.consumer(),
                &delegating,
                &consumer_key,
                &threshold,
                &shares,
            ],
        )
    })
}

/// Checks the grant's signature against `admins`, its validity at `now` and its kfrags.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantVerify<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
    admins: JObjectArray<'l>,
    now: jlong,
) {
    guard(&mut env, |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let admins = public_keys(env, &admins)?;
        g.verify(&admins, now as u64)?;
        Ok(())
    })
}

/// The share of a t-of-n grant for re-encryptor `index`.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantShare<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
    index: jint,
) -> jbyteArray {
    guard(&mut env, |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let index =
            u8::try_from(index).map_err(|_| Error::InvalidArgument("share index 0..=254"))?;
        new_bytes(env, &g.share(index)?.to_bytes())
    })
}
