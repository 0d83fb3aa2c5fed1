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
    ConfluentKeyDeserializer,
    ConfluentKeySerializer,
    ConfluentSerializer,
    KafkaPythonProducer,
    open_message,
    open_record,
    produce,
    seal_record,
)


@pytest.fixture
def parties(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    world.grant(channel, "orders", "alice", key.public_key())
    return world, world.producer(channel.public_key(), ["orders"]), dec


def fetch(world, topic, headers, consumer):
    """What the proxy does on fetch: append this consumer's cfrag headers."""
    return world.headers_for(topic, headers, consumer)


def produce_confluent(key_ser, value_ser, topic, key, value, headers):
    """What SerializingProducer.produce does: one context, key serializer first."""
    ctx = SerializationContext(topic, MessageField.KEY, headers)
    wire_key = key_ser(key, ctx) if key_ser else key
    ctx.field = MessageField.VALUE
    return wire_key, value_ser(value, ctx)


def consume_confluent(key_de, value_de, topic, key, value, headers):
    """What DeserializingConsumer.poll does (confluent-kafka 2.x): key deserializer first."""
    ctx = SerializationContext(topic, MessageField.KEY, headers)
    plain_key = key_de(key, ctx) if key_de else key
    ctx.field = MessageField.VALUE
    return plain_key, value_de(value, ctx)


def test_confluent_serializer_round_trip_binds_the_key(parties):
    world, enc, dec = parties
    headers = []
    key, value = produce_confluent(ConfluentKeySerializer(), ConfluentSerializer(enc), "orders", b"k1", b"order #1", headers)
    assert key == b"k1" and value != b"order #1"
    assert [h[0] for h in headers] == [rewrap.EDEK_HEADER, "rewrap.sig"]
    fetched = fetch(world, "orders", headers, "alice")
    de = ConfluentDeserializer(dec)
    assert consume_confluent(ConfluentKeyDeserializer(), de, "orders", b"k1", value, fetched) == (b"k1", b"order #1")
    with pytest.raises(rewrap.AuthenticationFailedError):
        consume_confluent(ConfluentKeyDeserializer(), de, "orders", b"k2", value, fetched)


def test_confluent_serializer_composes_with_string_serializers(parties):
    world, enc, dec = parties
    headers = [("trace-id", b"abc")]
    key, value = produce_confluent(
        ConfluentKeySerializer(StringSerializer("utf_8")), ConfluentSerializer(enc, inner=StringSerializer("utf_8")),
        "orders", "clé", "héllo", headers)
    assert key == "clé".encode()
    fetched = fetch(world, "orders", headers, "alice")
    got = consume_confluent(
        ConfluentKeyDeserializer(StringDeserializer("utf_8")), ConfluentDeserializer(dec, inner=StringDeserializer("utf_8")),
        "orders", key, value, fetched)
    assert got == ("clé", "héllo")


def test_value_serializers_without_the_key_half_refuse_unless_null_key(parties):
    world, enc, dec = parties
    with pytest.raises(TypeError, match="ConfluentKeySerializer"):
        produce_confluent(None, ConfluentSerializer(enc), "orders", b"k", b"x", [])
    with pytest.raises(TypeError, match="ConfluentKeyDeserializer"):
        consume_confluent(None, ConfluentDeserializer(dec), "orders", b"k", b"x", [])
    headers = []
    _, value = produce_confluent(None, ConfluentSerializer(enc, null_key=True), "orders", None, b"keyless", headers)
    fetched = fetch(world, "orders", headers, "alice")
    assert consume_confluent(None, ConfluentDeserializer(dec, null_key=True), "orders", None, value, fetched)[1] == b"keyless"
    # sealed under the null key, produced with a key: refused, not opened under a key it was not sealed with
    with pytest.raises(rewrap.AuthenticationFailedError):
        consume_confluent(ConfluentKeyDeserializer(), ConfluentDeserializer(dec), "orders", b"k", value, fetched)


def test_confluent_serializer_needs_a_header_list(parties):
    _, enc, _ = parties
    with pytest.raises(TypeError, match="headers"):
        produce_confluent(ConfluentKeySerializer(), ConfluentSerializer(enc), "orders", b"k", b"x", None)


def test_tombstones_pass_as_none(parties):
    world, enc, dec = parties
    headers = []
    assert produce_confluent(ConfluentKeySerializer(), ConfluentSerializer(enc), "orders", b"k", None, headers) == (b"k", None)
    assert headers == []
    assert consume_confluent(ConfluentKeyDeserializer(), ConfluentDeserializer(dec), "orders", b"k", None, []) == (b"k", None)
    assert seal_record(enc, "orders", b"k", None) == (None, [])


def test_confluent_deserializer_refuses_plaintext_injection(parties):
    _, _, dec = parties
    with pytest.raises(rewrap.UnencryptedError):
        consume_confluent(ConfluentKeyDeserializer(), ConfluentDeserializer(dec), "orders", b"k", b"forged", [])


def test_confluent_deserializer_refuses_unsigned_records(parties, world):
    _, enc, dec = parties
    forger = rewrap.Encryptor(enc.delegating_key)
    headers = []
    key, value = produce_confluent(ConfluentKeySerializer(), ConfluentSerializer(forger), "orders", b"k", b"forged", headers)
    with pytest.raises(rewrap.UnsignedError):
        consume_confluent(ConfluentKeyDeserializer(), ConfluentDeserializer(dec), "orders", key, value,
                          fetch(world, "orders", headers, "alice"))


class FakeKafkaPythonProducer:
    """Stands in for KafkaProducer.send in-memory: records what would go to the broker."""

    def __init__(self):
        self.sent = []

    config = {"key_serializer": None, "value_serializer": None}

    def send(self, topic, value=None, key=None, headers=None, **kwargs):
        self.sent.append((topic, value, key, headers))
        return "future"

    def flush(self):
        return "flushed"


class FakeConfluentMessage:
    """A confluent-kafka Message as Consumer.poll returns it: accessor methods."""

    def __init__(self, topic, key, value, headers):
        self._t, self._k, self._v, self._h = topic, key, value, headers

    def topic(self):
        return self._t

    def key(self):
        return self._k

    def value(self):
        return self._v

    def headers(self):
        return self._h


class FakeConfluentProducer:
    def __init__(self):
        self.produced = []

    def produce(self, topic, value=None, key=None, headers=None, **kwargs):
        self.produced.append((topic, value, key, headers, kwargs))


def consumer_record(world, topic, key, value, headers):
    return ConsumerRecord(
        topic=topic, partition=0, leader_epoch=-1, offset=0, timestamp=0, timestamp_type=0,
        key=key, value=value, headers=fetch(world, topic, headers, "alice"),
        checksum=None, serialized_key_size=-1 if key is None else len(key),
        serialized_value_size=len(value), serialized_header_size=-1,
    )


def test_produce_helper_with_a_confluent_producer_and_open_message(parties):
    world, enc, dec = parties
    client = FakeConfluentProducer()
    produce(client, enc, "orders", "customer-7", b"payload", headers=[("a", b"1")], partition=3)
    topic, value, key, headers, kwargs = client.produced[0]
    assert key == b"customer-7" and kwargs == {"partition": 3}  # str keys go out as UTF-8
    assert [n for n, _ in headers] == ["a", rewrap.EDEK_HEADER, "rewrap.sig"]
    msg = FakeConfluentMessage(topic, key, value, fetch(world, topic, headers, "alice"))
    opened = open_message(dec, msg)
    assert (opened.value, opened.vouch) == (b"payload", "producer")
    with pytest.raises(rewrap.AuthenticationFailedError):
        open_message(dec, FakeConfluentMessage(topic, b"customer-8", value, msg.headers()))


def test_produce_helper_with_a_kafka_python_producer_and_null_key(parties):
    world, enc, dec = parties
    client = FakeKafkaPythonProducer()
    assert produce(client, enc, "orders", None, b"keyless") == "future"
    topic, value, key, headers = client.sent[0]
    assert key is None
    assert open_message(dec, consumer_record(world, topic, key, value, headers)).value == b"keyless"
    with pytest.raises(rewrap.AuthenticationFailedError):
        open_message(dec, consumer_record(world, topic, b"", value, headers))


def test_kafka_python_wrapper_refuses_a_producer_with_serializers(parties):
    _, enc, _ = parties
    client = FakeKafkaPythonProducer()
    client.config = {"key_serializer": str.encode, "value_serializer": None}
    with pytest.raises(ValueError, match="key_serializer"):
        KafkaPythonProducer(client, enc)


def test_kafka_python_round_trip(parties):
    world, enc, dec = parties
    inner = FakeKafkaPythonProducer()
    producer = KafkaPythonProducer(inner, enc, inner=lambda v: json.dumps(v).encode())
    assert producer.send("orders", {"id": 1}, key=b"k", headers=[("a", b"1")]) == "future"
    assert producer.flush() == "flushed"
    topic, value, key, headers = inner.sent[0]
    assert key == b"k" and headers[0] == ("a", b"1") and headers[1][0] == rewrap.EDEK_HEADER
    assert json.loads(open_message(dec, consumer_record(world, topic, key, value, headers)).value) == {"id": 1}
    with pytest.raises(rewrap.AuthenticationFailedError):
        open_message(dec, consumer_record(world, topic, b"j", value, headers))


def test_kafka_python_wrapper_serializes_the_key_before_sealing(parties):
    world, enc, dec = parties
    inner = FakeKafkaPythonProducer()
    KafkaPythonProducer(inner, enc, key_inner=lambda k: k.to_bytes(4, "big")).send("orders", b"v", key=7)
    topic, value, key, headers = inner.sent[0]
    assert key == b"\0\0\0\x07"
    assert open_message(dec, consumer_record(world, topic, key, value, headers)).value == b"v"


def test_open_record_accepts_dict_headers(parties):
    world, enc, dec = parties
    value, headers = seal_record(enc, "orders", b"k", b"x")
    fetched = fetch(world, "orders", headers, "alice")
    assert open_record(dec, "orders", b"k", value, dict(fetched)).value == b"x"


def test_confluent_deserializer_marks_plaintext_let_through_as_unauthenticated(world):
    key, _ = world.consumer()
    migrating = rewrap.Decryptor(key, [world.admin.verifying_key], allow_plaintext=True)
    de = ConfluentDeserializer(migrating)
    _, legacy = consume_confluent(ConfluentKeyDeserializer(), de, "orders", b"k", b"legacy", [])
    assert isinstance(legacy, Unauthenticated) and legacy == b"legacy"


def test_confluent_deserializer_returns_plain_bytes_for_decrypted_records(parties):
    world, enc, dec = parties
    headers = []
    key, value = produce_confluent(ConfluentKeySerializer(), ConfluentSerializer(enc), "orders", b"k", b"x", headers)
    _, opened = consume_confluent(ConfluentKeyDeserializer(), ConfluentDeserializer(dec), "orders", key, value,
                                  fetch(world, "orders", headers, "alice"))
    assert opened == b"x" and not isinstance(opened, Unauthenticated)


def test_confluent_clients_hand_the_key_to_the_value_serializers(parties):
    """Pins what the key/value serializer pairs rely on: SerializingProducer and
    DeserializingConsumer give one SerializationContext to both halves, key first. No broker
    is contacted (the record is purged before delivery)."""
    from confluent_kafka import DeserializingConsumer, Message, SerializingProducer

    world, enc, dec = parties
    seen = []
    sealing = ConfluentSerializer(enc)
    producer = SerializingProducer({
        "bootstrap.servers": "127.0.0.1:9",
        "key.serializer": ConfluentKeySerializer(StringSerializer("utf_8")),
        "value.serializer": lambda v, ctx: seen.append((sealing(v, ctx), ctx.headers)) or seen[-1][0],
    })
    producer.produce("orders", key="customer-7", value=b"through the client", headers=[])
    producer.purge()
    value, headers = seen[0]

    consumer = DeserializingConsumer({
        "bootstrap.servers": "127.0.0.1:9", "group.id": "g",
        "key.deserializer": ConfluentKeyDeserializer(StringDeserializer("utf_8")),
        "value.deserializer": ConfluentDeserializer(dec),
    })
    try:
        msg = Message(topic="orders", key=b"customer-7", value=value, headers=fetch(world, "orders", headers, "alice"))
        got = consumer._deserialize(msg)  # what poll() does to a fetched message
        assert (got.key(), got.value()) == ("customer-7", b"through the client")
    finally:
        consumer.close()
