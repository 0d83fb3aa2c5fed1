"""The seed scenario: producers a, b, c; consumers 1 and 2 granted, 3 not; revoke 2."""

import pytest

import rewrap

CHANNEL = "orders"


@pytest.mark.parametrize("mode", ["producer-key", "channel-key"])
def test_seed_scenario(world, mode):
    if mode == "producer-key":
        delegating = [rewrap.SecretKey.generate() for _ in range(3)]
    else:
        delegating = [rewrap.SecretKey.generate()]
    producers = [rewrap.Encryptor(delegating[i % len(delegating)].public_key()) for i in range(3)]
    consumers = {cid: world.consumer() for cid in ("1", "2", "3")}
    for key in delegating:
        for cid in ("1", "2"):
            world.grant(key, CHANNEL, cid, consumers[cid][0].public_key())

    sent = []
    for i in range(60):
        p = i % 3
        payload = f"message {i} from producer {p}".encode()
        value, edek = producers[p].seal(CHANNEL, payload)
        sent.append((payload, value, edek))
    for payload, value, edek in sent:
        for cid, (_, dec) in consumers.items():
            headers = world.headers_for(CHANNEL, edek, cid)
            if cid == "3":
                with pytest.raises(rewrap.MissingCfragError):
                    dec.open(CHANNEL, value, headers)
            else:
                assert dec.open(CHANNEL, value, headers).value == payload

    stats = world.reencryptor.stats()
    assert stats["reencryptions"] == 3 * 2  # one per (session, granted consumer)
    assert stats["refused"] == len(sent)  # consumer 3, every record
    for cid in ("1", "2"):
        s = consumers[cid][1].stats()
        assert s["dek_opens"] == 3
        assert s["cache"]["hits"] == len(sent) - 3

    assert world.reencryptor.revoke(CHANNEL, "2") == len(delegating)
    for enc in producers:
        enc.rotate()
        value, edek = enc.seal(CHANNEL, b"after revoke")
        assert consumers["1"][1].open(CHANNEL, value, world.headers_for(CHANNEL, edek, "1")).value == b"after revoke"
        with pytest.raises(rewrap.MissingCfragError):
            consumers["2"][1].open(CHANNEL, value, world.headers_for(CHANNEL, edek, "2"))
        with pytest.raises(rewrap.RevokedError):
            world.reencryptor.reencrypt(CHANNEL, edek, "2")


def test_threshold_two_of_three_through_shares(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    grant = rewrap.Grant.issue(world.admin, channel, "t", "c", key.public_key(), threshold=2, shares=3)
    proxies = []
    for i in range(3):
        re = rewrap.ReEncryptor(world.admins)
        re.add_grant(rewrap.Grant.from_bytes(bytes(grant.share(i))))
        proxies.append(re)
    value, edek = rewrap.Encryptor(channel.public_key()).seal("t", b"secret")
    frags = [p.reencrypt("t", edek, "c")[0] for p in proxies]
    with rewrap.Decryptor(key, world.admins) as fresh:
        headers = [(rewrap.EDEK_HEADER, edek)] + [(rewrap.CFRAG_HEADER, f) for f in frags[1:]]
        assert fresh.open("t", value, headers).value == b"secret"
    with pytest.raises(rewrap.InsufficientCfragsError):
        dec.open("t", value, [(rewrap.EDEK_HEADER, edek), (rewrap.CFRAG_HEADER, frags[0])])


def test_python_reencryptor_cache_and_history(world):
    """A grant made after the records were written still opens them (history)."""
    channel = rewrap.SecretKey.generate()
    enc = rewrap.Encryptor(channel.public_key())
    old = [enc.seal(CHANNEL, f"old {i}".encode()) for i in range(10)]
    key, dec = world.consumer()
    world.grant(channel, CHANNEL, "late", key.public_key())
    for i, (value, edek) in enumerate(old):
        assert dec.open(CHANNEL, value, world.headers_for(CHANNEL, edek, "late")).value == f"old {i}".encode()
    s = world.reencryptor.stats()
    assert s["reencryptions"] == 1 and s["cache"]["hits"] == 9
