"""Every bad input raises its own RewrapError subclass; nothing crashes."""

import pytest

import rewrap

TOPIC = "orders"


@pytest.fixture
def setup(world):
    channel = rewrap.SecretKey.generate()
    me, dec = world.consumer()
    other, other_dec = world.consumer()
    world.grant(channel, TOPIC, "me", me.public_key())
    world.grant(channel, TOPIC, "other", other.public_key())
    enc = rewrap.Encryptor(channel.public_key())
    value, edek = enc.seal(TOPIC, b"secret payload")
    return world, enc, dec, value, edek


def test_hierarchy_and_codes():
    classes = [getattr(rewrap, n) for n in dir(rewrap) if n.endswith("Error")]
    assert len(classes) == 21
    codes = {c.code for c in classes if c is not rewrap.RewrapError}
    assert len(codes) == 20
    for c in classes:
        assert issubclass(c, rewrap.RewrapError) and issubclass(c, Exception)
    assert rewrap.WrongTopicError.code == 105 and rewrap.RevokedError.code == 301


def test_truncated_value(setup):
    world, _, dec, value, edek = setup
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, value[:20], world.headers_for(TOPIC, edek, "me"))


def test_truncated_edek_and_cfrag(setup):
    world, _, dec, value, edek = setup
    headers = world.headers_for(TOPIC, edek, "me")
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, value, [(rewrap.EDEK_HEADER, edek[:50])] + headers[1:])
    with pytest.raises(rewrap.TruncatedError):
        dec.open(TOPIC, value, headers[:1] + [(rewrap.CFRAG_HEADER, headers[1][1][:100])])


def test_unknown_version(setup):
    world, _, dec, value, edek = setup
    bad = value[:2] + b"\x09" + value[3:]
    with pytest.raises(rewrap.UnsupportedVersionError):
        dec.open(TOPIC, bad, world.headers_for(TOPIC, edek, "me"))


def test_flipped_bit(setup):
    world, _, dec, value, edek = setup
    bad = value[:-1] + bytes([value[-1] ^ 1])
    with pytest.raises(rewrap.AuthenticationError):
        dec.open(TOPIC, bad, world.headers_for(TOPIC, edek, "me"))


def test_wrong_topic(setup):
    world, _, dec, value, edek = setup
    with pytest.raises(rewrap.WrongTopicError):
        dec.open("payments", value, world.headers_for(TOPIC, edek, "me"))


def test_wrong_consumer(setup):
    world, _, dec, value, edek = setup
    with pytest.raises(rewrap.WrongConsumerError):
        dec.open(TOPIC, value, world.headers_for(TOPIC, edek, "other"))


def test_missing_cfrag_and_not_granted(setup):
    world, _, dec, value, edek = setup
    with pytest.raises(rewrap.NotGrantedError):
        world.reencryptor.reencrypt(TOPIC, edek, "stranger")
    with pytest.raises(rewrap.MissingCfragError):
        dec.open(TOPIC, value, [(rewrap.EDEK_HEADER, edek)])


def test_edek_mismatch(setup):
    world, enc, dec, value, edek = setup
    enc.rotate()
    _, edek2 = enc.seal(TOPIC, b"x")
    with pytest.raises(rewrap.EdekMismatchError):
        dec.open(TOPIC, value, world.headers_for(TOPIC, edek2, "me"))


def test_foreign_and_unencrypted_records(setup):
    world, _, dec, _, edek = setup
    with pytest.raises(rewrap.ForeignRecordError):
        dec.open(TOPIC, b'{"plain": 1}', world.headers_for(TOPIC, edek, "me"))
    with pytest.raises(rewrap.UnencryptedError):
        dec.open(TOPIC, b"injected plaintext", [])
    key = rewrap.SecretKey.generate()
    migrating = rewrap.Decryptor(key, world.admins, allow_plaintext=True)
    assert migrating.open(TOPIC, b"legacy", []) == b"legacy"


def test_tombstone_stays_none(setup):
    world, _, dec, _, edek = setup
    assert dec.open(TOPIC, None, world.headers_for(TOPIC, edek, "me")) is None
    assert dec.open(TOPIC, None) is None


def test_untrusted_and_expired_grants(world):
    channel = rewrap.SecretKey.generate()
    rogue = rewrap.Signer(rewrap.SecretKey.generate())
    key = rewrap.SecretKey.generate()
    g = rewrap.Grant.issue(rogue, channel, TOPIC, "c", key.public_key())
    with pytest.raises(rewrap.UntrustedGrantError):
        world.reencryptor.add_grant(g)
    old = rewrap.Grant.issue(world.admin, channel, TOPIC, "c", key.public_key(), not_before=100, expires=200)
    with pytest.raises(rewrap.GrantExpiredError):
        world.reencryptor.add_grant(old)
    old.verify(world.admins, now=150)


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
    world, enc, dec, value, edek = setup
    enc.close()
    enc.close()
    with pytest.raises(rewrap.ClosedError):
        enc.seal(TOPIC, b"x")
    with dec:
        pass
    with pytest.raises(rewrap.ClosedError):
        dec.open(TOPIC, value, [])


def test_secret_key_repr_is_redacted():
    key = rewrap.SecretKey.generate()
    assert key.to_bytes().hex() not in repr(key)
    assert "redacted" in repr(key)


def test_wrong_argument_types_raise_type_error(setup):
    _, enc, dec, _, _ = setup
    with pytest.raises(TypeError):
        enc.seal(TOPIC, "not bytes")
    with pytest.raises(TypeError):
        dec.open(TOPIC, b"x", [("rewrap.edek", 5)])
