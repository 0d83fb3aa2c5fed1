package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The loader's platform names and the jar's layout (a jar for other platforms names them). */
class NativeLoaderTest {
    @Test
    void platformNamesAreNormalised() {
        assertEquals("linux-x86_64", Native.platform("Linux", "amd64"));
        assertEquals("linux-aarch64", Native.platform("Linux", "aarch64"));
        assertEquals("macos-aarch64", Native.platform("Mac OS X", "aarch64"));
        assertEquals("macos-x86_64", Native.platform("Mac OS X", "x86_64"));
        assertEquals("windows-x86_64", Native.platform("Windows 11", "amd64"));
        assertEquals("freebsd-x86_64", Native.platform("FreeBSD", "amd64"));
        assertEquals("/native/windows-aarch64/rewrap_jni.dll", Native.resourcePath("windows-aarch64"));
        assertEquals("/native/macos-x86_64/librewrap_jni.dylib", Native.resourcePath("macos-x86_64"));
        assertTrue(Native.platformsInJar().contains(Native.platform(System.getProperty("os.name"),
                System.getProperty("os.arch"))));
    }
}
