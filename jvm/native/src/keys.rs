//! `io.rewrap.SecretKey` (a handle: the secret stays in Rust and is zeroized when freed) and
//! `io.rewrap.PublicKey` (its 33 bytes live in Java). Hex and key files are parsed by the
//! engine (`rewrap::keyfile` refuses secret key files that group or others can read).

use std::path::Path;

use jni::objects::{JByteArray, JClass, JObjectArray, JString};
use jni::sys::{jbyteArray, jlong, jstring};
use jni::JNIEnv;
use rewrap::{keyfile, PublicKey, SecretKey};

use crate::arrays::{byte_arrays, bytes, new_bytes, string};
use crate::error::{guard, R};
use crate::handle::{borrow, free, into_handle};

/// Parses a `byte[][]` of public keys (the trusted administrators).
pub(crate) fn public_keys(env: &mut JNIEnv<'_>, keys: &JObjectArray<'_>) -> R<Vec<PublicKey>> {
    byte_arrays(env, keys, "admin keys", |env, item| {
        Ok(PublicKey::from_bytes(&bytes(env, item, "admin key")?)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyGenerate(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
) -> jlong {
    guard(&mut env, |_| Ok(into_handle(SecretKey::generate())))
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFromBytes<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jlong {
    guard(&mut env, |env| {
        Ok(into_handle(SecretKey::from_bytes(&bytes(
            env,
            &data,
            "key bytes",
        )?)?))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFromHex<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    hex: JString<'l>,
) -> jlong {
    guard(&mut env, |env| {
        Ok(into_handle(SecretKey::from_hex(&string(
            env, &hex, "key hex",
        )?)?))
    })
}

/// Reads a secret key file (refused when group or others may read it).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFromFile<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    path: JString<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let path = string(env, &path, "path")?;
        Ok(into_handle(keyfile::read_secret(Path::new(&path))?))
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyToBytes(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jbyteArray {
    guard(&mut env, |env| {
        new_bytes(env, borrow::<SecretKey>(h)?.to_bytes().as_slice())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyPublicKey(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) -> jbyteArray {
    guard(&mut env, |env| {
        new_bytes(env, &borrow::<SecretKey>(h)?.public_key().to_bytes())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_secretKeyFree(
    mut env: JNIEnv<'_>,
    _: JClass<'_>,
    h: jlong,
) {
    guard(&mut env, |_| {
        free::<SecretKey>(h);
        Ok(())
    })
}

/// Validates a public key; returns its key id (hex).
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_publicKeyId<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    data: JByteArray<'l>,
) -> jstring {
    guard(&mut env, |env| {
        let key = PublicKey::from_bytes(&bytes(env, &data, "public key")?)?;
        Ok(env.new_string(key.key_id().to_string())?.into_raw())
    })
}

/// Parses hex; returns the key's 33 bytes.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_publicKeyFromHex<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    hex: JString<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let key = PublicKey::from_hex(&string(env, &hex, "key hex")?)?;
        new_bytes(env, &key.to_bytes())
    })
}

/// Reads a public key file; returns the key's 33 bytes.
#[no_mangle]
pub extern "system" fn Java_io_rewrap_Native_publicKeyFromFile<'l>(
    mut env: JNIEnv<'l>,
    _: JClass<'l>,
    path: JString<'l>,
) -> jbyteArray {
    guard(&mut env, |env| {
        let path = string(env, &path, "path")?;
        new_bytes(env, &keyfile::read_public(Path::new(&path))?.to_bytes())
    })
}
