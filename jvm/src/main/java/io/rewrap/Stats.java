package io.rewrap;

/** Counters of the engine's caches. */
public final class Stats {
    private Stats() {}

    /** A bounded cache. */
    public record Cache(long hits, long misses, long evictions, long entries, long capacity) {
        public double hitRate() {
            long total = hits + misses;
            return total == 0 ? 0.0 : (double) hits / total;
        }
    }

    /** A re-encryptor: its fragment cache, Umbral re-encryptions, refusals, grants held. */
    public record ReEncryptor(Cache cache, long reencryptions, long refused, long grants) {
        static ReEncryptor of(long[] v) {
            return new ReEncryptor(new Cache(v[0], v[1], v[2], v[3], v[4]), v[5], v[6], v[7]);
        }
    }

    /** A decryptor: its DEK cache and Umbral opens. */
    public record Decryptor(Cache cache, long dekOpens) {
        static Decryptor of(long[] v) {
            return new Decryptor(new Cache(v[0], v[1], v[2], v[3], v[4]), v[5]);
        }
    }
}
