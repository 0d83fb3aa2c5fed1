"""Type stubs of the native module (rewrap._rewrap); everything is re-exported by rewrap."""

import os
from types import TracebackType
from typing import Any, Dict, Iterable, List, Literal, Optional, Sequence, Tuple, Type, TypeVar, Union

__version__: str

_H = TypeVar("_H")
Header = Tuple[str, Optional[bytes]]
Policy = Literal["require", "optional", "off"]
SigningMode = Literal["session", "record"]

def now() -> int: ...

# BEGIN GENERATED (tests/generated.rs: make generated)
HEADER_PREFIX: str
EDEK_HEADER: str
CFRAG_HEADER: str
SIG_HEADER: str
RECORD_SIG_HEADER: str
CHANNEL_SIG_HEADER: str
UNAUTHENTICATED_HEADER: str
PUBLIC_KEY_LEN: int
SECRET_KEY_LEN: int
KEY_ID_LEN: int
SESSION_ID_LEN: int
CFRAG_HEADER_LEN: int
ENVELOPE_OVERHEAD: int
MAX_TOPIC_LEN: int
MAX_CONSUMER_ID_LEN: int
DEFAULT_DECRYPTOR_CACHE_CAPACITY: int
DEFAULT_REENCRYPTOR_CACHE_CAPACITY: int
DEFAULT_ROTATION_MAX_MESSAGES: int
DEFAULT_ROTATION_MAX_AGE_SECS: int

class RewrapError(Exception):
    code: int

class NullParameterError(RewrapError):
    """A required pointer argument was NULL."""
class PanicError(RewrapError):
    """A panic inside the library was caught (a bug: please report it)."""
class InvalidUtf8Error(RewrapError):
    """A string argument was not valid UTF-8."""
class BufferTooSmallError(RewrapError):
    """A caller buffer was too small; the message says how large it must be."""
class TruncatedError(RewrapError):
    """Input ended before the object was complete."""
class UnsupportedVersionError(RewrapError):
    """Unknown version or algorithm id."""
class MalformedError(RewrapError):
    """Bytes are not a well-formed object of their kind."""
class ForeignRecordError(RewrapError):
    """The record value is not a rewrap envelope."""
class UnencryptedError(RewrapError):
    """No rewrap headers on an encrypted channel (plaintext not allowed)."""
class WrongTopicError(RewrapError):
    """The record was sealed for another topic."""
class EdekMismatchError(RewrapError):
    """The value and its EDEK header belong to different sessions."""
class AuthenticationFailedError(RewrapError):
    """Authenticated decryption failed: the record was altered."""
class DecompressionFailedError(RewrapError):
    """A compressed payload is corrupt or would decompress past the reader's bound."""
class MissingCfragError(RewrapError):
    """No capsule fragment for this consumer (not granted or not re-encrypted)."""
class WrongConsumerError(RewrapError):
    """Capsule fragments are for another consumer."""
class InsufficientCfragsError(RewrapError):
    """Fewer capsule fragments than the grant's threshold."""
class InvalidCfragError(RewrapError):
    """A capsule fragment failed verification."""
class DekUnavailableError(RewrapError):
    """The DEK could not be opened from valid fragments."""
class NotGrantedError(RewrapError):
    """The consumer has no grant for this topic and key."""
class RevokedError(RewrapError):
    """The consumer's grant was revoked."""
class GrantExpiredError(RewrapError):
    """The grant is outside its validity period."""
class UntrustedGrantError(RewrapError):
    """The grant is not signed by a trusted administrator."""
class InvalidKeyFragError(RewrapError):
    """A key fragment in the grant failed verification."""
class ThrottledError(RewrapError):
    """The re-encryptor's budget of Umbral re-encryptions per second is spent; retry later."""
class InvalidArgumentError(RewrapError):
    """An argument is out of its allowed range."""
class IoError(RewrapError):
    """Reading or writing a file failed."""
class InsecureKeyFileError(RewrapError):
    """A secret key file may be read by group or others (chmod 600)."""
class ClosedError(RewrapError):
    """The handle was closed."""
class UnsignedError(RewrapError):
    """The record carries no producer signature and the channel's policy requires one."""
class BadSignatureError(RewrapError):
    """A producer, record or channel signature does not verify."""
class UnauthorizedProducerError(RewrapError):
    """The record's producer has no producer grant for this topic."""
class UnknownError(RewrapError):
    """An error this build of the binding has no class for."""
# END GENERATED

AuthenticationError = AuthenticationFailedError

class Opened:
    """What Decryptor.open found; only kind "decrypted" is authenticated data."""
    @property
    def kind(self) -> Literal["decrypted", "tombstone", "unencrypted_allowed"]: ...
    @property
    def value(self) -> Optional[bytes]: ...
    @property
    def authenticated(self) -> bool: ...
    @property
    def session_id(self) -> Optional[bytes]: ...
    @property
    def counter(self) -> Optional[int]: ...
    @property
    def vouch(self) -> Optional[Literal["unsigned", "producer", "channel"]]: ...
    @property
    def producer(self) -> Optional[PublicKey]: ...
    @property
    def mode(self) -> Optional[SigningMode]: ...

class SealedRecord:
    """What Encryptor.seal made: the value and the headers to produce it with."""
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> List[Tuple[str, bytes]]: ...
    @property
    def edek(self) -> bytes: ...
    @property
    def sig(self) -> Optional[bytes]: ...
    @property
    def rsig(self) -> Optional[bytes]: ...

class SecretKey:
    @staticmethod
    def generate() -> SecretKey: ...
    @staticmethod
    def from_bytes(data: bytes) -> SecretKey: ...
    @staticmethod
    def from_hex(text: str) -> SecretKey: ...
    @staticmethod
    def from_file(path: Union[str, "os.PathLike[str]"]) -> SecretKey: ...
    @staticmethod
    def derive_channel_signing_key(seed: bytes, topic: str) -> SecretKey: ...
    def to_bytes(self) -> bytes: ...
    def public_key(self) -> PublicKey: ...

class PublicKey:
    @staticmethod
    def from_bytes(data: bytes) -> PublicKey: ...
    @staticmethod
    def from_hex(text: str) -> PublicKey: ...
    @staticmethod
    def from_file(path: Union[str, "os.PathLike[str]"]) -> PublicKey: ...
    def to_bytes(self) -> bytes: ...
    def __bytes__(self) -> bytes: ...
    def to_hex(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Signer:
    def __init__(self, secret: SecretKey) -> None: ...
    @property
    def verifying_key(self) -> PublicKey: ...

class Grant:
    @staticmethod
    def issue(
        admin: Signer,
        delegating: SecretKey,
        topic: str,
        consumer: str,
        consumer_key: PublicKey,
        threshold: int = 1,
        shares: int = 1,
        not_before: Optional[int] = None,
        expires: Optional[int] = None,
    ) -> Grant: ...
    @staticmethod
    def from_umbral_kfrags(
        admin: Signer,
        delegating_key: PublicKey,
        topic: str,
        consumer: str,
        consumer_key: PublicKey,
        kfrags: Sequence[bytes],
        threshold: int = 1,
        not_before: Optional[int] = None,
        expires: Optional[int] = None,
    ) -> Grant: ...
    @staticmethod
    def from_bytes(data: bytes) -> Grant: ...
    def to_bytes(self) -> bytes: ...
    def __bytes__(self) -> bytes: ...
    def verify(self, admins: Sequence[PublicKey], now: Optional[int] = None) -> None: ...
    def share(self, index: int) -> Grant: ...
    @property
    def topic(self) -> str: ...
    @property
    def consumer(self) -> str: ...
    @property
    def delegating_key(self) -> PublicKey: ...
    @property
    def consumer_key(self) -> PublicKey: ...
    @property
    def threshold(self) -> int: ...
    @property
    def shares(self) -> int: ...
    @property
    def expires(self) -> Optional[int]: ...

class ProducerGrant:
    @staticmethod
    def issue(
        admin: Union[Signer, SecretKey],
        topic: str,
        producer: PublicKey,
        not_before: Optional[int] = None,
        expires: Optional[int] = None,
    ) -> ProducerGrant: ...
    @staticmethod
    def from_bytes(data: bytes) -> ProducerGrant: ...
    def to_bytes(self) -> bytes: ...
    def __bytes__(self) -> bytes: ...
    def verify(self, admins: Sequence[PublicKey], now: Optional[int] = None) -> None: ...
    @property
    def topic(self) -> str: ...
    @property
    def producer(self) -> PublicKey: ...
    @property
    def admin_key(self) -> PublicKey: ...
    @property
    def not_before(self) -> int: ...
    @property
    def expires(self) -> Optional[int]: ...

class _Closeable:
    def close(self) -> None: ...
    def __enter__(self: _H) -> _H: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Encryptor(_Closeable):
    def __init__(
        self,
        delegating: PublicKey,
        max_messages: Optional[int] = None,
        max_age_secs: Optional[int] = None,
    ) -> None: ...
    def seal(self, topic: str, key: Optional[bytes], payload: bytes) -> SealedRecord: ...
    def set_signer(self, secret: Optional[SecretKey], mode: SigningMode = "session") -> None: ...
    def set_compression(self, codec: Literal["none", "lz4", "zstd"], level: Optional[int] = None) -> None: ...
    @property
    def compression(self) -> Literal["none", "lz4", "zstd"]: ...
    @property
    def signer(self) -> Optional[Tuple[PublicKey, SigningMode]]: ...
    @property
    def delegating_key(self) -> PublicKey: ...
    def rotate(self) -> None: ...
    @property
    def rotations(self) -> int: ...

class ReEncryptor(_Closeable):
    def __init__(
        self,
        admins: Sequence[PublicKey],
        cache_capacity: int = 65536,
        cache_ttl_secs: Optional[int] = None,
    ) -> None: ...
    def add_grant(self, grant: Grant) -> None: ...
    def revoke(self, topic: str, consumer: str) -> int: ...
    def set_policy(self, policy: Policy, topic: Optional[str] = None) -> None: ...
    def policy(self, topic: str) -> Policy: ...
    def set_channel_seed(self, seed: Optional[bytes]) -> None: ...
    def channel_key(self, topic: str) -> Optional[PublicKey]: ...
    def add_producer_grant(self, grant: Union[ProducerGrant, bytes]) -> None: ...
    def revoke_producer(self, topic: str, producer: PublicKey) -> bool: ...
    def attest(self, topic: str, edek: bytes, sig: Optional[bytes] = None) -> Optional[bytes]: ...
    def reencrypt(self, topic: str, edek: bytes, consumer: str) -> List[bytes]: ...
    def stats(self) -> Dict[str, Any]: ...

class Decryptor(_Closeable):
    def __init__(
        self,
        secret: SecretKey,
        admins: Sequence[PublicKey],
        cache_capacity: int = 4096,
        cache_ttl_secs: Optional[int] = None,
        allow_plaintext: bool = False,
        policy: Policy = "require",
    ) -> None: ...
    def open(
        self,
        topic: str,
        key: Optional[bytes],
        value: Optional[bytes],
        headers: Optional[Iterable[Header]] = None,
    ) -> Opened: ...
    def set_policy(self, policy: Policy, topic: Optional[str] = None) -> None: ...
    def policy(self, topic: str) -> Policy: ...
    def add_producer_grant(self, grant: Union[ProducerGrant, bytes]) -> None: ...
    def revoke_producer(self, topic: str, producer: PublicKey) -> bool: ...
    def trust_channel_key(self, topic: str, key: PublicKey) -> None: ...
    @property
    def public_key(self) -> PublicKey: ...
    def stats(self) -> Dict[str, Any]: ...
