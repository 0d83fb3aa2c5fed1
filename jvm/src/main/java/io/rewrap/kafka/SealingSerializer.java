package io.rewrap.kafka;

import io.rewrap.Encryptor;
import io.rewrap.RewrapException;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Composes rewrap with another serializer (String, JSON, Avro bytes...): the inner one makes
 * the bytes, rewrap seals them (a null from the inner serializer stays a tombstone). By
 * configuration:
 * <pre>
 * key.serializer=io.rewrap.kafka.RewrapKeySerializer
 * value.serializer=io.rewrap.kafka.SealingSerializer
 * rewrap.inner.serializer=org.apache.kafka.common.serialization.StringSerializer
 * rewrap.delegating.key.file=/etc/rewrap/orders.pub
 * </pre>
 * or in code: {@code new SealingSerializer<>(new StringSerializer(), encryptor)}.
 */
public class SealingSerializer<T> implements Serializer<T> {
    /** Class name of the inner serializer (configured through Kafka like any serializer). */
    public static final String INNER_SERIALIZER = "rewrap.inner.serializer";

    private Serializer<T> inner;
    private final RewrapSerializer rewrap;

    public SealingSerializer() {
        this.rewrap = new RewrapSerializer();
    }

    public SealingSerializer(Serializer<T> inner, Encryptor encryptor) {
        this.inner = inner;
        this.rewrap = new RewrapSerializer(encryptor);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (inner == null) {
            String name = RewrapConfig.get(configs, INNER_SERIALIZER);
            if (name == null) {
                throw new RewrapException.InvalidArgument("set " + INNER_SERIALIZER);
            }
            inner = (Serializer<T>) RewrapConfig.newInstance(INNER_SERIALIZER, name);
        }
        inner.configure(configs, isKey);
        rewrap.configure(configs, isKey);
    }

    @Override
    public byte[] serialize(String topic, T data) {
        return rewrap.serialize(topic, inner.serialize(topic, data));
    }

    @Override
    public byte[] serialize(String topic, Headers headers, T data) {
        return rewrap.serialize(topic, headers, inner.serialize(topic, headers, data));
    }

    /** Seals under an explicit record key (serialized; null for none): see {@link RewrapSerializer}. */
    public byte[] serialize(String topic, Headers headers, byte[] key, T data) {
        return rewrap.serialize(topic, headers, key, inner.serialize(topic, headers, data));
    }

    @Override
    public void close() {
        inner.close();
        rewrap.close();
    }
}
