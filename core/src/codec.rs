//! Byte-level reading shared by every parser, and the bridge from umbral-pre's documented
//! fixed-size layouts (`to_bytes_simple`) back to its types.

use alloc::vec::Vec;

use serde::de::DeserializeOwned;

use crate::error::{Error, Object, Result};

/// A cursor over input that turns running out of bytes into `Error::Truncated`.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    object: Object,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], object: Object) -> Self {
        Reader { bytes, object }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::Truncated(self.object));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A length-prefixed (u8) UTF-8 string of 1..=255 bytes.
    pub(crate) fn short_str(&mut self) -> Result<&'a str> {
        let len = self.u8()? as usize;
        let raw = self.take(len)?;
        if len == 0 {
            return Err(Error::Malformed(self.object));
        }
        core::str::from_utf8(raw).map_err(|_| Error::Malformed(self.object))
    }

    /// Fails with `Malformed` if anything is left: every layout is exact.
    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed(self.object))
        }
    }
}

/// Appends a u8-length-prefixed string; callers have already bounded its length.
pub(crate) fn put_short_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.is_empty() && s.len() <= 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// Leaf sizes of `Capsule::to_bytes_simple`: E, V (compressed points), signature (scalar).
pub(crate) const CAPSULE_LEAVES: &[usize] = &[33, 33, 32];
/// Leaf sizes of `CapsuleFrag::to_bytes_simple` (see umbral-pre's documentation of it).
pub(crate) const CFRAG_LEAVES: &[usize] = &[33, 33, 32, 33, 33, 33, 33, 33, 32, 64];

/// Decodes an umbral-pre object from its fixed `to_bytes_simple` layout. umbral-pre only
/// deserializes through serde; its serde form is the same leaves in the same order, each as a
/// byte string, so we re-frame the leaves for `postcard` (a 1-byte length before each) and let
/// umbral-pre's own deserializers validate points, scalars and capsule consistency.
pub(crate) fn decode_simple<T: DeserializeOwned>(
    bytes: &[u8],
    leaves: &[usize],
    object: Object,
) -> Result<T> {
    let total: usize = leaves.iter().sum();
    if bytes.len() != total {
        return Err(Error::Malformed(object));
    }
    let mut framed = Vec::with_capacity(total + leaves.len());
    let mut rest = bytes;
    for &n in leaves {
        let (leaf, tail) = rest.split_at(n);
        framed.push(n as u8);
        framed.extend_from_slice(leaf);
        rest = tail;
    }
    postcard::from_bytes(&framed).map_err(|_| Error::Malformed(object))
}
