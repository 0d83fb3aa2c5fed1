package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.Encryptor;
import io.rewrap.RewrapException;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka value serializer that seals each record under its record key and adds the headers the
 * engine chose ({@value Constants#EDEK_HEADER}, and the signature headers when signing);
 * tombstones (null values) stay tombstones. Turn it on with configuration only:
 * <pre>
 * key.serializer=io.rewrap.kafka.RewrapKeySerializer
 * value.serializer=io.rewrap.kafka.RewrapSerializer
 * rewrap.delegating.key.file=/etc/rewrap/orders.pub
 * rewrap.signing.key.file=/etc/rewrap/producer-a.sec
 * </pre>
 * The key serializer must be {@link RewrapKeySerializer} (wrapping yours): every sealed value
 * binds its record key, and a value serializer sees the key only through it. Without it this
 * serializer refuses to seal rather than bind the wrong key. Signing
 * ({@value RewrapConfig#SIGNING_KEY_FILE}, {@value RewrapConfig#SIGNING_MODE}) is what
 * consumers require by default; see {@link RewrapConfig}.
 */
public class RewrapSerializer implements Serializer<byte[]> {
    private Encryptor encryptor;
    private boolean owned = true;

    public RewrapSerializer() {}

    /** Programmatic use with an existing encryptor (not closed by this serializer). */
    public RewrapSerializer(Encryptor encryptor) {
        this.encryptor = encryptor;
        this.owned = false;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (isKey) {
            throw new RewrapException.InvalidArgument("RewrapSerializer seals values; for keys use RewrapKeySerializer");
        }
        Object keySerializer = configs.get(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG);
        if (keySerializer != null && !RecordKeys.names(keySerializer, RewrapKeySerializer.class)) {
            throw new RewrapException.InvalidArgument(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG + " must be "
                    + RewrapKeySerializer.class.getName() + " (wrapping yours through "
                    + RewrapKeySerializer.INNER_KEY_SERIALIZER + "): sealed values bind their record key");
        }
        if (encryptor == null) {
            Encryptor e = new Encryptor(RewrapConfig.delegatingKey(configs),
                    RewrapConfig.rotationMaxMessages(configs), RewrapConfig.rotationMaxAgeSecs(configs));
            try {
                RewrapConfig.applySigner(configs, e);
                RewrapConfig.applyCompression(configs, e);
            } catch (RuntimeException failure) {
                e.close();
                throw failure;
            }
            encryptor = e;
        }
    }

    @Override
    public byte[] serialize(String topic, byte[] data) {
        throw new RewrapException.InvalidArgument("rewrap needs the record headers; use serialize(topic, headers, data)");
    }

    /** Seals {@code data} under the key {@link RewrapKeySerializer} recorded for this record. */
    @Override
    public byte[] serialize(String topic, Headers headers, byte[] data) {
        RecordKeys.Entry key = RecordKeys.take(headers);
        if (data == null) {
            return null; // tombstones stay tombstones
        }
        if (key == null) {
            throw new RewrapException.InvalidArgument("the record key was not seen: set "
                    + ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG + "=" + RewrapKeySerializer.class.getName()
                    + " (sealed values bind their record key)");
        }
        return serialize(topic, headers, key.key(), data);
    }

    /**
     * Seals {@code data} under the record key {@code key} (the serialized key as it will be
     * produced; null for a null key) and adds the headers: for callers building records
     * themselves.
     */
    public byte[] serialize(String topic, Headers headers, byte[] key, byte[] data) {
        if (data == null) {
            return null;
        }
        Encryptor.Sealed sealed = encryptor.seal(topic, key, data);
        for (Map.Entry<String, byte[]> h : sealed.headers()) {
            headers.add(h.getKey(), h.getValue());
        }
        return sealed.value();
    }

    @Override
    public void close() {
        if (owned && encryptor != null) {
            encryptor.close();
        }
    }
}
