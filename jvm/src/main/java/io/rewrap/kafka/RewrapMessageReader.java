package io.rewrap.kafka;

import io.rewrap.RewrapException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.tools.api.RecordReader;

/**
 * Line reader for {@code kafka-console-producer} that seals every value it reads, the way
 * {@link RewrapSerializer} does (the console producer always sends with
 * {@code ByteArraySerializer}, so a {@code value.serializer} there is ignored and records
 * would land in plaintext). It wraps the console producer's own reader, so the usual reader
 * properties still apply ({@code parse.key}, {@code key.separator}, {@code parse.headers},
 * {@code null.marker}...), and takes the {@code rewrap.*} properties of
 * {@link RewrapSerializer}, given with {@code --property} or in a {@code --reader-config} file:
 * <pre>
 * kafka-console-producer.sh --bootstrap-server HOST:9092 --topic orders \
 *   --line-reader io.rewrap.kafka.RewrapMessageReader \
 *   --property rewrap.delegating.key.file=/etc/rewrap/orders.pub \
 *   --property rewrap.signing.key.file=/etc/rewrap/producer-a.sec \
 *   --property parse.key=true --property key.separator=:
 * </pre>
 * Keys stay readable, as with the serializer: each sealed value binds its record key, so a
 * consumer refuses it under any other key. Null values ({@code null.marker}) stay tombstones.
 * A record that cannot be sealed fails the producer with the named {@link RewrapException}.
 */
public class RewrapMessageReader implements RecordReader {
    /**
     * Class name of the wrapped reader (default {@value #DEFAULT_INNER_READER}, the console
     * producer's own line reader).
     */
    public static final String INNER_READER = "rewrap.inner.reader";
    /** The console producer's default reader (in {@code kafka-tools}, on its classpath). */
    public static final String DEFAULT_INNER_READER = "org.apache.kafka.tools.LineMessageReader";

    private RecordReader inner;
    private final RewrapSerializer sealer;

    public RewrapMessageReader() {
        this.sealer = new RewrapSerializer();
    }

    /** Programmatic use: seals what {@code inner} reads with {@code sealer} (neither configured here). */
    public RewrapMessageReader(RecordReader inner, RewrapSerializer sealer) {
        this.inner = inner;
        this.sealer = sealer;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        if (inner == null) {
            String name = RewrapConfig.get(configs, INNER_READER);
            Object reader = RewrapConfig.newInstance(INNER_READER, name == null ? DEFAULT_INNER_READER : name);
            if (!(reader instanceof RecordReader r)) {
                throw new RewrapException.InvalidArgument(INNER_READER + ": " + reader.getClass().getName()
                        + " is not a " + RecordReader.class.getName());
            }
            inner = r;
            inner.configure(configs);
            sealer.configure(configs, false);
        }
    }

    @Override
    public Iterator<ProducerRecord<byte[], byte[]>> readRecords(InputStream inputStream) {
        Iterator<ProducerRecord<byte[], byte[]>> lines = inner.readRecords(inputStream);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return lines.hasNext();
            }

            @Override
            public ProducerRecord<byte[], byte[]> next() {
                return seal(lines.next());
            }
        };
    }

    /** {@code record} with its value sealed and the rewrap headers added after its own. */
    ProducerRecord<byte[], byte[]> seal(ProducerRecord<byte[], byte[]> record) {
        Headers headers = new RecordHeaders(record.headers().toArray());
        byte[] sealed = sealer.serialize(record.topic(), headers, record.key(), record.value());
        return new ProducerRecord<>(record.topic(), record.partition(), record.timestamp(), record.key(), sealed,
                headers);
    }

    @Override
    public void close() {
        try {
            if (inner != null) {
                inner.close();
            }
        } finally {
            sealer.close();
        }
    }
}
