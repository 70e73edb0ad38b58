#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "err.h"
#include "frame.h"
#include "json.h"
#include "proto.h"
#include "protocol.h"

/* ---- hello ---- */

int sbx_hello_encode(const struct sbx_hello *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "version", m->version) &&
             cJSON_AddStringToObject(o, "nonce", m->nonce) &&
             cJSON_AddNumberToObject(o, "pid", (double)m->pid);
    return sbx_json_finish(o, ok, json, len);
}

int sbx_hello_decode(const uint8_t *p, size_t n, struct sbx_hello *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "hello", why);
    const cJSON *nonce;
    long long v = 0, pid = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    memset(m, 0, sizeof(*m));
    if ((rc = sbx_json_get_int(o, "version", 0, 0x7fffffff, 1, &v, "hello", why)) < 0)
        goto done;
    if ((rc = sbx_json_get_int(o, "pid", 0, 0x7fffffff, 0, &pid, "hello", why)) < 0)
        goto done;
    rc = 0;
    nonce = cJSON_GetObjectItemCaseSensitive(o, "nonce");
    if (!cJSON_IsString(nonce)) {
        rc = sbx_json_fail(why, "hello: member 'nonce' is missing or not a string");
        goto done;
    }
    if (strlen(nonce->valuestring) != SBX_NONCE_HEX) {
        rc = sbx_json_fail(why, "hello: nonce is not %d hex digits", SBX_NONCE_HEX);
        goto done;
    }
    for (size_t i = 0; i < SBX_NONCE_HEX; i++) {
        if (sbx_json_hexval((unsigned char)nonce->valuestring[i]) < 0) {
            rc = sbx_json_fail(why, "hello: nonce is not lowercase hex");
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
        return sbx_json_fail(why,
                             "the other program speaks protocol version %d, this one version %d: "
                             "install sbx and sbx-runner from the same build",
                             m->version, SBX_PROTO_VERSION);
    for (size_t i = 0; i < SBX_NONCE_HEX; i++)
        d |= (unsigned char)(m->nonce[i] ^ nonce[i]);
    if (d != 0) {
        sbx_json_fail(why, "peer does not know this run's nonce");
        return SBX_EPEER;
    }
    return 0;
}

/* ---- spawn request ---- */

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
        return sbx_json_fail(why, "spawn.tty: member 'streams' is missing");
    if (!cJSON_IsArray(arr))
        return sbx_json_fail(why, "spawn.tty: member 'streams' is not an array");
    n = cJSON_GetArraySize(arr);
    if (n < 1 || n > 3)
        return sbx_json_fail(why, "spawn.tty: 'streams' must list 1 to 3 streams");
    cJSON_ArrayForEach(it, arr) {
        unsigned k;

        if (!cJSON_IsNumber(it) ||
            !(it->valuedouble == 0 || it->valuedouble == 1 || it->valuedouble == 2))
            return sbx_json_fail(why, "spawn.tty: 'streams' holds something other than 0, 1 or 2");
        k = (unsigned)it->valuedouble;
        if (set & (1u << k))
            return sbx_json_fail(why, "spawn.tty: 'streams' names stream %u twice", k);
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
        return sbx_json_fail(why, "spawn.tty: member 'term' is not a string");
    n = strlen(v->valuestring);
    if (n < 1 || n > SBX_MAX_TERM)
        return sbx_json_fail(why, "spawn.tty: term must be 1 to %d bytes", SBX_MAX_TERM);
    /* It becomes TERM in the command's environment: printable ASCII only,
     * so no control character reaches a terminal database lookup or a log. */
    for (size_t i = 0; i < n; i++)
        if (v->valuestring[i] < 0x20 || v->valuestring[i] > 0x7e)
            return sbx_json_fail(why, "spawn.tty: term is not printable ASCII");
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
        return sbx_json_fail(why, "spawn.tty: member 'modes' is not an object");
    mode_slots(m, slot);
    for (size_t i = 0; i < NMODES; i++) {
        if ((rc = sbx_json_get_int(o, mode_names[i], 0, (long long)SBX_MODE_MAX, 1, &v,
                                   "spawn.tty.modes", why)) < 0)
            return rc;
        *slot[i] = (unsigned long)v;
    }
    cc = cJSON_GetObjectItemCaseSensitive(o, "cc");
    if (!cJSON_IsString(cc))
        return sbx_json_fail(why, "spawn.tty.modes: member 'cc' is missing or not a string");
    n = strlen(cc->valuestring);
    if (n < 2 || n > 2 * SBX_TTY_NCC || n % 2 != 0)
        return sbx_json_fail(why, "spawn.tty.modes: cc must be 1 to %d bytes in hex", SBX_TTY_NCC);
    /* Unlike byte strings, a control character may be 0 (disabled). */
    for (size_t i = 0; i < n; i += 2) {
        int hi = sbx_json_hexval((unsigned char)cc->valuestring[i]);
        int lo = sbx_json_hexval((unsigned char)cc->valuestring[i + 1]);
        if (hi < 0 || lo < 0)
            return sbx_json_fail(why, "spawn.tty.modes: cc is not lowercase hex");
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
        return sbx_json_fail(why, "spawn: member 'tty' is not an object");
    t->present = 1;
    if ((rc = get_streams(v, &t->streams, why)) < 0 ||
        (rc = sbx_json_get_bool(v, "foreground", 0, &t->foreground, "spawn.tty", why)) < 0)
        return rc;
    /* sbx_json_get_int() gives 1 for an absent member; a size is whole or absent. */
    rows_absent = sbx_json_get_int(v, "rows", 1, SBX_MAX_ROWS, 0, &rows, "spawn.tty", why);
    if (rows_absent < 0)
        return rows_absent;
    cols_absent = sbx_json_get_int(v, "cols", 1, SBX_MAX_ROWS, 0, &cols, "spawn.tty", why);
    if (cols_absent < 0)
        return cols_absent;
    if (rows_absent != cols_absent)
        return sbx_json_fail(why, "spawn.tty: rows and cols come together or not at all");
    t->size.rows = (unsigned)rows;
    t->size.cols = (unsigned)cols;
    if ((rc = get_term(v, &t->term, why)) < 0)
        return rc;
    return get_modes(v, &t->modes, &t->have_modes, why);
}

int sbx_spawn_req_encode(const struct sbx_spawn_req *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *argv = sbx_json_strv(m->argv, m->argc);
    cJSON *env = sbx_json_strv(m->env, m->envc);
    /* No directory to name: the member is left out. */
    cJSON *cwd = m->cwd != NULL ? sbx_json_bytes(m->cwd) : NULL;
    int ok = 1;

    if (o == NULL || argv == NULL || env == NULL || (m->cwd != NULL && cwd == NULL)) {
        cJSON_Delete(argv);
        cJSON_Delete(env);
        cJSON_Delete(cwd);
        return sbx_json_finish(o, 0, json, len);
    }
    ok = cJSON_AddItemToObject(o, "argv", argv);
    if (cwd != NULL)
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
        if (ok && m->merge_stderr)
            ok = cJSON_AddBoolToObject(opts, "merge_stderr", 1) != NULL;
    }
    if (ok && m->tty.present) {
        cJSON *tty = tty_json(&m->tty);
        ok = tty != NULL && cJSON_AddItemToObject(o, "tty", tty);
        if (!ok)
            cJSON_Delete(tty);
    }
    return sbx_json_finish(o, ok, json, len);
}

int sbx_spawn_req_decode(const uint8_t *p, size_t n, struct sbx_spawn_req *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "spawn", why);
    const cJSON *cwd, *opts;
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = sbx_json_get_strv(o, "argv", 1, SBX_MAX_ARGC, &m->argv, &m->argc, "spawn", why)) < 0)
        goto fail;
    /* Any entry execve() takes travels as it is: one without '=' or an
     * empty one too, as the environment sbx was given may hold them.  Who
     * reads a name out of an entry checks for its '=' (the name ends at
     * the first '=' after its first character: Windows keeps per-drive
     * directories in names like "=C:"). */
    if ((rc = sbx_json_get_strv(o, "env", 0, SBX_MAX_ENVC, &m->env, &m->envc, "spawn", why)) < 0)
        goto fail;
    /* Absent when sbx has no current directory to give (it was removed). */
    if ((cwd = cJSON_GetObjectItemCaseSensitive(o, "cwd")) != NULL) {
        if ((rc = sbx_json_get_bytes(cwd, &m->cwd, "spawn", "cwd", why)) < 0)
            goto fail;
        if (m->cwd[0] == '\0') {
            rc = sbx_json_fail(why, "spawn: cwd is empty");
            goto fail;
        }
    }
    opts = cJSON_GetObjectItemCaseSensitive(o, "options");
    if (opts != NULL && !cJSON_IsObject(opts)) {
        rc = sbx_json_fail(why, "spawn: member 'options' is not an object");
        goto fail;
    }
    if (opts != NULL) {
        /* Up to a year, in milliseconds: far inside a double's exact range. */
        const long long year = 366LL * 24 * 3600 * 1000;
        if ((rc = sbx_json_get_int(opts, "timeout_ms", 0, year, 0, &m->timeout_ms, "spawn.options",
                                   why)) < 0 ||
            (rc = sbx_json_get_int(opts, "kill_after_ms", 0, year, 0, &m->kill_after_ms,
                                   "spawn.options", why)) < 0 ||
            (rc = sbx_json_get_str(opts, "user", 0, &m->user, "spawn.options", why)) < 0 ||
            (rc = sbx_json_get_bool(opts, "merge_stderr", 0, &m->merge_stderr, "spawn.options",
                                    why)) < 0)
            goto fail;
        if (m->user != NULL && (m->user[0] == '\0' || strlen(m->user) > SBX_MAX_USER)) {
            rc = sbx_json_fail(why, "spawn.options: user must be 1 to %d bytes", SBX_MAX_USER);
            goto fail;
        }
    }
    if ((rc = get_tty(o, &m->tty, why)) < 0)
        goto fail;
    /* One pipe for stdout and stderr, and one of them the terminal: there
     * is no such command. */
    if (m->merge_stderr && m->tty.present && (m->tty.streams & 6u) != 0) {
        rc = sbx_json_fail(why, "spawn: merge_stderr with stdout or stderr on the terminal");
        goto fail;
    }
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
    sbx_json_free_strv(m->argv, m->argc);
    sbx_json_free_strv(m->env, m->envc);
    free(m->cwd);
    free(m->user);
    free(m->tty.term);
    memset(m, 0, sizeof(*m));
}

/* ---- the request over several frames ---- */

size_t sbx_spawn_piece(size_t left, unsigned *type)
{
    *type = left > SBX_CHUNK ? SBX_F_SPAWN_PART : SBX_F_SPAWN;
    return left > SBX_CHUNK ? SBX_CHUNK : left;
}

int sbx_spawn_text_add(struct sbx_spawn_text *t, const uint8_t *p, size_t n, char *why)
{
    if (n > SBX_SPAWN_MAX - t->len) {
        sbx_json_fail(why, "spawn: request over the limit of %u bytes", SBX_SPAWN_MAX);
        return SBX_E2BIG;
    }
    if (n > t->cap - t->len) {
        /* Doubling, capped at the bound: at most SBX_SPAWN_MAX is held. */
        size_t cap = t->cap ? t->cap : SBX_CHUNK;
        uint8_t *b;

        while (cap - t->len < n)
            cap = cap > SBX_SPAWN_MAX / 2 ? SBX_SPAWN_MAX : cap * 2;
        if ((b = realloc(t->buf, cap)) == NULL)
            return SBX_ENOMEM;
        t->buf = b;
        t->cap = cap;
    }
    if (n > 0)
        memcpy(t->buf + t->len, p, n);
    t->len += n;
    return 0;
}

void sbx_spawn_text_free(struct sbx_spawn_text *t)
{
    if (t == NULL)
        return;
    free(t->buf);
    memset(t, 0, sizeof(*t));
}

/* ---- spawned ---- */

int sbx_spawned_encode(const struct sbx_spawned *m, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "pid", (double)m->pid);
    return sbx_json_finish(o, ok, json, len);
}

int sbx_spawned_decode(const uint8_t *p, size_t n, struct sbx_spawned *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "spawned", why);
    long long pid = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = sbx_json_get_int(o, "pid", 1, 0xffffffffLL, 1, &pid, "spawned", why);
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
    return sbx_json_finish(o, ok, json, len);
}

int sbx_spawn_error_decode(const uint8_t *p, size_t n, struct sbx_spawn_error *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "spawn-error", why);
    char *err = NULL;
    long long code = 0;
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = sbx_json_get_str(o, "stage", 1, &m->stage, "spawn-error", why)) < 0 ||
        (rc = sbx_json_get_str(o, "error", 1, &err, "spawn-error", why)) < 0 ||
        (rc = sbx_json_get_int(o, "os_code", -0x80000000LL, 0xffffffffLL, 0, &code, "spawn-error",
                               why)) < 0 ||
        (rc = sbx_json_get_str(o, "message", 0, &m->message, "spawn-error", why)) < 0) {
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
    return sbx_json_finish(o, ok, json, len);
}

int sbx_exit_decode(const uint8_t *p, size_t n, struct sbx_exit *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "exit", why);
    const cJSON *how;
    long long v = 0;
    int rc = 0;

    if (o == NULL)
        return SBX_EPROTO;
    memset(m, 0, sizeof(*m));
    how = cJSON_GetObjectItemCaseSensitive(o, "how");
    if (!cJSON_IsString(how)) {
        rc = sbx_json_fail(why, "exit: member 'how' is missing or not a string");
    } else if (strcmp(how->valuestring, "exited") == 0) {
        m->how = SBX_EXITED;
        if ((rc = sbx_json_get_int(o, "code", 0, 0xffffffffLL, 1, &v, "exit", why)) == 0)
            m->code = v;
    } else if (strcmp(how->valuestring, "signaled") == 0) {
        m->how = SBX_SIGNALED;
        if ((rc = sbx_json_get_int(o, "signal", 1, 255, 1, &v, "exit", why)) == 0) {
            m->signal = (int)v;
            rc = sbx_json_get_bool(o, "core", 0, &m->core, "exit", why);
        }
    } else {
        rc = sbx_json_fail(why, "exit: unknown 'how' value");
    }
    if (rc >= 0)
        rc = sbx_json_get_bool(o, "timed_out", 0, &m->timed_out, "exit", why);
    cJSON_Delete(o);
    return rc < 0 ? rc : 0;
}

/* ---- signal, stopped: {"signal": N} ---- */

static int signal_encode(int sig, char **json, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL && cJSON_AddNumberToObject(o, "signal", sig);
    return sbx_json_finish(o, ok, json, len);
}

static int signal_decode(const uint8_t *p, size_t n, int *sig, const char *what, char *why)
{
    cJSON *o = sbx_json_parse(p, n, what, why);
    long long v = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = sbx_json_get_int(o, "signal", 1, 255, 1, &v, what, why);
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
    return sbx_json_finish(o, ok, json, len);
}

int sbx_resize_decode(const uint8_t *p, size_t n, struct sbx_resize *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "resize", why);
    long long rows = 0, cols = 0;
    int rc;

    if (o == NULL)
        return SBX_EPROTO;
    if ((rc = sbx_json_get_int(o, "rows", 1, SBX_MAX_ROWS, 1, &rows, "resize", why)) == 0)
        rc = sbx_json_get_int(o, "cols", 1, SBX_MAX_ROWS, 1, &cols, "resize", why);
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
    return sbx_json_finish(o, ok, json, len);
}

int sbx_continue_decode(const uint8_t *p, size_t n, struct sbx_continue *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "continue", why);
    int fg = 0, rc;

    if (o == NULL)
        return SBX_EPROTO;
    rc = sbx_json_get_bool(o, "foreground", 1, &fg, "continue", why);
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
    return sbx_json_finish(o, ok, json, len);
}

int sbx_error_decode(const uint8_t *p, size_t n, struct sbx_error_msg *m, char *why)
{
    cJSON *o = sbx_json_parse(p, n, "error", why);
    int rc;

    memset(m, 0, sizeof(*m));
    if (o == NULL)
        return SBX_EPROTO;
    rc = sbx_json_get_str(o, "message", 1, &m->message, "error", why);
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
