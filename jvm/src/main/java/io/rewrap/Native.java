package io.rewrap;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The JNI entry points of the Rust engine, and the loader that takes the native library out of
 * the jar. Package-private: use the typed classes. Override the library with the system
 * property {@code rewrap.native.path}.
 */
final class Native {
    private Native() {}

    static {
        load();
    }

    private static void load() {
        String override = System.getProperty("rewrap.native.path");
        if (override != null) {
            System.load(override);
            return;
        }
        String resource = "/native/linux-x86_64/librewrap_jni.so";
        try (InputStream in = Native.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("rewrap native library not in the jar: " + resource);
            }
            Path file = Files.createTempFile("librewrap_jni", ".so");
            file.toFile().deleteOnExit();
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toAbsolutePath().toString());
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("cannot extract rewrap native library: " + e);
        }
    }

    static native long secretKeyGenerate();
    static native long secretKeyFromBytes(byte[] data);
    static native long secretKeyFromHex(String hex);
    static native long secretKeyFromFile(String path);
    static native byte[] secretKeyToBytes(long handle);
    static native byte[] secretKeyPublicKey(long handle);
    static native void secretKeyFree(long handle);
    static native String publicKeyId(byte[] key);
    static native byte[] publicKeyFromHex(String hex);
    static native byte[] publicKeyFromFile(String path);

    static native byte[] grantIssue(long admin, long delegating, String topic, String consumer,
            byte[] consumerKey, int threshold, int shares, long notBefore, long expires);
    static native String[] grantDescribe(byte[] grant);
    static native void grantVerify(byte[] grant, byte[][] admins, long now);
    static native byte[] grantShare(byte[] grant, int index);

    static native long encryptorNew(byte[] delegating, long maxMessages, long maxAgeSecs);
    static native byte[][] encryptorSeal(long handle, byte[] topicUtf8, byte[] payload);
    static native void encryptorRotate(long handle);
    static native void encryptorFree(long handle);

    static native long reencryptorNew(byte[][] admins, int cacheCapacity, long cacheTtlSecs);
    static native void reencryptorAddGrant(long handle, byte[] grant);
    static native int reencryptorRevoke(long handle, String topic, String consumer);
    static native byte[][] reencryptorReencrypt(long handle, String topic, byte[] edek, String consumer);
    static native long[] reencryptorStats(long handle);
    static native void reencryptorFree(long handle);

    static native long decryptorNew(long secret, byte[][] admins, int cacheCapacity, long cacheTtlSecs,
            boolean allowPlaintext);
    /** Every header of the record as parallel arrays; writes the OpenedKind code to kindOut[0]. */
    static native byte[] decryptorOpen(long handle, byte[] topicUtf8, byte[] value, String[] headerNames,
            byte[][] headerValues, int[] kindOut);
    static native long[] decryptorStats(long handle);
    static native void decryptorFree(long handle);
}
