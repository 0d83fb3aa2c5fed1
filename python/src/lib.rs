//! Python bindings of rewrap: thin PyO3 wrappers over the `rewrap` facade. Type and error
//! translation only; the GIL is released around every cryptographic call.

use std::sync::Arc;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use std::borrow::Cow;
use std::ffi::CString;

use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;
use rewrap::constants::{Value, CONSTANTS};
use rewrap::{
    CacheStats, DecryptorConfig, Error, ErrorKind, GrantTerms, OpenedKind, Policy,
    ReEncryptorConfig, RotationPolicy, SigningMode, StoreError, Vouch, ERROR_KINDS,
};

create_exception!(
    _rewrap,
    RewrapError,
    PyException,
    "Base class of every rewrap error; `.code` is the stable numeric code shared with the C ABI."
);

/// The exception classes, one per row of the engine's error table, made at import.
static ERROR_TYPES: PyOnceLock<Vec<(ErrorKind, Py<PyType>)>> = PyOnceLock::new();

/// Python class name of a table row: the row's name plus `Error`.
fn class_name(row: &rewrap::ErrorKindInfo) -> String {
    format!("{}Error", row.name)
}

fn register_errors(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<RewrapError>();
    base.setattr("code", 0)?;
    m.add("RewrapError", &base)?;
    let types = ERROR_TYPES.get_or_try_init(py, || {
        ERROR_KINDS
            .iter()
            .map(|row| {
                let name = CString::new(format!("rewrap.{}", class_name(row)))?;
                let doc = CString::new(row.summary)?;
                let t = PyErr::new_type(py, &name, Some(&doc), Some(&base), None)?;
                t.bind(py).setattr("code", row.code)?;
                Ok((row.kind, t))
            })
            .collect::<PyResult<Vec<_>>>()
    })?;
    for (row, (_, t)) in ERROR_KINDS.iter().zip(types) {
        m.add(class_name(row).as_str(), t.clone_ref(py))?;
    }
    // The name this class had before the table named it.
    m.add(
        "AuthenticationError",
        m.getattr("AuthenticationFailedError")?,
    )?;
    Ok(())
}

/// The exception of `kind` carrying `message`.
fn raise(kind: ErrorKind, message: String) -> PyErr {
    Python::attach(|py| {
        match ERROR_TYPES
            .get(py)
            .and_then(|types| types.iter().find(|(k, _)| *k == kind))
        {
            Some((_, t)) => PyErr::from_type(t.bind(py).clone(), message),
            None => RewrapError::new_err(message),
        }
    })
}

fn to_py(e: Error) -> PyErr {
    raise(e.kind(), e.to_string())
}

fn store_to_py(e: StoreError) -> PyErr {
    raise(e.kind(), e.to_string())
}

trait OrPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> OrPy<T> for rewrap::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

fn closed() -> PyErr {
    raise(ErrorKind::Closed, "handle is closed".into())
}

fn invalid_argument(message: &str) -> PyErr {
    raise(ErrorKind::InvalidArgument, message.into())
}

/// A secret key of any role (producer, channel, consumer, administrator). Never printed.
#[pyclass(module = "rewrap", frozen)]
struct SecretKey(rewrap::SecretKey);

#[pymethods]
impl SecretKey {
    /// A fresh key from the OS RNG.
    #[staticmethod]
    fn generate() -> Self {
        SecretKey(rewrap::SecretKey::generate())
    }

    /// Parses a 32-byte big-endian scalar.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        rewrap::SecretKey::from_bytes(data).py_err().map(SecretKey)
    }

    /// Parses lower-case hex (as key files hold).
    #[staticmethod]
    fn from_hex(text: &str) -> PyResult<Self> {
        rewrap::SecretKey::from_hex(text).py_err().map(SecretKey)
    }

    /// Reads a key file as `rewrap keygen` writes it; refuses one that group or others may
    /// read (`InsecureKeyFileError`), as ssh does.
    #[staticmethod]
    fn from_file(path: std::path::PathBuf) -> PyResult<Self> {
        rewrap::keyfile::read_secret(&path)
            .map(SecretKey)
            .map_err(store_to_py)
    }

    /// The signing key a re-encryptor derives for `topic` from a 32-byte channel seed
    /// (re-encryptors sharing the seed sign channel signatures with the same key).
    #[staticmethod]
    fn derive_channel_signing_key(seed: &[u8], topic: &str) -> PyResult<Self> {
        rewrap::SecretKey::derive_channel_signing_key(seed, topic)
            .py_err()
            .map(SecretKey)
    }

    /// The 32 secret bytes. Handle with care.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.to_bytes().as_slice())
    }

    /// The matching public key.
    fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    fn __repr__(&self) -> String {
        format!("SecretKey(<redacted>, id={})", self.0.public_key().key_id())
    }
}

/// A public key (SEC1 compressed secp256k1 point).
#[pyclass(module = "rewrap", frozen)]
#[derive(Clone)]
struct PublicKey(rewrap::PublicKey);

#[pymethods]
impl PublicKey {
    /// Parses 33 bytes.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        rewrap::PublicKey::from_bytes(data).py_err().map(PublicKey)
    }

    /// Parses lower-case hex.
    #[staticmethod]
    fn from_hex(text: &str) -> PyResult<Self> {
        rewrap::PublicKey::from_hex(text).py_err().map(PublicKey)
    }

    /// Reads a public key file as `rewrap keygen` writes it.
    #[staticmethod]
    fn from_file(path: std::path::PathBuf) -> PyResult<Self> {
        rewrap::keyfile::read_public(&path)
            .map(PublicKey)
            .map_err(store_to_py)
    }

    /// The 33 bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.to_bytes(py)
    }

    /// Lower-case hex of the 33 bytes.
    fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// The 16-hex-digit key id.
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id().to_string()
    }

    fn __repr__(&self) -> String {
        format!("PublicKey({})", self.0.to_hex())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PublicKey>().is_ok_and(|o| o.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        u64::from_be_bytes(self.0.key_id().0)
    }
}

fn key_list(keys: Vec<PyRef<'_, PublicKey>>) -> Vec<rewrap::PublicKey> {
    keys.iter().map(|k| k.0).collect()
}

/// The administrator's signing key.
#[pyclass(module = "rewrap", frozen)]
struct Signer(rewrap::Signer);

#[pymethods]
impl Signer {
    #[new]
    fn new(secret: &SecretKey) -> Self {
        Signer(rewrap::Signer::from_secret(&secret.0))
    }

    /// The key that verifies this signer's grants.
    #[getter]
    fn verifying_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    fn __repr__(&self) -> String {
        format!("Signer(<redacted>, id={})", self.0.verifying_key().key_id())
    }
}

/// An administrator key as the grant issuers take it: a `Signer` or the `SecretKey` itself.
#[derive(FromPyObject)]
enum AdminKey<'py> {
    Signer(PyRef<'py, Signer>),
    Secret(PyRef<'py, SecretKey>),
}

impl AdminKey<'_> {
    fn with<T>(&self, f: impl FnOnce(&rewrap::Signer) -> T) -> T {
        match self {
            AdminKey::Signer(s) => f(&s.0),
            AdminKey::Secret(k) => f(&rewrap::Signer::from_secret(&k.0)),
        }
    }
}

/// An administrator's signed statement that a producer key may produce to a topic.
#[pyclass(module = "rewrap", frozen)]
struct ProducerGrant(rewrap::ProducerGrant);

#[pymethods]
impl ProducerGrant {
    /// Signs a grant letting `producer` produce to `topic` from `not_before` (default: now)
    /// until `expires` (None: never). `admin`: a `Signer` or the administrator's `SecretKey`.
    #[staticmethod]
    #[pyo3(signature = (admin, topic, producer, not_before=None, expires=None))]
    fn issue(
        admin: AdminKey<'_>,
        topic: &str,
        producer: &PublicKey,
        not_before: Option<u64>,
        expires: Option<u64>,
    ) -> PyResult<Self> {
        let not_before = not_before.unwrap_or_else(rewrap::now);
        admin
            .with(|signer| {
                rewrap::ProducerGrant::issue(
                    &mut rewrap::rng(),
                    signer,
                    topic,
                    &producer.0,
                    not_before,
                    expires,
                )
            })
            .py_err()
            .map(ProducerGrant)
    }

    /// Parses a serialized producer grant (structure only; `verify` or a Decryptor checks it).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        rewrap::ProducerGrant::from_bytes(data)
            .py_err()
            .map(ProducerGrant)
    }

    /// The wire form.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.to_bytes(py)
    }

    /// Checks the signature (against `admins`) and validity at `now` (default: now).
    #[pyo3(signature = (admins, now=None))]
    fn verify(&self, admins: Vec<PyRef<'_, PublicKey>>, now: Option<u64>) -> PyResult<()> {
        self.0
            .verify(&key_list(admins), now.unwrap_or_else(rewrap::now))
            .py_err()
    }

    #[getter]
    fn topic(&self) -> &str {
        self.0.topic()
    }
    #[getter]
    fn producer(&self) -> PublicKey {
        PublicKey(self.0.producer())
    }
    #[getter]
    fn admin_key(&self) -> PublicKey {
        PublicKey(self.0.admin_key())
    }
    #[getter]
    fn not_before(&self) -> u64 {
        self.0.not_before()
    }
    #[getter]
    fn expires(&self) -> Option<u64> {
        self.0.expires()
    }

    fn __repr__(&self) -> String {
        format!(
            "ProducerGrant(topic={:?}, producer={}, admin={})",
            self.0.topic(),
            self.0.producer().key_id(),
            self.0.admin_key().key_id()
        )
    }
}

/// A producer grant as the handles take it: a `ProducerGrant` or its wire bytes.
#[derive(FromPyObject)]
enum ProducerGrantArg<'py> {
    Parsed(PyRef<'py, ProducerGrant>),
    Bytes(Bound<'py, PyBytes>),
}

impl ProducerGrantArg<'_> {
    fn with<T>(&self, f: impl FnOnce(&rewrap::ProducerGrant) -> T) -> PyResult<T> {
        match self {
            ProducerGrantArg::Parsed(g) => Ok(f(&g.0)),
            ProducerGrantArg::Bytes(b) => {
                Ok(f(&rewrap::ProducerGrant::from_bytes(b.as_bytes()).py_err()?))
            }
        }
    }
}

fn parse_policy(text: &str) -> PyResult<Policy> {
    Policy::parse(text).py_err()
}

/// A signed grant of a topic to a consumer (or one share of a t-of-n grant).
#[pyclass(module = "rewrap", frozen)]
struct Grant(rewrap::Grant);

#[pymethods]
impl Grant {
    /// Issues a grant: kfrags from `delegating` to `consumer_key`, signed by `admin`.
    #[staticmethod]
    #[pyo3(signature = (admin, delegating, topic, consumer, consumer_key, threshold=1, shares=1, not_before=None, expires=None))]
    #[allow(clippy::too_many_arguments)]
    fn issue(
        py: Python<'_>,
        admin: &Signer,
        delegating: &SecretKey,
        topic: &str,
        consumer: &str,
        consumer_key: &PublicKey,
        threshold: u8,
        shares: u8,
        not_before: Option<u64>,
        expires: Option<u64>,
    ) -> PyResult<Self> {
        let terms = GrantTerms {
            topic,
            consumer,
            consumer_key: consumer_key.0,
            threshold,
            shares,
            not_before: not_before.unwrap_or_else(rewrap::now),
            expires,
            issued_at: None,
        };
        py.detach(|| rewrap::Grant::issue(&mut rewrap::rng(), &admin.0, &delegating.0, &terms))
            .py_err()
            .map(Grant)
    }

    /// Wraps kfrags made by umbral-pre (`bytes(kfrag)` of its Python or JS package) into a
    /// grant signed by `admin`, whose key must be the kfrags' signer.
    #[staticmethod]
    #[pyo3(signature = (admin, delegating_key, topic, consumer, consumer_key, kfrags, threshold=1, not_before=None, expires=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_umbral_kfrags(
        admin: &Signer,
        delegating_key: &PublicKey,
        topic: &str,
        consumer: &str,
        consumer_key: &PublicKey,
        kfrags: Vec<Vec<u8>>,
        threshold: u8,
        not_before: Option<u64>,
        expires: Option<u64>,
    ) -> PyResult<Self> {
        let shares =
            u8::try_from(kfrags.len()).map_err(|_| invalid_argument("at most 255 kfrags"))?;
        let terms = GrantTerms {
            topic,
            consumer,
            consumer_key: consumer_key.0,
            threshold,
            shares,
            not_before: not_before.unwrap_or_else(rewrap::now),
            expires,
            issued_at: None,
        };
        let refs: Vec<&[u8]> = kfrags.iter().map(Vec::as_slice).collect();
        rewrap::Grant::issue_with_umbral_kfrags(
            &mut rewrap::rng(),
            &admin.0,
            delegating_key.0,
            &terms,
            &refs,
        )
        .py_err()
        .map(Grant)
    }

    /// Parses a serialized grant (structure only; `verify` or a ReEncryptor checks it).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        rewrap::Grant::from_bytes(data).py_err().map(Grant)
    }

    /// The wire form.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.to_bytes(py)
    }

    /// Checks signature (against `admins`), validity at `now` (default: now) and kfrags.
    #[pyo3(signature = (admins, now=None))]
    fn verify(
        &self,
        py: Python<'_>,
        admins: Vec<PyRef<'_, PublicKey>>,
        now: Option<u64>,
    ) -> PyResult<()> {
        let admins = key_list(admins);
        let now = now.unwrap_or_else(rewrap::now);
        py.detach(|| self.0.verify(&admins, now).map(|_| ()))
            .py_err()
    }

    /// The share for re-encryptor `index` of a t-of-n grant.
    fn share(&self, index: u8) -> PyResult<Self> {
        self.0.share(index).py_err().map(Grant)
    }

    #[getter]
    fn topic(&self) -> &str {
        self.0.topic()
    }
    #[getter]
    fn consumer(&self) -> &str {
        self.0.consumer()
    }
    #[getter]
    fn delegating_key(&self) -> PublicKey {
        PublicKey(self.0.delegating_key())
    }
    #[getter]
    fn consumer_key(&self) -> PublicKey {
        PublicKey(self.0.consumer_key())
    }
    #[getter]
    fn threshold(&self) -> u8 {
        self.0.threshold()
    }
    #[getter]
    fn shares(&self) -> u8 {
        self.0.shares()
    }
    #[getter]
    fn expires(&self) -> Option<u64> {
        self.0.expires()
    }

    fn __repr__(&self) -> String {
        format!(
            "Grant(topic={:?}, consumer={:?}, delegating={}, {}-of-{})",
            self.0.topic(),
            self.0.consumer(),
            self.0.delegating_key().key_id(),
            self.0.threshold(),
            self.0.shares()
        )
    }
}

/// Holds an inner handle until `close()`; every use after close raises ClosedError.
type Slot<T> = std::sync::RwLock<Option<Arc<T>>>;

/// The one closable protocol of the handle classes: `close()` drops the engine object now
/// (zeroizing its keys), and `with` closes on exit.
macro_rules! closable {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            /// Drops the engine object now (its keys and cached DEKs are zeroized).
            fn close(&self) {
                take(&self.0)
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            fn __exit__(
                &self,
                _t: Option<Bound<'_, PyType>>,
                _v: Option<Bound<'_, PyAny>>,
                _tb: Option<Bound<'_, PyAny>>,
            ) -> bool {
                self.close();
                false
            }
        }
    };
}

closable!(Encryptor);
closable!(ReEncryptor);
closable!(Decryptor);

fn get<T>(slot: &Slot<T>) -> PyResult<Arc<T>> {
    slot.read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(closed)
}

fn take<T>(slot: &Slot<T>) {
    slot.write().unwrap_or_else(|p| p.into_inner()).take();
}

fn cache_dict<'py>(py: Python<'py>, s: &CacheStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("hits", s.hits)?;
    d.set_item("misses", s.misses)?;
    d.set_item("evictions", s.evictions)?;
    d.set_item("entries", s.entries)?;
    d.set_item("capacity", s.capacity)?;
    d.set_item("hit_rate", s.hit_rate())?;
    Ok(d)
}

/// What `Encryptor.seal` made: the record `value` and the `headers` to attach to it
/// (`rewrap.edek`, then `rewrap.sig` and `rewrap.rsig` when the producer signs), as
/// (name, bytes) pairs a Kafka client takes.
#[pyclass(module = "rewrap", frozen)]
struct SealedRecord {
    value: Py<PyBytes>,
    headers: Vec<(&'static str, Py<PyBytes>)>,
}

impl SealedRecord {
    fn header(&self, py: Python<'_>, name: &str) -> Option<Py<PyBytes>> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone_ref(py))
    }
}

#[pymethods]
impl SealedRecord {
    /// The record value (the envelope).
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyBytes> {
        self.value.clone_ref(py)
    }

    /// The headers to attach, a new list on each call (safe to extend with your own).
    #[getter]
    fn headers(&self, py: Python<'_>) -> Vec<(&'static str, Py<PyBytes>)> {
        self.headers
            .iter()
            .map(|(n, v)| (*n, v.clone_ref(py)))
            .collect()
    }

    /// The `rewrap.edek` header value.
    #[getter]
    fn edek(&self, py: Python<'_>) -> Py<PyBytes> {
        self.headers[0].1.clone_ref(py)
    }

    /// The `rewrap.sig` header value (signed sessions), else None.
    #[getter]
    fn sig(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.header(py, rewrap::SIG_HEADER)
    }

    /// The `rewrap.rsig` header value (record signing mode), else None.
    #[getter]
    fn rsig(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.header(py, rewrap::RECORD_SIG_HEADER)
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        format!("SealedRecord(headers={names:?})")
    }
}

/// Producer side: seals payloads for one delegating public key. Thread-safe.
#[pyclass(module = "rewrap", frozen)]
struct Encryptor(Slot<rewrap::Encryptor>);

#[pymethods]
impl Encryptor {
    /// `max_messages` / `max_age_secs` bound each session's DEK (defaults: 1,000,000 / 3600).
    #[new]
    #[pyo3(signature = (delegating, max_messages=None, max_age_secs=None))]
    fn new(
        delegating: &PublicKey,
        max_messages: Option<u64>,
        max_age_secs: Option<u64>,
    ) -> PyResult<Self> {
        let d = RotationPolicy::default();
        let policy = RotationPolicy {
            max_messages: max_messages.unwrap_or(d.max_messages),
            max_age_secs: max_age_secs.unwrap_or(d.max_age_secs),
        };
        let enc = rewrap::Encryptor::with_policy(delegating.0, policy).py_err()?;
        Ok(Encryptor(Slot::new(Some(Arc::new(enc)))))
    }

    /// Seals `payload` for `topic` under the record's Kafka `key` (None: a null key, which
    /// is not the empty key): the value must be produced with that key or it will not open.
    /// Returns a `SealedRecord` (`.value`, `.headers`).
    fn seal(
        &self,
        py: Python<'_>,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> PyResult<SealedRecord> {
        let enc = get(&self.0)?;
        // Below a page of data on an open session, releasing the GIL costs more than sealing;
        // a new session's Umbral step and a record signature run with it released.
        let quick = if payload.len() < 4096 {
            enc.seal_quick(topic, key, payload).py_err()?
        } else {
            None
        };
        let record = match quick {
            Some(record) => record,
            None => py.detach(|| enc.seal(topic, key, payload)).py_err()?,
        };
        let bytes = |b: &[u8]| PyBytes::new(py, b).unbind();
        Ok(SealedRecord {
            value: bytes(&record.value),
            headers: record
                .headers()
                .into_iter()
                .map(|(name, v)| (name, bytes(v)))
                .collect(),
        })
    }

    /// Signs every new session with `secret` (the producer's key, authorized on a topic by a
    /// `ProducerGrant`) in `mode` "session" (one signature per session) or "record" (every
    /// record too); None: unsigned sessions, which readers accept only under policy
    /// "optional" or "off". Every topic starts a new session at its next seal.
    #[pyo3(signature = (secret, mode="session"))]
    fn set_signer(&self, secret: Option<&SecretKey>, mode: &str) -> PyResult<()> {
        let mode = SigningMode::parse(mode).py_err()?;
        get(&self.0)?.set_signer(secret.map(|k| (&k.0, mode)));
        Ok(())
    }

    /// Compresses payloads before sealing them from the next record on: `codec` "none" (the
    /// default), "lz4" or "zstd" (`level` 1..=22, default 3). A payload is sealed compressed
    /// only when that makes it smaller; readers need no setting. Record lengths then reveal
    /// how compressible payloads are: keep it off for records mixing attacker-chosen data with
    /// secrets.
    #[pyo3(signature = (codec, level=None))]
    fn set_compression(&self, codec: &str, level: Option<i32>) -> PyResult<()> {
        let setting = rewrap::Compression::from_name(codec, level.unwrap_or(0)).py_err()?;
        get(&self.0)?.set_compression(setting).py_err()
    }

    /// The compression codec: "none", "lz4" or "zstd".
    #[getter]
    fn compression(&self) -> PyResult<&'static str> {
        Ok(get(&self.0)?.compression().name())
    }

    /// `(verifying key, mode)` of the producer signer, or None when sessions are unsigned.
    #[getter]
    fn signer(&self) -> PyResult<Option<(PublicKey, &'static str)>> {
        Ok(get(&self.0)?
            .signer()
            .map(|(key, mode)| (PublicKey(key), mode.name())))
    }

    /// The key records are encrypted to.
    #[getter]
    fn delegating_key(&self) -> PyResult<PublicKey> {
        Ok(PublicKey(get(&self.0)?.delegating_key()))
    }

    /// Starts fresh sessions (new DEKs) on the next seal of every topic.
    fn rotate(&self) -> PyResult<()> {
        get(&self.0)?.rotate();
        Ok(())
    }

    /// Sessions replaced so far.
    #[getter]
    fn rotations(&self) -> PyResult<u64> {
        Ok(get(&self.0)?.rotations())
    }
}

/// Broker side: verified grants and a bounded cache of capsule fragments. Thread-safe.
#[pyclass(module = "rewrap", frozen)]
struct ReEncryptor(Slot<rewrap::ReEncryptor>);

#[pymethods]
impl ReEncryptor {
    #[new]
    #[pyo3(signature = (admins, cache_capacity=rewrap::DEFAULT_REENCRYPTOR_CACHE_CAPACITY, cache_ttl_secs=None))]
    fn new(
        admins: Vec<PyRef<'_, PublicKey>>,
        cache_capacity: usize,
        cache_ttl_secs: Option<u64>,
    ) -> PyResult<Self> {
        let config = ReEncryptorConfig {
            cache_capacity,
            cache_ttl_secs,
        };
        let re = rewrap::ReEncryptor::with_config(&key_list(admins), config).py_err()?;
        Ok(ReEncryptor(Slot::new(Some(Arc::new(re)))))
    }

    /// Verifies and installs a grant.
    fn add_grant(&self, py: Python<'_>, grant: &Grant) -> PyResult<()> {
        let re = get(&self.0)?;
        py.detach(|| re.add_grant(&grant.0)).py_err()
    }

    /// Revokes `consumer` on `topic`; returns how many grants were removed.
    fn revoke(&self, topic: &str, consumer: &str) -> PyResult<usize> {
        Ok(get(&self.0)?.revoke(topic, consumer))
    }

    /// Sets the producer-signature policy ("require", "optional" or "off") of `topic`, or
    /// the default of every topic when `topic` is None.
    #[pyo3(signature = (policy, topic=None))]
    fn set_policy(&self, policy: &str, topic: Option<&str>) -> PyResult<()> {
        get(&self.0)?
            .set_policy(topic, parse_policy(policy)?)
            .py_err()
    }

    /// The policy `topic` is served under.
    fn policy(&self, topic: &str) -> PyResult<&'static str> {
        Ok(get(&self.0)?.policy(topic).name())
    }

    /// Sets the 32-byte seed channel signing keys are derived from (None: no channel
    /// signatures).
    fn set_channel_seed(&self, seed: Option<&[u8]>) -> PyResult<()> {
        get(&self.0)?.set_channel_seed(seed).py_err()
    }

    /// The channel signing key of `topic` that consumers trust (`Decryptor.trust_channel_key`),
    /// or None without a channel seed.
    fn channel_key(&self, topic: &str) -> PyResult<Option<PublicKey>> {
        Ok(get(&self.0)?.channel_key(topic).py_err()?.map(PublicKey))
    }

    /// Verifies a producer grant (a `ProducerGrant` or its bytes) and accepts that producer's
    /// sessions on its topic.
    fn add_producer_grant(&self, grant: ProducerGrantArg<'_>) -> PyResult<()> {
        let re = get(&self.0)?;
        grant.with(|g| re.add_producer_grant(g))?.py_err()
    }

    /// Stops accepting `producer` on `topic`; True if it had a grant there.
    fn revoke_producer(&self, topic: &str, producer: &PublicKey) -> PyResult<bool> {
        Ok(get(&self.0)?.revoke_producer(topic, &producer.0.key_id()))
    }

    /// Checks a record's producer signature (`sig`: its `rewrap.sig` header value, None when
    /// absent) under `topic`'s policy; returns the `rewrap.chsig` header value to attach (None
    /// without a channel seed) or raises the error that refuses the record's fragments.
    #[pyo3(signature = (topic, edek, sig=None))]
    fn attest<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        edek: &[u8],
        sig: Option<&[u8]>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let re = get(&self.0)?;
        let chsig = py.detach(|| re.attest(topic, edek, sig, None)).py_err()?;
        Ok(chsig.map(|c| PyBytes::new(py, &c)))
    }

    /// The `rewrap.cfrag` header values for `consumer` reading a record of `topic`.
    fn reencrypt<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        edek: &[u8],
        consumer: &str,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let re = get(&self.0)?;
        let headers = py.detach(|| re.reencrypt(topic, edek, consumer)).py_err()?;
        Ok(headers.iter().map(|h| PyBytes::new(py, h)).collect())
    }

    /// Counters: cache (hits, misses, ...), reencryptions, refused, grants.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = get(&self.0)?.stats();
        let d = PyDict::new(py);
        d.set_item("cache", cache_dict(py, &s.cache)?)?;
        d.set_item("reencryptions", s.reencryptions)?;
        d.set_item("refused", s.refused)?;
        d.set_item("grants", s.grants)?;
        Ok(d)
    }
}

/// Consumer side: opens records with the consumer's own key. Thread-safe.
#[pyclass(module = "rewrap", frozen)]
struct Decryptor(Slot<rewrap::Decryptor>);

#[pymethods]
impl Decryptor {
    /// `policy`: what every topic demands of producer signatures unless `set_policy` says
    /// otherwise: "require" (default), "optional" or "off".
    #[new]
    #[pyo3(signature = (secret, admins, cache_capacity=rewrap::DEFAULT_DECRYPTOR_CACHE_CAPACITY, cache_ttl_secs=None, allow_plaintext=false, policy="require"))]
    fn new(
        secret: &SecretKey,
        admins: Vec<PyRef<'_, PublicKey>>,
        cache_capacity: usize,
        cache_ttl_secs: Option<u64>,
        allow_plaintext: bool,
        policy: &str,
    ) -> PyResult<Self> {
        let config = DecryptorConfig {
            cache_capacity,
            cache_ttl_secs,
            allow_plaintext,
            policy: parse_policy(policy)?,
            ..DecryptorConfig::default()
        };
        let own = rewrap::SecretKey::from_bytes(secret.0.to_bytes().as_slice()).py_err()?;
        let dec = rewrap::Decryptor::with_config(own, &key_list(admins), config).py_err()?;
        Ok(Decryptor(Slot::new(Some(Arc::new(dec)))))
    }

    /// Opens a record read from `topic` and says what it was: an `Opened` whose `kind` is
    /// "decrypted", "tombstone" or "unencrypted_allowed" (only "decrypted" is authenticated).
    /// `key`: the record's Kafka key (None when null; a sealed value opens only under the key
    /// it was sealed with); `value` None is a tombstone; `headers`: every header of the record
    /// as (name, value) pairs, as Kafka clients give them; the engine selects the rewrap ones.
    #[pyo3(signature = (topic, key, value, headers=None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Opened> {
        let dec = get(&self.0)?;
        let mut held: Vec<(Cow<'_, str>, Option<Bound<'py, PyBytes>>)> = Vec::new();
        if let Some(headers) = headers {
            for item in headers.try_iter()? {
                let (name, val): (Bound<'py, PyString>, Option<Bound<'py, PyAny>>) =
                    item?.extract()?;
                let name = Cow::Owned(name.to_cow()?.into_owned());
                let bytes = match val {
                    Some(v) => Some(v.cast_into::<PyBytes>().map_err(PyErr::from)?),
                    None => None,
                };
                held.push((name, bytes));
            }
        }
        let list: Vec<(&str, &[u8])> = held
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_ref().map_or(&[][..], |b| b.as_bytes())))
            .collect();
        // Below a page of data with the session's DEK cached, releasing the GIL costs more than
        // opening; the Umbral step of a miss runs with it released.
        let small = value.is_none_or(|v| v.len() < 4096);
        let quick = if small {
            dec.open_quick(topic, key, value, &list).py_err()?
        } else {
            None
        };
        let opened = match quick {
            Some(opened) => opened,
            None => py.detach(|| dec.open(topic, key, value, &list)).py_err()?,
        };
        let kind = opened.kind();
        let session = match &opened {
            rewrap::Opened::Decrypted(d) => Some(Session {
                id: d.session.0,
                counter: d.counter,
                vouch: d.vouch,
                producer: d.producer,
                mode: d.mode,
            }),
            _ => None,
        };
        Ok(Opened {
            kind,
            session,
            value: opened.into_value().map(|v| PyBytes::new(py, &v).unbind()),
        })
    }

    /// Sets the producer-signature policy ("require", "optional" or "off") of `topic`, or
    /// the default of every topic when `topic` is None.
    #[pyo3(signature = (policy, topic=None))]
    fn set_policy(&self, policy: &str, topic: Option<&str>) -> PyResult<()> {
        get(&self.0)?
            .set_policy(topic, parse_policy(policy)?)
            .py_err()
    }

    /// The policy `topic` is read under.
    fn policy(&self, topic: &str) -> PyResult<&'static str> {
        Ok(get(&self.0)?.policy(topic).name())
    }

    /// Verifies a producer grant (a `ProducerGrant` or its bytes) against the trusted
    /// administrators and accepts that producer's sessions on its topic.
    fn add_producer_grant(&self, grant: ProducerGrantArg<'_>) -> PyResult<()> {
        let dec = get(&self.0)?;
        grant.with(|g| dec.add_producer_grant(g))?.py_err()
    }

    /// Stops accepting `producer` on `topic` (sessions already opened stay readable); True
    /// if it had a grant there.
    fn revoke_producer(&self, topic: &str, producer: &PublicKey) -> PyResult<bool> {
        Ok(get(&self.0)?.revoke_producer(topic, &producer.0.key_id()))
    }

    /// Trusts `key` as `topic`'s channel signing key (`ReEncryptor.channel_key`): records
    /// carrying its `rewrap.chsig` are accepted without a producer grant here.
    fn trust_channel_key(&self, topic: &str, key: &PublicKey) -> PyResult<()> {
        get(&self.0)?.trust_channel_key(topic, key.0).py_err()
    }

    /// The consumer's public key.
    #[getter]
    fn public_key(&self) -> PyResult<PublicKey> {
        Ok(PublicKey(get(&self.0)?.public_key()))
    }

    /// Counters: cache (hits, misses, ...) and dek_opens.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = get(&self.0)?.stats();
        let d = PyDict::new(py);
        d.set_item("cache", cache_dict(py, &s.cache)?)?;
        d.set_item("dek_opens", s.dek_opens)?;
        d.set_item("skipped_cfrags", s.skipped_cfrags)?;
        Ok(d)
    }
}

/// What `Decryptor.open` found: `kind` ("decrypted", "tombstone" or "unencrypted_allowed")
/// and `value` (None for a tombstone). Only a "decrypted" record is authenticated data; an
/// "unencrypted_allowed" one was let through unauthenticated by `allow_plaintext`. A
/// decrypted record also says which session and producer it came from.
#[pyclass(module = "rewrap", frozen)]
struct Opened {
    kind: OpenedKind,
    session: Option<Session>,
    value: Option<Py<PyBytes>>,
}

/// The session facts of a decrypted record.
struct Session {
    id: [u8; rewrap::engine::SESSION_ID_LEN],
    counter: u64,
    vouch: Vouch,
    producer: Option<rewrap::PublicKey>,
    mode: Option<SigningMode>,
}

/// The Python spelling of an opened kind: the engine's name in snake case.
fn kind_name(kind: OpenedKind) -> String {
    let mut out = String::new();
    for (i, ch) in kind.name().chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[pymethods]
impl Opened {
    /// "decrypted", "tombstone" or "unencrypted_allowed".
    #[getter]
    fn kind(&self) -> String {
        kind_name(self.kind)
    }

    /// The payload; None for a tombstone.
    #[getter]
    fn value(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        self.value.as_ref().map(|v| v.clone_ref(py))
    }

    /// True only for a sealed record that was authenticated and decrypted.
    #[getter]
    fn authenticated(&self) -> bool {
        self.kind == OpenedKind::Decrypted
    }

    /// The producer session's id (16 bytes); None unless decrypted.
    #[getter]
    fn session_id<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.session.as_ref().map(|s| PyBytes::new(py, &s.id))
    }

    /// The record's counter in its session (0 first): gaps or repeats show loss or replay;
    /// None unless decrypted.
    #[getter]
    fn counter(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.counter)
    }

    /// Who vouched for the session: "producer" (its signature, checked against a producer
    /// grant), "channel" (a re-encryptor's channel signature) or "unsigned" (not signed, or
    /// not checked under policy "optional"/"off"); None unless decrypted.
    #[getter]
    fn vouch(&self) -> Option<&'static str> {
        self.session.as_ref().map(|s| s.vouch.name())
    }

    /// The producer's verifying key (signed and checked sessions only).
    #[getter]
    fn producer(&self) -> Option<PublicKey> {
        self.session
            .as_ref()
            .and_then(|s| s.producer)
            .map(PublicKey)
    }

    /// The producer's signing mode, "session" or "record" (signed and checked sessions only).
    #[getter]
    fn mode(&self) -> Option<&'static str> {
        self.session
            .as_ref()
            .and_then(|s| s.mode)
            .map(SigningMode::name)
    }

    fn __repr__(&self) -> String {
        // Never the payload: reprs end up in logs.
        match &self.session {
            Some(s) => format!(
                "Opened(kind={:?}, counter={}, vouch={:?})",
                kind_name(self.kind),
                s.counter,
                s.vouch.name()
            ),
            None => format!("Opened(kind={:?})", kind_name(self.kind)),
        }
    }
}

/// Seconds since the Unix epoch (the clock the engine uses).
#[pyfunction]
fn now() -> u64 {
    rewrap::now()
}

#[pymodule]
fn _rewrap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    register_errors(m)?;
    m.add_class::<SecretKey>()?;
    m.add_class::<PublicKey>()?;
    m.add_class::<Signer>()?;
    m.add_class::<Grant>()?;
    m.add_class::<ProducerGrant>()?;
    m.add_class::<SealedRecord>()?;
    m.add_class::<Encryptor>()?;
    m.add_class::<ReEncryptor>()?;
    m.add_class::<Decryptor>()?;
    m.add_class::<Opened>()?;
    m.add_function(wrap_pyfunction!(now, m)?)?;
    for c in CONSTANTS {
        match c.value {
            Value::Str(text) => m.add(c.name, text)?,
            Value::Int(n) => m.add(c.name, n)?,
        }
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
