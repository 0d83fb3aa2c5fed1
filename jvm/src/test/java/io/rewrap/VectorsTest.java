package io.rewrap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shared vectors (tests/vectors/records.kv) open from their bytes alone. */
class VectorsTest {
    private static byte[] hex(String s) {
        return s.equals("-") ? new byte[0] : HexFormat.of().parseHex(s);
    }

    @Test
    void everyVectorOpens() throws IOException {
        Map<String, Map<String, String>> cases = new HashMap<>();
        long now = 0;
        for (String line : Files.readAllLines(Path.of(System.getProperty("rewrap.vectors")))) {
            if (line.startsWith("#")) continue;
            String[] f = line.split(" ", 3);
            if (f[0].equals("-")) {
                now = Long.parseLong(f[2]);
                continue;
            }
            cases.computeIfAbsent(f[0], k -> new HashMap<>()).put(f[1], f[2]);
        }
        assertEquals(3, cases.size());
        for (Map<String, String> c : cases.values()) {
            PublicKey admin = PublicKey.fromHex(c.get("admin_public_key"));
            Grant grant = Grant.fromBytes(hex(c.get("grant")));
            grant.verify(now, admin);
            assertEquals(c.get("consumer_id"), grant.consumer());
            assertEquals(c.get("delegating_key_id"), PublicKey.fromHex(c.get("delegating_public_key")).keyId());
            List<byte[]> frags = new ArrayList<>();
            for (int i = 0; i < Integer.parseInt(c.get("cfrags")); i++) {
                frags.add(hex(c.get("cfrag" + i)));
            }
            try (SecretKey me = SecretKey.fromHex(c.get("consumer_secret_key"));
                 Decryptor dec = new Decryptor(me, admin)) {
                assertEquals(c.get("consumer_public_key"), me.publicKey().toHex());
                byte[] edek = hex(c.get("edek"));
                assertArrayEquals(hex(c.get("plaintext")), dec.open(c.get("topic"), hex(c.get("value")), edek, frags));
                for (int i = 0; i < Integer.parseInt(c.get("rejects")); i++) {
                    String topic = c.get("reject" + i + ".topic");
                    byte[] value = hex(c.get("reject" + i + ".value"));
                    RewrapException e = assertThrows(RewrapException.class, () -> dec.open(topic, value, edek, frags));
                    assertEquals(Integer.parseInt(c.get("reject" + i + ".code")), e.code());
                }
            }
        }
    }
}
