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
import io.rewrap.kafka.RewrapSerializer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Kafka Serializer/Deserializer configured only through client properties (in-memory). */
class KafkaSerdeTest {
    @Test
    void configuredThroughPropertiesRoundTrip(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path pub = dir.resolve("orders.pub");
            Files.writeString(pub, channel.publicKey().toHex() + "\n");
            Path sec = dir.resolve("alice.sec");
            Files.writeString(sec, HexFormat.of().formatHex(me.toBytes()) + "\n");
            Files.setPosixFilePermissions(sec, PosixFilePermissions.fromString("rw-------"));

            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(Map.of(RewrapConfig.DELEGATING_KEY_FILE, pub.toString()), false);
                de.configure(Map.of(RewrapConfig.CONSUMER_KEY_FILE, sec.toString(),
                        RewrapConfig.ADMIN_KEYS, w.adminPub.toHex()), false);

                RecordHeaders headers = new RecordHeaders();
                byte[] payload = "order #1".getBytes(StandardCharsets.UTF_8);
                byte[] value = ser.serialize("orders", headers, payload);
                assertNotEquals(new String(payload, StandardCharsets.UTF_8), new String(value, StandardCharsets.ISO_8859_1));
                byte[] edek = headers.lastHeader(Constants.EDEK_HEADER).value();
                // The proxy appends this consumer's fragments on fetch.
                for (byte[] frag : w.reencryptor.reencrypt("orders", edek, "alice")) {
                    headers.add(Constants.CFRAG_HEADER, frag);
                }
                assertArrayEquals(payload, de.deserialize("orders", headers, value));
                assertNull(headers.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER));

                assertNull(ser.serialize("orders", new RecordHeaders(), null));
                assertThrows(RewrapException.Unencrypted.class, () -> de.deserialize("orders", "x".getBytes(StandardCharsets.UTF_8)));
                // Same session: the cached DEK opens it even without fragments.
                RecordHeaders same = new RecordHeaders();
                byte[] again = ser.serialize("orders", same, payload);
                assertArrayEquals(payload, de.deserialize("orders", same, again));
                // A new producer session without fragments for this consumer does not open.
                try (RewrapSerializer other = new RewrapSerializer()) {
                    other.configure(Map.of(RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                    RecordHeaders h = new RecordHeaders();
                    byte[] v = other.serialize("orders", h, payload);
                    assertThrows(RewrapException.MissingCfrag.class, () -> de.deserialize("orders", h, v));
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
            try (io.rewrap.kafka.SealingSerializer<Object> ser = new io.rewrap.kafka.SealingSerializer<>();
                 io.rewrap.kafka.OpeningDeserializer<Object> de = new io.rewrap.kafka.OpeningDeserializer<>()) {
                ser.configure(Map.of(io.rewrap.kafka.SealingSerializer.INNER_SERIALIZER,
                        "org.apache.kafka.common.serialization.StringSerializer",
                        RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                de.configure(Map.of(io.rewrap.kafka.OpeningDeserializer.INNER_DESERIALIZER,
                        "org.apache.kafka.common.serialization.StringDeserializer",
                        RewrapConfig.CONSUMER_KEY_FILE, sec.toString(),
                        RewrapConfig.ADMIN_KEYS, w.adminPub.toHex()), false);
                RecordHeaders headers = new RecordHeaders();
                byte[] value = ser.serialize("orders", headers, "héllo");
                for (byte[] frag : w.reencryptor.reencrypt("orders", headers.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    headers.add(Constants.CFRAG_HEADER, frag);
                }
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
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(Map.of(RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                de.configure(Map.of(RewrapConfig.CONSUMER_KEY_FILE, sec.toString(),
                        RewrapConfig.ADMIN_KEYS, w.adminPub.toHex(), RewrapConfig.ALLOW_PLAINTEXT, "true"), false);

                RecordHeaders plainHeaders = new RecordHeaders();
                plainHeaders.add("app.trace", "t-1".getBytes(StandardCharsets.UTF_8));
                byte[] legacy = "legacy record".getBytes(StandardCharsets.UTF_8);
                assertArrayEquals(legacy, de.deserialize("orders", plainHeaders, legacy));
                Header mark = plainHeaders.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER);
                assertNotNull(mark);
                assertEquals("rewrap.unauthenticated", mark.key());
                assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), mark.value());
                assertNotNull(plainHeaders.lastHeader("app.trace")); // nothing removed

                RecordHeaders sealedHeaders = new RecordHeaders();
                byte[] payload = "order #2".getBytes(StandardCharsets.UTF_8);
                byte[] value = ser.serialize("orders", sealedHeaders, payload);
                for (byte[] frag : w.reencryptor.reencrypt("orders", sealedHeaders.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    sealedHeaders.add(Constants.CFRAG_HEADER, frag);
                }
                assertArrayEquals(payload, de.deserialize("orders", sealedHeaders, value));
                assertNull(sealedHeaders.lastHeader(RewrapDeserializer.UNAUTHENTICATED_HEADER));
                // Allowing plaintext never lets a damaged sealed record through as plaintext.
                byte[] flipped = value.clone();
                flipped[flipped.length - 1] ^= 1;
                assertThrows(RewrapException.AuthenticationFailed.class, () -> de.deserialize("orders", sealedHeaders, flipped));
            }
        }
    }

    @Test
    void smuggledHeaderNameIsRefusedByTheDeserializer(@TempDir Path dir) throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "orders", "alice", me.publicKey());
            Path sec = secretKeyFile(dir, me, "rw-------");
            try (RewrapSerializer ser = new RewrapSerializer(); RewrapDeserializer de = new RewrapDeserializer()) {
                ser.configure(Map.of(RewrapConfig.DELEGATING_KEY, channel.publicKey().toHex()), false);
                de.configure(Map.of(RewrapConfig.CONSUMER_KEY_FILE, sec.toString(),
                        RewrapConfig.ADMIN_KEYS, w.adminPub.toHex()), false);
                RecordHeaders headers = new RecordHeaders();
                byte[] value = ser.serialize("orders", headers, "x".getBytes(StandardCharsets.UTF_8));
                for (byte[] frag : w.reencryptor.reencrypt("orders", headers.lastHeader(Constants.EDEK_HEADER).value(), "alice")) {
                    headers.add(Constants.CFRAG_HEADER + "\u0000x", frag);
                }
                assertThrows(RewrapException.Malformed.class, () -> de.deserialize("orders", headers, value));
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
}
