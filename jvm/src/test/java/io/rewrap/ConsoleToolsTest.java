package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rewrap.kafka.RewrapConfig;
import io.rewrap.kafka.RewrapMessageFormatter;
import io.rewrap.kafka.RewrapMessageReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console tools' reader and formatter configured as kafka-console-producer/-consumer
 * configure them (a map of --property strings), in memory: `fetch` adds the fragments the
 * proxy would. The real tools against a real broker and proxy: tests/install/java/console.sh.
 */
class ConsoleToolsTest {
    private static final String TOPIC = "console";

    private static Path secretFile(Path dir, String name, SecretKey key) throws Exception {
        Path sec = dir.resolve(name);
        Files.writeString(sec, HexFormat.of().formatHex(key.toBytes()) + "\n");
        Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));
        return sec;
    }

    /** Reader properties (what --property gives: strings, plus the topic the tool adds). */
    private static Map<String, String> readerProps(World w, Path dir, SecretKey channel) throws Exception {
        Map<String, String> m = new HashMap<>();
        m.put("topic", TOPIC);
        m.put(RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex());
        m.put(RewrapConfig.SIGNING_KEY_FILE, secretFile(dir, "producer.sec", w.signer).toString());
        return m;
    }

    private static Map<String, String> formatterProps(World w, Path dir, SecretKey me) throws Exception {
        Path grant = dir.resolve("producer.pgrant");
        Files.write(grant, w.producerGrant(TOPIC, w.signer.publicKey()).toBytes());
        Map<String, String> m = new HashMap<>();
        m.put(RewrapConfig.CONSUMER_KEY_FILE, secretFile(dir, "me.sec", me).toString());
        m.put(RewrapConfig.ADMIN_KEYS, w.adminPub.toHex());
        m.put(RewrapConfig.PRODUCER_GRANT_FILES, grant.toString());
        return m;
    }

    private static List<ProducerRecord<byte[], byte[]>> read(Map<String, String> props, String input) {
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (RewrapMessageReader reader = new RewrapMessageReader()) {
            reader.configure(props);
            Iterator<ProducerRecord<byte[], byte[]>> it =
                    reader.readRecords(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
            while (it.hasNext()) {
                out.add(it.next());
            }
        }
        return out;
    }

    /** The record as `consumer` fetches it through the proxy, at `offset`. */
    private static ConsumerRecord<byte[], byte[]> fetched(World w, ProducerRecord<byte[], byte[]> r, String consumer,
            long offset) {
        RecordHeaders headers = new RecordHeaders(r.headers().toArray());
        if (r.value() != null && headers.lastHeader(Constants.EDEK_HEADER) != null) {
            for (byte[] frag : w.fetch(TOPIC, headers.lastHeader(Constants.EDEK_HEADER).value(), consumer)) {
                headers.add(Constants.CFRAG_HEADER, frag);
            }
        }
        return new ConsumerRecord<>(TOPIC, 0, offset, 0L, TimestampType.CREATE_TIME, 0, 0, r.key(), r.value(),
                headers, Optional.empty());
    }

    /** {stdout, stderr} of formatting `records` as `consumer`. */
    private static String[] format(World w, Map<String, String> props, List<ProducerRecord<byte[], byte[]>> records,
            String consumer) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
                RewrapMessageFormatter f = new RewrapMessageFormatter(new io.rewrap.kafka.RewrapDeserializer(), e)) {
            f.configure(props);
            long offset = 0;
            for (ProducerRecord<byte[], byte[]> r : records) {
                f.writeTo(fetched(w, r, consumer, offset++), o);
            }
        }
        return new String[] {out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    private static String utf8(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void readerSealsLinesAndFormatterPrintsThemForAGrantedConsumer(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, TOPIC, "alice", me.publicKey());
            List<ProducerRecord<byte[], byte[]>> records = read(readerProps(w, dir, channel), "first line\nsecond line\n");
            assertEquals(2, records.size());
            for (ProducerRecord<byte[], byte[]> r : records) {
                assertFalse(utf8(r.value()).contains("line"), "sealed value carries plaintext");
                assertTrue(r.headers().lastHeader(Constants.EDEK_HEADER) != null);
                assertNull(r.key());
            }
            String[] shown = format(w, formatterProps(w, dir, me), records, "alice");
            assertEquals("first line\nsecond line\n", shown[0]);
            assertEquals("", shown[1]);
        }
    }

    @Test
    void parsedKeysAreBoundAndPrintedWithPrintKey(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, TOPIC, "alice", me.publicKey());
            Map<String, String> rp = readerProps(w, dir, channel);
            rp.put("parse.key", "true");
            rp.put("key.separator", ":");
            rp.put("null.marker", "<null>");
            List<ProducerRecord<byte[], byte[]>> records = read(rp, "k1:v one\nk2:v two\nk3:<null>\n");
            assertEquals("k1", utf8(records.get(0).key()));
            assertNull(records.get(2).value(), "a null marker stays a tombstone");
            Map<String, String> fp = formatterProps(w, dir, me);
            fp.put("print.key", "true");
            fp.put("print.offset", "true");
            fp.put("key.separator", "|");
            String[] printed = format(w, fp, records, "alice");
            // A tombstone's key is not authenticated: named on stderr, never on stdout.
            assertEquals("Offset:0|k1|v one\nOffset:1|k2|v two\n", printed[0]);
            assertEquals("rewrap: console-0@2: tombstone (no value)\n", printed[1]);

            // The value is bound to its key: moved under another key it does not open.
            ProducerRecord<byte[], byte[]> r = records.get(0);
            ProducerRecord<byte[], byte[]> moved = new ProducerRecord<>(TOPIC, null, null,
                    "k2".getBytes(StandardCharsets.UTF_8), r.value(), r.headers());
            String[] shown = format(w, fp, List.of(moved), "alice");
            assertEquals("", shown[0]);
            assertTrue(shown[1].startsWith("rewrap: cannot open console-0@0: AuthenticationFailed (code 107)"), shown[1]);
        }
    }

    @Test
    void ungrantedConsumerGetsANamedErrorLineAndNoPlaintext(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, TOPIC, "alice", me.publicKey());
            List<ProducerRecord<byte[], byte[]>> records = read(readerProps(w, dir, channel), "secret one\nsecret two\n");
            String[] shown = format(w, formatterProps(w, dir, me), records, "mallory");
            assertEquals("", shown[0]);
            assertFalse(shown[1].contains("secret"));
            String[] lines = shown[1].split("\n");
            assertEquals(3, lines.length, shown[1]);
            assertTrue(lines[0].startsWith("rewrap: cannot open console-0@0: MissingCfrag (code 200)"), lines[0]);
            assertTrue(lines[1].startsWith("rewrap: cannot open console-0@1: MissingCfrag"), lines[1]);
            assertEquals("rewrap: 2 record(s) could not be opened", lines[2]);
        }
    }

    @Test
    void onErrorFailThrowsTheNamedException(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            List<ProducerRecord<byte[], byte[]>> records = read(readerProps(w, dir, channel), "secret\n");
            Map<String, String> fp = formatterProps(w, dir, me);
            fp.put(RewrapMessageFormatter.ON_ERROR, "fail");
            assertThrows(RewrapException.MissingCfrag.class, () -> format(w, fp, records, "alice"));
            fp.put(RewrapMessageFormatter.ON_ERROR, "sometimes");
            assertThrows(RewrapException.InvalidArgument.class, () -> format(w, fp, records, "alice"));
        }
    }

    @Test
    void readerWithoutADelegatingKeyIsANamedError(@TempDir Path dir) {
        try (RewrapMessageReader reader = new RewrapMessageReader()) {
            RewrapException e = assertThrows(RewrapException.InvalidArgument.class,
                    () -> reader.configure(Map.of("topic", TOPIC)));
            assertTrue(e.getMessage().contains(RewrapConfig.DELEGATING_KEY_FILE), e.getMessage());
        }
        try (RewrapMessageReader reader = new RewrapMessageReader()) {
            assertThrows(RewrapException.InvalidArgument.class, () -> reader.configure(Map.of(
                    RewrapMessageReader.INNER_READER, "java.lang.Object")));
        }
    }

    @Test
    void lineHeadersSurviveSealingAndPrintHeadersShowsOnlyThem(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, TOPIC, "alice", me.publicKey());
            Map<String, String> rp = readerProps(w, dir, channel);
            rp.put("parse.headers", "true");
            List<ProducerRecord<byte[], byte[]>> records = read(rp, "trace:42,app:web\tpayload\n");
            assertEquals("42", utf8(records.get(0).headers().lastHeader("trace").value()));
            Map<String, String> fp = formatterProps(w, dir, me);
            fp.put("print.headers", "true");
            fp.put("print.partition", "true");
            fp.put("print.topic", "true");
            assertEquals("console\tPartition:0\ttrace:42,app:web\tpayload\n", format(w, fp, records, "alice")[0]);

            // Headers are not bound: a replay with a header of its own cannot end the line.
            ProducerRecord<byte[], byte[]> r = records.get(0);
            RecordHeaders replayed = new RecordHeaders(r.headers().toArray());
            replayed.add("note\n", "x\nk9:forged\u001b[2K\\".getBytes(StandardCharsets.UTF_8));
            ProducerRecord<byte[], byte[]> replay = new ProducerRecord<>(TOPIC, null, null, r.key(), r.value(), replayed);
            assertEquals("console\tPartition:0\ttrace:42,app:web,note\\x0a:x\\x0ak9:forged\\x1b[2K\\\\\tpayload\n",
                    format(w, fp, List.of(replay), "alice")[0]);
        }
    }

    @Test
    void plaintextLetThroughNeverPassesForOpenedOnStdout(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey me = SecretKey.generate()) {
            // Written straight to the broker by anyone: no rewrap headers, a plausible line.
            ProducerRecord<byte[], byte[]> forged = new ProducerRecord<>(TOPIC, "k9:forged".getBytes(StandardCharsets.UTF_8));
            Map<String, String> fp = formatterProps(w, dir, me);
            fp.put(RewrapConfig.ALLOW_PLAINTEXT, "true");
            // Without print.headers its rewrap.unauthenticated mark would not show.
            RewrapException e = assertThrows(RewrapException.InvalidArgument.class,
                    () -> format(w, fp, List.of(forged), "alice"));
            assertTrue(e.getMessage().contains("print.headers"), e.getMessage());
            fp.put("print.headers", "true");
            assertEquals(Constants.UNAUTHENTICATED_HEADER + ":1\tk9:forged\n", format(w, fp, List.of(forged), "alice")[0]);
        }
    }

    @Test
    void unsignedRecordOpenedUnderPolicyOptionalIsNamed(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, TOPIC, "alice", me.publicKey());
            // Sealed with the channel's public key alone: anyone can.
            Map<String, String> rp = readerProps(w, dir, channel);
            rp.remove(RewrapConfig.SIGNING_KEY_FILE);
            List<ProducerRecord<byte[], byte[]>> records = read(rp, "forged by anyone\n");
            Map<String, String> fp = formatterProps(w, dir, me);
            fp.put(RewrapConfig.POLICY, "optional");
            String[] shown = format(w, fp, records, "alice");
            assertEquals("forged by anyone\n", shown[0]);
            assertTrue(shown[1].startsWith("rewrap: console-0@0: unsigned: "), shown[1]);
        }
    }
}
