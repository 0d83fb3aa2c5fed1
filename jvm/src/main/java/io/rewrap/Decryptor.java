package io.rewrap;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Consumer side: opens records with the consumer's own key. Pass every header of the record
 * as received: the engine picks the rewrap ones (and refuses smuggled or duplicated ones).
 * Thread-safe; close it.
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
     * Opens a record read from {@code topic}; {@code value} null is a tombstone. {@code headers}
     * are all of the record's headers, in order, as (name, value) pairs; a null value counts as
     * empty.
     */
    public Opened open(String topic, byte[] value, Collection<? extends Map.Entry<String, byte[]>> headers) {
        String[] names = new String[headers.size()];
        byte[][] values = new byte[names.length][];
        int i = 0;
        for (Map.Entry<String, byte[]> h : headers) {
            names[i] = h.getKey();
            values[i] = h.getValue();
            i++;
        }
        return open(topic, value, names, values);
    }

    /**
     * Opens a record whose headers are its EDEK header value ({@code edek}, null if it has
     * none) and its capsule fragment header values: for callers holding those rather than a
     * Kafka record.
     */
    public Opened open(String topic, byte[] value, byte[] edek, List<byte[]> cfrags) {
        int first = edek == null ? 0 : 1;
        String[] names = new String[first + cfrags.size()];
        byte[][] values = new byte[names.length][];
        if (edek != null) {
            names[0] = Constants.EDEK_HEADER;
            values[0] = edek;
        }
        for (int i = first; i < names.length; i++) {
            names[i] = Constants.CFRAG_HEADER;
            values[i] = cfrags.get(i - first);
        }
        return open(topic, value, names, values);
    }

    private Opened open(String topic, byte[] value, String[] names, byte[][] values) {
        byte[] t = topics.of(topic);
        int[] kind = new int[1];
        byte[] payload = with(h -> Native.decryptorOpen(h, t, value, names, values, kind));
        return new Opened(Opened.Kind.of(kind[0]), payload);
    }

    public Stats.Decryptor stats() {
        return Stats.Decryptor.of(with(Native::decryptorStats));
    }
}
