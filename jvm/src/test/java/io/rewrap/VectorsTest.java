package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The shared vectors (tests/vectors/records.kv, layouts in docs/FORMAT.md): every accept case
 * opens record by record to its recorded result, every reject vector fails with its code.
 */
class VectorsTest {
    /** NAME -> FIELD -> VALUE ("-" read as empty, "null" as null); "-" holds now and the lists. */
    private static final Map<String, Map<String, String>> KV = load();

    private static Map<String, Map<String, String>> load() {
        Map<String, Map<String, String>> kv = new HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of(System.getProperty("rewrap.vectors")))) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                String[] f = line.split(" ", 3);
                String value = f[2].equals("-") ? "" : f[2].equals("null") ? null : f[2];
                kv.computeIfAbsent(f[0], k -> new HashMap<>()).put(f[1], value);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return kv;
    }

    private static byte[] hex(String s) {
        return s == null ? null : HexFormat.of().parseHex(s);
    }

    private static long now() {
        return Long.parseLong(KV.get("-").get("now"));
    }

    private static List<String> names(String list) {
        return Arrays.asList(KV.get("-").get(list).split(","));
    }

    /** PREFIX "headers" N, then PREFIX "header<i>.name" / ".value" (a name's "\\0" is a NUL). */
    private static List<Map.Entry<String, byte[]>> headers(Map<String, String> c, String prefix) {
        List<Map.Entry<String, byte[]>> list = new ArrayList<>();
        int n = Integer.parseInt(c.get(prefix + "headers"));
        for (int i = 0; i < n; i++) {
            String headerName = c.get(prefix + "header" + i + ".name").replace("\\0", "\0");
            list.add(Map.entry(headerName, hex(c.get(prefix + "header" + i + ".value"))));
        }
        return list;
    }

    /** A record's Kafka key: field PREFIX "key" (hex; "-" empty; "null" or absent: a null key). */
    private static byte[] key(Map<String, String> c, String prefix) {
        return hex(c.get(prefix + "key"));
    }

    /**
     * A decryptor as a vector describes it: consumer key, trusted administrator, plaintext
     * setting, signature policy (field "policy"; absent: off) and its producer grants (fields
     * "producer_grants" N, "producer_grant<i>" hex; each also verified at the vectors' now).
     */
    private static Decryptor decryptor(Map<String, String> c, SecretKey me, PublicKey admin) {
        Decryptor dec = new Decryptor(me, 0, 0, Boolean.parseBoolean(c.get("allow_plaintext")), admin);
        String policy = c.get("policy");
        dec.setPolicy(policy == null ? Policy.OFF : Policy.parse(policy), null);
        long now = Long.parseLong(c.getOrDefault("now", KV.get("-").get("now")));
        String grants = c.get("producer_grants");
        for (int i = 0; grants != null && i < Integer.parseInt(grants); i++) {
            byte[] grant = hex(c.get("producer_grant" + i));
            ProducerGrant.fromBytes(grant).verify(now, admin);
            dec.addProducerGrant(grant);
        }
        return dec;
    }

    private static void checkGrant(String name, byte[] bytes, PublicKey admin) {
        Grant grant = Grant.fromBytes(bytes);
        grant.verify(now(), admin);
        assertArrayEquals(bytes, grant.toBytes(), name);
    }

    @TestFactory
    Stream<DynamicTest> acceptCasesOpen() {
        assertTrue(names("cases").size() >= 9);
        return names("cases").stream().map(name -> DynamicTest.dynamicTest(name, () -> acceptCase(name)));
    }

    private static void acceptCase(String name) {
        Map<String, String> c = KV.get(name);
        assertNotNull(c, name);
        String topic = c.get("topic");
        PublicKey admin = PublicKey.fromHex(c.get("admin_public_key"));
        PublicKey delegating = PublicKey.fromHex(c.get("delegating_public_key"));
        assertEquals(c.get("delegating_key_id"), delegating.keyId(), name);

        // The grant and each share as its own bytes.
        checkGrant(name, hex(c.get("grant")), admin);
        Grant grant = Grant.fromBytes(hex(c.get("grant")));
        assertEquals(c.get("consumer_id"), grant.consumer(), name);
        assertEquals(topic, grant.topic(), name);
        assertEquals(Integer.parseInt(c.get("threshold")), grant.threshold(), name);
        assertEquals(Integer.parseInt(c.get("shares")), grant.shares(), name);
        for (int i = 0; i < Integer.parseInt(c.get("grant_shares")); i++) {
            checkGrant(name + " share " + i, hex(c.get("grant_share" + i)), admin);
        }

        try (SecretKey me = SecretKey.fromHex(c.get("consumer_secret_key"));
             Decryptor dec = decryptor(c, me, admin)) {
            assertEquals(c.get("consumer_public_key"), me.publicKey().toHex(), name);
            assertEquals(c.get("consumer_key_id"), me.publicKey().keyId(), name);

            // Every record, in order, through one decryptor.
            for (int r = 0; r < Integer.parseInt(c.get("records")); r++) {
                String p = "record" + r + ".";
                Opened opened = dec.open(topic, key(c, p), hex(c.get(p + "value")), headers(c, p));
                String what = name + " record " + r;
                // "decrypted", "tombstone", "unencrypted_allowed": the kinds' names.
                assertEquals(c.get(p + "opened"), opened.kind().name().toLowerCase(Locale.ROOT), what);
                assertEquals(opened.kind() == Opened.Kind.DECRYPTED, opened.authenticated(), what);
                if (opened.kind() == Opened.Kind.DECRYPTED) {
                    // "producer": the vouch's name.
                    assertEquals(c.get(p + "vouch"), opened.vouch().name().toLowerCase(Locale.ROOT), what);
                    assertEquals(Long.parseLong(c.get(p + "counter")), opened.counter(), what);
                }
                if (opened.kind() == Opened.Kind.TOMBSTONE) {
                    assertNull(opened.value(), what);
                } else {
                    assertArrayEquals(hex(c.get(p + "plaintext")), opened.value(), what);
                }
            }

            // Variants of the first record, each with its own topic, key, value and headers,
            // through the same decryptor (its session cached).
            for (int i = 0; i < Integer.parseInt(c.get("rejects")); i++) {
                String p = "reject" + i + ".";
                String t = c.get(p + "topic");
                byte[] key = key(c, p);
                byte[] value = hex(c.get(p + "value"));
                List<Map.Entry<String, byte[]>> headers = headers(c, p);
                String what = name + ": " + c.get(p + "what");
                RewrapException e = assertThrows(RewrapException.class, () -> dec.open(t, key, value, headers), what);
                assertEquals(Integer.parseInt(c.get(p + "code")), e.code(), what + " -> " + e);
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> rejectVectorsFail() {
        assertTrue(names("rejects").size() >= 50);
        return names("rejects").stream().map(name -> DynamicTest.dynamicTest(name, () -> rejectVector(name)));
    }

    private static void rejectVector(String name) {
        Map<String, String> v = KV.get(name);
        assertNotNull(v, name);
        RewrapException e = assertThrows(RewrapException.class, () -> {
            switch (v.get("check")) {
                case "open" -> {
                    PublicKey admin = PublicKey.fromHex(v.get("admin_public_key"));
                    try (SecretKey me = SecretKey.fromHex(v.get("consumer_secret_key"));
                         Decryptor dec = decryptor(v, me, admin)) {
                        dec.open(v.get("topic"), key(v, ""), hex(v.get("value")), headers(v, ""));
                    }
                }
                case "grant" -> Grant.fromBytes(hex(v.get("grant")))
                        .verify(Long.parseLong(v.get("now")), PublicKey.fromHex(v.get("admin_public_key")));
                case "public_key" -> PublicKey.fromBytes(hex(v.get("bytes")));
                case "secret_key" -> SecretKey.fromBytes(hex(v.get("bytes"))).close();
                default -> throw new AssertionError(name + ": unknown check " + v.get("check"));
            }
        }, name + ": " + v.get("what"));
        assertEquals(Integer.parseInt(v.get("code")), e.code(), name + ": " + v.get("what") + " -> " + e);
    }
}
