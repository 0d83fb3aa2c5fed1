package io.rewrap;

import java.util.Locale;

/**
 * How a reader treats producer signatures on a topic (the engine's {@code Policy}). The
 * default is {@link #REQUIRE}.
 */
public enum Policy {
    /** Every record signed by an authorized producer (or vouched for by a trusted channel key). */
    REQUIRE,
    /** Signed records are checked as under {@link #REQUIRE}; unsigned ones are accepted as unsigned. */
    OPTIONAL,
    /** Nothing is checked, and format v1 records are read (migrations only). */
    OFF;

    /** The engine's name ("require", "optional", "off"). */
    public String engineName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the engine's name, as client properties hold it. */
    public static Policy parse(String name) {
        for (Policy p : values()) {
            if (p.engineName().equals(name.strip())) {
                return p;
            }
        }
        throw new RewrapException.InvalidArgument("policy must be require, optional or off: " + name);
    }
}
