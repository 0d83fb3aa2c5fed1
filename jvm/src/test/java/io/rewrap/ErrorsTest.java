package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every bad input raises its own typed exception; nothing crashes the JVM. */
class ErrorsTest {
    private static final String TOPIC = "orders";
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
        enc = new Encryptor(channel.publicKey());
        dec = new Decryptor(me, w.adminPub);
        sealed = enc.seal(TOPIC, "secret payload".getBytes(StandardCharsets.UTF_8));
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

    @Test
    void truncatedValue() {
        byte[] cut = Arrays.copyOf(sealed.value(), 20);
        assertThrows(RewrapException.Truncated.class, () -> dec.open(TOPIC, cut, sealed.edek(), mine()));
    }

    @Test
    void truncatedEdek() {
        byte[] cut = Arrays.copyOf(sealed.edek(), 40);
        assertThrows(RewrapException.Truncated.class, () -> dec.open(TOPIC, sealed.value(), cut, mine()));
    }

    @Test
    void unknownVersion() {
        byte[] bad = sealed.value().clone();
        bad[2] = 9;
        RewrapException e = assertThrows(RewrapException.UnsupportedVersion.class, () -> dec.open(TOPIC, bad, sealed.edek(), mine()));
        assertEquals(101, e.code());
    }

    @Test
    void flippedBit() {
        byte[] bad = sealed.value().clone();
        bad[bad.length - 1] ^= 1;
        assertThrows(RewrapException.AuthenticationFailed.class, () -> dec.open(TOPIC, bad, sealed.edek(), mine()));
    }

    @Test
    void wrongTopicAndWrongConsumer() {
        assertThrows(RewrapException.WrongTopic.class, () -> dec.open("payments", sealed.value(), sealed.edek(), mine()));
        List<byte[]> theirs = w.fetch(TOPIC, sealed.edek(), "other");
        assertThrows(RewrapException.WrongConsumer.class, () -> dec.open(TOPIC, sealed.value(), sealed.edek(), theirs));
    }

    @Test
    void missingCfragNotGrantedForeignAndPlaintext() {
        assertThrows(RewrapException.NotGranted.class, () -> w.reencryptor.reencrypt(TOPIC, sealed.edek(), "stranger"));
        assertThrows(RewrapException.MissingCfrag.class, () -> dec.open(TOPIC, sealed.value(), sealed.edek(), List.of()));
        assertThrows(RewrapException.ForeignRecord.class,
                () -> dec.open(TOPIC, "{\"json\":1}".getBytes(StandardCharsets.UTF_8), sealed.edek(), mine()));
        assertThrows(RewrapException.Unencrypted.class,
                () -> dec.open(TOPIC, "injected".getBytes(StandardCharsets.UTF_8), List.of()));
        assertNull(dec.open(TOPIC, null, List.of()));
        try (Decryptor migrating = new Decryptor(other, 0, 0, true, w.adminPub)) {
            assertArrayEquals("legacy".getBytes(StandardCharsets.UTF_8),
                    migrating.open(TOPIC, "legacy".getBytes(StandardCharsets.UTF_8), List.of(Map.entry("x", new byte[0]))));
        }
    }

    @Test
    void untrustedExpiredAndMalformedGrants() {
        try (SecretKey rogue = SecretKey.generate()) {
            Grant g = Grant.issue(rogue, channel, TOPIC, "x", me.publicKey());
            assertThrows(RewrapException.UntrustedGrant.class, () -> w.reencryptor.addGrant(g));
        }
        Grant old = Grant.issue(w.admin, channel, TOPIC, "x", me.publicKey(), 1, 1, 100, 200);
        assertThrows(RewrapException.GrantExpired.class, () -> w.reencryptor.addGrant(old));
        old.verify(150, w.adminPub);
        assertThrows(RewrapException.UnsupportedVersion.class, () -> Grant.fromBytes(new byte[40]));
        assertThrows(RewrapException.InvalidArgument.class,
                () -> Grant.issue(w.admin, channel, TOPIC, "x", me.publicKey(), 3, 2, 0, 0));
        assertThrows(RewrapException.Malformed.class, () -> PublicKey.fromHex("zz"));
        assertThrows(RewrapException.Malformed.class, () -> SecretKey.fromBytes(new byte[32]));
        assertThrows(NullPointerException.class, () -> SecretKey.fromBytes(null));
    }

    @Test
    void closeTwiceAndUseAfterCloseAreSafeErrors() {
        dec.close();
        dec.close();
        RewrapException e = assertThrows(RewrapException.Closed.class, () -> dec.open(TOPIC, sealed.value(), sealed.edek(), mine()));
        assertEquals(500, e.code());
        enc.close();
        assertThrows(RewrapException.Closed.class, () -> enc.seal(TOPIC, new byte[1]));
        assertThrows(RewrapException.Closed.class, () -> enc.rotate());
    }

    @Test
    void secretKeyIsNeverPrinted() {
        String hex = java.util.HexFormat.of().formatHex(me.toBytes());
        assertFalse(me.toString().contains(hex));
    }
}
