"""The shared vectors (tests/vectors/records.json, layouts in docs/FORMAT.md): every accept
case opens record by record to its recorded result, every reject vector fails with its code."""

import pytest

import rewrap


def _headers(item):
    return [(h["name"], bytes.fromhex(h["value"])) for h in item["headers"]]


def _value(item):
    return None if item["value"] is None else bytes.fromhex(item["value"])


def _key(item):
    """The record's Kafka key: hex, or None (absent or null) for a null key."""
    key = item.get("key")
    return None if key is None else bytes.fromhex(key)


def _decryptor(item, consumer, admin, now):
    """A decryptor as a vector describes it: plaintext setting, signature policy (absent:
    off) and producer grants (each also verified at the vectors' now)."""
    dec = rewrap.Decryptor(consumer, [admin], allow_plaintext=item["allow_plaintext"],
                           policy=item.get("policy") or "off")
    for grant in item.get("producer_grants") or []:
        rewrap.ProducerGrant.from_bytes(bytes.fromhex(grant)).verify([admin], now=now)
        dec.add_producer_grant(bytes.fromhex(grant))
    return dec


def test_there_are_accept_cases_and_reject_vectors(vectors):
    assert len(vectors["cases"]) >= 9
    assert len(vectors["rejects"]) >= 50


def test_every_accept_case_opens(vectors):
    now = vectors["now"]
    for case in vectors["cases"]:
        name = case["name"]
        admin = rewrap.PublicKey.from_hex(case["admin_public_key"])
        consumer = rewrap.SecretKey.from_hex(case["consumer_secret_key"])
        assert consumer.public_key().to_hex() == case["consumer_public_key"], name
        assert consumer.public_key().key_id == case["consumer_key_id"], name
        delegating = rewrap.PublicKey.from_hex(case["delegating_public_key"])
        assert delegating.key_id == case["delegating_key_id"], name

        # The grant and each share as its own bytes: parse, re-serialize, verify.
        grant = rewrap.Grant.from_bytes(bytes.fromhex(case["grant"]))
        assert bytes(grant).hex() == case["grant"], name
        grant.verify([admin], now=now)
        assert grant.consumer == case["consumer_id"], name
        assert grant.topic == case["topic"], name
        assert grant.threshold == case["threshold"] and grant.shares == case["shares"], name
        assert grant.expires == (case["expires"] or None), name
        assert grant.delegating_key == delegating, name
        for share_hex in case["grant_shares"]:
            share = rewrap.Grant.from_bytes(bytes.fromhex(share_hex))
            assert bytes(share).hex() == share_hex, name
            share.verify([admin], now=now)

        # Every record, in order, through one decryptor.
        dec = _decryptor(case, consumer, admin, now)
        for i, record in enumerate(case["records"]):
            opened = dec.open(case["topic"], _key(record), _value(record), _headers(record))
            what = f"{name} record {i}"
            assert opened.kind == record["opened"], what
            assert opened.authenticated == (record["opened"] == "decrypted"), what
            if opened.authenticated:
                assert opened.vouch == record["vouch"], what
                assert opened.counter == int(record["counter"]), what
            if record["opened"] == "tombstone":
                assert opened.value is None, what
            else:
                assert opened.value == bytes.fromhex(record["plaintext"]), what

        # Variants of the first record, each with its own topic, key, value and headers,
        # through the same decryptor (its session cached).
        for reject in case["rejects"]:
            with pytest.raises(rewrap.RewrapError) as err:
                dec.open(reject["topic"], _key(reject), _value(reject), _headers(reject))
            assert err.value.code == int(reject["code"]), f"{name}: {reject['what']}: {err.value!r}"


def _fail(reject):
    check = reject["check"]
    if check == "open":
        admin = rewrap.PublicKey.from_hex(reject["admin_public_key"])
        consumer = rewrap.SecretKey.from_hex(reject["consumer_secret_key"])
        dec = _decryptor(reject, consumer, admin, reject.get("now"))
        dec.open(reject["topic"], _key(reject), _value(reject), _headers(reject))
    elif check == "grant":
        admin = rewrap.PublicKey.from_hex(reject["admin_public_key"])
        rewrap.Grant.from_bytes(bytes.fromhex(reject["grant"])).verify([admin], now=reject["now"])
    elif check == "public_key":
        rewrap.PublicKey.from_bytes(bytes.fromhex(reject["bytes"]))
    elif check == "secret_key":
        rewrap.SecretKey.from_bytes(bytes.fromhex(reject["bytes"]))
    else:
        raise AssertionError(f"unknown check {check}")


def test_every_reject_vector_fails_with_its_code(vectors):
    for reject in vectors["rejects"]:
        with pytest.raises(rewrap.RewrapError) as err:
            _fail(reject)
        assert err.value.code == int(reject["code"]), f"{reject['name']}: {reject['what']}: {err.value!r}"
        # The exception class is the kind's own (e.g. TruncatedError for code 100).
        assert type(err.value).__name__ == reject["error"] + "Error", reject["name"]
