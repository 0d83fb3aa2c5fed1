"""kafka-python: seal and sign on send with KafkaPythonProducer, open ConsumerRecords with
open_message.

    python kafka_python_roundtrip.py BROKERS TOPIC DELEGATING_KEY.pub SIGNING_KEY.sec CLIENT_ID MY_KEY.sec ADMIN_KEY.pub PRODUCER_GRANT...

BROKERS is the rewrap proxy: consuming through it attaches this consumer's fragments.
SIGNING_KEY.sec is the producer's signing key (`rewrap keygen --signer PREFIX`); each
PRODUCER_GRANT is a producer grant file authorizing it on TOPIC (`rewrap grant --producer
PREFIX.pub ...`) or a grant store directory (its *.pgrant files are loaded).
"""

import pathlib
import sys

from kafka import KafkaConsumer, KafkaProducer

import rewrap
from rewrap.kafka import KafkaPythonProducer, open_message


def load_producer_grants(dec, paths):
    """Adds the producer grants in `paths` (files, or grant store directories: *.pgrant)."""
    files = []
    for p in map(pathlib.Path, paths):
        files.extend(sorted(p.glob("*.pgrant")) if p.is_dir() else [p])
    for f in files:
        dec.add_producer_grant(rewrap.ProducerGrant.from_bytes(f.read_bytes()))
    return len(files)


def main(brokers, topic, delegating_file, signing_file, client_id, key_file, admin_file, *grants):
    enc = rewrap.Encryptor(rewrap.PublicKey.from_file(delegating_file))
    enc.set_signer(rewrap.SecretKey.from_file(signing_file))
    producer = KafkaPythonProducer(KafkaProducer(bootstrap_servers=brokers), enc)
    for i in range(10):
        # The value is sealed under this key: it opens only under it.
        producer.send(topic, f"message {i}".encode(), key=f"key-{i % 3}".encode())
    producer.flush()
    producer.close()

    dec = rewrap.Decryptor(
        rewrap.SecretKey.from_file(key_file),
        [rewrap.PublicKey.from_file(admin_file)],
    )
    load_producer_grants(dec, grants)
    consumer = KafkaConsumer(topic, bootstrap_servers=brokers, client_id=client_id,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for record in consumer:
        try:
            o = open_message(dec, record)
            who = o.producer.key_id if o.producer is not None else "-"
            print(record.offset, record.key, o.value, f"[vouch={o.vouch} producer={who} counter={o.counter}]")
        except rewrap.RewrapError as e:
            print(record.offset, "refused:", type(e).__name__, e)
    consumer.close()


if __name__ == "__main__":
    if len(sys.argv) < 9:
        sys.exit(__doc__)
    main(*sys.argv[1:])
