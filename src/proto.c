#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "err.h"
#include "proto.h"

static int fail(char *why, const char *fmt, ...) SBX_PRINTF(2, 3);

static int fail(char *why, const char *fmt, ...)
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
 * truncates the string, so such escapes are refused before parsing.  Walks the text tracking whether
 * it is inside a string and after a backslash. */
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

static cJSON *parse_obj(const uint8_t *p, size_t n, const char *what, char *why)
{
    const char *end = NULL;
    cJSON *root;

    if (has_nul_escape((const char *)p, n)) {
        fail(why, "%s: JSON contains a NUL character", what);
        return NULL;
    }
    root = cJSON_ParseWithLengthOpts((const char *)p, n, &end, 0);
    if (root == NULL) {
        fail(why, "%s: malformed JSON", what);
        return NULL;
    }
    /* Only whitespace may follow the object. */
    for (; end != NULL && end < (const char *)p + n; end++) {
        if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
            cJSON_Delete(root);
            fail(why, "%s: trailing bytes after the JSON object", what);
            return NULL;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fail(why, "%s: payload is not a JSON object", what);
        return NULL;
    }
    return root;
}

static int get_int(const cJSON *o, const char *name, long long lo, long long hi,
                   int required, long long *out, const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    double d;

    if (v == NULL) {
        if (required)
            return fail(why, "%s: member '%s' is missing", what, name);
        return 1;
    }
    if (!cJSON_IsNumber(v))
        return fail(why, "%s: member '%s' is not a number", what, name);
    d = v->valuedouble;
    /* The range test comes first (NaN fails it too), so the cast is defined. */
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long long)d)
        return fail(why, "%s: member '%s' is out of range or not an integer", what, name);
    *out = (long long)d;
    return 0;
}

static int get_bool(const cJSON *o, const char *name, int required, int *out,
                    const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL) {
        if (required)
            return fail(why, "%s: member '%s' is missing", what, name);
        *out = 0;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return fail(why, "%s: member '%s' is not a boolean", what, name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A wire string: a JSON string of valid UTF-8, or {"hex": "..."} for bytes
 * that are not UTF-8.  Neither form may hold a NUL. */
static int get_bytes_str(const cJSON *v, char **out, const char *what, const char *name,
                         char *why)
{
    const char *s;
    size_t n;
    char *r;

    if (cJSON_IsString(v)) {
        s = v->valuestring;
        n = strlen(s);
        if (!sbx_utf8_valid(s, n))
            return fail(why, "%s: %s is a string that is not UTF-8 (use the hex form)", what,
                        name);
        if ((r = strdup(s)) == NULL)
            return SBX_ENOMEM;
        *out = r;
        return 0;
    }
    if (cJSON_IsObject(v)) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hex");
        if (!cJSON_IsString(h))
            return fail(why, "%s: %s is an object without a 'hex' string", what, name);
        s = h->valuestring;
        n = strlen(s);
        if (n % 2 != 0)
            return fail(why, "%s: %s has an odd number of hex digits", what, name);
        if ((r = malloc(n / 2 + 1)) == NULL)
            return SBX_ENOMEM;
        for (size_t i = 0; i < n; i += 2) {
            int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0) {
                free(r);
                return fail(why, "%s: %s has a bad hex digit or a NUL byte", what, name);
            }
            r[i / 2] = (char)(hi << 4 | lo);
        }
        r[n / 2] = '\0';
        *out = r;
        return 0;
    }
    return fail(why, "%s: %s is not a string", what, name);
}

static cJSON *bytes_str(const char *s)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = strlen(s);
    cJSON *o;
    char *hex;

    if (sbx_utf8_valid(s, n))
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
static int finish(cJSON *root, int ok, char **json, size_t *len)
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

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int get_strv(const cJSON *o, const char *name, size_t min, size_t max, char ***out,
                    size_t *count, const char *what, char *why)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name), *it;
    size_t n, i = 0;
    char **v;
    char label[64];
    int rc;

    if (arr == NULL)
        return fail(why, "%s: member '%s' is missing", what, name);
    if (!cJSON_IsArray(arr))
        return fail(why, "%s: member '%s' is not an array", what, name);
    n = (size_t)cJSON_GetArraySize(arr);
    if (n < min)
        return fail(why, "%s: member '%s' is empty", what, name);
    if (n > max)
        return fail(why, "%s: member '%s' has %zu entries, over the limit of %zu", what, name,
                    n, max);
    if ((v = calloc(n + 1, sizeof(*v))) == NULL)
        return SBX_ENOMEM;
    cJSON_ArrayForEach(it, arr) {
        snprintf(label, sizeof(label), "%s[%zu]", name, i);
        if ((rc = get_bytes_str(it, &v[i], what, label, why)) < 0) {
            free_strv(v, i);
            return rc;
        }
        i++;
    }
    *out = v;
    *count = n;
    return 0;
}

static cJSON *strv_json(char *const *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();

    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *s = bytes_str(v[i]);
        if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- hello ---- */

int sbx_hello_encode(const struct sbx_hello *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "version", m->version) &&
             cJSON_AddStringToObject(o, "nonce", m->nonce) &&
             cJSON_AddNumberToObject(o, "pid", (double)m->pid);
    return finish(o, ok, json, len);
}

int sbx_hello_decode(const uint8_t *p, size_t n, struct sbx_hello *m, char *why)
{
    cJSON *o = parse_obj(p, n, "hello", why);
    const cJSON *nonce;
    long long v = 0, pid = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    memset(m, 0, sizeof(*m));
    if ((rc = get_int(o, "version", 0, 0x7fffffff, 1, &v, "hello", why)) < 0)
        goto done;
    if ((rc = get_int(o, "pid", 0, 0x7fffffff, 0, &pid, "hello", why)) < 0)
        goto done;
    rc = 0;
    nonce = cJSON_GetObjectItemCaseSensitive(o, "nonce");
    if (!cJSON_IsString(nonce)) {
        rc = fail(why, "hello: member 'nonce' is missing or not a string");
        goto done;
    }
    if (strlen(nonce->valuestring) != SBX_NONCE_HEX) {
        rc = fail(why, "hello: nonce is not %d hex digits", SBX_NONCE_HEX);
        goto done;
    }
    for (size_t i = 0; i < SBX_NONCE_HEX; i++) {
        if (hexval((unsigned char)nonce->valuestring[i]) < 0) {
            rc = fail(why, "hello: nonce is not lowercase hex");
            goto done;
        }
    }
    m->version = (int)v;
    m->pid = pid;
    memcpy(m->nonce, nonce->valuestring, SBX_NONCE_HEX + 1);
done:
    cJSON_Delete(o);
    return rc;
}

int sbx_hello_check(const struct sbx_hello *m, const char *nonce, char *why)
{
    unsigned char d = 0;

    /* Neither sbx nor the runner names the other here: the same line is
     * printed after "sbx: " and after "sbx-runner: ". */
    if (m->version != SBX_PROTO_VERSION)
        return fail(why, "the other program speaks protocol version %d, this one version %d: "
                         "install sbx and sbx-runner from the same build",
                    m->version, SBX_PROTO_VERSION);
    for (size_t i = 0; i < SBX_NONCE_HEX; i++)
        d |= (unsigned char)(m->nonce[i] ^ nonce[i]);
    if (d != 0) {
        fail(why, "peer does not know this run's nonce");
        return SBX_EPEER;
    }
    return 0;
}

/* ---- spawn request ---- */

static int get_str(const cJSON *o, const char *name, int required, char **out,
                   const char *what, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (v == NULL && !required) {
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(v))
        return fail(why, "%s: member '%s' is missing or not a string", what, name);
    if (!sbx_utf8_valid(v->valuestring, strlen(v->valuestring)))
        return fail(why, "%s: member '%s' is not UTF-8", what, name);
    if ((*out = strdup(v->valuestring)) == NULL)
        return SBX_ENOMEM;
    return 0;
}

/* ---- the spawn request's terminal ---- */

/* The modes' numeric members, in the order of mode_names[]. */
static const char *const mode_names[] = { "iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed" };
#define NMODES (sizeof(mode_names) / sizeof(mode_names[0]))

static void mode_slots(struct sbx_tty_modes *m, unsigned long *slot[NMODES])
{
    slot[0] = &m->iflag;
    slot[1] = &m->oflag;
    slot[2] = &m->cflag;
    slot[3] = &m->lflag;
    slot[4] = &m->ispeed;
    slot[5] = &m->ospeed;
}

static cJSON *modes_json(const struct sbx_tty_modes *m)
{
    static const char digits[] = "0123456789abcdef";
    struct sbx_tty_modes copy = *m;
    unsigned long *val[NMODES];
    /* The encoder never reads past cc[], whatever ncc says. */
    size_t ncc = m->ncc < SBX_TTY_NCC ? m->ncc : SBX_TTY_NCC;
    char hex[2 * SBX_TTY_NCC + 1];
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;

    mode_slots(&copy, val);
    for (size_t i = 0; ok && i < NMODES; i++)
        ok = cJSON_AddNumberToObject(o, mode_names[i], (double)*val[i]) != NULL;
    for (size_t i = 0; i < ncc; i++) {
        hex[2 * i] = digits[m->cc[i] >> 4];
        hex[2 * i + 1] = digits[m->cc[i] & 15];
    }
    hex[2 * ncc] = '\0';
    if (ok)
        ok = cJSON_AddStringToObject(o, "cc", hex) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *tty_json(const struct sbx_tty_req *t)
{
    cJSON *o = cJSON_CreateObject(), *streams = cJSON_CreateArray(), *modes = NULL;
    int ok = o != NULL && streams != NULL;

    for (unsigned i = 0; ok && i < 3; i++)
        if (t->streams & (1u << i))
            ok = cJSON_AddItemToArray(streams, cJSON_CreateNumber(i));
    ok = ok && cJSON_AddItemToObject(o, "streams", streams);
    if (!ok)
        cJSON_Delete(streams);
    ok = ok && cJSON_AddBoolToObject(o, "foreground", t->foreground != 0) != NULL;
    /* A size of 0 x 0 is unknown, and left out. */
    if (ok && (t->size.rows != 0 || t->size.cols != 0))
        ok = cJSON_AddNumberToObject(o, "rows", t->size.rows) != NULL &&
             cJSON_AddNumberToObject(o, "cols", t->size.cols) != NULL;
    if (ok && t->term != NULL)
        ok = cJSON_AddStringToObject(o, "term", t->term) != NULL;
    if (ok && t->have_modes) {
        modes = modes_json(&t->modes);
        ok = modes != NULL && cJSON_AddItemToObject(o, "modes", modes);
        if (!ok)
            cJSON_Delete(modes);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int get_streams(const cJSON *t, unsigned *out, char *why)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(t, "streams"), *it;
    unsigned set = 0;
    int n;

    if (arr == NULL)
        return fail(why, "spawn.tty: member 'streams' is missing");
    if (!cJSON_IsArray(arr))
        return fail(why, "spawn.tty: member 'streams' is not an array");
    n = cJSON_GetArraySize(arr);
    if (n < 1 || n > 3)
        return fail(why, "spawn.tty: 'streams' must list 1 to 3 streams");
    cJSON_ArrayForEach(it, arr) {
        unsigned k;

        if (!cJSON_IsNumber(it) ||
            !(it->valuedouble == 0 || it->valuedouble == 1 || it->valuedouble == 2))
            return fail(why, "spawn.tty: 'streams' holds something other than 0, 1 or 2");
        k = (unsigned)it->valuedouble;
        if (set & (1u << k))
            return fail(why, "spawn.tty: 'streams' names stream %u twice", k);
        set |= 1u << k;
    }
    *out = set;
    return 0;
}

static int get_term(const cJSON *t, char **out, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "term");
    size_t n;

    *out = NULL;
    if (v == NULL)
        return 0;
    if (!cJSON_IsString(v))
        return fail(why, "spawn.tty: member 'term' is not a string");
    n = strlen(v->valuestring);
    if (n < 1 || n > SBX_MAX_TERM)
        return fail(why, "spawn.tty: term must be 1 to %d bytes", SBX_MAX_TERM);
    /* It becomes TERM in the command's environment: printable ASCII only,
     * so no control character reaches a terminal database lookup or a log. */
    for (size_t i = 0; i < n; i++)
        if (v->valuestring[i] < 0x20 || v->valuestring[i] > 0x7e)
            return fail(why, "spawn.tty: term is not printable ASCII");
    if ((*out = strdup(v->valuestring)) == NULL)
        return SBX_ENOMEM;
    return 0;
}

static int get_modes(const cJSON *t, struct sbx_tty_modes *m, int *have, char *why)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(t, "modes"), *cc;
    unsigned long *slot[NMODES];
    long long v;
    size_t n;
    int rc;

    *have = 0;
    if (o == NULL)
        return 0;
    if (!cJSON_IsObject(o))
        return fail(why, "spawn.tty: member 'modes' is not an object");
    mode_slots(m, slot);
    for (size_t i = 0; i < NMODES; i++) {
        if ((rc = get_int(o, mode_names[i], 0, (long long)SBX_MODE_MAX, 1, &v,
                          "spawn.tty.modes", why)) < 0)
            return rc;
        *slot[i] = (unsigned long)v;
    }
    cc = cJSON_GetObjectItemCaseSensitive(o, "cc");
    if (!cJSON_IsString(cc))
        return fail(why, "spawn.tty.modes: member 'cc' is missing or not a string");
    n = strlen(cc->valuestring);
    if (n < 2 || n > 2 * SBX_TTY_NCC || n % 2 != 0)
        return fail(why, "spawn.tty.modes: cc must be 1 to %d bytes in hex", SBX_TTY_NCC);
    /* Unlike byte strings, a control character may be 0 (disabled). */
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)cc->valuestring[i]);
        int lo = hexval((unsigned char)cc->valuestring[i + 1]);
        if (hi < 0 || lo < 0)
            return fail(why, "spawn.tty.modes: cc is not lowercase hex");
        m->cc[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    m->ncc = (unsigned)(n / 2);
    *have = 1;
    return 0;
}

/* The "tty" member of a spawn request, when there is one. */
static int get_tty(const cJSON *o, struct sbx_tty_req *t, char *why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "tty");
    long long rows = 0, cols = 0;
    int rc, rows_absent, cols_absent;

    if (v == NULL)
        return 0;
    if (!cJSON_IsObject(v))
        return fail(why, "spawn: member 'tty' is not an object");
    t->present = 1;
    if ((rc = get_streams(v, &t->streams, why)) < 0 ||
        (rc = get_bool(v, "foreground", 0, &t->foreground, "spawn.tty", why)) < 0)
        return rc;
    /* get_int() gives 1 for an absent member; a size is whole or absent. */
    if ((rows_absent = get_int(v, "rows", 1, SBX_MAX_ROWS, 0, &rows, "spawn.tty", why)) < 0)
        return rows_absent;
    if ((cols_absent = get_int(v, "cols", 1, SBX_MAX_ROWS, 0, &cols, "spawn.tty", why)) < 0)
        return cols_absent;
    if (rows_absent != cols_absent)
        return fail(why, "spawn.tty: rows and cols come together or not at all");
    t->size.rows = (unsigned)rows;
    t->size.cols = (unsigned)cols;
    if ((rc = get_term(v, &t->term, why)) < 0)
        return rc;
    return get_modes(v, &t->modes, &t->have_modes, why);
}

int sbx_spawn_req_encode(const struct sbx_spawn_req *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *argv = strv_json(m->argv, m->argc);
    cJSON *env = strv_json(m->env, m->envc);
    cJSON *cwd = bytes_str(m->cwd);
    int ok = 1;

    if (o == NULL || argv == NULL || env == NULL || cwd == NULL) {
        cJSON_Delete(argv);
        cJSON_Delete(env);
        cJSON_Delete(cwd);
        return finish(o, 0, json, len);
    }
    ok = cJSON_AddItemToObject(o, "argv", argv);
    ok = cJSON_AddItemToObject(o, "cwd", cwd) && ok;
    ok = cJSON_AddItemToObject(o, "env", env) && ok;
    if (ok) {
        cJSON *opts = cJSON_AddObjectToObject(o, "options");
        ok = opts != NULL;
        /* Members at their defaults are left out. */
        if (ok && m->timeout_ms > 0)
            ok = cJSON_AddNumberToObject(opts, "timeout_ms", (double)m->timeout_ms) != NULL;
        if (ok && m->kill_after_ms > 0)
            ok = cJSON_AddNumberToObject(opts, "kill_after_ms", (double)m->kill_after_ms) != NULL;
        if (ok && m->user != NULL)
            ok = cJSON_AddStringToObject(opts, "user", m->user) != NULL;
    }
    if (ok && m->tty.present) {
        cJSON *tty = tty_json(&m->tty);
        ok = tty != NULL && cJSON_AddItemToObject(o, "tty", tty);
        if (!ok)
            cJSON_Delete(tty);
    }
    return finish(o, ok, json, len);
}

int sbx_spawn_req_decode(const uint8_t *p, size_t n, struct sbx_spawn_req *m, char *why)
{
    cJSON *o = parse_obj(p, n, "spawn", why);
    const cJSON *cwd, *opts;
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = get_strv(o, "argv", 1, SBX_MAX_ARGC, &m->argv, &m->argc, "spawn", why)) < 0)
        goto fail;
    if ((rc = get_strv(o, "env", 0, SBX_MAX_ENVC, &m->env, &m->envc, "spawn", why)) < 0)
        goto fail;
    for (size_t i = 0; i < m->envc; i++) {
        /* The name ends at the first '=' after its first character:
         * Windows keeps per-drive directories in names like "=C:". */
        if (m->env[i][0] == '\0' || strchr(m->env[i] + 1, '=') == NULL) {
            rc = fail(why, "spawn: env[%zu] is not NAME=VALUE", i);
            goto fail;
        }
    }
    if ((cwd = cJSON_GetObjectItemCaseSensitive(o, "cwd")) == NULL) {
        rc = fail(why, "spawn: member 'cwd' is missing");
        goto fail;
    }
    if ((rc = get_bytes_str(cwd, &m->cwd, "spawn", "cwd", why)) < 0)
        goto fail;
    if (m->cwd[0] == '\0') {
        rc = fail(why, "spawn: cwd is empty");
        goto fail;
    }
    opts = cJSON_GetObjectItemCaseSensitive(o, "options");
    if (opts != NULL && !cJSON_IsObject(opts)) {
        rc = fail(why, "spawn: member 'options' is not an object");
        goto fail;
    }
    if (opts != NULL) {
        /* Up to a year, in milliseconds: far inside a double's exact range. */
        const long long year = 366LL * 24 * 3600 * 1000;
        if ((rc = get_int(opts, "timeout_ms", 0, year, 0, &m->timeout_ms, "spawn.options",
                          why)) < 0 ||
            (rc = get_int(opts, "kill_after_ms", 0, year, 0, &m->kill_after_ms,
                          "spawn.options", why)) < 0 ||
            (rc = get_str(opts, "user", 0, &m->user, "spawn.options", why)) < 0)
            goto fail;
        if (m->user != NULL && (m->user[0] == '\0' || strlen(m->user) > SBX_MAX_USER)) {
            rc = fail(why, "spawn.options: user must be 1 to %d bytes", SBX_MAX_USER);
            goto fail;
        }
    }
    if ((rc = get_tty(o, &m->tty, why)) < 0)
        goto fail;
    cJSON_Delete(o);
    return 0;
fail:
    cJSON_Delete(o);
    sbx_spawn_req_free(m);
    return rc;
}

void sbx_spawn_req_free(struct sbx_spawn_req *m)
{
    if (m == NULL)
        return;
    free_strv(m->argv, m->argc);
    free_strv(m->env, m->envc);
    free(m->cwd);
    free(m->user);
    free(m->tty.term);
    memset(m, 0, sizeof(*m));
}

/* ---- spawned ---- */

int sbx_spawned_encode(const struct sbx_spawned *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "pid", (double)m->pid);
    return finish(o, ok, json, len);
}

int sbx_spawned_decode(const uint8_t *p, size_t n, struct sbx_spawned *m, char *why)
{
    cJSON *o = parse_obj(p, n, "spawned", why);
    long long pid = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = get_int(o, "pid", 1, 0xffffffffLL, 1, &pid, "spawned", why);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    m->pid = pid;
    return 0;
}

/* ---- spawn error ---- */

int sbx_spawn_error_encode(const struct sbx_spawn_error *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddStringToObject(o, "stage", m->stage) &&
             cJSON_AddStringToObject(o, "error", sbx_err_name(m->err)) &&
             cJSON_AddNumberToObject(o, "os_code", (double)m->os_code) &&
             cJSON_AddStringToObject(o, "message", m->message ? m->message : "");
    return finish(o, ok, json, len);
}

int sbx_spawn_error_decode(const uint8_t *p, size_t n, struct sbx_spawn_error *m, char *why)
{
    cJSON *o = parse_obj(p, n, "spawn-error", why);
    char *err = NULL;
    long long code = 0;
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = get_str(o, "stage", 1, &m->stage, "spawn-error", why)) < 0 ||
        (rc = get_str(o, "error", 1, &err, "spawn-error", why)) < 0 ||
        (rc = get_int(o, "os_code", -0x80000000LL, 0xffffffffLL, 0, &code, "spawn-error",
                      why)) < 0 ||
        (rc = get_str(o, "message", 0, &m->message, "spawn-error", why)) < 0) {
        free(err);
        cJSON_Delete(o);
        sbx_spawn_error_free(m);
        return rc;
    }
    m->err = sbx_err_from_name(err);
    m->os_code = code;
    free(err);
    cJSON_Delete(o);
    return 0;
}

void sbx_spawn_error_free(struct sbx_spawn_error *m)
{
    if (m == NULL)
        return;
    free(m->stage);
    free(m->message);
    memset(m, 0, sizeof(*m));
}

/* ---- exit ---- */

int sbx_exit_encode(const struct sbx_exit *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;

    if (ok && m->how == SBX_SIGNALED) {
        ok = cJSON_AddStringToObject(o, "how", "signaled") &&
             cJSON_AddNumberToObject(o, "signal", m->signal) &&
             cJSON_AddBoolToObject(o, "core", m->core != 0);
    } else if (ok) {
        ok = cJSON_AddStringToObject(o, "how", "exited") &&
             cJSON_AddNumberToObject(o, "code", (double)m->code);
    }
    if (ok && m->timed_out)
        ok = cJSON_AddBoolToObject(o, "timed_out", 1) != NULL;
    return finish(o, ok, json, len);
}

int sbx_exit_decode(const uint8_t *p, size_t n, struct sbx_exit *m, char *why)
{
    cJSON *o = parse_obj(p, n, "exit", why);
    const cJSON *how;
    long long v = 0;
    int rc = 0;

    if (o == NULL)
        return SBX_EPROTO;
    memset(m, 0, sizeof(*m));
    how = cJSON_GetObjectItemCaseSensitive(o, "how");
    if (!cJSON_IsString(how)) {
        rc = fail(why, "exit: member 'how' is missing or not a string");
    } else if (strcmp(how->valuestring, "exited") == 0) {
        m->how = SBX_EXITED;
        if ((rc = get_int(o, "code", 0, 0xffffffffLL, 1, &v, "exit", why)) == 0)
            m->code = v;
    } else if (strcmp(how->valuestring, "signaled") == 0) {
        m->how = SBX_SIGNALED;
        if ((rc = get_int(o, "signal", 1, 255, 1, &v, "exit", why)) == 0) {
            m->signal = (int)v;
            rc = get_bool(o, "core", 0, &m->core, "exit", why);
        }
    } else {
        rc = fail(why, "exit: unknown 'how' value");
    }
    if (rc >= 0)
        rc = get_bool(o, "timed_out", 0, &m->timed_out, "exit", why);
    cJSON_Delete(o);
    return rc < 0 ? rc : 0;
}

/* ---- signal, stopped: {"signal": N} ---- */

static int signal_encode(int sig, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "signal", sig);
    return finish(o, ok, json, len);
}

static int signal_decode(const uint8_t *p, size_t n, int *sig, const char *what, char *why)
{
    cJSON *o = parse_obj(p, n, what, why);
    long long v = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = get_int(o, "signal", 1, 255, 1, &v, what, why);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    *sig = (int)v;
    return 0;
}

int sbx_signal_encode(const struct sbx_signal *m, char **json, size_t *len)
{
    return signal_encode(m->signal, json, len);
}

int sbx_signal_decode(const uint8_t *p, size_t n, struct sbx_signal *m, char *why)
{
    return signal_decode(p, n, &m->signal, "signal", why);
}

int sbx_stopped_encode(const struct sbx_stopped *m, char **json, size_t *len)
{
    return signal_encode(m->signal, json, len);
}

int sbx_stopped_decode(const uint8_t *p, size_t n, struct sbx_stopped *m, char *why)
{
    return signal_decode(p, n, &m->signal, "stopped", why);
}

/* ---- resize ---- */

int sbx_resize_encode(const struct sbx_resize *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "rows", m->size.rows) &&
             cJSON_AddNumberToObject(o, "cols", m->size.cols);
    return finish(o, ok, json, len);
}

int sbx_resize_decode(const uint8_t *p, size_t n, struct sbx_resize *m, char *why)
{
    cJSON *o = parse_obj(p, n, "resize", why);
    long long rows = 0, cols = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = get_int(o, "rows", 1, SBX_MAX_ROWS, 1, &rows, "resize", why)) == 0)
        rc = get_int(o, "cols", 1, SBX_MAX_ROWS, 1, &cols, "resize", why);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    m->size.rows = (unsigned)rows;
    m->size.cols = (unsigned)cols;
    return 0;
}

/* ---- continue ---- */

int sbx_continue_encode(const struct sbx_continue *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddBoolToObject(o, "foreground", m->foreground != 0);
    return finish(o, ok, json, len);
}

int sbx_continue_decode(const uint8_t *p, size_t n, struct sbx_continue *m, char *why)
{
    cJSON *o = parse_obj(p, n, "continue", why);
    int fg = 0, rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = get_bool(o, "foreground", 1, &fg, "continue", why);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    m->foreground = fg;
    return 0;
}

/* ---- error ---- */

int sbx_error_encode(const struct sbx_error_msg *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddStringToObject(o, "message", m->message ? m->message : "");
    return finish(o, ok, json, len);
}

int sbx_error_decode(const uint8_t *p, size_t n, struct sbx_error_msg *m, char *why)
{
    cJSON *o = parse_obj(p, n, "error", why);
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    rc = get_str(o, "message", 1, &m->message, "error", why);
    cJSON_Delete(o);
    return rc;
}

void sbx_error_msg_free(struct sbx_error_msg *m)
{
    if (m == NULL)
        return;
    free(m->message);
    m->message = NULL;
}

void sbx_ack_put(uint8_t out[4], uint32_t n)
{
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
}

uint32_t sbx_ack_get(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}
