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
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Kafka value deserializer that opens records with this consumer's key and the fragments the
 * rewrap proxy attached. A record this consumer may not read throws a
 * {@link io.rewrap.RewrapException} subclass (the consumer surfaces it as a
 * {@code RecordDeserializationException}). Configuration:
 * <pre>
 * key.deserializer=io.rewrap.kafka.RewrapKeyDeserializer
 * value.deserializer=io.rewrap.kafka.RewrapDeserializer
 * rewrap.consumer.key.file=/etc/rewrap/alice.sec
 * rewrap.admin.key.file=/etc/rewrap/admin.pub
 * rewrap.producer.grant.dir=/var/lib/rewrap/grants
 * </pre>
 * Every sealed value is bound to its record key, which a value deserializer sees only through
 * {@link RewrapKeyDeserializer}; this deserializer refuses to open records
 * ({@link io.rewrap.RewrapException.InvalidArgument}) unless {@code key.deserializer} names
 * it, or it was paired in code ({@link #RewrapDeserializer(Decryptor, RewrapKeyDeserializer)}).
 * Producer signatures are required by default: configure producer grants, channel keys or a
 * policy as {@link RewrapConfig} describes.
 * <p>
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
    /** Whether {@link RewrapKeyDeserializer} runs before this one for every non-null key. */
    private boolean keysRecorded;

    public RewrapDeserializer() {}

    /**
     * Programmatic use with an existing decryptor (not closed by this deserializer). Kafka does
     * not configure deserializer instances given in code, so this one cannot confirm that
     * {@link RewrapKeyDeserializer} is installed: use the two-argument constructor, or
     * {@link #deserialize(String, Headers, byte[], byte[])}.
     */
    public RewrapDeserializer(Decryptor decryptor) {
        this.decryptor = decryptor;
        this.owned = false;
    }

    /**
     * Programmatic use, paired with the key deserializer given to the same consumer (Kafka
     * calls it only for non-null keys; a record it did not see is read as having a null key).
     */
    public RewrapDeserializer(Decryptor decryptor, RewrapKeyDeserializer<?> keyDeserializer) {
        this(decryptor);
        if (keyDeserializer == null) {
            throw new NullPointerException("keyDeserializer is null");
        }
        this.keysRecorded = true;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        if (isKey) {
            throw new RewrapException.InvalidArgument("RewrapDeserializer opens values; for keys use RewrapKeyDeserializer");
        }
        keysRecorded |= RecordKeys.names(configs.get(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG),
                RewrapKeyDeserializer.class);
        if (decryptor == null) {
            Decryptor d;
            try (SecretKey key = RewrapConfig.consumerKey(configs)) {
                d = new Decryptor(key, RewrapConfig.cacheCapacity(configs), 0,
                        RewrapConfig.allowPlaintext(configs), RewrapConfig.adminKeys(configs));
            }
            try {
                RewrapConfig.applyAuthenticity(configs, d);
            } catch (RuntimeException failure) {
                d.close();
                throw failure;
            }
            decryptor = d;
        }
    }

    /**
     * Without headers a record cannot be decrypted: this fails closed
     * ({@link io.rewrap.RewrapException.Unencrypted}) unless plaintext is allowed, in which case
     * every value it returns is unauthenticated (there is no header to mark it with).
     */
    @Override
    public byte[] deserialize(String topic, byte[] data) {
        return decryptor.open(topic, null, data, List.of()).value();
    }

    /**
     * Opens {@code data} under the key {@link RewrapKeyDeserializer} recorded for this record
     * (none recorded: a null key, as Kafka skips the key deserializer for those).
     */
    @Override
    public byte[] deserialize(String topic, Headers headers, byte[] data) {
        RecordKeys.Entry key = RecordKeys.take(headers);
        if (key == null && !keysRecorded) {
            throw new RewrapException.InvalidArgument("cannot tell the record key: set "
                    + ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG + "=" + RewrapKeyDeserializer.class.getName()
                    + " (sealed values bind their record key)");
        }
        return deserialize(topic, headers, key == null ? null : key.key(), data);
    }

    /**
     * Opens {@code data} read with the Kafka key {@code key} (its bytes as consumed; null for
     * a null key): for callers holding the record themselves.
     */
    public byte[] deserialize(String topic, Headers headers, byte[] key, byte[] data) {
        return open(topic, headers, key, data).value();
    }

    /** As {@link #deserialize(String, Headers, byte[], byte[])}, keeping what the record was. */
    Opened open(String topic, Headers headers, byte[] key, byte[] data) {
        List<Map.Entry<String, byte[]>> all = new ArrayList<>();
        for (Header h : headers) {
            all.add(new AbstractMap.SimpleImmutableEntry<>(h.key(), h.value()));
        }
        Opened opened = decryptor.open(topic, key, data, all);
        if (opened.kind() == Opened.Kind.UNENCRYPTED_ALLOWED) {
            try {
                headers.add(UNAUTHENTICATED_HEADER, UNAUTHENTICATED_VALUE.clone());
            } catch (IllegalStateException readOnly) {
                // Unmarked plaintext could pass for decrypted data: refuse it instead.
                throw new RewrapException.Unencrypted("plaintext record with read-only headers: cannot add "
                        + UNAUTHENTICATED_HEADER);
            }
        }
        return opened;
    }

    @Override
    public void close() {
        if (owned && decryptor != null) {
            decryptor.close();
        }
    }
}
