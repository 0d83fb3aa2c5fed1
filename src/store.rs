//! The embedded grant store: one file per grant in a directory, named after the channel,
//! consumer and delegating key id, written atomically and readable only by the owner. A revoke
//! deletes the files; re-encryptors reload the directory to follow changes.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rewrap_core::{Error, Grant};

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

    fn prefix(channel: &str, consumer: &str) -> String {
        format!("{}.{}.", hex::encode(channel), hex::encode(consumer))
    }

    /// Saves `grant`, replacing an earlier one for the same channel, consumer and key.
    pub fn put(&self, grant: &Grant) -> Result<PathBuf, StoreError> {
        let name = format!(
            "{}{}.{EXTENSION}",
            Self::prefix(grant.channel(), grant.consumer()),
            grant.delegating_key().key_id()
        );
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
        file.write_all(&grant.to_bytes())
            .map_err(|e| StoreError::io(&tmp, e))?;
        file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
        Ok(path)
    }

    /// The grant files in the store, sorted by name.
    pub fn files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let path = entry.map_err(|e| StoreError::io(&self.root, e))?.path();
            if path.extension().is_some_and(|e| e == EXTENSION) {
                out.push(path);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes every grant of `consumer` on `channel`; returns how many files were removed.
    pub fn revoke(&self, channel: &str, consumer: &str) -> Result<usize, StoreError> {
        let prefix = Self::prefix(channel, consumer);
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
            .map(|path| {
                let parsed = Self::read(&path)?;
                Ok((path, parsed))
            })
            .collect()
    }

    /// Reads one grant file: an I/O error, or what parsing its bytes gave.
    pub fn read(path: &Path) -> Result<Result<Grant, Error>, StoreError> {
        let bytes = fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Ok(Grant::from_bytes(&bytes))
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
