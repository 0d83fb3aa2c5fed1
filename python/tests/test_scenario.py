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
    consumers = {cid: world.consumer() for cid in ("1", "2", "3")}
    producers = [world.producer(delegating[i % len(delegating)].public_key(), [CHANNEL]) for i in range(3)]
    for key in delegating:
        for cid in ("1", "2"):
            world.grant(key, CHANNEL, cid, consumers[cid][0].public_key())

    sent = []
    for i in range(60):
        p = i % 3
        payload = f"message {i} from producer {p}".encode()
        key = f"customer-{i % 5}".encode()
        sent.append((p, key, payload, producers[p].seal(CHANNEL, key, payload)))
    for p, key, payload, sealed in sent:
        for cid, (_, dec) in consumers.items():
            headers = world.headers_for(CHANNEL, sealed, cid)
            if cid == "3":
                with pytest.raises(rewrap.MissingCfragError):
                    dec.open(CHANNEL, key, sealed.value, headers)
            else:
                opened = dec.open(CHANNEL, key, sealed.value, headers)
                assert opened.value == payload
                assert opened.vouch == "producer" and opened.producer == producers[p].signer[0]

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
        sealed = enc.seal(CHANNEL, None, b"after revoke")
        opened = consumers["1"][1].open(CHANNEL, None, sealed.value, world.headers_for(CHANNEL, sealed, "1"))
        assert opened.value == b"after revoke"
        with pytest.raises(rewrap.MissingCfragError):
            consumers["2"][1].open(CHANNEL, None, sealed.value, world.headers_for(CHANNEL, sealed, "2"))
        with pytest.raises(rewrap.RevokedError):
            world.reencryptor.reencrypt(CHANNEL, sealed.edek, "2")


def test_threshold_two_of_three_through_shares(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    grant = rewrap.Grant.issue(world.admin, channel, "t", "c", key.public_key(), threshold=2, shares=3)
    proxies = []
    for i in range(3):
        re = rewrap.ReEncryptor(world.admins)
        re.add_grant(rewrap.Grant.from_bytes(bytes(grant.share(i))))
        proxies.append(re)
    sealed = world.producer(channel.public_key(), ["t"]).seal("t", b"k", b"secret")
    frags = [p.reencrypt("t", sealed.edek, "c")[0] for p in proxies]
    with rewrap.Decryptor(key, world.admins) as fresh:
        fresh.add_producer_grant(world.producer_grants[-1])
        headers = sealed.headers + [(rewrap.CFRAG_HEADER, f) for f in frags[1:]]
        assert fresh.open("t", b"k", sealed.value, headers).value == b"secret"
    with pytest.raises(rewrap.InsufficientCfragsError):
        dec.open("t", b"k", sealed.value, sealed.headers + [(rewrap.CFRAG_HEADER, frags[0])])


def test_python_reencryptor_cache_and_history(world):
    """A grant made after the records were written still opens them (history)."""
    channel = rewrap.SecretKey.generate()
    enc = world.producer(channel.public_key(), [CHANNEL])
    old = [enc.seal(CHANNEL, None, f"old {i}".encode()) for i in range(10)]
    key, dec = world.consumer()
    world.grant(channel, CHANNEL, "late", key.public_key())
    for i, sealed in enumerate(old):
        opened = dec.open(CHANNEL, None, sealed.value, world.headers_for(CHANNEL, sealed, "late"))
        assert (opened.value, opened.counter) == (f"old {i}".encode(), i)
    s = world.reencryptor.stats()
    assert s["reencryptions"] == 1 and s["cache"]["hits"] == 9


@pytest.mark.parametrize("codec,alg", [("lz4", 2), ("zstd", 3)])
def test_compressed_records_open_with_no_reader_setting(world, codec, alg):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    world.grant(channel, CHANNEL, "1", key.public_key())
    enc = world.producer(channel.public_key(), [CHANNEL])
    assert enc.compression == "none"
    with pytest.raises(rewrap.InvalidArgumentError):
        enc.set_compression("gzip")
    enc.set_compression(codec, 5 if codec == "zstd" else None)
    assert enc.compression == codec
    events = b"".join(b'{"id":%d,"user":"alice","action":"view"}\n' % i for i in range(40))
    sealed = enc.seal(CHANNEL, None, events)
    assert sealed.value[3] == alg and len(sealed.value) < len(events)
    assert dec.open(CHANNEL, None, sealed.value, world.headers_for(CHANNEL, sealed, "1")).value == events
    # What compression does not shrink is sealed as it is (algorithm 1).
    noise = rewrap.SecretKey.generate().to_bytes()
    plain = enc.seal(CHANNEL, None, noise)
    assert plain.value[3] == 1
    assert dec.open(CHANNEL, None, plain.value, world.headers_for(CHANNEL, plain, "1")).value == noise
