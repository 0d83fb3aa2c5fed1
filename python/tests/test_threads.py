"""Handles shared between threads: one encryptor, one re-encryptor, one decryptor."""

import threading

import rewrap


def test_threads_share_handles(world):
    channel = rewrap.SecretKey.generate()
    key, dec = world.consumer()
    world.grant(channel, "t", "c", key.public_key())
    enc = world.producer(channel.public_key(), ["t"])
    ok = []
    errors = []

    def work(n):
        try:
            for i in range(200):
                payload = f"thread {n} message {i}".encode()
                key = f"{n}".encode()
                sealed = enc.seal("t", key, payload)
                if dec.open("t", key, sealed.value, world.headers_for("t", sealed, "c")).value == payload:
                    ok.append(1)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ok) == 8 * 200
    assert dec.stats()["dek_opens"] == 1  # one session, opened once for all threads
