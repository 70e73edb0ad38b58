/* Shared by the fuzz harnesses: the entry point, an always-on check, and the
 * spec's rule about strings a decoder must not accept. */
#ifndef SBX_FUZZ_H
#define SBX_FUZZ_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not assert(): a build with NDEBUG must not silently stop checking. */
#define CHECK(c)                                                                             \
    do {                                                                                     \
        if (!(c)) {                                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);            \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* docs/protocol.md: an escaped NUL (\u0000) is a protocol error, and so is
 * malformed JSON such as a \u escape without four hex digits, which a lax
 * parser may read as U+0000.  Either would cut a C string short, so a
 * decoder that accepts one has lost bytes.  Escapes are found left to right:
 * a backslash outside a string is malformed JSON anyway. */
static inline int hides_nul(const uint8_t *p, size_t n)
{
    if (memchr(p, '\0', n) != NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\')
            continue;
        if (i + 1 < n && p[i + 1] == 'u') {
            if (n - i < 6 || memcmp(p + i + 2, "0000", 4) == 0)
                return 1;
            for (size_t k = 2; k < 6; k++)
                if (!isxdigit(p[i + k]))
                    return 1;
            i += 5;
        } else {
            i++;
        }
    }
    return 0;
}

#endif
