/*
 * C tests of the rewrap ABI: the seed scenario (signed producers), producer authenticity (each
 * refusal by its named error), the shared vectors (tests/vectors/records.kv),
 * bad input of every kind, and handles shared between threads. Built with
 * -std=c11 -Wall -Wextra -Werror -pedantic and run under valgrind memcheck by `make test-c`.
 *
 * Usage: test_rewrap PATH/TO/records.kv
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rewrap.h"

static int passed, failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,      \
                    __LINE__, #cond, rewrap_last_error());                               \
        }                                                                                \
    } while (0)

#define EXPECT(call, code)                                                               \
    do {                                                                                 \
        rewrap_result rc_ = (call);                                                      \
        if (rc_ == (code)) {                                                             \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__,       \
                    __LINE__, #call, rewrap_result_name(rc_), rewrap_result_name(code),  \
                    rewrap_last_error());                                                \
        }                                                                                \
    } while (0)

#define OK(call) EXPECT(call, REWRAP_OK)

static const uint64_t NOW = 1700000000;

/* ---- helpers -------------------------------------------------------------------------- */

static const rewrap_secret_key *new_key(void) {
    const rewrap_secret_key *k = NULL;
    OK(rewrap_secret_key_generate(&k));
    return k;
}

static const rewrap_public_key *public_of(const rewrap_secret_key *k) {
    const rewrap_public_key *p = NULL;
    OK(rewrap_secret_key_public_key(k, &p));
    return p;
}

/* A record as a consumer fetches it: its Kafka key, value and headers (copied out of the
 * sealed record, so tests can damage them), and the cfrags the re-encryptor attached for that
 * consumer (none when it refused). `key` NULL is a null Kafka key. */
#define MAX_SEALED_HEADERS 4
typedef struct {
    const uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    size_t n_headers;
    const char *names[MAX_SEALED_HEADERS];
    uint8_t *values[MAX_SEALED_HEADERS];
    size_t lens[MAX_SEALED_HEADERS];
    rewrap_buf cfrags;
    size_t n_cfrags;
} fetched;

static const fetched NO_RECORD = {NULL, 0, NULL, 0, 0, {NULL}, {NULL}, {0}, {NULL, 0}, 0};

static uint8_t *copy_bytes(const uint8_t *data, size_t len) {
    uint8_t *out = malloc(len ? len : 1);
    if (len) memcpy(out, data, len);
    return out;
}

static void fetched_free(fetched *f) {
    free(f->value);
    for (size_t i = 0; i < f->n_headers; i++) free(f->values[i]);
    rewrap_buf_free(&f->cfrags);
    *f = NO_RECORD;
}

/* Seals into `f`: the record value and every header the sealed record carries. */
static rewrap_result seal_into(const rewrap_encryptor *enc, const char *topic, const char *key,
                               size_t key_len, const char *payload, size_t len, fetched *f) {
    const rewrap_sealed *sealed = NULL;
    *f = NO_RECORD;
    rewrap_result rc = rewrap_encryptor_seal(enc, topic, (const uint8_t *)key, key_len,
                                             (const uint8_t *)payload, len, &sealed);
    if (rc != REWRAP_OK) return rc;
    const uint8_t *value = NULL;
    size_t value_len = 0;
    const rewrap_header *headers = NULL;
    size_t n = 0;
    OK(rewrap_sealed_value(sealed, &value, &value_len));
    OK(rewrap_sealed_headers(sealed, &headers, &n));
    CHECK(n >= 1 && n <= 3);
    f->key = (const uint8_t *)key;
    f->key_len = key_len;
    f->value = copy_bytes(value, value_len);
    f->value_len = value_len;
    for (size_t i = 0; i < n && i < MAX_SEALED_HEADERS; i++) {
        f->names[i] = headers[i].name; /* static strings */
        f->values[i] = copy_bytes(headers[i].value, headers[i].value_len);
        f->lens[i] = headers[i].value_len;
        f->n_headers++;
    }
    rewrap_sealed_free(sealed);
    return REWRAP_OK;
}

/* The index of header `name` in `f`, or -1. */
static int header_index(const fetched *f, const char *name) {
    for (size_t i = 0; i < f->n_headers; i++) {
        if (strcmp(f->names[i], name) == 0) return (int)i;
    }
    return -1;
}

/* Drops header `name` from `f` (a stripped header). */
static void drop_header(fetched *f, const char *name) {
    int i = header_index(f, name);
    if (i < 0) return;
    free(f->values[i]);
    for (size_t j = (size_t)i + 1; j < f->n_headers; j++) {
        f->names[j - 1] = f->names[j];
        f->values[j - 1] = f->values[j];
        f->lens[j - 1] = f->lens[j];
    }
    f->n_headers--;
}

/* Adds header `name` (a copy of `value`) to `f`. */
static void add_header(fetched *f, const char *name, const uint8_t *value, size_t len) {
    if (f->n_headers == MAX_SEALED_HEADERS) return;
    f->names[f->n_headers] = name;
    f->values[f->n_headers] = copy_bytes(value, len);
    f->lens[f->n_headers] = len;
    f->n_headers++;
}

static uint8_t *edek_of(const fetched *f, size_t *len) {
    int i = header_index(f, REWRAP_EDEK_HEADER);
    *len = i < 0 ? 0 : f->lens[i];
    return i < 0 ? NULL : f->values[i];
}

static rewrap_result reencrypt_for(const rewrap_reencryptor *re, const char *topic, fetched *f,
                                   const char *consumer) {
    size_t edek_len;
    const uint8_t *edek = edek_of(f, &edek_len);
    rewrap_buf_free(&f->cfrags);
    f->n_cfrags = 0;
    return rewrap_reencryptor_reencrypt(re, topic, edek, edek_len, consumer, &f->cfrags,
                                        &f->n_cfrags);
}

/* Opens `f` as its consumer fetched it (key, value, all headers, cfrags); `info` may be NULL. */
static rewrap_result open_with_info(const rewrap_decryptor *dec, const char *topic,
                                    const fetched *f, rewrap_buf *plaintext,
                                    rewrap_record_info *info) {
    rewrap_header headers[16];
    size_t n = 0;
    for (size_t i = 0; i < f->n_headers; i++, n++) {
        headers[n].name = f->names[i];
        headers[n].value = f->values[i];
        headers[n].value_len = f->lens[i];
    }
    for (size_t i = 0; i < f->n_cfrags && n < 16; i++, n++) {
        headers[n].name = REWRAP_CFRAG_HEADER;
        headers[n].value = f->cfrags.data + i * REWRAP_CFRAG_HEADER_LEN;
        headers[n].value_len = REWRAP_CFRAG_HEADER_LEN;
    }
    rewrap_opened_kind kind = REWRAP_OPENED_TOMBSTONE;
    rewrap_result rc = rewrap_decryptor_open(dec, topic, f->key, f->key_len, f->value,
                                             f->value_len, headers, n, &kind, plaintext, info);
    if (rc == REWRAP_OK) {
        CHECK(kind == REWRAP_OPENED_DECRYPTED);
    }
    return rc;
}

static rewrap_result open_fetched(const rewrap_decryptor *dec, const char *topic,
                                  const fetched *f, rewrap_buf *plaintext) {
    return open_with_info(dec, topic, f, plaintext, NULL);
}

/* Opens `f` expecting `code`, freeing any plaintext. */
static rewrap_result open_code(const rewrap_decryptor *dec, const char *topic, const fetched *f) {
    rewrap_buf pt = {NULL, 0};
    rewrap_result rc = open_fetched(dec, topic, f, &pt);
    rewrap_buf_free(&pt);
    return rc;
}

/* A producer grant of `topic` to `producer`'s public key, added to `dec` (and `re` if not
 * NULL). */
static void grant_producer(const rewrap_secret_key *admin, const char *topic,
                           const rewrap_secret_key *producer, const rewrap_decryptor *dec,
                           const rewrap_reencryptor *re) {
    const rewrap_public_key *pub = NULL;
    OK(rewrap_secret_key_public_key(producer, &pub));
    rewrap_buf g = {NULL, 0};
    OK(rewrap_producer_grant_issue(admin, topic, pub, NOW - 10, 0, &g));
    if (dec) OK(rewrap_decryptor_add_producer_grant(dec, g.data, g.len));
    if (re) OK(rewrap_reencryptor_add_producer_grant(re, g.data, g.len));
    rewrap_buf_free(&g);
    rewrap_public_key_free(pub);
}

static const rewrap_encryptor *signed_encryptor(const rewrap_public_key *delegating,
                                                const rewrap_secret_key *signer) {
    const rewrap_encryptor *enc = NULL;
    OK(rewrap_encryptor_new(delegating, 0, 0, &enc));
    if (signer) OK(rewrap_encryptor_set_signer(enc, signer, REWRAP_SIGNING_SESSION));
    return enc;
}

/* ---- the seed scenario ----------------------------------------------------------------- */

/* The Kafka key of a scenario record: null, empty, or "key-N" in turn. */
static const char *scenario_key(int round, char *buf, size_t cap, size_t *len) {
    switch (round % 3) {
    case 0:
        *len = 0;
        return NULL;
    case 1:
        *len = 0;
        return buf; /* non-NULL, empty */
    default:
        *len = (size_t)snprintf(buf, cap, "key-%d", round);
        return buf;
    }
}

static void test_seed_scenario(void) {
    const char *topic = "orders";
    const rewrap_secret_key *admin = new_key();
    const rewrap_public_key *admin_pub = public_of(admin);
    const rewrap_secret_key *producer_keys[3], *signing_keys[3];
    const rewrap_public_key *producer_pubs[3], *signing_pubs[3];
    const rewrap_encryptor *producers[3];
    const rewrap_secret_key *consumer_keys[3];
    const rewrap_public_key *consumer_pubs[3];
    const rewrap_decryptor *consumers[3];
    const char *ids[3] = {"1", "2", "3"};
    const rewrap_reencryptor *re = NULL;

    OK(rewrap_reencryptor_new(&admin_pub, 1, 0, 0, &re));
    for (int i = 0; i < 3; i++) {
        producer_keys[i] = new_key();
        producer_pubs[i] = public_of(producer_keys[i]);
        signing_keys[i] = new_key();
        signing_pubs[i] = public_of(signing_keys[i]);
        producers[i] = signed_encryptor(producer_pubs[i], signing_keys[i]);
        consumer_keys[i] = new_key();
        consumer_pubs[i] = public_of(consumer_keys[i]);
        OK(rewrap_decryptor_new(consumer_keys[i], &admin_pub, 1, 0, 0, false, &consumers[i]));
    }
    /* Every consumer (and the re-encryptor) accepts the three producers' signatures. */
    for (int p = 0; p < 3; p++) {
        for (int c = 0; c < 3; c++) grant_producer(admin, topic, signing_keys[p], consumers[c], NULL);
        grant_producer(admin, topic, signing_keys[p], NULL, re);
    }
    /* Producer-key mode: grants a->1, a->2, b->1, ... through serialized bytes. */
    for (int p = 0; p < 3; p++) {
        for (int c = 0; c < 2; c++) {
            const rewrap_grant *g = NULL, *parsed = NULL;
            rewrap_buf bytes = {NULL, 0};
            OK(rewrap_grant_issue(admin, producer_keys[p], topic, ids[c], consumer_pubs[c], 1, 1,
                                  NOW - 10, 0, &g));
            OK(rewrap_grant_to_bytes(g, &bytes));
            OK(rewrap_grant_from_bytes(bytes.data, bytes.len, &parsed));
            /* Issued now by the system clock: verified by it (not NOW, which is years back). */
            OK(rewrap_grant_verify(parsed, admin_pub, (uint64_t)time(NULL) + 1));
            OK(rewrap_reencryptor_add_grant(re, parsed));
            rewrap_buf_free(&bytes);
            rewrap_grant_free(parsed);
            rewrap_grant_free(g);
        }
    }

    int reads[3] = {0, 0, 0};
    uint8_t sessions[3][REWRAP_SESSION_ID_LEN];
    const int rounds = 20;
    for (int round = 0; round < rounds; round++) {
        for (int p = 0; p < 3; p++) {
            char payload[64], key_buf[32];
            size_t key_len;
            const char *key = scenario_key(round, key_buf, sizeof key_buf, &key_len);
            int len = snprintf(payload, sizeof payload, "message %d from producer %d", round, p);
            fetched f;
            OK(seal_into(producers[p], topic, key, key_len, payload, (size_t)len, &f));
            CHECK(f.n_headers == 2 && header_index(&f, "rewrap.sig") == 1);
            /* The re-encryptor checks the producer before serving fragments. */
            size_t edek_len;
            const uint8_t *edek = edek_of(&f, &edek_len);
            rewrap_buf chsig = {NULL, 0};
            OK(rewrap_reencryptor_attest(re, topic, edek, edek_len, f.values[1], f.lens[1],
                                         &chsig));
            CHECK(chsig.len == 0); /* no channel seed */
            rewrap_buf_free(&chsig);
            for (int c = 0; c < 3; c++) {
                rewrap_result rc = reencrypt_for(re, topic, &f, ids[c]);
                CHECK(c < 2 ? rc == REWRAP_OK : rc == REWRAP_NOT_GRANTED);
                rewrap_buf pt = {NULL, 0};
                rewrap_record_info info;
                rc = open_with_info(consumers[c], topic, &f, &pt, &info);
                if (c < 2) {
                    CHECK(rc == REWRAP_OK && pt.len == (size_t)len &&
                          memcmp(pt.data, payload, (size_t)len) == 0);
                    reads[c] += rc == REWRAP_OK;
                    if (rc == REWRAP_OK) {
                        uint8_t id[REWRAP_KEY_ID_LEN];
                        OK(rewrap_public_key_id(signing_pubs[p], id, sizeof id));
                        CHECK(info.vouch == REWRAP_VOUCH_PRODUCER);
                        CHECK(info.mode == REWRAP_SIGNING_SESSION);
                        CHECK(info.counter == (uint64_t)round);
                        CHECK(info.has_producer &&
                              memcmp(info.producer_key_id, id, sizeof id) == 0);
                        if (round == 0 && c == 0) {
                            memcpy(sessions[p], info.session, sizeof info.session);
                        }
                        CHECK(memcmp(sessions[p], info.session, sizeof info.session) == 0);
                    }
                } else {
                    CHECK(rc == REWRAP_MISSING_CFRAG);
                }
                rewrap_buf_free(&pt);
            }
            fetched_free(&f);
        }
    }
    CHECK(reads[0] == 3 * rounds && reads[1] == 3 * rounds);

    /* One Umbral re-encryption per (session, granted consumer); one DEK open per session. */
    rewrap_reencryptor_stats rs;
    OK(rewrap_reencryptor_get_stats(re, &rs));
    CHECK(rs.reencryptions == 6);
    CHECK(rs.grants == 6);
    CHECK(rs.refused == (uint64_t)(3 * rounds));
    rewrap_decryptor_stats ds;
    OK(rewrap_decryptor_get_stats(consumers[0], &ds));
    CHECK(ds.dek_opens == 3);
    CHECK(ds.cache.hits == (uint64_t)(3 * rounds - 3));

    /* Revoke 2; new sessions are closed to it and still open to 1. */
    size_t removed = 0;
    OK(rewrap_reencryptor_revoke(re, topic, "2", &removed));
    CHECK(removed == 3);
    for (int p = 0; p < 3; p++) {
        OK(rewrap_encryptor_rotate(producers[p]));
        fetched f;
        OK(seal_into(producers[p], topic, "k", 1, "later", 5, &f));
        rewrap_buf pt = {NULL, 0};
        EXPECT(reencrypt_for(re, topic, &f, "2"), REWRAP_REVOKED);
        EXPECT(open_fetched(consumers[1], topic, &f, &pt), REWRAP_MISSING_CFRAG);
        OK(reencrypt_for(re, topic, &f, "1"));
        OK(open_fetched(consumers[0], topic, &f, &pt));
        CHECK(pt.len == 5 && memcmp(pt.data, "later", 5) == 0);
        rewrap_buf_free(&pt);
        fetched_free(&f);
    }

    for (int i = 0; i < 3; i++) {
        rewrap_encryptor_free(producers[i]);
        rewrap_public_key_free(producer_pubs[i]);
        rewrap_secret_key_free(producer_keys[i]);
        rewrap_public_key_free(signing_pubs[i]);
        rewrap_secret_key_free(signing_keys[i]);
        rewrap_decryptor_free(consumers[i]);
        rewrap_public_key_free(consumer_pubs[i]);
        rewrap_secret_key_free(consumer_keys[i]);
    }
    rewrap_reencryptor_free(re);
    rewrap_public_key_free(admin_pub);
    rewrap_secret_key_free(admin);
}

/* ---- producer authenticity ------------------------------------------------------------ */

/* One consumer of topic "t" (and "u") in channel-key mode, as in the issue's threat model: the
 * delegating key is public, so anyone can encrypt a DEK of their own to it. */
typedef struct {
    const rewrap_secret_key *admin, *chan, *me, *producer, *attacker;
    const rewrap_public_key *admin_pub, *chan_pub, *me_pub, *producer_pub;
    const rewrap_reencryptor *re;
    const rewrap_decryptor *dec;
} world;

static world world_new(void) {
    world w;
    w.admin = new_key();
    w.chan = new_key();
    w.me = new_key();
    w.producer = new_key();
    w.attacker = new_key();
    w.admin_pub = public_of(w.admin);
    w.chan_pub = public_of(w.chan);
    w.me_pub = public_of(w.me);
    w.producer_pub = public_of(w.producer);
    OK(rewrap_reencryptor_new(&w.admin_pub, 1, 0, 0, &w.re));
    OK(rewrap_decryptor_new(w.me, &w.admin_pub, 1, 0, 0, false, &w.dec));
    const char *topics[2] = {"t", "u"};
    for (int i = 0; i < 2; i++) {
        const rewrap_grant *g = NULL;
        OK(rewrap_grant_issue(w.admin, w.chan, topics[i], "me", w.me_pub, 1, 1, NOW - 10, 0, &g));
        OK(rewrap_reencryptor_add_grant(w.re, g));
        rewrap_grant_free(g);
    }
    grant_producer(w.admin, "t", w.producer, w.dec, w.re); /* "t" only */
    return w;
}

static void world_free(world *w) {
    rewrap_decryptor_free(w->dec);
    rewrap_reencryptor_free(w->re);
    rewrap_public_key_free(w->admin_pub);
    rewrap_public_key_free(w->chan_pub);
    rewrap_public_key_free(w->me_pub);
    rewrap_public_key_free(w->producer_pub);
    rewrap_secret_key_free(w->admin);
    rewrap_secret_key_free(w->chan);
    rewrap_secret_key_free(w->me);
    rewrap_secret_key_free(w->producer);
    rewrap_secret_key_free(w->attacker);
}

/* Seals one record of `topic` under key "k" with `enc` and fetches its cfrags for "me". */
static fetched fetch(const world *w, const rewrap_encryptor *enc, const char *topic,
                     const char *payload) {
    fetched f;
    OK(seal_into(enc, topic, "k", 1, payload, strlen(payload), &f));
    OK(reencrypt_for(w->re, topic, &f, "me"));
    return f;
}

static void test_signed_record_opens_with_its_producer(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "t", "hello");
    rewrap_buf pt = {NULL, 0};
    rewrap_record_info info;
    OK(open_with_info(w.dec, "t", &f, &pt, &info));
    CHECK(pt.len == 5 && memcmp(pt.data, "hello", 5) == 0);
    uint8_t pk[REWRAP_PUBLIC_KEY_LEN];
    OK(rewrap_public_key_to_bytes(w.producer_pub, pk, sizeof pk));
    CHECK(info.vouch == REWRAP_VOUCH_PRODUCER && info.mode == REWRAP_SIGNING_SESSION);
    CHECK(info.counter == 0 && info.has_producer && memcmp(info.producer, pk, sizeof pk) == 0);
    rewrap_buf_free(&pt);
    fetched g = fetch(&w, enc, "t", "again");
    rewrap_record_info info2;
    OK(open_with_info(w.dec, "t", &g, &pt, &info2));
    CHECK(info2.counter == 1 && memcmp(info.session, info2.session, sizeof info.session) == 0);
    rewrap_buf_free(&pt);
    fetched_free(&g);
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

/* Compression before sealing: the algorithm byte says which codec shrank the payload; the
 * consumer needs no setting. */
static void test_compressed_records_open_without_a_reader_setting(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    EXPECT(rewrap_encryptor_set_compression(NULL, REWRAP_COMPRESSION_LZ4, 0),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_encryptor_set_compression(enc, 9, 0), REWRAP_INVALID_ARGUMENT);
    EXPECT(rewrap_encryptor_set_compression(enc, REWRAP_COMPRESSION_ZSTD, 23),
           REWRAP_INVALID_ARGUMENT);
    const char *json = "{\"id\":1,\"user\":\"alice\",\"action\":\"view\"}\n"
                       "{\"id\":2,\"user\":\"alice\",\"action\":\"view\"}\n"
                       "{\"id\":3,\"user\":\"alice\",\"action\":\"view\"}\n"
                       "{\"id\":4,\"user\":\"alice\",\"action\":\"view\"}\n";
    const uint32_t codecs[] = {REWRAP_COMPRESSION_LZ4, REWRAP_COMPRESSION_ZSTD,
                               REWRAP_COMPRESSION_NONE};
    const uint8_t algs[] = {2, 3, 1};
    for (size_t i = 0; i < 3; i++) {
        OK(rewrap_encryptor_set_compression(enc, codecs[i], 0));
        fetched f = fetch(&w, enc, "t", json);
        CHECK(f.value[3] == algs[i]);
        CHECK((f.value_len < strlen(json) + REWRAP_ENVELOPE_OVERHEAD) == (algs[i] != 1));
        rewrap_buf pt = {NULL, 0};
        OK(open_fetched(w.dec, "t", &f, &pt));
        CHECK(pt.len == strlen(json) && memcmp(pt.data, json, pt.len) == 0);
        rewrap_buf_free(&pt);
        fetched_free(&f);
    }
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_forged_unsigned_record_is_unsigned(void) {
    world w = world_new();
    /* The attacker encrypts a DEK of their own to the public delegating key, unsigned. */
    const rewrap_encryptor *forger = signed_encryptor(w.chan_pub, NULL);
    fetched f = fetch(&w, forger, "t", "forged");
    CHECK(f.n_headers == 1);
    EXPECT(open_code(w.dec, "t", &f), REWRAP_UNSIGNED);
    size_t edek_len;
    const uint8_t *edek = edek_of(&f, &edek_len);
    rewrap_buf chsig = {NULL, 0};
    EXPECT(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, NULL, 0, &chsig),
           REWRAP_UNSIGNED);
    fetched_free(&f);
    rewrap_encryptor_free(forger);
    world_free(&w);
}

static void test_forged_record_signed_by_stranger_is_unauthorized(void) {
    world w = world_new();
    const rewrap_encryptor *forger = signed_encryptor(w.chan_pub, w.attacker);
    fetched f = fetch(&w, forger, "t", "forged");
    EXPECT(open_code(w.dec, "t", &f), REWRAP_UNAUTHORIZED_PRODUCER);
    size_t edek_len;
    const uint8_t *edek = edek_of(&f, &edek_len);
    int sig = header_index(&f, "rewrap.sig");
    CHECK(sig >= 0);
    rewrap_buf chsig = {NULL, 0};
    if (sig >= 0) {
        EXPECT(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, f.values[sig], f.lens[sig],
                                         &chsig),
               REWRAP_UNAUTHORIZED_PRODUCER);
    }
    fetched_free(&f);
    rewrap_encryptor_free(forger);
    world_free(&w);
}

static void test_value_moved_to_another_key_fails_authentication(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "t", "bound to key k");
    OK(open_code(w.dec, "t", &f));
    f.key = (const uint8_t *)"j";
    EXPECT(open_code(w.dec, "t", &f), REWRAP_AUTHENTICATION_FAILED);
    f.key = NULL; /* a null key is not the key "k" */
    f.key_len = 0;
    EXPECT(open_code(w.dec, "t", &f), REWRAP_AUTHENTICATION_FAILED);
    fetched_free(&f);

    /* A null key and an empty key are different keys. */
    OK(seal_into(enc, "t", NULL, 0, "null key", 8, &f));
    OK(reencrypt_for(w.re, "t", &f, "me"));
    OK(open_code(w.dec, "t", &f));
    f.key = (const uint8_t *)"";
    EXPECT(open_code(w.dec, "t", &f), REWRAP_AUTHENTICATION_FAILED);
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_altered_session_signature_is_bad_signature(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "t", "signed");
    int sig = header_index(&f, "rewrap.sig");
    CHECK(sig >= 0);
    if (sig >= 0) {
        f.values[sig][f.lens[sig] - 1] ^= 1; /* a byte of the signature itself */
        EXPECT(open_code(w.dec, "t", &f), REWRAP_BAD_SIGNATURE);
        size_t edek_len;
        const uint8_t *edek = edek_of(&f, &edek_len);
        rewrap_buf chsig = {NULL, 0};
        EXPECT(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, f.values[sig], f.lens[sig],
                                         &chsig),
               REWRAP_BAD_SIGNATURE);
        f.values[sig][f.lens[sig] - 1] ^= 1;
        OK(open_code(w.dec, "t", &f));
        /* Once the session is cached, a record claiming another signature is checked again. */
        f.values[sig][f.lens[sig] - 1] ^= 1;
        EXPECT(open_code(w.dec, "t", &f), REWRAP_BAD_SIGNATURE);
        f.values[sig][f.lens[sig] - 1] ^= 1;
        drop_header(&f, "rewrap.sig");
        EXPECT(open_code(w.dec, "t", &f), REWRAP_UNSIGNED);
    }
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_producer_not_granted_for_topic_is_unauthorized(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "u", "wrong topic for this producer");
    EXPECT(open_code(w.dec, "u", &f), REWRAP_UNAUTHORIZED_PRODUCER);
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_revoked_producer_cannot_open_new_session(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "t", "before");
    OK(open_code(w.dec, "t", &f));
    fetched_free(&f);
    uint8_t id[REWRAP_KEY_ID_LEN];
    OK(rewrap_public_key_id(w.producer_pub, id, sizeof id));
    bool removed = false;
    OK(rewrap_decryptor_revoke_producer(w.dec, "t", id, sizeof id, &removed));
    CHECK(removed);
    OK(rewrap_decryptor_revoke_producer(w.dec, "t", id, sizeof id, &removed));
    CHECK(!removed);
    EXPECT(rewrap_decryptor_revoke_producer(w.dec, "t", id, 7, NULL), REWRAP_INVALID_ARGUMENT);
    OK(rewrap_encryptor_rotate(enc));
    f = fetch(&w, enc, "t", "after");
    EXPECT(open_code(w.dec, "t", &f), REWRAP_UNAUTHORIZED_PRODUCER);
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_policies(void) {
    world w = world_new();
    const rewrap_encryptor *unsigned_enc = signed_encryptor(w.chan_pub, NULL);
    const rewrap_encryptor *stranger = signed_encryptor(w.chan_pub, w.attacker);
    fetched plain = fetch(&w, unsigned_enc, "t", "unsigned");
    fetched foreign = fetch(&w, stranger, "t", "stranger");
    rewrap_buf pt = {NULL, 0};
    rewrap_record_info info;

    EXPECT(rewrap_decryptor_set_policy(w.dec, "t", 3), REWRAP_INVALID_ARGUMENT);
    EXPECT(rewrap_decryptor_set_policy(NULL, "t", REWRAP_POLICY_OFF), REWRAP_NULL_PARAMETER);

    /* Optional: unsigned accepted and said so; signed ones still checked. */
    OK(rewrap_decryptor_set_policy(w.dec, "t", REWRAP_POLICY_OPTIONAL));
    OK(open_with_info(w.dec, "t", &plain, &pt, &info));
    CHECK(info.vouch == REWRAP_VOUCH_UNSIGNED && !info.has_producer &&
          info.mode == REWRAP_SIGNING_NONE);
    rewrap_buf_free(&pt);
    EXPECT(open_code(w.dec, "t", &foreign), REWRAP_UNAUTHORIZED_PRODUCER);

    /* Off (the per-topic setting): nothing checked. */
    OK(rewrap_decryptor_set_policy(w.dec, "t", REWRAP_POLICY_OFF));
    OK(open_with_info(w.dec, "t", &plain, &pt, &info));
    CHECK(pt.len == 8 && memcmp(pt.data, "unsigned", 8) == 0);
    CHECK(info.vouch == REWRAP_VOUCH_UNSIGNED);
    rewrap_buf_free(&pt);
    OK(open_code(w.dec, "t", &foreign));

    /* Back to require through the default: a topic's own setting wins over the default. */
    OK(rewrap_decryptor_set_policy(w.dec, NULL, REWRAP_POLICY_OFF));
    OK(rewrap_decryptor_set_policy(w.dec, "t", REWRAP_POLICY_REQUIRE));
    EXPECT(open_code(w.dec, "t", &plain), REWRAP_UNSIGNED);

    fetched_free(&plain);
    fetched_free(&foreign);
    rewrap_encryptor_free(unsigned_enc);
    rewrap_encryptor_free(stranger);
    world_free(&w);
}

static void test_record_mode(void) {
    world w = world_new();
    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, NULL);
    EXPECT(rewrap_encryptor_set_signer(enc, w.producer, 0), REWRAP_INVALID_ARGUMENT);
    EXPECT(rewrap_encryptor_set_signer(enc, w.producer, 9), REWRAP_INVALID_ARGUMENT);
    OK(rewrap_encryptor_set_signer(enc, w.producer, REWRAP_SIGNING_RECORD));
    fetched f = fetch(&w, enc, "t", "every record signed");
    CHECK(f.n_headers == 3);
    CHECK(header_index(&f, REWRAP_EDEK_HEADER) == 0 && header_index(&f, "rewrap.sig") == 1 &&
          header_index(&f, "rewrap.rsig") == 2);
    rewrap_buf pt = {NULL, 0};
    rewrap_record_info info;
    OK(open_with_info(w.dec, "t", &f, &pt, &info));
    CHECK(info.mode == REWRAP_SIGNING_RECORD && info.vouch == REWRAP_VOUCH_PRODUCER);
    rewrap_buf_free(&pt);
    int rsig = header_index(&f, "rewrap.rsig");
    if (rsig >= 0) {
        f.values[rsig][f.lens[rsig] - 1] ^= 1;
        EXPECT(open_code(w.dec, "t", &f), REWRAP_BAD_SIGNATURE);
        f.values[rsig][f.lens[rsig] - 1] ^= 1;
        drop_header(&f, "rewrap.rsig");
        EXPECT(open_code(w.dec, "t", &f), REWRAP_UNSIGNED);
    }
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    world_free(&w);
}

static void test_channel_signature_vouches_for_checked_producer(void) {
    world w = world_new();
    uint8_t seed[32];
    memset(seed, 7, sizeof seed);
    const rewrap_public_key *none = NULL, *chkey = NULL;
    OK(rewrap_reencryptor_channel_key(w.re, "t", &none));
    CHECK(none == NULL);
    EXPECT(rewrap_reencryptor_set_channel_seed(w.re, seed, 31), REWRAP_INVALID_ARGUMENT);
    OK(rewrap_reencryptor_set_channel_seed(w.re, seed, sizeof seed));
    OK(rewrap_reencryptor_channel_key(w.re, "t", &chkey));
    CHECK(chkey != NULL);

    /* A consumer with no producer grant of its own trusts the channel key instead. */
    const rewrap_decryptor *dec = NULL;
    OK(rewrap_decryptor_new(w.me, &w.admin_pub, 1, 0, 0, false, &dec));
    OK(rewrap_decryptor_trust_channel_key(dec, "t", chkey));

    const rewrap_encryptor *enc = signed_encryptor(w.chan_pub, w.producer);
    fetched f = fetch(&w, enc, "t", "vouched");
    size_t edek_len;
    const uint8_t *edek = edek_of(&f, &edek_len);
    int sig = header_index(&f, "rewrap.sig");
    rewrap_buf chsig = {NULL, 0};
    OK(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, f.values[sig], f.lens[sig], &chsig));
    CHECK(chsig.len > 0);
    EXPECT(open_code(dec, "t", &f), REWRAP_UNAUTHORIZED_PRODUCER); /* without the chsig */
    add_header(&f, "rewrap.chsig", chsig.data, chsig.len);
    rewrap_buf pt = {NULL, 0};
    rewrap_record_info info;
    OK(open_with_info(dec, "t", &f, &pt, &info));
    CHECK(info.vouch == REWRAP_VOUCH_CHANNEL);
    rewrap_buf_free(&pt);
    rewrap_buf_free(&chsig);

    /* Re-encryptor producer revocation: its attestation refuses the producer's sessions. */
    uint8_t id[REWRAP_KEY_ID_LEN];
    OK(rewrap_public_key_id(w.producer_pub, id, sizeof id));
    bool removed = false;
    OK(rewrap_reencryptor_revoke_producer(w.re, "t", id, sizeof id, &removed));
    CHECK(removed);
    OK(rewrap_reencryptor_set_policy(w.re, "t", REWRAP_POLICY_REQUIRE));
    EXPECT(rewrap_reencryptor_set_policy(w.re, NULL, 5), REWRAP_INVALID_ARGUMENT);
    OK(rewrap_encryptor_rotate(enc));
    fetched g = fetch(&w, enc, "t", "after revocation");
    edek = edek_of(&g, &edek_len);
    sig = header_index(&g, "rewrap.sig");
    EXPECT(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, g.values[sig], g.lens[sig],
                                     &chsig),
           REWRAP_UNAUTHORIZED_PRODUCER);
    /* Policy off at the re-encryptor: nothing checked, nothing vouched. */
    OK(rewrap_reencryptor_set_policy(w.re, "t", REWRAP_POLICY_OFF));
    OK(rewrap_reencryptor_attest(w.re, "t", edek, edek_len, NULL, 0, &chsig));
    rewrap_buf_free(&chsig);

    fetched_free(&g);
    fetched_free(&f);
    rewrap_encryptor_free(enc);
    rewrap_decryptor_free(dec);
    rewrap_public_key_free(chkey);
    world_free(&w);
}

static void test_producer_grants(void) {
    world w = world_new();
    const rewrap_secret_key *other_admin = new_key();
    const rewrap_public_key *other_pub = public_of(other_admin);
    rewrap_buf g = {NULL, 0};
    OK(rewrap_producer_grant_issue(w.admin, "t", w.producer_pub, NOW - 10, NOW + 3600, &g));
    OK(rewrap_producer_grant_verify(g.data, g.len, &w.admin_pub, 1, NOW));
    EXPECT(rewrap_producer_grant_verify(g.data, g.len, &other_pub, 1, NOW),
           REWRAP_UNTRUSTED_GRANT);
    EXPECT(rewrap_producer_grant_verify(g.data, g.len, &w.admin_pub, 1, NOW + 7200),
           REWRAP_GRANT_EXPIRED);
    const rewrap_public_key *named = NULL;
    OK(rewrap_producer_grant_producer(g.data, g.len, &named));
    uint8_t a[REWRAP_PUBLIC_KEY_LEN], b[REWRAP_PUBLIC_KEY_LEN];
    OK(rewrap_public_key_to_bytes(named, a, sizeof a));
    OK(rewrap_public_key_to_bytes(w.producer_pub, b, sizeof b));
    CHECK(memcmp(a, b, sizeof a) == 0);
    rewrap_public_key_free(named);
    EXPECT(rewrap_producer_grant_verify(g.data, 10, &w.admin_pub, 1, NOW), REWRAP_TRUNCATED);
    g.data[g.len - 1] ^= 1;
    EXPECT(rewrap_decryptor_add_producer_grant(w.dec, g.data, g.len), REWRAP_UNTRUSTED_GRANT);
    rewrap_buf_free(&g);

    /* A grant from an administrator the consumer does not trust is refused. */
    OK(rewrap_producer_grant_issue(other_admin, "t", w.producer_pub, NOW - 10, 0, &g));
    EXPECT(rewrap_decryptor_add_producer_grant(w.dec, g.data, g.len), REWRAP_UNTRUSTED_GRANT);
    EXPECT(rewrap_reencryptor_add_producer_grant(w.re, g.data, g.len), REWRAP_UNTRUSTED_GRANT);
    rewrap_buf_free(&g);
    EXPECT(rewrap_producer_grant_issue(w.admin, "t", w.producer_pub, NOW, NOW, &g),
           REWRAP_INVALID_ARGUMENT);
    EXPECT(rewrap_producer_grant_issue(w.admin, "", w.producer_pub, NOW, 0, &g),
           REWRAP_INVALID_ARGUMENT);

    /* NULL parameters of the new functions. */
    EXPECT(rewrap_producer_grant_issue(NULL, "t", w.producer_pub, NOW, 0, &g),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_producer_grant_issue(w.admin, NULL, w.producer_pub, NOW, 0, &g),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_producer_grant_verify(NULL, 0, &w.admin_pub, 1, NOW), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_decryptor_add_producer_grant(w.dec, NULL, 0), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_decryptor_trust_channel_key(w.dec, "t", NULL), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_decryptor_revoke_producer(w.dec, "t", NULL, 8, NULL), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_encryptor_set_signer(NULL, w.producer, REWRAP_SIGNING_SESSION),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_encryptor_seal(NULL, "t", NULL, 0, (const uint8_t *)"x", 1, NULL),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_reencryptor_attest(w.re, "t", NULL, 0, NULL, 0, NULL), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_sealed_value(NULL, NULL, NULL), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_sealed_headers(NULL, NULL, NULL), REWRAP_NULL_PARAMETER);
    rewrap_sealed_free(NULL);
    CHECK(strcmp(rewrap_result_name(REWRAP_UNAUTHORIZED_PRODUCER),
                 "REWRAP_UNAUTHORIZED_PRODUCER") == 0);

    rewrap_public_key_free(other_pub);
    rewrap_secret_key_free(other_admin);
    world_free(&w);
}

static void test_producer_authenticity(void) {
    test_signed_record_opens_with_its_producer();
    test_compressed_records_open_without_a_reader_setting();
    test_forged_unsigned_record_is_unsigned();
    test_forged_record_signed_by_stranger_is_unauthorized();
    test_value_moved_to_another_key_fails_authentication();
    test_altered_session_signature_is_bad_signature();
    test_producer_not_granted_for_topic_is_unauthorized();
    test_revoked_producer_cannot_open_new_session();
    test_policies();
    test_record_mode();
    test_channel_signature_vouches_for_checked_producer();
    test_producer_grants();
}

/* ---- shared vectors -------------------------------------------------------------------- */

/* tests/vectors/records.kv: "NAME FIELD VALUE" lines ("-" = empty, "null" = absent; lists as
 * FIELD N then FIELD-without-s0..; tests/vectors.rs writes them from records.json). Every
 * accept case opens record by record to its recorded result; every reject vector fails with
 * its recorded code. */

#include <stdarg.h>

#define VCHECK(name, cond)                                                               \
    do {                                                                                 \
        if (cond) {                                                                      \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: vector %s: check failed: %s (last error: %s)\n",     \
                    __FILE__, __LINE__, (name), #cond, rewrap_last_error());             \
        }                                                                                \
    } while (0)

typedef struct {
    char *name;
    char *field;
    char *value;
} kv_entry;

static kv_entry *kv_entries;
static size_t kv_len, kv_cap;
static uint64_t vectors_now;

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    memcpy(d, s, n);
    return d;
}

static int load_kv(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 0;
    }
    static char line[1 << 16];
    int ok = 1;
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        } else if (!feof(f)) {
            fprintf(stderr, "%s: line longer than %zu bytes\n", path, sizeof line);
            ok = 0;
            break;
        }
        if (n == 0 || line[0] == '#') continue;
        char *field = strchr(line, ' ');
        char *value = field ? strchr(field + 1, ' ') : NULL;
        if (!value) continue;
        *field++ = '\0';
        *value++ = '\0';
        if (kv_len == kv_cap) {
            kv_cap = kv_cap ? 2 * kv_cap : 1024;
            kv_entries = realloc(kv_entries, kv_cap * sizeof *kv_entries);
        }
        kv_entries[kv_len].name = dup_str(line);
        kv_entries[kv_len].field = dup_str(field);
        kv_entries[kv_len].value = dup_str(strcmp(value, "-") == 0 ? "" : value);
        kv_len++;
    }
    fclose(f);
    return ok;
}

static void kv_free(void) {
    for (size_t i = 0; i < kv_len; i++) {
        free(kv_entries[i].name);
        free(kv_entries[i].field);
        free(kv_entries[i].value);
    }
    free(kv_entries);
    kv_entries = NULL;
    kv_len = kv_cap = 0;
}

static const char *kv_va(const char *name, const char *fmt, va_list ap) {
    char field[128];
    vsnprintf(field, sizeof field, fmt, ap);
    for (size_t i = 0; i < kv_len; i++) {
        if (strcmp(kv_entries[i].name, name) == 0 && strcmp(kv_entries[i].field, field) == 0) {
            return kv_entries[i].value;
        }
    }
    return NULL;
}

/* The value of NAME FIELD, FIELD printf-formatted; NULL if absent. */
static const char *kv(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *v = kv_va(name, fmt, ap);
    va_end(ap);
    return v;
}

static long kv_long(const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *v = kv_va(name, fmt, ap);
    va_end(ap);
    return v ? strtol(v, NULL, 10) : -1;
}

/* Decodes a hex field into a malloc'd buffer (caller frees); NULL for "null" or absent. */
static uint8_t *kv_bytes(size_t *len, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *hex = kv_va(name, fmt, ap);
    va_end(ap);
    *len = 0;
    if (!hex || strcmp(hex, "null") == 0) return NULL;
    size_t n = strlen(hex) / 2;
    uint8_t *out = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int b = 0;
        sscanf(hex + 2 * i, "%2x", &b);
        out[i] = (uint8_t)b;
    }
    *len = n;
    return out;
}

static int equals_hex(const uint8_t *data, size_t len, const char *hex) {
    if (!hex || strlen(hex) != 2 * len) return 0;
    for (size_t i = 0; i < len; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02x", data[i]);
        if (memcmp(two, hex + 2 * i, 2) != 0) return 0;
    }
    return 1;
}

/* A record's headers: PREFIX "headers" N, PREFIX "header<i>.name" / ".value". */
typedef struct {
    rewrap_header *list;
    uint8_t **values;
    size_t n;
} header_list;

static header_list kv_headers(const char *name, const char *prefix) {
    header_list h;
    long n = kv_long(name, "%sheaders", prefix);
    h.n = n > 0 ? (size_t)n : 0;
    h.list = calloc(h.n ? h.n : 1, sizeof *h.list);
    h.values = calloc(h.n ? h.n : 1, sizeof *h.values);
    for (size_t i = 0; i < h.n; i++) {
        size_t len;
        h.list[i].name = kv(name, "%sheader%zu.name", prefix, i);
        h.values[i] = kv_bytes(&len, name, "%sheader%zu.value", prefix, i);
        h.list[i].value = h.values[i];
        h.list[i].value_len = len;
    }
    return h;
}

static void headers_free(header_list *h) {
    for (size_t i = 0; i < h->n; i++) free(h->values[i]);
    free(h->values);
    free(h->list);
}

static rewrap_opened_kind opened_kind(const char *opened) {
    if (strcmp(opened, "tombstone") == 0) return REWRAP_OPENED_TOMBSTONE;
    if (strcmp(opened, "unencrypted_allowed") == 0) return REWRAP_OPENED_UNENCRYPTED_ALLOWED;
    return REWRAP_OPENED_DECRYPTED;
}

/* A grant (or a share) parses, re-serializes to the same bytes and verifies. */
static void check_grant(const char *name, const char *field, const rewrap_public_key *admin) {
    size_t len;
    uint8_t *bytes = kv_bytes(&len, name, "%s", field);
    const rewrap_grant *grant = NULL;
    OK(rewrap_grant_from_bytes(bytes, len, &grant));
    if (grant) {
        OK(rewrap_grant_verify(grant, admin, vectors_now));
        rewrap_buf again = {NULL, 0};
        OK(rewrap_grant_to_bytes(grant, &again));
        VCHECK(name, again.len == len && memcmp(again.data, bytes, len) == 0);
        rewrap_buf_free(&again);
        rewrap_grant_free(grant);
    }
    free(bytes);
}

static rewrap_vouch vouch_named(const char *name) {
    if (strcmp(name, "producer") == 0) return REWRAP_VOUCH_PRODUCER;
    if (strcmp(name, "channel") == 0) return REWRAP_VOUCH_CHANNEL;
    return REWRAP_VOUCH_UNSIGNED;
}

static uint32_t policy_named(const char *name) {
    if (strcmp(name, "optional") == 0) return REWRAP_POLICY_OPTIONAL;
    if (strcmp(name, "off") == 0) return REWRAP_POLICY_OFF;
    return REWRAP_POLICY_REQUIRE;
}

/* What a vector's reader trusts beyond the administrator: its policy ("policy": require,
 * optional or off; absent = the default, require), its producer grants ("producer_grants" N,
 * "producer_grant<i>" hex) and a channel signing key ("channel_signing_key" hex). */
static void vector_trust(const char *name, const char *topic, const rewrap_decryptor *dec) {
    const char *policy = kv(name, "policy");
    if (policy) OK(rewrap_decryptor_set_policy(dec, NULL, policy_named(policy)));
    long n = kv_long(name, "producer_grants");
    for (long i = 0; i < n; i++) {
        size_t len;
        uint8_t *g = kv_bytes(&len, name, "producer_grant%ld", i);
        OK(rewrap_decryptor_add_producer_grant(dec, g, len));
        free(g);
    }
    size_t len;
    uint8_t *ch = kv_bytes(&len, name, "channel_signing_key");
    if (ch && topic) {
        const rewrap_public_key *key = NULL;
        OK(rewrap_public_key_from_bytes(ch, len, &key));
        OK(rewrap_decryptor_trust_channel_key(dec, topic, key));
        rewrap_public_key_free(key);
    }
    free(ch);
}

static void test_vector_case(const char *name) {
    const char *topic = kv(name, "topic");
    VCHECK(name, topic != NULL);
    if (!topic) return;
    size_t len;
    uint8_t *admin_bytes = kv_bytes(&len, name, "admin_public_key");
    const rewrap_public_key *admin = NULL;
    OK(rewrap_public_key_from_bytes(admin_bytes, len, &admin));
    uint8_t *sk_bytes = kv_bytes(&len, name, "consumer_secret_key");
    const rewrap_secret_key *sk = NULL;
    OK(rewrap_secret_key_from_bytes(sk_bytes, len, &sk));

    /* Public keys and key ids are what the case records. */
    const rewrap_public_key *consumer_pub = public_of(sk);
    uint8_t pub[REWRAP_PUBLIC_KEY_LEN], id[REWRAP_KEY_ID_LEN];
    OK(rewrap_public_key_to_bytes(consumer_pub, pub, sizeof pub));
    OK(rewrap_public_key_id(consumer_pub, id, sizeof id));
    VCHECK(name, equals_hex(pub, sizeof pub, kv(name, "consumer_public_key")));
    VCHECK(name, equals_hex(id, sizeof id, kv(name, "consumer_key_id")));

    /* The grant and each share as its own bytes. */
    check_grant(name, "grant", admin);
    long n_shares = kv_long(name, "grant_shares");
    for (long i = 0; i < n_shares; i++) {
        char field[32];
        snprintf(field, sizeof field, "grant_share%ld", i);
        check_grant(name, field, admin);
    }

    /* Every record, in order, through one decryptor. */
    const rewrap_decryptor *dec = NULL;
    bool allow = strcmp(kv(name, "allow_plaintext"), "true") == 0;
    OK(rewrap_decryptor_new(sk, &admin, 1, 0, 0, allow, &dec));
    vector_trust(name, topic, dec);
    long n_records = kv_long(name, "records");
    VCHECK(name, n_records >= 1);
    for (long r = 0; r < n_records; r++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "record%ld.", r);
        size_t value_len;
        uint8_t *value = kv_bytes(&value_len, name, "record%ld.value", r);
        size_t key_len;
        uint8_t *key = kv_bytes(&key_len, name, "record%ld.key", r); /* NULL: null key */
        header_list h = kv_headers(name, prefix);
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rewrap_record_info info;
        rewrap_result rc = rewrap_decryptor_open(dec, topic, key, key_len, value, value_len,
                                                 h.list, h.n, &kind, &out, &info);
        VCHECK(name, rc == REWRAP_OK);
        if (rc == REWRAP_OK) {
            VCHECK(name, kind == opened_kind(kv(name, "record%ld.opened", r)));
            const char *plaintext = kv(name, "record%ld.plaintext", r);
            VCHECK(name, plaintext ? equals_hex(out.data, out.len, plaintext) : out.len == 0);
            long counter = kv_long(name, "record%ld.counter", r);
            if (counter >= 0 && kind == REWRAP_OPENED_DECRYPTED) {
                VCHECK(name, info.counter == (uint64_t)counter);
            }
            const char *vouch = kv(name, "record%ld.vouch", r);
            if (vouch) VCHECK(name, info.vouch == vouch_named(vouch));
        }
        rewrap_buf_free(&out);
        headers_free(&h);
        free(key);
        free(value);
    }

    /* Single-fault variants of the first record, with its headers. */
    header_list h = kv_headers(name, "record0.");
    size_t key0_len;
    uint8_t *key0 = kv_bytes(&key0_len, name, "record0.key");
    long n_rejects = kv_long(name, "rejects");
    for (long i = 0; i < n_rejects; i++) {
        size_t bad_len;
        uint8_t *bad = kv_bytes(&bad_len, name, "reject%ld.value", i);
        const char *bad_topic = kv(name, "reject%ld.topic", i);
        rewrap_result expected = (rewrap_result)kv_long(name, "reject%ld.code", i);
        /* The record's own key unless the variant names another ("reject<i>.key"). */
        size_t key_len = key0_len;
        uint8_t *own_key = NULL;
        const uint8_t *key = key0;
        if (kv(name, "reject%ld.key", i)) {
            own_key = kv_bytes(&key_len, name, "reject%ld.key", i);
            key = own_key;
        }
        /* Its own headers when it lists them ("reject<i>.headers"), else the record's. */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "reject%ld.", i);
        header_list own = kv_headers(name, prefix);
        const header_list *hs = kv(name, "reject%ld.headers", i) ? &own : &h;
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rewrap_result rc = rewrap_decryptor_open(dec, bad_topic, key, key_len, bad, bad_len,
                                                 hs->list, hs->n, &kind, &out, NULL);
        VCHECK(name, rc == expected);
        rewrap_buf_free(&out);
        headers_free(&own);
        free(own_key);
        free(bad);
    }
    free(key0);
    headers_free(&h);

    free(admin_bytes);
    free(sk_bytes);
    rewrap_decryptor_free(dec);
    rewrap_public_key_free(consumer_pub);
    rewrap_public_key_free(admin);
    rewrap_secret_key_free(sk);
}

/* One reject vector: its check fails with its recorded code. */
static void test_reject_vector(const char *name) {
    const char *check = kv(name, "check");
    rewrap_result expected = (rewrap_result)kv_long(name, "code");
    rewrap_result rc = REWRAP_OK;
    size_t len;
    if (!check) {
        VCHECK(name, check != NULL);
        return;
    }
    if (strcmp(check, "open") == 0) {
        /* A NUL inside a header name ("\\0" in records.kv) cannot cross the C ABI, whose
         * names are C strings: those vectors are for the other bindings. */
        for (long i = 0; i < kv_long(name, "headers"); i++) {
            if (strstr(kv(name, "header%ld.name", i), "\\0")) return;
        }
        uint8_t *admin_bytes = kv_bytes(&len, name, "admin_public_key");
        const rewrap_public_key *admin = NULL;
        OK(rewrap_public_key_from_bytes(admin_bytes, len, &admin));
        uint8_t *sk_bytes = kv_bytes(&len, name, "consumer_secret_key");
        const rewrap_secret_key *sk = NULL;
        OK(rewrap_secret_key_from_bytes(sk_bytes, len, &sk));
        const rewrap_decryptor *dec = NULL;
        bool allow = strcmp(kv(name, "allow_plaintext"), "true") == 0;
        OK(rewrap_decryptor_new(sk, &admin, 1, 0, 0, allow, &dec));
        vector_trust(name, kv(name, "topic"), dec);
        size_t value_len, key_len;
        uint8_t *value = kv_bytes(&value_len, name, "value");
        uint8_t *key = kv_bytes(&key_len, name, "key"); /* NULL: null key */
        header_list h = kv_headers(name, "");
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rc = rewrap_decryptor_open(dec, kv(name, "topic"), key, key_len, value, value_len, h.list,
                                   h.n, &kind, &out, NULL);
        rewrap_buf_free(&out);
        free(key);
        headers_free(&h);
        free(value);
        rewrap_decryptor_free(dec);
        rewrap_secret_key_free(sk);
        rewrap_public_key_free(admin);
        free(sk_bytes);
        free(admin_bytes);
    } else if (strcmp(check, "grant") == 0) {
        uint8_t *admin_bytes = kv_bytes(&len, name, "admin_public_key");
        const rewrap_public_key *admin = NULL;
        OK(rewrap_public_key_from_bytes(admin_bytes, len, &admin));
        uint8_t *bytes = kv_bytes(&len, name, "grant");
        const rewrap_grant *grant = NULL;
        rc = rewrap_grant_from_bytes(bytes, len, &grant);
        if (rc == REWRAP_OK) {
            rc = rewrap_grant_verify(grant, admin, (uint64_t)kv_long(name, "now"));
            rewrap_grant_free(grant);
        }
        free(bytes);
        rewrap_public_key_free(admin);
        free(admin_bytes);
    } else if (strcmp(check, "public_key") == 0) {
        uint8_t *bytes = kv_bytes(&len, name, "bytes");
        const rewrap_public_key *key = NULL;
        rc = rewrap_public_key_from_bytes(bytes, len, &key);
        if (rc == REWRAP_OK) rewrap_public_key_free(key);
        free(bytes);
    } else if (strcmp(check, "secret_key") == 0) {
        uint8_t *bytes = kv_bytes(&len, name, "bytes");
        const rewrap_secret_key *key = NULL;
        rc = rewrap_secret_key_from_bytes(bytes, len, &key);
        if (rc == REWRAP_OK) rewrap_secret_key_free(key);
        free(bytes);
    } else {
        VCHECK(name, !"unknown check");
        return;
    }
    if (rc == expected) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "vector %s: got %s, expected %s (%s)\n", name, rewrap_result_name(rc),
                rewrap_result_name(expected), rewrap_last_error());
    }
}

/* Runs `each` over the comma-separated names of "- LIST"; returns how many. */
static int for_each_name(const char *list, void (*each)(const char *)) {
    const char *names = kv("-", "%s", list);
    if (!names) return 0;
    char *copy = dup_str(names);
    int n = 0;
    for (char *name = strtok(copy, ","); name; name = strtok(NULL, ",")) {
        each(name);
        n++;
    }
    free(copy);
    return n;
}

static void test_vectors(const char *path) {
    CHECK(load_kv(path));
    const char *now = kv("-", "now");
    CHECK(now != NULL);
    vectors_now = now ? (uint64_t)strtoull(now, NULL, 10) : 0;
    CHECK(for_each_name("cases", test_vector_case) >= 9);
    CHECK(for_each_name("rejects", test_reject_vector) >= 50);
    kv_free();
}

/* ---- bad input ------------------------------------------------------------------------- */

static void test_bad_input(void) {
    const rewrap_secret_key *admin = new_key(), *me = new_key(), *other = new_key(),
                            *chan = new_key();
    const rewrap_public_key *admin_pub = public_of(admin), *me_pub = public_of(me),
                            *other_pub = public_of(other), *chan_pub = public_of(chan);
    const rewrap_encryptor *enc = NULL;
    const rewrap_decryptor *dec = NULL;
    const rewrap_reencryptor *re = NULL;
    const rewrap_grant *g_me = NULL, *g_other = NULL;
    enc = signed_encryptor(chan_pub, other);
    OK(rewrap_decryptor_new(me, &admin_pub, 1, 0, 0, false, &dec));
    grant_producer(admin, "t", other, dec, NULL);
    OK(rewrap_reencryptor_new(&admin_pub, 1, 0, 0, &re));
    OK(rewrap_grant_issue(admin, chan, "t", "me", me_pub, 1, 1, NOW - 10, 0, &g_me));
    OK(rewrap_grant_issue(admin, chan, "t", "other", other_pub, 1, 1, NOW - 10, 0, &g_other));
    OK(rewrap_reencryptor_add_grant(re, g_me));
    OK(rewrap_reencryptor_add_grant(re, g_other));

    /* NULL parameters: an error code and a message, never a crash. */
    const rewrap_secret_key *sk = NULL;
    EXPECT(rewrap_secret_key_generate(NULL), REWRAP_NULL_PARAMETER);
    CHECK(strlen(rewrap_last_error()) > 0);
    EXPECT(rewrap_secret_key_from_bytes(NULL, 32, &sk), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_encryptor_seal(NULL, "t", NULL, 0, (const uint8_t *)"x", 1, NULL),
           REWRAP_NULL_PARAMETER);
    const rewrap_sealed *sealed = NULL;
    EXPECT(rewrap_encryptor_seal(enc, NULL, NULL, 0, (const uint8_t *)"x", 1, &sealed),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_encryptor_seal(enc, "t", NULL, 3, NULL, 1, &sealed), REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_decryptor_open(dec, "t", NULL, 0, NULL, 0, NULL, 1, NULL, NULL, NULL),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_reencryptor_add_grant(re, NULL), REWRAP_NULL_PARAMETER);

    /* Wrong lengths and invalid encodings. */
    uint8_t zeros[33] = {0};
    EXPECT(rewrap_secret_key_from_bytes(zeros, 31, &sk), REWRAP_MALFORMED);
    EXPECT(rewrap_secret_key_from_bytes(zeros, 32, &sk), REWRAP_MALFORMED);
    const rewrap_public_key *pk = NULL;
    EXPECT(rewrap_public_key_from_bytes(zeros, 33, &pk), REWRAP_MALFORMED);
    uint8_t small[8];
    EXPECT(rewrap_public_key_to_bytes(me_pub, small, sizeof small), REWRAP_BUFFER_TOO_SMALL);
    const rewrap_grant *g = NULL;
    EXPECT(rewrap_grant_from_bytes(zeros, 20, &g), REWRAP_UNSUPPORTED_VERSION);
    rewrap_buf grant_bytes = {NULL, 0};
    OK(rewrap_grant_to_bytes(g_me, &grant_bytes));
    EXPECT(rewrap_grant_from_bytes(grant_bytes.data, 20, &g), REWRAP_TRUNCATED);
    grant_bytes.data[grant_bytes.len - 1] ^= 1; /* signature */
    OK(rewrap_grant_from_bytes(grant_bytes.data, grant_bytes.len, &g));
    EXPECT(rewrap_grant_verify(g, admin_pub, NOW), REWRAP_UNTRUSTED_GRANT);
    EXPECT(rewrap_reencryptor_add_grant(re, g), REWRAP_UNTRUSTED_GRANT);
    rewrap_grant_free(g);
    g = NULL;
    rewrap_buf_free(&grant_bytes);
    rewrap_buf_free(&grant_bytes); /* twice: harmless */
    const char bad_utf8[] = {'t', (char)0xff, 0};
    EXPECT(rewrap_encryptor_seal(enc, bad_utf8, NULL, 0, (const uint8_t *)"x", 1, &sealed),
           REWRAP_INVALID_UTF8);
    EXPECT(rewrap_encryptor_seal(enc, "", NULL, 0, (const uint8_t *)"x", 1, &sealed),
           REWRAP_INVALID_ARGUMENT);
    CHECK(sealed == NULL);
    EXPECT(rewrap_grant_issue(admin, chan, "t", "x", me_pub, 3, 2, NOW, 0, &g),
           REWRAP_INVALID_ARGUMENT);

    /* A sealed record, then damaged copies of it. */
    fetched f;
    OK(seal_into(enc, "t", "key", 3, "secret payload", 14, &f));
    size_t edek_len;
    uint8_t *edek = edek_of(&f, &edek_len);
    rewrap_buf pt = {NULL, 0};

    OK(reencrypt_for(re, "t", &f, "other"));
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_WRONG_CONSUMER);
    OK(reencrypt_for(re, "t", &f, "me"));
    EXPECT(open_fetched(dec, "elsewhere", &f, &pt), REWRAP_WRONG_TOPIC);
    EXPECT(reencrypt_for(re, "t", &f, "stranger"), REWRAP_NOT_GRANTED);
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_MISSING_CFRAG);

    OK(reencrypt_for(re, "t", &f, "me"));
    size_t full = f.value_len;
    f.value_len = 20; /* truncated view of the same buffer */
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_TRUNCATED);
    f.value_len = full;
    f.value[full - 1] ^= 1;
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_AUTHENTICATION_FAILED);
    f.value[full - 1] ^= 1;
    uint8_t edek_version = edek[0];
    edek[0] = 9;
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_UNSUPPORTED_VERSION);
    edek[0] = edek_version;
    f.value[0] = 'X';
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_FOREIGN_RECORD);
    f.value[0] = 'R';
    OK(open_fetched(dec, "t", &f, &pt));
    CHECK(pt.len == 14 && memcmp(pt.data, "secret payload", 14) == 0);
    CHECK(strlen(rewrap_last_error()) == 0);
    rewrap_buf_free(&pt);

    /* Plaintext without rewrap headers is refused; tombstones stay tombstones. */
    rewrap_opened_kind kind;
    EXPECT(rewrap_decryptor_open(dec, "t", NULL, 0, (const uint8_t *)"injected", 8, NULL, 0,
                                 &kind, &pt, NULL),
           REWRAP_UNENCRYPTED);
    rewrap_record_info info;
    memset(&info, 0xff, sizeof info);
    OK(rewrap_decryptor_open(dec, "t", (const uint8_t *)"k", 1, NULL, 0, NULL, 0, &kind, &pt,
                             &info));
    CHECK(kind == REWRAP_OPENED_TOMBSTONE && pt.len == 0);
    CHECK(info.vouch == REWRAP_VOUCH_UNSIGNED && !info.has_producer && info.counter == 0);

    /* Freeing NULL and freeing a buffer twice are harmless. */
    rewrap_buf_free(&pt);
    rewrap_buf_free(NULL);
    rewrap_secret_key_free(NULL);
    rewrap_public_key_free(NULL);
    rewrap_grant_free(NULL);
    rewrap_encryptor_free(NULL);
    rewrap_decryptor_free(NULL);
    rewrap_reencryptor_free(NULL);
    CHECK(strcmp(rewrap_result_name(REWRAP_WRONG_TOPIC), "REWRAP_WRONG_TOPIC") == 0);
    CHECK(strcmp(rewrap_version(), "0.1.0") == 0);

    fetched_free(&f);
    rewrap_grant_free(g_me);
    rewrap_grant_free(g_other);
    rewrap_reencryptor_free(re);
    rewrap_decryptor_free(dec);
    rewrap_encryptor_free(enc);
    rewrap_public_key_free(admin_pub);
    rewrap_public_key_free(me_pub);
    rewrap_public_key_free(other_pub);
    rewrap_public_key_free(chan_pub);
    rewrap_secret_key_free(admin);
    rewrap_secret_key_free(me);
    rewrap_secret_key_free(other);
    rewrap_secret_key_free(chan);
}

/* ---- threads --------------------------------------------------------------------------- */

typedef struct {
    const rewrap_encryptor *enc;
    const rewrap_decryptor *dec;
    const rewrap_reencryptor *re;
    int ok;
} shared;

static void *worker(void *arg) {
    shared *s = arg;
    for (int i = 0; i < 50; i++) {
        char payload[32];
        int len = snprintf(payload, sizeof payload, "thread message %d", i);
        fetched f = NO_RECORD;
        rewrap_buf pt = {NULL, 0};
        if (seal_into(s->enc, "t", payload, (size_t)len, payload, (size_t)len, &f) == REWRAP_OK &&
            reencrypt_for(s->re, "t", &f, "me") == REWRAP_OK &&
            open_fetched(s->dec, "t", &f, &pt) == REWRAP_OK && pt.len == (size_t)len &&
            memcmp(pt.data, payload, (size_t)len) == 0) {
            s->ok++;
        }
        rewrap_buf_free(&pt);
        fetched_free(&f);
    }
    return NULL;
}

static void test_threads(void) {
    const rewrap_secret_key *admin = new_key(), *me = new_key(), *chan = new_key();
    const rewrap_public_key *admin_pub = public_of(admin), *me_pub = public_of(me),
                            *chan_pub = public_of(chan);
    const rewrap_grant *g = NULL;
    shared s[4];
    const rewrap_encryptor *enc = NULL;
    const rewrap_decryptor *dec = NULL;
    const rewrap_reencryptor *re = NULL;
    enc = signed_encryptor(chan_pub, chan);
    OK(rewrap_decryptor_new(me, &admin_pub, 1, 0, 0, false, &dec));
    grant_producer(admin, "t", chan, dec, NULL);
    OK(rewrap_reencryptor_new(&admin_pub, 1, 0, 0, &re));
    OK(rewrap_grant_issue(admin, chan, "t", "me", me_pub, 1, 1, NOW - 10, 0, &g));
    OK(rewrap_reencryptor_add_grant(re, g));
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        s[i].enc = enc;
        s[i].dec = dec;
        s[i].re = re;
        s[i].ok = 0;
        CHECK(pthread_create(&threads[i], NULL, worker, &s[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(s[i].ok == 50);
    }
    rewrap_decryptor_stats ds;
    OK(rewrap_decryptor_get_stats(dec, &ds));
    CHECK(ds.dek_opens == 1); /* one shared session: opened once for all threads */
    rewrap_grant_free(g);
    rewrap_reencryptor_free(re);
    rewrap_decryptor_free(dec);
    rewrap_encryptor_free(enc);
    rewrap_public_key_free(admin_pub);
    rewrap_public_key_free(me_pub);
    rewrap_public_key_free(chan_pub);
    rewrap_secret_key_free(admin);
    rewrap_secret_key_free(me);
    rewrap_secret_key_free(chan);
}

/* Key files are read by the engine, with its permission check: a secret key file that group
 * or others may read is refused, as ssh does. */
static void test_key_files(void) {
    char dir[] = "/tmp/rewrap-c-keys-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sec[64], pub[64];
    snprintf(sec, sizeof sec, "%s/k.sec", dir);
    snprintf(pub, sizeof pub, "%s/k.pub", dir);
    const rewrap_secret_key *key = NULL;
    EXPECT(rewrap_secret_key_generate(&key), REWRAP_OK);
    uint8_t raw[REWRAP_SECRET_KEY_LEN];
    EXPECT(rewrap_secret_key_to_bytes(key, raw, sizeof raw), REWRAP_OK);
    FILE *f = fopen(sec, "w");
    CHECK(f != NULL);
    for (size_t i = 0; i < sizeof raw; i++) fprintf(f, "%02x", raw[i]);
    fputc('\n', f);
    fclose(f);

    const rewrap_secret_key *read_back = NULL;
    CHECK(chmod(sec, 0600) == 0);
    EXPECT(rewrap_secret_key_from_file(sec, &read_back), REWRAP_OK);
    uint8_t again[REWRAP_SECRET_KEY_LEN];
    EXPECT(rewrap_secret_key_to_bytes(read_back, again, sizeof again), REWRAP_OK);
    CHECK(memcmp(raw, again, sizeof raw) == 0);
    rewrap_secret_key_free(read_back);

    CHECK(chmod(sec, 0644) == 0);
    read_back = NULL;
    EXPECT(rewrap_secret_key_from_file(sec, &read_back), REWRAP_INSECURE_KEY_FILE);
    CHECK(read_back == NULL);
    EXPECT(rewrap_secret_key_from_file("/nonexistent/rewrap.sec", &read_back), REWRAP_IO);
    EXPECT(rewrap_secret_key_from_file(NULL, &read_back), REWRAP_NULL_PARAMETER);

    const rewrap_public_key *pk = NULL, *pk_file = NULL;
    EXPECT(rewrap_secret_key_public_key(key, &pk), REWRAP_OK);
    uint8_t praw[REWRAP_PUBLIC_KEY_LEN];
    EXPECT(rewrap_public_key_to_bytes(pk, praw, sizeof praw), REWRAP_OK);
    f = fopen(pub, "w");
    CHECK(f != NULL);
    for (size_t i = 0; i < sizeof praw; i++) fprintf(f, "%02x", praw[i]);
    fputc('\n', f);
    fclose(f);
    EXPECT(rewrap_public_key_from_file(pub, &pk_file), REWRAP_OK);
    uint8_t pagain[REWRAP_PUBLIC_KEY_LEN];
    EXPECT(rewrap_public_key_to_bytes(pk_file, pagain, sizeof pagain), REWRAP_OK);
    CHECK(memcmp(praw, pagain, sizeof praw) == 0);
    rewrap_public_key_free(pk);
    rewrap_public_key_free(pk_file);
    rewrap_secret_key_free(key);
    remove(sec);
    remove(pub);
    rmdir(dir);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/vectors/records.kv\n", argv[0]);
        return 2;
    }
    test_seed_scenario();
    test_producer_authenticity();
    test_vectors(argv[1]);
    test_bad_input();
    test_key_files();
    test_threads();
    printf("c-abi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
