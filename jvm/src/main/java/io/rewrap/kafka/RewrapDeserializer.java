package io.rewrap.kafka;

import io.rewrap.Decryptor;
import io.rewrap.SecretKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Kafka value deserializer that opens records with this consumer's key and the fragments the
 * rewrap proxy attached. A record this consumer may not read throws a
 * {@link io.rewrap.RewrapException} subclass (the consumer surfaces it as a
 * {@code RecordDeserializationException}). Configuration:
 * <pre>
 * value.deserializer=io.rewrap.kafka.RewrapDeserializer
 * rewrap.consumer.key.file=/etc/rewrap/alice.sec
 * rewrap.admin.key.file=/etc/rewrap/admin.pub
 * </pre>
 */
public class RewrapDeserializer implements Deserializer<byte[]> {
    private Decryptor decryptor;
    private boolean owned = true;

    public RewrapDeserializer() {}

    /** Programmatic use with an existing decryptor (not closed by this deserializer). */
    public RewrapDeserializer(Decryptor decryptor) {
        this.decryptor = decryptor;
        this.owned = false;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (decryptor == null) {
            try (SecretKey key = RewrapConfig.consumerKey(configs)) {
                decryptor = new Decryptor(key, (int) RewrapConfig.getLong(configs, RewrapConfig.CACHE_CAPACITY), 0,
                        Boolean.parseBoolean(RewrapConfig.get(configs, RewrapConfig.ALLOW_PLAINTEXT)),
                        RewrapConfig.adminKeys(configs));
            }
        }
    }

    @Override
    public byte[] deserialize(String topic, byte[] data) {
        // No headers: fails closed (Unencrypted) unless plaintext is allowed.
        return decryptor.open(topic, data, List.of());
    }

    @Override
    public byte[] deserialize(String topic, Headers headers, byte[] data) {
        List<Map.Entry<String, byte[]>> ours = new ArrayList<>(2);
        for (Header h : headers) {
            if (h.key().startsWith("rewrap.")) {
                ours.add(Map.entry(h.key(), h.value() == null ? new byte[0] : h.value()));
            }
        }
        return decryptor.open(topic, data, ours);
    }

    @Override
    public void close() {
        if (owned && decryptor != null) {
            decryptor.close();
        }
    }
}
