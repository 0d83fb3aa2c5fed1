package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.Encryptor;
import io.rewrap.RewrapException;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka value serializer that seals each record and adds the {@value Constants#EDEK_HEADER}
 * header; tombstones (null values) stay tombstones. Turn it on with configuration only:
 * <pre>
 * value.serializer=io.rewrap.kafka.RewrapSerializer
 * rewrap.delegating.key.file=/etc/rewrap/orders.pub
 * </pre>
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
        if (encryptor == null) {
            encryptor = new Encryptor(RewrapConfig.delegatingKey(configs),
                    RewrapConfig.rotationMaxMessages(configs), RewrapConfig.rotationMaxAgeSecs(configs));
        }
    }

    @Override
    public byte[] serialize(String topic, byte[] data) {
        throw new RewrapException.InvalidArgument("rewrap needs the record headers; use serialize(topic, headers, data)");
    }

    @Override
    public byte[] serialize(String topic, Headers headers, byte[] data) {
        if (data == null) {
            return null; // tombstones stay tombstones
        }
        Encryptor.Sealed sealed = encryptor.seal(topic, data);
        headers.add(Constants.EDEK_HEADER, sealed.edek());
        return sealed.value();
    }

    @Override
    public void close() {
        if (owned && encryptor != null) {
            encryptor.close();
        }
    }
}
