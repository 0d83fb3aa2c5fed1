package io.rewrap;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Consumer side: opens records with the consumer's own key. Thread-safe; close it. */
public final class Decryptor extends NativeHandle {
    /** Name of the EDEK header. */
    public static final String EDEK_HEADER = "rewrap.edek";
    /** Name of the capsule fragment header (repeated for t-of-n). */
    public static final String CFRAG_HEADER = "rewrap.cfrag";

    public Decryptor(SecretKey secret, PublicKey... admins) {
        this(secret, 0, 0, false, admins);
    }

    /**
     * {@code cacheCapacity} 0 = default (4096 sessions), {@code cacheTtlSecs} 0 = until evicted,
     * {@code allowPlaintext} accepts records without rewrap headers (migrations only).
     */
    public Decryptor(SecretKey secret, int cacheCapacity, long cacheTtlSecs, boolean allowPlaintext,
            PublicKey... admins) {
        super(secret.with(s -> Native.decryptorNew(s, PublicKey.array(admins), cacheCapacity, cacheTtlSecs,
                allowPlaintext)), Native::decryptorFree);
    }

    /**
     * Opens a record read from {@code topic}; {@code value} null is a tombstone (returns null).
     * {@code headers}: (name, value) pairs; only {@code rewrap.*} ones are read. Two EDEK
     * headers are malformed.
     */
    public byte[] open(String topic, byte[] value, List<Map.Entry<String, byte[]>> headers) {
        byte[] edek = null;
        List<byte[]> cfrags = new ArrayList<>(2);
        for (Map.Entry<String, byte[]> h : headers) {
            if (h.getKey().equals(EDEK_HEADER)) {
                if (edek != null) {
                    throw new RewrapException.Malformed("two rewrap.edek headers");
                }
                edek = h.getValue() == null ? new byte[0] : h.getValue();
            } else if (h.getKey().equals(CFRAG_HEADER)) {
                cfrags.add(h.getValue() == null ? new byte[0] : h.getValue());
            }
        }
        return open(topic, value, edek, cfrags);
    }

    /** Opens with the EDEK header value (null if absent) and the fragment header values. */
    private final TopicBytes topics = new TopicBytes();

    public byte[] open(String topic, byte[] value, byte[] edek, List<byte[]> cfrags) {
        byte[][] frags = cfrags.toArray(new byte[0][]);
        byte[] t = topics.of(topic);
        return with(h -> Native.decryptorOpen(h, t, value, edek, frags));
    }

    public Stats.Decryptor stats() {
        return Stats.Decryptor.of(with(Native::decryptorStats));
    }
}
