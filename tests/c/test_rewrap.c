/*
 * C tests of the rewrap ABI: the seed scenario, the shared vectors (tests/vectors/records.kv),
 * bad input of every kind, and handles shared between threads. Built with
 * -std=c11 -Wall -Wextra -Werror -pedantic and run under valgrind memcheck by `make test-c`.
 *
 * Usage: test_rewrap PATH/TO/records.kv
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A record as a consumer fetches it: value, EDEK header, and the cfrags the re-encryptor
 * attached for that consumer (none when it refused). */
typedef struct {
    rewrap_buf value;
    rewrap_buf edek;
    rewrap_buf cfrags;
    size_t n_cfrags;
} fetched;

static void fetched_free(fetched *f) {
    rewrap_buf_free(&f->value);
    rewrap_buf_free(&f->edek);
    rewrap_buf_free(&f->cfrags);
}

static rewrap_result reencrypt_for(const rewrap_reencryptor *re, const char *topic, fetched *f,
                                   const char *consumer) {
    rewrap_buf_free(&f->cfrags);
    f->n_cfrags = 0;
    return rewrap_reencryptor_reencrypt(re, topic, f->edek.data, f->edek.len, consumer,
                                        &f->cfrags, &f->n_cfrags);
}

static rewrap_result open_fetched(const rewrap_decryptor *dec, const char *topic,
                                  const fetched *f, rewrap_buf *plaintext) {
    rewrap_header headers[8];
    size_t n = 0;
    headers[n].name = REWRAP_EDEK_HEADER;
    headers[n].value = f->edek.data;
    headers[n].value_len = f->edek.len;
    n++;
    for (size_t i = 0; i < f->n_cfrags && n < 8; i++, n++) {
        headers[n].name = REWRAP_CFRAG_HEADER;
        headers[n].value = f->cfrags.data + i * REWRAP_CFRAG_HEADER_LEN;
        headers[n].value_len = REWRAP_CFRAG_HEADER_LEN;
    }
    rewrap_opened_kind kind = REWRAP_OPENED_TOMBSTONE;
    rewrap_result rc = rewrap_decryptor_open(dec, topic, f->value.data, f->value.len, headers, n,
                                             &kind, plaintext);
    if (rc == REWRAP_OK) {
        CHECK(kind == REWRAP_OPENED_PLAINTEXT);
    }
    return rc;
}

/* ---- the seed scenario ----------------------------------------------------------------- */

static void test_seed_scenario(void) {
    const char *topic = "orders";
    const rewrap_secret_key *admin = new_key();
    const rewrap_public_key *admin_pub = public_of(admin);
    const rewrap_secret_key *producer_keys[3];
    const rewrap_public_key *producer_pubs[3];
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
        OK(rewrap_encryptor_new(producer_pubs[i], 0, 0, &producers[i]));
        consumer_keys[i] = new_key();
        consumer_pubs[i] = public_of(consumer_keys[i]);
        OK(rewrap_decryptor_new(consumer_keys[i], &admin_pub, 1, 0, 0, false, &consumers[i]));
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
            OK(rewrap_grant_verify(parsed, admin_pub, NOW + 1));
            OK(rewrap_reencryptor_add_grant(re, parsed));
            rewrap_buf_free(&bytes);
            rewrap_grant_free(parsed);
            rewrap_grant_free(g);
        }
    }

    int reads[3] = {0, 0, 0};
    const int rounds = 20;
    for (int round = 0; round < rounds; round++) {
        for (int p = 0; p < 3; p++) {
            char payload[64];
            int len = snprintf(payload, sizeof payload, "message %d from producer %d", round, p);
            fetched f = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0};
            OK(rewrap_encryptor_seal(producers[p], topic, (const uint8_t *)payload, (size_t)len,
                                     &f.value, &f.edek));
            for (int c = 0; c < 3; c++) {
                rewrap_result rc = reencrypt_for(re, topic, &f, ids[c]);
                CHECK(c < 2 ? rc == REWRAP_OK : rc == REWRAP_NOT_GRANTED);
                rewrap_buf pt = {NULL, 0};
                rc = open_fetched(consumers[c], topic, &f, &pt);
                if (c < 2) {
                    CHECK(rc == REWRAP_OK && pt.len == (size_t)len &&
                          memcmp(pt.data, payload, (size_t)len) == 0);
                    reads[c] += rc == REWRAP_OK;
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
        fetched f = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0};
        OK(rewrap_encryptor_seal(producers[p], topic, (const uint8_t *)"later", 5, &f.value,
                                 &f.edek));
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
        rewrap_decryptor_free(consumers[i]);
        rewrap_public_key_free(consumer_pubs[i]);
        rewrap_secret_key_free(consumer_keys[i]);
    }
    rewrap_reencryptor_free(re);
    rewrap_public_key_free(admin_pub);
    rewrap_secret_key_free(admin);
}

/* ---- shared vectors -------------------------------------------------------------------- */

#define MAX_ENTRIES 256

typedef struct {
    char kase[64];
    char field[64];
    char *value;
} entry;

static entry entries[MAX_ENTRIES];
static size_t n_entries;

static int load_kv(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 0;
    }
    char line[16384];
    while (fgets(line, sizeof line, f) && n_entries < MAX_ENTRIES) {
        if (line[0] == '#') continue;
        char *kase = strtok(line, " \n");
        char *field = strtok(NULL, " \n");
        char *value = strtok(NULL, " \n");
        if (!kase || !field || !value) continue;
        entry *e = &entries[n_entries++];
        snprintf(e->kase, sizeof e->kase, "%s", kase);
        snprintf(e->field, sizeof e->field, "%s", field);
        e->value = malloc(strlen(value) + 1);
        strcpy(e->value, strcmp(value, "-") == 0 ? "" : value);
    }
    fclose(f);
    return 1;
}

static const char *kv(const char *kase, const char *field) {
    for (size_t i = 0; i < n_entries; i++) {
        if (strcmp(entries[i].kase, kase) == 0 && strcmp(entries[i].field, field) == 0) {
            return entries[i].value;
        }
    }
    return NULL;
}

/* Decodes hex into a malloc'd buffer (caller frees). */
static uint8_t *unhex(const char *hex, size_t *len) {
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

static void test_vector_case(const char *name) {
    const char *topic = kv(name, "topic");
    CHECK(topic != NULL);
    if (!topic) return;
    size_t len, n_cfrags = (size_t)atoi(kv(name, "cfrags"));
    uint8_t *admin_bytes = unhex(kv(name, "admin_public_key"), &len);
    const rewrap_public_key *admin = NULL;
    OK(rewrap_public_key_from_bytes(admin_bytes, len, &admin));
    uint8_t *sk_bytes = unhex(kv(name, "consumer_secret_key"), &len);
    const rewrap_secret_key *sk = NULL;
    OK(rewrap_secret_key_from_bytes(sk_bytes, len, &sk));

    /* Key ids and public keys match what the vectors record. */
    const rewrap_public_key *consumer_pub = public_of(sk);
    uint8_t pub[REWRAP_PUBLIC_KEY_LEN];
    OK(rewrap_public_key_to_bytes(consumer_pub, pub, sizeof pub));
    size_t expect_len;
    uint8_t *expect_pub = unhex(kv(name, "consumer_public_key"), &expect_len);
    CHECK(expect_len == sizeof pub && memcmp(pub, expect_pub, sizeof pub) == 0);

    /* The grant parses and verifies. */
    uint8_t *grant_bytes = unhex(kv(name, "grant"), &len);
    const rewrap_grant *grant = NULL;
    OK(rewrap_grant_from_bytes(grant_bytes, len, &grant));
    OK(rewrap_grant_verify(grant, admin, NOW));

    /* The record opens to the recorded plaintext. */
    const rewrap_decryptor *dec = NULL;
    OK(rewrap_decryptor_new(sk, &admin, 1, 0, 0, false, &dec));
    size_t edek_len, value_len, pt_len;
    uint8_t *edek = unhex(kv(name, "edek"), &edek_len);
    uint8_t *value = unhex(kv(name, "value"), &value_len);
    uint8_t *plaintext = unhex(kv(name, "plaintext"), &pt_len);
    rewrap_header headers[8];
    uint8_t *cfrags[8];
    headers[0].name = REWRAP_EDEK_HEADER;
    headers[0].value = edek;
    headers[0].value_len = edek_len;
    for (size_t i = 0; i < n_cfrags && i < 7; i++) {
        char field[16];
        snprintf(field, sizeof field, "cfrag%zu", i);
        cfrags[i] = unhex(kv(name, field), &len);
        headers[i + 1].name = REWRAP_CFRAG_HEADER;
        headers[i + 1].value = cfrags[i];
        headers[i + 1].value_len = len;
    }
    rewrap_opened_kind kind;
    rewrap_buf out = {NULL, 0};
    OK(rewrap_decryptor_open(dec, topic, value, value_len, headers, n_cfrags + 1, &kind, &out));
    CHECK(kind == REWRAP_OPENED_PLAINTEXT && out.len == pt_len &&
          (pt_len == 0 || memcmp(out.data, plaintext, pt_len) == 0));
    rewrap_buf_free(&out);

    /* Each recorded rejection gives its recorded code. */
    int n_rejects = atoi(kv(name, "rejects"));
    for (int i = 0; i < n_rejects; i++) {
        char field[32];
        snprintf(field, sizeof field, "reject%d.value", i);
        size_t bad_len;
        uint8_t *bad = unhex(kv(name, field), &bad_len);
        snprintf(field, sizeof field, "reject%d.topic", i);
        const char *bad_topic = kv(name, field);
        snprintf(field, sizeof field, "reject%d.code", i);
        rewrap_result expected = (rewrap_result)atoi(kv(name, field));
        EXPECT(rewrap_decryptor_open(dec, bad_topic, bad, bad_len, headers, n_cfrags + 1, &kind,
                                     &out),
               expected);
        free(bad);
    }

    for (size_t i = 0; i < n_cfrags && i < 7; i++) free(cfrags[i]);
    free(edek);
    free(value);
    free(plaintext);
    free(grant_bytes);
    free(expect_pub);
    free(admin_bytes);
    free(sk_bytes);
    rewrap_decryptor_free(dec);
    rewrap_grant_free(grant);
    rewrap_public_key_free(consumer_pub);
    rewrap_public_key_free(admin);
    rewrap_secret_key_free(sk);
}

static void test_vectors(const char *path) {
    CHECK(load_kv(path));
    const char *names[] = {"one-of-one", "empty-payload", "two-of-three"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) test_vector_case(names[i]);
    for (size_t i = 0; i < n_entries; i++) free(entries[i].value);
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
    OK(rewrap_encryptor_new(chan_pub, 0, 0, &enc));
    OK(rewrap_decryptor_new(me, &admin_pub, 1, 0, 0, false, &dec));
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
    EXPECT(rewrap_encryptor_seal(NULL, "t", (const uint8_t *)"x", 1, NULL, NULL),
           REWRAP_NULL_PARAMETER);
    rewrap_buf v = {NULL, 0}, e = {NULL, 0};
    EXPECT(rewrap_encryptor_seal(enc, NULL, (const uint8_t *)"x", 1, &v, &e),
           REWRAP_NULL_PARAMETER);
    EXPECT(rewrap_decryptor_open(dec, "t", NULL, 0, NULL, 1, NULL, NULL), REWRAP_NULL_PARAMETER);
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
    EXPECT(rewrap_encryptor_seal(enc, bad_utf8, (const uint8_t *)"x", 1, &v, &e),
           REWRAP_INVALID_UTF8);
    EXPECT(rewrap_encryptor_seal(enc, "", (const uint8_t *)"x", 1, &v, &e),
           REWRAP_INVALID_ARGUMENT);
    EXPECT(rewrap_grant_issue(admin, chan, "t", "x", me_pub, 3, 2, NOW, 0, &g),
           REWRAP_INVALID_ARGUMENT);

    /* A sealed record, then damaged copies of it. */
    fetched f = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0};
    OK(rewrap_encryptor_seal(enc, "t", (const uint8_t *)"secret payload", 14, &f.value, &f.edek));
    rewrap_buf pt = {NULL, 0};

    OK(reencrypt_for(re, "t", &f, "other"));
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_WRONG_CONSUMER);
    OK(reencrypt_for(re, "t", &f, "me"));
    EXPECT(open_fetched(dec, "elsewhere", &f, &pt), REWRAP_WRONG_TOPIC);
    EXPECT(reencrypt_for(re, "t", &f, "stranger"), REWRAP_NOT_GRANTED);
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_MISSING_CFRAG);

    OK(reencrypt_for(re, "t", &f, "me"));
    size_t full = f.value.len;
    f.value.len = 20; /* truncated view of the same buffer */
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_TRUNCATED);
    f.value.len = full;
    f.value.data[full - 1] ^= 1;
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_AUTHENTICATION_FAILED);
    f.value.data[full - 1] ^= 1;
    f.edek.data[0] = 9;
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_UNSUPPORTED_VERSION);
    f.edek.data[0] = 1;
    f.value.data[0] = 'X';
    EXPECT(open_fetched(dec, "t", &f, &pt), REWRAP_FOREIGN_RECORD);
    f.value.data[0] = 'R';
    OK(open_fetched(dec, "t", &f, &pt));
    CHECK(pt.len == 14 && memcmp(pt.data, "secret payload", 14) == 0);
    CHECK(strlen(rewrap_last_error()) == 0);
    rewrap_buf_free(&pt);

    /* Plaintext without rewrap headers is refused; tombstones stay tombstones. */
    rewrap_opened_kind kind;
    EXPECT(rewrap_decryptor_open(dec, "t", (const uint8_t *)"injected", 8, NULL, 0, &kind, &pt),
           REWRAP_UNENCRYPTED);
    OK(rewrap_decryptor_open(dec, "t", NULL, 0, NULL, 0, &kind, &pt));
    CHECK(kind == REWRAP_OPENED_TOMBSTONE && pt.len == 0);

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
        fetched f = {{NULL, 0}, {NULL, 0}, {NULL, 0}, 0};
        rewrap_buf pt = {NULL, 0};
        if (rewrap_encryptor_seal(s->enc, "t", (const uint8_t *)payload, (size_t)len, &f.value,
                                  &f.edek) == REWRAP_OK &&
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
    OK(rewrap_encryptor_new(chan_pub, 0, 0, &enc));
    OK(rewrap_decryptor_new(me, &admin_pub, 1, 0, 0, false, &dec));
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s tests/vectors/records.kv\n", argv[0]);
        return 2;
    }
    test_seed_scenario();
    test_vectors(argv[1]);
    test_bad_input();
    test_threads();
    printf("c-abi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
