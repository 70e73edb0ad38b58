/* Protocol messages: round trips, and every way a payload can be wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "frame.h"
#include "proto.h"
#include "protocol.h"

#define P(s) (const uint8_t *)(s), strlen(s)

static const char NONCE[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

Test(proto, hello_round_trip)
{
    struct sbx_hello in = { SBX_PROTO_VERSION, "", 31337 }, out;
    char why[SBX_WHY] = "";
    char *json;
    size_t len;

    memcpy(in.nonce, NONCE, sizeof(NONCE));
    cr_assert_eq(sbx_hello_encode(&in, &json, &len), 0);
    cr_assert_eq(sbx_hello_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    cr_assert_eq(out.version, SBX_PROTO_VERSION);
    cr_assert_str_eq(out.nonce, NONCE);
    cr_assert_eq(out.pid, 31337);
    cr_assert_eq(sbx_hello_check(&out, NONCE, why), 0);
    free(json);
}

Test(proto, hello_wrong_version_and_nonce)
{
    struct sbx_hello m;
    char why[SBX_WHY] = "";
    char other[sizeof(NONCE)];

    /* A version-1 peer (sbx and sbx-runner from different builds). */
    cr_assert_eq(sbx_hello_decode(P("{\"version\":1,\"nonce\":\"00112233445566778899aabbccddeeff"
                                    "00112233445566778899aabbccddeeff\"}"), &m, why), 0);
    cr_assert_eq(sbx_hello_check(&m, NONCE, why), SBX_EPROTO);
    cr_assert_str_eq(why, "the other program speaks protocol version 1, this one version 3: "
                          "install sbx and sbx-runner from the same build");
    /* Version 2 had no spawn parts: a request it cannot read is refused
     * at hello, not half way through. */
    m.version = 2;
    cr_assert_eq(sbx_hello_check(&m, NONCE, why), SBX_EPROTO);
    cr_assert(strstr(why, "version 2, this one version 3") != NULL, "%s", why);
    m.version = 4;
    cr_assert_eq(sbx_hello_check(&m, NONCE, why), SBX_EPROTO);
    cr_assert(strstr(why, "version 4, this one version 3") != NULL, "%s", why);

    m.version = SBX_PROTO_VERSION;
    memcpy(other, NONCE, sizeof(NONCE));
    other[63] = '0';
    cr_assert_eq(sbx_hello_check(&m, other, why), SBX_EPEER);
    cr_assert(strstr(why, "nonce") != NULL);
}

Test(proto, hello_malformed)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "\"x\"",
        "{\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
        "{\"version\":\"1\",\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
        "{\"version\":1.5,\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
        "{\"version\":-1,\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
        "{\"version\":1}",
        "{\"version\":1,\"nonce\":12}",
        "{\"version\":1,\"nonce\":\"0011\"}",
        "{\"version\":1,\"nonce\":\"00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\"}",
        "{\"version\":1,\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"} x",
        "{\"version\":1,\"nonce\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"pid\":\"7\"}",
    };
    struct sbx_hello m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[SBX_WHY] = "";
        cr_assert_eq(sbx_hello_decode(P(bad[i]), &m, why), SBX_EPROTO, "accepted: %s", bad[i]);
        cr_assert(why[0] != '\0' || strlen(bad[i]) == 0, "no reason for: %s", bad[i]);
    }
}

Test(proto, unknown_members_are_ignored)
{
    struct sbx_hello m;
    struct sbx_exit e;
    char why[SBX_WHY] = "";

    cr_assert_eq(sbx_hello_decode(P("{\"future\":{\"a\":[1,2]},\"version\":1,\"nonce\":"
                                    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
                                    "\"extra\":null}"), &m, why), 0, "%s", why);
    cr_assert_eq(sbx_exit_decode(P("{\"how\":\"exited\",\"code\":7,\"rusage\":{}}"), &e, why), 0);
    cr_assert_eq(e.code, 7);
}

static void spawn_round_trip(char **argv, size_t argc, const char *cwd, char **env, size_t envc)
{
    struct sbx_spawn_req in = { .argv = argv, .argc = argc, .cwd = (char *)cwd, .env = env,
                                 .envc = envc }, out;
    char why[SBX_WHY] = "";
    char *json;
    size_t len;

    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(sbx_utf8_valid(json, len), "the payload itself is always UTF-8 JSON");
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s: %s", why, json);
    cr_assert_eq(out.argc, argc);
    for (size_t i = 0; i < argc; i++)
        cr_assert_str_eq(out.argv[i], argv[i]);
    cr_assert_null(out.argv[argc]);
    cr_assert_str_eq(out.cwd, cwd);
    cr_assert_eq(out.envc, envc);
    for (size_t i = 0; i < envc; i++)
        cr_assert_str_eq(out.env[i], env[i]);
    cr_assert_null(out.env[envc]);
    sbx_spawn_req_free(&out);
    free(json);
}

Test(proto, spawn_round_trip_awkward_strings)
{
    const char *argv[] = { "prog", "", " ", "a b", "\"", "\\", "a\\\"b\\", "*", "?", "[x]", "$HOME",
                     "%PATH%", "tab\there", "line\nbreak", "caf\xc3\xa9", "\xe2\x82\xac",
                     "\xf0\x9f\x98\x80", "\xff\xfe", "\xc3", "\xed\xa0\x80", "\x01\x1f\x7f",
                     "mixed \xc3\xa9 and \xff" };
    const char *env[] = { "A=1", "EMPTY=", "WEIRD=\xff=x", "A=2", "=C:=C:\\work" };

    /* The encoder only reads the strings. */
    spawn_round_trip((char **)argv, sizeof(argv) / sizeof(argv[0]), "/dir with space/\xff",
                     (char **)env, sizeof(env) / sizeof(env[0]));
}

Test(proto, spawn_round_trip_random_bytes)
{
    srand(99);
    for (int round = 0; round < 300; round++) {
        char *argv[8], *env[3];
        size_t argc = 1 + (size_t)(rand() % 8);
        for (size_t i = 0; i < argc; i++) {
            size_t n = (size_t)(rand() % 12);
            argv[i] = malloc(n + 1);
            for (size_t k = 0; k < n; k++)
                argv[i][k] = (char)(1 + rand() % 255);
            argv[i][n] = '\0';
        }
        for (size_t i = 0; i < 3; i++) {
            env[i] = malloc(8);
            snprintf(env[i], 8, "V%zu=%c", i, (char)(0x80 + rand() % 0x7f));
        }
        spawn_round_trip(argv, argc, "/", env, 3);
        for (size_t i = 0; i < argc; i++)
            free(argv[i]);
        for (size_t i = 0; i < 3; i++)
            free(env[i]);
    }
}

Test(proto, spawn_options_round_trip)
{
    const char *argv[] = { "sleep", "100" }, *env[] = { "A=1" };
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 2, .cwd = (char *)"/",
                                .env = (char **)env, .envc = 1,
                                 .timeout_ms = 90000, .kill_after_ms = 2500 }, out;
    char why[SBX_WHY] = "";
    char *json;
    size_t len;

    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "\"timeout_ms\":90000") != NULL, "%s", json);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    cr_assert_eq(out.timeout_ms, 90000);
    cr_assert_eq(out.kill_after_ms, 2500);
    sbx_spawn_req_free(&out);
    free(json);

    /* Defaults are left out, so version-1 requests look as they always did. */
    in.timeout_ms = in.kill_after_ms = 0;
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "\"options\":{}") != NULL, "%s", json);
    free(json);
}

Test(proto, spawn_user_round_trip_and_bounds)
{
    const char *argv[] = { "id" }, *env[] = { "A=1" };
    char name[SBX_MAX_USER + 2];
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 1, .cwd = (char *)"/",
                                .env = (char **)env, .envc = 1, .user = (char *)"build" }, out;
    char why[SBX_WHY] = "", *json;
    size_t len;

    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "\"options\":{\"user\":\"build\"}") != NULL, "%s", json);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    cr_assert_str_eq(out.user, "build");
    sbx_spawn_req_free(&out);
    cr_assert_null(out.user);
    free(json);

    /* Absent means the runner's own account. */
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"id\"],\"cwd\":\"/\",\"env\":[]}"), &out, why),
                 0, "%s", why);
    cr_assert_null(out.user);
    sbx_spawn_req_free(&out);

    /* Exactly the cap is fine; one byte more, empty, or not a string is not. */
    memset(name, 'u', sizeof(name));
    name[SBX_MAX_USER] = '\0';
    in.user = name;
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    sbx_spawn_req_free(&out);
    free(json);
    name[SBX_MAX_USER] = 'u';
    name[SBX_MAX_USER + 1] = '\0';
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), SBX_EPROTO);
    cr_assert(strstr(why, "user") != NULL, "%s", why);
    cr_assert_null(out.argv);
    free(json);
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"id\"],\"cwd\":\"/\",\"env\":[],"
                                        "\"options\":{\"user\":\"\"}}"), &out, why), SBX_EPROTO);
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"id\"],\"cwd\":\"/\",\"env\":[],"
                                        "\"options\":{\"user\":0}}"), &out, why), SBX_EPROTO);
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"id\"],\"cwd\":\"/\",\"env\":[],"
                                        "\"options\":{\"user\":\"a\\u0000b\"}}"), &out, why),
                 SBX_EPROTO);
}

Test(proto, spawn_malformed)
{
    static const char *const bad[] = {
        "{\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":\"ls\",\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[1],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"ls\",null],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"\",\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":5,\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\"}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":{}}",
        "{\"argv\":[\"l\\u0000s\"],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"rm\",\"/tmp/x\\uZZZZ/y\"],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"a\\u12\"],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\\u\\uCNG=C\"]}",
        "{\"argv\":[{\"hex\":\"6c00\"}],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[{\"hex\":\"6\"}],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[{\"hex\":\"6G\"}],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[{\"hex\":\"6C\"}],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[{\"bytes\":\"6c\"}],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"\xff\"],\"cwd\":\"/\",\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":{\"timeout_ms\":-1}}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":{\"timeout_ms\":\"5s\"}}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":{\"kill_after_ms\":1.5}}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":{\"timeout_ms\":1e30}}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[],\"options\":{\"merge_stderr\":1}}",
        "{\"argv\":[\"ls\"],\"cwd\":null,\"env\":[]}",
        "{\"argv\":[\"ls\"],\"env\":[\"A=1\",null]}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sbx_spawn_req m;
        char why[SBX_WHY] = "";
        cr_assert_eq(sbx_spawn_req_decode(P(bad[i]), &m, why), SBX_EPROTO, "accepted: %s", bad[i]);
        cr_assert_neq(why[0], '\0', "no reason for: %s", bad[i]);
        cr_assert_null(m.argv, "nothing left allocated on failure");
    }
}

Test(proto, spawn_escaped_backslash_u0000_is_fine)
{
    /* "\\u0000" is a backslash followed by "u0000", not a NUL. */
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "";

    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"a\\\\u0000\"],\"cwd\":\"/\",\"env\":[]}"),
                                      &m, why), 0, "%s", why);
    cr_assert_str_eq(m.argv[0], "a\\u0000");
    sbx_spawn_req_free(&m);
}

Test(proto, spawn_argc_cap)
{
    size_t n = SBX_MAX_ARGC + 1, len = 0;
    char *json = malloc(n * 4 + 64), *p = json;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "";

    p += sprintf(p, "{\"cwd\":\"/\",\"env\":[],\"argv\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"a\"", i ? "," : "");
    p += sprintf(p, "]}");
    len = (size_t)(p - json);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &m, why), SBX_EPROTO);
    cr_assert(strstr(why, "limit") != NULL, "%s", why);
    free(json);
}

Test(proto, spawned_and_errors_round_trip)
{
    struct sbx_spawned sp = { 4242 }, sp2;
    struct sbx_spawn_error se = { (char *)"exec", SBX_EACCES, 13, (char *)"Permission denied" };
    struct sbx_spawn_error se2;
    struct sbx_error_msg em = { (char *)"something broke" }, em2;
    struct sbx_signal t = { 15 }, t2;
    char why[SBX_WHY] = "";
    char *json;
    size_t len;

    cr_assert_eq(sbx_spawned_encode(&sp, &json, &len), 0);
    cr_assert_eq(sbx_spawned_decode((uint8_t *)json, len, &sp2, why), 0);
    cr_assert_eq(sp2.pid, 4242);
    free(json);

    cr_assert_eq(sbx_spawn_error_encode(&se, &json, &len), 0);
    cr_assert_eq(sbx_spawn_error_decode((uint8_t *)json, len, &se2, why), 0, "%s", why);
    cr_assert_str_eq(se2.stage, "exec");
    cr_assert_eq(se2.err, SBX_EACCES);
    cr_assert_eq(se2.os_code, 13);
    cr_assert_str_eq(se2.message, "Permission denied");
    sbx_spawn_error_free(&se2);
    free(json);

    cr_assert_eq(sbx_error_encode(&em, &json, &len), 0);
    cr_assert_eq(sbx_error_decode((uint8_t *)json, len, &em2, why), 0);
    cr_assert_str_eq(em2.message, "something broke");
    sbx_error_msg_free(&em2);
    free(json);

    cr_assert_eq(sbx_signal_encode(&t, &json, &len), 0);
    cr_assert_eq(sbx_signal_decode((uint8_t *)json, len, &t2, why), 0);
    cr_assert_eq(t2.signal, 15);
    free(json);
}

Test(proto, exit_round_trip)
{
    static const struct sbx_exit cases[] = {
        { SBX_EXITED, 0, 0, 0, 0 },  { SBX_EXITED, 3, 0, 0, 0 },
        { SBX_EXITED, 255, 0, 0, 0 }, { SBX_EXITED, 0xC0000005LL, 0, 0, 0 },
        { SBX_EXITED, 0xffffffffLL, 0, 0, 0 }, { SBX_SIGNALED, 0, 15, 0, 0 },
        { SBX_SIGNALED, 0, 11, 1, 0 }, { SBX_SIGNALED, 0, 15, 0, 1 },
        { SBX_EXITED, 0, 0, 0, 1 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbx_exit out;
        char why[SBX_WHY] = "";
        char *json;
        size_t len;

        cr_assert_eq(sbx_exit_encode(&cases[i], &json, &len), 0);
        cr_assert_eq(sbx_exit_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
        cr_assert_eq(out.how, cases[i].how);
        cr_assert_eq(out.timed_out, cases[i].timed_out, "%s", json);
        if (out.how == SBX_EXITED) {
            cr_assert_eq(out.code, cases[i].code, "%s", json);
        } else {
            cr_assert_eq(out.signal, cases[i].signal);
            cr_assert_eq(out.core, cases[i].core);
        }
        free(json);
    }
}

Test(proto, small_messages_malformed)
{
    static const struct {
        int which;
        const char *json;
    } bad[] = {
        { 0, "{}" }, { 0, "{\"pid\":0}" }, { 0, "{\"pid\":\"1\"}" }, { 0, "{\"pid\":1e300}" },
        { 1, "{}" }, { 1, "{\"how\":\"exited\"}" }, { 1, "{\"how\":\"exited\",\"code\":-1}" },
        { 1, "{\"how\":\"exited\",\"code\":4294967296}" }, { 1, "{\"how\":\"signaled\"}" },
        { 1, "{\"how\":\"signaled\",\"signal\":0}" }, { 1, "{\"how\":\"signaled\",\"signal\":9,\"core\":1}" },
        { 1, "{\"how\":\"vanished\",\"code\":1}" }, { 1, "{\"how\":3}" },
        { 1, "{\"how\":\"exited\",\"code\":0,\"timed_out\":1}" },
        { 2, "{}" }, { 2, "{\"signal\":\"INT\"}" }, { 2, "{\"signal\":256}" },
        { 3, "{}" }, { 3, "{\"message\":7}" }, { 3, "{\"message\":\"abc\\uqqqqdef\"}" },
        { 1, "{\"how\":\"exited\\uqqqq\",\"code\":0}" },
        { 4, "{}" }, { 4, "{\"stage\":\"exec\"}" }, { 4, "{\"stage\":1,\"error\":\"ENOENT\"}" },
        { 4, "{\"stage\":\"exec\",\"error\":\"ENOENT\",\"os_code\":\"2\"}" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[SBX_WHY] = "";
        struct sbx_spawned sp;
        struct sbx_exit e;
        struct sbx_signal t;
        struct sbx_error_msg em;
        struct sbx_spawn_error se;
        int rc = 0;
        switch (bad[i].which) {
        case 0: rc = sbx_spawned_decode(P(bad[i].json), &sp, why); break;
        case 1: rc = sbx_exit_decode(P(bad[i].json), &e, why); break;
        case 2: rc = sbx_signal_decode(P(bad[i].json), &t, why); break;
        case 3: rc = sbx_error_decode(P(bad[i].json), &em, why); break;
        case 4: rc = sbx_spawn_error_decode(P(bad[i].json), &se, why); break;
        }
        cr_assert_eq(rc, SBX_EPROTO, "accepted: %s", bad[i].json);
        cr_assert_neq(why[0], '\0', "no reason for %s", bad[i].json);
    }
}

Test(proto, unknown_error_names_map_to_esys)
{
    struct sbx_spawn_error se;
    char why[SBX_WHY] = "";

    cr_assert_eq(sbx_spawn_error_decode(P("{\"stage\":\"exec\",\"error\":\"EFUTURE\"}"), &se, why), 0);
    cr_assert_eq(se.err, SBX_ESYS);
    sbx_spawn_error_free(&se);
    for (int e = SBX_ERR_MIN_ + 1; e <= 0; e++)
        cr_assert_eq(sbx_err_from_name(sbx_err_name(e)), e, "%d", e);
}

Test(proto, ack_round_trip)
{
    uint8_t b[4];

    sbx_ack_put(b, 0x01020304u);
    cr_assert_eq(b[0], 1);
    cr_assert_eq(b[3], 4);
    cr_assert_eq(sbx_ack_get(b), 0x01020304u);
}

Test(proto, utf8_validation)
{
    cr_assert(sbx_utf8_valid("", 0));
    cr_assert(sbx_utf8_valid("abc", 3));
    cr_assert(sbx_utf8_valid("\xc3\xa9", 2));
    cr_assert(sbx_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    cr_assert_not(sbx_utf8_valid("\xc0\xaf", 2), "overlong");
    cr_assert_not(sbx_utf8_valid("\xe0\x80\xaf", 3), "overlong");
    cr_assert_not(sbx_utf8_valid("\xed\xa0\x80", 3), "surrogate");
    cr_assert_not(sbx_utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
    cr_assert_not(sbx_utf8_valid("\xc3", 1), "truncated");
    cr_assert_not(sbx_utf8_valid("\x80", 1), "lone continuation");
}

/* ---- protocol version 2: the terminal ---- */

#define SPAWN_HEAD "{\"argv\":[\"sh\"],\"cwd\":\"/\",\"env\":[],"

static void tty_round_trip(const struct sbx_tty_req *t)
{
    const char *argv[] = { "sh" }, *env[] = { "A=1" };
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 1, .cwd = (char *)"/",
                                .env = (char **)env, .envc = 1 };
    struct sbx_spawn_req out;
    char why[SBX_WHY] = "", *json;
    size_t len;

    in.tty = *t;
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s: %s", why, json);
    cr_assert_eq(out.tty.present, 1, "%s", json);
    cr_assert_eq(out.tty.streams, t->streams, "%s", json);
    cr_assert_eq(out.tty.foreground, t->foreground != 0, "%s", json);
    cr_assert_eq(out.tty.size.rows, t->size.rows, "%s", json);
    cr_assert_eq(out.tty.size.cols, t->size.cols, "%s", json);
    if (t->term == NULL)
        cr_assert_null(out.tty.term, "%s", json);
    else
        cr_assert_str_eq(out.tty.term, t->term, "%s", json);
    cr_assert_eq(out.tty.have_modes, t->have_modes != 0, "%s", json);
    if (t->have_modes) {
        cr_assert_eq(out.tty.modes.iflag, t->modes.iflag);
        cr_assert_eq(out.tty.modes.oflag, t->modes.oflag);
        cr_assert_eq(out.tty.modes.cflag, t->modes.cflag);
        cr_assert_eq(out.tty.modes.lflag, t->modes.lflag);
        cr_assert_eq(out.tty.modes.ispeed, t->modes.ispeed);
        cr_assert_eq(out.tty.modes.ospeed, t->modes.ospeed);
        cr_assert_eq(out.tty.modes.ncc, t->modes.ncc);
        cr_assert_arr_eq(out.tty.modes.cc, t->modes.cc, t->modes.ncc);
    }
    sbx_spawn_req_free(&out);
    cr_assert_null(out.tty.term, "freed and zeroed");
    cr_assert_eq(out.tty.present, 0);
    free(json);
}

Test(proto, spawn_tty_round_trip)
{
    struct sbx_tty_req cases[] = {
        { .present = 1, .streams = 7, .foreground = 1, .size = { 40, 120 },
          .term = (char *)"xterm-256color", .have_modes = 1,
          .modes = { 0x4500, 0x5, 0xbf, 0x8a3b, 15, 15, { 3, 0x1c, 0x7f, 0x15, 4, 0, 1 }, 7 } },
        { .present = 1, .streams = 6, .foreground = 1 },             /* --pty in CI */
        { .present = 1, .streams = 1, .foreground = 0, .size = { 24, 80 } }, /* only stdin */
        { .present = 1, .streams = 2, .size = { 1, 1 }, .term = (char *)"dumb" },
        { .present = 1, .streams = 4, .size = { 65535, 65535 } },
        { .present = 1, .streams = 5, .have_modes = 1,
          .modes = { 0, 0, 0, 0, 0, 0, { 0 }, 1 } },                 /* one disabled cc */
        { .present = 1, .streams = 3, .have_modes = 1,
          .modes = { 0xffffffffUL, 0xffffffffUL, 0xffffffffUL, 0xffffffffUL, 0xffffffffUL,
                     0xffffffffUL, { 0xff }, SBX_TTY_NCC } },
        { .present = 1, .streams = 7, .term = (char *)" !~" },             /* printable edges */
    };
    char term[SBX_MAX_TERM + 1];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        tty_round_trip(&cases[i]);
    memset(term, 'x', SBX_MAX_TERM);
    term[SBX_MAX_TERM] = '\0';
    cases[0].term = term;
    tty_round_trip(&cases[0]);
}

/* The encoder never reads past cc[], whatever ncc says. */
Test(proto, spawn_tty_encoder_clamps_ncc)
{
    const char *argv[] = { "sh" };
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 1, .cwd = (char *)"/", .env = NULL,
                                .envc = 0 };
    char *json;
    size_t len;

    in.tty.present = 1;
    in.tty.streams = 7;
    in.tty.have_modes = 1;
    in.tty.modes.ncc = 1000;
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "\"cc\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
                           "\"") != NULL, "%s", json);
    free(json);
}

Test(proto, spawn_without_tty_has_none)
{
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "";

    cr_assert_eq(sbx_spawn_req_decode(P(SPAWN_HEAD "\"options\":{}}"), &m, why), 0, "%s", why);
    cr_assert_eq(m.tty.present, 0);
    cr_assert_null(m.tty.term);
    sbx_spawn_req_free(&m);
    /* Unknown members of tty and of its modes are ignored. */
    cr_assert_eq(sbx_spawn_req_decode(P(SPAWN_HEAD "\"tty\":{\"streams\":[2],\"future\":[1],"
                                        "\"modes\":{\"iflag\":1,\"oflag\":2,\"cflag\":3,"
                                        "\"lflag\":4,\"ispeed\":5,\"ospeed\":6,\"cc\":\"00\","
                                        "\"line\":0}}}"), &m, why), 0, "%s", why);
    cr_assert_eq(m.tty.streams, 4u);
    cr_assert_eq(m.tty.foreground, 0, "absent: in the background");
    cr_assert_eq(m.tty.modes.lflag, 4ul);
    cr_assert_eq(m.tty.modes.ncc, 1);
    sbx_spawn_req_free(&m);
}

Test(proto, spawn_tty_malformed)
{
    static const struct {
        const char *tty;
        const char *why; /* a part of the reason */
    } bad[] = {
        { "null", "tty" },
        { "[]", "tty" },
        { "\"yes\"", "tty" },
        { "{}", "streams" },
        { "{\"streams\":[]}", "streams" },
        { "{\"streams\":[0,1,2,0]}", "streams" },
        { "{\"streams\":[0,0]}", "twice" },
        { "{\"streams\":[3]}", "streams" },
        { "{\"streams\":[-1]}", "streams" },
        { "{\"streams\":[1.5]}", "streams" },
        { "{\"streams\":[\"1\"]}", "streams" },
        { "{\"streams\":[null]}", "streams" },
        { "{\"streams\":1}", "streams" },
        { "{\"streams\":{\"0\":1}}", "streams" },
        { "{\"streams\":[1],\"foreground\":1}", "foreground" },
        { "{\"streams\":[1],\"foreground\":\"true\"}", "foreground" },
        { "{\"streams\":[1],\"rows\":0,\"cols\":80}", "rows" },
        { "{\"streams\":[1],\"rows\":24,\"cols\":65536}", "cols" },
        { "{\"streams\":[1],\"rows\":24}", "together" },
        { "{\"streams\":[1],\"cols\":80}", "together" },
        { "{\"streams\":[1],\"rows\":24.5,\"cols\":80}", "rows" },
        { "{\"streams\":[1],\"rows\":\"24\",\"cols\":80}", "rows" },
        { "{\"streams\":[1],\"term\":\"\"}", "term" },
        { "{\"streams\":[1],\"term\":7}", "term" },
        { "{\"streams\":[1],\"term\":\"xterm\\u001b[2J\"}", "term" },
        { "{\"streams\":[1],\"term\":\"x\\ty\"}", "term" },
        { "{\"streams\":[1],\"term\":\"x\\u007f\"}", "term" },
        { "{\"streams\":[1],\"term\":\"caf\\u00e9\"}", "term" },
        { "{\"streams\":[1],\"term\":\"a\\u0000b\"}", "NUL" },
        { "{\"streams\":[1],\"modes\":[]}", "modes" },
        { "{\"streams\":[1],\"modes\":{}}", "iflag" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":-1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"03\"}}", "iflag" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":4294967296,\"oflag\":1,\"cflag\":1,"
          "\"lflag\":1,\"ispeed\":1,\"ospeed\":1,\"cc\":\"03\"}}", "iflag" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":0.5,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"03\"}}", "lflag" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1e30,\"cc\":\"03\"}}", "ospeed" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"\"}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"031\"}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"0G\"}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"7F\"}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":3}}", "cc" },
        { "{\"streams\":[1],\"modes\":{\"iflag\":1,\"oflag\":1,\"cflag\":1,\"lflag\":1,"
          "\"ispeed\":1,\"ospeed\":1,\"cc\":\"00000000000000000000000000000000000000000000"
          "00000000000000000000000000\"}}", "cc" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[1024], why[SBX_WHY] = "";
        struct sbx_spawn_req m;

        snprintf(json, sizeof(json), SPAWN_HEAD "\"tty\":%s}", bad[i].tty);
        memset(&m, 0xa5, sizeof(m));
        cr_assert_eq(sbx_spawn_req_decode(P(json), &m, why), SBX_EPROTO, "accepted: %s", json);
        cr_assert(strstr(why, bad[i].why) != NULL, "%s: reason '%s'", json, why);
        cr_assert_null(m.argv, "nothing left allocated on failure");
        cr_assert_null(m.tty.term, "nothing left allocated on failure");
        cr_assert_eq(m.tty.present, 0);
    }
}

Test(proto, signal_resize_stopped_continue_round_trip)
{
    char why[SBX_WHY] = "", *json;
    size_t len;

    for (int sig = 1; sig <= 255; sig++) {
        struct sbx_signal s = { sig }, s2 = { 0 };
        struct sbx_stopped t = { sig }, t2 = { 0 };

        cr_assert_eq(sbx_signal_encode(&s, &json, &len), 0);
        cr_assert_eq(sbx_signal_decode((uint8_t *)json, len, &s2, why), 0, "%s", why);
        cr_assert_eq(s2.signal, sig);
        free(json);
        cr_assert_eq(sbx_stopped_encode(&t, &json, &len), 0);
        cr_assert_eq(sbx_stopped_decode((uint8_t *)json, len, &t2, why), 0, "%s", why);
        cr_assert_eq(t2.signal, sig);
        free(json);
    }

    static const struct sbx_tty_size sizes[] = { { 1, 1 }, { 24, 80 }, { 40, 120 },
                                                 { 65535, 1 }, { 1, 65535 }, { 65535, 65535 } };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct sbx_resize r = { sizes[i] }, r2 = { { 0, 0 } };

        cr_assert_eq(sbx_resize_encode(&r, &json, &len), 0);
        cr_assert_eq(sbx_resize_decode((uint8_t *)json, len, &r2, why), 0, "%s", why);
        cr_assert_eq(r2.size.rows, sizes[i].rows);
        cr_assert_eq(r2.size.cols, sizes[i].cols);
        free(json);
    }

    for (int fg = 0; fg <= 1; fg++) {
        struct sbx_continue c = { fg }, c2 = { -1 };

        cr_assert_eq(sbx_continue_encode(&c, &json, &len), 0);
        cr_assert_str_eq(json, fg ? "{\"foreground\":true}" : "{\"foreground\":false}");
        cr_assert_eq(sbx_continue_decode((uint8_t *)json, len, &c2, why), 0, "%s", why);
        cr_assert_eq(c2.foreground, fg);
        free(json);
    }
}

Test(proto, signal_resize_stopped_continue_malformed)
{
    enum { SIG, RESIZE, STOPPED, CONT };
    static const struct {
        int which;
        const char *json;
        const char *why;
    } bad[] = {
        { SIG, "{}", "signal" },                 { SIG, "{\"signal\":0}", "signal" },
        { SIG, "{\"signal\":256}", "signal" },   { SIG, "{\"signal\":2.5}", "signal" },
        { SIG, "{\"signal\":\"INT\"}", "signal" }, { SIG, "[2]", "signal" },
        { SIG, "{\"signal\":2} {", "signal" },
        { STOPPED, "{}", "stopped" },            { STOPPED, "{\"signal\":-20}", "stopped" },
        { STOPPED, "{\"signal\":true}", "stopped" }, { STOPPED, "", "stopped" },
        { RESIZE, "{}", "rows" },                { RESIZE, "{\"rows\":24}", "cols" },
        { RESIZE, "{\"cols\":80}", "rows" },     { RESIZE, "{\"rows\":0,\"cols\":80}", "rows" },
        { RESIZE, "{\"rows\":24,\"cols\":0}", "cols" },
        { RESIZE, "{\"rows\":65536,\"cols\":80}", "rows" },
        { RESIZE, "{\"rows\":24,\"cols\":-80}", "cols" },
        { RESIZE, "{\"rows\":\"24\",\"cols\":80}", "rows" },
        { RESIZE, "{\"rows\":24.5,\"cols\":80}", "rows" },
        { CONT, "{}", "foreground" },            { CONT, "{\"foreground\":1}", "foreground" },
        { CONT, "{\"foreground\":\"true\"}", "foreground" },
        { CONT, "{\"foreground\":null}", "foreground" }, { CONT, "true", "continue" },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[SBX_WHY] = "";
        struct sbx_signal s;
        struct sbx_resize r;
        struct sbx_stopped t;
        struct sbx_continue c;
        int rc = 0;

        switch (bad[i].which) {
        case SIG: rc = sbx_signal_decode(P(bad[i].json), &s, why); break;
        case RESIZE: rc = sbx_resize_decode(P(bad[i].json), &r, why); break;
        case STOPPED: rc = sbx_stopped_decode(P(bad[i].json), &t, why); break;
        case CONT: rc = sbx_continue_decode(P(bad[i].json), &c, why); break;
        }
        cr_assert_eq(rc, SBX_EPROTO, "accepted: %s", bad[i].json);
        cr_assert(strstr(why, bad[i].why) != NULL, "%s: reason '%s'", bad[i].json, why);
    }
    /* Unknown members are ignored here too. */
    {
        struct sbx_resize r;
        struct sbx_continue c;
        char why[SBX_WHY] = "";

        cr_assert_eq(sbx_resize_decode(P("{\"xpixel\":800,\"rows\":3,\"cols\":4}"), &r, why), 0);
        cr_assert_eq(r.size.rows, 3);
        cr_assert_eq(sbx_continue_decode(P("{\"foreground\":false,\"why\":\"bg\"}"), &c, why), 0);
        cr_assert_eq(c.foreground, 0);
    }
}

/* ---- what execve() takes, the request carries ---- */

/* An environment entry is any string execve() takes: one without '=', an
 * empty one, one with an empty name.  They travel as they are, in order. */
Test(proto, spawn_env_entries_need_no_equals)
{
    const char *argv[] = { "env" };
    const char *env[] = { "JUSTANAME", "", "=", "=leading", "A==b", "PATH=/bin", "\x01\xff" };
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "";

    spawn_round_trip((char **)argv, 1, "/", (char **)env, sizeof(env) / sizeof(env[0]));
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"env\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\","
                                        "\"\",\"=x\"]}"), &m, why), 0, "%s", why);
    cr_assert_eq(m.envc, 3);
    cr_assert_str_eq(m.env[0], "NOEQUALS");
    cr_assert_str_eq(m.env[1], "");
    cr_assert_str_eq(m.env[2], "=x");
    sbx_spawn_req_free(&m);
}

/* Without "cwd" the runner keeps the directory it started in: the member
 * may be absent, and an absent one is not sent. */
Test(proto, spawn_without_cwd)
{
    const char *argv[] = { "pwd" }, *env[] = { "A=1" };
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 1, .cwd = NULL, .env = (char **)env,
                                .envc = 1 }, out;
    char why[SBX_WHY] = "", *json;
    size_t len;

    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"ls\"],\"env\":[]}"), &out, why), 0, "%s", why);
    cr_assert_null(out.cwd);
    sbx_spawn_req_free(&out);
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert_str_eq(json, "{\"argv\":[\"pwd\"],\"env\":[\"A=1\"],\"options\":{}}");
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    cr_assert_null(out.cwd);
    sbx_spawn_req_free(&out);
    free(json);
    /* Present, it still names a directory. */
    cr_assert_eq(sbx_spawn_req_decode(P("{\"argv\":[\"ls\"],\"cwd\":\"\",\"env\":[]}"), &out, why),
                 SBX_EPROTO);
    cr_assert(strstr(why, "cwd") != NULL, "%s", why);
}

/* More entries than version 2 took (65,536 each), up to the new caps. */
Test(proto, spawn_seventy_thousand_entries)
{
    size_t n = 70000, len;
    char *json = malloc(n * 24 + 64), *p = json;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "";

    cr_assert_not_null(json);
    p += sprintf(p, "{\"cwd\":\"/\",\"argv\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"%zu\"", i ? "," : "", i);
    p += sprintf(p, "],\"env\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"V%zu=%zu\"", i ? "," : "", i, i);
    p += sprintf(p, "]}");
    len = (size_t)(p - json);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, n);
    cr_assert_eq(m.envc, n);
    cr_assert_str_eq(m.argv[69999], "69999");
    cr_assert_str_eq(m.env[69999], "V69999=69999");
    sbx_spawn_req_free(&m);
    free(json);
    cr_assert_geq(SBX_MAX_ARGC, 700000u, "fewer than execve() takes on Linux");
    cr_assert_geq(SBX_MAX_ENVC, 700000u);
}

/* A byte string takes the shorter of its two forms: control bytes, 6 bytes
 * each in a JSON string, go in hex (2 each); text with a few of them stays
 * a string. */
Test(proto, spawn_byte_strings_take_the_shorter_form)
{
    char ctl[1001], *argv[3] = { (char *)"x", ctl, (char *)"tab\there, \"quoted\"\n" };
    struct sbx_spawn_req in = { .argv = argv, .argc = 3, .cwd = (char *)"/", .env = NULL,
                                .envc = 0 };
    char *json;
    size_t len;

    for (size_t i = 0; i < 1000; i++)
        ctl[i] = (char)(1 + i % 0x1f);
    ctl[1000] = '\0';
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "{\"hex\":\"0102030405") != NULL, "%.80s", json);
    cr_assert(strstr(json, "\"tab\\there, \\\"quoted\\\"\\n\"") != NULL, "%s", json + len - 80);
    cr_assert_lt(len, 2 * 1000 + 200, "%zu bytes of JSON for 1000 control bytes", len);
    free(json);
    spawn_round_trip(argv, 3, "/", NULL, 0);
}

/* 2>&1 at sbx: a boolean option, refused with stdout or stderr on the
 * command's terminal, where there is no pipe to share. */
Test(proto, spawn_merge_stderr)
{
    const char *argv[] = { "make" };
    struct sbx_spawn_req in = { .argv = (char **)argv, .argc = 1, .cwd = (char *)"/", .env = NULL,
                                .envc = 0, .merge_stderr = 1 }, out;
    char why[SBX_WHY] = "", *json;
    size_t len;

    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "\"options\":{\"merge_stderr\":true}") != NULL, "%s", json);
    cr_assert_eq(sbx_spawn_req_decode((uint8_t *)json, len, &out, why), 0, "%s", why);
    cr_assert_eq(out.merge_stderr, 1);
    sbx_spawn_req_free(&out);
    free(json);
    /* The default is left out, and read as false. */
    in.merge_stderr = 0;
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert(strstr(json, "merge_stderr") == NULL, "%s", json);
    free(json);
    cr_assert_eq(sbx_spawn_req_decode(P(SPAWN_HEAD "\"options\":{\"merge_stderr\":false}}"), &out,
                                      why), 0, "%s", why);
    cr_assert_eq(out.merge_stderr, 0);
    sbx_spawn_req_free(&out);
    /* With stdin alone on a terminal it is fine; with stdout or stderr not. */
    cr_assert_eq(sbx_spawn_req_decode(P(SPAWN_HEAD "\"options\":{\"merge_stderr\":true},"
                                        "\"tty\":{\"streams\":[0]}}"), &out, why), 0, "%s", why);
    cr_assert_eq(out.merge_stderr, 1);
    sbx_spawn_req_free(&out);
    for (int s = 1; s <= 2; s++) {
        char text[200];
        snprintf(text, sizeof(text), SPAWN_HEAD "\"options\":{\"merge_stderr\":true},"
                                    "\"tty\":{\"streams\":[%d]}}", s);
        cr_assert_eq(sbx_spawn_req_decode(P(text), &out, why), SBX_EPROTO, "%s", text);
        cr_assert(strstr(why, "merge_stderr") != NULL, "%s", why);
        cr_assert_null(out.argv);
    }
}

/* How sbx cuts a request: SBX_CHUNK-byte parts, the spawn frame last. */
Test(proto, spawn_pieces)
{
    unsigned type;

    cr_assert_eq(sbx_spawn_piece(1, &type), 1);
    cr_assert_eq(type, SBX_F_SPAWN);
    cr_assert_eq(sbx_spawn_piece(SBX_CHUNK, &type), SBX_CHUNK);
    cr_assert_eq(type, SBX_F_SPAWN);
    cr_assert_eq(sbx_spawn_piece(SBX_CHUNK + 1, &type), SBX_CHUNK);
    cr_assert_eq(type, SBX_F_SPAWN_PART);
    cr_assert_eq(sbx_spawn_piece(SBX_SPAWN_MAX, &type), SBX_CHUNK);
    cr_assert_eq(type, SBX_F_SPAWN_PART);
}

/* A request larger than a frame, through the frame codec and back: sbx
 * cuts it, the runner gathers it and decodes what sbx encoded. */
Test(proto, spawn_round_trip_in_parts)
{
    size_t n = 70000, len, off = 0, nframes = 0, total = 0;
    char **argv = calloc(n, sizeof(*argv)), *json;
    struct sbx_spawn_req in = { .argv = argv, .argc = n, .cwd = (char *)"/tmp", .env = NULL,
                                .envc = 0 }, out;
    struct sbx_spawn_text text = { NULL, 0, 0 };
    sbx_frame_reader rd;
    sbx_outq q;
    sbx_frame f;
    char why[SBX_WHY] = "";
    int last = 0;

    cr_assert_not_null(argv);
    for (size_t i = 0; i < n; i++) {
        argv[i] = malloc(61);
        cr_assert_not_null(argv[i]);
        for (size_t k = 0; k < 60; k++)
            argv[i][k] = (char)(i % 3 == 0 ? 1 + (i + k) % 0x1f : 'a' + (i + k) % 26);
        argv[i][60] = '\0';
    }
    cr_assert_eq(sbx_spawn_req_encode(&in, &json, &len), 0);
    cr_assert_gt(len, SBX_FRAME_MAX, "the test wants a request larger than a frame: %zu", len);

    sbx_outq_init(&q);
    sbx_frame_reader_init(&rd);
    while (off < len) {
        unsigned type;
        size_t k = sbx_spawn_piece(len - off, &type);
        cr_assert_eq(sbx_outq_put(&q, type, json + off, k), 0);
        off += k;
    }
    /* The bytes as the runner reads them, in arbitrary pieces. */
    while (sbx_outq_len(&q) > 0 || !last) {
        uint8_t *dst;
        size_t room, step;
        int rc;

        while ((rc = sbx_frame_reader_next(&rd, &f)) == 1) {
            cr_assert(!last, "a frame after the spawn frame");
            cr_assert(f.type == SBX_F_SPAWN_PART || f.type == SBX_F_SPAWN, "type 0x%02x", f.type);
            cr_assert(f.type == SBX_F_SPAWN || f.len == SBX_CHUNK, "a part of %zu bytes", f.len);
            cr_assert_eq(sbx_spawn_text_add(&text, f.payload, f.len, why), 0, "%s", why);
            last = f.type == SBX_F_SPAWN;
            nframes++;
            total += f.len;
        }
        cr_assert_geq(rc, 0);
        if (sbx_outq_len(&q) == 0)
            break;
        cr_assert_eq(sbx_frame_reader_prepare(&rd, &dst, &room), 0);
        step = sbx_outq_len(&q) < room ? sbx_outq_len(&q) : room;
        if (step > 100003)
            step = 100003;
        memcpy(dst, sbx_outq_data(&q), step);
        sbx_frame_reader_commit(&rd, step);
        sbx_outq_consume(&q, step);
    }
    cr_assert(last, "no spawn frame");
    cr_assert_eq(total, len);
    cr_assert_eq(nframes, (len + SBX_CHUNK - 1) / SBX_CHUNK);
    cr_assert_eq(text.len, len);
    cr_assert_eq(memcmp(text.buf, json, len), 0);
    cr_assert_eq(sbx_spawn_req_decode(text.buf, text.len, &out, why), 0, "%s", why);
    cr_assert_eq(out.argc, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(out.argv[i], argv[i], "argv[%zu]", i);
    cr_assert_str_eq(out.cwd, "/tmp");
    sbx_spawn_req_free(&out);
    sbx_spawn_text_free(&text);
    cr_assert_null(text.buf);
    sbx_outq_free(&q);
    sbx_frame_reader_free(&rd);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(argv);
    free(json);
}

/* The runner holds at most SBX_SPAWN_MAX of request: exactly that is
 * fine, one byte more is refused with the limit named and nothing added. */
Test(proto, spawn_text_bound)
{
    struct sbx_spawn_text t = { NULL, 0, 0 };
    uint8_t *piece = malloc(SBX_FRAME_MAX);
    char why[SBX_WHY] = "";

    cr_assert_not_null(piece);
    memset(piece, ' ', SBX_FRAME_MAX);
    for (size_t i = 0; i < SBX_SPAWN_MAX / SBX_FRAME_MAX; i++)
        cr_assert_eq(sbx_spawn_text_add(&t, piece, SBX_FRAME_MAX, why), 0, "%s", why);
    cr_assert_eq(t.len, SBX_SPAWN_MAX);
    cr_assert_leq(t.cap, SBX_SPAWN_MAX, "more held than the bound");
    cr_assert_eq(sbx_spawn_text_add(&t, piece, 1, why), SBX_E2BIG);
    cr_assert_str_eq(why, "spawn: request over the limit of 67108864 bytes");
    cr_assert_eq(t.len, SBX_SPAWN_MAX);
    sbx_spawn_text_free(&t);
    cr_assert_eq(sbx_spawn_text_add(&t, piece, SBX_FRAME_MAX, why), 0, "%s", why);
    cr_assert_eq(sbx_spawn_text_add(&t, piece, SBX_SPAWN_MAX - SBX_FRAME_MAX + 1, why), SBX_E2BIG);
    cr_assert_eq(t.len, SBX_FRAME_MAX);
    sbx_spawn_text_free(&t);
    free(piece);
}
