"""Produce signed rewrap-sealed records with confluent-kafka's SerializingProducer.

    python confluent_producer.py BROKERS TOPIC DELEGATING_KEY.pub SIGNING_KEY.sec [session|record]

Reads lines from stdin; each becomes one sealed record with rewrap headers (rewrap.edek and the
producer signature). A line "KEY<TAB>VALUE" is produced under KEY, any other line under the key
"line-N" (its line number): the value is sealed under its record key and opens only under it.

SIGNING_KEY.sec is a producer signing key (`rewrap keygen --signer PREFIX` writes PREFIX.sec and
PREFIX.pub); consumers under the default "require" policy accept its records once an
administrator authorizes it on the topic:
    rewrap grant --producer PREFIX.pub --topic TOPIC --store GRANTS --admin ADMIN.sec
"""

import sys

from confluent_kafka import SerializingProducer
from confluent_kafka.serialization import StringSerializer

import rewrap
from rewrap.kafka import ConfluentKeySerializer, ConfluentSerializer


def main(brokers, topic, key_file, signing_file, mode="session"):
    delegating = rewrap.PublicKey.from_file(key_file)
    with rewrap.Encryptor(delegating) as enc:
        enc.set_signer(rewrap.SecretKey.from_file(signing_file), mode)
        print(f"signing as {enc.signer[0].key_id} ({mode} mode)", file=sys.stderr)
        producer = SerializingProducer({
            "bootstrap.servers": brokers,
            # The key serializer hands the wire key to the value serializer, which seals under it.
            "key.serializer": ConfluentKeySerializer(StringSerializer("utf_8")),
            "value.serializer": ConfluentSerializer(enc, inner=StringSerializer("utf_8")),
        })
        for n, line in enumerate(sys.stdin):
            key, sep, value = line.rstrip("\n").partition("\t")
            if not sep:
                key, value = f"line-{n}", key
            # headers=[]: the value serializer appends the rewrap headers to this list.
            producer.produce(topic, key=key, value=value, headers=[])
            producer.poll(0)
        if producer.flush(30) != 0:
            sys.exit("some records were not delivered")


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    main(*sys.argv[1:6])
