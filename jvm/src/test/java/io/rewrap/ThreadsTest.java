package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** One encryptor, re-encryptor and decryptor shared by several threads. */
class ThreadsTest {
    @Test
    void handlesAreSharedSafely() throws Exception {
        try (World w = new World(); SecretKey channel = SecretKey.generate(); SecretKey me = SecretKey.generate()) {
            w.grant(channel, "t", "me", me.publicKey());
            try (Encryptor enc = w.producer(channel.publicKey()); Decryptor dec = w.consumer(me, "t")) {
                ExecutorService pool = Executors.newFixedThreadPool(8);
                List<Future<Integer>> results = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    final int thread = t;
                    results.add(pool.submit(() -> {
                        int ok = 0;
                        for (int i = 0; i < 200; i++) {
                            byte[] payload = ("thread " + thread + " message " + i).getBytes(StandardCharsets.UTF_8);
                            byte[] key = ("thread " + thread).getBytes(StandardCharsets.UTF_8);
                            Encryptor.Sealed s = enc.seal("t", key, payload);
                            assertArrayEquals(payload, dec.open("t", key, s.value(), s.headers(), w.fetch("t", s.edek(), "me")).value());
                            ok++;
                        }
                        return ok;
                    }));
                }
                int total = 0;
                for (Future<Integer> f : results) {
                    total += f.get();
                }
                pool.shutdown();
                assertEquals(8 * 200, total);
                // One session, opened once for all threads: the Umbral step runs outside the
                // handle's lock, and threads racing the cold cache wait for the one opening it.
                assertEquals(1, dec.stats().dekOpens());
            }
        }
    }

    @Test
    void closeWhileOtherThreadsUseTheHandleNeverCrashes() throws Exception {
        try (SecretKey channel = SecretKey.generate()) {
            Encryptor enc = new Encryptor(channel.publicKey());
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(pool.submit(() -> {
                    try {
                        while (true) {
                            enc.seal("t", null, new byte[64]);
                        }
                    } catch (RewrapException.Closed e) {
                        return "closed";
                    }
                }));
            }
            Thread.sleep(50);
            enc.close();
            for (Future<String> f : results) {
                assertEquals("closed", f.get());
            }
            pool.shutdown();
        }
    }
}
