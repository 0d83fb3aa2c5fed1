package io.rewrap;

import java.nio.charset.StandardCharsets;

/**
 * Caches the UTF-8 bytes of the last topic a handle saw: most producers and consumers use one
 * topic per handle, and handing a String across JNI costs more than sealing 1 KiB. The cache
 * is one immutable pair in a volatile field, so concurrent callers at worst recompute it.
 */
final class TopicBytes {
    private record Entry(String topic, byte[] utf8) {}

    private volatile Entry last = new Entry("", new byte[0]);

    byte[] of(String topic) {
        Entry e = last;
        if (e.topic.equals(topic)) {
            return e.utf8;
        }
        byte[] utf8 = topic.getBytes(StandardCharsets.UTF_8);
        last = new Entry(topic, utf8);
        return utf8;
    }
}
