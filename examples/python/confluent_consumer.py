"""Consume and open rewrap records with confluent-kafka's DeserializingConsumer, through the
rewrap proxy (which adds this consumer's rewrap.cfrag headers; its identity there is the
client id unless SASL is used).

    python confluent_consumer.py BROKERS GROUP TOPIC CLIENT_ID MY_KEY.sec ADMIN_KEY.pub PRODUCER_GRANT...

Records must be signed by an authorized producer (the decryptor's default "require" policy):
each PRODUCER_GRANT is a producer grant file (`rewrap grant --producer ...` writes one into the
grant store) or a grant store directory, whose *.pgrant files are all loaded. Prints each record
as PARTITION@OFFSET KEY VALUE with who vouched for it (the producer's key id) and its counter.
"""

import pathlib
import sys

from confluent_kafka import DeserializingConsumer
from confluent_kafka.error import ValueDeserializationError
from confluent_kafka.serialization import StringDeserializer

import rewrap
from rewrap.kafka import ConfluentDeserializer, ConfluentKeyDeserializer


def load_producer_grants(dec, paths):
    """Adds the producer grants in `paths` (files, or grant store directories: *.pgrant)."""
    files = []
    for p in map(pathlib.Path, paths):
        files.extend(sorted(p.glob("*.pgrant")) if p.is_dir() else [p])
    for f in files:
        dec.add_producer_grant(rewrap.ProducerGrant.from_bytes(f.read_bytes()))
    return len(files)


class Opening:
    """Hands ConfluentDeserializer a decryptor and keeps what it last opened, so the loop can
    print the vouch and counter (poll runs the deserializers for the record it returns)."""

    def __init__(self, dec):
        self.dec = dec
        self.last = None

    def open(self, topic, key, value, headers=None):
        self.last = None
        self.last = self.dec.open(topic, key, value, headers)
        return self.last


def main(brokers, group, topic, client_id, key_file, admin_file, *grants):
    me = rewrap.SecretKey.from_file(key_file)
    admin = rewrap.PublicKey.from_file(admin_file)
    with rewrap.Decryptor(me, [admin]) as dec:
        n = load_producer_grants(dec, grants)
        print(f"{n} producer grant(s) loaded", file=sys.stderr)
        opening = Opening(dec)
        consumer = DeserializingConsumer({
            "bootstrap.servers": brokers,
            "group.id": group,
            "client.id": client_id,
            "auto.offset.reset": "earliest",
            # The key deserializer hands the wire key to the value deserializer, which opens under it.
            "key.deserializer": ConfluentKeyDeserializer(StringDeserializer("utf_8")),
            "value.deserializer": ConfluentDeserializer(opening, inner=StringDeserializer("utf_8")),
        })
        consumer.subscribe([topic])
        try:
            while True:
                try:
                    msg = consumer.poll(1.0)
                except ValueDeserializationError as e:
                    # A record this consumer may not read (not granted, revoked, tampered,
                    # unsigned or from an unauthorized producer...).
                    m = e.kafka_message
                    print(f"{m.partition()}@{m.offset()} refused: {type(e.exception).__name__}: {e.exception}")
                    continue
                if msg is None or msg.error() is not None:
                    continue
                o = opening.last
                who = o.producer.key_id if o.producer is not None else "-"
                print(f"{msg.partition()}@{msg.offset()} {msg.key()} {msg.value()!r} "
                      f"[vouch={o.vouch} producer={who} counter={o.counter}]")
        except KeyboardInterrupt:
            pass
        finally:
            consumer.close()


if __name__ == "__main__":
    if len(sys.argv) < 8:
        sys.exit(__doc__)
    main(*sys.argv[1:])
