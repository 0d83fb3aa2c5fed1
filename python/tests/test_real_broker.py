"""Against a real Apache Kafka broker (tests/kafka/broker.sh; run by `make test-kafka`, which
sets REWRAP_KAFKA_BOOTSTRAP, REWRAP_KAFKA_DATA and REWRAP_PROXY_BIN). Marked `kafka`: the plain
pytest run deselects these instead of skipping them.

Producers write straight to the broker; consumers read through the rewrap-proxy binary
(tests/kafka/proxy.sh), which adds the fetching consumer's rewrap.cfrag headers from the grant
store this module writes. Consumers identify themselves by client.id.

Producers sign (format v2): each test's producer key gets a producer grant, written to the store
(the proxy checks producers under its default policy) and handed to the Python consumers."""

import os
import pathlib
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, SerializingProducer
from confluent_kafka.error import ValueDeserializationError
from confluent_kafka import DeserializingConsumer
from kafka import KafkaProducer

import rewrap
from rewrap.kafka import (
    ConfluentDeserializer,
    ConfluentKeyDeserializer,
    ConfluentKeySerializer,
    ConfluentSerializer,
    KafkaPythonProducer,
)

pytestmark = pytest.mark.kafka

BOOTSTRAP = os.environ.get("REWRAP_KAFKA_BOOTSTRAP", "")
DATA = pathlib.Path(os.environ.get("REWRAP_KAFKA_DATA", "/nonexistent"))


@pytest.fixture(scope="module")
def broker():
    assert BOOTSTRAP, "run through `make test-kafka` (starts the broker)"
    return BOOTSTRAP


REPO = pathlib.Path(__file__).resolve().parents[2]
PROXY_SH = REPO / "tests" / "kafka" / "proxy.sh"


class ProxyWorld:
    """An administrator, a directory grant store and a proxy that follows it."""

    def __init__(self, broker, tmp):
        self.admin = rewrap.Signer(rewrap.SecretKey.generate())
        self.admins = [self.admin.verifying_key]
        self.store = tmp / "grants"
        self.store.mkdir(mode=0o700)
        admin_pub = tmp / "admin.pub"
        admin_pub.write_text(self.admin.verifying_key.to_hex() + "\n")
        self.dir = tmp / "proxy"
        out = subprocess.run(["bash", str(PROXY_SH), "start", str(self.dir), broker, str(self.store),
                              str(admin_pub)], check=True, capture_output=True, text=True, timeout=60)
        self.bootstrap = out.stdout.strip()

        self.producer_grants = []
        self.decryptors = []

    def consumer(self):
        key = rewrap.SecretKey.generate()
        dec = rewrap.Decryptor(key, self.admins)
        for g in self.producer_grants:
            dec.add_producer_grant(g)
        self.decryptors.append(dec)
        return key, dec

    def _write(self, name, data):
        path = self.store / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def grant(self, delegating, channel, consumer_id, consumer_key):
        """Writes the grant where `rewrap grant` would, then waits for the proxy to load it."""
        g = rewrap.Grant.issue(self.admin, delegating, channel, consumer_id, consumer_key)
        self._write(f"{channel.encode().hex()}.{consumer_id.encode().hex()}.{g.delegating_key.key_id}.grant", g.to_bytes())
        time.sleep(0.6)  # the proxy checks the store every 200 ms
        return g

    def authorize(self, topic):
        """A fresh producer signing key with a producer grant for `topic`, written where
        `rewrap producer-grant` would (the proxy loads it) and given to every consumer here.
        Returns the key and the grant file."""
        signing = rewrap.SecretKey.generate()
        g = rewrap.ProducerGrant.issue(self.admin, topic, signing.public_key())
        path = self._write(f"{topic.encode().hex()}.{signing.public_key().key_id}.pgrant", g.to_bytes())
        self.producer_grants.append(g)
        for dec in self.decryptors:
            dec.add_producer_grant(g)
        time.sleep(0.6)
        return signing, path

    def encryptor(self, delegating, topic, mode="session"):
        """An Encryptor to `delegating` signing as a producer authorized on `topic`."""
        signing, _ = self.authorize(topic)
        enc = rewrap.Encryptor(delegating.public_key())
        enc.set_signer(signing, mode)
        return enc

    def log(self):
        return (self.dir / "proxy.log").read_text(errors="replace")

    def stop(self):
        subprocess.run(["bash", str(PROXY_SH), "stop", str(self.dir)], check=False, timeout=60)


@pytest.fixture(scope="module")
def proxy_world(broker, tmp_path_factory):
    world = ProxyWorld(broker, tmp_path_factory.mktemp("proxy"))
    yield world
    world.stop()


@pytest.fixture
def parties(proxy_world):
    channel = rewrap.SecretKey.generate()
    key, dec = proxy_world.consumer()
    return proxy_world, channel, key, dec


def consume_all(bootstrap, topic, n, timeout=30.0, client_id="alice"):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4()}", "client.id": client_id,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            out.append(m)
    c.close()
    return out


def open_all(dec, topic, records):
    """Opens records fetched through the proxy: their cfrag headers came from it."""
    return [dec.open(topic, m.key(), m.value(), m.headers()).value for m in records]


def sealing_producer(bootstrap, enc, **config):
    """A SerializingProducer sealing values under their record keys."""
    return SerializingProducer({"bootstrap.servers": bootstrap, "key.serializer": ConfluentKeySerializer(),
                                "value.serializer": ConfluentSerializer(enc), **config})


def write_secret(path, key):
    """A key file as `rewrap keygen` writes it (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_bytes().hex() + "\n")
    return path


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_sealed_records_through_broker_and_proxy(broker, parties, compression):
    world, channel, key, dec = parties
    topic = f"orders-{compression}-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    canary = uuid.uuid4().hex.encode()
    enc = world.encryptor(channel, topic)
    producer = sealing_producer(broker, enc, **{"compression.type": compression})
    n = 300
    for i in range(n):
        producer.produce(topic, key=b"k%d" % (i % 7), value=b"id=%d canary=%s" % (i, canary), headers=[])
    assert producer.flush(30) == 0

    records = consume_all(world.bootstrap, topic, n)
    assert len(records) == n
    assert open_all(dec, topic, records) == [b"id=%d canary=%s" % (i, canary) for i in range(n)]
    assert dec.stats()["dek_opens"] == 1  # one session, one Umbral open
    first = dec.open(topic, records[0].key(), records[0].value(), records[0].headers())
    assert (first.vouch, first.producer, first.counter) == ("producer", enc.signer[0], 0)

    # A consumer the store does not grant gets records without cfrags: named error, no plaintext.
    _, stranger = world.consumer()
    for m in consume_all(world.bootstrap, topic, 5, client_id="mallory")[:5]:
        with pytest.raises(rewrap.MissingCfragError):
            stranger.open(topic, m.key(), m.value(), m.headers())

    # At rest: the broker's log segments hold the records but never the plaintext canary.
    segments = [p for p in DATA.rglob("*.log") if p.parent.name.startswith(topic)]
    assert segments and sum(p.stat().st_size for p in segments) > n * 48
    for p in segments:
        assert canary not in p.read_bytes(), p


def test_direct_consumer_without_reencryption_fails_closed(broker, parties):
    world, channel, key, dec = parties
    topic = f"closed-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    enc = world.encryptor(channel, topic)
    producer = sealing_producer(broker, enc)
    producer.produce(topic, key=b"k", value=b"secret", headers=[])
    producer.flush(30)
    consumer = DeserializingConsumer({"bootstrap.servers": broker, "group.id": f"g-{uuid.uuid4()}",
                                      "auto.offset.reset": "earliest",
                                      "key.deserializer": ConfluentKeyDeserializer(),
                                      "value.deserializer": ConfluentDeserializer(dec)})
    consumer.subscribe([topic])
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
    enc = world.encryptor(channel, topic, mode="record")
    producer = KafkaPythonProducer(KafkaProducer(bootstrap_servers=broker), enc)
    for i in range(20):
        producer.send(topic, b"kp %d" % i, key=None if i % 2 else b"key %d" % i)
    producer.flush()
    producer.close()
    records = consume_all(world.bootstrap, topic, 20)
    assert open_all(dec, topic, records) == [b"kp %d" % i for i in range(20)]


def test_c_producer_on_librdkafka_interoperates(broker, parties, tmp_path):
    """examples/c/producer (librdkafka + the C ABI) produces; Python opens: one wire format."""
    producer = os.environ.get("REWRAP_C_PRODUCER", "")
    assert producer and os.path.exists(producer), "make test-kafka builds examples/c first"
    world, channel, key, dec = parties
    topic = f"from-c-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    pub = tmp_path / "channel.pub"
    pub.write_text(channel.public_key().to_hex() + "\n")
    signing = write_secret(tmp_path / "producer.sec", world.authorize(topic)[0])
    # producer BROKERS TOPIC DELEGATING_KEY.pub COUNT [SIGNING_KEY.sec [MODE]]
    subprocess.run([producer, broker, topic, str(pub), "50", str(signing), "session"], check=True, timeout=60)
    records = consume_all(world.bootstrap, topic, 50)
    assert open_all(dec, topic, records) == [b"message %d" % i for i in range(50)]


def test_c_consumer_reads_through_the_proxy(broker, parties, tmp_path):
    """examples/c/consumer (librdkafka + the C ABI), identified by its client id, reads through
    the proxy: the granted id opens every record, another id gets the named refusal."""
    consumer = os.environ.get("REWRAP_C_PRODUCER", "").replace("producer", "consumer")
    assert consumer and os.path.exists(consumer), "make test-kafka builds examples/c first"
    world, channel, key, _ = parties
    topic = f"to-c-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "carol", key.public_key())
    signing, producer_grant = world.authorize(topic)
    enc = rewrap.Encryptor(channel.public_key())
    enc.set_signer(signing)
    producer = sealing_producer(broker, enc)
    for i in range(25):
        producer.produce(topic, key=b"c%d" % i, value=b"for c %d" % i, headers=[])
    assert producer.flush(30) == 0
    sec = write_secret(tmp_path / "carol.sec", key)
    admin = tmp_path / "admin.pub"
    admin.write_text(world.admin.verifying_key.to_hex() + "\n")

    def run(client_id):
        # consumer BROKERS GROUP TOPIC CLIENT_ID MY_KEY.sec ADMIN_KEY.pub MAX [PRODUCER_GRANT]
        out = subprocess.run([consumer, world.bootstrap, f"g-{uuid.uuid4()}", topic, client_id, str(sec),
                              str(admin), "25", str(producer_grant)], check=True, timeout=90, capture_output=True,
                             text=True)
        return [line.split(" ", 1)[1] for line in out.stdout.splitlines()]

    assert run("carol") == ["for c %d" % i for i in range(25)]
    refused = run("dave")
    assert len(refused) == 25 and all(line.startswith("refused REWRAP_MISSING_CFRAG") for line in refused), refused[:3]


def test_java_producer_configured_by_properties_interoperates(broker, parties, tmp_path):
    """A kafka-clients producer with io.rewrap.kafka.RewrapSerializer (configuration only)
    produces to the broker; a Python consumer reads through the proxy and opens."""
    classpath = os.environ.get("REWRAP_JAVA_CLASSPATH", "")
    assert classpath, "make test-kafka builds the JVM library first"
    world, channel, key, dec = parties
    topic = f"from-java-{uuid.uuid4().hex[:8]}"
    world.grant(channel, topic, "alice", key.public_key())
    pub = tmp_path / "channel.pub"
    pub.write_text(channel.public_key().to_hex() + "\n")
    signing = write_secret(tmp_path / "producer.sec", world.authorize(topic)[0])
    subprocess.run(["java", "-cp", classpath, "io.rewrap.examples.SealedProducer", broker, topic, str(pub), "30",
                    str(signing)], check=True, timeout=120)
    records = consume_all(world.bootstrap, topic, 30)
    assert open_all(dec, topic, records) == [b"java %d" % i for i in range(30)]
