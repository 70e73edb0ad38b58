#include <stdlib.h>

#include "conn.h"
#include "err.h"

struct sbx_conn {
    sbx_h *h;
    sbx_frame_reader in;
    sbx_outq out;
    int eof; /* the peer closed its end */
    /* A payload sent from outside the queue (sbx_conn_put_from): the first
     * sp_before queued bytes go before it, then sp_left bytes of sp_from. */
    sbx_h *sp_from;
    size_t sp_before, sp_left;
    int sp_refused; /* splice said no once: payloads are copied */
    int sp_worked;  /* a splice moved bytes once */
    int cut;        /* a payload was given up: the stream is broken */
    uint8_t *bounce; /* the copy, when refused */
    size_t b_off, b_len;
};

int sbx_conn_new(sbx_h *h, sbx_conn **c)
{
    if ((*c = malloc(sizeof(**c))) == NULL) {
        sbx_h_close(h);
        return SBX_ENOMEM;
    }
    (*c)->h = h;
    (*c)->eof = 0;
    (*c)->sp_from = NULL;
    (*c)->sp_before = (*c)->sp_left = 0;
    (*c)->sp_refused = (*c)->sp_worked = (*c)->cut = 0;
    (*c)->bounce = NULL;
    (*c)->b_off = (*c)->b_len = 0;
    sbx_frame_reader_init(&(*c)->in);
    sbx_outq_init(&(*c)->out);
    return 0;
}

void sbx_conn_free(sbx_conn *c)
{
    if (c == NULL)
        return;
    sbx_h_close(c->h);
    sbx_frame_reader_free(&c->in);
    sbx_outq_free(&c->out);
    free(c->bounce);
    free(c);
}

/* One read into the room the reader prepared. */
static int fill_into(sbx_conn *c, uint8_t *p, size_t n)
{
    size_t got;
    int rc;

    if (n == 0)
        return SBX_EAGAIN; /* a full look-ahead: a read of 0 is not EOF */
    if ((rc = sbx_h_read(c->h, p, n, &got)) < 0)
        return rc;
    if (got == 0) {
        c->eof = 1;
        return 0;
    }
    sbx_frame_reader_commit(&c->in, got);
    return (int)(got > 0x7fffffff ? 0x7fffffff : got);
}

int sbx_conn_fill(sbx_conn *c)
{
    uint8_t *p;
    size_t n;
    int rc;

    if ((rc = sbx_frame_reader_prepare(&c->in, &p, &n)) < 0)
        return rc;
    return fill_into(c, p, n);
}

int sbx_conn_fill_ahead(sbx_conn *c, size_t limit)
{
    uint8_t *p;
    size_t n;
    int rc;

    if ((rc = sbx_frame_reader_prepare_ahead(&c->in, limit, &p, &n)) < 0)
        return rc;
    return fill_into(c, p, n);
}

int sbx_conn_has(const sbx_conn *c, unsigned type)
{
    return sbx_frame_reader_has(&c->in, type);
}

int sbx_conn_next(sbx_conn *c, sbx_frame *f)
{
    return sbx_frame_reader_next(&c->in, f);
}

int sbx_conn_eof(const sbx_conn *c)
{
    return c->eof;
}

size_t sbx_conn_pending(const sbx_conn *c)
{
    return sbx_frame_reader_pending(&c->in);
}

int sbx_conn_put(sbx_conn *c, unsigned type, const void *payload, size_t len)
{
    return sbx_outq_put(&c->out, type, payload, len);
}

int sbx_conn_put_json(sbx_conn *c, unsigned type, char *json, size_t len, int rc)
{
    if (rc == 0)
        rc = sbx_outq_put(&c->out, type, json, len);
    free(json);
    return rc;
}

uint8_t *sbx_conn_reserve(sbx_conn *c, size_t max)
{
    return sbx_outq_reserve(&c->out, max);
}

void sbx_conn_commit(sbx_conn *c, unsigned type, size_t n)
{
    sbx_outq_commit(&c->out, type, n);
}

size_t sbx_conn_queued(const sbx_conn *c)
{
    return sbx_outq_len(&c->out) + c->sp_left;
}

int sbx_conn_put_from(sbx_conn *c, unsigned type, sbx_h *from, size_t len)
{
    int rc;

    if (c->sp_left > 0 || len == 0)
        return SBX_EINVAL;
    if ((rc = sbx_outq_put_hdr(&c->out, type, len)) < 0)
        return rc;
    c->sp_from = from;
    c->sp_before = sbx_outq_len(&c->out);
    c->sp_left = len;
    return 0;
}

int sbx_conn_sending_from(const sbx_conn *c, const sbx_h *from)
{
    return c->sp_left > 0 && (from == NULL || from == c->sp_from);
}

void sbx_conn_cut(sbx_conn *c)
{
    if (c->sp_left == 0)
        return;
    c->cut = 1;
    c->sp_left = 0;
    c->sp_from = NULL;
    sbx_outq_consume(&c->out, sbx_outq_len(&c->out));
}

int sbx_conn_splice_refused(const sbx_conn *c)
{
    return c->sp_refused;
}

/* The pending payload, copied: what splice would have moved goes through
 * a buffer of our own, a chunk at a time. */
static int copy_payload(sbx_conn *c)
{
    size_t n, got, put;
    int rc;

    if (c->b_off == c->b_len) {
        if (c->bounce == NULL && (c->bounce = malloc(SBX_CHUNK)) == NULL)
            return SBX_ENOMEM;
        n = c->sp_left < SBX_CHUNK ? c->sp_left : SBX_CHUNK;
        if ((rc = sbx_h_read(c->sp_from, c->bounce, n, &got)) < 0)
            return rc;
        if (got == 0)
            return SBX_EIO; /* the bytes counted are gone: cannot happen */
        c->b_off = 0;
        c->b_len = got;
    }
    if ((rc = sbx_h_write(c->h, c->bounce + c->b_off, c->b_len - c->b_off, &put)) < 0)
        return rc;
    c->b_off += put;
    c->sp_left -= put;
    return 0;
}

/* Moves more of the pending payload into the channel. */
static int send_payload(sbx_conn *c)
{
    size_t moved;
    int rc;

    if (!c->sp_refused) {
        rc = sbx_h_splice(c->sp_from, c->h, c->sp_left, &moved);
        if (rc == SBX_ENOTSUP && !c->sp_worked) {
            c->sp_refused = 1; /* for good: the kernel will not change */
        } else {
            if (rc < 0)
                return rc;
            if (moved == 0)
                return SBX_EIO; /* end of file before the bytes counted */
            c->sp_worked = 1;
            c->sp_left -= moved;
            return 0;
        }
    }
    return copy_payload(c);
}

int sbx_conn_flush(sbx_conn *c)
{
    if (c->cut) {
        sbx_outq_consume(&c->out, sbx_outq_len(&c->out));
        return SBX_EPIPE;
    }
    for (;;) {
        size_t n = sbx_outq_len(&c->out), put;
        int rc;

        /* With a payload pending, only what was queued before it goes
         * first. */
        if (c->sp_left > 0 && n > c->sp_before)
            n = c->sp_before;
        if (n > 0) {
            if ((rc = sbx_h_write(c->h, sbx_outq_data(&c->out), n, &put)) < 0)
                return rc;
            sbx_outq_consume(&c->out, put);
            if (c->sp_left > 0)
                c->sp_before -= put;
            continue;
        }
        if (c->sp_left == 0)
            break;
        if ((rc = send_payload(c)) < 0)
            return rc;
        if (c->sp_left == 0)
            c->sp_from = NULL;
    }
    return sbx_h_flush(c->h);
}

int sbx_conn_peek_hdr(sbx_conn *c, unsigned *type, size_t *len)
{
    uint8_t hdr[SBX_FRAME_HDR];
    size_t got;

    if (c->eof || sbx_frame_reader_pending(&c->in) != 0)
        return 0;
    if (sbx_h_peek(c->h, hdr, sizeof(hdr), &got) < 0 || got < sizeof(hdr))
        return 0;
    return sbx_frame_hdr_get(hdr, type, len) == 0;
}

int sbx_conn_take_hdr(sbx_conn *c)
{
    uint8_t hdr[SBX_FRAME_HDR];
    size_t have = 0, got;
    int rc;

    /* peek_hdr() saw all of it: these reads do not wait. */
    while (have < sizeof(hdr)) {
        rc = sbx_h_read(c->h, hdr + have, sizeof(hdr) - have, &got);
        if (rc == SBX_EINTR)
            continue;
        if (rc < 0)
            return rc;
        if (got == 0)
            return SBX_EIO;
        have += got;
    }
    return 0;
}

int sbx_conn_splice_out(sbx_conn *c, sbx_h *to, size_t n, size_t *moved)
{
    return sbx_h_splice(c->h, to, n, moved);
}

int sbx_conn_resume(sbx_conn *c, unsigned type, size_t left)
{
    uint8_t *p;
    size_t n;
    int rc;

    if (sbx_frame_reader_pending(&c->in) != 0)
        return SBX_EINVAL;
    if ((rc = sbx_frame_reader_prepare(&c->in, &p, &n)) < 0)
        return rc;
    if (n < SBX_FRAME_HDR)
        return SBX_EINVAL;
    sbx_frame_hdr_put(p, type, left);
    sbx_frame_reader_commit(&c->in, SBX_FRAME_HDR);
    return 0;
}

int sbx_conn_unread(sbx_conn *c, size_t *n)
{
    return sbx_h_readable(c->h, n);
}

void sbx_conn_wait_entry(const sbx_conn *c, struct sbx_wait *w)
{
    w->h = c->h;
    w->proc = NULL;
    w->want = (c->eof ? 0 : SBX_EV_READ) | (sbx_conn_queued(c) ? SBX_EV_WRITE : 0);
    w->got = 0;
}

int sbx_conn_next_wait(sbx_conn *c, sbx_frame *f, long long deadline_ms)
{
    for (;;) {
        struct sbx_wait w;
        long long left;
        int rc;

        if ((rc = sbx_conn_next(c, f)) != 0)
            return rc < 0 ? SBX_EPROTO : 1;
        if (c->eof)
            return sbx_frame_reader_pending(&c->in) ? SBX_EPROTO : SBX_EPIPE;
        rc = sbx_conn_flush(c);
        if (rc < 0 && rc != SBX_EAGAIN)
            return rc;
        sbx_conn_wait_entry(c, &w);
        left = deadline_ms - sbx_now_ms();
        if (left <= 0)
            return SBX_ETIMEDOUT;
        if ((rc = sbx_wait(&w, 1, (int)left)) < 0)
            return rc;
        if (w.got & SBX_EV_READ) {
            rc = sbx_conn_fill(c);
            if (rc < 0 && rc != SBX_EAGAIN)
                return rc == SBX_E2BIG ? SBX_EPROTO : rc;
        }
    }
}

int sbx_conn_flush_wait(sbx_conn *c, long long deadline_ms)
{
    for (;;) {
        struct sbx_wait w = { c->h, NULL, SBX_EV_WRITE, 0 };
        long long left;
        int rc = sbx_conn_flush(c);

        if (rc != SBX_EAGAIN)
            return rc;
        left = deadline_ms < 0 ? -1 : deadline_ms - sbx_now_ms();
        if (deadline_ms >= 0 && left <= 0)
            return SBX_ETIMEDOUT;
        if ((rc = sbx_wait(&w, 1, (int)left)) < 0)
            return rc;
    }
}
