package io.rewrap;

import java.util.Arrays;

/** A signed grant of a topic to a consumer (or one share of a t-of-n grant). Immutable. */
public final class Grant {
    private final byte[] bytes;
    private final String[] fields; // topic, consumer, delegating hex, consumer hex, t, n

    private Grant(byte[] bytes) {
        this.fields = Native.grantDescribe(bytes); // parses (structure only)
        this.bytes = bytes.clone();
    }

    /** Issues a 1-of-1 grant valid from now, without expiry. */
    public static Grant issue(SecretKey admin, SecretKey delegating, String topic, String consumer,
            PublicKey consumerKey) {
        return issue(admin, delegating, topic, consumer, consumerKey, 1, 1,
                System.currentTimeMillis() / 1000, 0);
    }

    /**
     * Issues a grant: kfrags from {@code delegating} to {@code consumerKey}, signed by
     * {@code admin}; {@code threshold} of {@code shares} fragments open a record. Valid from
     * {@code notBefore} to {@code expires} (Unix seconds; 0 = never).
     */
    public static Grant issue(SecretKey admin, SecretKey delegating, String topic, String consumer,
            PublicKey consumerKey, int threshold, int shares, long notBefore, long expires) {
        byte[] bytes = admin.with(a -> delegating.with(d -> Native.grantIssue(a, d, topic, consumer,
                consumerKey.toBytes(), threshold, shares, notBefore, expires)));
        return new Grant(bytes);
    }

    /** Parses a serialized grant (structure only; verify it, or let a ReEncryptor do it). */
    public static Grant fromBytes(byte[] data) {
        return new Grant(data);
    }

    public byte[] toBytes() {
        return bytes.clone();
    }

    byte[] raw() {
        return bytes;
    }

    /** Checks signature against {@code admins}, validity at {@code now} and the kfrags. */
    public void verify(long now, PublicKey... admins) {
        Native.grantVerify(bytes, PublicKey.array(admins), now);
    }

    /** The share for re-encryptor {@code index} of a t-of-n grant. */
    public Grant share(int index) {
        return new Grant(Native.grantShare(bytes, index));
    }

    public String topic() { return fields[0]; }
    public String consumer() { return fields[1]; }
    public PublicKey delegatingKey() { return PublicKey.fromHex(fields[2]); }
    public PublicKey consumerKey() { return PublicKey.fromHex(fields[3]); }
    public int threshold() { return Integer.parseInt(fields[4]); }
    public int shares() { return Integer.parseInt(fields[5]); }

    @Override
    public boolean equals(Object o) {
        return o instanceof Grant g && Arrays.equals(bytes, g.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "Grant(topic=" + topic() + ", consumer=" + consumer() + ", " + threshold() + "-of-" + shares() + ")";
    }
}
