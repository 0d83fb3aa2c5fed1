"""Interoperability with NuCypher's own Python binding of the same Umbral library
(PyPI `umbral-pre` 0.11): rewrap's EDEK capsule opens with its decrypt_original, rewrap's
cfrags open with its decrypt_reencrypted, and kfrags it generates work inside rewrap."""

import pytest
import umbral_pre

import rewrap

# EDEK layout (docs/FORMAT.md §3): version, delegating key, capsule, sealed DEK, topic.
CAPSULE = slice(34, 132)
SEALED_DEK = slice(132, 204)


def msgpack_bytes_array(*leaves):
    """umbral-pre's default serialization of a capsule/cfrag: a MessagePack array of byte
    strings (the same leaves as to_bytes_simple). Leaves here are all < 256 bytes."""
    out = bytes([0x90 | len(leaves)])
    for leaf in leaves:
        out += b"\xc4" + bytes([len(leaf)]) + leaf
    return out


def capsule_from_edek(edek):
    simple = edek[CAPSULE]
    return umbral_pre.Capsule.from_bytes(msgpack_bytes_array(simple[:33], simple[33:66], simple[66:]))


def test_edek_opens_with_umbral_pre_decrypt_original(vectors):
    for case in vectors["cases"]:
        edek = bytes.fromhex(case["edek"])
        capsule = capsule_from_edek(edek)
        assert capsule.to_bytes_simple() == edek[CAPSULE]
        sk = umbral_pre.SecretKey.from_be_bytes(bytes.fromhex(case["delegating_secret_key"]))
        dek = umbral_pre.decrypt_original(sk, capsule, edek[SEALED_DEK])
        assert dek.hex() == case["dek"]


def test_rewrap_cfrags_open_with_umbral_pre(vectors):
    case = next(c for c in vectors["cases"] if c["name"] == "one-of-one")
    edek = bytes.fromhex(case["edek"])
    capsule = capsule_from_edek(edek)
    cfrag_simple = bytes.fromhex(case["cfrags"][0])[10:]  # after version, threshold, key id
    sizes = [33, 33, 32, 33]  # e1, v1, kfrag id, precursor
    proof_sizes = [33, 33, 33, 33, 32, 64]  # e2, v2, kfrag commitment, kfrag pok, z, kfrag signature
    leaves, at = [], 0
    for n in sizes + proof_sizes:
        leaves.append(cfrag_simple[at:at + n])
        at += n
    # The proof is a nested array inside the cfrag array: [e1, v1, id, precursor, [proof...]].
    packed = bytes([0x95]) + msgpack_bytes_array(*leaves[:4])[1:] + msgpack_bytes_array(*leaves[4:])
    cfrag = umbral_pre.CapsuleFrag.from_bytes(packed)
    assert cfrag.to_bytes_simple() == cfrag_simple

    delegating = umbral_pre.PublicKey.from_compressed_bytes(bytes.fromhex(case["delegating_public_key"]))
    consumer_sk = umbral_pre.SecretKey.from_be_bytes(bytes.fromhex(case["consumer_secret_key"]))
    admin = umbral_pre.PublicKey.from_compressed_bytes(bytes.fromhex(case["admin_public_key"]))
    verified = cfrag.verify(capsule, admin, delegating, consumer_sk.public_key())
    dek = umbral_pre.decrypt_reencrypted(consumer_sk, delegating, capsule, [verified], edek[SEALED_DEK])
    assert dek.hex() == case["dek"]


def test_umbral_pre_kfrags_reencrypt_inside_rewrap():
    admin_sk = rewrap.SecretKey.generate()
    delegating_sk = rewrap.SecretKey.generate()
    consumer_sk = rewrap.SecretKey.generate()
    # The same keys on the umbral-pre side, from their bytes.
    u_admin = umbral_pre.SecretKey.from_be_bytes(admin_sk.to_bytes())
    u_delegating = umbral_pre.SecretKey.from_be_bytes(delegating_sk.to_bytes())
    u_consumer_pk = umbral_pre.PublicKey.from_compressed_bytes(consumer_sk.public_key().to_bytes())
    kfrags = umbral_pre.generate_kfrags(u_delegating, u_consumer_pk, umbral_pre.Signer(u_admin), 2, 3, True, True)

    admin = rewrap.Signer(admin_sk)
    grant = rewrap.Grant.from_umbral_kfrags(
        admin, delegating_sk.public_key(), "orders", "alice", consumer_sk.public_key(),
        [bytes(k) for k in kfrags], threshold=2,
    )
    # One re-encryptor per share: none accepts the whole 2-of-3 grant.
    with pytest.raises(rewrap.InvalidArgumentError):
        rewrap.ReEncryptor([admin.verifying_key]).add_grant(rewrap.Grant.from_bytes(bytes(grant)))
    proxies = []
    for i in range(3):
        re = rewrap.ReEncryptor([admin.verifying_key])
        re.add_grant(rewrap.Grant.from_bytes(bytes(grant.share(i))))
        proxies.append(re)
    producer_sk = rewrap.SecretKey.generate()
    enc = rewrap.Encryptor(delegating_sk.public_key())
    enc.set_signer(producer_sk)
    sealed = enc.seal("orders", b"k", b"made by umbral-pre")
    frags = [p.reencrypt("orders", sealed.edek, "alice")[0] for p in proxies]
    assert len(frags) == 3
    dec = rewrap.Decryptor(consumer_sk, [admin.verifying_key])
    dec.add_producer_grant(rewrap.ProducerGrant.issue(admin, "orders", producer_sk.public_key()))
    headers = sealed.headers + [(rewrap.CFRAG_HEADER, f) for f in frags[:2]]
    assert dec.open("orders", b"k", sealed.value, headers).value == b"made by umbral-pre"

    # Kfrags signed by another key are refused when wrapping.
    other = rewrap.Signer(rewrap.SecretKey.generate())
    try:
        rewrap.Grant.from_umbral_kfrags(
            other, delegating_sk.public_key(), "orders", "alice", consumer_sk.public_key(),
            [bytes(k) for k in kfrags], threshold=2,
        )
    except rewrap.InvalidKeyFragError:
        pass
    else:
        raise AssertionError("kfrags of another signer were accepted")
