//! Java arrays and strings to Rust values and back. Inputs are copied, except the large
//! payloads, which the engine reads in place (`with_critical`).

use jni::objects::{JByteArray, JObject, JObjectArray, JString, ReleaseMode};
use jni::sys::{jbyteArray, jlongArray, jobjectArray};
use jni::JNIEnv;
use rewrap::ErrorKind;

use crate::error::{Failure, R};

/// Copies a non-null `byte[]`.
pub(crate) fn bytes(env: &JNIEnv<'_>, array: &JByteArray<'_>, what: &'static str) -> R<Vec<u8>> {
    if array.is_null() {
        return Err(Failure::Null(what));
    }
    Ok(env.convert_byte_array(array)?)
}

/// Copies a `byte[]`, null read as empty (Kafka header values may be null).
pub(crate) fn bytes_or_empty(env: &JNIEnv<'_>, array: &JByteArray<'_>) -> R<Vec<u8>> {
    if array.is_null() {
        return Ok(Vec::new());
    }
    Ok(env.convert_byte_array(array)?)
}

/// Copies a `byte[]` that may be null (a Kafka record key: null and empty differ).
pub(crate) fn optional_bytes(env: &JNIEnv<'_>, array: &JByteArray<'_>) -> R<Option<Vec<u8>>> {
    if array.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(array)?))
}

/// Copies a `String` that may be null.
pub(crate) fn optional_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> R<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    string(env, s, "string").map(Some)
}

/// Runs `f` on the array's bytes without copying them (JNI critical access; `f` must not call
/// back into the JVM, which holds for engine calls).
pub(crate) fn with_critical<T>(
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
pub(crate) fn topic(env: &JNIEnv<'_>, array: &JByteArray<'_>) -> R<String> {
    String::from_utf8(bytes(env, array, "topic")?)
        .map_err(|_| Failure::Kind(ErrorKind::InvalidUtf8, "topic is not UTF-8".into()))
}

/// Copies a non-null `String`.
pub(crate) fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &'static str) -> R<String> {
    if s.is_null() {
        return Err(Failure::Null(what));
    }
    // SAFETY: every `String` parameter and `String[]` element of `io.rewrap.Native` is typed
    // `java.lang.String` in its Java declaration, so the JVM has checked the class; this
    // skips the class lookup `get_string` repeats on every call.
    let java = unsafe { env.get_string_unchecked(s)? };
    Ok(java.into())
}

/// Copies every element of a non-null `String[]` (e.g. header names).
pub(crate) fn strings(
    env: &mut JNIEnv<'_>,
    array: &JObjectArray<'_>,
    what: &'static str,
) -> R<Vec<String>> {
    if array.is_null() {
        return Err(Failure::Null(what));
    }
    let n = env.get_array_length(array)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let item = JString::from(env.get_object_array_element(array, i)?);
        out.push(string(env, &item, what)?);
        // Freed now: the array may be longer than the JVM's local reference table.
        env.delete_local_ref(item)?;
    }
    Ok(out)
}

/// Copies every element of a non-null `byte[][]`; `element` turns one element into a value.
pub(crate) fn byte_arrays<T>(
    env: &mut JNIEnv<'_>,
    array: &JObjectArray<'_>,
    what: &'static str,
    mut element: impl FnMut(&mut JNIEnv<'_>, &JByteArray<'_>) -> R<T>,
) -> R<Vec<T>> {
    if array.is_null() {
        return Err(Failure::Null(what));
    }
    let n = env.get_array_length(array)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let item = JByteArray::from(env.get_object_array_element(array, i)?);
        out.push(element(env, &item)?);
        env.delete_local_ref(item)?;
    }
    Ok(out)
}

/// A new `byte[]`.
pub(crate) fn new_bytes(env: &JNIEnv<'_>, data: &[u8]) -> R<jbyteArray> {
    Ok(env.byte_array_from_slice(data)?.into_raw())
}

/// A new `byte[][]`.
pub(crate) fn new_byte_arrays(env: &mut JNIEnv<'_>, items: &[&[u8]]) -> R<jobjectArray> {
    let array = env.new_object_array(len(items.len())?, "[B", JObject::null())?;
    for (i, item) in items.iter().enumerate() {
        let b = env.byte_array_from_slice(item)?;
        env.set_object_array_element(&array, i as i32, &b)?;
        env.delete_local_ref(b)?;
    }
    Ok(array.into_raw())
}

/// A new `String[]`.
pub(crate) fn new_strings(env: &mut JNIEnv<'_>, items: &[&str]) -> R<jobjectArray> {
    let array = env.new_object_array(len(items.len())?, "java/lang/String", JObject::null())?;
    for (i, item) in items.iter().enumerate() {
        let s = env.new_string(item)?;
        env.set_object_array_element(&array, i as i32, &s)?;
        env.delete_local_ref(s)?;
    }
    Ok(array.into_raw())
}

/// A new `long[]`.
pub(crate) fn new_longs(env: &JNIEnv<'_>, values: &[i64]) -> R<jlongArray> {
    let array = env.new_long_array(len(values.len())?)?;
    env.set_long_array_region(&array, 0, values)?;
    Ok(array.into_raw())
}

/// A Java array length.
fn len(n: usize) -> R<i32> {
    i32::try_from(n).map_err(|_| Failure::Kind(ErrorKind::InvalidArgument, "too many items".into()))
}
