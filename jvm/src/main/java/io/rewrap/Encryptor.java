package io.rewrap;

/** Producer side: seals payloads for one delegating public key. Thread-safe; close it. */
public final class Encryptor extends NativeHandle {
    /** A sealed record: the value to produce and the value of its {@code rewrap.edek} header. */
    public record Sealed(byte[] value, byte[] edek) {}

    /**
     * Default DEK rotation: {@value Constants#DEFAULT_ROTATION_MAX_MESSAGES} messages or
     * {@value Constants#DEFAULT_ROTATION_MAX_AGE_SECS} seconds.
     */
    public Encryptor(PublicKey delegating) {
        this(delegating, 0, 0);
    }

    /** Rotation after {@code maxMessages} records or {@code maxAgeSecs} seconds (0 = default). */
    public Encryptor(PublicKey delegating, long maxMessages, long maxAgeSecs) {
        super(Native.encryptorNew(delegating.toBytes(), maxMessages, maxAgeSecs), Native::encryptorFree);
    }

    private final TopicBytes topics = new TopicBytes();

    public Sealed seal(String topic, byte[] payload) {
        byte[] t = topics.of(topic);
        byte[][] out = with(h -> Native.encryptorSeal(h, t, payload));
        return new Sealed(out[0], out[1]);
    }

    /** Starts fresh sessions (new DEKs) on the next seal of every topic. */
    public void rotate() {
        with(h -> {
            Native.encryptorRotate(h);
            return null;
        });
    }
}
