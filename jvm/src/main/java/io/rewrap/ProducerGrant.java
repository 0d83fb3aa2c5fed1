package io.rewrap;

import java.util.Arrays;

/**
 * An administrator's signed permission for one producer key to produce to one topic. Readers
 * ({@link Decryptor#addProducerGrant}) and re-encryptors accept a producer's signed sessions
 * only with one. Immutable.
 */
public final class ProducerGrant {
    private final byte[] bytes;
    private final String[] fields; // topic, producer hex, admin hex, not before, expires

    private ProducerGrant(byte[] bytes) {
        this.fields = Native.producerGrantDescribe(bytes); // parses (structure only)
        this.bytes = bytes.clone();
    }

    /**
     * Issues a grant letting {@code producer} produce to {@code topic}, signed by
     * {@code admin}; valid from {@code notBefore} until {@code expires} (Unix seconds; 0 = never).
     */
    public static ProducerGrant issue(SecretKey admin, String topic, PublicKey producer, long notBefore,
            long expires) {
        return new ProducerGrant(admin.with(a -> Native.producerGrantIssue(a, topic, producer.raw(), notBefore,
                expires)));
    }

    /** Parses a serialized producer grant (structure only; verify it, or let a reader do it). */
    public static ProducerGrant fromBytes(byte[] data) {
        return new ProducerGrant(data);
    }

    public byte[] toBytes() {
        return bytes.clone();
    }

    byte[] raw() {
        return bytes;
    }

    /** Checks the signature against {@code admins} and the validity at {@code now} (Unix seconds). */
    public void verify(long now, PublicKey... admins) {
        Native.producerGrantVerify(bytes, PublicKey.array(admins), now);
    }

    public String topic() { return fields[0]; }
    public PublicKey producer() { return PublicKey.fromHex(fields[1]); }
    public PublicKey adminKey() { return PublicKey.fromHex(fields[2]); }
    public long notBefore() { return Long.parseLong(fields[3]); }
    /** Unix seconds; 0 = never. */
    public long expires() { return Long.parseLong(fields[4]); }

    @Override
    public boolean equals(Object o) {
        return o instanceof ProducerGrant g && Arrays.equals(bytes, g.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "ProducerGrant(topic=" + topic() + ", producer=" + producer().keyId() + ")";
    }
}
