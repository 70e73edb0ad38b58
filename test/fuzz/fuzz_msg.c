/* libFuzzer harness for the small control-message decoders (src/proto.c):
 * hello, spawned, spawn-error, exit, signal, error, resize, stopped and
 * continue.  The spawn request has its own harness (fuzz_spawn.c).
 *
 * The first input byte picks the decoder (its value modulo the number of
 * decoders, in the order of the table below); the rest is the frame's JSON
 * payload.  One harness for all nine keeps the CI time down, and the payloads
 * share their JSON shapes, so inputs found for one decoder help the others.
 *
 * Each decoder gets a round-trip oracle: a message that decodes is
 * re-encoded, and the encoding must decode to the same message.  And no
 * payload that holds a NUL, a \u0000 or a malformed \u escape may decode,
 * since the round trip cannot see a string that was cut short.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "proto.h"



/* A refusal comes with a one-line, terminated reason. */
static void check_refusal(int rc, const char *why)
{
    CHECK(rc == SBX_EPROTO || rc == SBX_ENOMEM);
    if (rc == SBX_EPROTO) {
        size_t n = strnlen(why, SBX_WHY);
        CHECK(n > 0 && n < SBX_WHY);
        CHECK(strchr(why, '\n') == NULL);
    }
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* An encoder's output as a decoder's input. */
#define REDECODE(fn, json, len, out, why)                                                    \
    do {                                                                                     \
        int rc_ = fn((const uint8_t *)(json), (len), (out), (why));                         \
        if (rc_ != 0)                                                                        \
            fprintf(stderr, "%s refuses its own encoding: %.*s\nJSON: %s\n", #fn, SBX_WHY,   \
                    (why), (json));                                                          \
        CHECK(rc_ == 0);                                                                     \
    } while (0)

static int one_hello(const uint8_t *p, size_t n, char *why)
{
    struct sbx_hello m, m2;
    char *json;
    size_t len;
    int rc = sbx_hello_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.version >= 0);
    CHECK(m.pid >= 0);
    CHECK(strlen(m.nonce) == SBX_NONCE_HEX && is_lower_hex(m.nonce, SBX_NONCE_HEX));
    /* A peer that echoes our nonce passes exactly when it speaks our version. */
    rc = sbx_hello_check(&m, m.nonce, why);
    CHECK(m.version == SBX_PROTO_VERSION ? rc == 0 : rc == SBX_EPROTO);

    CHECK(sbx_hello_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_hello_decode, json, len, &m2, why);
    CHECK(m2.version == m.version && m2.pid == m.pid && strcmp(m2.nonce, m.nonce) == 0);
    free(json);
    return 0;
}

static int one_spawned(const uint8_t *p, size_t n, char *why)
{
    struct sbx_spawned m, m2;
    char *json;
    size_t len;
    int rc = sbx_spawned_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.pid >= 1 && m.pid <= 0xffffffffLL);
    CHECK(sbx_spawned_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_spawned_decode, json, len, &m2, why);
    CHECK(m2.pid == m.pid);
    free(json);
    return 0;
}

static int same_str(const char *a, const char *b)
{
    /* The encoder writes an absent message as "". */
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int one_spawn_error(const uint8_t *p, size_t n, char *why)
{
    struct sbx_spawn_error m, m2;
    char *json;
    size_t len;
    int rc;

    memset(&m, 0xa5, sizeof(m));
    rc = sbx_spawn_error_decode(p, n, &m, why);
    if (rc != 0) {
        check_refusal(rc, why);
        /* "On failure nothing needs freeing": nothing may be left behind. */
        CHECK(m.stage == NULL && m.message == NULL);
        return rc;
    }
    CHECK(m.stage != NULL);
    CHECK(sbx_utf8_valid(m.stage, strlen(m.stage)));
    CHECK(m.message == NULL || sbx_utf8_valid(m.message, strlen(m.message)));
    CHECK(m.err <= 0 && m.err > SBX_ERR_MIN_);
    CHECK(m.os_code >= -0x80000000LL && m.os_code <= 0xffffffffLL);

    CHECK(sbx_spawn_error_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_spawn_error_decode, json, len, &m2, why);
    CHECK(strcmp(m2.stage, m.stage) == 0);
    CHECK(m2.err == m.err);
    CHECK(m2.os_code == m.os_code);
    CHECK(same_str(m2.message, m.message));
    free(json);
    sbx_spawn_error_free(&m);
    sbx_spawn_error_free(&m2);
    sbx_spawn_error_free(&m); /* a freed struct is zeroed and may be freed again */
    return 0;
}

static int one_exit(const uint8_t *p, size_t n, char *why)
{
    struct sbx_exit m, m2;
    char *json;
    size_t len;
    int rc = sbx_exit_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    if (m.how == SBX_EXITED) {
        CHECK(m.code >= 0 && m.code <= 0xffffffffLL);
        CHECK(m.signal == 0 && m.core == 0);
    } else {
        CHECK(m.how == SBX_SIGNALED);
        CHECK(m.signal >= 1 && m.signal <= 255);
        CHECK(m.core == 0 || m.core == 1);
        CHECK(m.code == 0);
    }
    CHECK(m.timed_out == 0 || m.timed_out == 1);
    CHECK(sbx_exit_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_exit_decode, json, len, &m2, why);
    CHECK(m2.how == m.how && m2.code == m.code && m2.signal == m.signal && m2.core == m.core);
    CHECK(m2.timed_out == m.timed_out);
    free(json);
    return 0;
}

static int one_signal(const uint8_t *p, size_t n, char *why)
{
    struct sbx_signal m, m2;
    char *json;
    size_t len;
    int rc = sbx_signal_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.signal >= 1 && m.signal <= 255);
    CHECK(sbx_signal_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_signal_decode, json, len, &m2, why);
    CHECK(m2.signal == m.signal);
    free(json);
    return 0;
}

static int one_resize(const uint8_t *p, size_t n, char *why)
{
    struct sbx_resize m, m2;
    char *json;
    size_t len;
    int rc = sbx_resize_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.size.rows >= 1 && m.size.rows <= 65535);
    CHECK(m.size.cols >= 1 && m.size.cols <= 65535);
    CHECK(sbx_resize_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_resize_decode, json, len, &m2, why);
    CHECK(m2.size.rows == m.size.rows && m2.size.cols == m.size.cols);
    free(json);
    return 0;
}

static int one_stopped(const uint8_t *p, size_t n, char *why)
{
    struct sbx_stopped m, m2;
    char *json;
    size_t len;
    int rc = sbx_stopped_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.signal >= 1 && m.signal <= 255);
    CHECK(sbx_stopped_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_stopped_decode, json, len, &m2, why);
    CHECK(m2.signal == m.signal);
    free(json);
    return 0;
}

static int one_continue(const uint8_t *p, size_t n, char *why)
{
    struct sbx_continue m, m2;
    char *json;
    size_t len;
    int rc = sbx_continue_decode(p, n, &m, why);

    if (rc != 0) {
        check_refusal(rc, why);
        return rc;
    }
    CHECK(m.foreground == 0 || m.foreground == 1);
    CHECK(sbx_continue_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_continue_decode, json, len, &m2, why);
    CHECK(m2.foreground == m.foreground);
    free(json);
    return 0;
}

static int one_error(const uint8_t *p, size_t n, char *why)
{
    struct sbx_error_msg m, m2;
    char *json;
    size_t len;
    int rc;

    memset(&m, 0xa5, sizeof(m));
    rc = sbx_error_decode(p, n, &m, why);
    if (rc != 0) {
        check_refusal(rc, why);
        CHECK(m.message == NULL);
        return rc;
    }
    CHECK(m.message != NULL && sbx_utf8_valid(m.message, strlen(m.message)));
    CHECK(sbx_error_encode(&m, &json, &len) == 0);
    memset(&m2, 0xa5, sizeof(m2));
    REDECODE(sbx_error_decode, json, len, &m2, why);
    CHECK(strcmp(m2.message, m.message) == 0);
    free(json);
    sbx_error_msg_free(&m);
    sbx_error_msg_free(&m2);
    sbx_error_msg_free(&m);
    return 0;
}

/* The order is the selector's: test/fuzz/seeds.sh writes these indexes.
 * Each returns its decoder's result. */
static int (*const decoders[])(const uint8_t *, size_t, char *) = {
    one_hello, one_spawned, one_spawn_error, one_exit, one_signal, one_error,
    one_resize, one_stopped, one_continue,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[SBX_WHY];
    int rc;

    if (size < 1)
        return 0;
    /* Garbage in `why`, so an unterminated reason is noticed. */
    memset(why, 'x', sizeof(why));
    rc = decoders[data[0] % (sizeof(decoders) / sizeof(decoders[0]))](data + 1, size - 1, why);
    if (rc == 0 && hides_nul(data + 1, size - 1)) {
        fprintf(stderr, "accepted a NUL, a \\u0000 or a malformed \\u escape: "
                        "decoded strings may be cut short\n");
        abort();
    }
    return 0;
}
