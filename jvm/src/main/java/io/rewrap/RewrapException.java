package io.rewrap;

/**
 * Base of every rewrap failure. Unchecked: a record that does not open is an ordinary outcome
 * to handle where it matters, not something to declare everywhere. {@link #code()} is the
 * engine's stable numeric code, shared with the C ABI and the Python package.
 */
public class RewrapException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;

    public RewrapException(String message) {
        this(0, message);
    }

    protected RewrapException(int code, String message) {
        super(message);
        this.code = code;
    }

    /** The stable numeric code (0 for an internal error). */
    public int code() {
        return code;
    }

    /** Input ended before the object was complete. */
    public static final class Truncated extends RewrapException {
        private static final long serialVersionUID = 1L;
        public Truncated(String m) { super(100, m); }
    }

    /** Unknown version or algorithm id. */
    public static final class UnsupportedVersion extends RewrapException {
        private static final long serialVersionUID = 1L;
        public UnsupportedVersion(String m) { super(101, m); }
    }

    /** Bytes are not a well-formed object of their kind. */
    public static final class Malformed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public Malformed(String m) { super(102, m); }
    }

    /** The record value is not a rewrap envelope. */
    public static final class ForeignRecord extends RewrapException {
        private static final long serialVersionUID = 1L;
        public ForeignRecord(String m) { super(103, m); }
    }

    /** No rewrap headers on an encrypted channel (plaintext not allowed). */
    public static final class Unencrypted extends RewrapException {
        private static final long serialVersionUID = 1L;
        public Unencrypted(String m) { super(104, m); }
    }

    /** The record was sealed for another topic. */
    public static final class WrongTopic extends RewrapException {
        private static final long serialVersionUID = 1L;
        public WrongTopic(String m) { super(105, m); }
    }

    /** The value and its EDEK header belong to different sessions. */
    public static final class EdekMismatch extends RewrapException {
        private static final long serialVersionUID = 1L;
        public EdekMismatch(String m) { super(106, m); }
    }

    /** Authenticated decryption failed: the record was altered. */
    public static final class AuthenticationFailed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public AuthenticationFailed(String m) { super(107, m); }
    }

    /** No capsule fragment for this consumer (not granted or not re-encrypted). */
    public static final class MissingCfrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public MissingCfrag(String m) { super(200, m); }
    }

    /** Capsule fragments are for another consumer. */
    public static final class WrongConsumer extends RewrapException {
        private static final long serialVersionUID = 1L;
        public WrongConsumer(String m) { super(201, m); }
    }

    /** Fewer capsule fragments than the grant's threshold. */
    public static final class InsufficientCfrags extends RewrapException {
        private static final long serialVersionUID = 1L;
        public InsufficientCfrags(String m) { super(202, m); }
    }

    /** A capsule fragment failed verification. */
    public static final class InvalidCfrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public InvalidCfrag(String m) { super(203, m); }
    }

    /** The DEK could not be opened from valid fragments. */
    public static final class DekUnavailable extends RewrapException {
        private static final long serialVersionUID = 1L;
        public DekUnavailable(String m) { super(204, m); }
    }

    /** The consumer has no grant for this channel and key. */
    public static final class NotGranted extends RewrapException {
        private static final long serialVersionUID = 1L;
        public NotGranted(String m) { super(300, m); }
    }

    /** The consumer's grant was revoked. */
    public static final class Revoked extends RewrapException {
        private static final long serialVersionUID = 1L;
        public Revoked(String m) { super(301, m); }
    }

    /** The grant is outside its validity period. */
    public static final class GrantExpired extends RewrapException {
        private static final long serialVersionUID = 1L;
        public GrantExpired(String m) { super(302, m); }
    }

    /** The grant is not signed by a trusted administrator. */
    public static final class UntrustedGrant extends RewrapException {
        private static final long serialVersionUID = 1L;
        public UntrustedGrant(String m) { super(303, m); }
    }

    /** A key fragment in the grant failed verification. */
    public static final class InvalidKeyFrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public InvalidKeyFrag(String m) { super(304, m); }
    }

    /** An argument is out of its allowed range. */
    public static final class InvalidArgument extends RewrapException {
        private static final long serialVersionUID = 1L;
        public InvalidArgument(String m) { super(400, m); }
    }

    /** The handle was closed. */
    public static final class Closed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public Closed(String m) { super(500, m); }
    }
}
