package io.rewrap;

/** The library as a whole. */
public final class Rewrap {
    private Rewrap() {}

    /**
     * The engine's version: the one version of the jar, the Python wheel, the C library and the
     * proxy (the workspace's, see CHANGELOG.md).
     */
    public static String version() {
        return Native.version();
    }
}
