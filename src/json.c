/* The JSON underneath the protocol messages (json.h). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "proto.h"

int sbx_json_fail(char *why, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL) {
        va_start(ap, fmt);
        vsnprintf(why, SBX_WHY, fmt, ap);
        va_end(ap);
    }
    return SBX_EPROTO;
}

int sbx_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned long cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i - 1 < k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* cJSON turns "\u0000" (and a malformed \u escape) into a NUL that silently
 * truncates the string, so such escapes are refused before parsing.  Walks
 * the text tracking whether it is inside a string and after a backslash. */
static int has_nul_escape(const char *s, size_t n)
{
    int in_str = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0')
            return 1;
        if (!in_str) {
            if (s[i] == '"')
                in_str = 1;
            continue;
        }
        if (s[i] == '"') {
            in_str = 0;
        } else if (s[i] == '\\') {
            if (i + 1 < n && s[i + 1] == 'u') {
                /* cJSON reads a \u escape whose four characters are not all
                 * hex digits as U+0000 too, cutting the string short. */
                if (n - i < 6 || memcmp(s + i + 2, "0000", 4) == 0)
                    return 1;
                for (size_t k = 2; k < 6; k++)
                    if (!isxdigit((unsigned char)s[i + k]))
                        return 1;
                i += 5;
            } else {
                if (i + 1 < n && s[i + 1] == '\0')
                    return 1;
                i++; /* skip the escaped character */
            }
        }
    }
    return 0;
}

cJSON *sbx_json_parse(const uint8_t *p, size_t n, const char *what, char *why)
{
    const char *end = NULL;
    cJSON *root;

    if (has_nul_escape((const char *)p, n)) {
        sbx_json_fail(why, "%s: JSON contains a NUL character", what);
        return NULL;
    }
    root = cJSON_ParseWithLengthOpts((const char *)p, n, &end, 0);
    if (root == NULL) {
        sbx_json_fail(why, "%s: malformed JSON", what);
        return NULL;
    }
    /* Only whitespace may follow the object. */
    for (; end != NULL && end < (const char *)p + n; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            cJSON_Delete(root);
            sbx_json_fail(why, "%s: trailing bytes after the JSON object", what);
            return NULL;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        sbx_json_fail(why, "%s: payload is not a JSON object", what);
        return NULL;
    }
    return root;
}

int sbx_json_get_int(const cJSON *o, const char *name, long long lo, long long hi,
                     int required, long long *out, const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    double d;

    if (v == NULL) {
        if (required)
            return sbx_json_fail(why, "%s: member '%s' is missing", what, name);
        return 1;
    }
    if (!cJSON_IsNumber(v))
        return sbx_json_fail(why, "%s: member '%s' is not a number", what, name);
    d = v->valuedouble;
    /* The range test comes first (NaN fails it too), so the cast is defined. */
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long long)d)
        return sbx_json_fail(why, "%s: member '%s' is out of range or not an integer", what, name);
    *out = (long long)d;
    return 0;
}

int sbx_json_get_bool(const cJSON *o, const char *name, int required, int *out,
                      const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL) {
        if (required)
            return sbx_json_fail(why, "%s: member '%s' is missing", what, name);
        *out = 0;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return sbx_json_fail(why, "%s: member '%s' is not a boolean", what, name);
    *out = cJSON_IsTrue(v);
    return 0;
}

int sbx_json_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A wire string: a JSON string of valid UTF-8, or {"hex": "..."} for bytes
 * that are not UTF-8.  Neither form may hold a NUL. */
int sbx_json_get_bytes(const cJSON *v, char **out, const char *what, const char *name,
                       char *why)
{
    const char *s;
    size_t n;
    char *r;

    if (cJSON_IsString(v)) {
        s = v->valuestring;
        n = strlen(s);
        if (!sbx_utf8_valid(s, n))
            return sbx_json_fail(why, "%s: %s is a string that is not UTF-8 (use the hex form)",
                                 what, name);
        if ((r = strdup(s)) == NULL)
            return SBX_ENOMEM;
        *out = r;
        return 0;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hex");
        if (!cJSON_IsString(h))
            return sbx_json_fail(why, "%s: %s is an object without a 'hex' string", what, name);
        s = h->valuestring;
        n = strlen(s);
        if (n % 2 != 0)
            return sbx_json_fail(why, "%s: %s has an odd number of hex digits", what, name);
        if ((r = malloc(n / 2 + 1)) == NULL)
            return SBX_ENOMEM;
        for (size_t i = 0; i < n; i += 2) {
            int hi = sbx_json_hexval((unsigned char)s[i]);
            int lo = sbx_json_hexval((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                free(r);
                return sbx_json_fail(why, "%s: %s has a bad hex digit or a NUL byte", what, name);
            }
            r[i / 2] = (char)(hi << 4 | lo);
        }
        r[n / 2] = '\0';
        *out = r;
        return 0;
    }
    return sbx_json_fail(why, "%s: %s is not a string", what, name);
}

/* Bytes the string takes inside the quotes once cJSON has escaped it: a
 * control byte is \u00XX, save the five with a short escape. */
static size_t escaped_len(const char *s, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
            c == '\t')
            len += 2;
        else if (c < 0x20)
            len += 6;
        else
            len += 1;
    }
    return len;
}

cJSON *sbx_json_bytes(const char *s)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = strlen(s);
    cJSON *o;
    char *hex;

    /* The shorter form: a control byte takes 6 bytes in a JSON string and
     * 2 in hex, so an argument made of them travels in hex, and no string
     * costs more than twice its bytes and 10.  The hex form's quotes,
     * braces and member name take 10 bytes, the string's quotes 2. */
    if (sbx_utf8_valid(s, n) && escaped_len(s, n) <= 2 * n + 8)
        return cJSON_CreateString(s);
    if ((hex = malloc(2 * n + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[(unsigned char)s[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)s[i] & 15];
    }
    hex[2 * n] = '\0';
    o = cJSON_CreateObject();
    if (o != NULL && cJSON_AddStringToObject(o, "hex", hex) == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    free(hex);
    return o;
}

/* Serialises and frees `root`; SBX_ENOMEM when any earlier step failed. */
int sbx_json_finish(cJSON *root, int ok, char **json, size_t *len)
{
    char *s = NULL;

    if (root != NULL && ok)
        s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (s == NULL)
        return SBX_ENOMEM;
    *json = s;
    *len = strlen(s);
    return 0;
}

void sbx_json_free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int sbx_json_get_strv(const cJSON *o, const char *name, size_t min, size_t max, char ***out,
                      size_t *count, const char *what, char *why)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name), *it;
    size_t n, i = 0;
    char **v;
    char label[64];
    int rc;

    if (arr == NULL)
        return sbx_json_fail(why, "%s: member '%s' is missing", what, name);
    if (!cJSON_IsArray(arr))
        return sbx_json_fail(why, "%s: member '%s' is not an array", what, name);
    n = (size_t)cJSON_GetArraySize(arr);
    if (n < min)
        return sbx_json_fail(why, "%s: member '%s' is empty", what, name);
    if (n > max)
        return sbx_json_fail(why, "%s: member '%s' has %zu entries, over the limit of %zu", what,
                             name, n, max);
    if ((v = calloc(n + 1, sizeof(*v))) == NULL)
        return SBX_ENOMEM;
    cJSON_ArrayForEach(it, arr) {
        snprintf(label, sizeof(label), "%s[%zu]", name, i);
        if ((rc = sbx_json_get_bytes(it, &v[i], what, label, why)) < 0) {
            sbx_json_free_strv(v, i);
            return rc;
        }
        i++;
    }
    *out = v;
    *count = n;
    return 0;
}

cJSON *sbx_json_strv(char *const *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *s = sbx_json_bytes(v[i]);
        if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

int sbx_json_get_str(const cJSON *o, const char *name, int required, char **out,
                     const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL && !required) {
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(v))
        return sbx_json_fail(why, "%s: member '%s' is missing or not a string", what, name);
    if (!sbx_utf8_valid(v->valuestring, strlen(v->valuestring)))
        return sbx_json_fail(why, "%s: member '%s' is not UTF-8", what, name);
    if ((*out = strdup(v->valuestring)) == NULL)
        return SBX_ENOMEM;
    return 0;
}

