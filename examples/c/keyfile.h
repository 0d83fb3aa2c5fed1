/* Loading rewrap key files (hex + newline, as `rewrap keygen` writes them) in the examples. */
#ifndef REWRAP_EXAMPLE_KEYFILE_H
#define REWRAP_EXAMPLE_KEYFILE_H

#include <stdio.h>
#include <string.h>

#include "rewrap.h"

/* Reads up to `cap` bytes of hex from `path` into `out`; returns the byte count or 0. */
static inline size_t read_hex_file(const char *path, uint8_t *out, size_t cap) {
    char text[256] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) n--;
    if (n % 2 != 0 || n / 2 > cap) return 0;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int b;
        if (sscanf(text + 2 * i, "%2x", &b) != 1) return 0;
        out[i] = (uint8_t)b;
    }
    memset(text, 0, sizeof text); /* it may have held a secret key */
    return n / 2;
}

static inline const rewrap_public_key *load_public_key(const char *path) {
    uint8_t bytes[REWRAP_PUBLIC_KEY_LEN];
    const rewrap_public_key *key = NULL;
    size_t n = read_hex_file(path, bytes, sizeof bytes);
    if (rewrap_public_key_from_bytes(bytes, n, &key) != REWRAP_OK) {
        fprintf(stderr, "%s: %s\n", path, rewrap_last_error());
        return NULL;
    }
    return key;
}

static inline const rewrap_secret_key *load_secret_key(const char *path) {
    uint8_t bytes[REWRAP_SECRET_KEY_LEN];
    const rewrap_secret_key *key = NULL;
    size_t n = read_hex_file(path, bytes, sizeof bytes);
    rewrap_result rc = rewrap_secret_key_from_bytes(bytes, n, &key);
    memset(bytes, 0, sizeof bytes);
    if (rc != REWRAP_OK) {
        fprintf(stderr, "%s: %s\n", path, rewrap_last_error());
        return NULL;
    }
    return key;
}

#endif
