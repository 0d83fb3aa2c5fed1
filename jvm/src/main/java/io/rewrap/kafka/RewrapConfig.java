package io.rewrap.kafka;

import io.rewrap.PublicKey;
import io.rewrap.RewrapException;
import io.rewrap.SecretKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Client properties read by {@link RewrapSerializer} and {@link RewrapDeserializer}. Keys may
 * be given inline as hex or as files written by {@code rewrap keygen}.
 */
public final class RewrapConfig {
    private RewrapConfig() {}

    /** Producer: the delegating public key (channel key, or the producer's own), hex. */
    public static final String DELEGATING_KEY = "rewrap.delegating.key";
    /** Producer: file holding the delegating public key. */
    public static final String DELEGATING_KEY_FILE = "rewrap.delegating.key.file";
    /** Producer: rotate the DEK after this many records (default 1,000,000). */
    public static final String ROTATION_MAX_MESSAGES = "rewrap.rotation.max.messages";
    /** Producer: rotate the DEK after this many seconds (default 3600). */
    public static final String ROTATION_MAX_AGE_SECS = "rewrap.rotation.max.age.secs";
    /** Consumer: file holding this consumer's secret key (mode 0600). */
    public static final String CONSUMER_KEY_FILE = "rewrap.consumer.key.file";
    /** Consumer: trusted administrator public keys, comma-separated hex. */
    public static final String ADMIN_KEYS = "rewrap.admin.keys";
    /** Consumer: file holding the trusted administrator public key. */
    public static final String ADMIN_KEY_FILE = "rewrap.admin.key.file";
    /** Consumer: accept records without rewrap headers (migrations only; default false). */
    public static final String ALLOW_PLAINTEXT = "rewrap.allow.plaintext";
    /** Consumer: sessions whose DEKs are cached (default 4096). */
    public static final String CACHE_CAPACITY = "rewrap.cache.capacity";

    static String get(Map<String, ?> configs, String key) {
        Object v = configs.get(key);
        return v == null ? null : v.toString();
    }

    static long getLong(Map<String, ?> configs, String key) {
        String v = get(configs, key);
        return v == null ? 0 : Long.parseLong(v.strip());
    }

    static PublicKey delegatingKey(Map<String, ?> configs) {
        String inline = get(configs, DELEGATING_KEY);
        if (inline != null) {
            return PublicKey.fromHex(inline);
        }
        String file = required(configs, DELEGATING_KEY_FILE, DELEGATING_KEY);
        try {
            return PublicKey.fromFile(Path.of(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static SecretKey consumerKey(Map<String, ?> configs) {
        String file = required(configs, CONSUMER_KEY_FILE, CONSUMER_KEY_FILE);
        try {
            return SecretKey.fromFile(Path.of(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
            try {
                keys.add(PublicKey.fromFile(Path.of(file)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
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
