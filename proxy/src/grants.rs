//! Keeps a live re-encryptor in step with a directory grant store.
//!
//! Each `sync` stats the store's files and reads only those that are new or changed (size,
//! modification time or inode differ; `rewrap grant` replaces files by rename, so a rewrite
//! always shows). A (channel, consumer) pair whose files all disappeared is revoked at once,
//! which purges its cached fragments; a changed or new grant is installed (which replaces the
//! old one for that delegating key and purges the pair's cache). Pairs no file change touched
//! keep their cached fragments.

use rewrap::{DirGrantStore, Grant, ReEncryptor, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// (channel, consumer) pairs revoked because their grant files are gone.
    pub revoked: Vec<(String, String)>,
    /// Files that could not be installed, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

impl SyncReport {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.installed == 0 && self.revoked.is_empty() && self.rejected.is_empty()
    }
}

/// A store and the re-encryptor it feeds.
pub struct GrantSync {
    store: DirGrantStore,
    target: Arc<ReEncryptor>,
    seen: BTreeMap<PathBuf, Entry>,
}

fn pair(g: &Grant) -> (String, String) {
    (g.channel().to_string(), g.consumer().to_string())
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

    /// Applies every change in the store since the last call.
    pub fn sync(&mut self) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
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
                Ok(Ok(g)) => Some(g),
                Ok(Err(e)) => {
                    report.rejected.push((path.clone(), e.to_string()));
                    None
                }
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
    use rewrap::core::{Error, GrantTerms, SecretKey, Signer};
    use rewrap::Encryptor;

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
            let g = Grant::issue(&mut rewrap::rng(), &self.admin, &self.channel, &terms).unwrap();
            self.store.put(&g).unwrap();
        }

        fn edek(&self) -> Vec<u8> {
            let enc = Encryptor::new(self.channel.public_key()).unwrap();
            enc.seal("orders", b"x").unwrap().edek.to_vec()
        }

        fn answer(&self, consumer: &str, edek: &[u8]) -> Result<(), Error> {
            self.sync
                .target()
                .reencrypt("orders", edek, consumer)
                .map(|_| ())
        }
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
