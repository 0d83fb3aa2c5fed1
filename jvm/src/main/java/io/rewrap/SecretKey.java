package io.rewrap;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;
import java.util.HexFormat;

/** A secret key of any role; held natively and zeroized on close. Never printed. */
public final class SecretKey extends NativeHandle {
    private SecretKey(long handle) {
        super(handle, Native::secretKeyFree);
    }

    /** A fresh key from the OS RNG. */
    public static SecretKey generate() {
        return new SecretKey(Native.secretKeyGenerate());
    }

    /** Parses the 32-byte big-endian scalar. */
    public static SecretKey fromBytes(byte[] data) {
        return new SecretKey(Native.secretKeyFromBytes(data));
    }

    /** Parses lower-case hex (surrounding whitespace ignored), as key files hold it. */
    public static SecretKey fromHex(String hex) {
        try {
            return fromBytes(HexFormat.of().parseHex(hex.strip()));
        } catch (IllegalArgumentException e) {
            throw new RewrapException.Malformed("malformed key");
        }
    }

    /** Reads a key file written by {@code rewrap keygen}. */
    public static SecretKey fromFile(Path path) throws IOException {
        return fromHex(new String(Files.readAllBytes(path), StandardCharsets.US_ASCII));
    }

    /** The 32 secret bytes. Handle with care. */
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
