#include <stdlib.h>

#include "err.h"
#include "wtf8.h"

int sbx_utf16_to_wtf8(const uint16_t *w, size_t n, char **out)
{
    char *s, *p;

    *out = NULL;
    if (n > ((size_t)-1 - 1) / 3)
        return SBX_ENOMEM;
    /* Each unit takes at most 3 bytes; a pair (2 units) takes 4. */
    if ((s = malloc(n * 3 + 1)) == NULL)
        return SBX_ENOMEM;
    p = s;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = w[i];
        if (c == 0) {
            free(s);
            return SBX_EINVAL;
        }
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && w[i + 1] >= 0xdc00 && w[i + 1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (w[i + 1] - 0xdc00u);
            i++;
        }
        if (c < 0x80) {
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xc0 | c >> 6);
            *p++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) { /* lone surrogates land here too */
            *p++ = (char)(0xe0 | c >> 12);
            *p++ = (char)(0x80 | (c >> 6 & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else {
            *p++ = (char)(0xf0 | c >> 18);
            *p++ = (char)(0x80 | (c >> 12 & 0x3f));
            *p++ = (char)(0x80 | (c >> 6 & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *p = '\0';
    *out = s;
    return 0;
}

int sbx_wtf8_to_utf16(const char *str, uint16_t **out, size_t *np)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = 0, n = 0;
    uint16_t *w;
    int prev_high = 0;

    *out = NULL;
    while (s[len])
        len++;
    if ((w = malloc((len + 1) * sizeof(*w))) == NULL)
        return SBX_ENOMEM;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        uint32_t cp;
        size_t k;

        if (c < 0x80) {
            cp = c;
            k = 0;
        } else if (c >= 0xc2 && c <= 0xdf) {
            cp = c & 0x1f;
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            cp = c & 0x0f;
            k = 2;
        } else if (c >= 0xf0 && c <= 0xf4) {
            cp = c & 0x07;
            k = 3;
        } else {
            goto bad;
        }
        if (len - i - 1 < k)
            goto bad;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                goto bad;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            goto bad;
        /* A high surrogate followed by a low one must have been one 4-byte
         * sequence; accepting both spellings would make the mapping
         * ambiguous. */
        if (cp >= 0xdc00 && cp <= 0xdfff && prev_high)
            goto bad;
        prev_high = cp >= 0xd800 && cp <= 0xdbff;
        if (cp >= 0x10000) {
            w[n++] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
            w[n++] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            w[n++] = (uint16_t)cp;
        }
        i += k + 1;
    }
    w[n] = 0;
    *out = w;
    *np = n;
    return 0;
bad:
    free(w);
    return SBX_EINVAL;
}
