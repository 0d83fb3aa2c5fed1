"""Consume and open rewrap records with confluent-kafka's DeserializingConsumer, through the
rewrap proxy (which adds this consumer's rewrap.cfrag headers; its identity there is the
client id unless SASL is used).

    python confluent_consumer.py BROKERS GROUP TOPIC CLIENT_ID MY_KEY.sec ADMIN_KEY.pub
"""

import sys

from confluent_kafka import DeserializingConsumer
from confluent_kafka.error import ValueDeserializationError
from confluent_kafka.serialization import StringDeserializer

import rewrap
from rewrap.kafka import ConfluentDeserializer


def main(brokers, group, topic, client_id, key_file, admin_file):
    me = rewrap.SecretKey.from_file(key_file)
    admin = rewrap.PublicKey.from_file(admin_file)
    with rewrap.Decryptor(me, [admin]) as dec:
        consumer = DeserializingConsumer({
            "bootstrap.servers": brokers,
            "group.id": group,
            "client.id": client_id,
            "auto.offset.reset": "earliest",
            "value.deserializer": ConfluentDeserializer(dec, inner=StringDeserializer("utf_8")),
        })
        consumer.subscribe([topic])
        try:
            while True:
                try:
                    msg = consumer.poll(1.0)
                except ValueDeserializationError as e:
                    # A record this consumer may not read (not granted, revoked, tampered...).
                    print(f"refused: {e.exception!r}")
                    continue
                if msg is not None and msg.error() is None:
                    print(f"{msg.partition()}@{msg.offset()} {msg.value()}")
        except KeyboardInterrupt:
            pass
        finally:
            consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:7])
