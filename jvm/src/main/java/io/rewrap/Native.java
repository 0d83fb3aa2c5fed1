package io.rewrap;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JNI entry points of the Rust engine, and the loader that takes the native library out of
 * the jar. Package-private: use the typed classes. The jar holds one library per platform at
 * {@code native/<os>-<arch>/<library>} ({@link #resourcePath}); the system property
 * {@code rewrap.native.path} names a library file to load instead.
 */
final class Native {
    private Native() {}

    /** Every platform the loader knows, {@code os-arch} as {@link #platform} names them. */
    static final List<String> PLATFORMS = List.of("linux-x86_64", "linux-aarch64", "macos-x86_64",
            "macos-aarch64", "windows-x86_64", "windows-aarch64");

    static {
        load();
    }

    private static void load() {
        String override = System.getProperty("rewrap.native.path");
        if (override != null) {
            System.load(override);
            return;
        }
        String platform = platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
        String resource = resourcePath(platform);
        try (InputStream in = Native.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("rewrap has no native library for this platform, " + platform
                        + " (os.name=" + System.getProperty("os.name") + ", os.arch=" + System.getProperty("os.arch")
                        + "); this jar holds: " + String.join(", ", platformsInJar())
                        + ". Build one with `cargo build --profile dist -p rewrap-jni` and set -Drewrap.native.path=FILE");
            }
            String name = resource.substring(resource.lastIndexOf('/') + 1);
            int dot = name.lastIndexOf('.');
            // createTempFile makes a new name (O_EXCL) readable and writable by its owner only;
            // the library is written into that very file. (Files.copy with REPLACE_EXISTING
            // would delete it and create the name again with the umask's permissions, leaving a
            // window in which another local user could take the name.)
            Path file = Files.createTempFile(name.substring(0, dot), name.substring(dot));
            file.toFile().deleteOnExit();
            try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)) {
                in.transferTo(out);
            }
            System.load(file.toAbsolutePath().toString());
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("cannot extract rewrap native library " + resource + ": " + e);
        }
    }

    /**
     * {@code os-arch} from the JVM's {@code os.name} and {@code os.arch}: os one of
     * {@code linux}, {@code macos}, {@code windows} (others lower-cased, spaces removed), arch
     * {@code x86_64} or {@code aarch64} (others as given, lower-cased).
     */
    static String platform(String osName, String osArch) {
        String n = osName.toLowerCase(Locale.ROOT);
        String os;
        if (n.startsWith("linux")) {
            os = "linux";
        } else if (n.startsWith("mac") || n.startsWith("darwin")) {
            os = "macos";
        } else if (n.startsWith("windows")) {
            os = "windows";
        } else {
            os = n.replaceAll("[^a-z0-9]", "");
        }
        String a = osArch.toLowerCase(Locale.ROOT);
        String arch = switch (a) {
            case "amd64", "x86_64", "x86-64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> a.replaceAll("[^a-z0-9_]", "");
        };
        return os + "-" + arch;
    }

    /** Where the jar keeps the library of {@code platform}, named as cargo names a cdylib there. */
    static String resourcePath(String platform) {
        String file;
        if (platform.startsWith("windows-")) {
            file = "rewrap_jni.dll";
        } else if (platform.startsWith("macos-")) {
            file = "librewrap_jni.dylib";
        } else {
            file = "librewrap_jni.so";
        }
        return "/native/" + platform + "/" + file;
    }

    /** The known platforms whose library this jar holds. */
    static List<String> platformsInJar() {
        List<String> found = new ArrayList<>();
        for (String p : PLATFORMS) {
            if (Native.class.getResource(resourcePath(p)) != null) {
                found.add(p);
            }
        }
        if (found.isEmpty()) {
            found.add("none");
        }
        return found;
    }

    static native String version();

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
