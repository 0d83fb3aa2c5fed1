"""Python binding overhead and serializer-loop throughput (a script, not a test).

1. Per-call cost of Encryptor.seal / Decryptor.open at 1 KiB through the binding, beside the
   same payload through a Python call that only copies bytes (the floor of any binding call).
   The Rust figure for the same operations comes from `cargo bench` in the same `make bench`.
2. 100k in-memory records produced and consumed through the confluent-kafka serializer
   plumbing, with rewrap vs a pass-through serializer that does the same header handling.

    python python/bench/bench_binding.py [--records N]
"""

import argparse
import time
import timeit

from confluent_kafka.serialization import MessageField, SerializationContext

import rewrap
from rewrap.kafka import ConfluentDeserializer, ConfluentSerializer


def best_per_call(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    admin = rewrap.Signer(rewrap.SecretKey.generate())
    channel = rewrap.SecretKey.generate()
    me = rewrap.SecretKey.generate()
    re = rewrap.ReEncryptor([admin.verifying_key])
    re.add_grant(rewrap.Grant.issue(admin, channel, "bench", "me", me.public_key()))
    producer = rewrap.SecretKey.generate()
    enc = rewrap.Encryptor(channel.public_key())
    enc.set_signer(producer)  # session mode: one signature per session, a hash per record
    dec = rewrap.Decryptor(me, [admin.verifying_key])
    dec.add_producer_grant(rewrap.ProducerGrant.issue(admin, "bench", producer.public_key()))
    payload = b"\x5a" * 1024
    key = b"bench-key"
    sealed = enc.seal("bench", key, payload)
    cfrags = [(rewrap.CFRAG_HEADER, c) for c in re.reencrypt("bench", sealed.edek, "me")]
    headers = sealed.headers + cfrags
    dec.open("bench", key, sealed.value, headers)

    seal = best_per_call(lambda: enc.seal("bench", key, payload), 50_000)
    open_ = best_per_call(lambda: dec.open("bench", key, sealed.value, headers), 50_000)
    copy = best_per_call(lambda: bytes(bytearray(payload)), 50_000)
    print(f"seal 1KiB via Python: {seal * 1e9:.0f} ns/call")
    print(f"open 1KiB via Python: {open_ * 1e9:.0f} ns/call")
    print(f"python bytes copy 1KiB (floor): {copy * 1e9:.0f} ns/call")

    # 2. Serializer plumbing loop, same run.
    n = args.records
    ser, de = ConfluentSerializer(enc, null_key=True), ConfluentDeserializer(dec, null_key=True)

    def passthrough_ser(v, ctx):
        ctx.headers.append((rewrap.EDEK_HEADER, b""))
        return bytes(v)

    def passthrough_de(v, ctx):
        return bytes(v)

    def loop(s, d, fetch_headers):
        start = time.perf_counter()
        for i in range(n):
            hs = []
            v = s(payload, SerializationContext("bench", MessageField.VALUE, hs))
            d(v, SerializationContext("bench", MessageField.VALUE, fetch_headers(hs)))
        return time.perf_counter() - start

    cfrag_headers = cfrags
    plain = min(loop(passthrough_ser, passthrough_de, lambda hs: hs) for _ in range(3))
    sealed = min(loop(ser, de, lambda hs: hs + cfrag_headers) for _ in range(3))
    print(f"{n} records produce+consume, pass-through serializers: {n / plain:,.0f} rec/s")
    print(f"{n} records produce+consume, rewrap serializers:       {n / sealed:,.0f} rec/s")
    print(f"ratio rewrap / pass-through: {plain / sealed:.3f}")


if __name__ == "__main__":
    main()
