"""An independent reader of the rewrap wire format (v2, and v1 envelopes under policy `off`), written from docs/FORMAT.md alone with
Python's `cryptography` and PyPI `umbral-pre` (no `rewrap` import): it opens every accept
vector and rejects every reject vector with the error FORMAT.md §8 says wins, and the code
FORMAT.md §9 gives it. If FORMAT.md leaves something out, this file cannot be written."""

import hashlib
import json
import pathlib
import re
import struct

import pytest
import umbral_pre
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOT = pathlib.Path(__file__).resolve().parents[2]
FORMAT = (ROOT / "docs" / "FORMAT.md").read_text()
VECTORS = json.loads((ROOT / "tests" / "vectors" / "records.json").read_text())

# Error codes: FORMAT.md §9's table, read from the page itself.
CODES = {m[1]: int(m[2]) for m in re.finditer(r"^\| `(\w+)` \| (\d+) \|", FORMAT, re.M)}

EDEK_HEADER, CFRAG_HEADER = "rewrap.edek", "rewrap.cfrag"
SIG_HEADERS = {"rewrap.sig": "session", "rewrap.rsig": "record", "rewrap.chsig": "channel"}  # §1, §7


class FormatError(Exception):
    """A rejection: the error kind (FORMAT.md §9) and the object it is about."""

    def __init__(self, kind, obj=None):
        super().__init__(f"{kind}({obj})" if obj else kind)
        self.kind, self.obj = kind, obj

    @property
    def code(self):
        return CODES[self.kind]


# ---- secp256k1 (Conventions; §3's d·(E + V) needs point addition) ---------------------------

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def decompress(b, obj):
    """A 33-byte compressed point (02/03 ‖ x) as (x, y); Malformed(obj) otherwise."""
    if len(b) != 33 or b[0] not in (2, 3):
        raise FormatError("Malformed", obj)
    x = int.from_bytes(b[1:], "big")
    rhs = (pow(x, 3, P) + 7) % P
    y = pow(rhs, (P + 1) // 4, P)
    if x >= P or y * y % P != rhs:
        raise FormatError("Malformed", obj)
    return (x, y if y % 2 == b[0] % 2 else P - y)


def compress(pt):
    x, y = pt
    return bytes([2 + y % 2]) + x.to_bytes(32, "big")


def add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def mul(k, pt):
    out = None
    while k:
        if k & 1:
            out = add(out, pt)
        pt = add(pt, pt)
        k >>= 1
    return out


def public_key_of(secret):
    d = int.from_bytes(secret, "big")
    return ec.derive_private_key(d, ec.SECP256K1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def parse_secret_key(b):
    """K1: 32 bytes, 1..n-1."""
    if len(b) != 32 or not 1 <= int.from_bytes(b, "big") < N:
        raise FormatError("Malformed", "Key")
    return b


def parse_public_key(b):
    """K1: a 33-byte compressed point on the curve."""
    decompress(b, "Key")
    return b


def verify_ecdsa(public_key, message, signature):
    """§5/§7: ECDSA secp256k1 over SHA-256(message), r ‖ s, each in 1..n-1, low-s only (a
    high-s twin is invalid)."""
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s <= (N - 1) // 2):
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), public_key)
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def key_id(public_key):
    """§6."""
    return hashlib.sha256(b"rewrap/key-id" + public_key).digest()[:8]


def hkdf(ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def channel_secret_key(seed, topic):
    """§6: SecretKeyFactory(seed).make_key("rewrap/channel/" ‖ topic)."""
    info = b"KEY_DERIVATION/" + b"rewrap/channel/" + topic.encode()
    okm = hkdf(seed, info, 64)
    w = int.from_bytes(hashlib.sha256(struct.pack(">I", len(info)) + info + okm).digest(), "big")
    return ((w - (N - 1) if w >= N - 1 else w) + 1).to_bytes(32, "big")


# ---- Umbral's DEM (§3) ----------------------------------------------------------------------


def xchacha20poly1305_decrypt(key, nonce24, data, aad):
    """XChaCha20-Poly1305 from `cryptography`'s ChaCha20 (for HChaCha20) and
    ChaCha20-Poly1305: subkey = HChaCha20(key, nonce[:16]), then 00000000 ‖ nonce[16:]."""
    block = Cipher(algorithms.ChaCha20(key, nonce24[:16]), mode=None).encryptor().update(bytes(64))
    out = struct.unpack("<16I", block)
    initial = struct.unpack("<4I", b"expand 32-byte k") + struct.unpack("<8I", key) + struct.unpack("<4I", nonce24[:16])
    words = [(out[i] - initial[i]) % 2**32 for i in (0, 1, 2, 3, 12, 13, 14, 15)]
    subkey = struct.pack("<8I", *words)
    return ChaCha20Poly1305(subkey).decrypt(b"\0" * 4 + nonce24[16:], data, aad)


def dem_open(seed, capsule_simple, sealed_dek):
    key = hkdf(seed, b"", 32)
    return xchacha20poly1305_decrypt(key, sealed_dek[:24], sealed_dek[24:], capsule_simple)


# ---- umbral-pre's forms (§10) ---------------------------------------------------------------


def mp_bin(leaf):
    return b"\xc4" + bytes([len(leaf)]) + leaf


def split(b, sizes):
    out, at = [], 0
    for n in sizes:
        out.append(b[at:at + n])
        at += n
    assert at == len(b)
    return out


def capsule_from_simple(simple):
    return umbral_pre.Capsule.from_bytes(b"\x93" + b"".join(mp_bin(x) for x in split(simple, [33, 33, 32])))


def cfrag_from_simple(simple):
    leaves = split(simple, [33, 33, 32, 33, 33, 33, 33, 33, 32, 64])
    packed = b"\x95" + b"".join(mp_bin(x) for x in leaves[:4]) + b"\x96" + b"".join(mp_bin(x) for x in leaves[4:])
    return umbral_pre.CapsuleFrag.from_bytes(packed)


KFRAG_LEAVES = [(0x21, 33), (0x20, 32), (0x20, 32), (0x21, 33), (0x21, 33), (0x40, 64), (0x40, 64)]


def kfrag_to_msgpack(postcard):
    """§5's 300-byte postcard kfrag as umbral-pre's MessagePack KeyFrag (§10)."""
    leaves, at = [], 0
    for prefix, n in KFRAG_LEAVES:
        if postcard[at:at + 1] != bytes([prefix]) or len(postcard) < at + 1 + n:
            raise ValueError("not a kfrag")
        leaves.append(postcard[at + 1:at + 1 + n])
        at += 1 + n
    flags = postcard[at:]
    if len(flags) != 2 or any(f not in (0, 1) for f in flags):
        raise ValueError("not a kfrag")
    u, kid, key, precursor, commitment, sig_proxy, sig_receiver = leaves
    return (
        b"\x95\x91" + mp_bin(u) + mp_bin(kid) + mp_bin(key) + mp_bin(precursor)
        + b"\x95" + mp_bin(commitment) + mp_bin(sig_proxy) + mp_bin(sig_receiver)
        + bytes(0xC3 if f else 0xC2 for f in flags)
    )


def umbral_pk(b):
    return umbral_pre.PublicKey.from_compressed_bytes(b)


# ---- records (§1-§4, order §8 R1-R20) ------------------------------------------------------


class Reader:
    """Reads bytes in order; running out is Truncated(obj)."""

    def __init__(self, b, obj):
        self.b, self.at, self.obj = b, 0, obj

    def take(self, n):
        if len(self.b) - self.at < n:
            raise FormatError("Truncated", self.obj)
        self.at += n
        return self.b[self.at - n:self.at]

    def u8(self):
        return self.take(1)[0]

    def short_str(self):
        n = self.u8()
        raw = self.take(n)
        if n == 0:
            raise FormatError("Malformed", self.obj)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError("Malformed", self.obj) from None

    def finish(self):
        if self.at != len(self.b):
            raise FormatError("Malformed", self.obj)


def select_headers(headers):
    """R2 (§1): the EDEK, the cfrag and the signature headers; a second EDEK (or a second
    sig / rsig / chsig), or a rewrap name followed by a NUL byte, is malformed."""
    edek, cfrags, sigs = None, [], {}
    for name, value in headers:
        visible = name.split("\0")[0]
        if visible == EDEK_HEADER:
            if visible != name or edek is not None:
                raise FormatError("Malformed", "Edek")
            edek = value
        elif visible == CFRAG_HEADER:
            if visible != name:
                raise FormatError("Malformed", "Cfrag")
            cfrags.append(value)
        elif visible in SIG_HEADERS:
            if visible != name or SIG_HEADERS[visible] in sigs:
                raise FormatError("Malformed", "Signature")
            sigs[SIG_HEADERS[visible]] = value
    return edek, cfrags, sigs


# §2.1: 1 = AES-256-GCM, 2 = lz4 then AES-256-GCM, 3 = zstd then AES-256-GCM (read only when
# the `zstandard` package is installed; no vector uses it).
try:
    import zstandard
except ImportError:
    zstandard = None
ALGORITHMS = (1, 2, 3) if zstandard else (1, 2)
MAX_DECOMPRESSED = 8 << 20


def lz4_block_decode(src, size):
    """One LZ4 block (the block format: sequences of literals and matches) that must decode to
    exactly `size` bytes; anything else is DecompressionFailed."""
    corrupt = FormatError("DecompressionFailed")
    out = bytearray()
    i = 0

    def length(n):
        nonlocal i
        if n == 15:
            while True:
                if i >= len(src):
                    raise corrupt
                b = src[i]
                i += 1
                n += b
                if b != 255:
                    break
        return n

    while True:
        if i >= len(src):
            raise corrupt
        token = src[i]
        i += 1
        lit = length(token >> 4)
        if i + lit > len(src) or len(out) + lit > size:
            raise corrupt
        out += src[i : i + lit]
        i += lit
        if i == len(src):  # the last sequence holds only literals
            break
        if i + 2 > len(src):
            raise corrupt
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        match = length(token & 15) + 4
        if offset == 0 or offset > len(out) or len(out) + match > size:
            raise corrupt
        for _ in range(match):
            out.append(out[-offset])
    if len(out) != size:
        raise corrupt
    return bytes(out)


def decompress_body(alg, body):
    """§2.1 (R21): the payload of an opened body."""
    if alg == 1:
        return body
    if alg == 2:
        if len(body) < 4:
            raise FormatError("DecompressionFailed")
        size = int.from_bytes(body[:4], "little")
        if size > MAX_DECOMPRESSED:
            raise FormatError("DecompressionFailed")
        return lz4_block_decode(body[4:], size)
    params = zstandard.get_frame_parameters(body)
    if params.content_size > MAX_DECOMPRESSED or params.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        raise FormatError("DecompressionFailed")
    try:
        return zstandard.ZstdDecompressor().decompress(body, max_output_size=params.content_size)
    except zstandard.ZstdError:
        raise FormatError("DecompressionFailed") from None


def envelope_error(value):
    """R4-R7; None when the value is a well-framed envelope."""
    if len(value) < 2 or value[:2] != b"RW":
        return FormatError("ForeignRecord")
    if len(value) < 4:
        return FormatError("Truncated", "Envelope")
    if value[2] not in (1, 2) or value[3] not in ALGORITHMS:
        return FormatError("UnsupportedVersion", "Envelope")
    if len(value) < 48:
        return FormatError("Truncated", "Envelope")
    return None


def parse_edek(b):
    """R8 (§3): framing only."""
    r = Reader(b, "Edek")
    if r.u8() != 1:
        raise FormatError("UnsupportedVersion", "Edek")
    fixed = r.take(33 + 98 + 72)
    topic = r.short_str()
    r.finish()
    if len(topic.encode()) > 249:
        raise FormatError("Malformed", "Edek")
    return {"raw": b, "delegating": fixed[:33], "capsule": fixed[33:131], "sealed_dek": fixed[131:], "topic": topic}


def parse_cfrag(b):
    """R12 (§4): framing only."""
    r = Reader(b, "Cfrag")
    if r.u8() != 1:
        raise FormatError("UnsupportedVersion", "Cfrag")
    t = r.u8()
    if t == 0:
        raise FormatError("Malformed", "Cfrag")
    kid = r.take(8)
    body = r.take(359)
    r.finish()
    return {"t": t, "key_id": kid, "body": body}


def short_str_bytes(text):
    raw = text.encode()
    return bytes([len(raw)]) + raw


def key_digest(key):
    """§2: a null Kafka key and an empty one differ."""
    return hashlib.sha256(b"rewrap/record-key" + (b"\0" if key is None else b"\1" + key)).digest()


def parse_session_sig(b):
    """§7.1 framing (S1), read in order."""
    r = Reader(b, "Signature")
    if r.u8() != 1:
        raise FormatError("UnsupportedVersion", "Signature")
    mode = r.u8()
    if mode not in (1, 2):
        raise FormatError("Malformed", "Signature")
    producer = r.take(33)
    decompress(producer, "Signature")
    r.take(8)  # created
    signature = r.take(64)
    r.finish()
    return {"raw": b, "mode": "record" if mode == 2 else "session", "producer": producer, "signature": signature}


def verify_session_sig(sig, topic, edek_digest):
    message = b"rewrap/session/v1" + sig["raw"][:43] + edek_digest + short_str_bytes(topic)
    if not verify_ecdsa(sig["producer"], message, sig["signature"]):
        raise FormatError("BadSignature")


def verify_channel_sig(trusted, topic, edek_digest, session_sig, chsig):
    """§7.3: framing errors are …(Signature); another key or a bad signature BadSignature."""
    r = Reader(chsig, "Signature")
    if r.u8() != 1:
        raise FormatError("UnsupportedVersion", "Signature")
    key, signature = r.take(33), r.take(64)
    r.finish()
    message = (b"rewrap/channel-signature/v1" + short_str_bytes(topic) + edek_digest
               + hashlib.sha256(session_sig).digest())
    if key != trusted or not verify_ecdsa(trusted, message, signature):
        raise FormatError("BadSignature")


def verify_record_sig(producer, rsig, topic, record_key, value, edek_digest):
    """§7.2 (S2)."""
    if not rsig:
        raise FormatError("Truncated", "Signature")
    if rsig[0] != 1:
        raise FormatError("UnsupportedVersion", "Signature")
    if len(rsig) < 65:
        raise FormatError("Truncated", "Signature")
    if len(rsig) > 65:
        raise FormatError("Malformed", "Signature")
    message = (b"rewrap/record/v1" + short_str_bytes(topic) + key_digest(record_key)
               + hashlib.sha256(value).digest() + edek_digest)
    if not verify_ecdsa(producer, message, rsig[1:]):
        raise FormatError("BadSignature")


def parse_producer_grant(b):
    """§5.2."""
    r = Reader(b, "ProducerGrant")
    if r.u8() != 1:
        raise FormatError("UnsupportedVersion", "ProducerGrant")
    g = {"topic": r.short_str()}
    if len(g["topic"].encode()) > 249:
        raise FormatError("Malformed", "ProducerGrant")
    for k in ("producer", "admin"):
        g[k] = r.take(33)
        decompress(g[k], "ProducerGrant")
    g["not_before"], g["expires"] = struct.unpack(">QQ", r.take(16))
    g["signed"] = b[:r.at]
    g["signature"] = r.take(64)
    r.finish()
    if g["expires"] and g["expires"] <= g["not_before"]:
        raise FormatError("Malformed", "ProducerGrant")
    return g


def producer_grant_valid(g, now):
    return g["not_before"] <= now and (g["expires"] == 0 or now < g["expires"])


def verify_producer_grant(g, trusted, now):
    if g["admin"] not in trusted or not verify_ecdsa(g["admin"], b"rewrap/producer-grant/v1" + g["signed"], g["signature"]):
        raise FormatError("UntrustedGrant")
    if not producer_grant_valid(g, now):
        raise FormatError("GrantExpired")


class Consumer:
    def __init__(self, secret, admins, allow_plaintext, policy="off", now=0):
        self.secret = parse_secret_key(secret)
        self.public = public_key_of(secret)
        self.admin_keys = list(admins)
        self.admins = [umbral_pk(a) for a in admins]
        self.allow_plaintext = allow_plaintext
        self.policy, self.now = policy, now
        self.producers = {}  # (topic, producer key) -> verified producer grant
        self.channel_keys = {}  # topic -> trusted channel verifying key
        # session id -> (EDEK bytes, DEK, checked rewrap.sig value, session check)
        self.cache = {}

    def add_producer_grant(self, b):
        g = parse_producer_grant(b)
        verify_producer_grant(g, self.admin_keys, self.now)
        self.producers[(g["topic"], g["producer"])] = g

    def check_session(self, topic, value, edek_digest, sigs):
        """S1 (§7): returns (vouch, producer key, mode)."""
        if self.policy == "off":
            return ("unsigned", None, None)
        if value[2] == 1:  # a v1 envelope
            raise FormatError("Unsigned")
        if "session" not in sigs:
            if self.policy == "optional":
                return ("unsigned", None, None)
            raise FormatError("Unsigned")
        sig = parse_session_sig(sigs["session"])
        if topic in self.channel_keys and "channel" in sigs:
            verify_channel_sig(self.channel_keys[topic], topic, edek_digest, sig["raw"], sigs["channel"])
            vouch = "channel"
        else:
            g = self.producers.get((topic, sig["producer"]))
            if g is None or not producer_grant_valid(g, self.now):
                raise FormatError("UnauthorizedProducer")
            verify_session_sig(sig, topic, edek_digest)
            vouch = "producer"
        return (vouch, sig["producer"], sig["mode"])

    def seal_open(self, dek, topic, key, value, edek_digest, sigs, check):
        """S2, then R20."""
        _, producer, mode = check
        if mode == "record" and producer is not None:
            if "record" not in sigs:
                raise FormatError("Unsigned")
            verify_record_sig(producer, sigs["record"], topic, key, value, edek_digest)
        plaintext = aes_open(dek, value, edek_digest, key, sigs.get("session"))
        return {"plaintext": plaintext, "vouch": check[0], "counter": int.from_bytes(value[24:32], "big")}

    def open(self, topic, value, headers, key=None):
        if value is None:  # R1
            return "tombstone", None
        edek, cfrags, sigs = select_headers(headers)  # R2
        if edek is None:  # R3
            if cfrags or envelope_error(value) is None:
                raise FormatError("Truncated", "Edek")
            if self.allow_plaintext:
                return "unencrypted_allowed", value
            raise FormatError("Unencrypted")
        err = envelope_error(value)  # R4-R7
        if err:
            raise err
        edek = parse_edek(edek)  # R8
        if edek["topic"].encode() != topic.encode():  # R9
            raise FormatError("WrongTopic")
        session = value[4:20]
        digest = hashlib.sha256(edek["raw"]).digest()
        if session in self.cache:  # R10
            cached_edek, dek, checked_sig, check = self.cache[session]
            if cached_edek != edek["raw"]:
                raise FormatError("EdekMismatch")
            if value[2] == 1 and self.policy != "off":
                raise FormatError("Unsigned")
            if checked_sig != sigs.get("session"):  # S1 again, for another rewrap.sig
                check = self.check_session(topic, value, digest, sigs)
            return "decrypted", self.seal_open(dek, topic, key, value, digest, sigs, check)
        if digest[:16] != session:  # R11
            raise FormatError("EdekMismatch")
        if not cfrags:  # R13: no rewrap.cfrag header at all, before the signatures
            raise FormatError("MissingCfrag")
        check = self.check_session(topic, value, digest, sigs)  # S1
        dek = self.open_dek(edek, cfrags)  # R12-R19
        opened = self.seal_open(dek, topic, key, value, digest, sigs, check)  # S2, R20
        self.cache[session] = (edek["raw"], dek, sigs.get("session"), check)
        return "decrypted", opened

    def open_dek(self, edek, cfrag_headers):
        frags, first_error = [], None
        for b in cfrag_headers:  # R12: malformed headers are skipped
            try:
                frags.append(parse_cfrag(b))
            except FormatError as e:
                first_error = first_error or e
        if not frags and first_error:
            raise first_error
        if not frags:  # R13
            raise FormatError("MissingCfrag")
        mine = [f for f in frags if f["key_id"] == key_id(self.public)]
        if not mine:  # R14
            raise FormatError("WrongConsumer")
        t = mine[0]["t"]
        if any(f["t"] != t for f in mine):  # R15
            raise FormatError("Malformed", "Cfrag")
        if len(mine) < t:  # R16
            raise FormatError("InsufficientCfrags")
        try:  # R17
            decompress(edek["delegating"], "Edek")
            capsule = capsule_from_simple(edek["capsule"])
            delegating = umbral_pk(edek["delegating"])
        except (ValueError, FormatError):
            raise FormatError("Malformed", "Edek") from None
        me = umbral_pk(self.public)
        verified = []
        for tried, f in enumerate(mine):  # R18: at most t + 2 tried
            if len(verified) == t or tried == t + 2:
                break
            try:
                cfrag = cfrag_from_simple(f["body"])
            except ValueError:
                continue
            for admin in self.admins:
                try:
                    verified.append(cfrag.verify(capsule, admin, delegating, me))
                    break
                except umbral_pre.VerificationError:
                    pass
        if len(verified) < t:
            raise FormatError("InvalidCfrag")
        sk = umbral_pre.SecretKey.from_be_bytes(self.secret)
        try:  # R19
            dek = umbral_pre.decrypt_reencrypted(sk, delegating, capsule, verified, edek["sealed_dek"])
        except ValueError:
            raise FormatError("DekUnavailable") from None
        if len(dek) != 32:
            raise FormatError("DekUnavailable")
        return dek


def aes_open(dek, value, edek_digest, key, session_sig):
    """§2: AES-256-GCM, nonce bytes 20..32, AAD = bytes 0..32 ‖ SHA-256(EDEK), then for a
    version 2 envelope ‖ key digest ‖ signature digest (128 bytes)."""
    aad = value[:32] + edek_digest
    if value[2] == 2:
        aad += key_digest(key) + (bytes(32) if session_sig is None else hashlib.sha256(session_sig).digest())
    try:
        body = AESGCM(dek).decrypt(value[20:32], value[32:], aad)
    except InvalidTag:
        raise FormatError("AuthenticationFailed") from None
    return decompress_body(value[3], body)


# ---- grants (§5, order §8 G1-G5) -----------------------------------------------------------


def parse_grant(b):
    r = Reader(b, "Grant")
    version = r.u8()
    if version not in (1, 2):
        raise FormatError("UnsupportedVersion", "Grant")
    g = {"channel": r.short_str(), "consumer": r.short_str()}
    for k in ("delegating", "consumer_key", "admin"):
        g[k] = r.take(33)
        decompress(g[k], "Grant")
    t, n = r.u8(), r.u8()
    if t == 0 or t > n or len(g["channel"].encode()) > 249:
        raise FormatError("Malformed", "Grant")
    g["threshold"], g["shares"] = t, n
    g["not_before"], g["expires"] = struct.unpack(">QQ", r.take(16))
    g["issued_at"] = 0
    if version == 2:  # §5: issued at (ms), then the v2 structural checks
        (g["issued_at"],) = struct.unpack(">Q", r.take(8))
        if g["issued_at"] == 0 or (g["expires"] and g["expires"] <= g["not_before"]):
            raise FormatError("Malformed", "Grant")
    g["digests"] = [r.take(32) for _ in range(n)]
    g["signed"] = b[:r.at]
    count = r.u8()
    if count == 0 or count > n:
        raise FormatError("Malformed", "Grant")
    g["kfrags"] = []
    for _ in range(count):
        index = r.u8()
        if index >= n or (g["kfrags"] and index <= g["kfrags"][-1][0]):
            raise FormatError("Malformed", "Grant")
        (length,) = struct.unpack(">H", r.take(2))
        g["kfrags"].append((index, r.take(length)))
    g["signature"] = r.take(64)
    r.finish()
    return g


def verify_grant(g, trusted, now):
    if g["admin"] not in trusted or not verify_ecdsa(g["admin"], b"rewrap/grant/v1" + g["signed"], g["signature"]):  # G3
        raise FormatError("UntrustedGrant")
    if now < g["not_before"] or (g["expires"] and now >= g["expires"]) \
            or g["issued_at"] > now * 1000 + 300_000:  # G4
        raise FormatError("GrantExpired")
    for index, kfrag in g["kfrags"]:  # G5
        if hashlib.sha256(kfrag).digest() != g["digests"][index]:
            raise FormatError("InvalidKeyFrag")
        try:
            k = umbral_pre.KeyFrag.from_bytes(kfrag_to_msgpack(kfrag))
            k.verify(umbral_pk(g["admin"]), umbral_pk(g["delegating"]), umbral_pk(g["consumer_key"]))
        except (ValueError, umbral_pre.VerificationError):
            raise FormatError("InvalidKeyFrag") from None


# ---- the vectors ---------------------------------------------------------------------------


def h(x):
    return bytes.fromhex(x)


def headers_of(item):
    return [(x["name"], h(x["value"])) for x in item["headers"]]


def value_of(item):
    return None if item["value"] is None else h(item["value"])


def key_of(item):
    """§11: hex, or null / absent for a null Kafka key."""
    return None if item.get("key") is None else h(item["key"])


def consumer_of(item, now):
    """A decryptor as a vector describes it: `policy` absent means `off`; producer grants
    are verified and added at `now`."""
    reader = Consumer(h(item["consumer_secret_key"]), [h(item["admin_public_key"])], item["allow_plaintext"],
                      item.get("policy", "off"), now)
    for g in item.get("producer_grants") or []:
        reader.add_producer_grant(h(g))
    return reader


def test_error_codes_come_from_format_md():
    assert CODES["Truncated"] == 100 and CODES["InvalidKeyFrag"] == 304
    assert len(CODES) >= 19


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_accept_case(case):
    now, topic = VECTORS["now"], case["topic"]
    admin = h(case["admin_public_key"])
    # Keys and key ids (§6); channel keys from the master seed.
    assert public_key_of(h(case["admin_secret_key"])) == admin
    delegating_sk = h(case["delegating_secret_key"])
    delegating = public_key_of(delegating_sk)
    assert delegating.hex() == case["delegating_public_key"]
    assert key_id(delegating).hex() == case["delegating_key_id"]
    consumer = public_key_of(h(case["consumer_secret_key"]))
    assert consumer.hex() == case["consumer_public_key"]
    assert key_id(consumer).hex() == case["consumer_key_id"]
    if case["mode"] == "channel-key":
        assert channel_secret_key(h(case["master_seed"]), topic) == delegating_sk

    # The EDEK (§3): the delegating key opens it through Umbral's DEM, by hand.
    edek = parse_edek(h(case["edek"]))
    assert edek["topic"] == topic and edek["delegating"] == delegating
    assert hashlib.sha256(edek["raw"]).hexdigest() == case["edek_digest"]
    e, v = decompress(edek["capsule"][:33], "Edek"), decompress(edek["capsule"][33:66], "Edek")
    seed = compress(mul(int.from_bytes(delegating_sk, "big"), add(e, v)))
    assert dem_open(seed, edek["capsule"], edek["sealed_dek"]).hex() == case["dek"]
    # ... and umbral-pre agrees, through the MessagePack form of §10.
    capsule = capsule_from_simple(edek["capsule"])
    assert bytes(capsule.to_bytes_simple()) == edek["capsule"]
    sk = umbral_pre.SecretKey.from_be_bytes(delegating_sk)
    assert bytes(umbral_pre.decrypt_original(sk, capsule, edek["sealed_dek"])).hex() == case["dek"]

    # The grant (§5) and each share as its own bytes.
    for grant_hex in [case["grant"]] + case["grant_shares"]:
        g = parse_grant(h(grant_hex))
        verify_grant(g, [admin], now)
        assert (g["channel"], g["consumer"]) == (topic, case["consumer_id"])
        assert (g["delegating"], g["consumer_key"], g["admin"]) == (delegating, consumer, admin)
        assert (g["threshold"], g["shares"]) == (case["threshold"], case["shares"])
        assert (g["not_before"], g["expires"]) == (case["not_before"], case["expires"])
        for index, kfrag in g["kfrags"]:
            assert len(kfrag) == 300 and len(kfrag_to_msgpack(kfrag)) == 310
    shares = [parse_grant(h(x)) for x in case["grant_shares"]]
    assert [s["kfrags"][0][0] for s in shares] == list(range(len(shares)))
    assert all(len(s["kfrags"]) == 1 < s["shares"] for s in shares)

    # The producer's session signature (§7.1) and producer grants (§5.2).
    producer = public_key_of(h(case["producer_secret_key"]))
    assert producer.hex() == case["producer_public_key"]
    sig = parse_session_sig(h(case["sig"]))
    assert len(sig["raw"]) == 107 and sig["producer"] == producer and sig["mode"] == case["signing_mode"]
    verify_session_sig(sig, topic, edek_digest=hashlib.sha256(edek["raw"]).digest())
    for g in case["producer_grants"]:
        pg = parse_producer_grant(h(g))
        verify_producer_grant(pg, [admin], now)
        assert (pg["topic"], pg["producer"]) == (topic, producer)

    # The records, in order, through one consumer.
    reader = consumer_of(case, now)
    for i, record in enumerate(case["records"]):
        kind, opened = reader.open(topic, value_of(record), headers_of(record), key_of(record))
        assert kind == record["opened"], i
        plaintext = opened["plaintext"] if kind == "decrypted" else opened
        assert (plaintext.hex() if plaintext is not None else None) == record.get("plaintext"), i
        if kind == "decrypted":
            assert (opened["vouch"], opened["counter"]) == (record["vouch"], record["counter"]), i
        if "counter" in record:  # §2: nonce = prefix ‖ counter from 0
            assert int.from_bytes(value_of(record)[24:32], "big") == record["counter"]

    # Per-case rejects: their own headers, key, value and topic, through the same decryptor.
    for reject in case["rejects"]:
        with pytest.raises(FormatError) as err:
            reader.open(reject["topic"], value_of(reject), headers_of(reject), key_of(reject))
        assert err.value.code == reject["code"], reject["what"]


def reader_verdict(reject):
    check = reject["check"]
    if check == "open":
        reader = consumer_of(reject, reject["now"])
        reader.open(reject["topic"], value_of(reject), headers_of(reject), key_of(reject))
    elif check == "grant":
        verify_grant(parse_grant(h(reject["grant"])), [h(reject["admin_public_key"])], reject["now"])
    elif check == "public_key":
        parse_public_key(h(reject["bytes"]))
    elif check == "secret_key":
        parse_secret_key(h(reject["bytes"]))
    else:
        raise AssertionError(check)


@pytest.mark.parametrize("reject", VECTORS["rejects"], ids=lambda r: r["name"])
def test_reject_vector(reject):
    with pytest.raises(FormatError) as err:
        reader_verdict(reject)
    assert err.value.kind == reject["error"], reject["what"]
    assert err.value.code == reject["code"]
    if err.value.obj:  # the engine's exact error names the object too
        assert reject["detail"].startswith(f"{err.value.kind}({err.value.obj}"), reject["detail"]
