//! The numbers and names every binding shares (header names, key lengths, defaults), as one
//! table. The C header, the Java `Wire` class and the Python module are generated from it or
//! fill their attributes from it at load time; none of them restates a value.

use crate::{cfrag, decryptor, edek, encryptor, envelope, ids, keys, reencrypt, signing};

/// A constant's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A string (header names).
    Str(&'static str),
    /// A non-negative integer (lengths, defaults).
    Int(u64),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constant {
    /// SCREAMING_SNAKE name, without a language prefix (C adds `REWRAP_`).
    pub name: &'static str,
    /// The value.
    pub value: Value,
    /// One line for documentation in every language.
    pub summary: &'static str,
}

const fn int(name: &'static str, value: usize, summary: &'static str) -> Constant {
    Constant {
        name,
        value: Value::Int(value as u64),
        summary,
    }
}

const fn int64(name: &'static str, value: u64, summary: &'static str) -> Constant {
    Constant {
        name,
        value: Value::Int(value),
        summary,
    }
}

const fn text(name: &'static str, value: &'static str, summary: &'static str) -> Constant {
    Constant {
        name,
        value: Value::Str(value),
        summary,
    }
}

/// Every shared constant.
pub const CONSTANTS: &[Constant] = &[
    text(
        "HEADER_PREFIX",
        decryptor::HEADER_PREFIX,
        "Prefix of every Kafka header name rewrap reads or writes.",
    ),
    text(
        "EDEK_HEADER",
        edek::EDEK_HEADER,
        "Kafka header carrying the EDEK (one per record).",
    ),
    text(
        "CFRAG_HEADER",
        cfrag::CFRAG_HEADER,
        "Kafka header carrying a capsule fragment (repeated for t-of-n).",
    ),
    text(
        "SIG_HEADER",
        signing::SIG_HEADER,
        "Kafka header carrying the producer's session signature (identical on every record of a session).",
    ),
    text(
        "RECORD_SIG_HEADER",
        signing::RECORD_SIG_HEADER,
        "Kafka header carrying a producer's record signature (record signing mode).",
    ),
    text(
        "CHANNEL_SIG_HEADER",
        signing::CHANNEL_SIG_HEADER,
        "Kafka header a re-encryptor adds on fetch: the channel's signature over the session signature.",
    ),
    text(
        "UNAUTHENTICATED_HEADER",
        decryptor::UNAUTHENTICATED_HEADER,
        "Header a Kafka deserializer adds to a record let through unauthenticated (allow_plaintext).",
    ),
    int(
        "PUBLIC_KEY_LEN",
        keys::PUBLIC_KEY_LEN,
        "Bytes of a public key (SEC1 compressed secp256k1 point).",
    ),
    int(
        "SECRET_KEY_LEN",
        keys::SECRET_KEY_LEN,
        "Bytes of a secret key (big-endian scalar).",
    ),
    int("KEY_ID_LEN", keys::KEY_ID_LEN, "Bytes of a key id."),
    int(
        "SESSION_ID_LEN",
        ids::SESSION_ID_LEN,
        "Bytes of a session id (prefix of the EDEK digest).",
    ),
    int(
        "CFRAG_HEADER_LEN",
        cfrag::CFRAG_HEADER_LEN,
        "Bytes of one rewrap.cfrag header value.",
    ),
    int(
        "ENVELOPE_OVERHEAD",
        envelope::OVERHEAD,
        "Bytes a sealed value adds to its payload.",
    ),
    int(
        "MAX_TOPIC_LEN",
        ids::MAX_TOPIC_LEN,
        "Longest topic name (Kafka's limit).",
    ),
    int(
        "MAX_CONSUMER_ID_LEN",
        ids::MAX_CONSUMER_ID_LEN,
        "Longest consumer identity a grant can name.",
    ),
    int(
        "DEFAULT_DECRYPTOR_CACHE_CAPACITY",
        decryptor::DEFAULT_DECRYPTOR_CACHE_CAPACITY,
        "Sessions whose DEKs a consumer keeps by default.",
    ),
    int(
        "DEFAULT_REENCRYPTOR_CACHE_CAPACITY",
        reencrypt::DEFAULT_REENCRYPTOR_CACHE_CAPACITY,
        "(EDEK, consumer) pairs whose fragments a re-encryptor keeps by default.",
    ),
    int64(
        "DEFAULT_ROTATION_MAX_MESSAGES",
        encryptor::DEFAULT_ROTATION_MAX_MESSAGES,
        "Messages per producer session before a new DEK, by default.",
    ),
    int64(
        "DEFAULT_ROTATION_MAX_AGE_SECS",
        encryptor::DEFAULT_ROTATION_MAX_AGE_SECS,
        "Seconds per producer session before a new DEK, by default.",
    ),
];

/// The value of the constant called `name`, if there is one.
pub fn lookup(name: &str) -> Option<Value> {
    CONSTANTS.iter().find(|c| c.name == name).map(|c| c.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<&str> = CONSTANTS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), CONSTANTS.len());
        assert_eq!(lookup("EDEK_HEADER"), Some(Value::Str("rewrap.edek")));
        assert_eq!(lookup("PUBLIC_KEY_LEN"), Some(Value::Int(33)));
    }
}
