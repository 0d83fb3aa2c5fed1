package io.rewrap;

import java.util.List;

/** Test fixture: an administrator and a re-encryptor; `fetch` does what the proxy does. */
final class World implements AutoCloseable {
    final SecretKey admin = SecretKey.generate();
    final PublicKey adminPub = admin.publicKey();
    final ReEncryptor reencryptor = new ReEncryptor(adminPub);

    Grant grant(SecretKey delegating, String topic, String consumer, PublicKey consumerKey) {
        Grant g = Grant.issue(admin, delegating, topic, consumer, consumerKey);
        reencryptor.addGrant(g);
        return g;
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
        admin.close();
    }
}
