package io.rewrap.kafka;

import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Key deserializer that lets {@link RewrapDeserializer} check each record's value against its
 * key (a value moved to another key fails with
 * {@link io.rewrap.RewrapException.AuthenticationFailed}). It wraps the key deserializer you
 * would use anyway:
 * <pre>
 * key.deserializer=io.rewrap.kafka.RewrapKeyDeserializer
 * rewrap.inner.key.deserializer=org.apache.kafka.common.serialization.StringDeserializer
 * </pre>
 * ({@value #INNER_KEY_DESERIALIZER} defaults to {@code ByteArrayDeserializer}.) Kafka calls a
 * key deserializer only for a non-null key, so {@link RewrapDeserializer} reads "nothing
 * recorded" as a null key, which is sound only with this class installed: it refuses to open
 * records when it cannot tell that it is.
 */
public class RewrapKeyDeserializer<T> implements Deserializer<T> {
    /** Class name of the wrapped key deserializer (default {@code ByteArrayDeserializer}). */
    public static final String INNER_KEY_DESERIALIZER = "rewrap.inner.key.deserializer";

    private Deserializer<T> inner;

    public RewrapKeyDeserializer() {}

    /** Programmatic use: wraps {@code inner} (configured and closed with this one). */
    public RewrapKeyDeserializer(Deserializer<T> inner) {
        this.inner = inner;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (inner == null) {
            String name = RewrapConfig.get(configs, INNER_KEY_DESERIALIZER);
            inner = (Deserializer<T>) RewrapConfig.newInstance(INNER_KEY_DESERIALIZER,
                    name == null ? ByteArrayDeserializer.class.getName() : name);
        }
        inner.configure(configs, isKey);
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        return inner.deserialize(topic, data);
    }

    @Override
    public T deserialize(String topic, Headers headers, byte[] data) {
        // Recorded before the inner deserializer runs: if it throws, the value is never read.
        if (headers != null) {
            RecordKeys.put(headers, data);
        }
        return inner.deserialize(topic, headers, data);
    }

    @Override
    public void close() {
        if (inner != null) {
            inner.close();
        }
    }
}
