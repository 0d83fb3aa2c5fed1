// A kafka-clients application using the rewrap jar as a user installs it: compiled with plain
// javac and run with plain java, on a classpath of only the rewrap jar, kafka-clients and
// slf4j-api (kafka-clients' one runtime dependency this needs; lz4-java, snappy-java and
// zstd-jni only serve topics compressed with those codecs). Driven by run.sh.
//
//   java InstallCheck roundtrip BROKER PROXY TOPIC DIR N
//     produces N keyed records and a tombstone to BROKER with RewrapSerializer, configured by
//     properties only (DIR/channel.pub, DIR/producer.sec), then reads them through the rewrap
//     PROXY with RewrapDeserializer as client "alice" (granted; DIR/alice.sec), asserting every
//     key and plaintext, and as client "bob" (no grant; DIR/bob.sec), asserting every record
//     fails with a named RewrapException and nothing opens.
//   java InstallCheck forge BROKER TOPIC
//     as an attacker with only read and write access to the broker (no key), appends to TOPIC:
//     a replay of its first record with an added header whose value holds a newline and a
//     plausible "k9:..." line; a tombstone whose key holds such a line; a record with a
//     null-valued header; plaintext. Every forged byte holds "FORGED".
//   java -Djava.io.tmpdir=DIR InstallCheck tmpfile
//     loads the library from the jar and asserts the copy it extracted into DIR is readable and
//     writable by its owner only, as Files.createTempFile made it (another local user must not
//     be able to swap the library between its extraction and its loading).
//   java -Dos.arch=riscv64 InstallCheck native
//     asserts the loader's UnsatisfiedLinkError names the platform and what the jar holds.
import io.rewrap.RewrapException;
import io.rewrap.SecretKey;
import io.rewrap.kafka.RewrapConfig;
import io.rewrap.kafka.RewrapDeserializer;
import io.rewrap.kafka.RewrapKeyDeserializer;
import io.rewrap.kafka.RewrapKeySerializer;
import io.rewrap.kafka.RewrapSerializer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;

public final class InstallCheck {
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    public static void main(String[] args) throws Exception {
        switch (args.length > 0 ? args[0] : "") {
            case "native" -> checkMissingPlatform();
            case "forge" -> forge(args[1], args[2]);
            case "tmpfile" -> checkExtractedLibrary();
            case "roundtrip" -> roundtrip(args[1], args[2], args[3], args[4], Integer.parseInt(args[5]));
            default -> {
                System.err.println("usage: InstallCheck roundtrip BROKER PROXY TOPIC DIR N | native");
                System.exit(2);
            }
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static String value(int i) {
        return "install check " + i + " \u2603 secret";
    }

    static void checkExtractedLibrary() throws Exception {
        try (SecretKey k = SecretKey.generate()) {
            check(k.publicKey() != null, "no key");
        }
        java.nio.file.Path tmp = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"));
        int found = 0;
        try (var files = java.nio.file.Files.list(tmp)) {
            for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
                if (f.getFileName().toString().startsWith("librewrap_jni")) {
                    found++;
                    var perms = java.nio.file.attribute.PosixFilePermissions.toString(
                            java.nio.file.Files.getPosixFilePermissions(f, java.nio.file.LinkOption.NOFOLLOW_LINKS));
                    check(perms.equals("rw-------"), "extracted library " + f + " is " + perms + ", not rw-------");
                }
            }
        }
        check(found == 1, found + " extracted libraries in " + tmp);
        System.out.println("extracted library: owner-only");
    }

    static void checkMissingPlatform() {
        String platform = "linux-" + System.getProperty("os.arch");
        try (SecretKey k = SecretKey.generate()) {
            throw new AssertionError("loaded a library for " + platform + ": " + k);
        } catch (UnsatisfiedLinkError e) {
            String m = e.getMessage();
            check(m.contains(platform) && m.contains("this jar holds: linux-x86_64"), "unclear error: " + m);
            System.out.println("named: " + m);
        }
    }

    static void roundtrip(String broker, String proxy, String topic, String dir, int n) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", broker);
        p.put("client.id", "install-producer");
        p.put("key.serializer", RewrapKeySerializer.class.getName());
        p.put(RewrapKeySerializer.INNER_KEY_SERIALIZER, "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", RewrapSerializer.class.getName());
        p.put(RewrapConfig.DELEGATING_KEY_FILE, dir + "/channel.pub");
        p.put(RewrapConfig.SIGNING_KEY_FILE, dir + "/producer.sec");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, value(i).getBytes(StandardCharsets.UTF_8)));
            }
            producer.send(new ProducerRecord<>(topic, "gone", null));
            producer.flush();
        }

        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add("k" + i + "=" + value(i));
        }
        expected.add("gone=null");
        List<String> alice = consume(proxy, topic, dir, "alice", n + 1);
        check(alice.equals(expected), "alice read " + alice + ", expected " + expected);
        System.out.println("alice opened " + (alice.size() - 1) + " records and the tombstone");

        List<String> bob = consume(proxy, topic, dir, "bob", n + 1);
        for (int i = 0; i < n; i++) {
            check(bob.get(i).startsWith("refused MissingCfrag"), "bob at " + i + ": " + bob.get(i));
        }
        check(bob.get(n).equals("gone=null"), "bob's tombstone: " + bob.get(n));
        check(bob.stream().noneMatch(s -> s.contains("secret")), "plaintext reached bob: " + bob);
        System.out.println("bob refused " + n + " records: " + bob.get(0));
    }

    static void forge(String broker, String topic) throws Exception {
        Properties c = new Properties();
        c.put("bootstrap.servers", broker);
        c.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        c.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
        ConsumerRecord<byte[], byte[]> first = null;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = System.nanoTime() + DEADLINE.toNanos();
            while (first == null) {
                check(System.nanoTime() < end, "no record to replay in " + topic);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    first = first == null ? r : first;
                }
            }
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", broker);
        p.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
        byte[] forged = "FORGED".getBytes(StandardCharsets.UTF_8);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            ProducerRecord<byte[], byte[]> replay = new ProducerRecord<>(topic, 0, first.key(), first.value(), first.headers());
            replay.headers().add("note", "x\nk9:FORGED-HEADER-LINE\u001b[2K".getBytes(StandardCharsets.UTF_8));
            producer.send(replay);
            producer.send(new ProducerRecord<>(topic, 0, "FORGED-TOMBSTONE\nk9:FORGED-KEY-LINE".getBytes(StandardCharsets.UTF_8), null));
            ProducerRecord<byte[], byte[]> nullHeader = new ProducerRecord<>(topic, 0, null, forged);
            nullHeader.headers().add("h", null);
            producer.send(nullHeader);
            producer.send(new ProducerRecord<>(topic, 0, null, "k9:FORGED-PLAIN".getBytes(StandardCharsets.UTF_8)));
            producer.flush();
        }
        System.out.println("forged 4 records after " + topic + "-0@" + first.offset());
    }

    /**
     * Every record of `topic` read through `proxy` as `client`: "key=value", or "refused KIND"
     * where the value deserializer threw (the consumer then seeks past the record, as an
     * application handling RecordDeserializationException does).
     */
    static List<String> consume(String proxy, String topic, String dir, String client, int count) {
        Properties c = new Properties();
        c.put("bootstrap.servers", proxy);
        c.put("client.id", client);
        c.put("key.deserializer", RewrapKeyDeserializer.class.getName());
        c.put(RewrapKeyDeserializer.INNER_KEY_DESERIALIZER, "org.apache.kafka.common.serialization.StringDeserializer");
        c.put("value.deserializer", RewrapDeserializer.class.getName());
        c.put(RewrapConfig.CONSUMER_KEY_FILE, dir + "/" + client + ".sec");
        c.put(RewrapConfig.ADMIN_KEY_FILE, dir + "/admin.pub");
        c.put(RewrapConfig.PRODUCER_GRANT_DIR, dir + "/grants");
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c)) {
            List<PartitionInfo> parts = consumer.partitionsFor(topic, DEADLINE);
            check(parts.size() == 1, "one partition expected: " + parts);
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = System.nanoTime() + DEADLINE.toNanos();
            while (out.size() < count) {
                check(System.nanoTime() < end, client + " read " + out.size() + " of " + count + ": " + out);
                try {
                    for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                        out.add(r.key() + "=" + (r.value() == null ? "null" : new String(r.value(), StandardCharsets.UTF_8)));
                    }
                } catch (RecordDeserializationException e) {
                    Throwable cause = e.getCause();
                    check(cause instanceof RewrapException, "unnamed failure: " + e);
                    out.add("refused " + cause.getClass().getSimpleName() + " (code " + ((RewrapException) cause).code()
                            + "): " + cause.getMessage());
                    consumer.seek(e.topicPartition(), e.offset() + 1);
                }
            }
        }
        return out;
    }
}
