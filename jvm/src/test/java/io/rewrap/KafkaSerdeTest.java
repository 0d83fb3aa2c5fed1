package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rewrap.kafka.RewrapConfig;
import io.rewrap.kafka.RewrapDeserializer;
import io.rewrap.kafka.RewrapKeyDeserializer;
import io.rewrap.kafka.RewrapKeySerializer;
import io.rewrap.kafka.RewrapSerializer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kafka Serializer/Deserializer configured only through client properties (in-memory).
 * `produce` and `consume` call the serdes as KafkaProducer.doSend and the consumer's
 * CompletedFetch do: key then value with one Headers object; no key call for a null key on
 * the consumer side.
 */
class KafkaSerdeTest {
    private static final byte[] KEY = "order-1".getBytes(StandardCharsets.UTF_8);

    private static final RewrapKeySerializer<byte[]> KEYS_OUT = configured(new RewrapKeySerializer<>());

    private static <T extends Serializer<byte[]>> T configured(T s) {
        s.configure(Map.of(), true);
        return s;
    }

    static <V> byte[] produce(Serializer<byte[]> keySer, Serializer<V> valueSer, String topic, Headers headers,
            byte[] key, V value) {
        byte[] k = keySer.serialize(topic, headers, key);
        assertArrayEquals(key, k);
        return valueSer.serialize(topic, headers, value);
    }

    static byte[] produce(Serializer<byte[]> valueSer, String topic, Headers headers, byte[] value) {
        return produce(KEYS_OUT, valueSer, topic, headers, KEY, value);
    }

    static <V> V consume(Deserializer<byte[]> keyDe, Deserializer<V> valueDe, String topic, Headers headers,
            byte[] key, byte[] value) {
        if (key != null) {
            assertArrayEquals(key, keyDe.deserialize(topic, headers, key));
        }
        return valueDe.deserialize(topic, headers, value);
    }

    private static final RewrapKeyDeserializer<byte[]> KEYS_IN = new RewrapKeyDeserializer<>(
            new org.apache.kafka.common.serialization.ByteArrayDeserializer());

    static byte[] consume(Deserializer<byte[]> valueDe, String topic, Headers headers, byte[] value) {
        return consume(KEYS_IN, valueDe, topic, headers, KEY, value);
    }

    /** A producer signing key file (0600) for `w`'s signer, and its producer grant file. */
    private static Map<String, String> signing(World w, Path dir, String topic) throws Exception {
        Path sec = dir.resolve("producer.sec");
        Files.writeString(sec, HexFormat.of().formatHex(w.signer.toBytes()) + "\n");
        Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));
        Path grant = dir.resolve("producer.pgrant");
        Files.write(grant, w.producerGrant(topic, w.signer.publicKey()).toBytes());
        return Map.of(RewrapConfig.SIGNING_KEY_FILE, sec.toString(), RewrapConfig.PRODUCER_GRANT_FILES, grant.toString());
    }

    /** Producer properties: the delegating key and `w`'s signer. */
    private static Map<String, Object> producerProps(Map<String, String> signing, String delegatingKeyProp,
            String delegating) {
        Map<String, Object> m = new HashMap<>();
        m.put(delegatingKeyProp, delegating);
        m.put(RewrapConfig.SIGNING_KEY_FILE, signing.get(RewrapConfig.SIGNING_KEY_FILE));
        return m;
    }

    /** Consumer properties: key file, admin key, `w`'s producer grant, the key wrapper. */
    private static Map<String, Object> consumerProps(Map<String, String> signing, Path sec, World w) {
        Map<String, Object> m = new HashMap<>();
        m.put(RewrapConfig.CONSUMER_KEY_FILE, sec.toString());
        m.put(RewrapConfig.ADMIN_KEYS, w.adminPub.toHex());
        m.put(RewrapConfig.PRODUCER_GRANT_FILES, signing.get(RewrapConfig.PRODUCER_GRANT_FILES));
        m.put("key.deserializer", RewrapKeyDeserializer.class.getName());
        return m;
    }

    @Test
    void configuredThroughPropertiesRoundTrip(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path pub = dir.resolve("orders.pub");
            Files.writeString(pub, channel.publicKey().toHex() + "\n");
            Path sec = dir.resolve("alice.sec");
            Files.writeString(sec, HexFormat.of().formatHex(me.toBytes()) + "\n");
            Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));

            Map<String, String> signing = signing(w, dir, "orders");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(producerProps(signing, RewrapConfig.DELEGATING_KEY_FILE, pub.toString()), false);
                de.configure(consumerProps(signing, sec, w), false);

                RecordHeaders headers = new RecordHeaders();
                byte[] payload = "order #1".getBytes(StandardCharsets.UTF_8);
                byte[] value = produce(ser, "orders", headers, payload);
                assertNotNull(headers.lastHeader("rewrap.sig"));
                assertNotEquals(new String(payload, StandardCharsets.UTF_8), new String(value, StandardCharsets.ISO_8859_1));
                byte[] edek = headers.lastHeader(Constants.EDEK_HEADER).value();
                // The proxy appends this consumer's fragments on fetch.
                for (byte[] frag : w.reencryptor.reencrypt("orders", edek, "alice")) {
                    headers.add(Constants.CFRAG_HEADER, frag);
                }
                assertArrayEquals(payload, consume(de, "orders", headers, value));
                assertNull(headers.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER));

                assertNull(produce(ser, "orders", new RecordHeaders(), null));
                assertThrows(RewrapException.Unencrypted.class, () -> de.deserialize("orders", "x".getBytes(StandardCharsets.UTF_8)));
                // Same session: the cached DEK opens it even without fragments.
                RecordHeaders same = new RecordHeaders();
                byte[] again = produce(ser, "orders", same, payload);
                assertArrayEquals(payload, consume(de, "orders", same, again));
                // A new producer session without fragments for this consumer does not open.
                try (RewrapSerializer other = new RewrapSerializer()) {
                    other.configure(producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                    RecordHeaders h = new RecordHeaders();
                    byte[] v = produce(other, "orders", h, payload);
                    assertThrows(RewrapException.MissingCfrag.class, () -> consume(de, "orders", h, v));
                }
            }
        }
    }

    @Test
    void composesWithStringSerializersByConfiguration(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = dir.resolve("alice.sec");
            Files.writeString(sec, HexFormat.of().formatHex(me.toBytes()) + "\n");
            Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));
            Map<String, String> signing = signing(w, dir, "orders");
            try (io.rewrap.kafka.SealingSerializer<Object> ser = new io.rewrap.kafka.SealingSerializer<>();
                 io.rewrap.kafka.OpeningDeserializer<Object> de = new io.rewrap.kafka.OpeningDeserializer<>();
                 RewrapKeySerializer<String> keySer = new RewrapKeySerializer<>();
                 RewrapKeyDeserializer<String> keyDe = new RewrapKeyDeserializer<>()) {
                Map<String, Object> p = producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex());
                p.put(io.rewrap.kafka.SealingSerializer.INNER_SERIALIZER, StringSerializer.class.getName());
                p.put(RewrapKeySerializer.INNER_KEY_SERIALIZER, StringSerializer.class.getName());
                p.put("key.serializer", RewrapKeySerializer.class);
                ser.configure(p, false);
                keySer.configure(p, true);
                Map<String, Object> c = consumerProps(signing, sec, w);
                c.put(io.rewrap.kafka.OpeningDeserializer.INNER_DESERIALIZER, StringDeserializer.class.getName());
                c.put(RewrapKeyDeserializer.INNER_KEY_DESERIALIZER, StringDeserializer.class.getName());
                de.configure(c, false);
                keyDe.configure(c, true);
                RecordHeaders headers = new RecordHeaders();
                byte[] k = keySer.serialize("orders", headers, "clé");
                byte[] value = ser.serialize("orders", headers, "héllo");
                for (byte[] frag : w.reencryptor.reencrypt("orders", headers.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    headers.add(Constants.CFRAG_HEADER, frag);
                }
                assertEquals("clé", keyDe.deserialize("orders", headers, k));
                assertEquals("héllo", de.deserialize("orders", headers, value));
            }
        }
    }

    private static Path secretKeyFile(Path dir, SecretKey key, String mode) throws Exception {
        Path sec = dir.resolve("alice.sec");
        Files.writeString(sec, HexFormat.of().formatHex(key.toBytes()) + "\n");
        Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString(mode));
        return sec;
    }

    @Test
    void secretKeyFileReadableByOthersIsRefused(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey me = SecretKey.generate()) {
            Path sec = secretKeyFile(dir, me, "rw-r--r--");
            RewrapException e = assertThrows(RewrapException.InsecureKeyFile.class, () -> SecretKey.fromFile(sec));
            assertEquals(RewrapException.InsecureKeyFile.CODE, e.code());
            assertTrue(e.getMessage().contains("alice.sec"), e.getMessage());
            try (RewrapDeserializer de = new RewrapDeserializer()) {
                assertThrows(RewrapException.InsecureKeyFile.class, () -> de.configure(Map.of(
                        RewrapConfig.CONSUMER_KEY_FILE, sec.toString(), RewrapConfig.ADMIN_KEYS, w.adminPub.toHex()), false));
            }
            Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));
            try (SecretKey read = SecretKey.fromFile(sec)) {
                assertEquals(me.publicKey(), read.publicKey());
            }
        }
    }

    @Test
    void keyFilesAreReadByTheEngine(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.pub");
        assertEquals(RewrapException.Io.CODE, assertThrows(RewrapException.Io.class, () -> PublicKey.fromFile(missing)).code());
        assertThrows(RewrapException.Io.class, () -> SecretKey.fromFile(dir.resolve("missing.sec")));
        Path garbage = dir.resolve("garbage.pub");
        Files.writeString(garbage, "not hex\n");
        assertThrows(RewrapException.Malformed.class, () -> PublicKey.fromFile(garbage));
        try (SecretKey k = SecretKey.generate()) {
            Path pub = dir.resolve("k.pub");
            Files.writeString(pub, k.publicKey().toHex() + "\n");
            assertEquals(k.publicKey(), PublicKey.fromFile(pub));
            try (RewrapSerializer ser = new RewrapSerializer()) {
                assertThrows(RewrapException.Io.class,
                        () -> ser.configure(Map.of(RewrapConfig.DELEGATING_KEY_FILE, missing.toString()), false));
            }
        }
    }

    @Test
    void allowedPlaintextGetsTheUnauthenticatedHeaderAndDecryptedRecordsNever(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            Map<String, String> signing = signing(w, dir, "orders");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                Map<String, Object> c = consumerProps(signing, sec, w);
                c.put(RewrapConfig.ALLOW_PLAINTEXT, "true");
                de.configure(c, false);

                RecordHeaders plainHeaders = new RecordHeaders();
                plainHeaders.add("app.trace", "t-1".getBytes(StandardCharsets.UTF_8));
                byte[] legacy = "legacy record".getBytes(StandardCharsets.UTF_8);
                assertArrayEquals(legacy, consume(de, "orders", plainHeaders, legacy));
                Header mark = plainHeaders.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER);
                assertNotNull(mark);
                assertEquals("rewrap.unauthenticated", mark.key());
                assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), mark.value());
                assertNotNull(plainHeaders.lastHeader("app.trace")); // nothing removed

                RecordHeaders sealedHeaders = new RecordHeaders();
                byte[] payload = "order #2".getBytes(StandardCharsets.UTF_8);
                byte[] value = produce(ser, "orders", sealedHeaders, payload);
                for (byte[] frag : w.reencryptor.reencrypt("orders", sealedHeaders.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    sealedHeaders.add(Constants.CFRAG_HEADER, frag);
                }
                assertArrayEquals(payload, consume(de, "orders", sealedHeaders, value));
                assertNull(sealedHeaders.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER));
                // Allowing plaintext never lets a damaged sealed record through as plaintext.
                byte[] flipped = value.clone();
                flipped[flipped.length - 1] ^= 1;
                assertThrows(RewrapException.AuthenticationFailed.class, () -> consume(de, "orders", sealedHeaders, flipped));
            }
        }
    }

    @Test
    void smuggledHeaderNameIsRefusedByTheDeserializer(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            Map<String, String> signing = signing(w, dir, "orders");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                de.configure(consumerProps(signing, sec, w), false);
                RecordHeaders headers = new RecordHeaders();
                byte[] value = produce(ser, "orders", headers, "x".getBytes(StandardCharsets.UTF_8));
                for (byte[] frag : w.reencryptor.reencrypt("orders", headers.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    headers.add(Constants.CFRAG_HEADER + "\u0000x", frag);
                }
                assertThrows(RewrapException.Malformed.class, () -> consume(de, "orders", headers, value));
            }
        }
    }

    @Test
    void missingConfigurationIsANamedError() {
        try (RewrapDeserializer de = new RewrapDeserializer()) {
            RewrapException e = assertThrows(RewrapException.InvalidArgument.class, () -> de.configure(Map.of(), false));
            assertEquals(400, e.code());
        }
    }
    @Test
    void keyBindingThroughTheKeySerdes(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            Map<String, String> signing = signing(w, dir, "orders");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                Map<String, Object> p = producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex());
                p.put("key.serializer", RewrapKeySerializer.class.getName());
                ser.configure(p, false);
                de.configure(consumerProps(signing, sec, w), false);
                byte[] payload = "pay 10".getBytes(StandardCharsets.UTF_8);

                // The value moved to another key does not open.
                RecordHeaders h = new RecordHeaders();
                byte[] value = produce(ser, "orders", h, payload);
                attachFragments(w, h);
                byte[] other = "order-2".getBytes(StandardCharsets.UTF_8);
                assertThrows(RewrapException.AuthenticationFailed.class, () -> consume(KEYS_IN, de, "orders", h, other, value));
                // Nor under a null key (the key deserializer is then not called).
                assertThrows(RewrapException.AuthenticationFailed.class, () -> consume(KEYS_IN, de, "orders", h, null, value));
                assertArrayEquals(payload, consume(KEYS_IN, de, "orders", h, KEY, value));

                // A null-keyed record opens with no key call on the consumer side.
                RecordHeaders nh = new RecordHeaders();
                byte[] nullKeyed = produce(KEYS_OUT, ser, "orders", nh, null, payload);
                assertArrayEquals(payload, consume(KEYS_IN, de, "orders", nh, null, nullKeyed));
                assertThrows(RewrapException.AuthenticationFailed.class,
                        () -> consume(KEYS_IN, de, "orders", nh, new byte[0], nullKeyed));
            }
        }
    }

    private static void attachFragments(World w, Headers h) {
        for (byte[] frag : w.reencryptor.reencrypt("orders", h.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
            h.add(Constants.CFRAG_HEADER, frag);
        }
    }

    @Test
    void withoutTheKeyWrappersTheSerdesRefuseRatherThanMisbind(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            Map<String, String> signing = signing(w, dir, "orders");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapSerializer plainKeys = new RewrapSerializer();
                 RewrapDeserializer de = new RewrapDeserializer(); RewrapDeserializer unpaired = new RewrapDeserializer()) {
                Map<String, Object> p = producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex());
                ser.configure(p, false);
                // Producer: the value serializer never saw a key for this record.
                assertThrows(RewrapException.InvalidArgument.class,
                        () -> ser.serialize("orders", new RecordHeaders(), "x".getBytes(StandardCharsets.UTF_8)));
                // A key serializer other than the wrapper is refused when configured.
                p.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
                assertThrows(RewrapException.InvalidArgument.class, () -> plainKeys.configure(p, false));

                de.configure(consumerProps(signing, sec, w), false);
                RecordHeaders h = new RecordHeaders();
                byte[] value = produce(ser, "orders", h, "x".getBytes(StandardCharsets.UTF_8));
                attachFragments(w, h);
                // Consumer without the key wrapper: refused, whatever the key.
                Map<String, Object> c = consumerProps(signing, sec, w);
                c.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
                unpaired.configure(c, false);
                assertThrows(RewrapException.InvalidArgument.class, () -> unpaired.deserialize("orders", h, value));
                // A stale key recorded for another record's headers is not used for this one.
                KEYS_IN.deserialize("orders", new RecordHeaders(), KEY);
                assertThrows(RewrapException.AuthenticationFailed.class, () -> de.deserialize("orders", h, value));
                assertArrayEquals("x".getBytes(StandardCharsets.UTF_8), consume(de, "orders", h, value));
            }
        }
    }

    @Test
    void consumerPropertiesSetPolicyAndRefuseUngrantedProducers(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate();
             SecretKey stranger = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            Map<String, String> signing = signing(w, dir, "orders");
            try (Encryptor unsigned = new Encryptor(channel.publicKey()); Encryptor strangers = new Encryptor(channel.publicKey());
                 RewrapDeserializer strict = new RewrapDeserializer(); RewrapDeserializer lax = new RewrapDeserializer()) {
                strangers.setSigner(stranger, SigningMode.RECORD);
                strict.configure(consumerProps(signing, sec, w), false);
                Map<String, Object> c = consumerProps(signing, sec, w);
                c.put(RewrapConfig.POLICY, "require");
                c.put(RewrapConfig.TOPIC_POLICIES, "orders=optional, audit=require");
                lax.configure(c, false);

                RecordHeaders uh = new RecordHeaders();
                byte[] uv = new RewrapSerializer(unsigned).serialize("orders", uh, KEY, "u".getBytes(StandardCharsets.UTF_8));
                attachFragments(w, uh);
                assertThrows(RewrapException.Unsigned.class, () -> consume(strict, "orders", uh, uv));
                assertArrayEquals("u".getBytes(StandardCharsets.UTF_8), consume(lax, "orders", uh, uv));

                RecordHeaders sh = new RecordHeaders();
                byte[] sv = new RewrapSerializer(strangers).serialize("orders", sh, KEY, "s".getBytes(StandardCharsets.UTF_8));
                assertNotNull(sh.lastHeader("rewrap.rsig"));
                attachFragments(w, sh);
                assertThrows(RewrapException.UnauthorizedProducer.class, () -> consume(strict, "orders", sh, sv));
                assertThrows(RewrapException.UnauthorizedProducer.class, () -> consume(lax, "orders", sh, sv));

                Map<String, Object> bad = consumerProps(signing, sec, w);
                bad.put(RewrapConfig.POLICY, "sometimes");
                try (RewrapDeserializer d = new RewrapDeserializer()) {
                    assertThrows(RewrapException.InvalidArgument.class, () -> d.configure(bad, false));
                }
                Map<String, Object> badMode = producerProps(signing, RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex());
                badMode.put(RewrapConfig.SIGNING_MODE, "daily");
                try (RewrapSerializer s = new RewrapSerializer()) {
                    assertThrows(RewrapException.InvalidArgument.class, () -> s.configure(badMode, false));
                }
            }
        }
    }
}
