"""rewrap: delegated access control and encryption for Kafka streams (proxy re-encryption).

Producers seal with an :class:`Encryptor`, an administrator issues a :class:`Grant` to a
consumer's public key, a :class:`ReEncryptor` on the broker side attaches capsule fragments,
and the consumer's :class:`Decryptor` opens the records into an :class:`Opened`. All
cryptography runs in the Rust engine. Errors are subclasses of :class:`RewrapError`, one per
row of the engine's error table (``TruncatedError``, ``WrongTopicError``...), created from that
table at import together with the shared constants (``EDEK_HEADER``, ``PUBLIC_KEY_LEN``...).
Kafka helpers: :mod:`rewrap.kafka`.
"""

from . import _rewrap
from ._rewrap import *  # noqa: F401,F403 - classes, exceptions and constants of the engine
from ._rewrap import __version__  # noqa: F401

__all__ = sorted(name for name in vars(_rewrap) if not name.startswith("_")) + ["__version__"]
