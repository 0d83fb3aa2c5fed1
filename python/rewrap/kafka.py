"""Kafka client integration: seal on produce, open on consume.

confluent-kafka
    :class:`ConfluentSerializer` / :class:`ConfluentDeserializer` plug into
    ``SerializingProducer`` / ``DeserializingConsumer``. confluent-kafka hands serializers the
    record's header list through the ``SerializationContext``; the serializer appends the
    ``rewrap.edek`` header to it, so produce with ``headers=[]`` (or your own list)::

        producer = SerializingProducer({"bootstrap.servers": ..., "value.serializer": ConfluentSerializer(enc)})
        producer.produce("orders", value=b"...", headers=[])

    With a plain ``Producer``, call :func:`seal_record` and pass its headers.

kafka-python
    kafka-python gives value serializers only the value (no topic, no headers), so wrap the
    producer with :class:`KafkaPythonProducer` and open ``ConsumerRecord`` objects with
    :func:`open_message`.

Composing with another serializer (string, JSON, Avro bytes): pass it as ``inner``; it runs
before sealing (and its deserializer after opening).

Plaintext let through by a decryptor made with ``allow_plaintext=True`` (a migration) is never
returned as if it were authenticated: :func:`open_record` and :func:`open_message` return the
engine's :class:`~rewrap.Opened` (check ``.kind``), and :class:`ConfluentDeserializer` returns
such a value as :class:`Unauthenticated`, a ``bytes`` subclass an application can test for.
"""

from typing import Any, Callable, List, Optional, Sequence, Tuple

from ._rewrap import EDEK_HEADER, Decryptor, Encryptor, Opened

Headers = List[Tuple[str, Optional[bytes]]]

__all__ = [
    "Unauthenticated",
    "ConfluentDeserializer",
    "ConfluentSerializer",
    "KafkaPythonProducer",
    "open_message",
    "open_record",
    "seal_record",
]


def seal_record(
    encryptor: Encryptor, topic: str, value: Optional[bytes], headers: Optional[Headers] = None
) -> Tuple[Optional[bytes], Headers]:
    """Seals ``value`` for ``topic``; returns the value to produce and the headers with
    ``rewrap.edek`` appended. A ``None`` value (tombstone) stays ``None`` and gets no header."""
    out: Headers = list(headers or [])
    if value is None:
        return None, out
    sealed, edek = encryptor.seal(topic, value)
    out.append((EDEK_HEADER, edek))
    return sealed, out


class Unauthenticated(bytes):
    """A record value let through without authentication because the decryptor allows
    plaintext (a migration); never returned for a decrypted record."""


def open_record(
    decryptor: Decryptor, topic: str, value: Optional[bytes], headers: Optional[Sequence[Any]]
) -> Opened:
    """Opens a fetched record into an :class:`~rewrap.Opened` (``.kind``, ``.value``). Raises
    a ``RewrapError`` subclass for anything this consumer may not read (not granted, revoked,
    tampered, plaintext...)."""
    return decryptor.open(topic, value, _header_list(headers))


def _header_list(headers: Optional[Any]) -> Any:
    """Header pairs as the engine reads them: lists and tuples as they are, dicts as items."""
    if not headers:
        return None
    if isinstance(headers, dict):
        return list(headers.items())
    return headers


class ConfluentSerializer:
    """Value serializer for confluent-kafka's ``SerializingProducer``."""

    def __init__(self, encryptor: Encryptor, inner: Optional[Callable[[Any, Any], bytes]] = None):
        self._encryptor = encryptor
        self._inner = inner

    def __call__(self, value: Any, ctx: Any) -> Optional[bytes]:
        if self._inner is not None:
            value = self._inner(value, ctx)
        if value is None:
            return None
        headers = getattr(ctx, "headers", None)
        if headers is None or not isinstance(headers, list):
            raise TypeError(
                "rewrap needs the record's header list: produce(..., headers=[]) so the "
                "rewrap.edek header can be attached"
            )
        sealed, edek = self._encryptor.seal(ctx.topic, value)
        headers.append((EDEK_HEADER, edek))
        return sealed


class ConfluentDeserializer:
    """Value deserializer for confluent-kafka's ``DeserializingConsumer``."""

    def __init__(self, decryptor: Decryptor, inner: Optional[Callable[[Any, Any], Any]] = None):
        self._decryptor = decryptor
        self._inner = inner

    def __call__(self, value: Optional[bytes], ctx: Any) -> Any:
        opened = self._decryptor.open(ctx.topic, value, _header_list(getattr(ctx, "headers", None)))
        plain: Optional[bytes] = opened.value
        if plain is not None and not opened.authenticated:
            plain = Unauthenticated(plain)
        if self._inner is not None:
            return self._inner(plain, ctx)
        return plain


class KafkaPythonProducer:
    """Wraps a kafka-python ``KafkaProducer``: ``send`` seals the value and adds the header."""

    def __init__(self, producer: Any, encryptor: Encryptor, inner: Optional[Callable[[Any], bytes]] = None):
        self._producer = producer
        self._encryptor = encryptor
        self._inner = inner

    def send(self, topic: str, value: Any = None, key: Any = None, headers: Optional[Headers] = None, **kwargs: Any) -> Any:
        if self._inner is not None and value is not None:
            value = self._inner(value)
        sealed, out = seal_record(self._encryptor, topic, value, headers)
        return self._producer.send(topic, value=sealed, key=key, headers=out, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # flush(), close(), metrics()... go to the wrapped producer.
        return getattr(self._producer, name)


def open_message(decryptor: Decryptor, message: Any) -> Opened:
    """Opens a kafka-python ``ConsumerRecord`` (uses its topic, value and headers)."""
    return decryptor.open(message.topic, message.value, _header_list(message.headers))
