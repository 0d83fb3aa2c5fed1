package io.rewrap.kafka;

import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Key serializer that lets {@link RewrapSerializer} bind each record's key into its sealed
 * value (a consumer then refuses the value under any other key). It wraps the key serializer
 * you would use anyway and passes its bytes through unchanged:
 * <pre>
 * key.serializer=io.rewrap.kafka.RewrapKeySerializer
 * rewrap.inner.key.serializer=org.apache.kafka.common.serialization.StringSerializer
 * </pre>
 * ({@value #INNER_KEY_SERIALIZER} defaults to {@code ByteArraySerializer}.) Required with
 * {@link RewrapSerializer}: without it the value serializer cannot know the key and refuses
 * to seal.
 */
public class RewrapKeySerializer<T> implements Serializer<T> {
    /** Class name of the wrapped key serializer (default {@code ByteArraySerializer}). */
    public static final String INNER_KEY_SERIALIZER = "rewrap.inner.key.serializer";

    private Serializer<T> inner;

    public RewrapKeySerializer() {}

    /** Programmatic use: wraps {@code inner} (configured and closed with this one). */
    public RewrapKeySerializer(Serializer<T> inner) {
        this.inner = inner;
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (inner == null) {
            String name = RewrapConfig.get(configs, INNER_KEY_SERIALIZER);
            inner = (Serializer<T>) RewrapConfig.newInstance(INNER_KEY_SERIALIZER,
                    name == null ? ByteArraySerializer.class.getName() : name);
        }
        inner.configure(configs, isKey);
    }

    @Override
    public byte[] serialize(String topic, T data) {
        return inner.serialize(topic, data);
    }

    @Override
    public byte[] serialize(String topic, Headers headers, T data) {
        byte[] key = inner.serialize(topic, headers, data);
        if (headers != null) {
            RecordKeys.put(headers, key);
        }
        return key;
    }

    @Override
    public void close() {
        if (inner != null) {
            inner.close();
        }
    }
}
