//! Plain-data counters returned by value to C.

use rewrap::{CacheStats, DecryptorStats, ReEncryptorStats};

/// Counters of a bounded cache.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rewrap_cache_stats {
    /// Look-ups answered from the cache.
    pub hits: u64,
    /// Look-ups that computed the value.
    pub misses: u64,
    /// Entries dropped for capacity or age.
    pub evictions: u64,
    /// Entries held now.
    pub entries: u64,
    /// Maximum entries.
    pub capacity: u64,
}

impl From<CacheStats> for rewrap_cache_stats {
    fn from(s: CacheStats) -> Self {
        rewrap_cache_stats {
            hits: s.hits,
            misses: s.misses,
            evictions: s.evictions,
            entries: s.entries as u64,
            capacity: s.capacity as u64,
        }
    }
}

/// Counters of a re-encryptor.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rewrap_reencryptor_stats {
    /// The fragment cache.
    pub cache: rewrap_cache_stats,
    /// Umbral re-encryptions performed.
    pub reencryptions: u64,
    /// Requests refused (not granted, revoked, expired, wrong topic).
    pub refused: u64,
    /// Grants held.
    pub grants: u64,
}

impl From<ReEncryptorStats> for rewrap_reencryptor_stats {
    fn from(s: ReEncryptorStats) -> Self {
        rewrap_reencryptor_stats {
            cache: s.cache.into(),
            reencryptions: s.reencryptions,
            refused: s.refused,
            grants: s.grants as u64,
        }
    }
}

/// Counters of a decryptor.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct rewrap_decryptor_stats {
    /// The DEK cache.
    pub cache: rewrap_cache_stats,
    /// Umbral opens performed (one per producer session on a warm cache).
    pub dek_opens: u64,
    /// Fragment headers skipped (malformed, or failing verification beside usable ones).
    pub skipped_cfrags: u64,
}

impl From<DecryptorStats> for rewrap_decryptor_stats {
    fn from(s: DecryptorStats) -> Self {
        rewrap_decryptor_stats {
            cache: s.cache.into(),
            dek_opens: s.dek_opens,
            skipped_cfrags: s.skipped_cfrags,
        }
    }
}
