/* A framed connection: the channel handle plus its incoming frame reader and
 * outgoing frame queue.  Shared by sbx and sbx-runner.
 *
 * The connection owns `h` (sbx_conn_close() closes it), the reader and the
 * queue.  Nothing here blocks except the *_wait helpers, which take a
 * deadline and give up with SBX_ETIMEDOUT.
 */
#ifndef SBX_CONN_H
#define SBX_CONN_H

#include "frame.h"
#include "os.h"

typedef struct sbx_conn {
    sbx_h *h;
    sbx_frame_reader in;
    sbx_outq out;
    int eof; /* the peer closed its end */
} sbx_conn;

void sbx_conn_init(sbx_conn *c, sbx_h *h);
void sbx_conn_close(sbx_conn *c);

/* One read into the frame reader: the byte count, 0 at end of file,
 * SBX_EAGAIN when nothing was available, or an error. */
int sbx_conn_fill(sbx_conn *c);
/* The next complete frame: 1, or 0 when more bytes are needed, or < 0 when
 * the byte stream is not valid frames. */
int sbx_conn_next(sbx_conn *c, sbx_frame *f);
/* Writes queued frames until the queue is empty (0) or the channel is full
 * (SBX_EAGAIN), or fails (SBX_EPIPE when the peer is gone). */
int sbx_conn_flush(sbx_conn *c);
/* Queues a control frame and frees `json` in every case. */
int sbx_conn_put_json(sbx_conn *c, unsigned type, char *json, size_t len, int rc);

/* Waits for the next frame until deadline_ms (sbx_now_ms() clock), also
 * flushing queued frames meanwhile.  SBX_EPIPE at end of file,
 * SBX_EPROTO for bad or truncated frames, SBX_ETIMEDOUT, SBX_EINTR. */
int sbx_conn_next_wait(sbx_conn *c, sbx_frame *f, long long deadline_ms);
/* Flushes everything queued before deadline_ms (< 0: no deadline). */
int sbx_conn_flush_wait(sbx_conn *c, long long deadline_ms);

#endif
