package io.rewrap.kafka;

import org.apache.kafka.common.header.Headers;

/**
 * Hands a record's serialized key from the key serde to the value serde of the same record.
 * A Kafka value serde never sees the key, but both serdes of one record run on one thread, one
 * after the other, with the same {@code Headers} object; so the key wrapper leaves the key
 * here under that object's identity and the value side takes it. Nothing travels in the
 * record (a marker header could be forged by whoever wrote the record, and would reach the
 * broker if the value serde were not ours). The reference is strong, so no other
 * {@code Headers} can share the identity while an entry waits.
 */
final class RecordKeys {
    private RecordKeys() {}

    /** A recorded key ({@code key} null: a null Kafka key). */
    record Entry(Headers headers, byte[] key) {}

    private static final ThreadLocal<Entry> PENDING = new ThreadLocal<>();

    static void put(Headers headers, byte[] key) {
        PENDING.set(new Entry(headers, key));
    }

    /** The entry recorded for exactly this {@code headers} object on this thread, or null. */
    static Entry take(Headers headers) {
        Entry e = PENDING.get();
        if (e == null || e.headers() != headers) {
            return null;
        }
        PENDING.remove();
        return e;
    }

    /**
     * Whether the client property {@code name} names {@code wrapper} (or a subclass): Kafka
     * passes every serde the client's properties, with a class given as a Class or a name,
     * and replaces an instance given in code by its class.
     */
    static boolean names(Object configured, Class<?> wrapper) {
        if (configured instanceof Class<?> c) {
            return wrapper.isAssignableFrom(c);
        }
        if (configured instanceof String s) {
            try {
                return wrapper.isAssignableFrom(Class.forName(s.strip(), false, wrapper.getClassLoader()));
            } catch (ClassNotFoundException e) {
                return false;
            }
        }
        return false;
    }
}
