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
    CacheStats, DecryptorConfig, Error, ErrorKind, GrantTerms, OpenedKind, ReEncryptorConfig,
    RotationPolicy, StoreError, ERROR_KINDS,
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

    /// Seals `payload` for `topic`; returns `(value, edek)`: the record value and the
    /// value of its `rewrap.edek` header.
    fn seal<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        payload: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let enc = get(&self.0)?;
        let record = if payload.len() < 4096 {
            // Below a page of data, releasing the GIL costs more than sealing.
            enc.seal(topic, payload)
        } else {
            py.detach(|| enc.seal(topic, payload))
        }
        .py_err()?;
        Ok((
            PyBytes::new(py, &record.value),
            PyBytes::new(py, &record.edek),
        ))
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
    #[new]
    #[pyo3(signature = (secret, admins, cache_capacity=rewrap::DEFAULT_DECRYPTOR_CACHE_CAPACITY, cache_ttl_secs=None, allow_plaintext=false))]
    fn new(
        secret: &SecretKey,
        admins: Vec<PyRef<'_, PublicKey>>,
        cache_capacity: usize,
        cache_ttl_secs: Option<u64>,
        allow_plaintext: bool,
    ) -> PyResult<Self> {
        let config = DecryptorConfig {
            cache_capacity,
            cache_ttl_secs,
            allow_plaintext,
        };
        let own = rewrap::SecretKey::from_bytes(secret.0.to_bytes().as_slice()).py_err()?;
        let dec = rewrap::Decryptor::with_config(own, &key_list(admins), config).py_err()?;
        Ok(Decryptor(Slot::new(Some(Arc::new(dec)))))
    }

    /// Opens a record read from `topic` (`value` None is a tombstone) and says what it was:
    /// an `Opened` whose `kind` is "decrypted", "tombstone" or "unencrypted_allowed" (only
    /// "decrypted" is authenticated). `headers`: every header of the record as (name, value)
    /// pairs, as Kafka clients give them; the engine selects the rewrap ones.
    #[pyo3(signature = (topic, value, headers=None))]
    fn open<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
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
        let small = value.is_none_or(|v| v.len() < 4096);
        let opened = if small {
            // Below a page of data, releasing the GIL costs more than opening.
            dec.open(topic, value, &list)
        } else {
            py.detach(|| dec.open(topic, value, &list))
        }
        .py_err()?;
        let kind = opened.kind();
        Ok(Opened {
            kind,
            value: opened.into_value().map(|v| PyBytes::new(py, &v).unbind()),
        })
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
/// "unencrypted_allowed" one was let through unauthenticated by `allow_plaintext`.
#[pyclass(module = "rewrap", frozen)]
struct Opened {
    kind: OpenedKind,
    value: Option<Py<PyBytes>>,
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

    fn __repr__(&self) -> String {
        // Never the payload: reprs end up in logs.
        format!("Opened(kind={:?})", kind_name(self.kind))
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
