/*
 * rewrap producer on librdkafka: seals each line of stdin (or N generated messages) for a
 * topic and produces it with the rewrap.edek header. The broker only ever sees ciphertext.
 *
 *   producer BROKERS TOPIC DELEGATING_KEY.pub [COUNT]
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

static int produce_one(rd_kafka_t *rk, const rewrap_encryptor *enc, const char *topic,
                       const char *payload, size_t len) {
    rewrap_buf value = {NULL, 0}, edek = {NULL, 0};
    if (rewrap_encryptor_seal(enc, topic, (const uint8_t *)payload, len, &value, &edek) !=
        REWRAP_OK) {
        fprintf(stderr, "seal: %s\n", rewrap_last_error());
        return -1;
    }
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_VALUE(value.data, value.len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADER(REWRAP_EDEK_HEADER, edek.data,
                                                  (ssize_t)edek.len),
                                RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 100);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    rewrap_buf_free(&value);
    rewrap_buf_free(&edek);
    if (err) {
        fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s BROKERS TOPIC DELEGATING_KEY.pub [COUNT]\n", argv[0]);
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
    if (argc > 4) {
        long count = strtol(argv[4], NULL, 10);
        for (long i = 0; i < count; i++) {
            char payload[64];
            int len = snprintf(payload, sizeof payload, "message %ld", i);
            failures += produce_one(rk, enc, topic, payload, (size_t)len) != 0;
        }
    } else {
        char line[65536];
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strcspn(line, "\n");
            failures += produce_one(rk, enc, topic, line, len) != 0;
        }
    }
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    rewrap_encryptor_free(enc);
    rewrap_public_key_free(delegating);
    return failures == 0 ? 0 : 1;
}
