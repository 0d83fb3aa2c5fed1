"""Shared fixtures: an administrator, a re-encryptor and a helper doing what the broker-side
proxy does on fetch (attach the consumer's fragments, or none when it is refused). Producers
made through the world sign their sessions, and every consumer made through it holds the
producer grants the administrator issued (the default policy, "require", needs both)."""

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
        self.producer_grants = []
        self.decryptors = []

    def consumer(self, **kw):
        key = rewrap.SecretKey.generate()
        dec = rewrap.Decryptor(key, self.admins, **kw)
        for g in self.producer_grants:
            dec.add_producer_grant(g)
        self.decryptors.append(dec)
        return key, dec

    def grant(self, delegating, channel, consumer_id, consumer_key, **kw):
        g = rewrap.Grant.issue(self.admin, delegating, channel, consumer_id, consumer_key, **kw)
        self.reencryptor.add_grant(g)
        return g

    def authorize(self, topic, producer_key):
        """Issues a producer grant and hands it to every consumer, present and future."""
        g = rewrap.ProducerGrant.issue(self.admin, topic, producer_key)
        self.producer_grants.append(g)
        for dec in self.decryptors:
            dec.add_producer_grant(g)
        return g

    def producer(self, delegating_key, topics=("orders",), mode="session", **kw):
        """An Encryptor signing with a fresh producer key authorized on `topics`."""
        signing = rewrap.SecretKey.generate()
        enc = rewrap.Encryptor(delegating_key, **kw)
        enc.set_signer(signing, mode)
        for topic in topics:
            self.authorize(topic, signing.public_key())
        return enc

    def headers_for(self, topic, sealed, consumer_id):
        """The record's headers (a SealedRecord or a header list) plus `consumer_id`'s cfrags."""
        headers = list(sealed.headers if isinstance(sealed, rewrap.SealedRecord) else sealed)
        edek = dict(headers)[rewrap.EDEK_HEADER]
        try:
            cfrags = self.reencryptor.reencrypt(topic, edek, consumer_id)
        except (rewrap.NotGrantedError, rewrap.RevokedError):
            cfrags = []
        return headers + [(rewrap.CFRAG_HEADER, c) for c in cfrags]


@pytest.fixture
def world():
    return World()


@pytest.fixture(scope="session")
def vectors():
    return json.loads(VECTORS.read_text())
