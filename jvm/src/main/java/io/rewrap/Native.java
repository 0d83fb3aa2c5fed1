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

    static native byte[] producerGrantIssue(long admin, String topic, byte[] producer, long notBefore, long expires);
    static native String[] producerGrantDescribe(byte[] grant);
    static native void producerGrantVerify(byte[] grant, byte[][] admins, long now);

    static native long encryptorNew(byte[] delegating, long maxMessages, long maxAgeSecs);
    /** {value, header name (UTF-8), header value, ...}; {@code key} null is a null Kafka key. */
    static native byte[][] encryptorSeal(long handle, byte[] topicUtf8, byte[] key, byte[] payload);
    /** {@code secret} 0 turns signing off; {@code mode} is the engine's name ("session", "record"). */
    static native void encryptorSetSigner(long handle, long secret, String mode);

    static native void encryptorSetCompression(long handle, String codec, int level);
    /** Mode number followed by the signer's public key, or null. */
    static native byte[] encryptorSigner(long handle);
    static native void encryptorRotate(long handle);
    static native void encryptorFree(long handle);

    static native long reencryptorNew(byte[][] admins, int cacheCapacity, long cacheTtlSecs);
    static native void reencryptorAddGrant(long handle, byte[] grant);
    static native int reencryptorRevoke(long handle, String topic, String consumer);
    static native byte[][] reencryptorReencrypt(long handle, String topic, byte[] edek, String consumer);
    static native void reencryptorSetPolicy(long handle, String topicOrNull, String policy);
    static native void reencryptorSetChannelSeed(long handle, byte[] seedOrNull);
    static native byte[] reencryptorChannelKey(long handle, String topic);
    static native void reencryptorAddProducerGrant(long handle, byte[] grant);
    static native boolean reencryptorRevokeProducer(long handle, String topic, byte[] producer);
    static native byte[] reencryptorAttest(long handle, String topic, byte[] edek, byte[] sigOrNull);
    static native long[] reencryptorStats(long handle);
    static native void reencryptorFree(long handle);

    static native long decryptorNew(long secret, byte[][] admins, int cacheCapacity, long cacheTtlSecs,
            boolean allowPlaintext);
    /**
     * Every header of the record as parallel arrays; writes {kind, counter, vouch, mode (0: none),
     * producer present} to metaOut and session id then producer key to idsOut.
     */
    static native byte[] decryptorOpen(long handle, byte[] topicUtf8, byte[] key, byte[] value,
            String[] headerNames, byte[][] headerValues, long[] metaOut, byte[] idsOut);
    static native void decryptorSetPolicy(long handle, String topicOrNull, String policy);
    static native String decryptorPolicy(long handle, String topic);
    static native void decryptorAddProducerGrant(long handle, byte[] grant);
    static native int decryptorLoadProducerGrants(long handle, String dir);
    static native boolean decryptorRevokeProducer(long handle, String topic, byte[] producer);
    static native void decryptorTrustChannelKey(long handle, String topic, byte[] key);
    static native long[] decryptorStats(long handle);
    static native void decryptorFree(long handle);
}
