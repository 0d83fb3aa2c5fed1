package io.rewrap.examples;

import io.rewrap.kafka.RewrapConfig;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A plain kafka-clients producer with rewrap turned on by configuration alone.
 * Used by the real-broker tests (python/tests/test_real_broker.py) to show a Java producer's
 * records open in Python: {@code SealedProducer BOOTSTRAP TOPIC DELEGATING_KEY.pub COUNT
 * [SIGNING_KEY.sec [session|record]]} (readers require signed records by default).
 */
public final class SealedProducer {
    private SealedProducer() {}

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, "io.rewrap.kafka.RewrapKeySerializer");
        props.put("rewrap.inner.key.serializer", ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, "io.rewrap.kafka.RewrapSerializer");
        props.put(RewrapConfig.DELEGATING_KEY_FILE, args[2]);
        if (args.length > 4) {
            props.put(RewrapConfig.SIGNING_KEY_FILE, args[4]);
        }
        if (args.length > 5) {
            props.put(RewrapConfig.SIGNING_MODE, args[5]);
        }
        int count = Integer.parseInt(args[3]);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(args[1], ("java " + i).getBytes(java.nio.charset.StandardCharsets.UTF_8))).get();
            }
        }
    }
}
