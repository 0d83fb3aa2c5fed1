package io.rewrap;

import java.util.List;

/**
 * Test fixture: an administrator, a re-encryptor, and a producer signing key; `fetch` does what
 * the proxy does.
 */
final class World implements AutoCloseable {
    final SecretKey admin = SecretKey.generate();
    final PublicKey adminPub = admin.publicKey();
    final ReEncryptor reencryptor = new ReEncryptor(adminPub);
    /** The producer signing key every `producer` encryptor uses. */
    final SecretKey signer = SecretKey.generate();

    Grant grant(SecretKey delegating, String topic, String consumer, PublicKey consumerKey) {
        Grant g = Grant.issue(admin, delegating, topic, consumer, consumerKey);
        reencryptor.addGrant(g);
        return g;
    }

    /** A producer grant for `producer` on `topic`, valid from now, without expiry. */
    ProducerGrant producerGrant(String topic, PublicKey producer) {
        return ProducerGrant.issue(admin, topic, producer, System.currentTimeMillis() / 1000, 0);
    }

    /** An encryptor signing its sessions with `signer` (session mode). */
    Encryptor producer(PublicKey delegating) {
        Encryptor e = new Encryptor(delegating);
        e.setSigner(signer, SigningMode.SESSION);
        return e;
    }

    /** A decryptor accepting `signer`'s records on `topics` (policy require, the default). */
    Decryptor consumer(SecretKey key, String... topics) {
        Decryptor d = new Decryptor(key, adminPub);
        for (String topic : topics) {
            d.addProducerGrant(producerGrant(topic, signer.publicKey()));
        }
        return d;
    }

    /** The fragments the proxy would attach for this consumer (none when it is refused). */
    List<byte[]> fetch(String topic, byte[] edek, String consumer) {
        try {
            return reencryptor.reencrypt(topic, edek, consumer);
        } catch (RewrapException.NotGranted | RewrapException.Revoked e) {
            return List.of();
        }
    }

    @Override
    public void close() {
        reencryptor.close();
        signer.close();
        admin.close();
    }
}
