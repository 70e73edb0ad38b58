/* Protocol messages: round trips, and every way a payload can be wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "proto.h"

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
    cr_assert_str_eq(why, "the other program speaks protocol version 1, this one version 2: "
                          "install sbx and sbx-runner from the same build");
    m.version = 3;
    cr_assert_eq(sbx_hello_check(&m, NONCE, why), SBX_EPROTO);
    cr_assert(strstr(why, "version 3, this one version 2") != NULL, "%s", why);

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
    char *argv[] = { "prog", "", " ", "a b", "\"", "\\", "a\\\"b\\", "*", "?", "[x]", "$HOME",
                     "%PATH%", "tab\there", "line\nbreak", "caf\xc3\xa9", "\xe2\x82\xac",
                     "\xf0\x9f\x98\x80", "\xff\xfe", "\xc3", "\xed\xa0\x80", "\x01\x1f\x7f",
                     "mixed \xc3\xa9 and \xff" };
    char *env[] = { "A=1", "EMPTY=", "WEIRD=\xff=x", "A=2", "=C:=C:\\work" };

    spawn_round_trip(argv, sizeof(argv) / sizeof(argv[0]), "/dir with space/\xff",
                     env, sizeof(env) / sizeof(env[0]));
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
    char *argv[] = { "sleep", "100" }, *env[] = { "A=1" };
    struct sbx_spawn_req in = { .argv = argv, .argc = 2, .cwd = "/", .env = env, .envc = 1,
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
    char *argv[] = { "id" }, *env[] = { "A=1" }, name[SBX_MAX_USER + 2];
    struct sbx_spawn_req in = { .argv = argv, .argc = 1, .cwd = "/", .env = env, .envc = 1,
                                 .user = "build" }, out;
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
        "{\"argv\":[\"ls\"],\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"\",\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":5,\"env\":[]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\"}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"=x\"]}",
        "{\"argv\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"\"]}",
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
    struct sbx_spawn_error se = { "exec", SBX_EACCES, 13, "Permission denied" }, se2;
    struct sbx_error_msg em = { "something broke" }, em2;
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
