package io.rewrap.kafka;

import io.rewrap.Decryptor;
import io.rewrap.RewrapException;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Composes rewrap with another deserializer: rewrap opens the record, the inner one parses the
 * plaintext. Configured with {@code rewrap.inner.deserializer} plus the
 * {@link RewrapDeserializer} properties (including {@link RewrapKeyDeserializer} as the key
 * deserializer), or in code. As with {@link RewrapDeserializer}, a
 * plaintext record let through by {@code rewrap.allow.plaintext} carries the
 * {@value RewrapDeserializer#UNAUTHENTICATED_HEADER} header (added before the inner
 * deserializer runs, so it sees the header too).
 */
public class OpeningDeserializer<T> implements Deserializer<T> {
    /** Class name of the inner deserializer. */
    public static final String INNER_DESERIALIZER = "rewrap.inner.deserializer";

    private Deserializer<T> inner;
    private final RewrapDeserializer rewrap;

    public OpeningDeserializer() {
        this.rewrap = new RewrapDeserializer();
    }

    /** Programmatic use; see {@link RewrapDeserializer#RewrapDeserializer(Decryptor)}. */
    public OpeningDeserializer(Deserializer<T> inner, Decryptor decryptor) {
        this.inner = inner;
        this.rewrap = new RewrapDeserializer(decryptor);
    }

    /**
     * Programmatic use, paired with the consumer's key deserializer; see
     * {@link RewrapDeserializer#RewrapDeserializer(Decryptor, RewrapKeyDeserializer)}.
     */
    public OpeningDeserializer(Deserializer<T> inner, Decryptor decryptor, RewrapKeyDeserializer<?> keyDeserializer) {
        this.inner = inner;
        this.rewrap = new RewrapDeserializer(decryptor, keyDeserializer);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (inner == null) {
            String name = RewrapConfig.get(configs, INNER_DESERIALIZER);
            if (name == null) {
                throw new RewrapException.InvalidArgument("set " + INNER_DESERIALIZER);
            }
            inner = (Deserializer<T>) RewrapConfig.newInstance(INNER_DESERIALIZER, name);
        }
        inner.configure(configs, isKey);
        rewrap.configure(configs, isKey);
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        return inner.deserialize(topic, rewrap.deserialize(topic, data));
    }

    @Override
    public T deserialize(String topic, Headers headers, byte[] data) {
        return inner.deserialize(topic, headers, rewrap.deserialize(topic, headers, data));
    }

    @Override
    public void close() {
        inner.close();
        rewrap.close();
    }
}
