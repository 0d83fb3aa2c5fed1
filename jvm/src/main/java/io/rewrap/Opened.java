package io.rewrap;

/**
 * What {@link Decryptor#open} found: the payload and which kind of record it was. Only
 * {@link Kind#DECRYPTED} is authenticated data; a plaintext record let through by
 * {@code allowPlaintext} is {@link Kind#UNENCRYPTED_ALLOWED} and must not be trusted as if it
 * had been sealed. A decrypted record also says who vouched for it ({@link #vouch()}): its
 * producer, a channel key, or nobody (unsigned, accepted under {@link Policy#OPTIONAL} or
 * {@link Policy#OFF}).
 */
public final class Opened {
    /** How a decrypted record's session was authenticated (the engine's {@code Vouch}). */
    public enum Vouch {
        /** Not signed, or not checked (policy optional for an unsigned record, or off). */
        UNSIGNED(0),
        /** The producer's own signature, checked against a producer grant. */
        PRODUCER(1),
        /** A channel signature made by a re-encryptor that checked the producer. */
        CHANNEL(2);

        private final int code;

        Vouch(int code) {
            this.code = code;
        }

        /** The engine's number for this vouch. */
        public int code() {
            return code;
        }

        static Vouch of(int code) {
            for (Vouch v : values()) {
                if (v.code == code) {
                    return v;
                }
            }
            throw new RewrapException.Unknown("vouch " + code);
        }
    }

    /** The engine's {@code OpenedKind}, with its stable numbers. */
    public enum Kind {
        /** A sealed record, authenticated and decrypted. */
        DECRYPTED(0),
        /** A null value (tombstone), kept null so compaction works. */
        TOMBSTONE(1),
        /**
         * A record without rewrap headers, passed through unauthenticated because plaintext is
         * allowed (migrations only).
         */
        UNENCRYPTED_ALLOWED(2);

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        /** The engine's number for this kind (as in the C ABI's {@code rewrap_opened_kind}). */
        public int code() {
            return code;
        }

        static Kind of(int code) {
            for (Kind k : values()) {
                if (k.code == code) {
                    return k;
                }
            }
            throw new RewrapException.Unknown("opened kind " + code);
        }
    }

    private final Kind kind;
    private final byte[] value;
    private final byte[] sessionId;
    private final long counter;
    private final Vouch vouch;
    private final PublicKey producer;
    private final SigningMode mode;

    Opened(Kind kind, byte[] value, byte[] sessionId, long counter, Vouch vouch, PublicKey producer,
            SigningMode mode) {
        this.kind = kind;
        this.value = value;
        this.sessionId = sessionId;
        this.counter = counter;
        this.vouch = vouch;
        this.producer = producer;
        this.mode = mode;
    }

    public Kind kind() {
        return kind;
    }

    /** The payload (null for a tombstone). The array is the caller's: not shared or copied. */
    public byte[] value() {
        return value;
    }

    /** True only for {@link Kind#DECRYPTED}: the payload was sealed and is unaltered. */
    public boolean authenticated() {
        return kind == Kind.DECRYPTED;
    }

    /**
     * The producer session's {@value Constants#SESSION_ID_LEN}-byte id (a copy); null unless
     * {@link Kind#DECRYPTED}.
     */
    public byte[] sessionId() {
        return sessionId == null ? null : sessionId.clone();
    }

    /**
     * The record's number in its session (0 first): a gap or a repeat shows loss or replay. 0
     * unless {@link Kind#DECRYPTED}.
     */
    public long counter() {
        return counter;
    }

    /** Who vouched for the record; {@link Vouch#UNSIGNED} unless {@link Kind#DECRYPTED}. */
    public Vouch vouch() {
        return vouch;
    }

    /** The producer's verifying key, for signed sessions that were checked; otherwise null. */
    public PublicKey producer() {
        return producer;
    }

    /** The producer's signing mode, for signed sessions that were checked; otherwise null. */
    public SigningMode mode() {
        return mode;
    }

    @Override
    public String toString() {
        return "Opened(" + kind + (value == null ? "" : ", " + value.length + " bytes")
                + (kind == Kind.DECRYPTED ? ", " + vouch + ", #" + counter : "") + ")";
    }
}
