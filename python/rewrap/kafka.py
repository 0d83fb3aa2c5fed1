"""Kafka client integration: seal on produce, open on consume.

A sealed value is bound to its record's Kafka key (format v2): it opens only under the key it
was sealed with, and a null key is not the empty key. So every helper here needs the key as it
goes on the wire, and the consumer side reads it back from the record.

Any client (confluent-kafka ``Producer`` / ``Consumer``, kafka-python ``KafkaProducer`` /
``KafkaConsumer``)
    :func:`produce` seals and sends one record (``producer.produce`` or ``producer.send``);
    :func:`seal_record` returns the value and headers to send yourself; :func:`open_message`
    opens a confluent-kafka ``Message`` or a kafka-python ``ConsumerRecord`` (its topic, key,
    value and headers). Configure no key or value (de)serializer on the client: the bytes
    sealed must be the bytes on the wire. ``str`` keys are sent as UTF-8.

confluent-kafka serializers
    A value serializer is not shown the record key. :class:`ConfluentKeySerializer` (as
    ``key.serializer``) hands the serialized key to :class:`ConfluentSerializer` (as
    ``value.serializer``) through the ``SerializationContext`` that ``SerializingProducer``
    passes to both, key first; likewise :class:`ConfluentKeyDeserializer` and
    :class:`ConfluentDeserializer` for ``DeserializingConsumer`` (confluent-kafka 2.x runs the
    key deserializer first). Without the key half, the value half raises ``TypeError`` unless
    made with ``null_key=True``, which seals and opens under the null key: for topics produced
    without keys; a keyed record then fails to open (``AuthenticationFailedError``), never
    opens under a key it was not sealed with::

        producer = SerializingProducer({"bootstrap.servers": ...,
                                        "key.serializer": ConfluentKeySerializer(),
                                        "value.serializer": ConfluentSerializer(enc)})
        producer.produce("orders", key=b"customer-7", value=b"...", headers=[])

    The value serializer appends the rewrap headers to the record's header list, so produce
    with ``headers=[]`` (or your own list).

kafka-python
    kafka-python gives value serializers only the value, so wrap the producer with
    :class:`KafkaPythonProducer` (it sees the key) and open ``ConsumerRecord`` objects with
    :func:`open_message`.

Composing with another serializer (string, JSON, Avro bytes): pass it as ``inner``; it runs
before sealing (and its deserializer after opening).

Plaintext let through by a decryptor made with ``allow_plaintext=True`` (a migration) is never
returned as if it were authenticated: :func:`open_record` and :func:`open_message` return the
engine's :class:`~rewrap.Opened` (check ``.kind``; ``.vouch`` and ``.producer`` say who
signed), and :class:`ConfluentDeserializer` returns such a value as :class:`Unauthenticated`,
a ``bytes`` subclass an application can test for.
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from ._rewrap import Decryptor, Encryptor, Opened

Headers = List[Tuple[str, Optional[bytes]]]
Key = Union[bytes, str, None]

__all__ = [
    "Unauthenticated",
    "ConfluentDeserializer",
    "ConfluentKeyDeserializer",
    "ConfluentKeySerializer",
    "ConfluentSerializer",
    "KafkaPythonProducer",
    "open_message",
    "open_record",
    "produce",
    "seal_record",
]

# Where the key half of a confluent-kafka (de)serializer pair leaves the wire key for the
# value half: an attribute of the SerializationContext both are given.
_CTX_KEY = "rewrap_record_key"


def _wire_key(key: Key) -> Optional[bytes]:
    """The key's bytes as a client sends them (``str`` as UTF-8, as confluent-kafka does)."""
    if key is None or isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise TypeError(f"a record key must be bytes, str or None, not {type(key).__name__}")


def seal_record(
    encryptor: Encryptor,
    topic: str,
    key: Key,
    value: Optional[bytes],
    headers: Optional[Headers] = None,
) -> Tuple[Optional[bytes], Headers]:
    """Seals ``value`` for ``topic`` under the record ``key`` (None: a null key); returns the
    value to produce and the headers with the rewrap ones appended. Produce it with exactly
    that key. A ``None`` value (tombstone) stays ``None`` and gets no header."""
    out: Headers = list(headers or [])
    if value is None:
        return None, out
    sealed = encryptor.seal(topic, _wire_key(key), value)
    out.extend(sealed.headers)
    return sealed.value, out


def produce(
    producer: Any,
    encryptor: Encryptor,
    topic: str,
    key: Key,
    value: Optional[bytes],
    headers: Optional[Headers] = None,
    **kwargs: Any,
) -> Any:
    """Seals ``value`` under ``key`` and sends it with a confluent-kafka ``Producer``
    (``produce``) or a kafka-python ``KafkaProducer`` (``send``, whose future is returned).
    Extra keyword arguments (``partition``, ``on_delivery``...) go to the client."""
    wire = _wire_key(key)
    sealed, out = seal_record(encryptor, topic, wire, value, headers)
    if hasattr(producer, "produce"):
        return producer.produce(topic, value=sealed, key=wire, headers=out, **kwargs)
    return producer.send(topic, value=sealed, key=wire, headers=out, **kwargs)


class Unauthenticated(bytes):
    """A record value let through without authentication because the decryptor allows
    plaintext (a migration); never returned for a decrypted record."""


def open_record(
    decryptor: Decryptor,
    topic: str,
    key: Key,
    value: Optional[bytes],
    headers: Optional[Sequence[Any]],
) -> Opened:
    """Opens a fetched record (its topic, Kafka key, value and headers) into an
    :class:`~rewrap.Opened`. Raises a ``RewrapError`` subclass for anything this consumer may
    not read (not granted, revoked, tampered, unsigned, plaintext...)."""
    return decryptor.open(topic, _wire_key(key), value, _header_list(headers))


def open_message(decryptor: Decryptor, message: Any) -> Opened:
    """Opens a confluent-kafka ``Message`` or a kafka-python ``ConsumerRecord`` (its topic,
    key, value and headers, as fetched: no deserializers on the consumer)."""
    if callable(getattr(message, "topic", None)):  # confluent-kafka: accessor methods
        return open_record(decryptor, message.topic(), message.key(), message.value(), message.headers())
    return open_record(decryptor, message.topic, message.key, message.value, message.headers)


def _header_list(headers: Optional[Any]) -> Any:
    """Header pairs as the engine reads them: lists and tuples as they are, dicts as items."""
    if not headers:
        return None
    if isinstance(headers, dict):
        return list(headers.items())
    return headers


def _key_from(ctx: Any, null_key: bool, role: str) -> Optional[bytes]:
    if hasattr(ctx, _CTX_KEY):
        return getattr(ctx, _CTX_KEY)
    if null_key:
        return None
    raise TypeError(
        f"rewrap binds each value to its record key, which a value {role} is not shown: "
        f"configure rewrap.kafka.ConfluentKey{role.capitalize()} as the key {role}, or make "
        f"this one with null_key=True for records without keys"
    )


class ConfluentKeySerializer:
    """Key serializer for confluent-kafka's ``SerializingProducer``: serializes with ``inner``
    (if any) and hands the wire key to :class:`ConfluentSerializer`."""

    def __init__(self, inner: Optional[Callable[[Any, Any], Optional[bytes]]] = None):
        self._inner = inner

    def __call__(self, key: Any, ctx: Any) -> Optional[bytes]:
        if self._inner is not None:
            key = self._inner(key, ctx)
        wire = _wire_key(key)
        setattr(ctx, _CTX_KEY, wire)
        return wire


class ConfluentSerializer:
    """Value serializer for confluent-kafka's ``SerializingProducer``; needs
    :class:`ConfluentKeySerializer` as the key serializer, or ``null_key=True``."""

    def __init__(
        self,
        encryptor: Encryptor,
        inner: Optional[Callable[[Any, Any], bytes]] = None,
        null_key: bool = False,
    ):
        self._encryptor = encryptor
        self._inner = inner
        self._null_key = null_key

    def __call__(self, value: Any, ctx: Any) -> Optional[bytes]:
        if self._inner is not None:
            value = self._inner(value, ctx)
        if value is None:
            return None
        headers = getattr(ctx, "headers", None)
        if headers is None or not isinstance(headers, list):
            raise TypeError(
                "rewrap needs the record's header list: produce(..., headers=[]) so the "
                "rewrap headers can be attached"
            )
        key = _key_from(ctx, self._null_key, "serializer")
        sealed = self._encryptor.seal(ctx.topic, key, value)
        headers.extend(sealed.headers)
        return sealed.value


class ConfluentKeyDeserializer:
    """Key deserializer for confluent-kafka's ``DeserializingConsumer``: hands the wire key to
    :class:`ConfluentDeserializer`, then deserializes with ``inner`` (if any)."""

    def __init__(self, inner: Optional[Callable[[Optional[bytes], Any], Any]] = None):
        self._inner = inner

    def __call__(self, key: Optional[bytes], ctx: Any) -> Any:
        setattr(ctx, _CTX_KEY, key)
        if self._inner is not None:
            return self._inner(key, ctx)
        return key


class ConfluentDeserializer:
    """Value deserializer for confluent-kafka's ``DeserializingConsumer``; needs
    :class:`ConfluentKeyDeserializer` as the key deserializer, or ``null_key=True``."""

    def __init__(
        self,
        decryptor: Decryptor,
        inner: Optional[Callable[[Any, Any], Any]] = None,
        null_key: bool = False,
    ):
        self._decryptor = decryptor
        self._inner = inner
        self._null_key = null_key

    def __call__(self, value: Optional[bytes], ctx: Any) -> Any:
        key = _key_from(ctx, self._null_key, "deserializer")
        opened = self._decryptor.open(ctx.topic, key, value, _header_list(getattr(ctx, "headers", None)))
        plain: Optional[bytes] = opened.value
        if plain is not None and not opened.authenticated:
            plain = Unauthenticated(plain)
        if self._inner is not None:
            return self._inner(plain, ctx)
        return plain


class KafkaPythonProducer:
    """Wraps a kafka-python ``KafkaProducer``: ``send`` seals the value under the record key
    and adds the headers. Give serializers here (``inner``, ``key_inner``), not to the
    wrapped producer: the key and value sealed must be the bytes sent."""

    def __init__(
        self,
        producer: Any,
        encryptor: Encryptor,
        inner: Optional[Callable[[Any], bytes]] = None,
        key_inner: Optional[Callable[[Any], Optional[bytes]]] = None,
    ):
        config = getattr(producer, "config", {})
        if config.get("key_serializer") is not None or config.get("value_serializer") is not None:
            raise ValueError(
                "the wrapped KafkaProducer must have no key_serializer or value_serializer "
                "(pass them here as key_inner / inner)"
            )
        self._producer = producer
        self._encryptor = encryptor
        self._inner = inner
        self._key_inner = key_inner

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Optional[Headers] = None,
        **kwargs: Any,
    ) -> Any:
        if self._inner is not None and value is not None:
            value = self._inner(value)
        if self._key_inner is not None and key is not None:
            key = self._key_inner(key)
        return produce(self._producer, self._encryptor, topic, key, value, headers, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # flush(), close(), metrics()... go to the wrapped producer.
        return getattr(self._producer, name)
