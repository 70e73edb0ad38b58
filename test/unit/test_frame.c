/* The frame codec: headers, the incremental reader, the outgoing queue. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "frame.h"

static const unsigned known_types[] = {
    SBX_F_HELLO, SBX_F_SPAWN, SBX_F_SPAWNED, SBX_F_SPAWN_ERROR, SBX_F_EXIT,
    SBX_F_SIGNAL, SBX_F_ERROR, SBX_F_RESIZE, SBX_F_STOPPED, SBX_F_CONTINUE, SBX_F_SPAWN_PART,
    SBX_F_DATA | 0, SBX_F_DATA | 1, SBX_F_DATA | 2, SBX_F_DATA | 3,
    SBX_F_CLOSE | 0, SBX_F_CLOSE | 1, SBX_F_CLOSE | 2, SBX_F_CLOSE | 3, SBX_F_STDIN_ACK,
};
#define NKNOWN (sizeof(known_types) / sizeof(known_types[0]))

static size_t valid_len(unsigned type)
{
    if (SBX_F_KIND(type) == SBX_F_CLOSE)
        return 0;
    if (type == SBX_F_STDIN_ACK)
        return 4;
    return 17;
}

Test(frame, header_round_trip_every_type)
{
    uint8_t h[SBX_FRAME_HDR];
    unsigned type;
    size_t len;

    for (size_t i = 0; i < NKNOWN; i++) {
        size_t want = valid_len(known_types[i]);
        sbx_frame_hdr_put(h, known_types[i], want);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), 0, "type 0x%02x", known_types[i]);
        cr_assert_eq(type, known_types[i]);
        cr_assert_eq(len, want);
        cr_assert_str_neq(sbx_frame_type_name(type), "unknown");
    }
}

Test(frame, header_is_big_endian)
{
    uint8_t h[SBX_FRAME_HDR];
    static const uint8_t want[SBX_FRAME_HDR] = { 0x00, 0x01, 0x02, 0x03, 0x11, 0, 0, 0 };

    sbx_frame_hdr_put(h, SBX_F_DATA | SBX_STDOUT, 0x010203);
    cr_assert_arr_eq(h, want, SBX_FRAME_HDR);
}

Test(frame, header_rejects_unknown_types)
{
    uint8_t h[SBX_FRAME_HDR];
    unsigned type;
    size_t len;
    int unknown = 0;

    for (unsigned t = 0; t < 256; t++) {
        int known = 0;
        for (size_t i = 0; i < NKNOWN; i++)
            known |= known_types[i] == t;
        if (known)
            continue;
        unknown++;
        sbx_frame_hdr_put(h, t, 1);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "type 0x%02x", t);
    }
    cr_assert_eq(unknown, 256 - (int)NKNOWN);
}

Test(frame, header_rejects_reserved_bits)
{
    uint8_t h[SBX_FRAME_HDR];
    unsigned type;
    size_t len;

    for (int b = 5; b < 8; b++) {
        sbx_frame_hdr_put(h, SBX_F_HELLO, 2);
        h[b] = 1;
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO);
    }
}

Test(frame, header_length_rules)
{
    uint8_t h[SBX_FRAME_HDR];
    unsigned type;
    size_t len;

    sbx_frame_hdr_put(h, SBX_F_DATA | SBX_STDOUT, SBX_FRAME_MAX);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), 0);
    sbx_frame_hdr_put(h, SBX_F_DATA | SBX_STDOUT, SBX_FRAME_MAX + 1);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_E2BIG);
    memcpy(h, "\xff\xff\xff\xff\x11\0\0\0", 8);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_E2BIG);
    sbx_frame_hdr_put(h, SBX_F_DATA | SBX_STDOUT, 0);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "empty data frame");
    sbx_frame_hdr_put(h, SBX_F_HELLO, 0);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "empty JSON frame");
    sbx_frame_hdr_put(h, SBX_F_CLOSE | SBX_STDIN, 1);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "close with payload");
    sbx_frame_hdr_put(h, SBX_F_STDIN_ACK, 3);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "short ack");
    sbx_frame_hdr_put(h, SBX_F_STDIN_ACK, 5);
    cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_EPROTO, "long ack");
}

/* Each type's name, as messages and docs/protocol.md use it, and the
 * payload lengths it allows: 0, 1, the frame maximum, and one more. */
Test(frame, names_and_length_bounds_of_every_type)
{
    static const struct {
        unsigned type;
        const char *name;
        int empty_ok, one_ok; /* a 4-byte ack is the exception */
    } tab[] = {
        { 0x01, "hello", 0, 1 },         { 0x02, "spawn", 0, 1 },
        { 0x03, "spawned", 0, 1 },       { 0x04, "spawn-error", 0, 1 },
        { 0x05, "exit", 0, 1 },          { 0x06, "signal", 0, 1 },
        { 0x07, "error", 0, 1 },         { 0x08, "resize", 0, 1 },
        { 0x09, "stopped", 0, 1 },       { 0x0a, "continue", 0, 1 },
        { 0x0b, "spawn part", 0, 1 },
        { 0x10, "stdin data", 0, 1 },    { 0x11, "stdout data", 0, 1 },
        { 0x12, "stderr data", 0, 1 },   { 0x13, "terminal data", 0, 1 },
        { 0x20, "stdin close", 1, 0 },   { 0x21, "stdout close", 1, 0 },
        { 0x22, "stderr close", 1, 0 },  { 0x23, "terminal close", 1, 0 },
        { 0x30, "stdin ack", 0, 0 },
    };
    uint8_t h[SBX_FRAME_HDR];
    unsigned type;
    size_t len;

    cr_assert_eq(sizeof(tab) / sizeof(tab[0]), NKNOWN);
    cr_assert_eq(SBX_F_SIGNAL, 0x06);
    cr_assert_eq(SBX_F_RESIZE, 0x08);
    cr_assert_eq(SBX_F_STOPPED, 0x09);
    cr_assert_eq(SBX_F_CONTINUE, 0x0a);
    cr_assert_eq(SBX_F_DATA | SBX_TTY, 0x13);
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        int is_close = tab[i].empty_ok;

        cr_assert_str_eq(sbx_frame_type_name(tab[i].type), tab[i].name);
        cr_assert(sbx_frame_type_known(tab[i].type));
        sbx_frame_hdr_put(h, tab[i].type, 0);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), tab[i].empty_ok ? 0 : SBX_EPROTO,
                     "%s, empty", tab[i].name);
        sbx_frame_hdr_put(h, tab[i].type, 1);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), tab[i].one_ok ? 0 : SBX_EPROTO,
                     "%s, 1 byte", tab[i].name);
        sbx_frame_hdr_put(h, tab[i].type, SBX_FRAME_MAX);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len),
                     is_close || tab[i].type == SBX_F_STDIN_ACK ? SBX_EPROTO : 0,
                     "%s, the maximum", tab[i].name);
        sbx_frame_hdr_put(h, tab[i].type, SBX_FRAME_MAX + 1);
        cr_assert_eq(sbx_frame_hdr_get(h, &type, &len), SBX_E2BIG, "%s, over", tab[i].name);
    }
    /* There is no terminate any more, and no fourth stream beyond the
     * terminal. */
    cr_assert_str_eq(sbx_frame_type_name(0x14), "unknown");
    cr_assert_str_eq(sbx_frame_type_name(0x24), "unknown");
    cr_assert_str_eq(sbx_frame_type_name(0x0c), "unknown");
}

/* Feeds `n` bytes into a reader `step` bytes at a time (step 0: all the room
 * the reader offers) and collects the frames. */
struct got {
    unsigned type[64];
    size_t len[64];
    uint8_t *payload[64];
    int count;
    int rc;
};

static void feed(sbx_frame_reader *r, const uint8_t *p, size_t n, size_t step, struct got *g)
{
    size_t off = 0;
    sbx_frame f;

    memset(g, 0, sizeof(*g));
    while (off < n) {
        uint8_t *dst;
        size_t room, k;
        if ((g->rc = sbx_frame_reader_prepare(r, &dst, &room)) < 0)
            return;
        cr_assert_gt(room, 0);
        k = n - off;
        if (k > room)
            k = room;
        if (step && k > step)
            k = step;
        memcpy(dst, p + off, k);
        sbx_frame_reader_commit(r, k);
        off += k;
        while ((g->rc = sbx_frame_reader_next(r, &f)) == 1) {
            cr_assert_lt(g->count, 64);
            g->type[g->count] = f.type;
            g->len[g->count] = f.len;
            g->payload[g->count] = malloc(f.len + 1);
            memcpy(g->payload[g->count], f.payload, f.len);
            g->count++;
        }
        if (g->rc < 0)
            return;
    }
}

static void got_free(struct got *g)
{
    for (int i = 0; i < g->count; i++)
        free(g->payload[i]);
}

static size_t build_stream(sbx_outq *q)
{
    uint8_t big[70000];
    uint8_t ack[4] = { 0, 0, 1, 0 };

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + 3);
    sbx_outq_init(q);
    cr_assert_eq(sbx_outq_put(q, SBX_F_HELLO, "{\"version\":1}", 13), 0);
    cr_assert_eq(sbx_outq_put(q, SBX_F_DATA | SBX_STDOUT, big, sizeof(big)), 0);
    cr_assert_eq(sbx_outq_put(q, SBX_F_CLOSE | SBX_STDOUT, NULL, 0), 0);
    cr_assert_eq(sbx_outq_put(q, SBX_F_STDIN_ACK, ack, 4), 0);
    cr_assert_eq(sbx_outq_put(q, SBX_F_DATA | SBX_STDERR, "x", 1), 0);
    return sbx_outq_len(q);
}

static void check_stream(const struct got *g)
{
    cr_assert_eq(g->count, 5);
    cr_assert_eq(g->type[0], SBX_F_HELLO);
    cr_assert_eq(g->len[0], 13);
    cr_assert_eq(memcmp(g->payload[0], "{\"version\":1}", 13), 0);
    cr_assert_eq(g->type[1], SBX_F_DATA | SBX_STDOUT);
    cr_assert_eq(g->len[1], 70000);
    for (size_t i = 0; i < 70000; i++)
        cr_assert_eq(g->payload[1][i], (uint8_t)(i * 7 + 3));
    cr_assert_eq(g->type[2], SBX_F_CLOSE | SBX_STDOUT);
    cr_assert_eq(g->len[2], 0);
    cr_assert_eq(g->type[3], SBX_F_STDIN_ACK);
    cr_assert_eq(g->type[4], SBX_F_DATA | SBX_STDERR);
    cr_assert_eq(g->payload[4][0], 'x');
}

Test(frame, reader_whole_buffer)
{
    sbx_outq q;
    sbx_frame_reader r;
    struct got g;
    size_t n = build_stream(&q);

    sbx_frame_reader_init(&r);
    feed(&r, sbx_outq_data(&q), n, 0, &g);
    cr_assert_eq(g.rc, 0);
    check_stream(&g);
    cr_assert_eq(sbx_frame_reader_pending(&r), 0);
    got_free(&g);
    sbx_frame_reader_free(&r);
    sbx_outq_free(&q);
}

Test(frame, reader_one_byte_at_a_time)
{
    sbx_outq q;
    sbx_frame_reader r;
    struct got g;
    size_t n = build_stream(&q);

    sbx_frame_reader_init(&r);
    feed(&r, sbx_outq_data(&q), n, 1, &g);
    cr_assert_eq(g.rc, 0);
    check_stream(&g);
    got_free(&g);
    sbx_frame_reader_free(&r);
    sbx_outq_free(&q);
}

Test(frame, reader_odd_steps)
{
    static const size_t steps[] = { 2, 3, 7, 8, 9, 4095, 4097, 65536 };

    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        sbx_outq q;
        sbx_frame_reader r;
        struct got g;
        size_t n = build_stream(&q);

        sbx_frame_reader_init(&r);
        feed(&r, sbx_outq_data(&q), n, steps[s], &g);
        cr_assert_eq(g.rc, 0, "step %zu", steps[s]);
        check_stream(&g);
        got_free(&g);
        sbx_frame_reader_free(&r);
        sbx_outq_free(&q);
    }
}

Test(frame, reader_truncated_frame_is_pending)
{
    sbx_outq q;
    sbx_frame_reader r;
    struct got g;
    size_t n = build_stream(&q);

    /* The stream ends with a 9-byte frame after a 12-byte ack frame. */
    for (size_t cut = 1; cut < 21; cut++) {
        sbx_frame_reader_init(&r);
        feed(&r, sbx_outq_data(&q), n - cut, 0, &g);
        cr_assert_eq(g.rc, 0);
        cr_assert_eq(g.count, cut < 9 ? 4 : cut == 9 ? 4 : 3, "cut %zu", cut);
        if (cut != 9)
            cr_assert_gt(sbx_frame_reader_pending(&r), 0, "cut %zu: a truncated frame stays "
                                                          "pending", cut);
        else
            cr_assert_eq(sbx_frame_reader_pending(&r), 0, "a cut on a frame boundary");
        got_free(&g);
        sbx_frame_reader_free(&r);
    }
    sbx_outq_free(&q);
}

Test(frame, reader_rejects_oversize_before_allocating)
{
    sbx_frame_reader r;
    uint8_t hdr[SBX_FRAME_HDR];
    uint8_t *dst;
    size_t room;
    sbx_frame f;

    sbx_frame_reader_init(&r);
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), 0);
    size_t cap_before = r.cap;
    memcpy(hdr, "\x7f\xff\xff\xff\x11\0\0\0", 8);
    memcpy(dst, hdr, 8);
    sbx_frame_reader_commit(&r, 8);
    cr_assert_eq(sbx_frame_reader_next(&r, &f), SBX_E2BIG);
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), SBX_E2BIG);
    cr_assert_eq(r.cap, cap_before, "no allocation for a rejected frame");
    cr_assert_lt(r.cap, (size_t)1 << 20);
    sbx_frame_reader_free(&r);
}

Test(frame, reader_grows_to_max_frame)
{
    sbx_outq q;
    sbx_frame_reader r;
    struct got g;
    uint8_t *big = malloc(SBX_FRAME_MAX);

    for (size_t i = 0; i < SBX_FRAME_MAX; i++)
        big[i] = (uint8_t)(i >> 8 ^ i);
    sbx_outq_init(&q);
    cr_assert_eq(sbx_outq_put(&q, SBX_F_DATA | SBX_STDOUT, big, SBX_FRAME_MAX), 0);
    cr_assert_eq(sbx_outq_put(&q, SBX_F_DATA | SBX_STDOUT, big, SBX_FRAME_MAX + 1), SBX_E2BIG);
    sbx_frame_reader_init(&r);
    feed(&r, sbx_outq_data(&q), sbx_outq_len(&q), 100000, &g);
    cr_assert_eq(g.rc, 0);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.len[0], SBX_FRAME_MAX);
    cr_assert_eq(memcmp(g.payload[0], big, SBX_FRAME_MAX), 0);
    cr_assert_leq(r.cap, SBX_FRAME_HDR + SBX_FRAME_MAX);
    got_free(&g);
    sbx_frame_reader_free(&r);
    sbx_outq_free(&q);
    free(big);
}

Test(frame, reader_error_is_sticky)
{
    sbx_frame_reader r;
    uint8_t *dst;
    size_t room;
    sbx_frame f;

    sbx_frame_reader_init(&r);
    sbx_frame_reader_prepare(&r, &dst, &room);
    memcpy(dst, "\0\0\0\1\x99\0\0\0x", 9);
    sbx_frame_reader_commit(&r, 9);
    cr_assert_eq(sbx_frame_reader_next(&r, &f), SBX_EPROTO);
    cr_assert_eq(sbx_frame_reader_next(&r, &f), SBX_EPROTO);
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), SBX_EPROTO);
    sbx_frame_reader_free(&r);
}

Test(frame, outq_reserve_commit_and_consume)
{
    sbx_outq q;
    uint8_t *p;
    sbx_frame_reader r;
    struct got g;

    sbx_outq_init(&q);
    p = sbx_outq_reserve(&q, SBX_CHUNK);
    cr_assert_not_null(p);
    memcpy(p, "hello", 5);
    sbx_outq_commit(&q, SBX_F_DATA | SBX_STDERR, 5);
    cr_assert_eq(sbx_outq_len(&q), SBX_FRAME_HDR + 5);
    cr_assert_eq(sbx_outq_put(&q, SBX_F_CLOSE | SBX_STDERR, NULL, 0), 0);
    /* A partial write leaves the rest queued in order. */
    sbx_outq_consume(&q, 3);
    cr_assert_eq(sbx_outq_len(&q), SBX_FRAME_HDR + 5 + SBX_FRAME_HDR - 3);
    sbx_outq_consume(&q, 1000);
    cr_assert_eq(sbx_outq_len(&q), 0);

    p = sbx_outq_reserve(&q, 10);
    memcpy(p, "0123456789", 10);
    sbx_outq_commit(&q, SBX_F_DATA | SBX_STDIN, 4);
    sbx_frame_reader_init(&r);
    feed(&r, sbx_outq_data(&q), sbx_outq_len(&q), 0, &g);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.type[0], SBX_F_DATA | SBX_STDIN);
    cr_assert_eq(g.len[0], 4);
    cr_assert_eq(memcmp(g.payload[0], "0123", 4), 0);
    got_free(&g);
    sbx_frame_reader_free(&r);
    sbx_outq_free(&q);
}

Test(frame, random_streams_round_trip)
{
    /* Random frame sequences, split at random points, come back intact. */
    srand(12345);
    for (int round = 0; round < 200; round++) {
        sbx_outq q;
        sbx_frame_reader r;
        struct got g;
        unsigned types[20];
        size_t lens[20];
        int n = 1 + rand() % 20;
        uint8_t buf[3000];

        sbx_outq_init(&q);
        for (int i = 0; i < n; i++) {
            types[i] = SBX_F_DATA | (unsigned)(rand() % 3);
            lens[i] = 1 + (size_t)(rand() % (int)sizeof(buf));
            for (size_t k = 0; k < lens[i]; k++)
                buf[k] = (uint8_t)(i + k);
            cr_assert_eq(sbx_outq_put(&q, types[i], buf, lens[i]), 0);
        }
        sbx_frame_reader_init(&r);
        feed(&r, sbx_outq_data(&q), sbx_outq_len(&q), 1 + (size_t)(rand() % 5000), &g);
        cr_assert_eq(g.rc, 0);
        cr_assert_eq(g.count, n);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(g.type[i], types[i]);
            cr_assert_eq(g.len[i], lens[i]);
            for (size_t k = 0; k < lens[i]; k++)
                cr_assert_eq(g.payload[i][k], (uint8_t)(i + k));
        }
        got_free(&g);
        sbx_frame_reader_free(&r);
        sbx_outq_free(&q);
    }
}

/* Reading ahead: frames pile up unconsumed up to the limit and no
 * further, has() finds the exit behind them, and next() then returns them
 * all in order. */
Test(frame, reader_ahead_holds_frames_up_to_the_limit)
{
    const size_t limit = 1024 * 1024, chunk = 200000;
    uint8_t *data = malloc(chunk);
    sbx_outq q;
    sbx_frame_reader r;
    sbx_frame f;
    size_t off = 0, total, frames = 0;
    uint8_t *dst;
    size_t room;

    cr_assert_not_null(data);
    memset(data, 'y', chunk);
    sbx_outq_init(&q);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(sbx_outq_put(&q, SBX_F_DATA | SBX_STDOUT, data, chunk), 0);
    cr_assert_eq(sbx_outq_put(&q, SBX_F_EXIT, "{\"how\":\"exited\",\"code\":0}", 25), 0);
    total = sbx_outq_len(&q);
    sbx_frame_reader_init(&r);
    /* The first frame is taken, as a receiver would before it stalls. */
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), 0);
    room = room < total ? room : total;
    memcpy(dst, sbx_outq_data(&q), room);
    sbx_frame_reader_commit(&r, room);
    off = room;
    cr_assert_eq(sbx_frame_reader_next(&r, &f), 1);
    frames++;
    for (;;) {
        cr_assert_eq(sbx_frame_reader_prepare_ahead(&r, limit, &dst, &room), 0);
        if (room == 0 || off == total)
            break;
        room = room < total - off ? room : total - off;
        memcpy(dst, sbx_outq_data(&q) + off, room);
        sbx_frame_reader_commit(&r, room);
        off += room;
        cr_assert_leq(r.cap, limit + SBX_FRAME_HDR + SBX_CHUNK);
    }
    cr_assert_geq(sbx_frame_reader_pending(&r), limit, "buffered up to the limit");
    cr_assert_lt(off, total, "and not further");
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_EXIT), 0, "the exit is not read yet");
    /* A taker that moves on lets the rest in (less than the limit), with
     * the exit at the end. */
    while (sbx_frame_reader_next(&r, &f) == 1)
        frames++;
    while (off < total) {
        cr_assert_eq(sbx_frame_reader_prepare_ahead(&r, limit, &dst, &room), 0);
        cr_assert_gt(room, 0);
        room = room < total - off ? room : total - off;
        memcpy(dst, sbx_outq_data(&q) + off, room);
        sbx_frame_reader_commit(&r, room);
        off += room;
    }
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_EXIT), 1);
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_SPAWNED), 0);
    while (sbx_frame_reader_next(&r, &f) == 1) {
        frames++;
        if (frames <= 8)
            cr_assert(f.type == (SBX_F_DATA | SBX_STDOUT) && f.len == chunk && f.payload[0] == 'y');
        else
            cr_assert_eq(f.type, SBX_F_EXIT);
    }
    cr_assert_eq(frames, 9);
    cr_assert_eq(sbx_frame_reader_pending(&r), 0);
    sbx_frame_reader_free(&r);
    sbx_outq_free(&q);
    free(data);
}

/* has() looks at complete frames only, stops at a bad header with the
 * error next() will give, and consumes nothing. */
Test(frame, reader_has_stops_at_bad_and_partial_frames)
{
    static const uint8_t ack_then_exit[] = "\0\0\0\4\x30\0\0\0\0\0\0\1"
                                           "\0\0\0\2\x05\0\0\0{}";
    sbx_frame_reader r;
    sbx_frame f;
    uint8_t *dst;
    size_t room;

    sbx_frame_reader_init(&r);
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), 0);
    memcpy(dst, ack_then_exit, 21);
    sbx_frame_reader_commit(&r, 21);
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_EXIT), 0, "one byte short");
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), 0);
    memcpy(dst, ack_then_exit + 21, 1);
    sbx_frame_reader_commit(&r, 1);
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_EXIT), 1);
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_STDIN_ACK), 1);
    cr_assert_eq(sbx_frame_reader_pending(&r), 22, "nothing consumed");
    cr_assert_eq(sbx_frame_reader_next(&r, &f), 1);
    cr_assert_eq(f.type, SBX_F_STDIN_ACK);
    sbx_frame_reader_free(&r);

    sbx_frame_reader_init(&r);
    cr_assert_eq(sbx_frame_reader_prepare(&r, &dst, &room), 0);
    memcpy(dst, "\0\0\0\4\x30\0\0\0\0\0\0\1\0\0\0\2\x99\0\0\0{}", 22);
    sbx_frame_reader_commit(&r, 22);
    cr_assert_eq(sbx_frame_reader_has(&r, SBX_F_EXIT), SBX_EPROTO);
    cr_assert_eq(sbx_frame_reader_next(&r, &f), 1, "the good frame before it is still there");
    cr_assert_eq(sbx_frame_reader_next(&r, &f), SBX_EPROTO);
    sbx_frame_reader_free(&r);
}
