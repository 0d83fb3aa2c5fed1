/*
 * C tests of the rewrap ABI: the seed scenario, the shared vectors (tests/vectors/records.kv),
 * bad input of every kind, and handles shared between threads. Built with
 * -std=c11 -Wall -Wextra -Werror -pedantic and run under valgrind memcheck by `make test-c`.
 *
 * Usage: test_rewrap PATH/TO/records.kv
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
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
        CHECK(kind == REWRAP_OPENED_DECRYPTED);
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
    long n_records = kv_long(name, "records");
    VCHECK(name, n_records >= 1);
    for (long r = 0; r < n_records; r++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "record%ld.", r);
        size_t value_len;
        uint8_t *value = kv_bytes(&value_len, name, "record%ld.value", r);
        header_list h = kv_headers(name, prefix);
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rewrap_result rc =
            rewrap_decryptor_open(dec, topic, value, value_len, h.list, h.n, &kind, &out);
        VCHECK(name, rc == REWRAP_OK);
        if (rc == REWRAP_OK) {
            VCHECK(name, kind == opened_kind(kv(name, "record%ld.opened", r)));
            const char *plaintext = kv(name, "record%ld.plaintext", r);
            VCHECK(name, plaintext ? equals_hex(out.data, out.len, plaintext) : out.len == 0);
        }
        rewrap_buf_free(&out);
        headers_free(&h);
        free(value);
    }

    /* Single-fault variants of the first record, with its headers. */
    header_list h = kv_headers(name, "record0.");
    long n_rejects = kv_long(name, "rejects");
    for (long i = 0; i < n_rejects; i++) {
        size_t bad_len;
        uint8_t *bad = kv_bytes(&bad_len, name, "reject%ld.value", i);
        const char *bad_topic = kv(name, "reject%ld.topic", i);
        rewrap_result expected = (rewrap_result)kv_long(name, "reject%ld.code", i);
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rewrap_result rc =
            rewrap_decryptor_open(dec, bad_topic, bad, bad_len, h.list, h.n, &kind, &out);
        VCHECK(name, rc == expected);
        rewrap_buf_free(&out);
        free(bad);
    }
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
        size_t value_len;
        uint8_t *value = kv_bytes(&value_len, name, "value");
        header_list h = kv_headers(name, "");
        rewrap_opened_kind kind;
        rewrap_buf out = {NULL, 0};
        rc = rewrap_decryptor_open(dec, kv(name, "topic"), value, value_len, h.list, h.n, &kind,
                                   &out);
        rewrap_buf_free(&out);
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
    test_vectors(argv[1]);
    test_bad_input();
    test_key_files();
    test_threads();
    printf("c-abi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
