/* Data payloads sent from outside the frame queue (src/conn.c): spliced
 * from a pipe, or copied when the kernel refuses, always in order with the
 * frames queued around them; and received the same way, the rest handed
 * back to the frame reader. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "conn.h"
#include "err.h"
#include "os.h"

#define N 50000u

static uint8_t *pattern(void)
{
    uint8_t *p = malloc(N);

    cr_assert(p != NULL);
    for (size_t i = 0; i < N; i++)
        p[i] = (uint8_t)(i * 31 + i / 251);
    return p;
}

/* A connection over one end of a channel pair and a second over the other
 * end, to read what the first sends. */
static void pair(sbx_conn **tx, sbx_conn **rx)
{
    sbx_h *a, *b;

    cr_assert_eq(sbx_chan_pair(&a, &b), 0);
    cr_assert_eq(sbx_conn_new(a, tx), 0);
    cr_assert_eq(sbx_conn_new(b, rx), 0);
}

/* Standard stream `to` of this test process becomes `fd`, and a handle on
 * it is returned (the only way to a handle on any descriptor here). */
static sbx_h *as_std(int fd, int to)
{
    sbx_h *h;

    cr_assert_eq(dup2(fd, to), to);
    close(fd);
    cr_assert_eq(sbx_h_std(to, &h), 0);
    return h;
}

static void expect_frame(sbx_conn *rx, unsigned type, const uint8_t *payload, size_t len)
{
    sbx_frame f;

    cr_assert_eq(sbx_conn_next_wait(rx, &f, sbx_now_ms() + 5000), 1);
    cr_assert_eq(f.type, type, "frame type 0x%x, want 0x%x", f.type, type);
    cr_assert_eq(f.len, len);
    if (len > 0)
        cr_assert(memcmp(f.payload, payload, len) == 0, "payload differs");
}

/* Queued frame, payload from `from`, queued frame: received in that order,
 * the payload intact. */
static void send_around(sbx_h *from, const uint8_t *data)
{
    sbx_conn *tx, *rx;
    uint8_t ack[4] = { 0, 0, 0, 9 };

    pair(&tx, &rx);
    cr_assert_eq(sbx_conn_put(tx, SBX_F_STDIN_ACK, ack, 4), 0);
    cr_assert_eq(sbx_conn_put_from(tx, SBX_F_DATA | SBX_STDOUT, from, N), 0);
    cr_assert(sbx_conn_sending_from(tx, from));
    cr_assert_eq(sbx_conn_put_from(tx, SBX_F_DATA | SBX_STDERR, from, 1), SBX_EINVAL);
    cr_assert_eq(sbx_conn_queued(tx), 2 * 8 + 4 + N);
    cr_assert_eq(sbx_conn_put(tx, SBX_F_CLOSE | SBX_STDOUT, NULL, 0), 0);
    cr_assert_eq(sbx_conn_flush_wait(tx, sbx_now_ms() + 5000), 0);
    cr_assert(!sbx_conn_sending_from(tx, NULL));
    cr_assert_eq(sbx_conn_queued(tx), 0);
    expect_frame(rx, SBX_F_STDIN_ACK, ack, 4);
    expect_frame(rx, SBX_F_DATA | SBX_STDOUT, data, N);
    expect_frame(rx, SBX_F_CLOSE | SBX_STDOUT, NULL, 0);
    sbx_conn_free(tx);
    sbx_conn_free(rx);
}

Test(conn_splice, payload_from_a_pipe_is_spliced_in_order)
{
    uint8_t *data = pattern();
    int p[2];
    sbx_h *from;

    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) >= 0, 1);
    cr_assert_eq(write(p[1], data, N), (ssize_t)N);
    from = as_std(p[0], 0);
    send_around(from, data);
    sbx_h_close(from);
    free(data);
}

/* A payload from a regular file: neither end is a pipe, the kernel says
 * EINVAL, and the payload is copied, for good. */
Test(conn_splice, refused_splice_falls_back_to_copying)
{
    uint8_t *data = pattern();
    char path[] = "/tmp/sbx-conn-splice-XXXXXX";
    int fd = mkstemp(path);
    sbx_conn *tx, *rx;
    sbx_h *from;

    cr_assert(fd >= 0);
    unlink(path);
    cr_assert_eq(write(fd, data, N), (ssize_t)N);
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    from = as_std(fd, 0);
    send_around(from, data);
    /* And the refusal is remembered by the connection that met it. */
    cr_assert_eq(lseek(0, 0, SEEK_SET), 0);
    pair(&tx, &rx);
    cr_assert_eq(sbx_conn_put_from(tx, SBX_F_DATA | SBX_STDOUT, from, N), 0);
    cr_assert_eq(sbx_conn_flush_wait(tx, sbx_now_ms() + 5000), 0);
    cr_assert(sbx_conn_splice_refused(tx));
    expect_frame(rx, SBX_F_DATA | SBX_STDOUT, data, N);
    sbx_conn_free(tx);
    sbx_conn_free(rx);
    sbx_h_close(from);
    free(data);
}

/* The receiving side: the header peeked at and taken, part of the payload
 * spliced into a pipe, the rest handed back to the reader as a frame. */
Test(conn_splice, received_payload_part_spliced_rest_resumed)
{
    uint8_t *data = pattern(), *got = malloc(N);
    sbx_conn *tx, *rx;
    sbx_h *out;
    unsigned type = 0;
    size_t len = 0, moved = 0, part = 12345;
    int p[2];

    cr_assert(got != NULL);
    pair(&tx, &rx);
    cr_assert_eq(pipe(p), 0);
    out = as_std(p[1], 1);
    cr_assert_eq(sbx_conn_put(tx, SBX_F_DATA | SBX_STDERR, data, N), 0);
    cr_assert_eq(sbx_conn_flush_wait(tx, sbx_now_ms() + 5000), 0);
    cr_assert_eq(sbx_conn_peek_hdr(rx, &type, &len), 1);
    cr_assert_eq(type, SBX_F_DATA | SBX_STDERR);
    cr_assert_eq(len, N);
    cr_assert_eq(sbx_conn_take_hdr(rx), 0);
    cr_assert_eq(sbx_conn_splice_out(rx, out, part, &moved), 0);
    cr_assert_eq(moved, part);
    cr_assert_eq(read(p[0], got, N), (ssize_t)part);
    cr_assert(memcmp(got, data, part) == 0);
    cr_assert_eq(sbx_conn_resume(rx, SBX_F_DATA | SBX_STDERR, N - part), 0);
    expect_frame(rx, SBX_F_DATA | SBX_STDERR, data + part, N - part);
    sbx_conn_free(tx);
    sbx_conn_free(rx);
    sbx_h_close(out);
    close(p[0]);
    free(data);
    free(got);
}
