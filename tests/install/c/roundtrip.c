/*
 * Built by tests/install/c/run.sh against an installed rewrap prefix only (pkg-config, no
 * build tree): seals a signed record, re-encrypts its EDEK for a granted consumer, opens it,
 * checks that a consumer without a cfrag is refused by name, and that rewrap_version() is the
 * version pkg-config reports.
 *
 * Usage: roundtrip VERSION   (VERSION: `pkg-config --modversion rewrap`)
 */
#include <rewrap.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failed;

#define OK(call)                                                                         \
    do {                                                                                 \
        rewrap_result rc_ = (call);                                                      \
        if (rc_ != REWRAP_OK) {                                                          \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %s (%s)\n", __FILE__, __LINE__, #call,    \
                    rewrap_result_name(rc_), rewrap_last_error());                       \
        }                                                                                \
    } while (0)

#define MAX_HEADERS 8

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VERSION\n", argv[0]);
        return 2;
    }
    printf("rewrap_version() = %s\n", rewrap_version());
    if (strcmp(rewrap_version(), argv[1]) != 0) {
        fprintf(stderr, "rewrap_version() %s, pkg-config says %s\n", rewrap_version(), argv[1]);
        return 1;
    }

    const char *topic = "orders";
    const char *payload = "sealed and opened by an installed librewrap_ffi";
    uint64_t now = (uint64_t)time(NULL);
    const rewrap_secret_key *admin = NULL, *channel = NULL, *consumer = NULL, *signer = NULL;
    const rewrap_public_key *admin_pub = NULL, *channel_pub = NULL, *consumer_pub = NULL,
                            *signer_pub = NULL;
    OK(rewrap_secret_key_generate(&admin));
    OK(rewrap_secret_key_generate(&channel));
    OK(rewrap_secret_key_generate(&consumer));
    OK(rewrap_secret_key_generate(&signer));
    OK(rewrap_secret_key_public_key(admin, &admin_pub));
    OK(rewrap_secret_key_public_key(channel, &channel_pub));
    OK(rewrap_secret_key_public_key(consumer, &consumer_pub));
    OK(rewrap_secret_key_public_key(signer, &signer_pub));
    if (failed) return 1;

    /* The administrator: a consumer grant (channel -> consumer "c1") and a producer grant. */
    const rewrap_grant *grant = NULL;
    rewrap_buf producer_grant = {NULL, 0};
    OK(rewrap_grant_issue(admin, channel, topic, "c1", consumer_pub, 1, 1, now - 10, 0, &grant));
    OK(rewrap_producer_grant_issue(admin, topic, signer_pub, now - 10, 0, &producer_grant));

    const rewrap_reencryptor *re = NULL;
    const rewrap_decryptor *dec = NULL;
    OK(rewrap_reencryptor_new(&admin_pub, 1, 0, 0, &re));
    OK(rewrap_reencryptor_add_grant(re, grant));
    OK(rewrap_reencryptor_add_producer_grant(re, producer_grant.data, producer_grant.len));
    OK(rewrap_decryptor_new(consumer, &admin_pub, 1, 0, 0, false, &dec));
    OK(rewrap_decryptor_add_producer_grant(dec, producer_grant.data, producer_grant.len));

    const rewrap_encryptor *enc = NULL;
    const rewrap_sealed *sealed = NULL;
    OK(rewrap_encryptor_new(channel_pub, 0, 0, &enc));
    OK(rewrap_encryptor_set_signer(enc, signer, REWRAP_SIGNING_SESSION));
    OK(rewrap_encryptor_seal(enc, topic, (const uint8_t *)"k", 1, (const uint8_t *)payload,
                             strlen(payload), &sealed));
    if (failed) return 1;

    const uint8_t *value = NULL;
    size_t value_len = 0, n_sealed = 0, n_cfrags = 0;
    const rewrap_header *sealed_headers = NULL;
    OK(rewrap_sealed_value(sealed, &value, &value_len));
    OK(rewrap_sealed_headers(sealed, &sealed_headers, &n_sealed));
    if (failed || n_sealed > MAX_HEADERS - 1) return 1;

    rewrap_header headers[MAX_HEADERS];
    const uint8_t *edek = NULL;
    size_t edek_len = 0;
    for (size_t i = 0; i < n_sealed; i++) {
        headers[i] = sealed_headers[i];
        if (strcmp(headers[i].name, REWRAP_EDEK_HEADER) == 0) {
            edek = headers[i].value;
            edek_len = headers[i].value_len;
        }
    }

    /* Without a cfrag the consumer is refused, by name. */
    rewrap_opened_kind kind = REWRAP_OPENED_TOMBSTONE;
    rewrap_buf plaintext = {NULL, 0};
    rewrap_result refused = rewrap_decryptor_open(dec, topic, (const uint8_t *)"k", 1, value,
                                                  value_len, headers, n_sealed, &kind,
                                                  &plaintext, NULL);
    if (refused != REWRAP_MISSING_CFRAG) {
        fprintf(stderr, "open without a cfrag: %s, expected REWRAP_MISSING_CFRAG\n",
                rewrap_result_name(refused));
        failed++;
    }
    rewrap_buf_free(&plaintext);

    /* The re-encryptor's cfrag for c1, then the open. */
    rewrap_buf cfrags = {NULL, 0};
    OK(rewrap_reencryptor_reencrypt(re, topic, edek, edek_len, "c1", &cfrags, &n_cfrags));
    if (failed || n_cfrags != 1) return 1;
    headers[n_sealed].name = REWRAP_CFRAG_HEADER;
    headers[n_sealed].value = cfrags.data;
    headers[n_sealed].value_len = REWRAP_CFRAG_HEADER_LEN;
    OK(rewrap_decryptor_open(dec, topic, (const uint8_t *)"k", 1, value, value_len, headers,
                             n_sealed + 1, &kind, &plaintext, NULL));
    if (kind != REWRAP_OPENED_DECRYPTED || plaintext.len != strlen(payload) ||
        memcmp(plaintext.data, payload, plaintext.len) != 0) {
        fprintf(stderr, "the opened record is not the payload sealed\n");
        failed++;
    } else {
        printf("opened: %.*s\n", (int)plaintext.len, (const char *)plaintext.data);
    }

    rewrap_buf_free(&plaintext);
    rewrap_buf_free(&cfrags);
    rewrap_sealed_free(sealed);
    rewrap_encryptor_free(enc);
    rewrap_decryptor_free(dec);
    rewrap_reencryptor_free(re);
    rewrap_buf_free(&producer_grant);
    rewrap_grant_free(grant);
    rewrap_public_key_free(admin_pub);
    rewrap_public_key_free(channel_pub);
    rewrap_public_key_free(consumer_pub);
    rewrap_public_key_free(signer_pub);
    rewrap_secret_key_free(admin);
    rewrap_secret_key_free(channel);
    rewrap_secret_key_free(consumer);
    rewrap_secret_key_free(signer);
    return failed ? 1 : 0;
}
