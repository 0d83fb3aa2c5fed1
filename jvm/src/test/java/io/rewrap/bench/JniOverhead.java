package io.rewrap.bench;

import io.rewrap.Decryptor;
import io.rewrap.Encryptor;
import io.rewrap.Grant;
import io.rewrap.ProducerGrant;
import io.rewrap.PublicKey;
import io.rewrap.ReEncryptor;
import io.rewrap.SecretKey;
import io.rewrap.SigningMode;
import java.util.List;

/**
 * Java seal/open of 1 KiB through JNI, per call (best of 5 rounds of 200,000 after warm-up).
 * Not a test: run by `make bench-jvm`; compare with the Rust facade figures of the same
 * machine (docs/BENCHMARKS.md).
 */
public final class JniOverhead {
    private JniOverhead() {}

    interface Call {
        void run();
    }

    static double nsPerCall(Call c, int n) {
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 5; round++) {
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                c.run();
            }
            best = Math.min(best, (System.nanoTime() - start) / (double) n);
        }
        return best;
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        try (SecretKey admin = SecretKey.generate(); SecretKey channel = SecretKey.generate();
             SecretKey me = SecretKey.generate()) {
            PublicKey adminPub = admin.publicKey();
            try (ReEncryptor re = new ReEncryptor(adminPub); Encryptor enc = new Encryptor(channel.publicKey());
                 Decryptor dec = new Decryptor(me, adminPub); SecretKey signer = SecretKey.generate()) {
                re.addGrant(Grant.issue(admin, channel, "bench", "me", me.publicKey()));
                enc.setSigner(signer, SigningMode.SESSION);
                dec.addProducerGrant(ProducerGrant.issue(admin, "bench", signer.publicKey(), 0, 0));
                byte[] payload = new byte[1024];
                byte[] key = "order-1".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                Encryptor.Sealed s = enc.seal("bench", key, payload);
                List<byte[]> frags = re.reencrypt("bench", s.edek(), "me");
                dec.open("bench", key, s.value(), s.headers(), frags);
                for (int i = 0; i < 100_000; i++) { // JIT warm-up
                    enc.seal("bench", key, payload);
                    dec.open("bench", key, s.value(), s.headers(), frags);
                }
                double seal = nsPerCall(() -> enc.seal("bench", key, payload), n);
                double open = nsPerCall(() -> dec.open("bench", key, s.value(), s.headers(), frags), n);
                double copy = nsPerCall(() -> payload.clone(), n);
                System.out.printf("seal 1KiB via JNI: %.0f ns/call%n", seal);
                System.out.printf("open 1KiB via JNI: %.0f ns/call%n", open);
                System.out.printf("java byte[1024] clone (floor): %.0f ns/call%n", copy);
            }
        }
    }
}
