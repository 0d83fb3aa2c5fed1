//! The embedded grant store: one file per grant in a directory, named after the topic,
//! consumer and delegating key id, written atomically and readable only by the owner. A revoke
//! deletes the files; `GrantSync` keeps a running re-encryptor in step with the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rewrap_core::{Error, ErrorKind, Grant, KeyId, ProducerGrant};

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
}

impl StoreError {
    /// This error's row in the one error table (`rewrap::ERROR_KINDS`).
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Io { .. } => ErrorKind::Io,
            StoreError::InsecurePermissions(_) => ErrorKind::InsecureKeyFile,
            StoreError::Rewrap(e) => e.kind(),
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

    /// Saves `grant`, replacing an earlier one for the same topic, consumer and key.
    pub fn put(&self, grant: &Grant) -> Result<PathBuf, StoreError> {
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

    /// Deletes every grant of `consumer` on `topic`; returns how many files were removed.
    pub fn revoke(&self, topic: &str, consumer: &str) -> Result<usize, StoreError> {
        let prefix = Self::prefix(topic, consumer);
        let mut removed = 0;
        for path in self.files()? {
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

    /// Parses every grant file (structure only; the re-encryptor verifies).
    pub fn list(&self) -> Result<Vec<StoredGrant>, StoreError> {
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

    /// Installs every valid grant into `target`, reporting the files it rejected.
    pub fn load_into(&self, target: &ReEncryptor) -> Result<LoadReport, StoreError> {
        let mut report = LoadReport::default();
        for (path, parsed) in self.list()? {
            match parsed.and_then(|g| target.add_grant(&g)) {
                Ok(()) => report.loaded += 1,
                Err(e) => report.rejected.push((path, StoreError::Rewrap(e))),
            }
        }
        Ok(report)
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
}

impl SyncReport {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.installed == 0
            && self.revoked.is_empty()
            && self.rejected.is_empty()
            && self.producers_reloaded.is_none()
    }
}

/// A store and the re-encryptor it feeds.
pub struct GrantSync {
    store: DirGrantStore,
    target: Arc<ReEncryptor>,
    seen: BTreeMap<PathBuf, Entry>,
    /// The producer grant files last loaded, with their contents.
    producers: Option<BTreeMap<PathBuf, Vec<u8>>>,
}

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
        }
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
                report.rejected.push((path.clone(), e.to_string()));
                entry.grant = None;
                false
            }
        }
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

    /// Applies every change in the store since the last call.
    pub fn sync(&mut self) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
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
            let path = store.put(&g).unwrap();
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

        assert_eq!(store.revoke("orders", "c1").unwrap(), 1);
        assert_eq!(store.revoke("orders", "c1").unwrap(), 0);
        assert_eq!(store.list().unwrap().len(), 2);
    }
}

#[cfg(test)]
mod follow_tests {
    use super::*;
    use crate::Encryptor;
    use rewrap_core::{Error, GrantTerms, SecretKey, Signer};

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

        assert_eq!(w.store.revoke("orders", "c2").unwrap(), 1);
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
}
