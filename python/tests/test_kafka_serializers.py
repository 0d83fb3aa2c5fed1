"""Round trips through the Kafka client integrations with in-memory records (the real-broker
run belongs to the Kafka end-to-end tests)."""

import json

import pytest
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer, StringSerializer
from kafka.consumer.fetcher import ConsumerRecord

import rewrap
from rewrap.kafka import (
    Unauthenticated,
    ConfluentDeserializer,
    ConfluentSerializer,
    KafkaPythonProducer,
    open_message,
    open_record,
    seal_record,
)


@pytest.fixture
def parties(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    world.grant(channel, "orders", "alice", key.public_key())
    return world, rewrap.Encryptor(channel.public_key()), dec


def fetch(world, topic, headers, consumer):
    """What the proxy does on fetch: append this consumer's cfrag headers."""
    edek = dict(headers)[rewrap.EDEK_HEADER]
    return list(headers) + [(rewrap.CFRAG_HEADER, c) for c in world.reencryptor.reencrypt(topic, edek, consumer)]


def test_confluent_serializer_round_trip(parties):
    world, enc, dec = parties
    ser, de = ConfluentSerializer(enc), ConfluentDeserializer(dec)
    headers = []
    value = ser(b"order #1", SerializationContext("orders", MessageField.VALUE, headers))
    assert value != b"order #1" and [h[0] for h in headers] == [rewrap.EDEK_HEADER]
    fetched = fetch(world, "orders", headers, "alice")
    assert de(value, SerializationContext("orders", MessageField.VALUE, fetched)) == b"order #1"


def test_confluent_serializer_composes_with_string_serializer(parties):
    world, enc, dec = parties
    ser = ConfluentSerializer(enc, inner=StringSerializer("utf_8"))
    de = ConfluentDeserializer(dec, inner=StringDeserializer("utf_8"))
    headers = [("trace-id", b"abc")]
    value = ser("héllo", SerializationContext("orders", MessageField.VALUE, headers))
    fetched = fetch(world, "orders", headers, "alice")
    assert de(value, SerializationContext("orders", MessageField.VALUE, fetched)) == "héllo"


def test_confluent_serializer_needs_a_header_list(parties):
    _, enc, _ = parties
    with pytest.raises(TypeError, match="headers"):
        ConfluentSerializer(enc)(b"x", SerializationContext("orders", MessageField.VALUE, None))


def test_tombstones_pass_as_none(parties):
    world, enc, dec = parties
    headers = []
    assert ConfluentSerializer(enc)(None, SerializationContext("orders", MessageField.VALUE, headers)) is None
    assert headers == []
    assert ConfluentDeserializer(dec)(None, SerializationContext("orders", MessageField.VALUE, [])) is None
    assert seal_record(enc, "orders", None) == (None, [])


def test_confluent_deserializer_refuses_plaintext_injection(parties):
    _, _, dec = parties
    with pytest.raises(rewrap.UnencryptedError):
        ConfluentDeserializer(dec)(b"forged", SerializationContext("orders", MessageField.VALUE, []))


class FakeKafkaPythonProducer:
    """Stands in for KafkaProducer.send in-memory: records what would go to the broker."""

    def __init__(self):
        self.sent = []

    def send(self, topic, value=None, key=None, headers=None, **kwargs):
        self.sent.append((topic, value, key, headers))
        return "future"

    def flush(self):
        return "flushed"


def test_kafka_python_round_trip(parties):
    world, enc, dec = parties
    inner = FakeKafkaPythonProducer()
    producer = KafkaPythonProducer(inner, enc, inner=lambda v: json.dumps(v).encode())
    assert producer.send("orders", {"id": 1}, key=b"k", headers=[("a", b"1")]) == "future"
    assert producer.flush() == "flushed"
    topic, value, key, headers = inner.sent[0]
    assert key == b"k" and headers[0] == ("a", b"1") and headers[1][0] == rewrap.EDEK_HEADER
    record = ConsumerRecord(
        topic=topic, partition=0, leader_epoch=-1, offset=0, timestamp=0, timestamp_type=0,
        key=key, value=value, headers=fetch(world, topic, headers, "alice"),
        checksum=None, serialized_key_size=1, serialized_value_size=len(value), serialized_header_size=-1,
    )
    assert json.loads(open_message(dec, record).value) == {"id": 1}


def test_open_record_accepts_dict_headers(parties):
    world, enc, dec = parties
    value, headers = seal_record(enc, "orders", b"x")
    fetched = fetch(world, "orders", headers, "alice")
    assert open_record(dec, "orders", value, dict(fetched)).value == b"x"


def test_confluent_deserializer_marks_plaintext_let_through_as_unauthenticated(world):
    key, _ = world.consumer()
    migrating = rewrap.Decryptor(key, [world.admin.verifying_key], allow_plaintext=True)
    de = ConfluentDeserializer(migrating)
    legacy = de(b"legacy", SerializationContext("orders", MessageField.VALUE, []))
    assert isinstance(legacy, Unauthenticated) and legacy == b"legacy"


def test_confluent_deserializer_returns_plain_bytes_for_decrypted_records(parties):
    world, enc, dec = parties
    headers = []
    value = ConfluentSerializer(enc)(b"x", SerializationContext("orders", MessageField.VALUE, headers))
    opened = ConfluentDeserializer(dec)(value, SerializationContext("orders", MessageField.VALUE, fetch(world, "orders", headers, "alice")))
    assert opened == b"x" and not isinstance(opened, Unauthenticated)
