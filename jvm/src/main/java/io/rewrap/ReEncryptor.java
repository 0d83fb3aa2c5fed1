package io.rewrap;

import java.util.List;

/**
 * Broker side: verified grants and a bounded cache of capsule fragments; also the notary that
 * checks producer signatures ({@link #attest}) before fragments are served and, with a
 * channel seed, vouches for checked records with a channel signature. Thread-safe.
 */
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

    /**
     * Sets the producer-signature policy of {@code topic}, or the default when {@code topic}
     * is null (the default default is {@link Policy#REQUIRE}).
     */
    public void setPolicy(Policy policy, String topic) {
        String p = policy.engineName();
        with(h -> {
            Native.reencryptorSetPolicy(h, topic, p);
            return null;
        });
    }

    /** Derives channel signing keys from this 32-byte seed; null attaches no channel signature. */
    public void setChannelSeed(byte[] seed) {
        with(h -> {
            Native.reencryptorSetChannelSeed(h, seed);
            return null;
        });
    }

    /** {@code topic}'s channel verifying key (what consumers trust), or null without a seed. */
    public PublicKey channelKey(String topic) {
        byte[] key = with(h -> Native.reencryptorChannelKey(h, topic));
        return key == null ? null : new PublicKey(key);
    }

    /** Verifies and installs a producer grant. */
    public void addProducerGrant(ProducerGrant grant) {
        addProducerGrant(grant.raw());
    }

    /** Same, from its serialized form. */
    public void addProducerGrant(byte[] grant) {
        with(h -> {
            Native.reencryptorAddProducerGrant(h, grant);
            return null;
        });
    }

    /** Removes {@code producer}'s grant for {@code topic}; returns whether it had one. */
    public boolean revokeProducer(String topic, PublicKey producer) {
        return with(h -> Native.reencryptorRevokeProducer(h, topic, producer.raw()));
    }

    /**
     * Checks a record's producer signature ({@code sig}: its {@code rewrap.sig} header value,
     * null when absent) under {@code topic}'s policy. Returns the channel signature header
     * value to attach ({@code rewrap.chsig}), or null for none; throws the error that refuses
     * the record's fragments.
     */
    public byte[] attest(String topic, byte[] edek, byte[] sig) {
        return with(h -> Native.reencryptorAttest(h, topic, edek, sig));
    }

    public Stats.ReEncryptor stats() {
        return Stats.ReEncryptor.of(with(Native::reencryptorStats));
    }
}
