"""Produce rewrap-sealed records with confluent-kafka's SerializingProducer.

    python confluent_producer.py BROKERS TOPIC DELEGATING_KEY.pub
Reads lines from stdin; each becomes one sealed record with a rewrap.edek header.
"""

import sys

from confluent_kafka import SerializingProducer
from confluent_kafka.serialization import StringSerializer

import rewrap
from rewrap.kafka import ConfluentSerializer


def main(brokers, topic, key_file):
    delegating = rewrap.PublicKey.from_file(key_file)
    with rewrap.Encryptor(delegating) as enc:
        producer = SerializingProducer({
            "bootstrap.servers": brokers,
            "value.serializer": ConfluentSerializer(enc, inner=StringSerializer("utf_8")),
        })
        for line in sys.stdin:
            # headers=[]: the serializer appends rewrap.edek to this list.
            producer.produce(topic, value=line.rstrip("\n"), headers=[])
            producer.poll(0)
        producer.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
