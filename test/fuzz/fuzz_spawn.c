/* libFuzzer harness for sbx_spawn_req_decode (src/proto.c).
 *
 * The input is a spawn frame's JSON payload.  The spawn request is the
 * richest message — arrays, the {"hex": ...} byte-string form, NAME=VALUE
 * rules — and the runner executes what it decodes, so beyond memory safety
 * it gets a round-trip oracle: a request that decodes is re-encoded and
 * decoded again, and must come back identical; encoding that second request
 * must give the very same JSON text as the first encoding.  The round trip
 * cannot see bytes lost in the first decoding (a string cut at an embedded
 * NUL re-encodes just as well), so each decoded string is also compared with
 * the input's own JSON, read here with cJSON directly, and a payload that
 * holds a NUL, a \u0000 or a malformed \u escape — which cJSON cuts short
 * in the same way, so the comparison misses it — must not decode at all.
 *
 * Since protocol version 3 an environment entry is any string (no '=', or
 * empty), "cwd" may be absent, and options.merge_stderr is a boolean that
 * excludes stdout and stderr on the terminal; the encoder picks the shorter
 * of a byte string's two forms, which the round trip covers.
 *
 * The "tty" member (protocol version 2) is held to the same: its documented
 * bounds, the round trip, and each decoded value against the input's JSON
 * (the streams as a set, the size, TERM, every mode and the control
 * characters byte by byte).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "err.h"
#include "fuzz.h"
#include "proto.h"



/* The bound docs/protocol.md gives for options.timeout_ms and kill_after_ms. */
#define YEAR_MS 31622400000LL

/* The bounds docs/protocol.md gives for the "tty" member. */
static void check_tty_valid(const struct sbx_tty_req *t)
{
    if (!t->present) {
        /* No member: nothing of a terminal. */
        CHECK(t->streams == 0 && t->foreground == 0 && t->term == NULL && !t->have_modes);
        CHECK(t->size.rows == 0 && t->size.cols == 0);
        return;
    }
    CHECK(t->present == 1);
    CHECK(t->streams >= 1 && t->streams <= 7);
    CHECK(t->foreground == 0 || t->foreground == 1);
    /* Both or neither, each 1..65535. */
    CHECK((t->size.rows == 0) == (t->size.cols == 0));
    CHECK(t->size.rows <= 65535 && t->size.cols <= 65535);
    if (t->term != NULL) {
        size_t n = strlen(t->term);
        CHECK(n >= 1 && n <= SBX_MAX_TERM);
        for (size_t i = 0; i < n; i++)
            CHECK(t->term[i] >= 0x20 && t->term[i] <= 0x7e);
    }
    CHECK(t->have_modes == 0 || t->have_modes == 1);
    if (t->have_modes) {
        CHECK(t->modes.iflag <= 0xffffffffUL && t->modes.oflag <= 0xffffffffUL);
        CHECK(t->modes.cflag <= 0xffffffffUL && t->modes.lflag <= 0xffffffffUL);
        CHECK(t->modes.ispeed <= 0xffffffffUL && t->modes.ospeed <= 0xffffffffUL);
        CHECK(t->modes.ncc >= 1 && t->modes.ncc <= SBX_TTY_NCC);
    }
}

static void check_tty_same(const struct sbx_tty_req *a, const struct sbx_tty_req *b)
{
    CHECK(a->present == b->present && a->streams == b->streams);
    CHECK(a->foreground == b->foreground);
    CHECK(a->size.rows == b->size.rows && a->size.cols == b->size.cols);
    CHECK((a->term == NULL) == (b->term == NULL));
    CHECK(a->term == NULL || strcmp(a->term, b->term) == 0);
    CHECK(a->have_modes == b->have_modes);
    if (a->have_modes) {
        CHECK(a->modes.iflag == b->modes.iflag && a->modes.oflag == b->modes.oflag);
        CHECK(a->modes.cflag == b->modes.cflag && a->modes.lflag == b->modes.lflag);
        CHECK(a->modes.ispeed == b->modes.ispeed && a->modes.ospeed == b->modes.ospeed);
        CHECK(a->modes.ncc == b->modes.ncc);
        CHECK(memcmp(a->modes.cc, b->modes.cc, a->modes.ncc) == 0);
    }
}

/* What docs/protocol.md promises about a request that decoded. */
static void check_valid(const struct sbx_spawn_req *m)
{
    CHECK(m->argc >= 1 && m->argc <= SBX_MAX_ARGC);
    CHECK(m->envc <= SBX_MAX_ENVC);
    CHECK(m->argv != NULL && m->argv[m->argc] == NULL);
    CHECK(m->env != NULL && m->env[m->envc] == NULL);
    for (size_t i = 0; i < m->argc; i++)
        CHECK(m->argv[i] != NULL);
    /* Any string execve() takes: with or without '=', empty too. */
    for (size_t i = 0; i < m->envc; i++)
        CHECK(m->env[i] != NULL);
    /* Absent, or a directory's name. */
    CHECK(m->cwd == NULL || m->cwd[0] != '\0');
    /* One pipe for stdout and stderr, neither of them the terminal. */
    CHECK(m->merge_stderr == 0 || m->merge_stderr == 1);
    CHECK(!(m->merge_stderr && m->tty.present && (m->tty.streams & 6u)));
    /* options: integers from 0 to a year of milliseconds, 0 when absent. */
    CHECK(m->timeout_ms >= 0 && m->timeout_ms <= YEAR_MS);
    CHECK(m->kill_after_ms >= 0 && m->kill_after_ms <= YEAR_MS);
    /* options.user: absent, or 1 to SBX_MAX_USER bytes of UTF-8. */
    if (m->user != NULL) {
        size_t n = strlen(m->user);
        CHECK(n >= 1 && n <= SBX_MAX_USER && sbx_utf8_valid(m->user, n));
    }
    check_tty_valid(&m->tty);
}

static void check_same(const struct sbx_spawn_req *a, const struct sbx_spawn_req *b)
{
    CHECK(a->argc == b->argc);
    CHECK(a->envc == b->envc);
    for (size_t i = 0; i < a->argc; i++)
        CHECK(strcmp(a->argv[i], b->argv[i]) == 0);
    for (size_t i = 0; i < a->envc; i++)
        CHECK(strcmp(a->env[i], b->env[i]) == 0);
    CHECK((a->cwd == NULL) == (b->cwd == NULL));
    CHECK(a->cwd == NULL || strcmp(a->cwd, b->cwd) == 0);
    CHECK(a->merge_stderr == b->merge_stderr);
    CHECK(a->timeout_ms == b->timeout_ms);
    CHECK(a->kill_after_ms == b->kill_after_ms);
    CHECK((a->user == NULL) == (b->user == NULL));
    CHECK(a->user == NULL || strcmp(a->user, b->user) == 0);
    check_tty_same(&a->tty, &b->tty);
}

/* The bytes a wire string stands for (docs/protocol.md, "Byte strings"),
 * checked against what the decoder made of it. */
static void check_wire_str(const cJSON *v, const char *got)
{
    if (cJSON_IsString(v)) {
        CHECK(strcmp(v->valuestring, got) == 0);
        return;
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hex");
    CHECK(cJSON_IsObject(v) && cJSON_IsString(h));
    size_t n = strlen(h->valuestring);
    CHECK(n % 2 == 0);
    CHECK(strlen(got) == n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned byte;
        CHECK(sscanf(h->valuestring + 2 * i, "%2x", &byte) == 1);
        CHECK((unsigned char)got[i] == byte);
    }
}

/* A number member of the input that decoded: an integer, equal to `got`. */
static void check_number(const cJSON *o, const char *name, unsigned long got)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    CHECK(cJSON_IsNumber(v));
    CHECK(v->valuedouble == (double)got);
}

/* The decoded terminal against the input's own "tty" member (NULL: none). */
static void check_tty_against_input(const cJSON *t, const struct sbx_tty_req *m)
{
    const cJSON *it, *v, *modes;
    unsigned set = 0;

    CHECK((t != NULL) == (m->present != 0));
    if (t == NULL)
        return;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(t, "streams"))
        set |= 1u << (unsigned)it->valuedouble;
    CHECK(set == m->streams);
    v = cJSON_GetObjectItemCaseSensitive(t, "foreground");
    CHECK(m->foreground == (v != NULL && cJSON_IsTrue(v)));
    if (cJSON_GetObjectItemCaseSensitive(t, "rows") != NULL) {
        check_number(t, "rows", m->size.rows);
        check_number(t, "cols", m->size.cols);
    } else {
        CHECK(m->size.rows == 0 && m->size.cols == 0);
    }
    v = cJSON_GetObjectItemCaseSensitive(t, "term");
    CHECK((v != NULL) == (m->term != NULL));
    CHECK(v == NULL || strcmp(v->valuestring, m->term) == 0);
    modes = cJSON_GetObjectItemCaseSensitive(t, "modes");
    CHECK((modes != NULL) == (m->have_modes != 0));
    if (modes == NULL)
        return;
    check_number(modes, "iflag", m->modes.iflag);
    check_number(modes, "oflag", m->modes.oflag);
    check_number(modes, "cflag", m->modes.cflag);
    check_number(modes, "lflag", m->modes.lflag);
    check_number(modes, "ispeed", m->modes.ispeed);
    check_number(modes, "ospeed", m->modes.ospeed);
    v = cJSON_GetObjectItemCaseSensitive(modes, "cc");
    CHECK(cJSON_IsString(v) && strlen(v->valuestring) == 2 * (size_t)m->modes.ncc);
    for (unsigned i = 0; i < m->modes.ncc; i++) {
        unsigned byte;
        CHECK(sscanf(v->valuestring + 2 * i, "%2x", &byte) == 1);
        CHECK(m->modes.cc[i] == byte);
    }
}

static void check_against_input(const uint8_t *data, size_t size, const struct sbx_spawn_req *m)
{
    cJSON *o = cJSON_ParseWithLength((const char *)data, size);
    const cJSON *argv, *env, *it;
    size_t i;

    CHECK(o != NULL);
    argv = cJSON_GetObjectItemCaseSensitive(o, "argv");
    env = cJSON_GetObjectItemCaseSensitive(o, "env");
    CHECK((size_t)cJSON_GetArraySize(argv) == m->argc);
    CHECK((size_t)cJSON_GetArraySize(env) == m->envc);
    i = 0;
    cJSON_ArrayForEach(it, argv)
        check_wire_str(it, m->argv[i++]);
    i = 0;
    cJSON_ArrayForEach(it, env)
        check_wire_str(it, m->env[i++]);
    if (cJSON_GetObjectItemCaseSensitive(o, "cwd") != NULL)
        check_wire_str(cJSON_GetObjectItemCaseSensitive(o, "cwd"), m->cwd);
    else
        CHECK(m->cwd == NULL);
    {
        const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options");
        const cJSON *v = opts ? cJSON_GetObjectItemCaseSensitive(opts, "merge_stderr") : NULL;
        CHECK(m->merge_stderr == (v != NULL && cJSON_IsTrue(v)));
    }
    check_tty_against_input(cJSON_GetObjectItemCaseSensitive(o, "tty"), &m->tty);
    cJSON_Delete(o);
}

/* A failed decode leaves a zeroed struct and a one-line reason. */
static void check_failed(int rc, const struct sbx_spawn_req *m, const char *why)
{
    CHECK(rc == SBX_EPROTO || rc == SBX_ENOMEM);
    CHECK(m->argv == NULL && m->env == NULL && m->cwd == NULL);
    CHECK(m->argc == 0 && m->envc == 0);
    CHECK(m->timeout_ms == 0 && m->kill_after_ms == 0 && m->user == NULL);
    CHECK(m->tty.present == 0 && m->tty.term == NULL && m->merge_stderr == 0);
    if (rc == SBX_EPROTO) {
        size_t n = strnlen(why, SBX_WHY);
        CHECK(n > 0 && n < SBX_WHY);
        CHECK(strchr(why, '\n') == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sbx_spawn_req m, m2;
    char why[SBX_WHY], *json = NULL, *json2 = NULL;
    size_t len = 0, len2 = 0;
    int rc;

    /* Garbage in `why`, so an unterminated reason is noticed. */
    memset(why, 'x', sizeof(why));
    memset(&m, 0xa5, sizeof(m));
    rc = sbx_spawn_req_decode(data, size, &m, why);
    if (rc != 0) {
        check_failed(rc, &m, why);
        return 0;
    }
    if (hides_nul(data, size)) {
        fprintf(stderr, "accepted a NUL, a \\u0000 or a malformed \\u escape: "
                        "decoded strings may be cut short\n");
        abort();
    }
    check_valid(&m);
    check_against_input(data, size, &m);

    CHECK(sbx_spawn_req_encode(&m, &json, &len) == 0);
    CHECK(json != NULL && strlen(json) == len);

    memset(&m2, 0xa5, sizeof(m2));
    rc = sbx_spawn_req_decode((const uint8_t *)json, len, &m2, why);
    if (rc != 0)
        fprintf(stderr, "re-encoded request does not decode: %.*s\nJSON: %s\n", SBX_WHY, why,
                json);
    CHECK(rc == 0);
    check_valid(&m2);
    check_same(&m, &m2);

    CHECK(sbx_spawn_req_encode(&m2, &json2, &len2) == 0);
    CHECK(len2 == len && memcmp(json, json2, len) == 0);

    free(json);
    free(json2);
    sbx_spawn_req_free(&m);
    sbx_spawn_req_free(&m2);
    /* _free() leaves a zeroed struct that may be freed again. */
    CHECK(m.argv == NULL && m.env == NULL && m.cwd == NULL && m.tty.term == NULL);
    sbx_spawn_req_free(&m);
    return 0;
}
