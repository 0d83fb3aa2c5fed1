package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.PublicKey;
import io.rewrap.RewrapException;
import io.rewrap.SecretKey;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Client properties read by {@link RewrapSerializer} and {@link RewrapDeserializer}. Keys may
 * be given inline as hex or as files written by {@code rewrap keygen}; both are parsed by the
 * engine, which refuses a secret key file that group or others can read
 * ({@link RewrapException.InsecureKeyFile}). Defaults are the engine's ({@link Constants}).
 */
public final class RewrapConfig {
    private RewrapConfig() {}

    /** Producer: the delegating public key (channel key, or the producer's own), hex. */
    public static final String DELEGATING_KEY = "rewrap.delegating.key";
    /** Producer: file holding the delegating public key. */
    public static final String DELEGATING_KEY_FILE = "rewrap.delegating.key.file";
    /**
     * Producer: rotate the DEK after this many records (default
     * {@value Constants#DEFAULT_ROTATION_MAX_MESSAGES}).
     */
    public static final String ROTATION_MAX_MESSAGES = "rewrap.rotation.max.messages";
    /**
     * Producer: rotate the DEK after this many seconds (default
     * {@value Constants#DEFAULT_ROTATION_MAX_AGE_SECS}).
     */
    public static final String ROTATION_MAX_AGE_SECS = "rewrap.rotation.max.age.secs";
    /** Consumer: file holding this consumer's secret key (mode 0600, or it is refused). */
    public static final String CONSUMER_KEY_FILE = "rewrap.consumer.key.file";
    /** Consumer: trusted administrator public keys, comma-separated hex. */
    public static final String ADMIN_KEYS = "rewrap.admin.keys";
    /** Consumer: file holding the trusted administrator public key. */
    public static final String ADMIN_KEY_FILE = "rewrap.admin.key.file";
    /**
     * Consumer: accept records without rewrap headers (migrations only; default false). Such
     * records get the {@value RewrapDeserializer#UNAUTHENTICATED_HEADER} header.
     */
    public static final String ALLOW_PLAINTEXT = "rewrap.allow.plaintext";
    /**
     * Consumer: sessions whose DEKs are cached (default
     * {@value Constants#DEFAULT_DECRYPTOR_CACHE_CAPACITY}).
     */
    public static final String CACHE_CAPACITY = "rewrap.cache.capacity";

    static String get(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        return v == null ? null : v.toString();
    }

    static long getLong(Map<String, ?> configs, String key, long defaultValue) {
        String v = get(configs, key);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new RewrapException.InvalidArgument(key + ": not a number: " + v);
        }
    }

    static long rotationMaxMessages(Map<String, ?> configs) {
        return getLong(configs, ROTATION_MAX_MESSAGES, Constants.DEFAULT_ROTATION_MAX_MESSAGES);
    }

    static long rotationMaxAgeSecs(Map<String, ?> configs) {
        return getLong(configs, ROTATION_MAX_AGE_SECS, Constants.DEFAULT_ROTATION_MAX_AGE_SECS);
    }

    static int cacheCapacity(Map<String, ?> configs) {
        long v = getLong(configs, CACHE_CAPACITY, Constants.DEFAULT_DECRYPTOR_CACHE_CAPACITY);
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new RewrapException.InvalidArgument(CACHE_CAPACITY + ": out of range: " + v);
        }
        return (int) v;
    }

    static boolean allowPlaintext(Map<String, ?> configs) {
        return Boolean.parseBoolean(get(configs, ALLOW_PLAINTEXT));
    }

    static PublicKey delegatingKey(Map<String, ?> configs) {
        String inline = get(configs, DELEGATING_KEY);
        if (inline != null) {
            return PublicKey.fromHex(inline);
        }
        return PublicKey.fromFile(Path.of(required(configs, DELEGATING_KEY_FILE, DELEGATING_KEY)));
    }

    static SecretKey consumerKey(Map<String, ?> configs) {
        return SecretKey.fromFile(Path.of(required(configs, CONSUMER_KEY_FILE, CONSUMER_KEY_FILE)));
    }

    static PublicKey[] adminKeys(Map<String, ?> configs) {
        List<PublicKey> keys = new ArrayList<>();
        String inline = get(configs, ADMIN_KEYS);
        if (inline != null) {
            for (String hex : inline.split(",")) {
                if (!hex.isBlank()) {
                    keys.add(PublicKey.fromHex(hex));
                }
            }
        }
        String file = get(configs, ADMIN_KEY_FILE);
        if (file != null) {
            keys.add(PublicKey.fromFile(Path.of(file)));
        }
        if (keys.isEmpty()) {
            throw new RewrapException.InvalidArgument("set " + ADMIN_KEYS + " or " + ADMIN_KEY_FILE);
        }
        return keys.toArray(new PublicKey[0]);
    }

    private static String required(Map<String, ?> configs, String key, String alternative) {
        String v = get(configs, key);
        if (v == null) {
            throw new RewrapException.InvalidArgument("set " + key + (alternative.equals(key) ? "" : " or " + alternative));
        }
        return v;
    }
}
