"""The shared vectors (tests/vectors/records.json) open from their bytes alone."""

import pytest

import rewrap


def test_every_vector_opens(vectors):
    assert vectors["cases"]
    now = vectors["now"]
    for case in vectors["cases"]:
        admin = rewrap.PublicKey.from_hex(case["admin_public_key"])
        consumer = rewrap.SecretKey.from_hex(case["consumer_secret_key"])
        assert consumer.public_key().to_hex() == case["consumer_public_key"]
        assert rewrap.PublicKey.from_hex(case["delegating_public_key"]).key_id == case["delegating_key_id"]
        grant = rewrap.Grant.from_bytes(bytes.fromhex(case["grant"]))
        grant.verify([admin], now=now)
        assert grant.consumer == case["consumer_id"] and grant.threshold == case["threshold"]

        dec = rewrap.Decryptor(consumer, [admin])
        headers = [(rewrap.EDEK_HEADER, bytes.fromhex(case["edek"]))]
        headers += [(rewrap.CFRAG_HEADER, bytes.fromhex(c)) for c in case["cfrags"]]
        value = bytes.fromhex(case["value"])
        assert dec.open(case["topic"], value, headers) == bytes.fromhex(case["plaintext"])
        for reject in case["rejects"]:
            with pytest.raises(rewrap.RewrapError) as err:
                dec.open(reject["topic"], bytes.fromhex(reject["value"]), headers)
            assert err.value.code == reject["code"], reject["what"]
