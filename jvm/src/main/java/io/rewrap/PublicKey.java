package io.rewrap;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A public key ({@value Constants#PUBLIC_KEY_LEN}-byte SEC1 compressed secp256k1 point).
 * Immutable.
 */
public final class PublicKey {
    private final byte[] bytes;
    private final String keyId;

    PublicKey(byte[] bytes) {
        this.keyId = Native.publicKeyId(bytes); // validates the point
        this.bytes = bytes.clone();
    }

    /** Parses the {@value Constants#PUBLIC_KEY_LEN} bytes. */
    public static PublicKey fromBytes(byte[] data) {
        return new PublicKey(data);
    }

    /** Parses hex (surrounding whitespace ignored). */
    public static PublicKey fromHex(String hex) {
        return new PublicKey(Native.publicKeyFromHex(hex));
    }

    /**
     * Reads a public key file written by {@code rewrap keygen} ({@link RewrapException.Io}
     * when it cannot be read).
     */
    public static PublicKey fromFile(Path path) {
        return new PublicKey(Native.publicKeyFromFile(path.toString()));
    }

    public byte[] toBytes() {
        return bytes.clone();
    }

    public String toHex() {
        return HexFormat.of().formatHex(bytes);
    }

    /** The 16-hex-digit key id. */
    public String keyId() {
        return keyId;
    }

    /** The bytes themselves, for passing to the engine (never handed to callers). */
    byte[] raw() {
        return bytes;
    }

    static byte[][] array(PublicKey... keys) {
        byte[][] out = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            out[i] = keys[i].bytes;
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublicKey other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "PublicKey(" + toHex() + ")";
    }
}
