package io.rewrap;

/**
 * What {@link Decryptor#open} found: the payload and which kind of record it was. Only
 * {@link Kind#DECRYPTED} is authenticated data; a plaintext record let through by
 * {@code allowPlaintext} is {@link Kind#UNENCRYPTED_ALLOWED} and must not be trusted as if it
 * had been sealed.
 */
public final class Opened {
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

    Opened(Kind kind, byte[] value) {
        this.kind = kind;
        this.value = value;
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

    @Override
    public String toString() {
        return "Opened(" + kind + (value == null ? "" : ", " + value.length + " bytes") + ")";
    }
}
