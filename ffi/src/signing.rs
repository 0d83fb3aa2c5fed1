//! The producer-authenticity enums of the C ABI (the engine's `Policy`, `SigningMode` and
//! `Vouch`, same numbers). Inputs cross as plain integers and are checked here, so a C caller
//! passing an out-of-range value gets REWRAP_INVALID_ARGUMENT rather than undefined behaviour.

use rewrap::{Error, Policy, SigningMode, Vouch};

use crate::error::rewrap_result;

/// What a reader (decryptor or re-encryptor) demands of a topic's records. Passed to the
/// `*_set_policy` functions as a `uint32_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_policy {
    /// Every record signed by an authorized producer (the default).
    REWRAP_POLICY_REQUIRE = 0,
    /// Signed records are checked as under REQUIRE; unsigned records are accepted and
    /// reported as REWRAP_VOUCH_UNSIGNED.
    REWRAP_POLICY_OPTIONAL = 1,
    /// Nothing is checked, and v1 records are read (migration only).
    REWRAP_POLICY_OFF = 2,
}

/// What a producer signs. Passed to `rewrap_encryptor_set_signer` as a `uint32_t`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_signing_mode {
    /// Not signed, or not checked (output only).
    REWRAP_SIGNING_NONE = 0,
    /// One signature per session (the usual choice).
    REWRAP_SIGNING_SESSION = 1,
    /// Every record as well, for consumers that must not be able to forge each other's data.
    REWRAP_SIGNING_RECORD = 2,
}

/// How an opened record's session was authenticated.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum rewrap_vouch {
    /// Not signed, or not checked (policy OPTIONAL for an unsigned record, or OFF).
    REWRAP_VOUCH_UNSIGNED = 0,
    /// The producer's own signature, checked against a producer grant.
    REWRAP_VOUCH_PRODUCER = 1,
    /// A channel signature made by a re-encryptor that checked the producer.
    REWRAP_VOUCH_CHANNEL = 2,
}

// cbindgen needs literal discriminants; these checks keep them the engine's numbers.
const _: () = assert!(rewrap_policy::REWRAP_POLICY_REQUIRE as u8 == Policy::Require as u8);
const _: () = assert!(rewrap_policy::REWRAP_POLICY_OPTIONAL as u8 == Policy::Optional as u8);
const _: () = assert!(rewrap_policy::REWRAP_POLICY_OFF as u8 == Policy::Off as u8);
const _: () =
    assert!(rewrap_signing_mode::REWRAP_SIGNING_SESSION as u8 == SigningMode::Session as u8);
const _: () =
    assert!(rewrap_signing_mode::REWRAP_SIGNING_RECORD as u8 == SigningMode::Record as u8);
const _: () = assert!(rewrap_vouch::REWRAP_VOUCH_UNSIGNED as u8 == Vouch::Unsigned as u8);
const _: () = assert!(rewrap_vouch::REWRAP_VOUCH_PRODUCER as u8 == Vouch::Producer as u8);
const _: () = assert!(rewrap_vouch::REWRAP_VOUCH_CHANNEL as u8 == Vouch::Channel as u8);

/// A `rewrap_policy` number from C, or REWRAP_INVALID_ARGUMENT.
pub(crate) fn policy(n: u32) -> Result<Policy, rewrap_result> {
    u8::try_from(n)
        .map_err(|_| Error::InvalidArgument("policy must be 0, 1 or 2"))
        .and_then(Policy::from_u8)
        .map_err(crate::error::engine)
}

/// A `rewrap_signing_mode` number from C (SESSION or RECORD), or REWRAP_INVALID_ARGUMENT.
pub(crate) fn signing_mode(n: u32) -> Result<SigningMode, rewrap_result> {
    const SESSION: u32 = rewrap_signing_mode::REWRAP_SIGNING_SESSION as u32;
    const RECORD: u32 = rewrap_signing_mode::REWRAP_SIGNING_RECORD as u32;
    match n {
        SESSION => Ok(SigningMode::Session),
        RECORD => Ok(SigningMode::Record),
        _ => Err(crate::error::engine(Error::InvalidArgument(
            "signing mode must be REWRAP_SIGNING_SESSION or REWRAP_SIGNING_RECORD",
        ))),
    }
}

impl From<Option<SigningMode>> for rewrap_signing_mode {
    fn from(mode: Option<SigningMode>) -> Self {
        match mode {
            None => rewrap_signing_mode::REWRAP_SIGNING_NONE,
            Some(SigningMode::Session) => rewrap_signing_mode::REWRAP_SIGNING_SESSION,
            Some(SigningMode::Record) => rewrap_signing_mode::REWRAP_SIGNING_RECORD,
        }
    }
}

impl From<Vouch> for rewrap_vouch {
    fn from(vouch: Vouch) -> Self {
        match vouch {
            Vouch::Unsigned => rewrap_vouch::REWRAP_VOUCH_UNSIGNED,
            Vouch::Producer => rewrap_vouch::REWRAP_VOUCH_PRODUCER,
            Vouch::Channel => rewrap_vouch::REWRAP_VOUCH_CHANNEL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_inputs_are_invalid_arguments() {
        let invalid = rewrap_result::of(rewrap::ErrorKind::InvalidArgument);
        assert_eq!(policy(3), Err(invalid));
        assert_eq!(policy(256), Err(invalid));
        assert_eq!(policy(2), Ok(Policy::Off));
        assert_eq!(signing_mode(0), Err(invalid));
        assert_eq!(signing_mode(2), Ok(SigningMode::Record));
    }
}
