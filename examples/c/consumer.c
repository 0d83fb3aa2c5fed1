/*
 * rewrap consumer on librdkafka: reads a topic (through the rewrap re-encryption proxy, which
 * adds this consumer's rewrap.cfrag headers), opens each record with its own secret key and
 * prints the plaintext, or the named error for records it may not read.
 *
 *   consumer BROKERS GROUP TOPIC CLIENT_ID MY_KEY.sec ADMIN_KEY.pub [MAX_MESSAGES|-1]
 *            [PRODUCER_GRANT...]
 *
 * CLIENT_ID is this consumer's identity at the proxy when no SASL principal is used. Each
 * PRODUCER_GRANT is a producer grant file (as `rewrap producer-grant` writes it) naming a
 * producer whose signed records this consumer accepts; under the default policy (require)
 * records of any other producer, or unsigned ones, are refused.
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"

#define MAX_HEADERS 16

static volatile sig_atomic_t running = 1;
static void stop(int sig) {
    (void)sig;
    running = 0;
}

static void handle(const rewrap_decryptor *dec, const rd_kafka_message_t *m) {
    rewrap_header headers[MAX_HEADERS];
    size_t n = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *value;
        size_t size;
        for (size_t i = 0; n < MAX_HEADERS &&
                           rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                               RD_KAFKA_RESP_ERR_NO_ERROR;
             i++) {
            headers[n].name = name;
            headers[n].value = value;
            headers[n].value_len = size;
            n++;
        }
    }
    rewrap_opened_kind kind;
    rewrap_buf plaintext = {NULL, 0};
    /* librdkafka gives a NULL key for a null key, and a NULL payload for a tombstone. */
    rewrap_result rc = rewrap_decryptor_open(dec, rd_kafka_topic_name(m->rkt), m->key,
                                             m->key_len, m->payload, m->len, headers, n, &kind,
                                             &plaintext, NULL);
    if (rc == REWRAP_OK && kind != REWRAP_OPENED_TOMBSTONE) {
        printf("%d@%lld %.*s\n", m->partition, (long long)m->offset, (int)plaintext.len,
               (const char *)plaintext.data);
    } else if (rc == REWRAP_OK) {
        printf("%d@%lld tombstone\n", m->partition, (long long)m->offset);
    } else {
        printf("%d@%lld refused %s: %s\n", m->partition, (long long)m->offset,
               rewrap_result_name(rc), rewrap_last_error());
    }
    fflush(stdout);
    rewrap_buf_free(&plaintext);
}

/* Reads a producer grant file (its raw bytes) and gives it to the decryptor to verify. */
static int add_producer_grant(const rewrap_decryptor *dec, const char *path) {
    uint8_t bytes[4096];
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    if (rewrap_decryptor_add_producer_grant(dec, bytes, n) != REWRAP_OK) {
        fprintf(stderr, "%s: %s\n", path, rewrap_last_error());
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: %s BROKERS GROUP TOPIC CLIENT_ID MY_KEY.sec ADMIN_KEY.pub [MAX]\n",
                argv[0]);
        return 2;
    }
    long max = argc > 7 ? strtol(argv[7], NULL, 10) : -1;
    const rewrap_secret_key *me = load_secret_key(argv[5]);
    const rewrap_public_key *admin = load_public_key(argv[6]);
    if (!me || !admin) return 1;
    const rewrap_decryptor *dec = NULL;
    if (rewrap_decryptor_new(me, &admin, 1, 0, 0, false, &dec) != REWRAP_OK) {
        fprintf(stderr, "decryptor: %s\n", rewrap_last_error());
        return 1;
    }
    rewrap_secret_key_free(me);
    for (int i = 8; i < argc; i++) {
        if (add_producer_grant(dec, argv[i]) != 0) return 1;
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {{"bootstrap.servers", argv[1]},
                                 {"group.id", argv[2]},
                                 {"client.id", argv[4]},
                                 {"auto.offset.reset", "earliest"}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s\n", errstr);
            return 1;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[3], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);

    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    long seen = 0;
    while (running && (max < 0 || seen < max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            handle(dec, m);
            seen++;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    rewrap_decryptor_free(dec);
    rewrap_public_key_free(admin);
    return 0;
}
