/*
 * rewrap producer on librdkafka: seals each line of stdin (or COUNT generated messages, keyed
 * "k0", "k1"...) for a topic under its record key and produces it with every header the
 * sealed record carries (rewrap.edek, and rewrap.sig / rewrap.rsig when signing). The broker
 * only ever sees ciphertext. A stdin line "KEY<TAB>VALUE" has a key; other lines a null key.
 *
 *   producer BROKERS TOPIC DELEGATING_KEY.pub [COUNT|-] [SIGNING_KEY.sec [session|record]]
 *
 * Without SIGNING_KEY.sec records are unsigned, which consumers refuse under the default
 * policy (require); with it, consumers need a producer grant for its public key
 * (`rewrap producer-grant`).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

/* `key` NULL is a null Kafka key. */
static int produce_one(rd_kafka_t *rk, const rewrap_encryptor *enc, const char *topic,
                       const char *key, size_t key_len, const char *payload, size_t len) {
    const rewrap_sealed *sealed = NULL;
    if (rewrap_encryptor_seal(enc, topic, (const uint8_t *)key, key_len,
                              (const uint8_t *)payload, len, &sealed) != REWRAP_OK) {
        fprintf(stderr, "seal: %s\n", rewrap_last_error());
        return -1;
    }
    const uint8_t *value = NULL;
    size_t value_len = 0;
    const rewrap_header *headers = NULL;
    size_t n_headers = 0;
    rewrap_sealed_value(sealed, &value, &value_len);
    rewrap_sealed_headers(sealed, &headers, &n_headers);
    /* librdkafka copies the headers and (with F_COPY) the value: the sealed record can go. */
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n_headers);
    for (size_t i = 0; i < n_headers; i++) {
        rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                            (ssize_t)headers[i].value_len);
    }
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, key ? key_len : 0),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 100);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    rewrap_sealed_free(sealed);
    if (err) {
        rd_kafka_headers_destroy(hdrs); /* owned by librdkafka only on success */
        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 7) {
        fprintf(stderr,
                "usage: %s BROKERS TOPIC DELEGATING_KEY.pub [COUNT|-] "
                "[SIGNING_KEY.sec [session|record]]\n",
                argv[0]);
        return 2;
    }
    const char *brokers = argv[1], *topic = argv[2];
    const rewrap_public_key *delegating = load_public_key(argv[3]);
    if (!delegating) return 1;
    const rewrap_encryptor *enc = NULL;
    if (rewrap_encryptor_new(delegating, 0, 0, &enc) != REWRAP_OK) {
        fprintf(stderr, "encryptor: %s\n", rewrap_last_error());
        return 1;
    }
    if (argc > 5) {
        const rewrap_secret_key *signing = NULL;
        if (rewrap_secret_key_from_file(argv[5], &signing) != REWRAP_OK) {
            fprintf(stderr, "%s: %s\n", argv[5], rewrap_last_error());
            return 1;
        }
        const char *mode = argc > 6 ? argv[6] : "session";
        uint32_t m = strcmp(mode, "record") == 0    ? REWRAP_SIGNING_RECORD
                     : strcmp(mode, "session") == 0 ? REWRAP_SIGNING_SESSION
                                                    : REWRAP_SIGNING_NONE; /* refused below */
        rewrap_result rc = rewrap_encryptor_set_signer(enc, signing, m);
        rewrap_secret_key_free(signing); /* the encryptor keeps its own copy */
        if (rc != REWRAP_OK) {
            fprintf(stderr, "signer (%s): %s\n", mode, rewrap_last_error());
            return 1;
        }
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }

    int failures = 0;
    if (argc > 4 && strcmp(argv[4], "-") != 0) {
        long count = strtol(argv[4], NULL, 10);
        for (long i = 0; i < count; i++) {
            char payload[64], key[32];
            int len = snprintf(payload, sizeof payload, "message %ld", i);
            int key_len = snprintf(key, sizeof key, "k%ld", i);
            failures += produce_one(rk, enc, topic, key, (size_t)key_len, payload,
                                    (size_t)len) != 0;
        }
    } else {
        char line[65536];
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strcspn(line, "\n");
            char *tab = memchr(line, '\t', len);
            if (tab) {
                size_t key_len = (size_t)(tab - line);
                failures += produce_one(rk, enc, topic, line, key_len, tab + 1,
                                        len - key_len - 1) != 0;
            } else {
                failures += produce_one(rk, enc, topic, NULL, 0, line, len) != 0;
            }
        }
    }
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    rewrap_encryptor_free(enc);
    rewrap_public_key_free(delegating);
    return failures == 0 ? 0 : 1;
}
