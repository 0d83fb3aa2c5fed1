// Generated from the engine's tables (core/src/error.rs, core/src/constants.rs) by tests/generated.rs; do not edit. Regenerate: make generated
package io.rewrap;

/** Header names, lengths and defaults shared by every rewrap binding. */
public final class Constants {
    private Constants() {}

    /** Prefix of every Kafka header name rewrap reads or writes. */
    public static final String HEADER_PREFIX = "rewrap.";

    /** Kafka header carrying the EDEK (one per record). */
    public static final String EDEK_HEADER = "rewrap.edek";

    /** Kafka header carrying a capsule fragment (repeated for t-of-n). */
    public static final String CFRAG_HEADER = "rewrap.cfrag";

    /** Kafka header carrying the producer's session signature (identical on every record of a session). */
    public static final String SIG_HEADER = "rewrap.sig";

    /** Kafka header carrying a producer's record signature (record signing mode). */
    public static final String RECORD_SIG_HEADER = "rewrap.rsig";

    /** Kafka header a re-encryptor adds on fetch: the channel's signature over the session signature. */
    public static final String CHANNEL_SIG_HEADER = "rewrap.chsig";

    /** Header a Kafka deserializer adds to a record let through unauthenticated (allow_plaintext). */
    public static final String UNAUTHENTICATED_HEADER = "rewrap.unauthenticated";

    /** Bytes of a public key (SEC1 compressed secp256k1 point). */
    public static final int PUBLIC_KEY_LEN = 33;

    /** Bytes of a secret key (big-endian scalar). */
    public static final int SECRET_KEY_LEN = 32;

    /** Bytes of a key id. */
    public static final int KEY_ID_LEN = 8;

    /** Bytes of a session id (prefix of the EDEK digest). */
    public static final int SESSION_ID_LEN = 16;

    /** Bytes of one rewrap.cfrag header value. */
    public static final int CFRAG_HEADER_LEN = 369;

    /** Bytes a sealed value adds to its payload. */
    public static final int ENVELOPE_OVERHEAD = 48;

    /** Longest topic name (Kafka's limit). */
    public static final int MAX_TOPIC_LEN = 249;

    /** Longest consumer identity a grant can name. */
    public static final int MAX_CONSUMER_ID_LEN = 255;

    /** Sessions whose DEKs a consumer keeps by default. */
    public static final int DEFAULT_DECRYPTOR_CACHE_CAPACITY = 4096;

    /** (EDEK, consumer) pairs whose fragments a re-encryptor keeps by default. */
    public static final int DEFAULT_REENCRYPTOR_CACHE_CAPACITY = 65536;

    /** Messages per producer session before a new DEK, by default. */
    public static final int DEFAULT_ROTATION_MAX_MESSAGES = 1000000;

    /** Seconds per producer session before a new DEK, by default. */
    public static final int DEFAULT_ROTATION_MAX_AGE_SECS = 3600;
}
