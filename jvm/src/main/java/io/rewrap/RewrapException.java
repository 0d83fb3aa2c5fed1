// Generated from the engine's tables (core/src/error.rs, core/src/constants.rs) by tests/generated.rs; do not edit. Regenerate: make generated
package io.rewrap;

/**
 * Base of every rewrap failure. Unchecked: a record that does not open is an ordinary
 * outcome to handle where it matters, not something to declare everywhere. {@link #code()}
 * is the stable numeric code of the engine's error table, shared with the C ABI and the
 * Python package; each kind has its own subclass.
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

    /** The stable numeric code (0 for a failure outside the table). */
    public int code() {
        return code;
    }

    /** A required pointer argument was NULL. (code 1) */
    public static final class NullParameter extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 1;
        public NullParameter(String m) { super(CODE, m); }
    }

    /** A panic inside the library was caught (a bug: please report it). (code 2) */
    public static final class Panic extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 2;
        public Panic(String m) { super(CODE, m); }
    }

    /** A string argument was not valid UTF-8. (code 3) */
    public static final class InvalidUtf8 extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 3;
        public InvalidUtf8(String m) { super(CODE, m); }
    }

    /** A caller buffer was too small; the message says how large it must be. (code 4) */
    public static final class BufferTooSmall extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 4;
        public BufferTooSmall(String m) { super(CODE, m); }
    }

    /** Input ended before the object was complete. (code 100) */
    public static final class Truncated extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 100;
        public Truncated(String m) { super(CODE, m); }
    }

    /** Unknown version or algorithm id. (code 101) */
    public static final class UnsupportedVersion extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 101;
        public UnsupportedVersion(String m) { super(CODE, m); }
    }

    /** Bytes are not a well-formed object of their kind. (code 102) */
    public static final class Malformed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 102;
        public Malformed(String m) { super(CODE, m); }
    }

    /** The record value is not a rewrap envelope. (code 103) */
    public static final class ForeignRecord extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 103;
        public ForeignRecord(String m) { super(CODE, m); }
    }

    /** No rewrap headers on an encrypted channel (plaintext not allowed). (code 104) */
    public static final class Unencrypted extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 104;
        public Unencrypted(String m) { super(CODE, m); }
    }

    /** The record was sealed for another topic. (code 105) */
    public static final class WrongTopic extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 105;
        public WrongTopic(String m) { super(CODE, m); }
    }

    /** The value and its EDEK header belong to different sessions. (code 106) */
    public static final class EdekMismatch extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 106;
        public EdekMismatch(String m) { super(CODE, m); }
    }

    /** Authenticated decryption failed: the record was altered. (code 107) */
    public static final class AuthenticationFailed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 107;
        public AuthenticationFailed(String m) { super(CODE, m); }
    }

    /** A compressed payload is corrupt or would decompress past the reader's bound. (code 108) */
    public static final class DecompressionFailed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 108;
        public DecompressionFailed(String m) { super(CODE, m); }
    }

    /** No capsule fragment for this consumer (not granted or not re-encrypted). (code 200) */
    public static final class MissingCfrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 200;
        public MissingCfrag(String m) { super(CODE, m); }
    }

    /** Capsule fragments are for another consumer. (code 201) */
    public static final class WrongConsumer extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 201;
        public WrongConsumer(String m) { super(CODE, m); }
    }

    /** Fewer capsule fragments than the grant's threshold. (code 202) */
    public static final class InsufficientCfrags extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 202;
        public InsufficientCfrags(String m) { super(CODE, m); }
    }

    /** A capsule fragment failed verification. (code 203) */
    public static final class InvalidCfrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 203;
        public InvalidCfrag(String m) { super(CODE, m); }
    }

    /** The DEK could not be opened from valid fragments. (code 204) */
    public static final class DekUnavailable extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 204;
        public DekUnavailable(String m) { super(CODE, m); }
    }

    /** The consumer has no grant for this topic and key. (code 300) */
    public static final class NotGranted extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 300;
        public NotGranted(String m) { super(CODE, m); }
    }

    /** The consumer's grant was revoked. (code 301) */
    public static final class Revoked extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 301;
        public Revoked(String m) { super(CODE, m); }
    }

    /** The grant is outside its validity period. (code 302) */
    public static final class GrantExpired extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 302;
        public GrantExpired(String m) { super(CODE, m); }
    }

    /** The grant is not signed by a trusted administrator. (code 303) */
    public static final class UntrustedGrant extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 303;
        public UntrustedGrant(String m) { super(CODE, m); }
    }

    /** A key fragment in the grant failed verification. (code 304) */
    public static final class InvalidKeyFrag extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 304;
        public InvalidKeyFrag(String m) { super(CODE, m); }
    }

    /** The re-encryptor's budget of Umbral re-encryptions per second is spent; retry later. (code 305) */
    public static final class Throttled extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 305;
        public Throttled(String m) { super(CODE, m); }
    }

    /** An argument is out of its allowed range. (code 400) */
    public static final class InvalidArgument extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 400;
        public InvalidArgument(String m) { super(CODE, m); }
    }

    /** Reading or writing a file failed. (code 410) */
    public static final class Io extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 410;
        public Io(String m) { super(CODE, m); }
    }

    /** A secret key file may be read by group or others (chmod 600). (code 411) */
    public static final class InsecureKeyFile extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 411;
        public InsecureKeyFile(String m) { super(CODE, m); }
    }

    /** The handle was closed. (code 500) */
    public static final class Closed extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 500;
        public Closed(String m) { super(CODE, m); }
    }

    /** The record carries no producer signature and the channel's policy requires one. (code 600) */
    public static final class Unsigned extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 600;
        public Unsigned(String m) { super(CODE, m); }
    }

    /** A producer, record or channel signature does not verify. (code 601) */
    public static final class BadSignature extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 601;
        public BadSignature(String m) { super(CODE, m); }
    }

    /** The record's producer has no producer grant for this topic. (code 602) */
    public static final class UnauthorizedProducer extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 602;
        public UnauthorizedProducer(String m) { super(CODE, m); }
    }

    /** An error this build of the binding has no class for. (code 999) */
    public static final class Unknown extends RewrapException {
        private static final long serialVersionUID = 1L;
        public static final int CODE = 999;
        public Unknown(String m) { super(CODE, m); }
    }
}
