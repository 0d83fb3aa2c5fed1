//! Producer authenticity (format v2, `docs/FORMAT.md` §7): the session signature a producer
//! puts on every record of a session (`rewrap.sig`), the optional per-record signature
//! (`rewrap.rsig`), the channel signature a re-encryptor attaches after checking the
//! producer (`rewrap.chsig`), producer grants (who may produce to a topic) and the policy
//! that decides what a reader demands.
//!
//! Signatures are ECDSA over secp256k1 with SHA-256, low-s, made and checked exactly like a
//! grant's (umbral-pre's `Signer`): one curve and one key format for every rewrap key.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::codec::{put_short_str, Reader};
use crate::error::{Error, Object, Result};
use crate::ids::Topic;
use crate::keys::{verify_signature, KeyId, PublicKey, Signer, PUBLIC_KEY_LEN};

/// Header carrying the producer's session signature, identical on every record of a session.
pub const SIG_HEADER: &str = "rewrap.sig";
/// Header carrying a record signature (record mode only).
pub const RECORD_SIG_HEADER: &str = "rewrap.rsig";
/// Header a re-encryptor adds on fetch: the channel's signature over the session signature.
pub const CHANNEL_SIG_HEADER: &str = "rewrap.chsig";

/// Version byte of the session, record and channel signature headers and of producer grants.
pub const SIGNATURE_VERSION: u8 = 1;
const SIGNATURE_LEN: usize = 64;
/// Length of a `rewrap.sig` value: version, mode, producer key, created, signature.
pub const SESSION_SIG_LEN: usize = 1 + 1 + PUBLIC_KEY_LEN + 8 + SIGNATURE_LEN;
/// Length of a `rewrap.rsig` value: version, signature.
pub const RECORD_SIG_LEN: usize = 1 + SIGNATURE_LEN;
/// Length of a `rewrap.chsig` value: version, channel key, signature.
pub const CHANNEL_SIG_LEN: usize = 1 + PUBLIC_KEY_LEN + SIGNATURE_LEN;

const SESSION_DOMAIN: &[u8] = b"rewrap/session/v1";
const RECORD_DOMAIN: &[u8] = b"rewrap/record/v1";
const CHANNEL_DOMAIN: &[u8] = b"rewrap/channel-signature/v1";
const PRODUCER_GRANT_DOMAIN: &[u8] = b"rewrap/producer-grant/v1";
const RECORD_KEY_DOMAIN: &[u8] = b"rewrap/record-key";

/// What a producer signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SigningMode {
    /// Once per session (the default): a hash, not a signature, per record.
    Session = 1,
    /// Every record as well, for consumers that must not be able to forge each other's data.
    Record = 2,
}

impl SigningMode {
    /// `"session"` or `"record"`.
    pub fn name(self) -> &'static str {
        match self {
            SigningMode::Session => "session",
            SigningMode::Record => "record",
        }
    }

    /// Parses `"session"` or `"record"`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "session" => Ok(SigningMode::Session),
            "record" => Ok(SigningMode::Record),
            _ => Err(Error::InvalidArgument(
                "signing mode must be session or record",
            )),
        }
    }

    fn from_byte(b: u8) -> Result<Self> {
        match b {
            1 => Ok(SigningMode::Session),
            2 => Ok(SigningMode::Record),
            _ => Err(Error::Malformed(Object::Signature)),
        }
    }
}

/// What a reader (a re-encryptor or a consumer) demands of a channel's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Policy {
    /// Every record signed by an authorized producer (the default): unsigned records are
    /// `Unsigned`, bad signatures `BadSignature`, others' `UnauthorizedProducer`.
    #[default]
    Require = 0,
    /// Signed records are checked as under `Require`; unsigned v2 records are accepted and
    /// reported as unsigned.
    Optional = 1,
    /// No signature is checked, and v1 records are read (migration only).
    Off = 2,
}

impl Policy {
    /// `"require"`, `"optional"` or `"off"`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Require => "require",
            Policy::Optional => "optional",
            Policy::Off => "off",
        }
    }

    /// Parses `"require"`, `"optional"` or `"off"`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "require" => Ok(Policy::Require),
            "optional" => Ok(Policy::Optional),
            "off" => Ok(Policy::Off),
            _ => Err(Error::InvalidArgument(
                "policy must be require, optional or off",
            )),
        }
    }

    /// The policy with this number (the `repr`), for the bindings.
    pub fn from_u8(n: u8) -> Result<Self> {
        match n {
            0 => Ok(Policy::Require),
            1 => Ok(Policy::Optional),
            2 => Ok(Policy::Off),
            _ => Err(Error::InvalidArgument("policy must be 0, 1 or 2")),
        }
    }
}

/// A default policy and per-topic exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    default: Policy,
    topics: BTreeMap<String, Policy>,
}

impl Policies {
    /// Every topic under `default`.
    pub fn new(default: Policy) -> Self {
        Policies {
            default,
            topics: BTreeMap::new(),
        }
    }

    /// Sets the policy of one topic, or the default when `topic` is `None`.
    pub fn set(&mut self, topic: Option<&str>, policy: Policy) -> Result<()> {
        match topic {
            Some(t) => {
                Topic::new(t)?;
                self.topics.insert(t.to_string(), policy);
            }
            None => self.default = policy,
        }
        Ok(())
    }

    /// The policy of `topic`.
    pub fn of(&self, topic: &str) -> Policy {
        self.topics.get(topic).copied().unwrap_or(self.default)
    }
}

/// Digest of a record key bound into the envelope's AAD: a null key and an empty key differ.
pub fn record_key_digest(key: Option<&[u8]>) -> [u8; 32] {
    let Some(k) = key else {
        return NULL_KEY_DIGEST;
    };
    let mut h = Sha256::new();
    h.update(RECORD_KEY_DOMAIN);
    h.update([1u8]);
    h.update(k);
    h.finalize().into()
}

/// `record_key_digest(None)`, SHA-256 of the domain and a zero byte: a constant, so records
/// without a key (most of them) skip a hash per seal and per open.
const NULL_KEY_DIGEST: [u8; 32] = [
    0x87, 0x3b, 0x77, 0xa1, 0x37, 0xd8, 0xad, 0x5a, 0x9d, 0x0c, 0xab, 0x2f, 0x3f, 0xd0, 0x10, 0x92,
    0x18, 0xf7, 0x49, 0x16, 0xd0, 0x22, 0x41, 0xe4, 0x14, 0xf9, 0x5b, 0xa4, 0xb8, 0xa4, 0x2f, 0xc8,
];

/// SHA-256 of a header value (how the envelope's AAD and the channel signature name a
/// session signature).
pub fn header_digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

fn topic_bytes(out: &mut Vec<u8>, topic: &str) {
    put_short_str(out, topic);
}

/// A parsed `rewrap.sig` value.
#[derive(Debug, Clone, Copy)]
pub struct SessionSignature<'a> {
    bytes: &'a [u8],
    mode: SigningMode,
    producer: PublicKey,
    created: u64,
}

impl<'a> SessionSignature<'a> {
    /// Makes the `rewrap.sig` value of a session whose EDEK digests to `edek_digest`.
    pub fn sign(
        rng: &mut (impl CryptoRng + RngCore),
        producer: &Signer,
        mode: SigningMode,
        created: u64,
        topic: Topic<'_>,
        edek_digest: &[u8; 32],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(SESSION_SIG_LEN);
        out.push(SIGNATURE_VERSION);
        out.push(mode as u8);
        out.extend_from_slice(&producer.verifying_key().to_bytes());
        out.extend_from_slice(&created.to_be_bytes());
        let message = session_message(&out, topic.as_str(), edek_digest);
        out.extend_from_slice(&producer.sign(rng, &message));
        out
    }

    /// Parses the framing: `Truncated`/`UnsupportedVersion`/`Malformed(Signature)`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::Signature);
        let version = r.u8()?;
        if version != SIGNATURE_VERSION {
            return Err(Error::UnsupportedVersion(Object::Signature, version));
        }
        let mode = SigningMode::from_byte(r.u8()?)?;
        let producer = PublicKey::from_bytes(r.take(PUBLIC_KEY_LEN)?)
            .map_err(|_| Error::Malformed(Object::Signature))?;
        let created = r.u64()?;
        r.take(SIGNATURE_LEN)?;
        r.finish()?;
        Ok(SessionSignature {
            bytes,
            mode,
            producer,
            created,
        })
    }

    /// The signing mode the producer chose for the session.
    pub fn mode(&self) -> SigningMode {
        self.mode
    }

    /// The producer's verifying key.
    pub fn producer(&self) -> PublicKey {
        self.producer
    }

    /// When the producer opened the session (Unix seconds, the producer's clock).
    pub fn created(&self) -> u64 {
        self.created
    }

    /// The header value.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks the producer's signature over this session (`BadSignature`).
    pub fn verify(&self, topic: &str, edek_digest: &[u8; 32]) -> Result<()> {
        let (signed, signature) = self.bytes.split_at(SESSION_SIG_LEN - SIGNATURE_LEN);
        let message = session_message(signed, topic, edek_digest);
        if verify_signature(&self.producer, &message, signature) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

fn session_message(signed: &[u8], topic: &str, edek_digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SESSION_DOMAIN.len() + signed.len() + 32 + 1 + topic.len());
    m.extend_from_slice(SESSION_DOMAIN);
    m.extend_from_slice(signed);
    m.extend_from_slice(edek_digest);
    topic_bytes(&mut m, topic);
    m
}

/// What a record signature covers.
#[derive(Debug, Clone, Copy)]
pub struct RecordSigned<'a> {
    /// The topic.
    pub topic: &'a str,
    /// `record_key_digest` of the record key.
    pub key_digest: &'a [u8; 32],
    /// The whole sealed value (envelope header, ciphertext, tag).
    pub value: &'a [u8],
    /// SHA-256 of the EDEK header.
    pub edek_digest: &'a [u8; 32],
}

impl RecordSigned<'_> {
    fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(RECORD_DOMAIN.len() + 1 + self.topic.len() + 96);
        m.extend_from_slice(RECORD_DOMAIN);
        topic_bytes(&mut m, self.topic);
        m.extend_from_slice(self.key_digest);
        m.extend_from_slice(&header_digest(self.value));
        m.extend_from_slice(self.edek_digest);
        m
    }

    /// The `rewrap.rsig` value.
    pub fn sign(&self, rng: &mut (impl CryptoRng + RngCore), producer: &Signer) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_SIG_LEN);
        out.push(SIGNATURE_VERSION);
        out.extend_from_slice(&producer.sign(rng, &self.message()));
        out
    }

    /// Checks a `rewrap.rsig` value against the session's producer key.
    pub fn verify(&self, producer: &PublicKey, rsig: &[u8]) -> Result<()> {
        match rsig.first() {
            None => return Err(Error::Truncated(Object::Signature)),
            Some(&v) if v != SIGNATURE_VERSION => {
                return Err(Error::UnsupportedVersion(Object::Signature, v))
            }
            _ => {}
        }
        if rsig.len() < RECORD_SIG_LEN {
            return Err(Error::Truncated(Object::Signature));
        }
        if rsig.len() > RECORD_SIG_LEN {
            return Err(Error::Malformed(Object::Signature));
        }
        if verify_signature(producer, &self.message(), &rsig[1..]) {
            Ok(())
        } else {
            Err(Error::BadSignature)
        }
    }
}

/// The channel signature a re-encryptor attaches: its channel key vouches that the session
/// signature `sig` of the EDEK digesting to `edek_digest` was verified against the topic's
/// authorized producers. It names the EDEK too, so it vouches for that session only (never
/// for another session's EDEK presented beside a signature it was made for).
pub fn sign_channel(
    rng: &mut (impl CryptoRng + RngCore),
    channel: &Signer,
    topic: &str,
    edek_digest: &[u8; 32],
    sig: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHANNEL_SIG_LEN);
    out.push(SIGNATURE_VERSION);
    out.extend_from_slice(&channel.verifying_key().to_bytes());
    let message = channel_message(topic, edek_digest, sig);
    out.extend_from_slice(&channel.sign(rng, &message));
    out
}

/// Checks a `rewrap.chsig` value: framing errors are `…(Signature)`, another channel key or
/// an invalid signature `BadSignature`.
pub fn verify_channel(
    trusted: &PublicKey,
    topic: &str,
    edek_digest: &[u8; 32],
    sig: &[u8],
    chsig: &[u8],
) -> Result<()> {
    let mut r = Reader::new(chsig, Object::Signature);
    let version = r.u8()?;
    if version != SIGNATURE_VERSION {
        return Err(Error::UnsupportedVersion(Object::Signature, version));
    }
    let key = r.take(PUBLIC_KEY_LEN)?;
    let signature = r.take(SIGNATURE_LEN)?;
    r.finish()?;
    if key != trusted.to_bytes().as_slice()
        || !verify_signature(
            trusted,
            &channel_message(topic, edek_digest, sig),
            signature,
        )
    {
        return Err(Error::BadSignature);
    }
    Ok(())
}

fn channel_message(topic: &str, edek_digest: &[u8; 32], sig: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHANNEL_DOMAIN.len() + 1 + topic.len() + 64);
    m.extend_from_slice(CHANNEL_DOMAIN);
    topic_bytes(&mut m, topic);
    m.extend_from_slice(edek_digest);
    m.extend_from_slice(&header_digest(sig));
    m
}

/// An administrator's signed statement that a producer key may produce to a topic
/// (`docs/FORMAT.md` §5.2).
#[derive(Clone, PartialEq, Eq)]
pub struct ProducerGrant {
    topic: String,
    producer: PublicKey,
    admin: PublicKey,
    not_before: u64,
    expires: u64,
    signature: [u8; SIGNATURE_LEN],
}

impl core::fmt::Debug for ProducerGrant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProducerGrant")
            .field("topic", &self.topic)
            .field("producer", &self.producer.key_id())
            .field("admin", &self.admin.key_id())
            .field("not_before", &self.not_before)
            .field("expires", &self.expires)
            .finish()
    }
}

impl ProducerGrant {
    /// Signs a grant letting `producer` produce to `topic` from `not_before` until `expires`
    /// (`None`: never expires).
    pub fn issue(
        rng: &mut (impl CryptoRng + RngCore),
        admin: &Signer,
        topic: &str,
        producer: &PublicKey,
        not_before: u64,
        expires: Option<u64>,
    ) -> Result<Self> {
        Topic::new(topic)?;
        let expires = expires.unwrap_or(0);
        if expires != 0 && expires <= not_before {
            return Err(Error::InvalidArgument("expires must be after not_before"));
        }
        let mut grant = ProducerGrant {
            topic: topic.to_string(),
            producer: *producer,
            admin: admin.verifying_key(),
            not_before,
            expires,
            signature: [0; SIGNATURE_LEN],
        };
        grant.signature = admin.sign(rng, &grant.signed_message());
        Ok(grant)
    }

    fn write_terms(&self, out: &mut Vec<u8>) {
        out.push(SIGNATURE_VERSION);
        put_short_str(out, &self.topic);
        out.extend_from_slice(&self.producer.to_bytes());
        out.extend_from_slice(&self.admin.to_bytes());
        out.extend_from_slice(&self.not_before.to_be_bytes());
        out.extend_from_slice(&self.expires.to_be_bytes());
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(160);
        m.extend_from_slice(PRODUCER_GRANT_DOMAIN);
        self.write_terms(&mut m);
        m
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.write_terms(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses the wire form (structure only; `verify` before trusting it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Object::ProducerGrant);
        let version = r.u8()?;
        if version != SIGNATURE_VERSION {
            return Err(Error::UnsupportedVersion(Object::ProducerGrant, version));
        }
        let topic = r.short_str()?;
        if Topic::new(topic).is_err() {
            return Err(Error::Malformed(Object::ProducerGrant));
        }
        let key = |r: &mut Reader<'_>| -> Result<PublicKey> {
            PublicKey::from_bytes(r.take(PUBLIC_KEY_LEN)?)
                .map_err(|_| Error::Malformed(Object::ProducerGrant))
        };
        let producer = key(&mut r)?;
        let admin = key(&mut r)?;
        let not_before = r.u64()?;
        let expires = r.u64()?;
        let signature = r.array()?;
        r.finish()?;
        if expires != 0 && expires <= not_before {
            return Err(Error::Malformed(Object::ProducerGrant));
        }
        Ok(ProducerGrant {
            topic: topic.to_string(),
            producer,
            admin,
            not_before,
            expires,
            signature,
        })
    }

    /// Admin key trusted and signature valid (`UntrustedGrant`), `now` inside the validity
    /// period (`GrantExpired`).
    pub fn verify(&self, trusted_admins: &[PublicKey], now: u64) -> Result<()> {
        if !trusted_admins.contains(&self.admin)
            || !verify_signature(&self.admin, &self.signed_message(), &self.signature)
        {
            return Err(Error::UntrustedGrant);
        }
        if !self.valid_at(now) {
            return Err(Error::GrantExpired);
        }
        Ok(())
    }

    fn valid_at(&self, now: u64) -> bool {
        now >= self.not_before && (self.expires == 0 || now < self.expires)
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The authorized producer's verifying key.
    pub fn producer(&self) -> PublicKey {
        self.producer
    }

    /// The administrator who signed.
    pub fn admin_key(&self) -> PublicKey {
        self.admin
    }

    /// Start of validity (Unix seconds).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// End of validity, if any.
    pub fn expires(&self) -> Option<u64> {
        (self.expires != 0).then_some(self.expires)
    }
}

/// The producers a reader accepts, per topic: verified producer grants.
#[derive(Debug, Clone, Default)]
pub struct Producers {
    admins: Vec<PublicKey>,
    topics: BTreeMap<String, BTreeMap<KeyId, ProducerGrant>>,
}

impl Producers {
    /// An empty table trusting grants signed by `trusted_admins`.
    pub fn new(trusted_admins: &[PublicKey]) -> Self {
        Producers {
            admins: trusted_admins.to_vec(),
            topics: BTreeMap::new(),
        }
    }

    /// Verifies and adds (or replaces) a producer grant.
    pub fn add(&mut self, grant: &ProducerGrant, now: u64) -> Result<()> {
        grant.verify(&self.admins, now)?;
        self.topics
            .entry(grant.topic.clone())
            .or_default()
            .insert(grant.producer.key_id(), grant.clone());
        Ok(())
    }

    /// Removes a producer's grant for a topic; whether there was one.
    pub fn revoke(&mut self, topic: &str, producer: &KeyId) -> bool {
        let removed = self
            .topics
            .get_mut(topic)
            .is_some_and(|m| m.remove(producer).is_some());
        if self.topics.get(topic).is_some_and(|m| m.is_empty()) {
            self.topics.remove(topic);
        }
        removed
    }

    /// A table holding only `producer`'s grant for `topic`, if any (what checking one of its
    /// sessions needs).
    pub fn only(&self, topic: &str, producer: &PublicKey) -> Producers {
        let id = producer.key_id();
        let grant = self.topics.get(topic).and_then(|m| m.get(&id));
        let mut topics = BTreeMap::new();
        if let Some(g) = grant {
            topics.insert(topic.to_string(), BTreeMap::from([(id, g.clone())]));
        }
        Producers {
            admins: self.admins.clone(),
            topics,
        }
    }

    /// Removes every grant.
    pub fn clear(&mut self) {
        self.topics.clear();
    }

    /// Whether any producer is authorized for `topic` (at any time).
    pub fn any(&self, topic: &str) -> bool {
        self.topics.contains_key(topic)
    }

    /// `UnauthorizedProducer` unless a grant lets `producer` produce to `topic` at `now`.
    pub fn authorize(&self, topic: &str, producer: &PublicKey, now: u64) -> Result<()> {
        match self
            .topics
            .get(topic)
            .and_then(|m| m.get(&producer.key_id()))
        {
            Some(g) if g.producer == *producer && g.valid_at(now) => Ok(()),
            _ => Err(Error::UnauthorizedProducer),
        }
    }

    /// Every grant held, by topic then producer key id.
    pub fn grants(&self) -> impl Iterator<Item = &ProducerGrant> {
        self.topics.values().flat_map(|m| m.values())
    }
}

/// How a record's session was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Vouch {
    /// Not signed, or not checked (policy `optional` for an unsigned record, or `off`).
    Unsigned = 0,
    /// The producer's own signature, checked against a producer grant.
    Producer = 1,
    /// A channel signature made by a re-encryptor that checked the producer.
    Channel = 2,
}

impl Vouch {
    /// `"unsigned"`, `"producer"` or `"channel"`.
    pub fn name(self) -> &'static str {
        match self {
            Vouch::Unsigned => "unsigned",
            Vouch::Producer => "producer",
            Vouch::Channel => "channel",
        }
    }
}

/// The outcome of checking a session under a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCheck {
    /// How it was authenticated.
    pub vouch: Vouch,
    /// The producer's key (when signed and checked).
    pub producer: Option<PublicKey>,
    /// The signing mode (when signed and checked).
    pub mode: Option<SigningMode>,
}

impl SessionCheck {
    /// Nothing checked.
    pub const UNSIGNED: SessionCheck = SessionCheck {
        vouch: Vouch::Unsigned,
        producer: None,
        mode: None,
    };
}

/// The signature headers of one record.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    /// `rewrap.sig`.
    pub session: Option<&'a [u8]>,
    /// `rewrap.rsig`.
    pub record: Option<&'a [u8]>,
    /// `rewrap.chsig`.
    pub channel: Option<&'a [u8]>,
}

/// Checks a session's signature for a reader under `policy`: a channel signature when the
/// reader trusts a channel key for the topic and the record carries one, else the producer's
/// own signature against `producers`. Record signatures are checked by the caller (they
/// depend on each record).
pub fn check_session(
    policy: Policy,
    topic: &str,
    edek_digest: &[u8; 32],
    headers: &SignatureHeaders<'_>,
    channel_key: Option<&PublicKey>,
    producers: &Producers,
    now: u64,
) -> Result<SessionCheck> {
    if policy == Policy::Off {
        return Ok(SessionCheck::UNSIGNED);
    }
    let Some(sig) = headers.session else {
        return match policy {
            Policy::Optional => Ok(SessionCheck::UNSIGNED),
            _ => Err(Error::Unsigned),
        };
    };
    let parsed = SessionSignature::parse(sig)?;
    let vouch = match (channel_key, headers.channel) {
        (Some(key), Some(chsig)) => {
            verify_channel(key, topic, edek_digest, sig, chsig)?;
            Vouch::Channel
        }
        _ => {
            producers.authorize(topic, &parsed.producer, now)?;
            parsed.verify(topic, edek_digest)?;
            Vouch::Producer
        }
    };
    Ok(SessionCheck {
        vouch,
        producer: Some(parsed.producer),
        mode: Some(parsed.mode),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_null_key_digest_is_the_hash_of_the_domain_and_a_zero_byte() {
        let mut h = Sha256::new();
        h.update(RECORD_KEY_DOMAIN);
        h.update([0u8]);
        let computed: [u8; 32] = h.finalize().into();
        assert_eq!(record_key_digest(None), computed);
        assert_ne!(record_key_digest(Some(&[])), computed);
    }

    use super::*;
    use crate::keys::SecretKey;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn signer(rng: &mut ChaCha20Rng) -> Signer {
        Signer::new(SecretKey::random(rng))
    }

    #[test]
    fn session_signature_round_trip_and_binding() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let p = signer(&mut rng);
        let topic = Topic::new("orders").unwrap();
        let sig = SessionSignature::sign(&mut rng, &p, SigningMode::Session, 99, topic, &[1; 32]);
        assert_eq!(sig.len(), SESSION_SIG_LEN);
        let parsed = SessionSignature::parse(&sig).unwrap();
        assert_eq!(parsed.producer(), p.verifying_key());
        assert_eq!(parsed.created(), 99);
        parsed.verify("orders", &[1; 32]).unwrap();
        assert_eq!(parsed.verify("other", &[1; 32]), Err(Error::BadSignature));
        assert_eq!(parsed.verify("orders", &[2; 32]), Err(Error::BadSignature));
        let mut altered = sig.clone();
        altered[40] ^= 1;
        assert_eq!(
            SessionSignature::parse(&altered)
                .unwrap()
                .verify("orders", &[1; 32]),
            Err(Error::BadSignature)
        );
        assert_eq!(
            SessionSignature::parse(&sig[..50]).unwrap_err(),
            Error::Truncated(Object::Signature)
        );
        let mut v = sig.clone();
        v[0] = 2;
        assert_eq!(
            SessionSignature::parse(&v).unwrap_err(),
            Error::UnsupportedVersion(Object::Signature, 2)
        );
        let mut m = sig;
        m[1] = 3;
        assert_eq!(
            SessionSignature::parse(&m).unwrap_err(),
            Error::Malformed(Object::Signature)
        );
    }

    #[test]
    fn producer_grants_authorize_until_revoked_or_expired() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let admin = signer(&mut rng);
        let p = signer(&mut rng).verifying_key();
        let g = ProducerGrant::issue(&mut rng, &admin, "orders", &p, 10, Some(20)).unwrap();
        let again = ProducerGrant::from_bytes(&g.to_bytes()).unwrap();
        assert_eq!(again, g);
        let mut table = Producers::new(&[admin.verifying_key()]);
        assert_eq!(table.add(&g, 5), Err(Error::GrantExpired));
        table.add(&g, 12).unwrap();
        table.authorize("orders", &p, 15).unwrap();
        assert_eq!(
            table.authorize("orders", &p, 20),
            Err(Error::UnauthorizedProducer)
        );
        assert_eq!(
            table.authorize("other", &p, 15),
            Err(Error::UnauthorizedProducer)
        );
        assert!(table.revoke("orders", &p.key_id()));
        assert_eq!(
            table.authorize("orders", &p, 15),
            Err(Error::UnauthorizedProducer)
        );
        let stranger = signer(&mut rng);
        let forged = ProducerGrant::issue(&mut rng, &stranger, "orders", &p, 0, None).unwrap();
        assert_eq!(table.add(&forged, 12), Err(Error::UntrustedGrant));
        let mut bytes = g.to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            ProducerGrant::from_bytes(&bytes)
                .unwrap()
                .verify(&[admin.verifying_key()], 12),
            Err(Error::UntrustedGrant)
        );
    }

    #[test]
    fn channel_and_record_signatures() {
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let ch = signer(&mut rng);
        let chsig = sign_channel(&mut rng, &ch, "orders", &[1; 32], b"sig-bytes");
        assert_eq!(chsig.len(), CHANNEL_SIG_LEN);
        let key = ch.verifying_key();
        verify_channel(&key, "orders", &[1; 32], b"sig-bytes", &chsig).unwrap();
        assert_eq!(
            verify_channel(&key, "orders", &[1; 32], b"sig-bytez", &chsig),
            Err(Error::BadSignature)
        );
        // Bound to the EDEK: another session's EDEK beside this (sig, chsig) pair is refused.
        assert_eq!(
            verify_channel(&key, "orders", &[2; 32], b"sig-bytes", &chsig),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify_channel(&key, "payments", &[1; 32], b"sig-bytes", &chsig),
            Err(Error::BadSignature)
        );
        let other = signer(&mut rng).verifying_key();
        assert_eq!(
            verify_channel(&other, "orders", &[1; 32], b"sig-bytes", &chsig),
            Err(Error::BadSignature)
        );
        let p = signer(&mut rng);
        let what = RecordSigned {
            topic: "orders",
            key_digest: &record_key_digest(Some(b"k")),
            value: b"RW-value",
            edek_digest: &[3; 32],
        };
        let rsig = what.sign(&mut rng, &p);
        what.verify(&p.verifying_key(), &rsig).unwrap();
        let moved = RecordSigned {
            key_digest: &record_key_digest(Some(b"j")),
            ..what
        };
        assert_eq!(
            moved.verify(&p.verifying_key(), &rsig),
            Err(Error::BadSignature)
        );
        assert_ne!(record_key_digest(None), record_key_digest(Some(b"")));
    }
}
