package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.Decryptor;
import io.rewrap.Encryptor;
import io.rewrap.Policy;
import io.rewrap.PublicKey;
import io.rewrap.RewrapException;
import io.rewrap.SecretKey;
import io.rewrap.SigningMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Utils;

/**
 * Client properties read by {@link RewrapSerializer} and {@link RewrapDeserializer}. Keys may
 * be given inline as hex or as files written by {@code rewrap keygen}; both are parsed by the
 * engine, which refuses a secret key file that group or others can read
 * ({@link RewrapException.InsecureKeyFile}). Defaults are the engine's ({@link Constants}).
 * Per-topic lists are {@code topic=value} pairs separated by commas (Kafka topic names hold
 * neither character).
 *
 * <p>A producer that signs (every consumer requires it by default):
 * <pre>
 * key.serializer=io.rewrap.kafka.RewrapKeySerializer
 * value.serializer=io.rewrap.kafka.RewrapSerializer
 * rewrap.delegating.key.file=/etc/rewrap/orders.pub
 * rewrap.signing.key.file=/etc/rewrap/producer-a.sec
 * rewrap.signing.mode=session
 * </pre>
 * A consumer accepting the producers an administrator granted:
 * <pre>
 * key.deserializer=io.rewrap.kafka.RewrapKeyDeserializer
 * value.deserializer=io.rewrap.kafka.RewrapDeserializer
 * rewrap.consumer.key.file=/etc/rewrap/alice.sec
 * rewrap.admin.key.file=/etc/rewrap/admin.pub
 * rewrap.producer.grant.dir=/var/lib/rewrap/grants
 * rewrap.policy=require
 * rewrap.topic.policies=legacy-events=optional
 * rewrap.channel.keys=orders=02ab...
 * </pre>
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

    /** Producer: file holding the producer's signing secret key (mode 0600); unset = unsigned. */
    public static final String SIGNING_KEY_FILE = "rewrap.signing.key.file";
    /** Producer: {@code session} (default) or {@code record}: what the producer signs. */
    public static final String SIGNING_MODE = "rewrap.signing.mode";
    /**
     * Producer: compress payloads before sealing: {@code none} (default), {@code lz4},
     * {@code zstd} (level {@value #COMPRESSION_LEVEL}). Leave it off for records mixing
     * attacker-controlled data with secrets: compressed lengths leak their content.
     */
    public static final String COMPRESSION = "rewrap.compression";
    /** Producer: the zstd level (1..22; unset = zstd's default, 3). */
    public static final String COMPRESSION_LEVEL = "rewrap.compression.level";
    /** Consumer: signature policy of every topic: {@code require} (default), {@code optional}, {@code off}. */
    public static final String POLICY = "rewrap.policy";
    /** Consumer: per-topic policies overriding {@value #POLICY}, e.g. {@code legacy=off,audit=require}. */
    public static final String TOPIC_POLICIES = "rewrap.topic.policies";
    /** Consumer: producer grant files, comma-separated (each verified against the admin keys). */
    public static final String PRODUCER_GRANT_FILES = "rewrap.producer.grant.files";
    /** Consumer: a grant store directory; every valid {@code *.pgrant} in it is installed. */
    public static final String PRODUCER_GRANT_DIR = "rewrap.producer.grant.dir";
    /** Consumer: trusted channel signing keys, {@code topic=hex} pairs. */
    public static final String CHANNEL_KEYS = "rewrap.channel.keys";
    /** Consumer: trusted channel signing key files, {@code topic=path} pairs. */
    public static final String CHANNEL_KEY_FILES = "rewrap.channel.key.files";

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

    /** {@code topic=value,...} as an ordered map. */
    static Map<String, String> pairs(Map<String, ?> configs, String key) {
        Map<String, String> out = new LinkedHashMap<>();
        String v = get(configs, key);
        if (v == null) {
            return out;
        }
        for (String item : v.split(",")) {
            if (item.isBlank()) {
                continue;
            }
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new RewrapException.InvalidArgument(key + ": expected topic=value, got " + item.strip());
            }
            out.put(item.substring(0, eq).strip(), item.substring(eq + 1).strip());
        }
        return out;
    }

    /** Applies {@value #SIGNING_KEY_FILE} and {@value #SIGNING_MODE} to {@code encryptor}. */
    static void applySigner(Map<String, ?> configs, Encryptor encryptor) {
        String file = get(configs, SIGNING_KEY_FILE);
        String mode = get(configs, SIGNING_MODE);
        if (file == null) {
            if (mode != null) {
                throw new RewrapException.InvalidArgument(SIGNING_MODE + " without " + SIGNING_KEY_FILE);
            }
            return;
        }
        try (SecretKey key = SecretKey.fromFile(Path.of(file))) {
            encryptor.setSigner(key, mode == null ? SigningMode.SESSION : SigningMode.parse(mode));
        }
    }

    /** Applies {@value #COMPRESSION} and {@value #COMPRESSION_LEVEL} to {@code encryptor}. */
    static void applyCompression(Map<String, ?> configs, Encryptor encryptor) {
        String codec = get(configs, COMPRESSION);
        String level = get(configs, COMPRESSION_LEVEL);
        if (codec == null) {
            if (level != null) {
                throw new RewrapException.InvalidArgument(COMPRESSION_LEVEL + " without " + COMPRESSION);
            }
            return;
        }
        int n;
        try {
            n = level == null ? 0 : Integer.parseInt(level.strip());
        } catch (NumberFormatException e) {
            throw new RewrapException.InvalidArgument(COMPRESSION_LEVEL + ": not a number: " + level);
        }
        encryptor.setCompression(codec.strip(), n);
    }

    /** Applies the policies, producer grants and channel keys to {@code decryptor}. */
    static void applyAuthenticity(Map<String, ?> configs, Decryptor decryptor) {
        String policy = get(configs, POLICY);
        if (policy != null) {
            decryptor.setPolicy(Policy.parse(policy), null);
        }
        pairs(configs, TOPIC_POLICIES).forEach((topic, p) -> decryptor.setPolicy(Policy.parse(p), topic));
        String files = get(configs, PRODUCER_GRANT_FILES);
        if (files != null) {
            for (String f : files.split(",")) {
                if (!f.isBlank()) {
                    decryptor.addProducerGrant(read(Path.of(f.strip())));
                }
            }
        }
        String dir = get(configs, PRODUCER_GRANT_DIR);
        if (dir != null) {
            Path d = Path.of(dir.strip());
            if (!Files.isDirectory(d)) {
                throw new RewrapException.Io(PRODUCER_GRANT_DIR + ": not a directory: " + d);
            }
            decryptor.loadProducerGrants(d);
        }
        pairs(configs, CHANNEL_KEYS).forEach((topic, hex) -> decryptor.trustChannelKey(topic, PublicKey.fromHex(hex)));
        pairs(configs, CHANNEL_KEY_FILES).forEach((topic, f) ->
                decryptor.trustChannelKey(topic, PublicKey.fromFile(Path.of(f))));
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new RewrapException.Io(file + ": " + e.getMessage());
        }
    }

    /** A new instance of class {@code name}, named by property {@code key}. */
    static Object newInstance(String key, String name) {
        try {
            return Utils.newInstance(Class.forName(name.strip()));
        } catch (ClassNotFoundException e) {
            throw new RewrapException.InvalidArgument(key + ": no class " + name);
        }
    }

    private static String required(Map<String, ?> configs, String key, String alternative) {
        String v = get(configs, key);
        if (v == null) {
            throw new RewrapException.InvalidArgument("set " + key + (alternative.equals(key) ? "" : " or " + alternative));
        }
        return v;
    }
}
