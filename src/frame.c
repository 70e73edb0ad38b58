#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"

/* Initial receive buffer: one full data chunk and its header, so the common
 * case never reallocates. */
#define READER_INITIAL (SBX_FRAME_HDR + SBX_CHUNK)
/* Below this much free space at the tail, prepare() compacts first. */
#define READER_MIN_ROOM 4096u

/* Every known frame type, its name, and the payload lengths it allows:
 * JSON messages and data chunks are never empty, close frames always are,
 * and a stdin ack is one u32.  The upper bound of each is the frame
 * maximum, checked first and reported apart (SBX_E2BIG). */
#define JSON 1, SBX_FRAME_MAX
#define RAW 1, SBX_FRAME_MAX
#define EMPTY 0, 0

static const struct {
    unsigned type;
    const char *name;
    uint32_t min, max;
} types[] = {
    { SBX_F_HELLO, "hello", JSON },
    { SBX_F_SPAWN, "spawn", JSON },
    { SBX_F_SPAWNED, "spawned", JSON },
    { SBX_F_SPAWN_ERROR, "spawn-error", JSON },
    { SBX_F_EXIT, "exit", JSON },
    { SBX_F_SIGNAL, "signal", JSON },
    { SBX_F_ERROR, "error", JSON },
    { SBX_F_RESIZE, "resize", JSON },
    { SBX_F_STOPPED, "stopped", JSON },
    { SBX_F_CONTINUE, "continue", JSON },
    { SBX_F_SPAWN_PART, "spawn part", RAW },
    { SBX_F_DATA | SBX_STDIN, "stdin data", RAW },
    { SBX_F_DATA | SBX_STDOUT, "stdout data", RAW },
    { SBX_F_DATA | SBX_STDERR, "stderr data", RAW },
    { SBX_F_DATA | SBX_TTY, "terminal data", RAW },
    { SBX_F_CLOSE | SBX_STDIN, "stdin close", EMPTY },
    { SBX_F_CLOSE | SBX_STDOUT, "stdout close", EMPTY },
    { SBX_F_CLOSE | SBX_STDERR, "stderr close", EMPTY },
    { SBX_F_CLOSE | SBX_TTY, "terminal close", EMPTY },
    { SBX_F_STDIN_ACK, "stdin ack", 4, 4 },
};

#undef JSON
#undef RAW
#undef EMPTY

/* The row of `type`, or -1. */
static int type_row(unsigned type)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (types[i].type == type)
            return (int)i;
    return -1;
}

const char *sbx_frame_type_name(unsigned type)
{
    int i = type_row(type);

    return i < 0 ? "unknown" : types[i].name;
}

int sbx_frame_type_known(unsigned type)
{
    return type_row(type) >= 0;
}

void sbx_frame_hdr_put(uint8_t hdr[SBX_FRAME_HDR], unsigned type, size_t len)
{
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    hdr[4] = (uint8_t)type;
    hdr[5] = hdr[6] = hdr[7] = 0;
}

int sbx_frame_hdr_get(const uint8_t hdr[SBX_FRAME_HDR], unsigned *type, size_t *len)
{
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                 (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
    unsigned t = hdr[4];
    int i;

    if (hdr[5] != 0 || hdr[6] != 0 || hdr[7] != 0)
        return SBX_EPROTO;
    if ((i = type_row(t)) < 0)
        return SBX_EPROTO;
    if (n > SBX_FRAME_MAX)
        return SBX_E2BIG;
    if (n < types[i].min || n > types[i].max)
        return SBX_EPROTO;
    *type = t;
    *len = n;
    return 0;
}

void sbx_frame_reader_init(sbx_frame_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void sbx_frame_reader_free(sbx_frame_reader *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

/* Size of the frame starting at r->rd, or 0 when its header is incomplete. */
static int reader_need(sbx_frame_reader *r, size_t *need)
{
    unsigned type;
    size_t len;
    int rc;

    *need = 0;
    if (r->wr - r->rd < SBX_FRAME_HDR)
        return 0;
    rc = sbx_frame_hdr_get(r->buf + r->rd, &type, &len);
    if (rc < 0) {
        r->err = rc;
        return rc;
    }
    *need = SBX_FRAME_HDR + len;
    return 0;
}

int sbx_frame_reader_prepare(sbx_frame_reader *r, uint8_t **p, size_t *n)
{
    size_t need, want;
    int rc;

    if (r->err)
        return r->err;
    if (r->rd == r->wr)
        r->rd = r->wr = 0;
    if ((rc = reader_need(r, &need)) < 0)
        return rc;
    /* The whole current frame must fit; the header has been validated, so
     * `need` is bounded by SBX_FRAME_HDR + SBX_FRAME_MAX. */
    want = need > READER_INITIAL ? need : READER_INITIAL;
    if (r->cap < want) {
        uint8_t *nb = realloc(r->buf, want);
        if (nb == NULL)
            return SBX_ENOMEM;
        r->buf = nb;
        r->cap = want;
    }
    if (r->rd > 0 && (r->cap - r->wr < READER_MIN_ROOM || r->cap - r->rd < need)) {
        memmove(r->buf, r->buf + r->rd, r->wr - r->rd);
        r->wr -= r->rd;
        r->rd = 0;
    }
    *p = r->buf + r->wr;
    *n = r->cap - r->wr;
    return 0;
}

void sbx_frame_reader_commit(sbx_frame_reader *r, size_t n)
{
    r->wr += n;
}

int sbx_frame_reader_next(sbx_frame_reader *r, sbx_frame *f)
{
    unsigned type;
    size_t len;
    int rc;

    if (r->err)
        return r->err;
    if (r->wr - r->rd < SBX_FRAME_HDR)
        return 0;
    rc = sbx_frame_hdr_get(r->buf + r->rd, &type, &len);
    if (rc < 0) {
        r->err = rc;
        return rc;
    }
    if (r->wr - r->rd - SBX_FRAME_HDR < len)
        return 0;
    f->type = type;
    f->payload = r->buf + r->rd + SBX_FRAME_HDR;
    f->len = len;
    r->rd += SBX_FRAME_HDR + len;
    return 1;
}

size_t sbx_frame_reader_pending(const sbx_frame_reader *r)
{
    return r->wr - r->rd;
}

int sbx_frame_reader_prepare_ahead(sbx_frame_reader *r, size_t limit, uint8_t **p, size_t *n)
{
    size_t want, most;
    uint8_t *nb;
    int rc;

    if ((rc = sbx_frame_reader_prepare(r, p, n)) < 0)
        return rc;
    /* prepare() has compacted when the tail was short, so growing is the
     * only way to more room; past the limit the caller stops reading. */
    if (*n >= READER_MIN_ROOM || r->wr - r->rd >= limit)
        return 0;
    most = limit > SIZE_MAX - SBX_FRAME_HDR - SBX_CHUNK ? SIZE_MAX
                                                        : limit + SBX_FRAME_HDR + SBX_CHUNK;
    want = r->cap > most / 2 ? most : r->cap * 2;
    if (want <= r->cap)
        return 0;
    if ((nb = realloc(r->buf, want)) == NULL)
        return SBX_ENOMEM;
    r->buf = nb;
    r->cap = want;
    *p = r->buf + r->wr;
    *n = r->cap - r->wr;
    return 0;
}

int sbx_frame_reader_has(const sbx_frame_reader *r, unsigned type)
{
    size_t at = r->rd;

    if (r->err)
        return r->err;
    while (r->wr - at >= SBX_FRAME_HDR) {
        unsigned t;
        size_t len;
        int rc = sbx_frame_hdr_get(r->buf + at, &t, &len);
        if (rc < 0)
            return rc;
        if (r->wr - at - SBX_FRAME_HDR < len)
            return 0;
        if (t == type)
            return 1;
        at += SBX_FRAME_HDR + len;
    }
    return 0;
}

void sbx_outq_init(sbx_outq *q)
{
    memset(q, 0, sizeof(*q));
}

void sbx_outq_free(sbx_outq *q)
{
    if (q == NULL)
        return;
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

/* Makes room for `n` more bytes at the tail, compacting before growing. */
static int outq_room(sbx_outq *q, size_t n)
{
    size_t used, want;
    uint8_t *nb;

    if (q->rd == q->wr)
        q->rd = q->wr = 0;
    if (q->cap - q->wr >= n)
        return 0;
    used = q->wr - q->rd;
    if (q->rd > 0 && q->cap - used >= n) {
        memmove(q->buf, q->buf + q->rd, used);
        q->rd = 0;
        q->wr = used;
        return 0;
    }
    if (q->rd > 0) {
        memmove(q->buf, q->buf + q->rd, used);
        q->rd = 0;
        q->wr = used;
    }
    if (SIZE_MAX - used < n)
        return SBX_ENOMEM;
    want = q->cap ? q->cap : 4096;
    while (want < used + n)
        want = want > SIZE_MAX / 2 ? used + n : want * 2;
    nb = realloc(q->buf, want);
    if (nb == NULL)
        return SBX_ENOMEM;
    q->buf = nb;
    q->cap = want;
    return 0;
}

int sbx_outq_put(sbx_outq *q, unsigned type, const void *payload, size_t len)
{
    int rc;

    if (len > SBX_FRAME_MAX)
        return SBX_E2BIG;
    if ((rc = outq_room(q, SBX_FRAME_HDR + len)) < 0)
        return rc;
    sbx_frame_hdr_put(q->buf + q->wr, type, len);
    if (len > 0)
        memcpy(q->buf + q->wr + SBX_FRAME_HDR, payload, len);
    q->wr += SBX_FRAME_HDR + len;
    return 0;
}

uint8_t *sbx_outq_reserve(sbx_outq *q, size_t max)
{
    if (max > SBX_FRAME_MAX || outq_room(q, SBX_FRAME_HDR + max) < 0)
        return NULL;
    q->reserved = max;
    return q->buf + q->wr + SBX_FRAME_HDR;
}

void sbx_outq_commit(sbx_outq *q, unsigned type, size_t n)
{
    if (n > q->reserved)
        n = q->reserved;
    sbx_frame_hdr_put(q->buf + q->wr, type, n);
    q->wr += SBX_FRAME_HDR + n;
    q->reserved = 0;
}

int sbx_outq_put_hdr(sbx_outq *q, unsigned type, size_t len)
{
    int rc;

    if (len > SBX_FRAME_MAX)
        return SBX_E2BIG;
    if ((rc = outq_room(q, SBX_FRAME_HDR)) < 0)
        return rc;
    sbx_frame_hdr_put(q->buf + q->wr, type, len);
    q->wr += SBX_FRAME_HDR;
    return 0;
}

size_t sbx_outq_len(const sbx_outq *q)
{
    return q->wr - q->rd;
}

const uint8_t *sbx_outq_data(const sbx_outq *q)
{
    return q->buf + q->rd;
}

void sbx_outq_consume(sbx_outq *q, size_t n)
{
    if (n > q->wr - q->rd)
        n = q->wr - q->rd;
    q->rd += n;
    if (q->rd == q->wr)
        q->rd = q->wr = 0;
}
