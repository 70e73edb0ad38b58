#include <stdlib.h>

#include "conn.h"
#include "err.h"

struct sbx_conn {
    sbx_h *h;
    sbx_frame_reader in;
    sbx_outq out;
    int eof; /* the peer closed its end */
};

int sbx_conn_new(sbx_h *h, sbx_conn **c)
{
    if ((*c = malloc(sizeof(**c))) == NULL) {
        sbx_h_close(h);
        return SBX_ENOMEM;
    }
    (*c)->h = h;
    (*c)->eof = 0;
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
    return sbx_outq_len(&c->out);
}

int sbx_conn_flush(sbx_conn *c)
{
    while (sbx_outq_len(&c->out) > 0) {
        size_t put;
        int rc = sbx_h_write(c->h, sbx_outq_data(&c->out), sbx_outq_len(&c->out), &put);
        if (rc < 0)
            return rc;
        sbx_outq_consume(&c->out, put);
    }
    return sbx_h_flush(c->h);
}

void sbx_conn_wait_entry(const sbx_conn *c, struct sbx_wait *w)
{
    w->h = c->h;
    w->proc = NULL;
    w->want = (c->eof ? 0 : SBX_EV_READ) | (sbx_outq_len(&c->out) ? SBX_EV_WRITE : 0);
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
