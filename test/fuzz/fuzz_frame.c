/* libFuzzer harness for the frame layer (src/frame.c).
 *
 * The input is a byte stream as a peer would send it.  It is decoded three
 * times through sbx_frame_reader_prepare/commit/next — all at once, one byte
 * at a time, and in pieces whose sizes come from a generator seeded with a
 * hash of the input — and every decoding must agree with a reference walk of
 * the same bytes done with sbx_frame_hdr_get alone, and that with a header
 * check written from docs/protocol.md.  A real receiver sees arbitrary read
 * boundaries, so the reader must not depend on them.
 *
 * A fourth decoding leaves frames in the reader, reading ahead up to a
 * small limit as sbx does behind a stalled stdout, and checks at every
 * step that looking for a frame type ahead agrees with the reference.
 *
 * The frames found are also re-encoded through the outgoing queue, drained
 * in random amounts as a writer would (the encoder must give back exactly
 * the bytes they came from), and, as a receiver does, checked against both
 * sides' tables of frame rules (with the oracle of rules_oracle.h) and their
 * payloads handed to the decoder of their type.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "frame.h"
#include "proto.h"
#include "rules.h"
#include "rules_oracle.h"


/* Byte-at-a-time feeding costs a prepare/next pair per byte; above this size
 * the random pieces cover small reads well enough. */
#define BYTEWISE_MAX 512

/* ---- the specification, restated independently of src/frame.c ---- */

static int spec_type_known(unsigned t)
{
    return (t >= 0x01 && t <= 0x0b) || (t >= 0x10 && t <= 0x13) || (t >= 0x20 && t <= 0x23) ||
           t == 0x30;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks sbx_frame_hdr_get's verdict on one header against docs/protocol.md
 * and, for an accepted header, that sbx_frame_hdr_put writes it back. */
static int checked_hdr_get(const uint8_t *h, unsigned *type, size_t *len)
{
    unsigned t = 0xdead;
    size_t n = (size_t)-1;
    int rc = sbx_frame_hdr_get(h, &t, &n);
    uint32_t wire = be32(h);
    unsigned wt = h[4];
    int bad_reserved = h[5] != 0 || h[6] != 0 || h[7] != 0;
    int over = wire > SBX_FRAME_MAX;
    int bad_len;

    CHECK(sbx_frame_type_known(wt) == spec_type_known(wt));
    CHECK(sbx_frame_type_name(wt) != NULL);
    CHECK((strcmp(sbx_frame_type_name(wt), "unknown") != 0) == spec_type_known(wt));
    if ((wt & 0xf0u) == 0x20)
        bad_len = wire != 0;
    else if (wt == 0x30)
        bad_len = wire != 4;
    else
        bad_len = wire == 0;

    if (bad_reserved || !spec_type_known(wt)) {
        CHECK(rc == SBX_EPROTO);
    } else if (over && bad_len) {
        /* Both rules are broken; the spec does not rank them. */
        CHECK(rc == SBX_EPROTO || rc == SBX_E2BIG);
    } else if (over) {
        CHECK(rc == SBX_E2BIG);
    } else if (bad_len) {
        CHECK(rc == SBX_EPROTO);
    } else {
        uint8_t again[SBX_FRAME_HDR];

        CHECK(rc == 0);
        CHECK(t == wt);
        CHECK(n == wire);
        CHECK(n <= SBX_FRAME_MAX);
        sbx_frame_hdr_put(again, t, n);
        CHECK(memcmp(again, h, SBX_FRAME_HDR) == 0);
        *type = t;
        *len = n;
    }
    return rc;
}

/* The reference decoding: whole frames from the start of the input until it
 * ends or a header is refused. */
struct ref {
    size_t nframes;
    size_t consumed; /* bytes taken by those frames */
    int err;         /* the refused header's error, or 0 */
};

static void ref_walk(const uint8_t *d, size_t size, struct ref *ref)
{
    size_t off = 0;

    memset(ref, 0, sizeof(*ref));
    while (size - off >= SBX_FRAME_HDR) {
        unsigned t;
        size_t n;
        int rc = checked_hdr_get(d + off, &t, &n);
        if (rc < 0) {
            ref->err = rc;
            break;
        }
        if (size - off - SBX_FRAME_HDR < n)
            break;
        ref->nframes++;
        off += SBX_FRAME_HDR + n;
    }
    ref->consumed = off;
}

/* ---- piece sizes: deterministic for a given input, so a crash replays ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t fnv1a(const uint8_t *d, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 0x100000001b3u;
    return h | 1; /* xorshift must not start at zero */
}

enum mode { WHOLE, BYTEWISE, PIECES };

static size_t piece(enum mode m, uint64_t *rng, size_t left)
{
    uint64_t r;

    if (m == WHOLE)
        return left;
    if (m == BYTEWISE)
        return 1;
    /* Mostly small reads, which split headers, sometimes large ones. */
    r = rng_next(rng);
    switch (r & 3) {
    case 0:
        return 1 + (size_t)(r >> 8) % 8;
    case 1:
        return 1 + (size_t)(r >> 8) % 64;
    case 2:
        return 1 + (size_t)(r >> 8) % 4096;
    default:
        return left;
    }
}

/* ---- the receiver's use of a frame ---- */

static void decode_payload(const sbx_frame *f)
{
    char why[SBX_WHY];

    switch (f->type) {
    case SBX_F_HELLO: {
        struct sbx_hello m;
        (void)sbx_hello_decode(f->payload, f->len, &m, why);
        break;
    }
    case SBX_F_SPAWN: {
        struct sbx_spawn_req m;
        if (sbx_spawn_req_decode(f->payload, f->len, &m, why) == 0)
            sbx_spawn_req_free(&m);
        break;
    }
    case SBX_F_SPAWNED: {
        struct sbx_spawned m;
        (void)sbx_spawned_decode(f->payload, f->len, &m, why);
        break;
    }
    case SBX_F_SPAWN_ERROR: {
        struct sbx_spawn_error m;
        if (sbx_spawn_error_decode(f->payload, f->len, &m, why) == 0)
            sbx_spawn_error_free(&m);
        break;
    }
    case SBX_F_EXIT: {
        struct sbx_exit m;
        (void)sbx_exit_decode(f->payload, f->len, &m, why);
        break;
    }
    case SBX_F_SIGNAL: {
        struct sbx_signal m;
        (void)sbx_signal_decode(f->payload, f->len, &m, why);
        break;
    }
    case SBX_F_RESIZE: {
        struct sbx_resize m;
        if (sbx_resize_decode(f->payload, f->len, &m, why) == 0)
            CHECK(m.size.rows >= 1 && m.size.rows <= 65535 && m.size.cols >= 1 &&
                  m.size.cols <= 65535);
        break;
    }
    case SBX_F_STOPPED: {
        struct sbx_stopped m;
        if (sbx_stopped_decode(f->payload, f->len, &m, why) == 0)
            CHECK(m.signal >= 1 && m.signal <= 255);
        break;
    }
    case SBX_F_CONTINUE: {
        struct sbx_continue m;
        if (sbx_continue_decode(f->payload, f->len, &m, why) == 0)
            CHECK(m.foreground == 0 || m.foreground == 1);
        break;
    }
    case SBX_F_ERROR: {
        struct sbx_error_msg m;
        if (sbx_error_decode(f->payload, f->len, &m, why) == 0)
            sbx_error_msg_free(&m);
        break;
    }
    case SBX_F_SPAWN_PART: {
        /* Raw bytes, which the runner gathers within its bound. */
        struct sbx_spawn_text t = { NULL, 0, 0 };
        CHECK(f->len >= 1);
        CHECK(sbx_spawn_text_add(&t, f->payload, f->len, why) == 0);
        CHECK(t.len == f->len && memcmp(t.buf, f->payload, f->len) == 0);
        sbx_spawn_text_free(&t);
        break;
    }
    case SBX_F_STDIN_ACK: {
        uint8_t b[4];
        CHECK(f->len == 4);
        sbx_ack_put(b, sbx_ack_get(f->payload));
        CHECK(memcmp(b, f->payload, 4) == 0);
        break;
    }
    default:
        if (SBX_F_KIND(f->type) == SBX_F_CLOSE)
            CHECK(f->len == 0);
        else
            CHECK(SBX_F_KIND(f->type) == SBX_F_DATA && f->len >= 1);
        break;
    }
}

/* ---- re-encoding through the outgoing queue ---- */

/* The queue starts at 4 KiB and compacts before it grows; inputs are about
 * that size, so a filler frame first, and each frame queued up to three
 * times, push it through both. */
#define FILLER_MAX 4000
#define REPEAT_MAX 3

struct reenc {
    sbx_outq q;
    uint8_t *out; /* what a writer drained from the queue */
    uint8_t *exp; /* what it should have drained */
    size_t outlen, explen, cap;
};

static void reenc_init(struct reenc *e, size_t size)
{
    memset(e, 0, sizeof(*e));
    sbx_outq_init(&e->q);
    e->cap = SBX_FRAME_HDR + FILLER_MAX + REPEAT_MAX * size;
    CHECK((e->out = malloc(e->cap)) != NULL);
    CHECK((e->exp = malloc(e->cap)) != NULL);
}

static void reenc_drain(struct reenc *e, uint64_t *rng, int all)
{
    size_t have = sbx_outq_len(&e->q);
    size_t n = all ? have : (size_t)(rng_next(rng) % (have + 1));

    if (n == 0)
        return;
    CHECK(e->outlen + n <= e->cap);
    memcpy(e->out + e->outlen, sbx_outq_data(&e->q), n);
    e->outlen += n;
    sbx_outq_consume(&e->q, n);
    CHECK(sbx_outq_len(&e->q) == have - n);
}

/* Queues one frame whose encoding is `wire` (header and payload). */
static void reenc_one(struct reenc *e, unsigned type, const uint8_t *payload, size_t len,
                      const uint8_t *wire, uint64_t *rng)
{
    uint64_t r = rng_next(rng);

    if (len > 0 && (r & 1)) {
        /* The zero-copy path the runner uses for output: reserve more than
         * is finally committed. */
        size_t max = len + (size_t)(r >> 8) % 64;
        uint8_t *p;
        if (max > SBX_FRAME_MAX)
            max = SBX_FRAME_MAX;
        p = sbx_outq_reserve(&e->q, max);
        CHECK(p != NULL);
        memcpy(p, payload, len);
        sbx_outq_commit(&e->q, type, len);
    } else {
        CHECK(sbx_outq_put(&e->q, type, payload, len) == 0);
    }
    CHECK(e->explen + SBX_FRAME_HDR + len <= e->cap);
    memcpy(e->exp + e->explen, wire, SBX_FRAME_HDR + len);
    e->explen += SBX_FRAME_HDR + len;
    reenc_drain(e, rng, 0);
}

static void reenc_filler(struct reenc *e, uint64_t *rng)
{
    static uint8_t fill[SBX_FRAME_HDR + FILLER_MAX];
    size_t len = 1 + (size_t)(rng_next(rng) % FILLER_MAX);

    memset(fill + SBX_FRAME_HDR, 'f', len);
    sbx_frame_hdr_put(fill, SBX_F_DATA | SBX_STDOUT, len);
    reenc_one(e, SBX_F_DATA | SBX_STDOUT, fill + SBX_FRAME_HDR, len, fill, rng);
}

/* `wire`: where the frame came from in the input. */
static void reenc_put(struct reenc *e, const sbx_frame *f, const uint8_t *wire, uint64_t *rng)
{
    unsigned times = 1 + (unsigned)(rng_next(rng) % REPEAT_MAX);

    for (unsigned i = 0; i < times; i++)
        reenc_one(e, f->type, f->payload, f->len, wire, rng);
}

static void reenc_finish(struct reenc *e, uint64_t *rng)
{
    reenc_drain(e, rng, 1);
    CHECK(sbx_outq_len(&e->q) == 0);
    CHECK(e->outlen == e->explen);
    CHECK(memcmp(e->out, e->exp, e->outlen) == 0);
    free(e->out);
    free(e->exp);
    sbx_outq_free(&e->q);
}

/* ---- one decoding of the whole input ---- */

static void check_reader(const sbx_frame_reader *r)
{
    CHECK(r->cap <= SBX_FRAME_HDR + SBX_FRAME_MAX);
    CHECK(r->rd <= r->wr && r->wr <= r->cap);
    CHECK(r->buf != NULL || r->cap == 0);
    CHECK(sbx_frame_reader_pending(r) == r->wr - r->rd);
}

static void run(const uint8_t *d, size_t size, enum mode m, const struct ref *ref)
{
    sbx_frame_reader r;
    struct reenc e;
    uint64_t rng = fnv1a(d, size) ^ (uint64_t)m;
    size_t fed = 0, nframes = 0, at = 0; /* `at`: input offset of the next frame */
    int err = 0;
    sbx_frame f;
    struct oracle at_cli, at_runner;

    oracle_init(&at_cli, SBX_AT_CLI);
    oracle_init(&at_runner, SBX_AT_RUNNER);
    /* Half the inputs are runs without a terminal. */
    if (rng & 2) {
        oracle_no_tty(&at_cli);
        oracle_no_tty(&at_runner);
    }
    sbx_frame_reader_init(&r);
    if (m == PIECES) {
        reenc_init(&e, size);
        reenc_filler(&e, &rng);
    }

    for (;;) {
        uint8_t *p = NULL;
        size_t room = 0, k;
        int rc;

        while ((rc = sbx_frame_reader_next(&r, &f)) == 1) {
            check_reader(&r);
            CHECK(nframes < ref->nframes);
            CHECK(f.len <= SBX_FRAME_MAX);
            CHECK(f.payload >= r.buf + SBX_FRAME_HDR);
            CHECK(f.payload + f.len <= r.buf + r.wr);
            CHECK(at + SBX_FRAME_HDR + f.len <= fed);
            CHECK(f.type == d[at + 4]);
            CHECK(f.len == be32(d + at));
            CHECK(f.len == 0 || memcmp(f.payload, d + at + SBX_FRAME_HDR, f.len) == 0);
            if (m == WHOLE) {
                (void)oracle_feed(&at_cli, f.type);
                (void)oracle_feed(&at_runner, f.type);
                decode_payload(&f);
            }
            else if (m == PIECES)
                reenc_put(&e, &f, d + at, &rng);
            at += SBX_FRAME_HDR + f.len;
            nframes++;
        }
        check_reader(&r);
        if (rc < 0) {
            err = rc;
            break;
        }
        CHECK(rc == 0);
        if (fed == size)
            break;

        rc = sbx_frame_reader_prepare(&r, &p, &room);
        check_reader(&r);
        if (rc < 0) {
            err = rc;
            break;
        }
        CHECK(p == r.buf + r.wr);
        CHECK(room == r.cap - r.wr);
        /* Progress: there is always room, and once the header of the frame
         * being received is in, room for all of that frame. */
        CHECK(room >= 1);
        if (r.wr - r.rd >= SBX_FRAME_HDR) {
            size_t need = SBX_FRAME_HDR + be32(r.buf + r.rd);
            CHECK(r.wr - r.rd < need);
            CHECK(r.wr - r.rd + room >= need);
        }
        k = piece(m, &rng, size - fed);
        if (k > room)
            k = room;
        if (k > size - fed)
            k = size - fed;
        memcpy(p, d + fed, k);
        sbx_frame_reader_commit(&r, k);
        fed += k;
    }

    CHECK(nframes == ref->nframes);
    CHECK(at == ref->consumed);
    CHECK(err == ref->err);
    if (err != 0) {
        uint8_t *p;
        size_t room;
        /* The error is sticky: a reader never resynchronises on garbage. */
        CHECK(sbx_frame_reader_next(&r, &f) == err);
        CHECK(sbx_frame_reader_prepare(&r, &p, &room) == err);
    } else {
        /* A truncated last frame stays pending, byte for byte. */
        CHECK(fed == size);
        CHECK(sbx_frame_reader_pending(&r) == size - ref->consumed);
        if (size > ref->consumed)
            CHECK(memcmp(r.buf + r.rd, d + ref->consumed, size - ref->consumed) == 0);
    }

    if (m == PIECES)
        reenc_finish(&e, &rng);
    sbx_frame_reader_free(&r);
    CHECK(r.buf == NULL && r.cap == 0);
}

/* ---- reading ahead (sbx with its stdout stalled) ---- */

/* What has() should say about the bytes d[from, to): the walk of ref_walk
 * over what has arrived. */
static int ref_has(const uint8_t *d, size_t from, size_t to, unsigned type)
{
    while (to - from >= SBX_FRAME_HDR) {
        unsigned t;
        size_t n;
        int rc = sbx_frame_hdr_get(d + from, &t, &n);
        if (rc < 0)
            return rc;
        if (to - from - SBX_FRAME_HDR < n)
            return 0;
        if (t == type)
            return 1;
        from += SBX_FRAME_HDR + n;
    }
    return 0;
}

/* Frames are left in the reader, up to a small limit, and taken at random
 * moments; has() must agree with the reference at every step, the buffer
 * stay within its bound, and the frames come out as in the other runs. */
static void run_ahead(const uint8_t *d, size_t size, const struct ref *ref)
{
    static const unsigned looked_for[] = { SBX_F_EXIT, SBX_F_DATA | SBX_STDOUT, SBX_F_HELLO };
    sbx_frame_reader r;
    uint64_t rng = fnv1a(d, size) ^ 0x5a;
    size_t limit = 1 + (size_t)(rng_next(&rng) % 4096), fed = 0, at = 0, nframes = 0;
    size_t bound = limit + SBX_FRAME_HDR + SBX_CHUNK;
    int err = 0;
    sbx_frame f;

    if (bound < SBX_FRAME_HDR + SBX_FRAME_MAX)
        bound = SBX_FRAME_HDR + SBX_FRAME_MAX;
    sbx_frame_reader_init(&r);
    for (;;) {
        uint8_t *p = NULL;
        size_t room = 0, k;
        int rc, take = (rng_next(&rng) & 3) == 0 || fed == size, full = 0;

        if (!take) {
            rc = sbx_frame_reader_prepare_ahead(&r, limit, &p, &room);
            if (rc < 0) {
                err = rc;
                break;
            }
            CHECK(r.cap <= bound);
            CHECK(r.rd <= r.wr && r.wr <= r.cap);
            CHECK(room == r.cap - r.wr);
            /* Refused only once the limit is reached with a whole frame. */
            if (room == 0) {
                CHECK(r.wr - r.rd >= limit);
                take = full = 1;
            }
        }
        if (take) {
            rc = sbx_frame_reader_next(&r, &f);
            if (rc < 0) {
                err = rc;
                break;
            }
            if (rc == 0) {
                CHECK(!full);
                if (fed == size)
                    break;
                continue;
            }
            CHECK(f.type == d[at + 4] && f.len == be32(d + at));
            CHECK(f.len == 0 || memcmp(f.payload, d + at + SBX_FRAME_HDR, f.len) == 0);
            at += SBX_FRAME_HDR + f.len;
            nframes++;
        } else {
            k = piece(PIECES, &rng, size - fed);
            if (k > room)
                k = room;
            if (k > size - fed)
                k = size - fed;
            memcpy(p, d + fed, k);
            sbx_frame_reader_commit(&r, k);
            fed += k;
        }
        for (size_t i = 0; i < sizeof(looked_for) / sizeof(looked_for[0]); i++)
            CHECK(sbx_frame_reader_has(&r, looked_for[i]) == ref_has(d, at, fed, looked_for[i]));
        CHECK(sbx_frame_reader_pending(&r) == fed - at);
    }
    CHECK(nframes == ref->nframes);
    CHECK(at == ref->consumed);
    CHECK(err == ref->err);
    sbx_frame_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ref ref;

    ref_walk(data, size, &ref);
    run(data, size, WHOLE, &ref);
    if (size <= BYTEWISE_MAX)
        run(data, size, BYTEWISE, &ref);
    run(data, size, PIECES, &ref);
    run_ahead(data, size, &ref);
    return 0;
}
