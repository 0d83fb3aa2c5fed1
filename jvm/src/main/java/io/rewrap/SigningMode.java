package io.rewrap;

import java.util.Locale;

/** What a producer signs (the engine's {@code SigningMode}, with its numbers). */
public enum SigningMode {
    /** Once per session: a hash, not a signature, per record (the default). */
    SESSION(1),
    /** Every record as well, for consumers that must not be able to forge each other's data. */
    RECORD(2);

    private final int code;

    SigningMode(int code) {
        this.code = code;
    }

    /** The engine's number for this mode. */
    public int code() {
        return code;
    }

    /** The engine's name ("session", "record"). */
    public String engineName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the engine's name, as client properties hold it. */
    public static SigningMode parse(String name) {
        for (SigningMode m : values()) {
            if (m.engineName().equals(name.strip())) {
                return m;
            }
        }
        throw new RewrapException.InvalidArgument("signing mode must be session or record: " + name);
    }

    /** The mode with the engine's number {@code code}; null for 0 (none). */
    static SigningMode of(int code) {
        for (SigningMode m : values()) {
            if (m.code == code) {
                return m;
            }
        }
        if (code == 0) {
            return null;
        }
        throw new RewrapException.Unknown("signing mode " + code);
    }
}
