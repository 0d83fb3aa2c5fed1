package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.Decryptor;
import io.rewrap.Opened;
import io.rewrap.RewrapException;
import io.rewrap.SecretKey;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
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
 * With {@code rewrap.allow.plaintext=true} (migrations only), a record without rewrap headers
 * is returned as it is, unauthenticated: this deserializer then adds the header
 * {@value #UNAUTHENTICATED_HEADER} (value {@code "1"}) to the record's {@code Headers}, so the
 * application can tell it from a decrypted record, which never gets that header. Check
 * {@code headers.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER) != null} before
 * trusting a value.
 */
public class RewrapDeserializer implements Deserializer<byte[]> {
    /** Added to a record passed through unauthenticated because plaintext is allowed. */
    public static final String UNAUTHENTICATED_HEADER = Constants.UNAUTHENTICATED_HEADER;

    private static final byte[] UNAUTHENTICATED_VALUE = "1".getBytes(StandardCharsets.US_ASCII);

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
                decryptor = new Decryptor(key, RewrapConfig.cacheCapacity(configs), 0,
                        RewrapConfig.allowPlaintext(configs), RewrapConfig.adminKeys(configs));
            }
        }
    }

    /**
     * Without headers a record cannot be decrypted: this fails closed
     * ({@link io.rewrap.RewrapException.Unencrypted}) unless plaintext is allowed, in which case
     * every value it returns is unauthenticated (there is no header to mark it with).
     */
    @Override
    public byte[] deserialize(String topic, byte[] data) {
        return decryptor.open(topic, data, List.of()).value();
    }

    @Override
    public byte[] deserialize(String topic, Headers headers, byte[] data) {
        List<Map.Entry<String, byte[]>> all = new ArrayList<>();
        for (Header h : headers) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(h.key(), h.value()));
        }
        Opened opened = decryptor.open(topic, data, all);
        if (opened.kind() == Opened.Kind.UNENCRYPTED_ALLOWED) {
            try {
                headers.add(UNAUTHENTICATED_HEADER, UNAUTHENTICATED_VALUE.clone());
            } catch (IllegalStateException readOnly) {
                // Unmarked plaintext could pass for decrypted data: refuse it instead.
                throw new RewrapException.Unencrypted("plaintext record with read-only headers: cannot add "
                        + UNAUTHENTICATED_HEADER);
            }
        }
        return opened.value();
    }

    @Override
    public void close() {
        if (owned && decryptor != null) {
            decryptor.close();
        }
    }
}
