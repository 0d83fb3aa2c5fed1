//! A bounded LRU with an optional time-to-live and hit/miss counters; the one cache type
//! behind the re-encryptor's cfrag cache and the consumer's DEK cache. Values are dropped on
//! eviction, so secrets inside them are zeroized by their own `Drop`.

use core::borrow::Borrow;
use core::hash::Hash;
use core::num::NonZeroUsize;

use lru::LruCache;

use crate::error::{Error, Result};

/// Counters and size of a cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Look-ups answered from the cache.
    pub hits: u64,
    /// Look-ups that had to compute the value.
    pub misses: u64,
    /// Entries dropped for capacity or age.
    pub evictions: u64,
    /// Entries held now.
    pub entries: usize,
    /// Most entries ever held at once.
    pub capacity: usize,
}

impl CacheStats {
    /// Hits over look-ups, 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

pub(crate) struct Cache<K: Hash + Eq, V> {
    lru: LruCache<K, (V, u64)>,
    ttl_secs: Option<u64>,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl<K: Hash + Eq, V> Cache<K, V> {
    pub(crate) fn new(capacity: usize, ttl_secs: Option<u64>) -> Result<Self> {
        let capacity = NonZeroUsize::new(capacity)
            .ok_or(Error::InvalidArgument("cache capacity must be > 0"))?;
        if ttl_secs == Some(0) {
            return Err(Error::InvalidArgument("cache TTL must be > 0 seconds"));
        }
        Ok(Cache {
            lru: LruCache::new(capacity),
            ttl_secs,
            hits: 0,
            misses: 0,
            evictions: 0,
        })
    }

    /// Looks up `key`, counting a hit or a miss; entries older than the TTL are dropped.
    pub(crate) fn get<Q>(&mut self, key: &Q, now: u64) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // One hash lookup on the hot path: promote first, check age after.
        let expired = match self.lru.get(key) {
            None => {
                self.misses += 1;
                return None;
            }
            Some((_, at)) => self
                .ttl_secs
                .is_some_and(|ttl| now.saturating_sub(*at) >= ttl),
        };
        if expired {
            self.lru.pop(key);
            self.evictions += 1;
            self.misses += 1;
            return None;
        }
        self.hits += 1;
        self.lru.peek_mru().map(|(_, (v, _))| v)
    }

    pub(crate) fn insert(&mut self, key: K, value: V, now: u64) {
        if let Some((old_key, _)) = self.lru.push(key, (value, now)) {
            // `push` returns the replaced entry for an existing key too; only count evictions.
            if !self.lru.contains(&old_key) {
                self.evictions += 1;
            }
        }
    }

    /// Drops every entry whose key matches; returns how many.
    pub(crate) fn remove_where(&mut self, mut matches: impl FnMut(&K) -> bool) -> usize
    where
        K: Clone,
    {
        let doomed: alloc::vec::Vec<K> = self
            .lru
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &doomed {
            self.lru.pop(k);
        }
        doomed.len()
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
            entries: self.lru.len(),
            capacity: self.lru.cap().get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_honoured_and_counted() {
        let mut c: Cache<u32, u32> = Cache::new(2, None).unwrap();
        c.insert(1, 10, 0);
        c.insert(2, 20, 0);
        c.insert(3, 30, 0);
        assert_eq!(c.get(&1, 0), None);
        assert_eq!(c.get(&3, 0), Some(&30));
        let s = c.stats();
        assert_eq!(
            (s.hits, s.misses, s.evictions, s.entries, s.capacity),
            (1, 1, 1, 2, 2)
        );
    }

    #[test]
    fn entries_expire_after_ttl() {
        let mut c: Cache<u32, u32> = Cache::new(4, Some(10)).unwrap();
        c.insert(1, 10, 100);
        assert_eq!(c.get(&1, 109), Some(&10));
        assert_eq!(c.get(&1, 110), None);
        assert_eq!(c.stats().entries, 0);
    }

    #[test]
    fn replacing_a_key_is_not_an_eviction() {
        let mut c: Cache<u32, u32> = Cache::new(4, None).unwrap();
        c.insert(1, 10, 0);
        c.insert(1, 11, 0);
        assert_eq!(c.stats().evictions, 0);
        assert_eq!(c.get(&1, 0), Some(&11));
    }

    #[test]
    fn remove_where_drops_matching_entries() {
        let mut c: Cache<u32, u32> = Cache::new(8, None).unwrap();
        for i in 0..6 {
            c.insert(i, i, 0);
        }
        assert_eq!(c.remove_where(|k| k % 2 == 0), 3);
        assert_eq!(c.stats().entries, 3);
        assert_eq!(c.get(&2, 0), None);
        assert_eq!(c.get(&3, 0), Some(&3));
    }

    #[test]
    fn zero_capacity_or_ttl_is_refused() {
        assert!(Cache::<u32, u32>::new(0, None).is_err());
        assert!(Cache::<u32, u32>::new(1, Some(0)).is_err());
    }
}
