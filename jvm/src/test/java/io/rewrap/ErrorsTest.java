package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every bad input raises its own typed exception; nothing crashes the JVM. */
class ErrorsTest {
    private static final String TOPIC = "orders";
    private static final byte[] KEY = "order-17".getBytes(StandardCharsets.UTF_8);
    private World w;
    private SecretKey channel, me, other;
    private Encryptor enc;
    private Decryptor dec;
    private Encryptor.Sealed sealed;

    @BeforeEach
    void setUp() {
        w = new World();
        channel = SecretKey.generate();
        me = SecretKey.generate();
        other = SecretKey.generate();
        w.grant(channel, TOPIC, "me", me.publicKey());
        w.grant(channel, TOPIC, "other", other.publicKey());
        enc = w.producer(channel.publicKey());
        dec = w.consumer(me, TOPIC);
        sealed = enc.seal(TOPIC, KEY, "secret payload".getBytes(StandardCharsets.UTF_8));
    }

    @AfterEach
    void tearDown() {
        dec.close();
        enc.close();
        channel.close();
        me.close();
        other.close();
        w.close();
    }

    private List<byte[]> mine() {
        return w.fetch(TOPIC, sealed.edek(), "me");
    }

    /** The sealed record's headers with header `name`'s value replaced by `value`. */
    private List<Map.Entry<String, byte[]>> replaced(String name, byte[] value) {
        List<Map.Entry<String, byte[]>> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> h : sealed.headers()) {
            out.add(Map.entry(h.getKey(), h.getKey().equals(name) ? value : h.getValue()));
        }
        return out;
    }

    @Test
    void truncatedValue() {
        byte[] cut = Arrays.copyOf(sealed.value(), 20);
        assertThrows(RewrapException.Truncated.class, () -> dec.open(TOPIC, KEY, cut, sealed.headers(), mine()));
    }

    @Test
    void truncatedEdek() {
        byte[] cut = Arrays.copyOf(sealed.edek(), 40);
        assertThrows(RewrapException.Truncated.class, () -> dec.open(TOPIC, KEY, sealed.value(), replaced(Constants.EDEK_HEADER, cut), mine()));
    }

    @Test
    void unknownVersion() {
        byte[] bad = sealed.value().clone();
        bad[2] = 9;
        RewrapException e = assertThrows(RewrapException.UnsupportedVersion.class, () -> dec.open(TOPIC, KEY, bad, sealed.headers(), mine()));
        assertEquals(101, e.code());
    }

    @Test
    void flippedBit() {
        byte[] bad = sealed.value().clone();
        bad[bad.length - 1] ^= 1;
        assertThrows(RewrapException.AuthenticationFailed.class, () -> dec.open(TOPIC, KEY, bad, sealed.headers(), mine()));
    }

    @Test
    void wrongTopicAndWrongConsumer() {
        assertThrows(RewrapException.WrongTopic.class, () -> dec.open("payments", KEY, sealed.value(), sealed.headers(), mine()));
        List<byte[]> theirs = w.fetch(TOPIC, sealed.edek(), "other");
        assertThrows(RewrapException.WrongConsumer.class, () -> dec.open(TOPIC, KEY, sealed.value(), sealed.headers(), theirs));
    }

    @Test
    void missingCfragNotGrantedForeignAndPlaintext() {
        assertThrows(RewrapException.NotGranted.class, () -> w.reencryptor.reencrypt(TOPIC, sealed.edek(), "stranger"));
        assertThrows(RewrapException.MissingCfrag.class, () -> dec.open(TOPIC, KEY, sealed.value(), sealed.headers(), List.of()));
        assertThrows(RewrapException.ForeignRecord.class,
                () -> dec.open(TOPIC, KEY, "{\"json\":1}".getBytes(StandardCharsets.UTF_8), sealed.headers(), mine()));
        assertThrows(RewrapException.Unencrypted.class,
                () -> dec.open(TOPIC, KEY, "injected".getBytes(StandardCharsets.UTF_8), List.of()));
        Opened tombstone = dec.open(TOPIC, KEY, null, List.of());
        assertEquals(Opened.Kind.TOMBSTONE, tombstone.kind());
        assertNull(tombstone.value());
        assertFalse(tombstone.authenticated());
    }

    @Test
    void allowedPlaintextIsReportedAsUnencryptedAllowedNeverAsDecrypted() {
        byte[] legacy = "legacy".getBytes(StandardCharsets.UTF_8);
        try (Decryptor migrating = new Decryptor(me, 0, 0, true, w.adminPub)) {
            migrating.addProducerGrant(w.producerGrant(TOPIC, w.signer.publicKey()));
            Opened plain = migrating.open(TOPIC, KEY, legacy, List.of(Map.entry("x", new byte[0])));
            assertEquals(Opened.Kind.UNENCRYPTED_ALLOWED, plain.kind());
            assertEquals(2, plain.kind().code());
            assertFalse(plain.authenticated());
            assertArrayEquals(legacy, plain.value());

            Opened sealedRecord = migrating.open(TOPIC, KEY, sealed.value(), sealed.headers(), mine());
            assertEquals(Opened.Kind.DECRYPTED, sealedRecord.kind());
            assertEquals(0, sealedRecord.kind().code());
            assertTrue(sealedRecord.authenticated());
            assertArrayEquals("secret payload".getBytes(StandardCharsets.UTF_8), sealedRecord.value());
            assertEquals(1, migrating.open(TOPIC, KEY, null, List.of()).kind().code());
        }
    }

    /** The record's headers exactly as a Kafka client holds them: ours among others. */
    private List<Map.Entry<String, byte[]>> recordHeaders(Map.Entry<String, byte[]> extra) {
        List<Map.Entry<String, byte[]>> headers = new ArrayList<>();
        headers.add(Map.entry("traceparent", "00-abc-01".getBytes(StandardCharsets.UTF_8)));
        headers.addAll(sealed.headers());
        for (byte[] frag : mine()) {
            headers.add(Map.entry(Constants.CFRAG_HEADER, frag));
        }
        headers.add(new AbstractMap.SimpleImmutableEntry<>("app.null-valued", null));
        if (extra != null) {
            headers.add(extra);
        }
        return headers;
    }

    @Test
    void everyHeaderIsPassedAndTheEngineSelectsOurs() {
        Opened opened = dec.open(TOPIC, KEY, sealed.value(), recordHeaders(null));
        assertEquals(Opened.Kind.DECRYPTED, opened.kind());
        assertArrayEquals("secret payload".getBytes(StandardCharsets.UTF_8), opened.value());
        // Unknown rewrap.* names are the engine's to ignore, not an error.
        assertTrue(dec.open(TOPIC, KEY, sealed.value(), recordHeaders(Map.entry("rewrap.future", new byte[1]))).authenticated());
    }

    @Test
    void headerNameWithNulIsRefusedAsSmuggling() {
        // C clients read "rewrap.cfrag\0x" as "rewrap.cfrag": a name that only matches once cut.
        RewrapException e = assertThrows(RewrapException.Malformed.class,
                () -> dec.open(TOPIC, KEY, sealed.value(), recordHeaders(Map.entry("rewrap.cfrag\u0000x", mine().get(0)))));
        assertEquals(RewrapException.Malformed.CODE, e.code());
        assertThrows(RewrapException.Malformed.class,
                () -> dec.open(TOPIC, KEY, sealed.value(), recordHeaders(Map.entry("rewrap.edek\u0000", sealed.edek()))));
    }

    @Test
    void duplicateEdekIsRefusedByTheEngine() {
        assertThrows(RewrapException.Malformed.class,
                () -> dec.open(TOPIC, KEY, sealed.value(), recordHeaders(Map.entry(Constants.EDEK_HEADER, sealed.edek()))));
    }

    @Test
    void untrustedExpiredAndMalformedGrants() {
        try (SecretKey rogue = SecretKey.generate()) {
            Grant g = Grant.issue(rogue, channel, TOPIC, "x", me.publicKey());
            assertThrows(RewrapException.UntrustedGrant.class, () -> w.reencryptor.addGrant(g));
        }
        long now = System.currentTimeMillis() / 1000;
        Grant old = Grant.issue(w.admin, channel, TOPIC, "x", me.publicKey(), 1, 1, now - 200, now - 100);
        assertThrows(RewrapException.GrantExpired.class, () -> w.reencryptor.addGrant(old));
        old.verify(now - 150, w.adminPub);
        // Long before it was issued it is not valid: the issue time is checked too.
        Grant early = Grant.issue(w.admin, channel, TOPIC, "x", me.publicKey(), 1, 1, 100, 200);
        assertThrows(RewrapException.GrantExpired.class, () -> early.verify(150, w.adminPub));
        assertThrows(RewrapException.UnsupportedVersion.class, () -> Grant.fromBytes(new byte[40]));
        assertThrows(RewrapException.InvalidArgument.class,
                () -> Grant.issue(w.admin, channel, TOPIC, "x", me.publicKey(), 3, 2, 0, 0));
        assertThrows(RewrapException.Malformed.class, () -> PublicKey.fromHex("zz"));
        assertThrows(RewrapException.Malformed.class, () -> SecretKey.fromHex("zz"));
        assertThrows(RewrapException.Malformed.class, () -> SecretKey.fromBytes(new byte[32]));
        assertThrows(NullPointerException.class, () -> SecretKey.fromBytes(null));
        assertThrows(NullPointerException.class, () -> PublicKey.fromHex(null));
    }

    @Test
    void closeTwiceAndUseAfterCloseAreSafeErrors() {
        dec.close();
        dec.close();
        RewrapException e = assertThrows(RewrapException.Closed.class, () -> dec.open(TOPIC, KEY, sealed.value(), sealed.headers(), mine()));
        assertEquals(500, e.code());
        enc.close();
        assertThrows(RewrapException.Closed.class, () -> enc.seal(TOPIC, null, new byte[1]));
        assertThrows(RewrapException.Closed.class, () -> enc.rotate());
    }

    /** SCREAMING_SNAKE to UpperCamelCase (INVALID_UTF8 -> InvalidUtf8). */
    private static String camel(String screaming) {
        StringBuilder out = new StringBuilder();
        for (String word : screaming.split("_")) {
            out.append(word.charAt(0)).append(word.substring(1).toLowerCase(Locale.ROOT));
        }
        return out.toString();
    }

    /**
     * The C header's enum {@code name} as UpperCamelCase name -> number. The header is generated
     * from the engine's tables by the ffi tests, so it stands for the engine here.
     */
    private static Map<String, Integer> cEnum(String name, String prefix) throws Exception {
        Pattern row = Pattern.compile("^\\s*" + prefix + "([A-Z0-9_]+) = (\\d+),?$");
        Map<String, Integer> rows = new TreeMap<>();
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of(System.getProperty("rewrap.header")))) {
            if (line.startsWith("typedef enum ")) {
                inside = line.equals("typedef enum " + name + " {");
            } else if (line.startsWith("}")) {
                inside = false;
            }
            Matcher m = row.matcher(line);
            if (inside && m.matches()) {
                rows.put(camel(m.group(1)), Integer.parseInt(m.group(2)));
            }
        }
        assertFalse(rows.isEmpty(), "enum " + name + " not found in the C header");
        return rows;
    }

    /** Every row of the error table has its exception class with its code; no class is extra. */
    @Test
    void exceptionClassesMatchTheEngineTable() throws Exception {
        Map<String, Integer> table = cEnum("rewrap_result", "REWRAP_");
        assertEquals(0, table.remove("Ok"));
        Map<String, Integer> classes = new TreeMap<>();
        for (Class<?> c : RewrapException.class.getDeclaredClasses()) {
            assertTrue(RewrapException.class.isAssignableFrom(c), c.getName());
            RewrapException e = (RewrapException) c.getConstructor(String.class).newInstance("m");
            assertEquals(c.getField("CODE").getInt(null), e.code(), c.getName());
            classes.put(c.getSimpleName(), e.code());
        }
        assertEquals(table, classes);
    }

    /** Opened.Kind has the engine's OpenedKind numbers. */
    @Test
    void openedKindsMatchTheEngine() throws Exception {
        Map<String, Integer> kinds = new TreeMap<>();
        for (Opened.Kind k : Opened.Kind.values()) {
            kinds.put(camel(k.name()), k.code());
        }
        assertEquals(cEnum("rewrap_opened_kind", "REWRAP_OPENED_"), kinds);
    }

    @Test
    void secretKeyIsNeverPrinted() {
        String hex = java.util.HexFormat.of().formatHex(me.toBytes());
        assertFalse(me.toString().contains(hex));
    }
}
