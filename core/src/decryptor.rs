//! Consumer side: opens records with the consumer's own secret key and the capsule fragments
//! a re-encryptor attached, caching each session's DEK so Umbral runs once per session.
//! Fails closed: a record without rewrap headers is an error unless plaintext is allowed.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cache::{Cache, CacheStats};
use crate::cfrag::{CfragRef, CFRAG_HEADER};
use crate::compression::DEFAULT_MAX_DECOMPRESSED_LEN;
use crate::dek::PayloadKey;
use crate::edek::{EdekRef, EDEK_HEADER};
use crate::envelope::{Binding, EnvelopeRef, ENVELOPE_VERSION_1};
use crate::error::{Error, Object, Result};
use crate::ids::{SessionId, Topic};
use crate::keys::{KeyId, PublicKey, SecretKey};
use crate::signing::{
    check_session, header_digest, record_key_digest, Policies, Policy, ProducerGrant, Producers,
    RecordSigned, SessionCheck, SignatureHeaders, SigningMode, Vouch, CHANNEL_SIG_HEADER,
    RECORD_SIG_HEADER, SIG_HEADER,
};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

/// A Kafka record header as (name, value).
pub type Header<'a> = (&'a str, &'a [u8]);

/// Prefix of every header name rewrap reads or writes.
pub const HEADER_PREFIX: &str = "rewrap.";

/// Header a Kafka deserializer adds to a record it returns unauthenticated (plaintext let
/// through by `allow_plaintext`), where its API has no other way to say so.
pub const UNAUTHENTICATED_HEADER: &str = "rewrap.unauthenticated";

/// Sessions whose DEKs a consumer keeps by default.
pub const DEFAULT_DECRYPTOR_CACHE_CAPACITY: usize = 4096;

/// The rewrap headers of one record, selected from all of its headers. This is the only place
/// header names are matched: bindings pass every header of the record as they received it.
#[derive(Debug, Default)]
pub struct RecordHeaders<'a> {
    /// The `rewrap.edek` value, if present.
    pub edek: Option<&'a [u8]>,
    /// Every `rewrap.cfrag` value, in record order.
    pub cfrags: Vec<&'a [u8]>,
    /// `rewrap.sig`, `rewrap.rsig` and `rewrap.chsig` (at most one of each).
    pub signatures: SignatureHeaders<'a>,
}

impl<'a> RecordHeaders<'a> {
    /// Selects the rewrap headers. Two EDEKs are `Malformed(Edek)`. A name that only reads as a
    /// rewrap name once cut at a NUL byte (`rewrap.cfrag\0x`, which C clients see as
    /// `rewrap.cfrag`) is refused as malformed: it can only be an attempt to smuggle a header
    /// past a filter that compares whole names.
    pub fn select(headers: &[Header<'a>]) -> Result<Self> {
        let mut out = RecordHeaders::default();
        for &(name, value) in headers {
            if !name.starts_with(HEADER_PREFIX) {
                continue;
            }
            let visible = name.split('\0').next().unwrap_or(name);
            if visible == EDEK_HEADER {
                if name.len() != visible.len() || out.edek.replace(value).is_some() {
                    return Err(Error::Malformed(Object::Edek));
                }
            } else if visible == CFRAG_HEADER {
                if name.len() != visible.len() {
                    return Err(Error::Malformed(Object::Cfrag));
                }
                out.cfrags.push(value);
            } else {
                let slot = match visible {
                    SIG_HEADER => &mut out.signatures.session,
                    RECORD_SIG_HEADER => &mut out.signatures.record,
                    CHANNEL_SIG_HEADER => &mut out.signatures.channel,
                    _ => continue,
                };
                if name.len() != visible.len() || slot.replace(value).is_some() {
                    return Err(Error::Malformed(Object::Signature));
                }
            }
        }
        Ok(out)
    }
}

/// Consumer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptorConfig {
    /// Most sessions whose DEKs are kept (each entry ~300 bytes).
    pub cache_capacity: usize,
    /// Forget a DEK this many seconds after opening it; `None` keeps it until evicted.
    pub cache_ttl_secs: Option<u64>,
    /// Accept records without rewrap headers as plaintext (only for migrating a channel).
    pub allow_plaintext: bool,
    /// What every topic demands of producer signatures unless `Decryptor::set_policy` says
    /// otherwise (default `Require`).
    pub policy: Policy,
    /// Largest payload a compressed record may expand to (default 8 MiB); a record declaring
    /// more is `DecompressionFailed`, refused before anything is allocated for it.
    pub max_decompressed_len: usize,
}

impl Default for DecryptorConfig {
    fn default() -> Self {
        DecryptorConfig {
            cache_capacity: DEFAULT_DECRYPTOR_CACHE_CAPACITY,
            cache_ttl_secs: None,
            allow_plaintext: false,
            policy: Policy::default(),
            max_decompressed_len: DEFAULT_MAX_DECOMPRESSED_LEN,
        }
    }
}

impl DecryptorConfig {
    /// The config with 0 meaning "default capacity" and "no TTL": how the C and JVM bindings
    /// pass unset values.
    pub fn or_default(cache_capacity: usize, cache_ttl_secs: u64, allow_plaintext: bool) -> Self {
        DecryptorConfig {
            cache_capacity: if cache_capacity == 0 {
                Self::default().cache_capacity
            } else {
                cache_capacity
            },
            cache_ttl_secs: (cache_ttl_secs != 0).then_some(cache_ttl_secs),
            allow_plaintext,
            ..Self::default()
        }
    }
}

/// A decrypted record and what is known of where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext.
    pub payload: Vec<u8>,
    /// The producer session.
    pub session: SessionId,
    /// The record's counter in its session (0 first): gaps or repeats show loss or replay.
    pub counter: u64,
    /// How the session was authenticated.
    pub vouch: Vouch,
    /// The producer's verifying key (signed and checked sessions only).
    pub producer: Option<PublicKey>,
    /// The producer's signing mode (signed and checked sessions only).
    pub mode: Option<SigningMode>,
}

/// What a record turned out to be. Only `Decrypted` is authenticated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A sealed record, authenticated and decrypted.
    Decrypted(Decrypted),
    /// A null value (tombstone); kept null so compaction works.
    Tombstone,
    /// A record without rewrap headers, passed through unauthenticated because
    /// `allow_plaintext` is set (a migration). Never confuse it with `Decrypted`.
    UnencryptedAllowed(Vec<u8>),
}

/// The kinds of `Opened`, as the bindings report them (stable numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OpenedKind {
    /// `Opened::Decrypted`.
    Decrypted = 0,
    /// `Opened::Tombstone`.
    Tombstone = 1,
    /// `Opened::UnencryptedAllowed`.
    UnencryptedAllowed = 2,
}

impl OpenedKind {
    /// Every kind, in code order (bindings generate their enums from this).
    pub const ALL: [OpenedKind; 3] = [
        OpenedKind::Decrypted,
        OpenedKind::Tombstone,
        OpenedKind::UnencryptedAllowed,
    ];

    /// UpperCamelCase name.
    pub fn name(self) -> &'static str {
        match self {
            OpenedKind::Decrypted => "Decrypted",
            OpenedKind::Tombstone => "Tombstone",
            OpenedKind::UnencryptedAllowed => "UnencryptedAllowed",
        }
    }
}

impl Opened {
    /// Which kind of result this is.
    pub fn kind(&self) -> OpenedKind {
        match self {
            Opened::Decrypted(_) => OpenedKind::Decrypted,
            Opened::Tombstone => OpenedKind::Tombstone,
            Opened::UnencryptedAllowed(_) => OpenedKind::UnencryptedAllowed,
        }
    }

    /// The payload (`None` for a tombstone), whatever the kind.
    pub fn into_value(self) -> Option<Vec<u8>> {
        match self {
            Opened::Decrypted(d) => Some(d.payload),
            Opened::UnencryptedAllowed(v) => Some(v),
            Opened::Tombstone => None,
        }
    }
}

/// Counters of a decryptor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecryptorStats {
    /// The DEK cache.
    pub cache: CacheStats,
    /// Umbral opens performed (one per session on a warm cache).
    pub dek_opens: u64,
    /// Fragment headers skipped (malformed, or failing verification beside usable ones).
    pub skipped_cfrags: u64,
}

struct CachedDek {
    key: PayloadKey,
    edek: Box<[u8]>,
    edek_digest: [u8; 32],
    /// The `rewrap.sig` value checked for this session and the outcome.
    sig: Option<Box<[u8]>>,
    sig_digest: [u8; 32],
    check: SessionCheck,
}

/// What a reader trusts to authenticate producers.
struct Trust {
    policies: Policies,
    producers: Producers,
    channel_keys: BTreeMap<String, PublicKey>,
}

impl Trust {
    fn check(
        &self,
        now: u64,
        topic: &str,
        envelope: &EnvelopeRef<'_>,
        edek_digest: &[u8; 32],
        headers: &SignatureHeaders<'_>,
    ) -> Result<SessionCheck> {
        let policy = self.policies.of(topic);
        if envelope.version() == ENVELOPE_VERSION_1 && policy != Policy::Off {
            return Err(Error::Unsigned);
        }
        check_session(
            policy,
            topic,
            edek_digest,
            headers,
            self.channel_keys.get(topic),
            &self.producers,
            now,
        )
    }
}

/// One sealed record being opened: what its AAD and record signature cover.
struct Sealed<'r, 'a> {
    topic: &'r str,
    record_key: Option<&'a [u8]>,
    envelope: &'r EnvelopeRef<'a>,
    value: &'a [u8],
    edek_digest: &'r [u8; 32],
    signatures: &'r SignatureHeaders<'a>,
    /// SHA-256 of `signatures.session` (zeros when unsigned), computed once per session.
    sig_digest: [u8; 32],
    /// The reader's bound on a decompressed payload.
    max_decompressed: usize,
}

impl Sealed<'_, '_> {
    /// Opens the envelope (after the record signature, in record mode) and describes it.
    fn open(&self, key: &PayloadKey, check: &SessionCheck) -> Result<Decrypted> {
        let binding = Binding {
            key_digest: record_key_digest(self.record_key),
            sig_digest: self.sig_digest,
        };
        if let (Some(SigningMode::Record), Some(producer)) = (check.mode, check.producer) {
            let rsig = self.signatures.record.ok_or(Error::Unsigned)?;
            RecordSigned {
                topic: self.topic,
                key_digest: &binding.key_digest,
                value: self.value,
                edek_digest: self.edek_digest,
            }
            .verify(&producer, rsig)?;
        }
        let payload = self
            .envelope
            .open(key, self.edek_digest, &binding, self.max_decompressed)?;
        Ok(Decrypted {
            payload,
            session: self.envelope.session_id(),
            counter: self.envelope.counter(),
            vouch: check.vouch,
            producer: check.producer,
            mode: check.mode,
        })
    }
}

/// A consumer's keys: everything the Umbral step needs, immutable and shared, so a threaded
/// caller can open a session's DEK without holding the decryptor.
pub struct ConsumerKeys {
    secret: SecretKey,
    public: PublicKey,
    key_id: KeyId,
    admins: Vec<PublicKey>,
}

/// Own-key fragments verified per record beyond the threshold, at most: a record carrying many
/// bad fragments for this consumer costs a bounded number of Umbral verifications.
pub const MAX_EXTRA_CFRAG_VERIFICATIONS: usize = 2;

/// Opens records for one consumer.
pub struct Decryptor {
    keys: Arc<ConsumerKeys>,
    trust: Trust,
    allow_plaintext: bool,
    max_decompressed: usize,
    /// Shared with records being opened, so the AES-GCM pass runs after the look-up returns.
    cache: Cache<SessionId, Arc<CachedDek>>,
    dek_opens: u64,
    skipped_cfrags: u64,
}

/// What `Decryptor::prepare` found.
pub enum Prepared<'a> {
    /// Answered without Umbral: a tombstone, plaintext let through, or a cached session.
    Done(Opened),
    /// The session's DEK must be opened first (`PendingDek::open_dek`, then `finish`).
    NeedsDek(PendingDek<'a>),
    /// The session's DEK is cached and the record checked against it: `CachedRecord::open`
    /// opens it without access to the decryptor (outside its lock, when shared).
    Cached(CachedRecord<'a>),
}

/// A record's rewrap parts, parsed and framing-checked without the decryptor (a shared one
/// parses before taking its lock): `RecordParts::parse`, then `Decryptor::prepare_parts`.
pub struct RecordParts<'a>(Parts<'a>);

enum Parts<'a> {
    Tombstone,
    /// No EDEK header: plaintext, or a rewrap record whose EDEK was stripped.
    Unsealed {
        value: &'a [u8],
        selected: RecordHeaders<'a>,
    },
    Sealed {
        value: &'a [u8],
        record_key: Option<&'a [u8]>,
        envelope: EnvelopeRef<'a>,
        edek: EdekRef<'a>,
        selected: RecordHeaders<'a>,
    },
}

impl<'a> RecordParts<'a> {
    /// Selects the rewrap headers and parses the envelope and EDEK of a record read from
    /// `topic` (arguments as for `Decryptor::open`); an EDEK for another topic is `WrongTopic`.
    pub fn parse(
        topic: &str,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: &[Header<'a>],
    ) -> Result<Self> {
        let Some(value) = value else {
            return Ok(RecordParts(Parts::Tombstone));
        };
        let selected = RecordHeaders::select(headers)?;
        let Some(edek) = selected.edek else {
            return Ok(RecordParts(Parts::Unsealed { value, selected }));
        };
        let envelope = EnvelopeRef::parse(value)?;
        let edek = EdekRef::parse(edek)?;
        if edek.topic() != *topic {
            return Err(Error::WrongTopic);
        }
        Ok(RecordParts(Parts::Sealed {
            value,
            record_key: key,
            envelope,
            edek,
            selected,
        }))
    }
}

/// A record of a cached session, checked against it (EDEK, policy, session signature) and
/// holding the session's key, ready for its payload to be opened.
pub struct CachedRecord<'a> {
    envelope: EnvelopeRef<'a>,
    value: &'a [u8],
    record_key: Option<&'a [u8]>,
    topic: &'a str,
    signatures: SignatureHeaders<'a>,
    /// The record carries the session signature its DEK was cached with.
    same_sig: bool,
    check: SessionCheck,
    session: Arc<CachedDek>,
    max_decompressed: usize,
}

impl CachedRecord<'_> {
    /// Verifies the record signature (record signing mode) and opens the payload: the
    /// per-record work of a cache hit.
    pub fn open(self) -> Result<Opened> {
        let sealed = Sealed {
            topic: self.topic,
            record_key: self.record_key,
            envelope: &self.envelope,
            value: self.value,
            edek_digest: &self.session.edek_digest,
            signatures: &self.signatures,
            sig_digest: if self.same_sig {
                self.session.sig_digest
            } else {
                self.signatures.session.map_or([0; 32], header_digest)
            },
            max_decompressed: self.max_decompressed,
        };
        sealed
            .open(&self.session.key, &self.check)
            .map(Opened::Decrypted)
    }
}

/// A record whose session DEK is not cached: what the Umbral open needs, borrowed from the
/// record, with the consumer's keys.
pub struct PendingDek<'a> {
    envelope: EnvelopeRef<'a>,
    value: &'a [u8],
    record_key: Option<&'a [u8]>,
    edek: EdekRef<'a>,
    edek_digest: [u8; 32],
    cfrags: Vec<&'a [u8]>,
    signatures: SignatureHeaders<'a>,
    check: SessionCheck,
    keys: Arc<ConsumerKeys>,
    max_decompressed: usize,
}

/// A session DEK opened by `PendingDek::open_dek`, ready for `Decryptor::finish`.
pub struct OpenedDek {
    key: PayloadKey,
    skipped_cfrags: u64,
}

impl Decryptor {
    /// A consumer with its own secret key, trusting fragments made from kfrags signed by any of
    /// `trusted_admins`.
    pub fn new(
        secret: SecretKey,
        trusted_admins: &[PublicKey],
        config: DecryptorConfig,
    ) -> Result<Self> {
        if trusted_admins.is_empty() {
            return Err(Error::InvalidArgument(
                "at least one trusted administrator key",
            ));
        }
        let public = secret.public_key();
        Ok(Decryptor {
            keys: Arc::new(ConsumerKeys {
                key_id: public.key_id(),
                public,
                secret,
                admins: trusted_admins.to_vec(),
            }),
            trust: Trust {
                policies: Policies::new(config.policy),
                producers: Producers::new(trusted_admins),
                channel_keys: BTreeMap::new(),
            },
            allow_plaintext: config.allow_plaintext,
            max_decompressed: config.max_decompressed_len,
            cache: Cache::new(config.cache_capacity, config.cache_ttl_secs)?,
            dek_opens: 0,
            skipped_cfrags: 0,
        })
    }

    /// This consumer's public key (what the administrator grants to).
    pub fn public_key(&self) -> PublicKey {
        self.keys.public
    }

    /// Sets the signature policy of `topic`, or the default for every other topic when
    /// `topic` is `None`. Cached sessions are forgotten, so the new policy applies at once.
    pub fn set_policy(&mut self, topic: Option<&str>, policy: Policy) -> Result<()> {
        self.trust.policies.set(topic, policy)?;
        self.cache.remove_where(|_| true);
        Ok(())
    }

    /// The policy `topic` is read under.
    pub fn policy(&self, topic: &str) -> Policy {
        self.trust.policies.of(topic)
    }

    /// Verifies a producer grant (signed by a trusted administrator, valid at `now`) and
    /// accepts that producer's sessions on its topic (for reading without a re-encryptor's
    /// channel signature).
    pub fn add_producer_grant(&mut self, grant: &ProducerGrant, now: u64) -> Result<()> {
        self.trust.producers.add(grant, now)
    }

    /// Stops accepting a producer's sessions on `topic` (cached sessions are forgotten).
    pub fn revoke_producer(&mut self, topic: &str, producer: &KeyId) -> bool {
        let removed = self.trust.producers.revoke(topic, producer);
        if removed {
            self.cache.remove_where(|_| true);
        }
        removed
    }

    /// Trusts `key` as the channel signing key of `topic`: sessions a re-encryptor vouched
    /// for with this key need no producer grant here.
    pub fn trust_channel_key(&mut self, topic: &str, key: PublicKey) -> Result<()> {
        Topic::new(topic)?;
        self.trust.channel_keys.insert(topic.to_string(), key);
        self.cache.remove_where(|_| true);
        Ok(())
    }

    /// Opens one record read from `topic`: `key` is its Kafka key (`None` for a null key),
    /// `value` its value (`None` for a tombstone), `headers` all its headers in order.
    pub fn open(
        &mut self,
        now: u64,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<Opened> {
        match self.prepare(now, topic, key, value, headers)? {
            Prepared::Done(opened) => Ok(opened),
            Prepared::Cached(record) => record.open(),
            Prepared::NeedsDek(pending) => {
                let dek = pending.open_dek()?;
                self.finish(pending, dek, now)
            }
        }
    }

    /// Checks the record and, if its session's DEK is cached, returns it ready to open;
    /// otherwise says what the Umbral step needs. Tombstones and plaintext are answered here.
    /// `RecordParts::parse`, then `prepare_parts`.
    pub fn prepare<'a>(
        &mut self,
        now: u64,
        topic: &str,
        key: Option<&'a [u8]>,
        value: Option<&'a [u8]>,
        headers: &[Header<'a>],
    ) -> Result<Prepared<'a>> {
        self.prepare_parts(now, RecordParts::parse(topic, key, value, headers)?)
    }

    /// `prepare` for a record already parsed: a cache look-up and the checks against the
    /// cached session, or the trust check of a session not cached.
    pub fn prepare_parts<'a>(&mut self, now: u64, parts: RecordParts<'a>) -> Result<Prepared<'a>> {
        let (value, key, envelope, edek, selected) = match parts.0 {
            Parts::Tombstone => return Ok(Prepared::Done(Opened::Tombstone)),
            Parts::Unsealed { value, selected } => {
                return self.unencrypted(value, &selected).map(Prepared::Done)
            }
            Parts::Sealed {
                value,
                record_key,
                envelope,
                edek,
                selected,
            } => (value, record_key, envelope, edek, selected),
        };
        // The EDEK names the record's topic: `parse` checked it against the caller's.
        let topic = edek.topic().as_str();
        let session = envelope.session_id();
        let sigs = selected.signatures;
        if let Some(hit) = self.cache.get(&session, now) {
            if *hit.edek != *edek.as_bytes() {
                return Err(Error::EdekMismatch);
            }
            // The session's signature was checked when its DEK was opened; a record claiming
            // another one is checked afresh (the AAD binds each record to its own).
            let same_sig = hit.sig.as_deref() == sigs.session;
            let check = if envelope.version() == ENVELOPE_VERSION_1
                && self.trust.policies.of(topic) != Policy::Off
            {
                return Err(Error::Unsigned);
            } else if same_sig {
                hit.check
            } else {
                self.trust
                    .check(now, topic, &envelope, &hit.edek_digest, &sigs)?
            };
            return Ok(Prepared::Cached(CachedRecord {
                envelope,
                value,
                record_key: key,
                topic,
                signatures: sigs,
                same_sig,
                check,
                session: hit.clone(),
                max_decompressed: self.max_decompressed,
            }));
        }
        let edek_digest = edek.digest();
        if SessionId::of_edek_digest(&edek_digest) != session {
            return Err(Error::EdekMismatch);
        }
        // No fragment at all: the re-encryptor served this consumer nothing (not granted,
        // throttled, or it refused the producer), whatever the signatures say.
        if selected.cfrags.is_empty() {
            return Err(Error::MissingCfrag);
        }
        let check = self
            .trust
            .check(now, topic, &envelope, &edek_digest, &sigs)?;
        Ok(Prepared::NeedsDek(PendingDek {
            envelope,
            value,
            record_key: key,
            edek,
            edek_digest,
            cfrags: selected.cfrags,
            signatures: sigs,
            check,
            keys: self.keys.clone(),
            max_decompressed: self.max_decompressed,
        }))
    }

    /// Opens the record with a DEK `pending.open_dek()` produced and caches the DEK:
    /// `PendingDek::open_record`, then `complete`.
    pub fn finish(&mut self, pending: PendingDek<'_>, dek: OpenedDek, now: u64) -> Result<Opened> {
        let record = pending.open_record(&dek);
        self.complete(pending, dek, record, now)
    }

    /// Counts the Umbral open that made `dek`, caches `dek` if the record opened with it
    /// (`record`, from `pending.open_record(&dek)`), and returns the record.
    pub fn complete(
        &mut self,
        pending: PendingDek<'_>,
        dek: OpenedDek,
        record: Result<Decrypted>,
        now: u64,
    ) -> Result<Opened> {
        self.dek_opens += 1;
        self.skipped_cfrags += dek.skipped_cfrags;
        let opened = record?;
        let entry = CachedDek {
            key: dek.key,
            edek: pending.edek.as_bytes().into(),
            edek_digest: pending.edek_digest,
            sig: pending.signatures.session.map(Into::into),
            sig_digest: pending.sig_digest(),
            check: pending.check,
        };
        self.cache
            .insert(pending.envelope.session_id(), Arc::new(entry), now);
        Ok(Opened::Decrypted(opened))
    }

    fn unencrypted(&self, value: &[u8], selected: &RecordHeaders<'_>) -> Result<Opened> {
        let has_cfrag = !selected.cfrags.is_empty();
        // Anything carrying the envelope magic, whatever its version or length, is a rewrap
        // value: never let it through as plaintext.
        let looks_sealed = value.starts_with(&crate::envelope::MAGIC);
        if has_cfrag || looks_sealed {
            // A rewrap record whose EDEK header was stripped: never plaintext.
            return Err(Error::Truncated(Object::Edek));
        }
        if self.allow_plaintext {
            Ok(Opened::UnencryptedAllowed(value.to_vec()))
        } else {
            Err(Error::Unencrypted)
        }
    }

    /// Cache counters, Umbral opens and skipped fragments.
    pub fn stats(&self) -> DecryptorStats {
        DecryptorStats {
            cache: self.cache.stats(),
            dek_opens: self.dek_opens,
            skipped_cfrags: self.skipped_cfrags,
        }
    }
}

impl PendingDek<'_> {
    /// The session whose DEK this opens.
    pub fn session_id(&self) -> SessionId {
        self.envelope.session_id()
    }

    fn sig_digest(&self) -> [u8; 32] {
        self.signatures.session.map_or([0; 32], header_digest)
    }

    /// Opens the record with the session's DEK (record signature, then payload), needing no
    /// access to the decryptor; `Decryptor::complete` then caches the DEK if this succeeded.
    pub fn open_record(&self, dek: &OpenedDek) -> Result<Decrypted> {
        Sealed {
            topic: self.edek.topic().as_str(),
            record_key: self.record_key,
            envelope: &self.envelope,
            value: self.value,
            edek_digest: &self.edek_digest,
            signatures: &self.signatures,
            sig_digest: self.sig_digest(),
            max_decompressed: self.max_decompressed,
        }
        .open(&dek.key, &self.check)
    }

    /// Verifies this consumer's fragments and opens the session's DEK: the Umbral step (about
    /// 0.8 ms), needing no access to the decryptor. A malformed fragment header beside usable
    /// ones is skipped and counted; own-key fragments verified are capped at the threshold plus
    /// `MAX_EXTRA_CFRAG_VERIFICATIONS`.
    pub fn open_dek(&self) -> Result<OpenedDek> {
        let keys = &*self.keys;
        let mut skipped = 0u64;
        let mut first_error = None;
        let mut any = false;
        let mut mine = Vec::new();
        for bytes in &self.cfrags {
            match CfragRef::parse(bytes) {
                Ok(cfrag) => {
                    any = true;
                    if cfrag.consumer_key_id() == keys.key_id {
                        mine.push(cfrag);
                    }
                }
                Err(e) => {
                    skipped += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        let need = match (any, mine.first(), first_error) {
            // Nothing usable at all: the malformed header's own error names the problem.
            (false, _, Some(e)) => return Err(e),
            (false, _, None) => return Err(Error::MissingCfrag),
            (true, None, _) => return Err(Error::WrongConsumer),
            (true, Some(first), _) => first.threshold() as usize,
        };
        if mine.iter().any(|c| c.threshold() as usize != need) {
            return Err(Error::Malformed(Object::Cfrag));
        }
        if mine.len() < need {
            return Err(Error::InsufficientCfrags {
                have: mine.len(),
                need,
            });
        }
        let capsule = self.edek.capsule()?;
        let delegating = self.edek.delegating_key()?;
        let mut verified = Vec::with_capacity(need);
        let budget = need.saturating_add(MAX_EXTRA_CFRAG_VERIFICATIONS);
        for (tried, cfrag) in mine.iter().enumerate() {
            if verified.len() == need || tried == budget {
                break;
            }
            let Ok(decoded) = cfrag.decode() else {
                skipped += 1;
                continue;
            };
            match keys.verify_cfrag(decoded, &capsule, &delegating) {
                Some(v) => verified.push(v),
                None => skipped += 1,
            }
        }
        if verified.len() < need {
            return Err(Error::InvalidCfrag);
        }
        let dek = self
            .edek
            .open_reencrypted(&keys.secret, &delegating, &capsule, verified)?;
        Ok(OpenedDek {
            key: PayloadKey::new(&dek),
            skipped_cfrags: skipped,
        })
    }
}

impl ConsumerKeys {
    fn verify_cfrag(
        &self,
        mut cfrag: umbral_pre::CapsuleFrag,
        capsule: &umbral_pre::Capsule,
        delegating: &PublicKey,
    ) -> Option<umbral_pre::VerifiedCapsuleFrag> {
        for admin in &self.admins {
            match cfrag.verify(capsule, &admin.0, &delegating.0, &self.public.0) {
                Ok(v) => return Some(v),
                Err((_, back)) => cfrag = back,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_selected_by_exact_name() {
        let headers = [
            ("trace", &b"t"[..]),
            (EDEK_HEADER, &b"e"[..]),
            ("rewrap.other", &b"o"[..]),
            (CFRAG_HEADER, &b"c1"[..]),
            ("REWRAP.CFRAG", &b"x"[..]),
            (CFRAG_HEADER, &b"c2"[..]),
        ];
        let selected = RecordHeaders::select(&headers).unwrap();
        assert_eq!(selected.edek, Some(&b"e"[..]));
        assert_eq!(selected.cfrags, [&b"c1"[..], &b"c2"[..]]);
    }

    #[test]
    fn names_that_read_as_rewrap_headers_once_cut_at_nul_are_refused() {
        let smuggled_cfrag = [(EDEK_HEADER, &b"e"[..]), ("rewrap.cfrag\0x", &b"c"[..])];
        assert_eq!(
            RecordHeaders::select(&smuggled_cfrag).unwrap_err(),
            Error::Malformed(Object::Cfrag)
        );
        let smuggled_edek = [("rewrap.edek\0", &b"e"[..])];
        assert_eq!(
            RecordHeaders::select(&smuggled_edek).unwrap_err(),
            Error::Malformed(Object::Edek)
        );
        let two = [(EDEK_HEADER, &b"e"[..]), (EDEK_HEADER, &b"f"[..])];
        assert_eq!(
            RecordHeaders::select(&two).unwrap_err(),
            Error::Malformed(Object::Edek)
        );
        // A NUL elsewhere in an unrelated rewrap.* name is not ours and is ignored.
        let other = [("rewrap.note\0cfrag", &b"n"[..])];
        assert!(RecordHeaders::select(&other).unwrap().edek.is_none());
    }
}
