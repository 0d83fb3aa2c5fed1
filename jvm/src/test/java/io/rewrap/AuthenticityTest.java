package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Producer authenticity (format v2): signatures, producer grants, policies, record keys. */
class AuthenticityTest {
    private static final String TOPIC = "orders";
    private static final String SIG = "rewrap.sig";
    private static final String RSIG = "rewrap.rsig";
    private static final String CHSIG = "rewrap.chsig";
    private static final byte[] KEY = "order-17".getBytes(StandardCharsets.UTF_8);
    private static final byte[] PAYLOAD = "ship 3 crates".getBytes(StandardCharsets.UTF_8);

    private World w;
    private SecretKey channel, me;
    private Encryptor producer;
    private Decryptor consumer;

    @BeforeEach
    void setUp() {
        w = new World();
        channel = SecretKey.generate();
        me = SecretKey.generate();
        w.grant(channel, TOPIC, "me", me.publicKey());
        producer = w.producer(channel.publicKey());
        consumer = w.consumer(me, TOPIC);
    }

    @AfterEach
    void tearDown() {
        consumer.close();
        producer.close();
        channel.close();
        me.close();
        w.close();
    }

    private Opened open(Decryptor dec, byte[] key, Encryptor.Sealed s) {
        return open(dec, key, s.value(), s.headers(), s.edek());
    }

    private Opened open(Decryptor dec, byte[] key, byte[] value, List<Map.Entry<String, byte[]>> headers,
            byte[] edek) {
        return dec.open(TOPIC, key, value, headers, w.fetch(TOPIC, edek, "me"));
    }

    /** `s`'s headers with `name` replaced by `value` (null: removed). */
    private static List<Map.Entry<String, byte[]>> with(Encryptor.Sealed s, String name, byte[] value) {
        List<Map.Entry<String, byte[]>> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> h : s.headers()) {
            if (!h.getKey().equals(name)) {
                out.add(h);
            } else if (value != null) {
                out.add(Map.entry(name, value));
            }
        }
        return out;
    }

    @Test
    void grantedProducersRecordOpensVouchedByTheProducer() {
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        assertNotNull(s.header(SIG));
        assertNull(s.header(RSIG));
        assertEquals(Policy.REQUIRE, consumer.policy(TOPIC));
        Opened o = open(consumer, KEY, s);
        assertArrayEquals(PAYLOAD, o.value());
        assertEquals(Opened.Vouch.PRODUCER, o.vouch());
        assertEquals(w.signer.publicKey(), o.producer());
        assertEquals(SigningMode.SESSION, o.mode());
        assertEquals(w.signer.publicKey(), producer.signerKey());
        assertEquals(SigningMode.SESSION, producer.signingMode());
    }

    @Test
    void forgedRecordFromThePublicDelegatingKeyIsUnsigned() {
        // Anyone can encrypt to the channel's public key; without a signer the record is unsigned.
        try (Encryptor attacker = new Encryptor(channel.publicKey())) {
            assertNull(attacker.signerKey());
            Encryptor.Sealed forged = attacker.seal(TOPIC, KEY, "refund me".getBytes(StandardCharsets.UTF_8));
            assertNull(forged.header(SIG));
            RewrapException e = assertThrows(RewrapException.Unsigned.class, () -> open(consumer, KEY, forged));
            assertEquals(600, e.code());
        }
    }

    @Test
    void signerWithoutProducerGrantIsUnauthorizedProducer() {
        try (Encryptor attacker = new Encryptor(channel.publicKey()); SecretKey own = SecretKey.generate()) {
            attacker.setSigner(own, SigningMode.SESSION);
            Encryptor.Sealed forged = attacker.seal(TOPIC, KEY, PAYLOAD);
            RewrapException e = assertThrows(RewrapException.UnauthorizedProducer.class,
                    () -> open(consumer, KEY, forged));
            assertEquals(602, e.code());
        }
    }

    @Test
    void producerGrantForAnotherTopicDoesNotAuthorize() {
        try (Decryptor other = w.consumer(me, "payments")) {
            Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
            assertThrows(RewrapException.UnauthorizedProducer.class, () -> open(other, KEY, s));
        }
    }

    @Test
    void valueMovedToAnotherRecordKeyFailsAuthentication() {
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        byte[] otherKey = "order-18".getBytes(StandardCharsets.UTF_8);
        assertThrows(RewrapException.AuthenticationFailed.class, () -> open(consumer, otherKey, s));
        // A null key and an empty key are different keys.
        Encryptor.Sealed nullKeyed = producer.seal(TOPIC, null, PAYLOAD);
        assertArrayEquals(PAYLOAD, open(consumer, null, nullKeyed).value());
        assertThrows(RewrapException.AuthenticationFailed.class, () -> open(consumer, new byte[0], nullKeyed));
        Encryptor.Sealed emptyKeyed = producer.seal(TOPIC, new byte[0], PAYLOAD);
        assertThrows(RewrapException.AuthenticationFailed.class, () -> open(consumer, null, emptyKeyed));
    }

    @Test
    void alteredSessionSignatureIsBadSignature() {
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        byte[] sig = s.header(SIG).clone();
        sig[sig.length - 1] ^= 1;
        RewrapException e = assertThrows(RewrapException.BadSignature.class,
                () -> open(consumer, KEY, s.value(), with(s, SIG, sig), s.edek()));
        assertEquals(601, e.code());
    }

    @Test
    void strippedSessionSignatureIsUnsigned() {
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        assertThrows(RewrapException.Unsigned.class, () -> open(consumer, KEY, s.value(), with(s, SIG, null), s.edek()));
    }

    @Test
    void revokedProducersNewSessionIsRefused() {
        Encryptor.Sealed before = producer.seal(TOPIC, KEY, PAYLOAD);
        assertArrayEquals(PAYLOAD, open(consumer, KEY, before).value());
        assertTrue(consumer.revokeProducer(TOPIC, w.signer.publicKey()));
        assertFalse(consumer.revokeProducer(TOPIC, w.signer.publicKey()));
        producer.rotate();
        Encryptor.Sealed after = producer.seal(TOPIC, KEY, PAYLOAD);
        assertThrows(RewrapException.UnauthorizedProducer.class, () -> open(consumer, KEY, after));
    }

    @Test
    void optionalPolicyAcceptsUnsignedAsUnsignedAndStillChecksSigned() {
        try (Encryptor plain = new Encryptor(channel.publicKey())) {
            Encryptor.Sealed unsigned = plain.seal(TOPIC, KEY, PAYLOAD);
            consumer.setPolicy(Policy.OPTIONAL, TOPIC);
            assertEquals(Policy.OPTIONAL, consumer.policy(TOPIC));
            assertEquals(Policy.REQUIRE, consumer.policy("payments"));
            Opened o = open(consumer, KEY, unsigned);
            assertArrayEquals(PAYLOAD, o.value());
            assertEquals(Opened.Vouch.UNSIGNED, o.vouch());
            assertNull(o.producer());
            assertNull(o.mode());
            // A signed record is still checked: a stranger's signature is refused.
            try (SecretKey stranger = SecretKey.generate()) {
                plain.setSigner(stranger, SigningMode.SESSION);
                Encryptor.Sealed signed = plain.seal(TOPIC, KEY, PAYLOAD);
                assertThrows(RewrapException.UnauthorizedProducer.class, () -> open(consumer, KEY, signed));
            }
        }
    }

    @Test
    void offPolicyChecksNoSignatureButStillTheKey() {
        try (Encryptor plain = new Encryptor(channel.publicKey()); SecretKey stranger = SecretKey.generate()) {
            consumer.setPolicy(Policy.OFF, null);
            assertEquals(Policy.OFF, consumer.policy(TOPIC));
            Encryptor.Sealed unsigned = plain.seal(TOPIC, KEY, PAYLOAD);
            assertEquals(Opened.Vouch.UNSIGNED, open(consumer, KEY, unsigned).vouch());
            plain.setSigner(stranger, SigningMode.SESSION);
            Encryptor.Sealed strangers = plain.seal(TOPIC, KEY, PAYLOAD);
            assertArrayEquals(PAYLOAD, open(consumer, KEY, strangers).value());
            assertThrows(RewrapException.AuthenticationFailed.class, () -> open(consumer, new byte[0], unsigned));
        }
    }

    @Test
    void recordModeSignsEveryRecord() {
        producer.setSigner(w.signer, SigningMode.RECORD);
        assertEquals(SigningMode.RECORD, producer.signingMode());
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        assertNotNull(s.header(RSIG));
        Opened o = open(consumer, KEY, s);
        assertEquals(SigningMode.RECORD, o.mode());
        assertEquals(Opened.Vouch.PRODUCER, o.vouch());

        byte[] rsig = s.header(RSIG).clone();
        rsig[rsig.length - 1] ^= 1;
        assertThrows(RewrapException.BadSignature.class, () -> open(consumer, KEY, s.value(), with(s, RSIG, rsig), s.edek()));
        assertThrows(RewrapException.Unsigned.class, () -> open(consumer, KEY, s.value(), with(s, RSIG, null), s.edek()));
    }

    @Test
    void sessionIdAndCounterNumberTheRecordsOfASession() {
        byte[] first = null;
        for (int i = 0; i < 3; i++) {
            Opened o = open(consumer, KEY, producer.seal(TOPIC, KEY, PAYLOAD));
            assertEquals(Constants.SESSION_ID_LEN, o.sessionId().length);
            assertEquals(i, o.counter());
            if (first == null) {
                first = o.sessionId();
            } else {
                assertArrayEquals(first, o.sessionId());
            }
        }
        producer.rotate();
        Opened next = open(consumer, KEY, producer.seal(TOPIC, KEY, PAYLOAD));
        assertEquals(0, next.counter());
        assertFalse(Arrays.equals(first, next.sessionId()));
        // Tombstones and refused records carry no session.
        assertNull(consumer.open(TOPIC, KEY, null, List.of()).sessionId());
    }

    @Test
    void reEncryptorRefusesUnsignedRecordsUnderRequire() {
        try (Encryptor attacker = new Encryptor(channel.publicKey())) {
            Encryptor.Sealed forged = attacker.seal(TOPIC, KEY, PAYLOAD);
            assertThrows(RewrapException.Unsigned.class, () -> w.reencryptor.attest(TOPIC, forged.edek(), null));
        }
        w.reencryptor.setPolicy(Policy.OPTIONAL, TOPIC);
        try (Encryptor plain = new Encryptor(channel.publicKey())) {
            assertNull(w.reencryptor.attest(TOPIC, plain.seal(TOPIC, KEY, PAYLOAD).edek(), null));
        }
    }

    @Test
    void channelSignatureFromTheReEncryptorVouchesForCheckedProducers() {
        byte[] seed = new byte[32];
        Arrays.fill(seed, (byte) 7);
        w.reencryptor.setChannelSeed(seed);
        w.reencryptor.addProducerGrant(w.producerGrant(TOPIC, w.signer.publicKey()));
        PublicKey channelKey = w.reencryptor.channelKey(TOPIC);
        assertNotNull(channelKey);
        Encryptor.Sealed s = producer.seal(TOPIC, KEY, PAYLOAD);
        byte[] chsig = w.reencryptor.attest(TOPIC, s.edek(), s.header(SIG));
        assertNotNull(chsig);

        // This consumer holds no producer grant: it trusts the channel key instead.
        try (Decryptor viaChannel = new Decryptor(me, w.adminPub)) {
            viaChannel.trustChannelKey(TOPIC, channelKey);
            List<Map.Entry<String, byte[]>> headers = new ArrayList<>(s.headers());
            headers.add(Map.entry(CHSIG, chsig));
            Opened o = open(viaChannel, KEY, s.value(), headers, s.edek());
            assertEquals(Opened.Vouch.CHANNEL, o.vouch());
            assertArrayEquals(PAYLOAD, o.value());
        }
        // The re-encryptor refuses what it cannot vouch for.
        try (Encryptor attacker = new Encryptor(channel.publicKey())) {
            Encryptor.Sealed forged = attacker.seal(TOPIC, KEY, PAYLOAD);
            assertThrows(RewrapException.Unsigned.class, () -> w.reencryptor.attest(TOPIC, forged.edek(), null));
        }
        w.reencryptor.setChannelSeed(null);
        assertNull(w.reencryptor.channelKey(TOPIC));
        assertTrue(w.reencryptor.revokeProducer(TOPIC, w.signer.publicKey()));
    }

    @Test
    void producerGrantsRoundTripAndVerify() {
        long now = System.currentTimeMillis() / 1000;
        ProducerGrant g = ProducerGrant.issue(w.admin, TOPIC, w.signer.publicKey(), now - 10, now + 3600);
        ProducerGrant back = ProducerGrant.fromBytes(g.toBytes());
        assertEquals(g, back);
        assertEquals(TOPIC, back.topic());
        assertEquals(w.signer.publicKey(), back.producer());
        assertEquals(w.adminPub, back.adminKey());
        assertEquals(now - 10, back.notBefore());
        assertEquals(now + 3600, back.expires());
        back.verify(now, w.adminPub);
        consumer.addProducerGrant(g.toBytes());
        try (SecretKey rogue = SecretKey.generate()) {
            ProducerGrant untrusted = ProducerGrant.issue(rogue, TOPIC, rogue.publicKey(), now, 0);
            assertThrows(RewrapException.UntrustedGrant.class, () -> consumer.addProducerGrant(untrusted));
            assertThrows(RewrapException.UntrustedGrant.class, () -> untrusted.verify(now, w.adminPub));
        }
        ProducerGrant old = ProducerGrant.issue(w.admin, TOPIC, w.signer.publicKey(), 100, 200);
        assertThrows(RewrapException.GrantExpired.class, () -> old.verify(now, w.adminPub));
        assertThrows(RewrapException.InvalidArgument.class,
                () -> ProducerGrant.issue(w.admin, TOPIC, w.signer.publicKey(), 200, 100));
        byte[] bad = g.toBytes();
        bad[bad.length - 1] ^= 1;
        assertThrows(RewrapException.class, () -> ProducerGrant.fromBytes(bad).verify(now, w.adminPub));
        assertThrows(RewrapException.UnsupportedVersion.class, () -> ProducerGrant.fromBytes(new byte[40]));
    }
}
