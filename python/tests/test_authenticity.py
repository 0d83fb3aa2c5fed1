"""Producer authenticity (format v2): who may write a topic, and what a consumer learns about
who did. Each refusal is asserted by its own exception class."""

import pytest

import rewrap

TOPIC = "orders"
KEY = b"customer-7"


@pytest.fixture
def channel(world):
    """A channel key, consumer "me" granted on it, and a signing producer authorized on TOPIC."""
    delegating = rewrap.SecretKey.generate()
    me, dec = world.consumer()
    world.grant(delegating, TOPIC, "me", me.public_key())
    enc = world.producer(delegating.public_key(), [TOPIC])
    return world, delegating, enc, dec


def open_as_me(world, dec, sealed, key=KEY, topic=TOPIC, headers=None):
    headers = world.headers_for(topic, sealed if headers is None else headers, "me")
    return dec.open(topic, key, sealed.value, headers)


def with_header(sealed, name, value):
    """The record's headers with `name` replaced by `value` (dropped when None)."""
    out = [(n, v) for n, v in sealed.headers if n != name]
    return out if value is None else out + [(name, value)]


def test_signed_record_opens_with_its_producer_and_session(channel):
    world, _, enc, dec = channel
    records = [enc.seal(TOPIC, KEY, f"m{i}".encode()) for i in range(3)]
    assert [n for n, _ in records[0].headers] == [rewrap.EDEK_HEADER, "rewrap.sig"]
    assert records[0].sig is not None and records[0].rsig is None
    opened = [open_as_me(world, dec, s) for s in records]
    assert [o.value for o in opened] == [b"m0", b"m1", b"m2"]
    assert [o.counter for o in opened] == [0, 1, 2]
    assert all(o.vouch == "producer" and o.mode == "session" for o in opened)
    assert opened[0].producer == enc.signer[0] and enc.signer[1] == "session"
    ids = {o.session_id for o in opened}
    assert len(ids) == 1 and len(ids.pop()) == rewrap.SESSION_ID_LEN


def test_rotation_starts_a_new_session_counted_from_zero(channel):
    world, _, enc, dec = channel
    first = open_as_me(world, dec, enc.seal(TOPIC, KEY, b"a"))
    enc.rotate()
    second = open_as_me(world, dec, enc.seal(TOPIC, KEY, b"b"))
    assert first.session_id != second.session_id and second.counter == 0


def test_forged_record_without_a_signer_is_unsigned(channel):
    """An attacker knows the public delegating key, so can seal; without a signature a
    consumer under the default policy refuses it."""
    world, delegating, _, dec = channel
    forger = rewrap.Encryptor(delegating.public_key())
    forged = forger.seal(TOPIC, KEY, b"pay the attacker")
    assert [n for n, _ in forged.headers] == [rewrap.EDEK_HEADER]
    with pytest.raises(rewrap.UnsignedError):
        open_as_me(world, dec, forged)


def test_forged_record_signed_by_an_unauthorized_key(channel):
    world, delegating, _, dec = channel
    forger = rewrap.Encryptor(delegating.public_key())
    forger.set_signer(rewrap.SecretKey.generate())
    with pytest.raises(rewrap.UnauthorizedProducerError):
        open_as_me(world, dec, forger.seal(TOPIC, KEY, b"pay the attacker"))


def test_producer_authorized_on_another_topic_only(channel):
    world, delegating, _, dec = channel
    elsewhere = world.producer(delegating.public_key(), ["payments"])
    world.grant(delegating, "payments", "me", dec.public_key)
    assert open_as_me(world, dec, elsewhere.seal("payments", KEY, b"ok"), topic="payments").value == b"ok"
    with pytest.raises(rewrap.UnauthorizedProducerError):
        open_as_me(world, dec, elsewhere.seal(TOPIC, KEY, b"not here"))


def test_value_moved_to_another_record_key_fails_authentication(channel):
    world, _, enc, dec = channel
    sealed = enc.seal(TOPIC, KEY, b"for customer 7")
    for other in (b"customer-8", b"", None):
        with pytest.raises(rewrap.AuthenticationFailedError):
            open_as_me(world, dec, sealed, key=other)
    assert open_as_me(world, dec, sealed).value == b"for customer 7"


def test_null_key_and_empty_key_are_distinct(channel):
    world, _, enc, dec = channel
    null, empty = enc.seal(TOPIC, None, b"null"), enc.seal(TOPIC, b"", b"empty")
    assert open_as_me(world, dec, null, key=None).value == b"null"
    assert open_as_me(world, dec, empty, key=b"").value == b"empty"
    with pytest.raises(rewrap.AuthenticationFailedError):
        open_as_me(world, dec, null, key=b"")
    with pytest.raises(rewrap.AuthenticationFailedError):
        open_as_me(world, dec, empty, key=None)


@pytest.mark.parametrize("index", [40, 80, 106])  # created time, then the ECDSA signature
def test_altered_session_signature_is_a_bad_signature(channel, index):
    world, _, enc, dec = channel
    sealed = enc.seal(TOPIC, KEY, b"x")
    sig = bytearray(sealed.sig)
    sig[index] ^= 1
    with pytest.raises(rewrap.BadSignatureError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", bytes(sig)))


def test_altered_producer_key_in_the_signature_is_unauthorized(channel):
    world, _, enc, dec = channel
    sealed = enc.seal(TOPIC, KEY, b"x")
    # version, mode, then the producer's 33-byte key: put another (unauthorized) key there
    stranger = rewrap.SecretKey.generate().public_key().to_bytes()
    sig = sealed.sig[:2] + stranger + sealed.sig[2 + len(stranger):]
    with pytest.raises(rewrap.UnauthorizedProducerError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", sig))


def test_mangled_signature_framing(channel):
    world, _, enc, dec = channel
    sealed = enc.seal(TOPIC, KEY, b"x")
    with pytest.raises(rewrap.UnsupportedVersionError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", b"\x00" + sealed.sig[1:]))
    with pytest.raises(rewrap.MalformedError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", sealed.sig[:1] + b"\x09" + sealed.sig[2:]))
    with pytest.raises(rewrap.TruncatedError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", sealed.sig[:50]))


def test_stripped_signature_is_unsigned(channel):
    world, _, enc, dec = channel
    sealed = enc.seal(TOPIC, KEY, b"x")
    with pytest.raises(rewrap.UnsignedError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.sig", None))


def test_revoked_producer_cannot_open_a_new_session(channel):
    world, _, enc, dec = channel
    before = enc.seal(TOPIC, KEY, b"before")
    assert open_as_me(world, dec, before).value == b"before"
    assert dec.revoke_producer(TOPIC, enc.signer[0]) is True
    assert dec.revoke_producer(TOPIC, enc.signer[0]) is False
    enc.rotate()
    with pytest.raises(rewrap.UnauthorizedProducerError):
        open_as_me(world, dec, enc.seal(TOPIC, KEY, b"after"))


def test_v1_envelope_is_unsigned_under_require_and_optional(world):
    """A version-1 envelope carries no producer binding: refused unless the policy is off."""
    delegating = rewrap.SecretKey.generate()
    me, dec = world.consumer()
    world.grant(delegating, TOPIC, "me", me.public_key())
    sealed = world.producer(delegating.public_key(), [TOPIC]).seal(TOPIC, KEY, b"x")
    assert sealed.value[:3] == b"RW\x02"
    v1 = sealed.value[:2] + b"\x01" + sealed.value[3:]
    headers = world.headers_for(TOPIC, with_header(sealed, "rewrap.sig", None), "me")
    for policy in ("require", "optional"):
        dec.set_policy(policy)
        with pytest.raises(rewrap.UnsignedError):
            dec.open(TOPIC, KEY, v1, headers)


def test_policy_optional_accepts_unsigned_but_checks_signed(channel):
    world, delegating, _, dec = channel
    dec.set_policy("optional", topic=TOPIC)
    assert dec.policy(TOPIC) == "optional" and dec.policy("payments") == "require"
    unsigned = rewrap.Encryptor(delegating.public_key()).seal(TOPIC, KEY, b"legacy producer")
    opened = open_as_me(world, dec, unsigned)
    assert (opened.value, opened.vouch, opened.producer, opened.mode) == (b"legacy producer", "unsigned", None, None)
    rogue = rewrap.Encryptor(delegating.public_key())
    rogue.set_signer(rewrap.SecretKey.generate())
    with pytest.raises(rewrap.UnauthorizedProducerError):
        open_as_me(world, dec, rogue.seal(TOPIC, KEY, b"x"))


def test_policy_off_checks_nothing(channel):
    world, delegating, _, dec = channel
    dec.set_policy("off")
    rogue = rewrap.Encryptor(delegating.public_key())
    rogue.set_signer(rewrap.SecretKey.generate())
    for enc in (rewrap.Encryptor(delegating.public_key()), rogue):
        opened = open_as_me(world, dec, enc.seal(TOPIC, KEY, b"anything"))
        assert (opened.value, opened.vouch) == (b"anything", "unsigned")


def test_policy_at_construction_and_unknown_names(world):
    key = rewrap.SecretKey.generate()
    dec = rewrap.Decryptor(key, world.admins, policy="optional")
    assert dec.policy(TOPIC) == "optional"
    with pytest.raises(rewrap.InvalidArgumentError):
        rewrap.Decryptor(key, world.admins, policy="lenient")
    with pytest.raises(rewrap.InvalidArgumentError):
        dec.set_policy("lenient")
    with pytest.raises(rewrap.InvalidArgumentError):
        rewrap.Encryptor(key.public_key()).set_signer(key, mode="sometimes")


def test_record_mode_signs_every_record(world):
    delegating = rewrap.SecretKey.generate()
    me, dec = world.consumer()
    world.grant(delegating, TOPIC, "me", me.public_key())
    enc = world.producer(delegating.public_key(), [TOPIC], mode="record")
    sealed = enc.seal(TOPIC, KEY, b"each one signed")
    assert [n for n, _ in sealed.headers] == [rewrap.EDEK_HEADER, "rewrap.sig", "rewrap.rsig"]
    opened = open_as_me(world, dec, sealed)
    assert (opened.value, opened.mode, opened.vouch) == (b"each one signed", "record", "producer")
    with pytest.raises(rewrap.UnsignedError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.rsig", None))
    rsig = bytearray(sealed.rsig)
    rsig[-1] ^= 1
    with pytest.raises(rewrap.BadSignatureError):
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.rsig", bytes(rsig)))
    other = enc.seal(TOPIC, KEY, b"another record")
    with pytest.raises(rewrap.BadSignatureError):  # a signature of another record of the session
        open_as_me(world, dec, sealed, headers=with_header(sealed, "rewrap.rsig", other.rsig))


def test_signer_can_be_removed(channel):
    world, _, enc, dec = channel
    enc.set_signer(None)
    assert enc.signer is None
    with pytest.raises(rewrap.UnsignedError):
        open_as_me(world, dec, enc.seal(TOPIC, KEY, b"x"))


def test_channel_signature_vouches_without_producer_grants_at_the_consumer(world):
    """The re-encryptor checks the producer once and signs for the channel; the consumer
    trusts one channel key instead of every producer."""
    delegating = rewrap.SecretKey.generate()
    producer_key = rewrap.SecretKey.generate()
    enc = rewrap.Encryptor(delegating.public_key())
    enc.set_signer(producer_key)
    grant = rewrap.ProducerGrant.issue(world.admin, TOPIC, producer_key.public_key())
    re = world.reencryptor
    re.set_channel_seed(bytes(range(32)))
    re.add_producer_grant(grant.to_bytes())
    channel_key = re.channel_key(TOPIC)
    assert channel_key == rewrap.SecretKey.derive_channel_signing_key(bytes(range(32)), TOPIC).public_key()

    me = rewrap.SecretKey.generate()
    dec = rewrap.Decryptor(me, world.admins)  # no producer grant
    dec.trust_channel_key(TOPIC, channel_key)
    world.grant(delegating, TOPIC, "me", me.public_key())
    sealed = enc.seal(TOPIC, KEY, b"vouched by the channel")
    chsig = re.attest(TOPIC, sealed.edek, sealed.sig)
    assert chsig is not None
    headers = world.headers_for(TOPIC, sealed.headers + [("rewrap.chsig", chsig)], "me")
    opened = dec.open(TOPIC, KEY, sealed.value, headers)
    assert (opened.value, opened.vouch) == (b"vouched by the channel", "channel")

    rogue = rewrap.Encryptor(delegating.public_key())
    rogue.set_signer(rewrap.SecretKey.generate())
    forged = rogue.seal(TOPIC, KEY, b"x")
    with pytest.raises(rewrap.UnauthorizedProducerError):
        re.attest(TOPIC, forged.edek, forged.sig)
    with pytest.raises(rewrap.UnsignedError):
        re.attest(TOPIC, forged.edek, None)
    assert re.revoke_producer(TOPIC, producer_key.public_key()) is True


def test_reencryptor_policy(world):
    re = world.reencryptor
    re.set_policy("off", topic="legacy")
    assert re.policy("legacy") == "off"
    sealed = rewrap.Encryptor(rewrap.SecretKey.generate().public_key()).seal("legacy", None, b"x")
    assert re.attest("legacy", sealed.edek, None) is None
    assert re.channel_key("legacy") is None  # no seed


def test_producer_grant_round_trip_and_checks(world):
    producer = rewrap.SecretKey.generate().public_key()
    g = rewrap.ProducerGrant.issue(world.admin, TOPIC, producer, not_before=100, expires=None)
    again = rewrap.ProducerGrant.from_bytes(bytes(g))
    assert again.to_bytes() == g.to_bytes()
    assert (again.topic, again.producer, again.admin_key, again.not_before, again.expires) == (
        TOPIC, producer, world.admin.verifying_key, 100, None)
    again.verify(world.admins)
    with pytest.raises(rewrap.UntrustedGrantError):
        again.verify([rewrap.SecretKey.generate().public_key()])
    # the administrator's secret key works as well as a Signer
    admin_secret = rewrap.SecretKey.generate()
    rewrap.ProducerGrant.issue(admin_secret, TOPIC, producer).verify([admin_secret.public_key()])

    _, dec = world.consumer()
    dec.add_producer_grant(g.to_bytes())
    rogue = rewrap.ProducerGrant.issue(rewrap.Signer(rewrap.SecretKey.generate()), TOPIC, producer)
    with pytest.raises(rewrap.UntrustedGrantError):
        dec.add_producer_grant(rogue)
    expired = rewrap.ProducerGrant.issue(world.admin, TOPIC, producer, not_before=100, expires=200)
    with pytest.raises(rewrap.GrantExpiredError):
        dec.add_producer_grant(expired)
    with pytest.raises(rewrap.InvalidArgumentError):
        rewrap.ProducerGrant.issue(world.admin, TOPIC, producer, not_before=200, expires=100)
    with pytest.raises(rewrap.TruncatedError):
        rewrap.ProducerGrant.from_bytes(bytes(g)[:30])
    assert repr(g).startswith('ProducerGrant(topic="orders", producer=')
