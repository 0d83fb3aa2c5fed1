//! JNI shim for `io.rewrap.Native`: translates Java arrays, strings and `long` handles to the
//! `rewrap` facade and engine errors to typed Java exceptions. No cryptography here. Every
//! entry point runs inside `guard`, which turns errors and caught panics into exceptions so
//! nothing unwinds into the JVM.

use std::panic::{catch_unwind, AssertUnwindSafe};

use jni::objects::{JByteArray, JClass, JObject, JObjectArray, JString, ReleaseMode};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jlongArray, jobjectArray, jstring};
use jni::JNIEnv;
use rewrap::{
    Decryptor, DecryptorConfig, Encryptor, Error, Grant, GrantTerms, Opened, PublicKey,
    ReEncryptor, ReEncryptorConfig, RotationPolicy, SecretKey, Signer,
};

/// A failure on its way to Java: an engine error, or a JNI/argument problem.
enum Failure {
    Engine(Error),
    Jni(jni::errors::Error),
    Closed,
    Null(&'static str),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<jni::errors::Error> for Failure {
    fn from(e: jni::errors::Error) -> Self {
        Failure::Jni(e)
    }
}

type R<T> = Result<T, Failure>;

/// Java exception class for an engine error (all in io.rewrap, all extend RewrapException).
fn exception_class(e: &Error) -> &'static str {
    match e {
        Error::Truncated(_) => "io/rewrap/RewrapException$Truncated",
        Error::UnsupportedVersion(..) => "io/rewrap/RewrapException$UnsupportedVersion",
        Error::Malformed(_) => "io/rewrap/RewrapException$Malformed",
        Error::ForeignRecord => "io/rewrap/RewrapException$ForeignRecord",
        Error::Unencrypted => "io/rewrap/RewrapException$Unencrypted",
        Error::WrongTopic => "io/rewrap/RewrapException$WrongTopic",
        Error::EdekMismatch => "io/rewrap/RewrapException$EdekMismatch",
        Error::AuthenticationFailed => "io/rewrap/RewrapException$AuthenticationFailed",
        Error::MissingCfrag => "io/rewrap/RewrapException$MissingCfrag",
        Error::WrongConsumer => "io/rewrap/RewrapException$WrongConsumer",
        Error::InsufficientCfrags { .. } => "io/rewrap/RewrapException$InsufficientCfrags",
        Error::InvalidCfrag => "io/rewrap/RewrapException$InvalidCfrag",
        Error::DekUnavailable => "io/rewrap/RewrapException$DekUnavailable",
        Error::NotGranted => "io/rewrap/RewrapException$NotGranted",
        Error::Revoked => "io/rewrap/RewrapException$Revoked",
        Error::GrantExpired => "io/rewrap/RewrapException$GrantExpired",
        Error::UntrustedGrant => "io/rewrap/RewrapException$UntrustedGrant",
        Error::InvalidKeyFrag => "io/rewrap/RewrapException$InvalidKeyFrag",
        Error::InvalidArgument(_) => "io/rewrap/RewrapException$InvalidArgument",
        _ => "io/rewrap/RewrapException",
    }
}

/// Runs `body`; on failure or panic throws the matching Java exception and returns `default`.
fn guard<'local, T>(
    env: &mut JNIEnv<'local>,
    default: T,
    body: impl FnOnce(&mut JNIEnv<'local>) -> R<T>,
) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| body(env)));
    let (class, message) = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(Failure::Engine(e))) => (exception_class(&e), e.to_string()),
        // A pending Java exception (e.g. from a failed allocation) is already set: keep it.
        Ok(Err(Failure::Jni(jni::errors::Error::JavaException))) => return default,
        Ok(Err(Failure::Jni(e))) => ("io/rewrap/RewrapException", format!("JNI: {e}")),
        Ok(Err(Failure::Closed)) => (
            "io/rewrap/RewrapException$Closed",
            "handle is closed".into(),
        ),
        Ok(Err(Failure::Null(what))) => {
            ("java/lang/NullPointerException", format!("{what} is null"))
        }
        Err(_) => (
            "io/rewrap/RewrapException",
            "internal panic caught at the JNI boundary".into(),
        ),
    };
    if !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new(class, message);
    }
    default
}

fn bytes(env: &JNIEnv<'_>, array: &JByteArray<'_>, what: &'static str) -> R<Vec<u8>> {
    if array.is_null() {
        return Err(Failure::Null(what));
    }
    Ok(env.convert_byte_array(array)?)
}

/// Runs `f` on the array's bytes without copying them (JNI critical access; `f` must not call
/// back into the JVM, which holds for engine calls).
fn with_critical<T>(
    env: &mut JNIEnv<'_>,
    array: &JByteArray<'_>,
    what: &'static str,
    f: impl FnOnce(&[u8]) -> T,
) -> R<T> {
    if array.is_null() {
        return Err(Failure::Null(what));
    }
    // SAFETY: the elements are released (without copy-back: we only read) when `elements`
    // drops at the end of this function, and `f` makes no JNI calls while they are held.
    let elements = unsafe { env.get_array_elements_critical(array, ReleaseMode::NoCopyBack)? };
    // SAFETY: jbyte is i8; reading it as u8 is a bit-for-bit reinterpretation of the same
    // `len` bytes, which stay valid while `elements` is alive.
    let data =
        unsafe { std::slice::from_raw_parts(elements.as_ptr().cast::<u8>(), elements.len()) };
    Ok(f(data))
}

/// A topic passed as UTF-8 bytes (the Java side caches them per topic: converting a Java
/// String through JNI costs more than the whole AES-GCM pass over 1 KiB).
fn topic_bytes(env: &JNIEnv<'_>, array: &JByteArray<'_>) -> R<String> {
    String::from_utf8(bytes(env, array, "topic")?)
        .map_err(|_| Error::InvalidArgument("topic is not UTF-8").into())
}

fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &'static str) -> R<String> {
    if s.is_null() {
        return Err(Failure::Null(what));
    }
    Ok(env.get_string(s)?.into())
}

fn new_bytes(env: &JNIEnv<'_>, data: &[u8]) -> R<jbyteArray> {
    Ok(env.byte_array_from_slice(data)?.into_raw())
}

fn byte_arrays(env: &mut JNIEnv<'_>, items: &[&[u8]]) -> R<jobjectArray> {
    let array = env.new_object_array(items.len() as i32, "[B", JObject::null())?;
    for (i, item) in items.iter().enumerate() {
        let b = env.byte_array_from_slice(item)?;
        env.set_object_array_element(&array, i as i32, b)?;
    }
    Ok(array.into_raw())
}

fn public_keys(env: &mut JNIEnv<'_>, keys: &JObjectArray<'_>) -> R<Vec<PublicKey>> {
    if keys.is_null() {
        return Err(Failure::Null("admin keys"));
    }
    let n = env.get_array_length(keys)?;
    (0..n)
        .map(|i| {
            let item = JByteArray::from(env.get_object_array_element(keys, i)?);
            Ok(PublicKey::from_bytes(&bytes(env, &item, "admin key")?)?)
        })
        .collect()
}

/// Borrows a handle; 0 means closed (the Java side zeroes it under its lock).
fn handle<'a, T>(h: jlong) -> R<&'a T> {
    if h == 0 {
        return Err(Failure::Closed);
    }
    // SAFETY: non-zero handles are pointers from `into_handle`, and the Java wrapper frees one
    // only under its write lock, after which it never passes it again.
    Ok(unsafe { &*(h as *const T) })
}

fn into_handle<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as jlong
}

fn free<T>(h: jlong) {
    if h != 0 {
        // SAFETY: `h` came from `into_handle::<T>` and the Java wrapper frees it exactly once.
        drop(unsafe { Box::from_raw(h as *mut T) });
    }
}

fn long_array(env: &JNIEnv<'_>, values: &[i64]) -> R<jlongArray> {
    let array = env.new_long_array(values.len() as i32)?;
    env.set_long_array_region(&array, 0, values)?;
    Ok(array.into_raw())
}

// ---- keys ---------------------------------------------------------------------------------

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyGenerate(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
) -> jlong {
    guard(&mut env, 0, |_| Ok(into_handle(SecretKey::generate())))
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFromBytes<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jlong {
    guard(&mut env, 0, |env| {
        Ok(into_handle(SecretKey::from_bytes(&bytes(
            env,
            &data,
            "key bytes",
        )?)?))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyToBytes(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        new_bytes(env, handle::<SecretKey>(h)?.to_bytes().as_slice())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyPublicKey(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        new_bytes(env, &handle::<SecretKey>(h)?.public_key().to_bytes())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, (), |_| {
        free::<SecretKey>(h);
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_publicKeyId<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jstring {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let key = PublicKey::from_bytes(&bytes(env, &data, "public key")?)?;
        Ok(env.new_string(key.key_id().to_string())?.into_raw())
    })
}

// ---- grants -------------------------------------------------------------------------------

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_rewrap_Native_grantIssue<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    admin: jlong,
    delegating: jlong,
    channel: JString<'l>,
    consumer: JString<'l>,
    consumer_key: JByteArray<'l>,
    threshold: jint,
    shares: jint,
    not_before: jlong,
    expires: jlong,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let channel = string(env, &channel, "channel")?;
        let consumer = string(env, &consumer, "consumer")?;
        let consumer_key = PublicKey::from_bytes(&bytes(env, &consumer_key, "consumer key")?)?;
        let small = |v: jint| {
            u8::try_from(v)
                .map_err(|_| Error::InvalidArgument("threshold and shares must be 1..=255"))
        };
        let terms = GrantTerms {
            channel: &channel,
            consumer: &consumer,
            consumer_key,
            threshold: small(threshold)?,
            shares: small(shares)?,
            not_before: not_before as u64,
            expires: (expires > 0).then_some(expires as u64),
        };
        let signer = Signer::from_secret(handle::<SecretKey>(admin)?);
        let grant = Grant::issue(
            &mut rewrap::rng(),
            &signer,
            handle::<SecretKey>(delegating)?,
            &terms,
        )?;
        new_bytes(env, &grant.to_bytes())
    })
}

/// Parses a grant; returns {channel, consumer, delegating key hex, consumer key hex,
/// threshold, shares} as strings.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantDescribe<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let fields = [
            g.channel().to_string(),
            g.consumer().to_string(),
            g.delegating_key().to_hex(),
            g.consumer_key().to_hex(),
            g.threshold().to_string(),
            g.shares().to_string(),
        ];
        let array =
            env.new_object_array(fields.len() as i32, "java/lang/String", JObject::null())?;
        for (i, f) in fields.iter().enumerate() {
            let s = env.new_string(f)?;
            env.set_object_array_element(&array, i as i32, s)?;
        }
        Ok(array.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantVerify<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
    admins: JObjectArray<'l>,
    now: jlong,
) {
    guard(&mut env, (), |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let admins = public_keys(env, &admins)?;
        g.verify(&admins, now as u64)?;
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_grantShare<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
    index: jint,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let g = Grant::from_bytes(&bytes(env, &data, "grant")?)?;
        let index =
            u8::try_from(index).map_err(|_| Error::InvalidArgument("share index 0..=254"))?;
        new_bytes(env, &g.share(index)?.to_bytes())
    })
}

// ---- encryptor ----------------------------------------------------------------------------

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorNew<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    delegating: JByteArray<'l>,
    max_messages: jlong,
    max_age_secs: jlong,
) -> jlong {
    guard(&mut env, 0, |env| {
        let key = PublicKey::from_bytes(&bytes(env, &delegating, "delegating key")?)?;
        let policy =
            RotationPolicy::or_default(max_messages.max(0) as u64, max_age_secs.max(0) as u64);
        Ok(into_handle(Encryptor::with_policy(key, policy)?))
    })
}

/// Returns {value, edek}.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorSeal<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JByteArray<'l>,
    payload: JByteArray<'l>,
) -> jobjectArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let enc = handle::<Encryptor>(h)?;
        let topic = topic_bytes(env, &topic)?;
        let record = with_critical(env, &payload, "payload", |p| enc.seal(&topic, p))??;
        byte_arrays(env, &[&record.value, &record.edek])
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorRotate(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, (), |_| {
        handle::<Encryptor>(h)?.rotate();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_encryptorFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, (), |_| {
        free::<Encryptor>(h);
        Ok(())
    })
}

// ---- re-encryptor -------------------------------------------------------------------------

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorNew<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    admins: JObjectArray<'l>,
    cache_capacity: jint,
    cache_ttl_secs: jlong,
) -> jlong {
    guard(&mut env, 0, |env| {
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
    guard(&mut env, (), |env| {
        let re = handle::<ReEncryptor>(h)?;
        re.add_grant(&Grant::from_bytes(&bytes(env, &grant, "grant")?)?)?;
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorRevoke<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    channel: JString<'l>,
    consumer: JString<'l>,
) -> jint {
    guard(&mut env, 0, |env| {
        let re = handle::<ReEncryptor>(h)?;
        let channel = string(env, &channel, "channel")?;
        let consumer = string(env, &consumer, "consumer")?;
        Ok(re.revoke(&channel, &consumer) as jint)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorReencrypt<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    edek: JByteArray<'l>,
    consumer: JString<'l>,
) -> jobjectArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let re = handle::<ReEncryptor>(h)?;
        let topic = string(env, &topic, "topic")?;
        let consumer = string(env, &consumer, "consumer")?;
        let headers = re.reencrypt(&topic, &bytes(env, &edek, "edek")?, &consumer)?;
        let refs: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        byte_arrays(env, &refs)
    })
}

/// {hits, misses, evictions, entries, capacity, reencryptions, refused, grants}
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_reencryptorStats(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jlongArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let s = handle::<ReEncryptor>(h)?.stats();
        let c = s.cache;
        long_array(
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
    guard(&mut env, (), |_| {
        free::<ReEncryptor>(h);
        Ok(())
    })
}

// ---- decryptor ----------------------------------------------------------------------------

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
    guard(&mut env, 0, |env| {
        let admins = public_keys(env, &admins)?;
        let own = SecretKey::from_bytes(handle::<SecretKey>(secret)?.to_bytes().as_slice())?;
        let config = DecryptorConfig::or_default(
            cache_capacity.max(0) as usize,
            cache_ttl_secs.max(0) as u64,
            allow_plaintext != 0,
        );
        Ok(into_handle(Decryptor::with_config(own, &admins, config)?))
    })
}

/// Opens a record; `value` null is a tombstone (returns null). `edek` is the value of the
/// `rewrap.edek` header (null if the record has none), `cfrags` those of `rewrap.cfrag`.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_decryptorOpen<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    h: jlong,
    topic: JByteArray<'l>,
    value: JByteArray<'l>,
    edek: JByteArray<'l>,
    cfrags: JObjectArray<'l>,
) -> jbyteArray {
    guard(&mut env, std::ptr::null_mut(), |env| {
        let dec = handle::<Decryptor>(h)?;
        let topic = topic_bytes(env, &topic)?;
        let edek = if edek.is_null() {
            None
        } else {
            Some(env.convert_byte_array(&edek)?)
        };
        let n = if cfrags.is_null() {
            0
        } else {
            env.get_array_length(&cfrags)?
        };
        let mut frags = Vec::with_capacity(n as usize);
        for i in 0..n {
            let c = JByteArray::from(env.get_object_array_element(&cfrags, i)?);
            frags.push(bytes(env, &c, "cfrag")?);
        }
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(1 + frags.len());
        if let Some(e) = &edek {
            headers.push((rewrap::EDEK_HEADER, e));
        }
        headers.extend(frags.iter().map(|c| (rewrap::CFRAG_HEADER, c.as_slice())));
        let opened = if value.is_null() {
            dec.open(&topic, None, &headers)?
        } else {
            with_critical(env, &value, "value", |v| {
                dec.open(&topic, Some(v), &headers)
            })??
        };
        match opened {
            Opened::Plaintext(p) | Opened::Unencrypted(p) => new_bytes(env, &p),
            Opened::Tombstone => Ok(std::ptr::null_mut()),
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
    guard(&mut env, std::ptr::null_mut(), |env| {
        let s = handle::<Decryptor>(h)?.stats();
        let c = s.cache;
        long_array(
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
    guard(&mut env, (), |_| {
        free::<Decryptor>(h);
        Ok(())
    })
}
