package io.rewrap;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Consumer side: opens records with the consumer's own key. Pass every header of the record
 * as received, and its Kafka key: the engine picks the rewrap headers (and refuses smuggled or
 * duplicated ones). By default ({@link Policy#REQUIRE}) a record opens only when signed by a
 * producer holding a producer grant ({@link #addProducerGrant}) or vouched for by a trusted
 * channel key ({@link #trustChannelKey}). Thread-safe; close it.
 */
public final class Decryptor extends NativeHandle {
    private final TopicBytes topics = new TopicBytes();

    public Decryptor(SecretKey secret, PublicKey... admins) {
        this(secret, 0, 0, false, admins);
    }

    /**
     * {@code cacheCapacity} 0 = default ({@value Constants#DEFAULT_DECRYPTOR_CACHE_CAPACITY}
     * sessions), {@code cacheTtlSecs} 0 = until evicted, {@code allowPlaintext} accepts records
     * without rewrap headers (migrations only), reported as {@link Opened.Kind#UNENCRYPTED_ALLOWED}.
     */
    public Decryptor(SecretKey secret, int cacheCapacity, long cacheTtlSecs, boolean allowPlaintext,
            PublicKey... admins) {
        super(secret.with(s -> Native.decryptorNew(s, PublicKey.array(admins), cacheCapacity, cacheTtlSecs,
                allowPlaintext)), Native::decryptorFree);
    }

    /**
     * Opens a record read from {@code topic}: {@code key} is its Kafka key (null for a null
     * key, which differs from an empty one), {@code value} null is a tombstone.
     * {@code headers} are all of the record's headers, in order, as (name, value) pairs; a null
     * value counts as empty.
     */
    public Opened open(String topic, byte[] key, byte[] value,
            Collection<? extends Map.Entry<String, byte[]>> headers) {
        String[] names = new String[headers.size()];
        byte[][] values = new byte[names.length][];
        int i = 0;
        for (Map.Entry<String, byte[]> h : headers) {
            names[i] = h.getKey();
            values[i] = h.getValue();
            i++;
        }
        return open(topic, key, value, names, values);
    }

    /**
     * Opens a record whose headers are {@code headers} (e.g. {@link Encryptor.Sealed#headers()})
     * followed by the capsule fragment header values {@code cfrags}: for callers holding those
     * rather than a Kafka record.
     */
    public Opened open(String topic, byte[] key, byte[] value,
            Collection<? extends Map.Entry<String, byte[]>> headers, List<byte[]> cfrags) {
        String[] names = new String[headers.size() + cfrags.size()];
        byte[][] values = new byte[names.length][];
        int i = 0;
        for (Map.Entry<String, byte[]> h : headers) {
            names[i] = h.getKey();
            values[i] = h.getValue();
            i++;
        }
        for (byte[] c : cfrags) {
            names[i] = Constants.CFRAG_HEADER;
            values[i] = c;
            i++;
        }
        return open(topic, key, value, names, values);
    }

    private Opened open(String topic, byte[] key, byte[] value, String[] names, byte[][] values) {
        byte[] t = topics.of(topic);
        long[] meta = new long[5];
        byte[] ids = new byte[Constants.SESSION_ID_LEN + Constants.PUBLIC_KEY_LEN];
        byte[] payload = with(h -> Native.decryptorOpen(h, t, key, value, names, values, meta, ids));
        Opened.Kind kind = Opened.Kind.of((int) meta[0]);
        if (kind != Opened.Kind.DECRYPTED) {
            return new Opened(kind, payload, null, 0, Opened.Vouch.UNSIGNED, null, null);
        }
        PublicKey producer = meta[4] == 0 ? null : producer(ids);
        return new Opened(kind, payload, Arrays.copyOf(ids, Constants.SESSION_ID_LEN), meta[1],
                Opened.Vouch.of((int) meta[2]), producer, SigningMode.of((int) meta[3]));
    }

    /** The producer key at the end of {@code ids}, reusing the last one seen (most are). */
    private PublicKey producer(byte[] ids) {
        PublicKey last = lastProducer;
        if (last != null && Arrays.equals(last.raw(), 0, Constants.PUBLIC_KEY_LEN, ids,
                Constants.SESSION_ID_LEN, ids.length)) {
            return last;
        }
        PublicKey p = new PublicKey(Arrays.copyOfRange(ids, Constants.SESSION_ID_LEN, ids.length));
        lastProducer = p;
        return p;
    }

    private volatile PublicKey lastProducer;

    /**
     * Sets the signature policy of {@code topic}, or the default for every topic when
     * {@code topic} is null. The default is {@link Policy#REQUIRE}.
     */
    public void setPolicy(Policy policy, String topic) {
        String p = policy.engineName();
        with(h -> {
            Native.decryptorSetPolicy(h, topic, p);
            return null;
        });
    }

    /** The policy {@code topic} is read under. */
    public Policy policy(String topic) {
        return Policy.parse(with(h -> Native.decryptorPolicy(h, topic)));
    }

    /** Verifies a producer grant against the trusted administrators and accepts its producer. */
    public void addProducerGrant(ProducerGrant grant) {
        addProducerGrant(grant.raw());
    }

    /** Same, from its serialized form. */
    public void addProducerGrant(byte[] grant) {
        with(h -> {
            Native.decryptorAddProducerGrant(h, grant);
            return null;
        });
    }

    /**
     * Installs every valid producer grant in a grant store directory (as written by
     * {@code rewrap grant-producer}); returns how many. Grants that do not parse or verify are
     * skipped: their producers stay unauthorized.
     */
    public int loadProducerGrants(Path dir) {
        String d = dir.toString();
        return with(h -> Native.decryptorLoadProducerGrants(h, d));
    }

    /** Stops accepting {@code producer} on {@code topic}; returns whether it had a grant. */
    public boolean revokeProducer(String topic, PublicKey producer) {
        return with(h -> Native.decryptorRevokeProducer(h, topic, producer.raw()));
    }

    /**
     * Trusts {@code key} as {@code topic}'s channel signing key: records carrying a channel
     * signature by it (attached by a re-encryptor that checked the producer) are accepted.
     */
    public void trustChannelKey(String topic, PublicKey key) {
        with(h -> {
            Native.decryptorTrustChannelKey(h, topic, key.raw());
            return null;
        });
    }

    public Stats.Decryptor stats() {
        return Stats.Decryptor.of(with(Native::decryptorStats));
    }
}
