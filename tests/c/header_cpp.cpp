// The generated header must compile as C++17 too (warning-free under -Wall -Wextra -pedantic).
#include "rewrap.h"

#include <cstdio>

int main() {
    const rewrap_secret_key *key = nullptr;
    rewrap_result rc = rewrap_secret_key_generate(&key);
    std::printf("rewrap %s from C++: %s\n", rewrap_version(), rewrap_result_name(rc));
    rewrap_secret_key_free(key);
    return rc == REWRAP_OK ? 0 : 1;
}
