"""kafka-python: seal on send with KafkaPythonProducer, open ConsumerRecords with open_message.

    python kafka_python_roundtrip.py BROKERS TOPIC DELEGATING_KEY.pub CLIENT_ID MY_KEY.sec ADMIN_KEY.pub
(consume through the rewrap proxy so this consumer's fragments are attached.)
"""

import sys

from kafka import KafkaConsumer, KafkaProducer

import rewrap
from rewrap.kafka import KafkaPythonProducer, open_message


def main(brokers, topic, delegating_file, client_id, key_file, admin_file):
    enc = rewrap.Encryptor(rewrap.PublicKey.from_file(delegating_file))
    producer = KafkaPythonProducer(KafkaProducer(bootstrap_servers=brokers), enc)
    for i in range(10):
        producer.send(topic, f"message {i}".encode())
    producer.flush()

    dec = rewrap.Decryptor(
        rewrap.SecretKey.from_file(key_file),
        [rewrap.PublicKey.from_file(admin_file)],
    )
    consumer = KafkaConsumer(topic, bootstrap_servers=brokers, client_id=client_id,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for record in consumer:
        try:
            print(record.offset, open_message(dec, record).value)
        except rewrap.RewrapError as e:
            print(record.offset, "refused:", type(e).__name__, e)


if __name__ == "__main__":
    main(*sys.argv[1:7])
