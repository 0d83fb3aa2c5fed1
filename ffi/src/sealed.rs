//! `rewrap_sealed`: one sealed record, the value and every header a producer attaches
//! (`rewrap.edek`, then `rewrap.sig` and `rewrap.rsig` when the encryptor signs). Immutable;
//! the views it hands out live as long as the handle.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use rewrap::{
    SealedRecord, CFRAG_HEADER, CHANNEL_SIG_HEADER, EDEK_HEADER, RECORD_SIG_HEADER, SIG_HEADER,
};

use crate::buf::{free_handle, handle};
use crate::decryptor::rewrap_header;
use crate::error::rewrap_result;
use crate::panic::{ffi_boundary, non_null};

/// A sealed record: read it with `rewrap_sealed_value` and `rewrap_sealed_headers`, then free
/// it with `rewrap_sealed_free`.
pub struct rewrap_sealed {
    record: SealedRecord,
    /// C views of `record.headers()`: names are static, values point into `record`, whose
    /// heap buffers do not move while the handle lives.
    headers: Vec<rewrap_header>,
}

impl rewrap_sealed {
    pub(crate) fn new(record: SealedRecord) -> Self {
        let headers = record
            .headers()
            .into_iter()
            .map(|(name, value)| rewrap_header {
                name: c_header_name(name),
                value: value.as_ptr(),
                value_len: value.len(),
            })
            .collect();
        rewrap_sealed { record, headers }
    }
}

/// The NUL-terminated form of one of the engine's header names (made once).
pub(crate) fn c_header_name(name: &str) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        [
            EDEK_HEADER,
            SIG_HEADER,
            RECORD_SIG_HEADER,
            CHANNEL_SIG_HEADER,
            CFRAG_HEADER,
        ]
        .iter()
        .map(|n| CString::new(*n).expect("header names have no NUL"))
        .collect()
    });
    names
        .iter()
        .find(|n| n.as_bytes() == name.as_bytes())
        .map_or(std::ptr::null(), |n| n.as_ptr())
}

/// The record value: `*data` and `*len` point into the sealed record (valid until
/// `rewrap_sealed_free`; copy them to keep them longer).
#[no_mangle]
pub unsafe extern "C" fn rewrap_sealed_value(
    sealed: *const rewrap_sealed,
    data: *mut *const u8,
    len: *mut usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(sealed);
        non_null!(data);
        non_null!(len);
        let value = &handle(sealed).record.value;
        // SAFETY: both checked non-NULL above; C promises they are writable.
        unsafe {
            data.write(value.as_ptr());
            len.write(value.len());
        }
        rewrap_result::REWRAP_OK
    }
}

/// The headers to attach to the record, all of them, in order: `*headers` points to an
/// array of `*n_headers` (1 to 3) entries owned by the sealed record (valid until
/// `rewrap_sealed_free`). Names are static C strings.
#[no_mangle]
pub unsafe extern "C" fn rewrap_sealed_headers(
    sealed: *const rewrap_sealed,
    headers: *mut *const rewrap_header,
    n_headers: *mut usize,
) -> rewrap_result {
    ffi_boundary! {
        non_null!(sealed);
        non_null!(headers);
        non_null!(n_headers);
        let list = &handle(sealed).headers;
        // SAFETY: both checked non-NULL above; C promises they are writable.
        unsafe {
            headers.write(list.as_ptr());
            n_headers.write(list.len());
        }
        rewrap_result::REWRAP_OK
    }
}

/// Frees a sealed record and every view into it. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn rewrap_sealed_free(sealed: *const rewrap_sealed) {
    ffi_boundary! { free_handle(sealed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_the_engines() {
        for name in [
            EDEK_HEADER,
            SIG_HEADER,
            RECORD_SIG_HEADER,
            CHANNEL_SIG_HEADER,
            CFRAG_HEADER,
        ] {
            let c = c_header_name(name);
            assert!(!c.is_null());
            // SAFETY: a static NUL-terminated string from NAMES.
            assert_eq!(
                unsafe { std::ffi::CStr::from_ptr(c) }.to_str().unwrap(),
                name
            );
        }
        assert!(c_header_name("other").is_null());
    }
}
