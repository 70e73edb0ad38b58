/* libFuzzer harness for the UTF-16 <-> WTF-8 mapping (src/wtf8.c).
 *
 * Windows strings (argv, cwd, environment) cross the wire as WTF-8, so the
 * mapping must be lossless both ways:
 *
 *  1. The input as little-endian 16-bit units (a trailing odd byte is
 *     dropped): any units without a NUL map to WTF-8 and back to the very
 *     same units; the bytes are UTF-8 exactly when the units are well-formed
 *     UTF-16.
 *  2. The input up to its first NUL as a string: when sbx_wtf8_to_utf16
 *     accepts it, mapping the units back gives the same bytes, so no two
 *     byte strings name one Windows string; and every valid UTF-8 string is
 *     accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "proto.h"
#include "wtf8.h"


/* Well-formed UTF-16: every surrogate is half of a high-then-low pair. */
static int utf16_valid(const uint16_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 0xd800 && w[i] <= 0xdbff) {
            if (i + 1 >= n || w[i + 1] < 0xdc00 || w[i + 1] > 0xdfff)
                return 0;
            i++;
        } else if (w[i] >= 0xdc00 && w[i] <= 0xdfff) {
            return 0;
        }
    }
    return 1;
}

static void from_units(const uint8_t *data, size_t size)
{
    size_t n = size / 2, back_n = (size_t)-1;
    uint16_t *w, *back = NULL;
    char *s = (char *)0x1;
    int has_nul = 0, rc;

    CHECK((w = malloc((n + 1) * sizeof(*w))) != NULL);
    for (size_t i = 0; i < n; i++) {
        w[i] = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
        has_nul |= w[i] == 0;
    }
    rc = sbx_utf16_to_wtf8(w, n, &s);
    if (has_nul) {
        CHECK(rc == SBX_EINVAL && s == NULL);
        free(w);
        return;
    }
    CHECK(rc == 0 && s != NULL);
    /* At most 3 bytes a unit (a pair takes 4 for 2 units). */
    CHECK(strlen(s) <= 3 * n);
    CHECK(sbx_utf8_valid(s, strlen(s)) == utf16_valid(w, n));

    rc = sbx_wtf8_to_utf16(s, &back, &back_n);
    CHECK(rc == 0 && back != NULL);
    CHECK(back_n == n);
    CHECK(n == 0 || memcmp(back, w, n * sizeof(*w)) == 0);
    CHECK(back[n] == 0);
    free(back);
    free(s);
    free(w);
}

static void from_bytes(const uint8_t *data, size_t size)
{
    char *str, *again = NULL;
    uint16_t *w = (uint16_t *)0x1;
    size_t len, n = (size_t)-1;
    int rc;

    CHECK((str = malloc(size + 1)) != NULL);
    memcpy(str, data, size);
    str[size] = '\0';
    len = strlen(str);

    rc = sbx_wtf8_to_utf16(str, &w, &n);
    if (sbx_utf8_valid(str, len))
        CHECK(rc == 0); /* UTF-8 is a subset of WTF-8 */
    if (rc != 0) {
        CHECK(rc == SBX_EINVAL && w == NULL);
        free(str);
        return;
    }
    CHECK(w != NULL && n <= len && w[n] == 0);
    for (size_t i = 0; i < n; i++)
        CHECK(w[i] != 0);
    CHECK(sbx_utf16_to_wtf8(w, n, &again) == 0);
    if (strcmp(again, str) != 0) {
        fprintf(stderr, "WTF-8 is not canonical: %zu bytes came back as %zu\n", len,
                strlen(again));
        abort();
    }
    free(again);
    free(w);
    free(str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    from_units(data, size);
    from_bytes(data, size);
    return 0;
}
