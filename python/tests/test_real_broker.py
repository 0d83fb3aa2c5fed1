"""Against a real Apache Kafka broker (tests/kafka/broker.sh; run by `make test-kafka`, which
sets REWRAP_KAFKA_BOOTSTRAP and REWRAP_KAFKA_DATA). Marked `kafka`: the plain pytest run
deselects these instead of skipping them.

The broker-side re-encryption proxy is a separate component; until it exists, the step it
performs on fetch (attach this consumer's rewrap.cfrag headers) is done here by a
rewrap.ReEncryptor after consuming. Everything else is real: clients, broker, log segments."""

import os
import pathlib
import uuid

import pytest
from confluent_kafka import Consumer, SerializingProducer
from confluent_kafka.error import ValueDeserializationError
from confluent_kafka import DeserializingConsumer
from kafka import KafkaProducer

import rewrap
from rewrap.kafka import ConfluentDeserializer, ConfluentSerializer, KafkaPythonProducer

pytestmark = pytest.mark.kafka

BOOTSTRAP = os.environ.get("REWRAP_KAFKA_BOOTSTRAP", "")
DATA = pathlib.Path(os.environ.get("REWRAP_KAFKA_DATA", "/nonexistent"))


@pytest.fixture(scope="module")
def broker():
    assert BOOTSTRAP, "run through `make test-kafka` (starts the broker)"
    return BOOTSTRAP


@pytest.fixture
def parties(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    return world, channel, key, dec


def consume_all(bootstrap, topic, n, timeout=30.0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    import time
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            out.append(m)
    c.close()
    return out


def open_all(world, dec, topic, records, consumer="alice"):
    """Opens consumed records after doing the proxy's step in-process (attach cfrags)."""
    opened = []
    for m in records:
        edek = dict(m.headers())[rewrap.EDEK_HEADER]
        cfrags = [(rewrap.CFRAG_HEADER, c) for c in world.reencryptor.reencrypt(topic, edek, consumer)]
        opened.append(dec.open(topic, m.value(), m.headers() + cfrags))
    return opened


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_sealed_records_through_a_real_broker(broker, parties, compression):
    world, channel, key, dec = parties
    topic = f"orders-{compression}-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    canary = uuid.uuid4().hex.encode()
    enc = rewrap.Encryptor(channel.public_key())
    producer = SerializingProducer({"bootstrap.servers": broker, "compression.type": compression,
                                    "value.serializer": ConfluentSerializer(enc)})
    n = 300
    for i in range(n):
        producer.produce(topic, value=b"id=%d canary=%s" % (i, canary), headers=[])
    assert producer.flush(30) == 0

    records = consume_all(broker, topic, n)
    assert len(records) == n
    assert open_all(world, dec, topic, records) == [b"id=%d canary=%s" % (i, canary) for i in range(n)]
    assert world.reencryptor.stats()["reencryptions"] == 1  # one session

    # At rest: the broker's log segments hold the records but never the plaintext canary.
    segments = [p for p in DATA.rglob("*.log") if p.parent.name.startswith(topic)]
    assert segments and sum(p.stat().st_size for p in segments) > n * 48
    for p in segments:
        assert canary not in p.read_bytes(), p


def test_direct_consumer_without_reencryption_fails_closed(broker, parties):
    world, channel, key, dec = parties
    topic = f"closed-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    enc = rewrap.Encryptor(channel.public_key())
    producer = SerializingProducer({"bootstrap.servers": broker, "value.serializer": ConfluentSerializer(enc)})
    producer.produce(topic, value=b"secret", headers=[])
    producer.flush(30)
    consumer = DeserializingConsumer({"bootstrap.servers": broker, "group.id": f"g-{uuid.uuid4()}",
                                      "auto.offset.reset": "earliest",
                                      "value.deserializer": ConfluentDeserializer(dec)})
    consumer.subscribe([topic])
    import time
    deadline = time.time() + 30
    error = None
    while error is None and time.time() < deadline:
        try:
            consumer.poll(0.5)
        except ValueDeserializationError as e:
            error = e
    consumer.close()
    assert error is not None and isinstance(error.exception, rewrap.MissingCfragError)


def test_kafka_python_producer_interoperates_with_confluent_consumer(broker, parties):
    world, channel, key, dec = parties
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    enc = rewrap.Encryptor(channel.public_key())
    producer = KafkaPythonProducer(KafkaProducer(bootstrap_servers=broker), enc)
    for i in range(20):
        producer.send(topic, b"kp %d" % i)
    producer.flush()
    producer.close()
    records = consume_all(broker, topic, 20)
    assert open_all(world, dec, topic, records) == [b"kp %d" % i for i in range(20)]


def test_c_producer_on_librdkafka_interoperates(broker, parties, tmp_path):
    """examples/c/producer (librdkafka + the C ABI) produces; Python opens: one wire format."""
    import subprocess

    producer = os.environ.get("REWRAP_C_PRODUCER", "")
    assert producer and os.path.exists(producer), "make test-kafka builds examples/c first"
    world, channel, key, dec = parties
    topic = f"from-c-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    pub = tmp_path / "channel.pub"
    pub.write_text(channel.public_key().to_hex() + "\n")
    subprocess.run([producer, broker, topic, str(pub), "50"], check=True, timeout=60)
    records = consume_all(broker, topic, 50)
    assert open_all(world, dec, topic, records) == [b"message %d" % i for i in range(50)]


def test_java_producer_configured_by_properties_interoperates(broker, parties, tmp_path):
    """A kafka-clients producer with io.rewrap.kafka.RewrapSerializer (configuration only)
    produces; Python opens."""
    import subprocess

    classpath = os.environ.get("REWRAP_JAVA_CLASSPATH", "")
    assert classpath, "make test-kafka builds the JVM library first"
    world, channel, key, dec = parties
    topic = f"from-java-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    pub = tmp_path / "channel.pub"
    pub.write_text(channel.public_key().to_hex() + "\n")
    subprocess.run(["java", "-cp", classpath, "io.rewrap.examples.SealedProducer", broker, topic, str(pub), "30"],
                   check=True, timeout=120)
    records = consume_all(broker, topic, 30)
    assert open_all(world, dec, topic, records) == [b"java %d" % i for i in range(30)]
