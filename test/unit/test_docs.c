/* The examples in docs/protocol.md are the codec's test vectors: each
 * ```hex example=NAME block must decode as the frame NAME describes, and the
 * encoder must produce exactly those bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "frame.h"
#include "proto.h"

struct example {
    char name[64];
    uint8_t bytes[1024];
    size_t len;
};

static struct example ex[64];
static int nex;

static void load_examples(void)
{
    const char *path = getenv("SBX_PROTOCOL_MD");
    FILE *f;
    char line[4096];
    struct example *cur = NULL;

    if (path == NULL)
        path = "docs/protocol.md";
    f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
    nex = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "```hex example=", 15) == 0) {
            cr_assert_lt(nex, 64);
            cur = &ex[nex++];
            memset(cur, 0, sizeof(*cur));
            sscanf(line + 15, "%63s", cur->name);
        } else if (cur != NULL && strncmp(line, "```", 3) == 0) {
            cur = NULL;
        } else if (cur != NULL) {
            char *p = line;
            unsigned v;
            int n;
            while (sscanf(p, " %2x%n", &v, &n) == 1) {
                cr_assert_lt(cur->len, sizeof(cur->bytes));
                cur->bytes[cur->len++] = (uint8_t)v;
                p += n;
            }
        }
    }
    fclose(f);
}

static const struct example *find(const char *name)
{
    for (int i = 0; i < nex; i++)
        if (strcmp(ex[i].name, name) == 0)
            return &ex[i];
    cr_assert_fail("docs/protocol.md has no example named %s", name);
    return NULL;
}

/* Decodes an example as exactly one frame of the expected type. */
static sbx_frame decode_one(const struct example *e, unsigned type, sbx_frame_reader *r)
{
    uint8_t *dst;
    size_t room;
    sbx_frame f;

    sbx_frame_reader_init(r);
    cr_assert_eq(sbx_frame_reader_prepare(r, &dst, &room), 0);
    memcpy(dst, e->bytes, e->len);
    sbx_frame_reader_commit(r, e->len);
    cr_assert_eq(sbx_frame_reader_next(r, &f), 1, "%s does not decode", e->name);
    cr_assert_eq(f.type, type, "%s: type 0x%02x", e->name, f.type);
    cr_assert_eq(sbx_frame_reader_pending(r), 0, "%s has trailing bytes", e->name);
    return f;
}

/* The encoder's bytes for (type, payload) equal the example's. */
static void encodes_to(const struct example *e, unsigned type, const void *p, size_t n)
{
    sbx_outq q;

    sbx_outq_init(&q);
    cr_assert_eq(sbx_outq_put(&q, type, p, n), 0);
    cr_assert_eq(sbx_outq_len(&q), e->len, "%s: length differs", e->name);
    cr_assert_eq(memcmp(sbx_outq_data(&q), e->bytes, e->len), 0, "%s: bytes differ", e->name);
    sbx_outq_free(&q);
}

Test(docs, every_example_is_a_known_frame)
{
    load_examples();
    cr_assert_geq(nex, 26, "expected the full set of examples, found %d", nex);
    for (int i = 0; i < nex; i++) {
        unsigned type;
        size_t len;
        cr_assert_geq(ex[i].len, SBX_FRAME_HDR, "%s", ex[i].name);
        cr_assert_eq(sbx_frame_hdr_get(ex[i].bytes, &type, &len), 0, "%s", ex[i].name);
        cr_assert_eq(len + SBX_FRAME_HDR, ex[i].len, "%s: length field", ex[i].name);
    }
}

Test(docs, hello)
{
    sbx_frame_reader r;
    struct sbx_hello m;
    char why[SBX_WHY] = "", *json;
    size_t len;

    load_examples();
    const struct example *e = find("hello");
    sbx_frame f = decode_one(e, SBX_F_HELLO, &r);
    cr_assert_eq(sbx_hello_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.version, 3);
    cr_assert_eq(m.version, SBX_PROTO_VERSION);
    cr_assert_str_eq(m.nonce, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    cr_assert_eq(m.pid, 4242);
    cr_assert_eq(sbx_hello_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_HELLO, json, len);
    free(json);
    sbx_frame_reader_free(&r);
}

Test(docs, spawn)
{
    sbx_frame_reader r;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "", *json;
    size_t len;

    load_examples();
    const struct example *e = find("spawn");
    sbx_frame f = decode_one(e, SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, 5);
    cr_assert_str_eq(m.argv[0], "printf");
    cr_assert_str_eq(m.argv[1], "%s\\n");
    cr_assert_str_eq(m.argv[2], "a b");
    cr_assert_str_eq(m.argv[3], "caf\xc3\xa9");
    cr_assert_str_eq(m.argv[4], "\xff");
    cr_assert_str_eq(m.cwd, "/home/ann");
    cr_assert_eq(m.envc, 2);
    cr_assert_str_eq(m.env[0], "PATH=/usr/bin:/bin");
    cr_assert_str_eq(m.env[1], "LANG=C.UTF-8");
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN, json, len);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);
}

Test(docs, spawn_as_user)
{
    sbx_frame_reader r;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "", *json;
    size_t len;

    load_examples();
    const struct example *e = find("spawn-as-user");
    sbx_frame f = decode_one(e, SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, 2);
    cr_assert_str_eq(m.argv[1], "install");
    cr_assert_str_eq(m.cwd, "/src/app");
    cr_assert_eq(m.timeout_ms, 600000);
    cr_assert_eq(m.kill_after_ms, 0);
    cr_assert_not_null(m.user);
    cr_assert_str_eq(m.user, "build");
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN, json, len);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);
}

Test(docs, spawn_merged)
{
    sbx_frame_reader r;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "", *json;
    size_t len;

    load_examples();
    const struct example *e = find("spawn-merged");
    sbx_frame f = decode_one(e, SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, 2);
    cr_assert_str_eq(m.argv[1], "-j4");
    cr_assert_str_eq(m.cwd, "/src/app");
    cr_assert_eq(m.merge_stderr, 1);
    cr_assert_not(m.tty.present);
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN, json, len);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);
}

/* A request in two frames: the runner joins the payloads, and the encoder
 * (without cwd) writes the joined text. */
Test(docs, spawn_in_parts_without_cwd)
{
    sbx_frame_reader r1, r2;
    struct sbx_spawn_text text = { NULL, 0, 0 };
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "", *json;
    size_t len;
    const struct example *part, *last;
    sbx_frame f;

    load_examples();
    part = find("spawn-part");
    last = find("spawn-last");
    f = decode_one(part, SBX_F_SPAWN_PART, &r1);
    cr_assert_eq(f.len, 16);
    cr_assert_eq(memcmp(f.payload, "{\"argv\":[\"ls\"],\"", 16), 0);
    cr_assert_eq(sbx_spawn_text_add(&text, f.payload, f.len, why), 0, "%s", why);
    encodes_to(part, SBX_F_SPAWN_PART, f.payload, f.len);
    f = decode_one(last, SBX_F_SPAWN, &r2);
    cr_assert_eq(sbx_spawn_text_add(&text, f.payload, f.len, why), 0, "%s", why);
    encodes_to(last, SBX_F_SPAWN, f.payload, f.len);
    /* Neither piece is a request by itself. */
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), SBX_EPROTO);
    cr_assert_eq(sbx_spawn_req_decode(text.buf, text.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, 1);
    cr_assert_str_eq(m.argv[0], "ls");
    cr_assert_null(m.cwd);
    cr_assert_eq(m.envc, 1);
    cr_assert_eq(m.merge_stderr, 0);
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    cr_assert_eq(len, text.len);
    cr_assert_eq(memcmp(json, text.buf, len), 0, "the encoder writes %s", json);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_spawn_text_free(&text);
    sbx_frame_reader_free(&r1);
    sbx_frame_reader_free(&r2);
}

Test(docs, spawned_and_spawn_error)
{
    sbx_frame_reader r;
    struct sbx_spawned sp;
    struct sbx_spawn_error se;
    char why[SBX_WHY] = "", *json;
    size_t len;

    load_examples();
    const struct example *e = find("spawned");
    sbx_frame f = decode_one(e, SBX_F_SPAWNED, &r);
    cr_assert_eq(sbx_spawned_decode(f.payload, f.len, &sp, why), 0, "%s", why);
    cr_assert_eq(sp.pid, 4243);
    cr_assert_eq(sbx_spawned_encode(&sp, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWNED, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    e = find("spawn-error");
    f = decode_one(e, SBX_F_SPAWN_ERROR, &r);
    cr_assert_eq(sbx_spawn_error_decode(f.payload, f.len, &se, why), 0, "%s", why);
    cr_assert_str_eq(se.stage, "exec");
    cr_assert_eq(se.err, SBX_ENOENT);
    cr_assert_eq(se.os_code, 2);
    cr_assert_str_eq(se.message, "No such file or directory");
    cr_assert_eq(sbx_spawn_error_encode(&se, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN_ERROR, json, len);
    free(json);
    sbx_spawn_error_free(&se);
    sbx_frame_reader_free(&r);
}

Test(docs, data_close_and_ack)
{
    static const struct {
        const char *name;
        unsigned type;
        const char *payload;
        size_t len;
    } raw[] = {
        { "stdout", SBX_F_DATA | SBX_STDOUT, "hi\n", 3 },
        { "stderr", SBX_F_DATA | SBX_STDERR, "oops\n", 5 },
        { "stdin", SBX_F_DATA | SBX_STDIN, "y\n", 2 },
        { "stdin-close", SBX_F_CLOSE | SBX_STDIN, "", 0 },
        { "stdout-close", SBX_F_CLOSE | SBX_STDOUT, "", 0 },
        { "stdin-ack", SBX_F_STDIN_ACK, "\0\1\0\0", 4 },
        { "terminal-output", SBX_F_DATA | SBX_TTY, "hi\r\n", 4 },
        { "terminal-keys", SBX_F_DATA | SBX_TTY, "\3", 1 },
        { "terminal-close", SBX_F_CLOSE | SBX_TTY, "", 0 },
    };

    load_examples();
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        sbx_frame_reader r;
        const struct example *e = find(raw[i].name);
        sbx_frame f = decode_one(e, raw[i].type, &r);
        cr_assert_eq(f.len, raw[i].len, "%s", raw[i].name);
        cr_assert_eq(memcmp(f.payload, raw[i].payload, f.len), 0, "%s", raw[i].name);
        encodes_to(e, raw[i].type, raw[i].payload, raw[i].len);
        sbx_frame_reader_free(&r);
    }
    sbx_frame_reader r;
    sbx_frame f = decode_one(find("stdin-ack"), SBX_F_STDIN_ACK, &r);
    cr_assert_eq(sbx_ack_get(f.payload), 65536);
    sbx_frame_reader_free(&r);
}

Test(docs, signal_exit_error)
{
    sbx_frame_reader r;
    struct sbx_signal t;
    struct sbx_exit x;
    struct sbx_error_msg em;
    char why[SBX_WHY] = "", *json;
    size_t len;
    sbx_frame f;

    load_examples();
    f = decode_one(find("signal"), SBX_F_SIGNAL, &r);
    cr_assert_eq(sbx_signal_decode(f.payload, f.len, &t, why), 0, "%s", why);
    cr_assert_eq(t.signal, 2);
    cr_assert_eq(sbx_signal_encode(&t, &json, &len), 0);
    encodes_to(find("signal"), SBX_F_SIGNAL, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    f = decode_one(find("exit"), SBX_F_EXIT, &r);
    cr_assert_eq(sbx_exit_decode(f.payload, f.len, &x, why), 0, "%s", why);
    cr_assert_eq(x.how, SBX_EXITED);
    cr_assert_eq(x.code, 3);
    cr_assert_eq(sbx_exit_encode(&x, &json, &len), 0);
    encodes_to(find("exit"), SBX_F_EXIT, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    f = decode_one(find("exit-signal"), SBX_F_EXIT, &r);
    cr_assert_eq(sbx_exit_decode(f.payload, f.len, &x, why), 0, "%s", why);
    cr_assert_eq(x.how, SBX_SIGNALED);
    cr_assert_eq(x.signal, 15);
    cr_assert_eq(x.core, 0);
    cr_assert_eq(sbx_exit_encode(&x, &json, &len), 0);
    encodes_to(find("exit-signal"), SBX_F_EXIT, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    f = decode_one(find("error"), SBX_F_ERROR, &r);
    cr_assert_eq(sbx_error_decode(f.payload, f.len, &em, why), 0, "%s", why);
    cr_assert_str_eq(em.message, "protocol version mismatch");
    cr_assert_eq(sbx_error_encode(&em, &json, &len), 0);
    encodes_to(find("error"), SBX_F_ERROR, json, len);
    free(json);
    sbx_error_msg_free(&em);
    sbx_frame_reader_free(&r);
}

Test(docs, resize_stopped_continue)
{
    sbx_frame_reader r;
    struct sbx_resize rz;
    struct sbx_stopped st;
    struct sbx_continue co;
    char why[SBX_WHY] = "", *json;
    size_t len;
    sbx_frame f;

    load_examples();
    f = decode_one(find("resize"), SBX_F_RESIZE, &r);
    cr_assert_eq(sbx_resize_decode(f.payload, f.len, &rz, why), 0, "%s", why);
    cr_assert_eq(rz.size.rows, 50);
    cr_assert_eq(rz.size.cols, 132);
    cr_assert_eq(sbx_resize_encode(&rz, &json, &len), 0);
    encodes_to(find("resize"), SBX_F_RESIZE, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    f = decode_one(find("stopped"), SBX_F_STOPPED, &r);
    cr_assert_eq(sbx_stopped_decode(f.payload, f.len, &st, why), 0, "%s", why);
    cr_assert_eq(st.signal, 20);
    cr_assert_eq(sbx_stopped_encode(&st, &json, &len), 0);
    encodes_to(find("stopped"), SBX_F_STOPPED, json, len);
    free(json);
    sbx_frame_reader_free(&r);

    f = decode_one(find("continue"), SBX_F_CONTINUE, &r);
    cr_assert_eq(sbx_continue_decode(f.payload, f.len, &co, why), 0, "%s", why);
    cr_assert_eq(co.foreground, 1);
    cr_assert_eq(sbx_continue_encode(&co, &json, &len), 0);
    encodes_to(find("continue"), SBX_F_CONTINUE, json, len);
    free(json);
    sbx_frame_reader_free(&r);
}

Test(docs, spawn_with_a_terminal)
{
    static const unsigned char cc[] = { 0x03, 0x1c, 0x7f, 0x15, 0x04, 0x00, 0x01, 0x00, 0x11,
                                        0x13, 0x1a, 0x00, 0x12, 0x0f, 0x17, 0x16, 0x00 };
    sbx_frame_reader r;
    struct sbx_spawn_req m;
    char why[SBX_WHY] = "", *json;
    size_t len;
    const struct example *e;
    sbx_frame f;

    load_examples();
    e = find("spawn-tty");
    f = decode_one(e, SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_eq(m.argc, 2);
    cr_assert_str_eq(m.argv[0], "vim");
    cr_assert_str_eq(m.argv[1], "notes.txt");
    cr_assert_str_eq(m.cwd, "/home/ann");
    cr_assert_eq(m.envc, 2);
    cr_assert(m.tty.present);
    cr_assert_eq(m.tty.streams, 7u);
    cr_assert_eq(m.tty.foreground, 1);
    cr_assert_eq(m.tty.size.rows, 40);
    cr_assert_eq(m.tty.size.cols, 120);
    cr_assert_str_eq(m.tty.term, "xterm-256color");
    cr_assert(m.tty.have_modes);
    cr_assert_eq(m.tty.modes.iflag, 0x4500ul);
    cr_assert_eq(m.tty.modes.oflag, 0x5ul);
    cr_assert_eq(m.tty.modes.cflag, 0xbful);
    cr_assert_eq(m.tty.modes.lflag, 0x8a3bul);
    cr_assert_eq(m.tty.modes.ispeed, 15ul);
    cr_assert_eq(m.tty.modes.ospeed, 15ul);
    cr_assert_eq(m.tty.modes.ncc, sizeof(cc));
    cr_assert_arr_eq(m.tty.modes.cc, cc, sizeof(cc));
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN, json, len);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);

    e = find("spawn-tty-minimal");
    f = decode_one(e, SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_str_eq(m.argv[0], "ls");
    cr_assert(m.tty.present);
    cr_assert_eq(m.tty.streams, 6u, "stdout and stderr");
    cr_assert_eq(m.tty.foreground, 1);
    cr_assert_eq(m.tty.size.rows, 0, "no size: the default");
    cr_assert_eq(m.tty.size.cols, 0);
    cr_assert_null(m.tty.term);
    cr_assert_not(m.tty.have_modes);
    cr_assert_eq(sbx_spawn_req_encode(&m, &json, &len), 0);
    encodes_to(e, SBX_F_SPAWN, json, len);
    free(json);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);

    /* The examples without a terminal have no tty member. */
    f = decode_one(find("spawn"), SBX_F_SPAWN, &r);
    cr_assert_eq(sbx_spawn_req_decode(f.payload, f.len, &m, why), 0, "%s", why);
    cr_assert_not(m.tty.present);
    sbx_spawn_req_free(&m);
    sbx_frame_reader_free(&r);
}

/* Every example is one of those the tests above decode: a new example
 * cannot go unchecked. */
Test(docs, every_example_is_checked)
{
    static const char *const checked[] = {
        "hello", "spawn", "spawn-as-user", "spawn-tty", "spawn-tty-minimal", "spawn-merged",
        "spawn-part", "spawn-last", "spawned",
        "spawn-error", "stdout", "stderr", "stdin", "stdin-close", "stdout-close", "stdin-ack",
        "terminal-output", "terminal-keys", "terminal-close", "signal", "resize", "stopped",
        "continue", "exit", "exit-signal", "error",
    };

    load_examples();
    for (int i = 0; i < nex; i++) {
        size_t k = 0;
        while (k < sizeof(checked) / sizeof(checked[0]) && strcmp(checked[k], ex[i].name) != 0)
            k++;
        cr_assert_lt(k, sizeof(checked) / sizeof(checked[0]),
                     "docs/protocol.md example %s is not checked by any test", ex[i].name);
    }
    cr_assert_eq(nex, (int)(sizeof(checked) / sizeof(checked[0])));
}
