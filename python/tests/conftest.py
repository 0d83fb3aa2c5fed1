"""Shared fixtures: an administrator, a re-encryptor and a helper doing what the broker-side
proxy does on fetch (attach the consumer's fragments, or none when it is refused)."""

import json
import pathlib

import pytest

import rewrap

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors" / "records.json"


class World:
    def __init__(self):
        self.admin = rewrap.Signer(rewrap.SecretKey.generate())
        self.admins = [self.admin.verifying_key]
        self.reencryptor = rewrap.ReEncryptor(self.admins)

    def consumer(self, **kw):
        key = rewrap.SecretKey.generate()
        return key, rewrap.Decryptor(key, self.admins, **kw)

    def grant(self, delegating, channel, consumer_id, consumer_key, **kw):
        g = rewrap.Grant.issue(self.admin, delegating, channel, consumer_id, consumer_key, **kw)
        self.reencryptor.add_grant(g)
        return g

    def headers_for(self, topic, edek, consumer_id):
        try:
            cfrags = self.reencryptor.reencrypt(topic, edek, consumer_id)
        except (rewrap.NotGrantedError, rewrap.RevokedError):
            cfrags = []
        return [(rewrap.EDEK_HEADER, edek)] + [(rewrap.CFRAG_HEADER, c) for c in cfrags]


@pytest.fixture
def world():
    return World()


@pytest.fixture(scope="session")
def vectors():
    return json.loads(VECTORS.read_text())
