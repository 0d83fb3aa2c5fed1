package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.junit.jupiter.api.Test;

class VersionTest {
    @Test
    void theEngineInTheJarHasTheJarsVersion() {
        String expected = System.getProperty("rewrap.expected.version");
        assertNotNull(expected, "surefire passes the pom's version");
        assertEquals(expected, Rewrap.version());
    }
}
