package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The seed scenario: producers a, b, c; consumers 1 and 2 granted, 3 not; revoke 2. */
class ScenarioTest {
    private static final String TOPIC = "orders";

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void seedScenario(boolean producerKeyMode) {
        try (World w = new World()) {
            List<SecretKey> delegating = new ArrayList<>();
            for (int i = 0; i < (producerKeyMode ? 3 : 1); i++) {
                delegating.add(SecretKey.generate());
            }
            // Producers a, b, c each sign with their own key, granted by the administrator.
            List<SecretKey> signers = new ArrayList<>();
            List<Encryptor> producers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Encryptor p = new Encryptor(delegating.get(i % delegating.size()).publicKey());
                SecretKey signer = SecretKey.generate();
                p.setSigner(signer, SigningMode.SESSION);
                signers.add(signer);
                producers.add(p);
            }
            String[] ids = {"1", "2", "3"};
            List<Decryptor> consumers = new ArrayList<>();
            for (String id : ids) {
                try (SecretKey key = SecretKey.generate()) {
                    Decryptor dec = new Decryptor(key, w.adminPub);
                    for (SecretKey signer : signers) {
                        dec.addProducerGrant(w.producerGrant(TOPIC, signer.publicKey()));
                    }
                    consumers.add(dec);
                    if (!id.equals("3")) {
                        for (SecretKey d : delegating) {
                            w.grant(d, TOPIC, id, key.publicKey());
                        }
                    }
                }
            }

            int messages = 60;
            for (int i = 0; i < messages; i++) {
                byte[] payload = ("message " + i).getBytes(StandardCharsets.UTF_8);
                byte[] key = ("k" + i).getBytes(StandardCharsets.UTF_8);
                Encryptor.Sealed s = producers.get(i % 3).seal(TOPIC, key, payload);
                for (int c = 0; c < 3; c++) {
                    List<byte[]> frags = w.fetch(TOPIC, s.edek(), ids[c]);
                    Decryptor dec = consumers.get(c);
                    if (c == 2) {
                        assertThrows(RewrapException.MissingCfrag.class, () -> dec.open(TOPIC, key, s.value(), s.headers(), frags));
                    } else {
                        Opened opened = dec.open(TOPIC, key, s.value(), s.headers(), frags);
                        assertEquals(Opened.Kind.DECRYPTED, opened.kind());
                        assertArrayEquals(payload, opened.value());
                        assertEquals(Opened.Vouch.PRODUCER, opened.vouch());
                        assertEquals(signers.get(i % 3).publicKey(), opened.producer());
                        assertEquals(SigningMode.SESSION, opened.mode());
                        assertEquals(i / 3, opened.counter()); // each producer's i/3-th record
                    }
                }
            }
            Stats.ReEncryptor rs = w.reencryptor.stats();
            assertEquals(6, rs.reencryptions()); // one per (session, granted consumer)
            assertEquals(messages, rs.refused());
            assertEquals(3, consumers.get(0).stats().dekOpens());
            assertEquals(messages - 3, consumers.get(0).stats().cache().hits());

            assertEquals(delegating.size(), w.reencryptor.revoke(TOPIC, "2"));
            for (Encryptor p : producers) {
                p.rotate();
                Encryptor.Sealed s = p.seal(TOPIC, null, "later".getBytes(StandardCharsets.UTF_8));
                assertArrayEquals("later".getBytes(StandardCharsets.UTF_8),
                        consumers.get(0).open(TOPIC, null, s.value(), s.headers(), w.fetch(TOPIC, s.edek(), "1")).value());
                assertThrows(RewrapException.MissingCfrag.class,
                        () -> consumers.get(1).open(TOPIC, null, s.value(), s.headers(), w.fetch(TOPIC, s.edek(), "2")));
                assertThrows(RewrapException.Revoked.class, () -> w.reencryptor.reencrypt(TOPIC, s.edek(), "2"));
            }
            producers.forEach(Encryptor::close);
            consumers.forEach(Decryptor::close);
            delegating.forEach(SecretKey::close);
            signers.forEach(SecretKey::close);
        }
    }

    /** Compression is a producer setting; the consumer opens compressed records as any other. */
    @ParameterizedTest
    @ValueSource(strings = {"lz4", "zstd"})
    void compressedRecordsOpenWithNoReaderSetting(String codec) {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate();
                Encryptor enc = w.producer(channel.publicKey()); Decryptor dec = w.consumer(me, TOPIC)) {
            w.grant(channel, TOPIC, "1", me.publicKey());
            assertThrows(RewrapException.InvalidArgument.class, () -> enc.setCompression("gzip", 0));
            enc.setCompression(codec, 0);
            StringBuilder events = new StringBuilder();
            for (int i = 0; i < 40; i++) {
                events.append("{\"id\":").append(i).append(",\"user\":\"alice\",\"action\":\"view\"}\n");
            }
            byte[] payload = events.toString().getBytes(StandardCharsets.UTF_8);
            Encryptor.Sealed s = enc.seal(TOPIC, null, payload);
            assertEquals(codec.equals("lz4") ? 2 : 3, s.value()[3]);
            assertArrayEquals(payload, dec.open(TOPIC, null, s.value(), s.headers(), w.fetch(TOPIC, s.edek(), "1")).value());
        }
    }
}
