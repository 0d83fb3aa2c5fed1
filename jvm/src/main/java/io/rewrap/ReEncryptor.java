package io.rewrap;

import java.util.List;

/** Broker side: verified grants and a bounded cache of capsule fragments. Thread-safe. */
public final class ReEncryptor extends NativeHandle {
    public ReEncryptor(PublicKey... admins) {
        this(0, 0, admins);
    }

    /**
     * {@code cacheCapacity} 0 = default ({@value Constants#DEFAULT_REENCRYPTOR_CACHE_CAPACITY});
     * {@code cacheTtlSecs} 0 = until evicted.
     */
    public ReEncryptor(int cacheCapacity, long cacheTtlSecs, PublicKey... admins) {
        super(Native.reencryptorNew(PublicKey.array(admins), cacheCapacity, cacheTtlSecs), Native::reencryptorFree);
    }

    /** Verifies and installs a grant. */
    public void addGrant(Grant grant) {
        with(h -> {
            Native.reencryptorAddGrant(h, grant.raw());
            return null;
        });
    }

    /** Revokes {@code consumer} on {@code topic}; returns how many grants were removed. */
    public int revoke(String topic, String consumer) {
        return with(h -> Native.reencryptorRevoke(h, topic, consumer));
    }

    /** The {@code rewrap.cfrag} header values for {@code consumer} reading an EDEK of {@code topic}. */
    public List<byte[]> reencrypt(String topic, byte[] edek, String consumer) {
        return List.of(with(h -> Native.reencryptorReencrypt(h, topic, edek, consumer)));
    }

    public Stats.ReEncryptor stats() {
        return Stats.ReEncryptor.of(with(Native::reencryptorStats));
    }
}
