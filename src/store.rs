//! The embedded grant store: one file per grant in a directory, named after the topic,
//! consumer and delegating key id, written atomically and readable only by the owner. A
//! revocation is a signed record kept beside the grants (`.revoke`), never a deleted file
//! alone, so a grant file put back stays dead. The shares of a threshold grant go to one
//! sub-store per re-encryptor (`share-I/`), and revocations to every one of them.
//! `GrantSync` keeps a running re-encryptor in step with the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rewrap_core::{Error, ErrorKind, Grant, KeyId, ProducerGrant, Revocation};

use crate::handles::ReEncryptor;

/// Failures of key files and the grant store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing a file failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A secret key file may be read by group or others.
    InsecurePermissions(PathBuf),
    /// A file's content was rejected by the engine.
    Rewrap(Error),
    /// A remote store (the Kafka grant registry) could not be read or written.
    Remote(String),
}

impl StoreError {
    /// This error's row in the one error table (`rewrap::ERROR_KINDS`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Io { .. } => ErrorKind::Io,
            StoreError::InsecurePermissions(_) => ErrorKind::InsecureKeyFile,
            StoreError::Rewrap(e) => e.kind(),
            StoreError::Remote(_) => ErrorKind::Io,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::InsecurePermissions(p) => {
                write!(
                    f,
                    "{}: secret key file is accessible by group or others (chmod 600)",
                    p.display()
                )
            }
            StoreError::Rewrap(e) => write!(f, "{e}"),
            StoreError::Remote(why) => write!(f, "grant registry: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError::Rewrap(e)
    }
}

/// A grant file and what parsing it gave.
pub type StoredGrant = (PathBuf, Result<Grant, Error>);

/// What loading a store into a re-encryptor did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Grants installed.
    pub loaded: usize,
    /// Files that were not installed, with the reason (expired, untrusted, malformed...).
    pub rejected: Vec<(PathBuf, StoreError)>,
}

/// A directory of grant files.
#[derive(Debug, Clone)]
pub struct DirGrantStore {
    root: PathBuf,
}

const EXTENSION: &str = "grant";

/// A producer grant file and what it parsed to.
pub type StoredProducerGrant = (PathBuf, Result<ProducerGrant, Error>);
/// Producer grants (`docs/FORMAT.md` §5.2): `hex(topic).PRODUCERKEYID.pgrant`.
const PRODUCER_EXTENSION: &str = "pgrant";
/// Revocations (§5.3): `hex(topic).hex(consumer).KEYID.revoke`, or `.all.revoke`.
const REVOCATION_EXTENSION: &str = "revoke";
/// Sub-stores of threshold shares: `share-I/` holds share I, for re-encryptor I.
const SHARE_DIR_PREFIX: &str = "share-";

/// A revocation file and what it parsed to.
pub type StoredRevocation = (PathBuf, Result<Revocation, Error>);

impl DirGrantStore {
    /// Opens (creating if needed, mode 0700) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&root)
            .map_err(|e| StoreError::io(&root, e))?;
        Ok(DirGrantStore { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn prefix(topic: &str, consumer: &str) -> String {
        format!("{}.{}.", hex::encode(topic), hex::encode(consumer))
    }

    /// Saves `grant`, replacing an earlier one for the same topic, consumer and key. A grant
    /// carrying several shares of a threshold is split: share I goes to the sub-store
    /// `share-I/`, the directory re-encryptor I follows (no re-encryptor holds two shares).
    pub fn put(&self, grant: &Grant) -> Result<Vec<PathBuf>, StoreError> {
        let indices = grant.share_indices();
        if grant.threshold() > 1 || indices.len() > 1 {
            let mut paths = Vec::with_capacity(indices.len());
            for i in indices {
                let share = grant.share(i)?;
                paths.push(self.share_store(i)?.put_one(&share)?);
            }
            return Ok(paths);
        }
        Ok(vec![self.put_one(grant)?])
    }

    /// The sub-store of share `index`. One made now receives every revocation of this
    /// store first: a share directory created after a revocation must not serve a copy of a
    /// grant it voids.
    pub fn share_store(&self, index: u8) -> Result<DirGrantStore, StoreError> {
        let share = DirGrantStore::open(self.root.join(format!("{SHARE_DIR_PREFIX}{index}")))?;
        for (_, revocation) in self.list_revocations()? {
            if let Ok(r) = revocation {
                share.put_revocation_here(&r)?;
            }
        }
        Ok(share)
    }

    /// The share sub-stores that exist, by index.
    fn share_stores(&self) -> Result<Vec<DirGrantStore>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let path = entry.map_err(|e| StoreError::io(&self.root, e))?.path();
            let is_share = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(SHARE_DIR_PREFIX))
                .is_some_and(|i| i.parse::<u8>().is_ok());
            if is_share && path.is_dir() {
                out.push(DirGrantStore { root: path });
            }
        }
        out.sort_by(|a, b| a.root.cmp(&b.root));
        Ok(out)
    }

    /// This store and its share sub-stores.
    fn with_shares(&self) -> Result<Vec<DirGrantStore>, StoreError> {
        let mut all = vec![self.clone()];
        all.extend(self.share_stores()?);
        Ok(all)
    }

    /// Saves a signed revocation here and in every share sub-store, unless an equal or later
    /// one of the same scope is there already; then deletes the grant files it covers (they
    /// would be refused anyway). Returns the revocation files written.
    pub fn put_revocation(&self, revocation: &Revocation) -> Result<Vec<PathBuf>, StoreError> {
        let mut written = Vec::new();
        for store in self.with_shares()? {
            written.extend(store.put_revocation_here(revocation)?);
        }
        Ok(written)
    }

    /// `put_revocation` for this directory only.
    fn put_revocation_here(&self, revocation: &Revocation) -> Result<Option<PathBuf>, StoreError> {
        let key = revocation
            .delegating_key_id()
            .map_or("all".to_string(), |id| id.to_string());
        let name = format!(
            "{}{key}.{REVOCATION_EXTENSION}",
            Self::prefix(revocation.topic(), revocation.consumer())
        );
        let path = self.root.join(&name);
        let held = fs::read(&path)
            .ok()
            .and_then(|b| Revocation::from_bytes(&b).ok());
        let written = if held.is_none_or(|h| h.revoked_at() < revocation.revoked_at()) {
            Some(self.write(&name, &revocation.to_bytes())?)
        } else {
            None
        };
        for (path, grant) in self.list_here()? {
            if grant.is_ok_and(|g| revocation.covers(&g)) {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
        }
        Ok(written)
    }

    /// Parses every revocation file of this directory (structure only; readers verify).
    pub fn list_revocations(&self) -> Result<Vec<StoredRevocation>, StoreError> {
        self.files_with(REVOCATION_EXTENSION)?
            .into_iter()
            .map(|path| {
                let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
                Ok((path, Revocation::from_bytes(&bytes)))
            })
            .collect()
    }

    fn put_one(&self, grant: &Grant) -> Result<PathBuf, StoreError> {
        let name = format!(
            "{}{}.{EXTENSION}",
            Self::prefix(grant.topic(), grant.consumer()),
            grant.delegating_key().key_id()
        );
        self.write(&name, &grant.to_bytes())
    }

    /// Saves a producer grant, replacing an earlier one for the same topic and producer.
    pub fn put_producer(&self, grant: &ProducerGrant) -> Result<PathBuf, StoreError> {
        let name = format!(
            "{}.{}.{PRODUCER_EXTENSION}",
            hex::encode(grant.topic()),
            grant.producer().key_id()
        );
        self.write(&name, &grant.to_bytes())
    }

    /// Deletes the producer grants of `topic` (of one producer, or all when `None`); returns
    /// how many files were removed.
    pub fn revoke_producer(
        &self,
        topic: &str,
        producer: Option<&KeyId>,
    ) -> Result<usize, StoreError> {
        let prefix = match producer {
            Some(id) => format!("{}.{id}.", hex::encode(topic)),
            None => format!("{}.", hex::encode(topic)),
        };
        let mut removed = 0;
        for path in self.files_with(PRODUCER_EXTENSION)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with(&prefix) {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Parses every producer grant file (structure only; readers verify).
    pub fn list_producers(&self) -> Result<Vec<StoredProducerGrant>, StoreError> {
        self.files_with(PRODUCER_EXTENSION)?
            .into_iter()
            .map(|path| {
                let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
                Ok((path, ProducerGrant::from_bytes(&bytes)))
            })
            .collect()
    }

    /// Writes `bytes` to `name` atomically (temporary file, then rename), mode 0600.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        let path = self.root.join(name);
        // Unique per process and call, so concurrent puts never share a temporary file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.root.join(format!(".{}.{n}.tmp", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        file.write_all(bytes).map_err(|e| StoreError::io(&tmp, e))?;
        file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        Ok(path)
    }

    /// The grant files in the store, sorted by name.
    fn files(&self) -> Result<Vec<PathBuf>, StoreError> {
        self.files_with(EXTENSION)
    }

    fn files_with(&self, extension: &str) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let path = entry.map_err(|e| StoreError::io(&self.root, e))?.path();
            if path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes every grant file of `consumer` on `topic`, here and in the share sub-stores;
    /// returns how many were removed. Without a signed revocation (`put_revocation`) a copy
    /// of a deleted grant put back is valid again: this is for tidying, not for revoking.
    pub fn remove(&self, topic: &str, consumer: &str) -> Result<usize, StoreError> {
        let prefix = Self::prefix(topic, consumer);
        let mut removed = 0;
        let mut files = Vec::new();
        for store in self.with_shares()? {
            files.extend(store.files()?);
        }
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with(&prefix) {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Parses every grant file, here and in the share sub-stores (structure only; the
    /// re-encryptor verifies).
    pub fn list(&self) -> Result<Vec<StoredGrant>, StoreError> {
        let mut out = Vec::new();
        for store in self.with_shares()? {
            out.extend(store.list_here()?);
        }
        Ok(out)
    }

    /// Parses every grant file of this directory only.
    fn list_here(&self) -> Result<Vec<StoredGrant>, StoreError> {
        self.files()?
            .into_iter()
            .map(|path| match Self::read(&path) {
                Ok(g) => Ok((path, Ok(g))),
                Err(StoreError::Rewrap(e)) => Ok((path, Err(e))),
                Err(e) => Err(e),
            })
            .collect()
    }

    /// Reads and parses one grant file.
    fn read(path: &Path) -> Result<Grant, StoreError> {
        let bytes = fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Grant::from_bytes(&bytes).map_err(StoreError::Rewrap)
    }

    /// Installs every revocation, then every valid grant of this directory into `target`,
    /// reporting the files it rejected.
    pub fn load_into(&self, target: &ReEncryptor) -> Result<LoadReport, StoreError> {
        let mut report = LoadReport::default();
        for (path, parsed) in self.list_revocations()? {
            if let Err(e) = parsed.and_then(|r| target.add_revocation(&r)) {
                report.rejected.push((path, StoreError::Rewrap(e)));
            }
        }
        for (path, parsed) in self.list_here()? {
            match parsed.and_then(|g| target.add_grant(&g)) {
                Ok(()) => report.loaded += 1,
                Err(e) => report.rejected.push((path, StoreError::Rewrap(e))),
            }
        }
        Ok(report)
    }
}

/// Everything a store holds, as parsed (structure only; readers verify).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Grants (or shares), with where each came from (a file, or a registry key).
    pub grants: Vec<(String, Result<Grant, Error>)>,
    /// Signed revocations.
    pub revocations: Vec<(String, Result<Revocation, Error>)>,
    /// Producer grants.
    pub producers: Vec<(String, Result<ProducerGrant, Error>)>,
}

/// What the administrator's tools write grants to: the directory store on one machine, or
/// the Kafka grant registry every proxy follows (in the CLI, which has a Kafka client).
/// Shares of threshold grants are the store's business, not the caller's.
pub trait GrantStore {
    /// Publishes a grant (each share where its re-encryptor reads it); returns where.
    fn put_grant(&self, grant: &Grant) -> Result<Vec<String>, StoreError>;
    /// Publishes a signed revocation where every re-encryptor reads it; returns where.
    fn put_revocation(&self, revocation: &Revocation) -> Result<Vec<String>, StoreError>;
    /// Publishes a producer grant.
    fn put_producer(&self, grant: &ProducerGrant) -> Result<String, StoreError>;
    /// Withdraws the producer grants of `topic` (of one producer, or all); returns how many.
    fn withdraw_producer(&self, topic: &str, producer: Option<&KeyId>)
        -> Result<usize, StoreError>;
    /// Everything held, with every share.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
}

fn shown(paths: Vec<PathBuf>) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

impl GrantStore for DirGrantStore {
    fn put_grant(&self, grant: &Grant) -> Result<Vec<String>, StoreError> {
        self.put(grant).map(shown)
    }

    fn put_revocation(&self, revocation: &Revocation) -> Result<Vec<String>, StoreError> {
        DirGrantStore::put_revocation(self, revocation).map(shown)
    }

    fn put_producer(&self, grant: &ProducerGrant) -> Result<String, StoreError> {
        DirGrantStore::put_producer(self, grant).map(|p| p.display().to_string())
    }

    fn withdraw_producer(
        &self,
        topic: &str,
        producer: Option<&KeyId>,
    ) -> Result<usize, StoreError> {
        self.revoke_producer(topic, producer)
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let named = |p: PathBuf| p.display().to_string();
        Ok(Snapshot {
            grants: self
                .list()?
                .into_iter()
                .map(|(p, g)| (named(p), g))
                .collect(),
            revocations: self
                .list_revocations()?
                .into_iter()
                .map(|(p, r)| (named(p), r))
                .collect(),
            producers: self
                .list_producers()?
                .into_iter()
                .map(|(p, g)| (named(p), g))
                .collect(),
        })
    }
}

// Following a store: `GrantSync` keeps a live re-encryptor in step with the directory.
// Each `sync` stats the store's files and reads only those that are new or changed (size,
// modification time or inode differ; `rewrap grant` replaces files by rename, so a rewrite
// always shows). A (topic, consumer) pair whose files all disappeared is revoked at once,
// which purges its cached fragments; a changed or new grant is installed (which replaces the
// old one for that delegating key and purges the pair's cache). Pairs no file change touched
// keep their cached fragments.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

struct Entry {
    stamp: Stamp,
    /// The installed grant; `None` when the file was rejected.
    grant: Option<Grant>,
}

/// What one `sync` changed.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Grants newly installed or replaced.
    pub installed: usize,
    /// (topic, consumer) pairs revoked because their grant files are gone.
    pub revoked: Vec<(String, String)>,
    /// Files that could not be installed, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
    /// The producer grants changed and were reloaded (this many installed).
    pub producers_reloaded: Option<usize>,
    /// Signed revocations newly applied.
    pub revocations: usize,
}

impl SyncReport {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.installed == 0
            && self.revoked.is_empty()
            && self.rejected.is_empty()
            && self.producers_reloaded.is_none()
            && self.revocations == 0
    }
}

/// A store and the re-encryptor it feeds.
pub struct GrantSync {
    store: DirGrantStore,
    target: Arc<ReEncryptor>,
    seen: BTreeMap<PathBuf, Entry>,
    /// The producer grant files last loaded, with their contents.
    producers: Option<BTreeMap<PathBuf, Vec<u8>>>,
    /// The revocation files last applied, with their contents.
    revocations: BTreeMap<PathBuf, Vec<u8>>,
    /// Grant files refused as not yet valid, with the time (Unix seconds) to try again.
    waiting: BTreeMap<PathBuf, u64>,
    /// Since when the store could not be read.
    unreadable_since: Option<Instant>,
    /// How long an unreadable store's grants are kept before they are dropped.
    grace: Duration,
    /// The grants were dropped because the store stayed unreadable.
    dropped: bool,
}

/// How long `GrantSync` keeps serving the grants it loaded while the store cannot be read.
pub const DEFAULT_UNREADABLE_GRACE: Duration = Duration::from_secs(60);

fn pair(g: &Grant) -> (String, String) {
    (g.topic().to_string(), g.consumer().to_string())
}

fn stamp(path: &PathBuf) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

impl GrantSync {
    /// Follows `store` into `target`; call `sync` to load.
    pub fn new(store: DirGrantStore, target: Arc<ReEncryptor>) -> Self {
        GrantSync {
            store,
            target,
            seen: BTreeMap::new(),
            producers: None,
            revocations: BTreeMap::new(),
            waiting: BTreeMap::new(),
            unreadable_since: None,
            grace: DEFAULT_UNREADABLE_GRACE,
            dropped: false,
        }
    }

    /// Keeps serving loaded grants for at most `grace` while the store cannot be read, then
    /// drops them all (fail closed) until it can be read again.
    pub fn with_unreadable_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// True while the grants are dropped because the store stayed unreadable past the grace.
    pub fn failed_closed(&self) -> bool {
        self.dropped
    }

    /// The re-encryptor being fed.
    pub fn target(&self) -> &Arc<ReEncryptor> {
        &self.target
    }

    /// Installs the grant read from `path`; on failure reports it and forgets the grant.
    fn install(&mut self, path: &PathBuf, report: &mut SyncReport) -> bool {
        let entry = self.seen.get_mut(path).expect("a listed file");
        let Some(grant) = entry.grant.as_ref() else {
            return false;
        };
        match self.target.add_grant(grant) {
            Ok(()) => {
                report.installed += 1;
                true
            }
            Err(e) => {
                let valid_from = grant.not_before().max(
                    grant
                        .issued_at()
                        .saturating_sub(rewrap_core::MAX_ISSUE_SKEW_MS)
                        / 1000,
                );
                if e == Error::GrantExpired && valid_from > crate::now() {
                    // Not valid yet (or this clock is behind the administrator's): tried
                    // again once it should be, not forgotten until the file changes.
                    self.waiting.insert(path.clone(), valid_from);
                }
                report.rejected.push((path.clone(), e.to_string()));
                entry.grant = None;
                false
            }
        }
    }

    /// Applies the revocation files when any changed (every one is applied again: the
    /// re-encryptor keeps the latest per scope, so order and repeats do not matter).
    fn sync_revocations(&mut self, report: &mut SyncReport) -> Result<(), StoreError> {
        let mut current = BTreeMap::new();
        for path in self.store.files_with(REVOCATION_EXTENSION)? {
            match fs::read(&path) {
                Ok(bytes) => {
                    current.insert(path, bytes);
                }
                // Vanished between listing and reading: gone (the re-encryptor keeps it).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // A revocation that cannot be read fails the sync (and so, past the grace,
                // closes), rather than being skipped.
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        if self.revocations == current {
            return Ok(());
        }
        for (path, bytes) in &current {
            if self.revocations.get(path) == Some(bytes) {
                continue;
            }
            match Revocation::from_bytes(bytes).and_then(|r| self.target.add_revocation(&r)) {
                Ok(true) => report.revocations += 1,
                Ok(false) => {}
                Err(e) => report.rejected.push((path.clone(), e.to_string())),
            }
        }
        self.revocations = current;
        Ok(())
    }

    /// Drops every grant loaded from the store (producer grants included).
    fn drop_all(&mut self) {
        let pairs: BTreeSet<(String, String)> = self
            .seen
            .values()
            .filter_map(|e| e.grant.as_ref().map(pair))
            .collect();
        for (topic, consumer) in pairs {
            self.target.revoke(&topic, &consumer);
        }
        self.seen.clear();
        self.waiting.clear();
        self.target.replace_producer_grants(&[]);
        self.producers = None;
        self.dropped = true;
    }

    /// Reloads every producer grant when any producer grant file changed (they are small:
    /// the whole set is compared and replaced, so a removed file revokes at once).
    fn sync_producers(&mut self, report: &mut SyncReport) -> Result<(), StoreError> {
        let mut current = BTreeMap::new();
        for path in self.store.files_with(PRODUCER_EXTENSION)? {
            if let Ok(bytes) = fs::read(&path) {
                current.insert(path, bytes);
            }
        }
        if self.producers.as_ref() == Some(&current) {
            return Ok(());
        }
        let mut grants = Vec::new();
        for (path, bytes) in &current {
            match ProducerGrant::from_bytes(bytes) {
                Ok(g) => grants.push(g),
                Err(e) => report.rejected.push((path.clone(), e.to_string())),
            }
        }
        let refused = self.target.replace_producer_grants(&grants);
        for (g, e) in &refused {
            report.rejected.push((
                PathBuf::from(format!(
                    "{}.{}.{PRODUCER_EXTENSION}",
                    hex::encode(g.topic()),
                    g.producer().key_id()
                )),
                e.to_string(),
            ));
        }
        report.producers_reloaded = Some(grants.len() - refused.len());
        self.producers = Some(current);
        Ok(())
    }

    /// Applies every change in the store since the last call. While the store cannot be
    /// read this fails, and once it has failed for longer than the grace every grant loaded
    /// from it is dropped (fail closed); they come back when it can be read again.
    pub fn sync(&mut self) -> Result<SyncReport, StoreError> {
        match self.sync_once() {
            Ok(report) => {
                self.unreadable_since = None;
                self.dropped = false;
                Ok(report)
            }
            Err(e) => {
                let since = *self.unreadable_since.get_or_insert_with(Instant::now);
                if !self.dropped && since.elapsed() >= self.grace {
                    self.drop_all();
                }
                Err(e)
            }
        }
    }

    fn sync_once(&mut self) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
        let now = crate::now();
        let due: Vec<PathBuf> = self
            .waiting
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(path, _)| path.clone())
            .collect();
        for path in due {
            self.waiting.remove(&path);
            self.seen.remove(&path);
        }
        self.sync_revocations(&mut report)?;
        self.sync_producers(&mut report)?;
        let mut current = BTreeMap::new();
        for path in self.store.files()? {
            // A file removed between listing and stat is simply gone.
            if let Some(s) = stamp(&path) {
                current.insert(path, s);
            }
        }

        let mut affected: BTreeSet<(String, String)> = BTreeSet::new();
        let mut old_keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let gone: Vec<PathBuf> = self
            .seen
            .iter()
            .filter(|(path, entry)| current.get(*path) != Some(&entry.stamp))
            .map(|(path, _)| path.clone())
            .collect();
        for path in gone {
            if let Some(Entry { grant: Some(g), .. }) = self.seen.remove(&path) {
                let p = pair(&g);
                old_keys
                    .entry(p.clone())
                    .or_default()
                    .insert(g.delegating_key().key_id().to_string());
                affected.insert(p);
            }
        }

        let mut fresh = Vec::new();
        for (path, s) in &current {
            if self.seen.contains_key(path) {
                continue;
            }
            let grant = match DirGrantStore::read(path) {
                Ok(g) => Some(g),
                Err(StoreError::Io { .. }) => continue, // vanished mid-read; next sync sees it
                Err(e) => {
                    report.rejected.push((path.clone(), e.to_string()));
                    None
                }
            };
            if let Some(g) = &grant {
                affected.insert(pair(g));
                fresh.push(path.clone());
            }
            self.seen.insert(path.clone(), Entry { stamp: *s, grant });
        }

        for p in affected {
            let remaining: Vec<&PathBuf> = self
                .seen
                .iter()
                .filter(|(_, e)| e.grant.as_ref().is_some_and(|g| pair(g) == p))
                .map(|(path, _)| path)
                .collect();
            let remaining_keys: BTreeSet<String> = remaining
                .iter()
                .filter_map(|path| self.seen[*path].grant.as_ref())
                .map(|g| g.delegating_key().key_id().to_string())
                .collect();
            let lost_a_key = old_keys
                .get(&p)
                .is_some_and(|old| !old.is_subset(&remaining_keys));
            if lost_a_key {
                // A delegating key's grant is gone: revoke the pair, then reinstall the rest
                // (fetches in between get no cfrag for it, which fails closed).
                self.target.revoke(&p.0, &p.1);
                if remaining.is_empty() {
                    report.revoked.push(p.clone());
                }
            }
            let remaining: Vec<PathBuf> = remaining.into_iter().cloned().collect();
            let install: Vec<&PathBuf> = remaining
                .iter()
                .filter(|path| lost_a_key || fresh.contains(path))
                .collect();
            let mut failed = false;
            for path in install {
                failed |= !self.install(path, &mut report);
            }
            if failed && !lost_a_key {
                // The replaced grant is void: drop the pair and put back what is still valid.
                self.target.revoke(&p.0, &p.1);
                for path in &remaining {
                    if self.seen[path].grant.is_some() {
                        self.install(path, &mut report);
                    }
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rewrap_core::{GrantTerms, SecretKey, Signer};

    #[test]
    fn put_list_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirGrantStore::open(dir.path().join("grants")).unwrap();
        let admin = Signer::new(SecretKey::generate());
        let channel = SecretKey::generate();
        for consumer in ["c1", "c2"] {
            let terms =
                GrantTerms::one_of_one("orders", consumer, SecretKey::generate().public_key(), 0);
            let g = Grant::issue(&mut crate::rng(), &admin, &channel, &terms).unwrap();
            let path = store.put(&g).unwrap().remove(0);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
        fs::write(store.root().join("junk.grant"), b"not a grant").unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed.iter().filter(|(_, g)| g.is_ok()).count(), 2);

        let re = ReEncryptor::new(&[admin.verifying_key()]).unwrap();
        let report = store.load_into(&re).unwrap();
        assert_eq!(report.loaded, 2);
        assert_eq!(report.rejected.len(), 1);

        assert_eq!(store.remove("orders", "c1").unwrap(), 1);
        assert_eq!(store.remove("orders", "c1").unwrap(), 0);
        assert_eq!(store.list().unwrap().len(), 2);
    }
}

#[cfg(test)]
mod follow_tests {
    use super::*;
    use crate::Encryptor;
    use rewrap_core::{Error, GrantTerms, Revocation, SecretKey, Signer};

    struct World {
        _dir: tempfile::TempDir,
        store: DirGrantStore,
        admin: Signer,
        channel: SecretKey,
        sync: GrantSync,
    }

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = DirGrantStore::open(dir.path().join("grants")).unwrap();
        let admin = Signer::new(SecretKey::generate());
        let target = Arc::new(ReEncryptor::new(&[admin.verifying_key()]).unwrap());
        World {
            sync: GrantSync::new(store.clone(), target),
            _dir: dir,
            store,
            admin,
            channel: SecretKey::generate(),
        }
    }

    impl World {
        fn grant(&self, consumer: &str, expires: Option<u64>) {
            let mut terms =
                GrantTerms::one_of_one("orders", consumer, SecretKey::generate().public_key(), 0);
            terms.expires = expires;
            let g = Grant::issue(&mut crate::rng(), &self.admin, &self.channel, &terms).unwrap();
            self.store.put(&g).unwrap();
        }

        fn edek(&self) -> Vec<u8> {
            let enc = Encryptor::new(self.channel.public_key()).unwrap();
            enc.seal("orders", None, b"x").unwrap().edek.to_vec()
        }

        fn answer(&self, consumer: &str, edek: &[u8]) -> Result<(), Error> {
            self.sync
                .target()
                .reencrypt("orders", edek, consumer)
                .map(|_| ())
        }
    }

    #[test]
    fn producer_grants_follow_the_store() {
        let mut w = world();
        let producer = SecretKey::generate();
        let enc = Encryptor::new(w.channel.public_key()).unwrap();
        enc.set_signer(Some((&producer, rewrap_core::SigningMode::Session)));
        let sealed = enc.seal("orders", Some(b"k"), b"x").unwrap();
        let sig = sealed.sig.as_deref();
        let target = w.sync.target().clone();
        assert_eq!(
            target.attest("orders", &sealed.edek, sig, None),
            Err(Error::UnauthorizedProducer)
        );
        let grant = ProducerGrant::issue(
            &mut crate::rng(),
            &w.admin,
            "orders",
            &producer.public_key(),
            0,
            None,
        )
        .unwrap();
        w.store.put_producer(&grant).unwrap();
        assert_eq!(w.sync.sync().unwrap().producers_reloaded, Some(1));
        assert_eq!(target.attest("orders", &sealed.edek, sig, None), Ok(None));
        assert!(w.sync.sync().unwrap().is_empty(), "no change, no reload");
        assert_eq!(
            w.store
                .revoke_producer("orders", Some(&producer.public_key().key_id()))
                .unwrap(),
            1
        );
        assert_eq!(w.sync.sync().unwrap().producers_reloaded, Some(0));
        assert_eq!(
            target.attest("orders", &sealed.edek, sig, None),
            Err(Error::UnauthorizedProducer)
        );
    }

    #[test]
    fn load_then_follow_grants_and_revokes() {
        let mut w = world();
        w.grant("c1", None);
        w.grant("c2", None);
        let r = w.sync.sync().unwrap();
        assert_eq!((r.installed, r.revoked.len(), r.rejected.len()), (2, 0, 0));
        assert!(w.sync.sync().unwrap().is_empty(), "no change, no work");

        let edek = w.edek();
        w.answer("c1", &edek).unwrap();
        w.answer("c2", &edek).unwrap();
        assert_eq!(w.answer("c3", &edek), Err(Error::NotGranted));

        assert_eq!(w.store.remove("orders", "c2").unwrap(), 1);
        let r = w.sync.sync().unwrap();
        assert_eq!(r.revoked, vec![("orders".to_string(), "c2".to_string())]);
        assert_eq!(r.installed, 0);
        assert_eq!(w.answer("c2", &edek), Err(Error::Revoked), "cache purged");
        w.answer("c1", &edek).unwrap();
        let hits = w.sync.target().stats().cache.hits;
        w.answer("c1", &edek).unwrap();
        assert_eq!(
            w.sync.target().stats().cache.hits,
            hits + 1,
            "c1 kept its cache"
        );

        w.grant("c2", None);
        w.grant("c3", None);
        let r = w.sync.sync().unwrap();
        assert_eq!(r.installed, 2);
        w.answer("c2", &edek).unwrap();
        w.answer("c3", &edek).unwrap();
    }

    #[test]
    fn replaced_grant_takes_effect_and_junk_is_reported() {
        let mut w = world();
        w.grant("c1", None);
        w.sync.sync().unwrap();
        let edek = w.edek();
        w.answer("c1", &edek).unwrap();
        // Re-granting with an expiry in the past replaces the grant and purges its cache.
        w.grant("c1", Some(1));
        let r = w.sync.sync().unwrap();
        assert_eq!(r.revoked.len(), 0);
        assert_eq!(r.installed + r.rejected.len(), 1);
        assert!(w.answer("c1", &edek).is_err());

        std::fs::write(w.store.root().join("junk.grant"), b"nope").unwrap();
        let r = w.sync.sync().unwrap();
        assert_eq!(r.rejected.len(), 1);
        assert!(
            w.sync.sync().unwrap().is_empty(),
            "a bad file is reported once"
        );
    }

    /// A signed revocation in the store drops the grant and keeps a saved copy of it dead
    /// when put back, under any name; a grant issued later is installed.
    #[test]
    fn a_revocation_in_the_store_outlives_replayed_grant_files() {
        let mut w = world();
        w.grant("c1", None);
        w.sync.sync().unwrap();
        let edek = w.edek();
        assert_eq!(w.answer("c1", &edek), Ok(()));
        let saved: Vec<(PathBuf, Vec<u8>)> = w
            .store
            .files()
            .unwrap()
            .into_iter()
            .map(|p| (p.clone(), fs::read(&p).unwrap()))
            .collect();
        let r = Revocation::issue(
            &mut crate::rng(),
            &w.admin,
            "orders",
            "c1",
            None,
            crate::now_millis(),
        )
        .unwrap();
        assert_eq!(w.store.put_revocation(&r).unwrap().len(), 1);
        assert!(
            w.store.files().unwrap().is_empty(),
            "covered grant files go"
        );
        let report = w.sync.sync().unwrap();
        assert_eq!(report.revocations, 1);
        assert_eq!(w.answer("c1", &edek), Err(Error::Revoked));
        for (path, bytes) in &saved {
            fs::write(path, bytes).unwrap();
            fs::write(path.with_file_name("renamed.grant"), bytes).unwrap();
        }
        let report = w.sync.sync().unwrap();
        assert_eq!(report.rejected.len(), 2, "{report:?}");
        assert_eq!(w.answer("c1", &edek), Err(Error::Revoked));
        std::thread::sleep(Duration::from_millis(2));
        w.grant("c1", None);
        w.sync.sync().unwrap();
        assert_eq!(w.answer("c1", &edek), Ok(()));
    }

    /// A store that cannot be read keeps serving for the grace, then every grant is dropped
    /// (fail closed) until it can be read again.
    #[test]
    fn an_unreadable_store_fails_closed_after_the_grace() {
        let mut w = world();
        w.sync = GrantSync::new(w.store.clone(), w.sync.target().clone())
            .with_unreadable_grace(Duration::from_millis(50));
        w.grant("c1", None);
        w.sync.sync().unwrap();
        let edek = w.edek();
        let moved = w.store.root().with_extension("away");
        fs::rename(w.store.root(), &moved).unwrap();
        assert!(w.sync.sync().is_err());
        assert_eq!(w.answer("c1", &edek), Ok(()), "within the grace");
        std::thread::sleep(Duration::from_millis(60));
        assert!(w.sync.sync().is_err());
        assert!(w.sync.failed_closed());
        assert!(w.answer("c1", &edek).is_err(), "past the grace: no cfrag");
        fs::rename(&moved, w.store.root()).unwrap();
        w.sync.sync().unwrap();
        assert!(!w.sync.failed_closed());
        assert_eq!(w.answer("c1", &edek), Ok(()));
    }

    /// A grant refused as not yet valid (the administrator's clock ahead of this one) is
    /// installed once it is, without its file changing.
    #[test]
    fn a_grant_not_yet_valid_is_retried_when_it_becomes_valid() {
        let mut w = world();
        let mut terms = GrantTerms::one_of_one(
            "orders",
            "c1",
            SecretKey::generate().public_key(),
            crate::now() + 1,
        );
        terms.expires = Some(crate::now() + 3600);
        let g = Grant::issue(&mut crate::rng(), &w.admin, &w.channel, &terms).unwrap();
        w.store.put(&g).unwrap();
        let report = w.sync.sync().unwrap();
        assert_eq!(report.rejected.len(), 1);
        let edek = w.edek();
        assert!(w.answer("c1", &edek).is_err());
        std::thread::sleep(Duration::from_millis(2100));
        let report = w.sync.sync().unwrap();
        assert_eq!(report.installed, 1, "{report:?}");
        assert_eq!(w.answer("c1", &edek), Ok(()));
    }
}
