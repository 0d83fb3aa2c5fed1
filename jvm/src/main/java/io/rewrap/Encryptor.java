package io.rewrap;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Producer side: seals payloads for one delegating public key, and signs its sessions when
 * given a signer ({@link #setSigner}). Thread-safe; close it.
 */
public final class Encryptor extends NativeHandle {
    /**
     * A sealed record: the value to produce and the headers to attach to it, in order (the
     * engine's choice: {@code rewrap.edek}, then the signature headers when signing).
     */
    public record Sealed(byte[] value, List<Map.Entry<String, byte[]>> headers) {
        /** The value of header {@code name}, or null when the record does not carry it. */
        public byte[] header(String name) {
            for (Map.Entry<String, byte[]> h : headers) {
                if (h.getKey().equals(name)) {
                    return h.getValue();
                }
            }
            return null;
        }

        /** The {@value Constants#EDEK_HEADER} header value (every sealed record has one). */
        public byte[] edek() {
            return header(Constants.EDEK_HEADER);
        }
    }

    /**
     * Default DEK rotation: {@value Constants#DEFAULT_ROTATION_MAX_MESSAGES} messages or
     * {@value Constants#DEFAULT_ROTATION_MAX_AGE_SECS} seconds.
     */
    public Encryptor(PublicKey delegating) {
        this(delegating, 0, 0);
    }

    /** Rotation after {@code maxMessages} records or {@code maxAgeSecs} seconds (0 = default). */
    public Encryptor(PublicKey delegating, long maxMessages, long maxAgeSecs) {
        super(Native.encryptorNew(delegating.toBytes(), maxMessages, maxAgeSecs), Native::encryptorFree);
    }

    private final TopicBytes topics = new TopicBytes();

    /**
     * Seals {@code payload} for {@code topic} under the record's Kafka key: {@code key} null is
     * a null key, which differs from an empty one. A reader must open it with the same key.
     */
    public Sealed seal(String topic, byte[] key, byte[] payload) {
        byte[] t = topics.of(topic);
        byte[][] out = with(h -> Native.encryptorSeal(h, t, key, payload));
        List<Map.Entry<String, byte[]>> headers = new ArrayList<>((out.length - 1) / 2);
        for (int i = 1; i + 1 < out.length; i += 2) {
            headers.add(Map.entry(new String(out[i], StandardCharsets.UTF_8), out[i + 1]));
        }
        return new Sealed(out[0], Collections.unmodifiableList(headers));
    }

    /**
     * Signs every new session with {@code signer} in {@code mode}; null turns signing off
     * (readers accept unsigned records only under {@link Policy#OPTIONAL} or {@link Policy#OFF}).
     * The key is copied: close yours when done. Starts new sessions, so the next record is
     * sealed under the new setting.
     */
    public void setSigner(SecretKey signer, SigningMode mode) {
        if (signer == null) {
            with(h -> {
                Native.encryptorSetSigner(h, 0, null);
                return null;
            });
            return;
        }
        String m = mode.engineName();
        signer.with(s -> with(h -> {
            Native.encryptorSetSigner(h, s, m);
            return null;
        }));
    }

    /**
     * Compresses payloads before sealing them from the next record on: {@code codec} is
     * {@code none} (the default), {@code lz4} or {@code zstd} at {@code level} (1..22; 0 for
     * zstd's default, 3; ignored otherwise). A payload is sealed compressed only when that
     * makes it smaller; readers need no setting. Record lengths then reveal how compressible
     * payloads are: keep it off for records mixing attacker-chosen data with secrets.
     */
    public void setCompression(String codec, int level) {
        with(h -> {
            Native.encryptorSetCompression(h, codec, level);
            return null;
        });
    }

    /** The signer's public key, or null when sessions are unsigned. */
    public PublicKey signerKey() {
        byte[] out = with(Native::encryptorSigner);
        return out == null ? null : new PublicKey(java.util.Arrays.copyOfRange(out, 1, out.length));
    }

    /** The signing mode, or null when sessions are unsigned. */
    public SigningMode signingMode() {
        byte[] out = with(Native::encryptorSigner);
        return out == null ? null : SigningMode.of(out[0]);
    }

    /** Starts fresh sessions (new DEKs) on the next seal of every topic. */
    public void rotate() {
        with(h -> {
            Native.encryptorRotate(h);
            return null;
        });
    }
}
