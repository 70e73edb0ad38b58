/* A framed connection: the channel handle plus its incoming frame reader and
 * outgoing frame queue.  Shared by sbx and sbx-runner, which use the channel
 * only through these functions.
 *
 * The connection owns its handle (sbx_conn_free() closes it), the reader
 * and the queue.  Nothing here blocks except the *_wait helpers, which take
 * a deadline and give up with SBX_ETIMEDOUT.
 */
#ifndef SBX_CONN_H
#define SBX_CONN_H

#include "frame.h"
#include "os.h"

typedef struct sbx_conn sbx_conn;

/* The smallest data payload worth moving with splice instead of copying:
 * below it the extra system calls cost more than the copy saves. */
#define SBX_SPLICE_MIN (32u * 1024)

/* A connection over `h`, which it owns from this call on, also when it
 * fails (SBX_ENOMEM: `h` is closed and *c is NULL). */
int sbx_conn_new(sbx_h *h, sbx_conn **c);
/* Closes the handle and frees everything; accepts NULL. */
void sbx_conn_free(sbx_conn *c);

/* One read into the frame reader: the byte count, 0 at end of file,
 * SBX_EAGAIN when nothing was available, or an error. */
int sbx_conn_fill(sbx_conn *c);
/* The next complete frame: 1, or 0 when more bytes are needed, or < 0 when
 * the byte stream is not valid frames.  The frame points into the reader's
 * buffer and stays valid until the next sbx_conn_fill(). */
int sbx_conn_next(sbx_conn *c, sbx_frame *f);
/* Reading ahead: a fill that keeps the frames not yet returned and makes
 * room for more until `limit` bytes are buffered
 * (sbx_frame_reader_prepare_ahead); then SBX_EAGAIN without reading, so a
 * caller polls the channel only while sbx_conn_pending() < limit.  For a
 * receiver that must see what comes further on before it can take the
 * next frame. */
int sbx_conn_fill_ahead(sbx_conn *c, size_t limit);
/* Whether a complete frame of `type` is among those received and not yet
 * returned: 1, 0, or < 0 when a bad frame comes first (nothing consumed). */
int sbx_conn_has(const sbx_conn *c, unsigned type);
/* Whether the peer has closed its end (a fill saw end of file). */
int sbx_conn_eof(const sbx_conn *c);
/* Bytes received but not yet returned as frames: at end of file, a frame
 * cut short. */
size_t sbx_conn_pending(const sbx_conn *c);

/* Queues a frame (header and a copy of the payload); SBX_ENOMEM. */
int sbx_conn_put(sbx_conn *c, unsigned type, const void *payload, size_t len);
/* Queues a control frame and frees `json` in every case.  `rc` is the
 * encoder's result: when it is negative nothing is queued and it is
 * returned, so an encode and its put read as one step. */
int sbx_conn_put_json(sbx_conn *c, unsigned type, char *json, size_t len, int rc);
/* Zero-copy queueing for data: reserve() returns room for `max` payload
 * bytes (NULL when out of memory), commit() queues the first `n` <= max of
 * them as one frame.  Nothing else may be queued in between. */
uint8_t *sbx_conn_reserve(sbx_conn *c, size_t max);
void sbx_conn_commit(sbx_conn *c, unsigned type, size_t n);
/* Bytes queued and not yet written. */
size_t sbx_conn_queued(const sbx_conn *c);
/* Writes queued frames until the queue is empty (0) or the channel is full
 * (SBX_EAGAIN), or fails (SBX_EPIPE when the peer is gone). */
int sbx_conn_flush(sbx_conn *c);

/* Sending a data payload without copying it (the runner): queues the
 * header of a `type` frame of `len` bytes, whose payload is the next `len`
 * bytes of `from` (which must already be there, as sbx_h_readable() said),
 * moved to the channel by later flushes with sbx_h_splice(), or copied if
 * the kernel refuses that.  Frames queued meanwhile go after the payload;
 * sbx_conn_queued() counts the payload until it is sent.  SBX_EINVAL while
 * another payload is pending; SBX_ENOMEM. */
int sbx_conn_put_from(sbx_conn *c, unsigned type, sbx_h *from, size_t len);
/* Whether a payload of `from` (NULL: of any handle) is still to be sent:
 * `from` must not be read or closed until it is. */
int sbx_conn_sending_from(const sbx_conn *c, const sbx_h *from);
/* Gives up a pending payload (its source is about to be closed): the frame
 * it ends cannot be completed, so nothing more is ever written, and
 * flushes fail with SBX_EPIPE; the peer sees the channel end mid-frame. */
void sbx_conn_cut(sbx_conn *c);
/* Whether splicing was refused once: sbx_conn_put_from() then copies, and
 * callers may as well not ask. */
int sbx_conn_splice_refused(const sbx_conn *c);

/* Receiving a data payload without copying it (sbx).  peek_hdr(): when
 * nothing is buffered in the reader, the header of the next frame if all of
 * it has arrived and is valid: 1, else 0 (the normal path then reads it and
 * reports what is wrong).  take_hdr(): consumes that header; its payload is
 * then read with splice_out() until all of it was moved, or resume() hands
 * the rest back to the reader as a frame of `left` bytes of `type` (it must
 * then be the reader's first bytes: nothing read since take_hdr()). */
int sbx_conn_peek_hdr(sbx_conn *c, unsigned *type, size_t *len);
int sbx_conn_take_hdr(sbx_conn *c);
int sbx_conn_splice_out(sbx_conn *c, sbx_h *to, size_t n, size_t *moved);
int sbx_conn_resume(sbx_conn *c, unsigned type, size_t left);
/* Bytes the channel holds that nothing has read yet (sbx_h_readable). */
int sbx_conn_unread(sbx_conn *c, size_t *n);

/* Fills *w to wait on the channel: readable until end of file, writable
 * while frames are queued. */
void sbx_conn_wait_entry(const sbx_conn *c, struct sbx_wait *w);

/* Waits for the next frame until deadline_ms (sbx_now_ms() clock), also
 * flushing queued frames meanwhile.  SBX_EPIPE at end of file,
 * SBX_EPROTO for bad or truncated frames, SBX_ETIMEDOUT, SBX_EINTR. */
int sbx_conn_next_wait(sbx_conn *c, sbx_frame *f, long long deadline_ms);
/* Flushes everything queued before deadline_ms (< 0: no deadline). */
int sbx_conn_flush_wait(sbx_conn *c, long long deadline_ms);

#endif
