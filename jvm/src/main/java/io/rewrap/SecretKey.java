package io.rewrap;

import java.nio.file.Path;

/** A secret key of any role; held natively and zeroized on close. Never printed. */
public final class SecretKey extends NativeHandle {
    private SecretKey(long handle) {
        super(handle, Native::secretKeyFree);
    }

    /** A fresh key from the OS RNG. */
    public static SecretKey generate() {
        return new SecretKey(Native.secretKeyGenerate());
    }

    /** Parses the {@value Constants#SECRET_KEY_LEN}-byte big-endian scalar. */
    public static SecretKey fromBytes(byte[] data) {
        return new SecretKey(Native.secretKeyFromBytes(data));
    }

    /** Parses hex (surrounding whitespace ignored), as key files hold it. */
    public static SecretKey fromHex(String hex) {
        return new SecretKey(Native.secretKeyFromHex(hex));
    }

    /**
     * Reads a key file written by {@code rewrap keygen}. Refused with
     * {@link RewrapException.InsecureKeyFile} when group or others may read it (chmod 600), as
     * ssh does; {@link RewrapException.Io} when it cannot be read.
     */
    public static SecretKey fromFile(Path path) {
        return new SecretKey(Native.secretKeyFromFile(path.toString()));
    }

    /** The {@value Constants#SECRET_KEY_LEN} secret bytes. Handle with care. */
    public byte[] toBytes() {
        return with(Native::secretKeyToBytes);
    }

    /** The matching public key. */
    public PublicKey publicKey() {
        return new PublicKey(with(Native::secretKeyPublicKey));
    }

    @Override
    public String toString() {
        return "SecretKey(<redacted>)";
    }
}
