"""Every bad input raises its own RewrapError subclass; nothing crashes."""

import os
import pathlib
import re
import time

import pytest

import rewrap

TOPIC = "orders"
KEY = b"order-1"


@pytest.fixture
def setup(world):
    channel = rewrap.SecretKey.generate()
    me, dec = world.consumer()
    other, other_dec = world.consumer()
    world.grant(channel, TOPIC, "me", me.public_key())
    world.grant(channel, TOPIC, "other", other.public_key())
    enc = world.producer(channel.public_key(), [TOPIC])
    sealed = enc.seal(TOPIC, KEY, b"secret payload")
    return world, enc, dec, sealed.value, sealed


def c_enum():
    """(name, code) of every row of the C header's generated rewrap_result enum."""
    header = (pathlib.Path(__file__).parents[2] / "include" / "rewrap.h").read_text()
    body = header[header.index("typedef enum rewrap_result {") : header.index("} rewrap_result;")]
    return [(m[1], int(m[2])) for m in re.finditer(r"REWRAP_(\w+) = (\d+),", body) if m[1] != "OK"]


def test_every_error_kind_of_the_engine_table_is_a_class_with_its_code():
    rows = c_enum()
    assert len(rows) >= 25
    for c_name, code in rows:
        py_name = "".join(part.capitalize() for part in c_name.split("_")) + "Error"
        cls = getattr(rewrap, py_name)
        assert issubclass(cls, rewrap.RewrapError) and cls.code == code, py_name
    classes = [getattr(rewrap, n) for n in dir(rewrap) if n.endswith("Error") and n != "AuthenticationError"]
    assert len(classes) == len(rows) + 1  # and RewrapError itself
    assert rewrap.WrongTopicError.code == 105 and rewrap.RevokedError.code == 301
    assert rewrap.AuthenticationError is rewrap.AuthenticationFailedError


def test_shared_constants_come_from_the_engine():
    header = (pathlib.Path(__file__).parents[2] / "include" / "rewrap.h").read_text()
    for name, value in re.findall(r"#define REWRAP_(\w+) (\S+)", header):
        if name == "H":
            continue
        expected = value.strip('"') if value.startswith('"') else int(value)
        assert getattr(rewrap, name) == expected, name


def test_header_name_cut_at_nul_is_refused(setup):
    world, _, dec, value, sealed = setup
    headers = world.headers_for(TOPIC, sealed, "me")
    smuggled = [(n + "\0x", v) if n == rewrap.CFRAG_HEADER else (n, v) for n, v in headers]
    with pytest.raises(rewrap.MalformedError):
        dec.open(TOPIC, KEY, value, smuggled)
    assert dec.open(TOPIC, KEY, value, headers + [("rewrap.other", b"")]).authenticated


def test_key_files_are_read_by_the_engine(tmp_path):
    key = rewrap.SecretKey.generate()
    path = tmp_path / "k.sec"
    path.write_text(key.to_bytes().hex() + "\n")
    os.chmod(path, 0o600)
    assert rewrap.SecretKey.from_file(path).public_key() == key.public_key()
    os.chmod(path, 0o644)
    with pytest.raises(rewrap.InsecureKeyFileError):
        rewrap.SecretKey.from_file(str(path))
    with pytest.raises(rewrap.IoError):
        rewrap.SecretKey.from_file(tmp_path / "missing.sec")
    pub = tmp_path / "k.pub"
    pub.write_text(key.public_key().to_hex() + "\n")
    assert rewrap.PublicKey.from_file(pub) == key.public_key()


def test_truncated_value(setup):
    world, _, dec, value, sealed = setup
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, KEY, value[:20], world.headers_for(TOPIC, sealed, "me"))


def test_truncated_edek_and_cfrag(setup):
    world, _, dec, value, sealed = setup
    headers = world.headers_for(TOPIC, sealed, "me")
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, KEY, value, [(rewrap.EDEK_HEADER, sealed.edek[:50])] + headers[1:])
    cfrag = dict(headers)[rewrap.CFRAG_HEADER]
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, KEY, value, headers[:2] + [(rewrap.CFRAG_HEADER, cfrag[:100])])


def test_unknown_version(setup):
    world, _, dec, value, sealed = setup
    bad = value[:2] + b"\x09" + value[3:]
    with pytest.raises(rewrap.UnsupportedVersionError):
        dec.open(TOPIC, KEY, bad, world.headers_for(TOPIC, sealed, "me"))


def test_flipped_bit(setup):
    world, _, dec, value, sealed = setup
    bad = value[:-1] + bytes([value[-1] ^ 1])
    with pytest.raises(rewrap.AuthenticationError):
        dec.open(TOPIC, KEY, bad, world.headers_for(TOPIC, sealed, "me"))


def test_wrong_topic(setup):
    world, _, dec, value, sealed = setup
    with pytest.raises(rewrap.WrongTopicError):
        dec.open("payments", KEY, value, world.headers_for(TOPIC, sealed, "me"))


def test_wrong_consumer(setup):
    world, _, dec, value, sealed = setup
    with pytest.raises(rewrap.WrongConsumerError):
        dec.open(TOPIC, KEY, value, world.headers_for(TOPIC, sealed, "other"))


def test_missing_cfrag_and_not_granted(setup):
    world, _, dec, value, sealed = setup
    with pytest.raises(rewrap.NotGrantedError):
        world.reencryptor.reencrypt(TOPIC, sealed.edek, "stranger")
    with pytest.raises(rewrap.MissingCfragError):
        dec.open(TOPIC, KEY, value, sealed.headers)


def test_edek_mismatch(setup):
    world, enc, dec, value, sealed = setup
    enc.rotate()
    other = enc.seal(TOPIC, KEY, b"x")
    with pytest.raises(rewrap.EdekMismatchError):
        dec.open(TOPIC, KEY, value, world.headers_for(TOPIC, other, "me"))


def test_foreign_and_unencrypted_records(setup):
    world, _, dec, _, sealed = setup
    with pytest.raises(rewrap.ForeignRecordError):
        dec.open(TOPIC, KEY, b'{"plain": 1}', world.headers_for(TOPIC, sealed, "me"))
    with pytest.raises(rewrap.UnencryptedError):
        dec.open(TOPIC, KEY, b"injected plaintext", [])
    key = rewrap.SecretKey.generate()
    migrating = rewrap.Decryptor(key, world.admins, allow_plaintext=True)
    legacy = migrating.open(TOPIC, KEY, b"legacy", [])
    assert (legacy.kind, legacy.value, legacy.authenticated) == ("unencrypted_allowed", b"legacy", False)


def test_tombstone_stays_none(setup):
    world, _, dec, _, sealed = setup
    assert dec.open(TOPIC, KEY, None, world.headers_for(TOPIC, sealed, "me")).kind == "tombstone"
    assert dec.open(TOPIC, None, None).value is None


def test_untrusted_and_expired_grants(world):
    channel = rewrap.SecretKey.generate()
    rogue = rewrap.Signer(rewrap.SecretKey.generate())
    key = rewrap.SecretKey.generate()
    g = rewrap.Grant.issue(rogue, channel, TOPIC, "c", key.public_key())
    with pytest.raises(rewrap.UntrustedGrantError):
        world.reencryptor.add_grant(g)
    now = int(time.time())
    old = rewrap.Grant.issue(
        world.admin, channel, TOPIC, "c", key.public_key(), not_before=now - 200, expires=now - 100
    )
    with pytest.raises(rewrap.GrantExpiredError):
        world.reencryptor.add_grant(old)
    # Valid inside its window, if that is no more than 5 minutes before it was issued.
    old.verify(world.admins, now=now - 150)
    # Long before it was issued, it is not valid (issue time checked against the clock).
    early = rewrap.Grant.issue(world.admin, channel, TOPIC, "c", key.public_key(), not_before=100, expires=200)
    with pytest.raises(rewrap.GrantExpiredError):
        early.verify(world.admins, now=150)


def test_malformed_keys_and_grants():
    with pytest.raises(rewrap.MalformedError):
        rewrap.SecretKey.from_bytes(b"\x00" * 32)
    with pytest.raises(rewrap.MalformedError):
        rewrap.PublicKey.from_hex("zz")
    with pytest.raises(rewrap.UnsupportedVersionError):
        rewrap.Grant.from_bytes(b"\x07" * 40)
    with pytest.raises(rewrap.InvalidArgumentError):
        rewrap.Encryptor(rewrap.SecretKey.generate().public_key(), max_messages=0)


def test_closed_handles_raise_and_close_twice_is_fine(setup):
    world, enc, dec, value, sealed = setup
    enc.close()
    enc.close()
    with pytest.raises(rewrap.ClosedError):
        enc.seal(TOPIC, KEY, b"x")
    with dec:
        pass
    with pytest.raises(rewrap.ClosedError):
        dec.open(TOPIC, KEY, value, [])


def test_secret_key_repr_is_redacted():
    key = rewrap.SecretKey.generate()
    assert key.to_bytes().hex() not in repr(key)
    assert "redacted" in repr(key)


def test_wrong_argument_types_raise_type_error(setup):
    _, enc, dec, _, _ = setup
    with pytest.raises(TypeError):
        enc.seal(TOPIC, KEY, "not bytes")
    with pytest.raises(TypeError):
        enc.seal(TOPIC, "not bytes either", b"x")
    with pytest.raises(TypeError):
        enc.seal(TOPIC, b"payload without a key")
    with pytest.raises(TypeError):
        dec.open(TOPIC, KEY, b"x", [("rewrap.edek", 5)])
