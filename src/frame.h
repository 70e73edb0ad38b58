/* The sbx frame codec: bytes <-> frames, no I/O.
 *
 * Wire format (docs/protocol.md is the specification):
 *
 *   offset 0  u32  payload length, big-endian, at most SBX_FRAME_MAX
 *   offset 4  u8   frame type (enum sbx_ftype)
 *   offset 5  u8[3] reserved, must be zero
 *   offset 8  payload
 *
 * The header is validated (known type, reserved bytes zero, a length within
 * SBX_FRAME_MAX and within the type's own bounds) before any memory is
 * allocated for the payload, so a hostile peer can make a reader allocate at
 * most SBX_FRAME_HDR + SBX_FRAME_MAX bytes.
 */
#ifndef SBX_FRAME_H
#define SBX_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SBX_FRAME_HDR 8u
#define SBX_FRAME_MAX (4u * 1024 * 1024)
/* Largest data chunk a sender puts in one frame; receivers accept up to
 * SBX_FRAME_MAX. */
#define SBX_CHUNK (256u * 1024)

enum sbx_ftype {
    SBX_F_HELLO = 0x01,       /* JSON, both directions, first frame */
    SBX_F_SPAWN = 0x02,       /* JSON, sbx -> runner */
    SBX_F_SPAWNED = 0x03,     /* JSON, runner -> sbx */
    SBX_F_SPAWN_ERROR = 0x04, /* JSON, runner -> sbx */
    SBX_F_EXIT = 0x05,        /* JSON, runner -> sbx, last frame */
    SBX_F_SIGNAL = 0x06,      /* JSON, sbx -> runner: a signal for the
                                 command's process group */
    SBX_F_ERROR = 0x07,       /* JSON, both directions, then close */
    SBX_F_RESIZE = 0x08,      /* JSON, sbx -> runner: the terminal's size */
    SBX_F_STOPPED = 0x09,     /* JSON, runner -> sbx: the command stopped */
    SBX_F_CONTINUE = 0x0a,    /* JSON, sbx -> runner: go on, in the
                                 terminal's foreground or not */
    SBX_F_SPAWN_PART = 0x0b,  /* raw, sbx -> runner: a leading piece of the
                                 spawn request's JSON text, which the spawn
                                 frame completes */
    SBX_F_DATA = 0x10,        /* + stream: raw bytes of that stream */
    SBX_F_CLOSE = 0x20,       /* + stream: no more of that stream; empty */
    SBX_F_STDIN_ACK = 0x30    /* u32 BE: stdin and terminal bytes delivered */
};

/* The stream tag of data and close frames.  SBX_TTY is the command's
 * terminal: its output from the runner, the keys typed from sbx; only the
 * runner closes it (the terminal's output ended). */
enum sbx_stream { SBX_STDIN = 0, SBX_STDOUT = 1, SBX_STDERR = 2, SBX_TTY = 3 };

#define SBX_F_STREAM(type) ((unsigned)(type) & 0x0fu)
#define SBX_F_KIND(type) ((unsigned)(type) & 0xf0u)

typedef struct sbx_frame {
    unsigned type;
    const uint8_t *payload; /* points into the reader's buffer */
    size_t len;
} sbx_frame;

/* Name of a frame type for messages ("hello", "stdout data", "terminal
 * data"); "unknown" when the type is not a known one (enum sbx_ftype, data
 * and close with a stream of enum sbx_stream). */
const char *sbx_frame_type_name(unsigned type);

/* Whether `type` is a known frame type. */
int sbx_frame_type_known(unsigned type);

/* Writes the 8-byte header. `len` must be <= SBX_FRAME_MAX. */
void sbx_frame_hdr_put(uint8_t hdr[SBX_FRAME_HDR], unsigned type, size_t len);

/* Decodes and validates a header: SBX_EPROTO for an unknown type, non-zero
 * reserved bytes or a length the type does not allow (JSON and data: 1 or
 * more; close: 0; stdin ack: 4); SBX_E2BIG for a length over
 * SBX_FRAME_MAX. */
int sbx_frame_hdr_get(const uint8_t hdr[SBX_FRAME_HDR], unsigned *type, size_t *len);

/* Incremental reader.  Usage:
 *     sbx_frame_reader_prepare(r, &p, &n);   read up to n bytes into p
 *     sbx_frame_reader_commit(r, got);
 *     while ((rc = sbx_frame_reader_next(r, &f)) == 1) use f;
 * A frame returned by next() stays valid until the following prepare().
 * The reader owns its buffer; sbx_frame_reader_free() releases it. */
typedef struct sbx_frame_reader {
    uint8_t *buf;
    size_t cap, rd, wr;
    int err; /* sticky: once a bad header is seen, every call fails */
} sbx_frame_reader;

void sbx_frame_reader_init(sbx_frame_reader *r);
void sbx_frame_reader_free(sbx_frame_reader *r);
int sbx_frame_reader_prepare(sbx_frame_reader *r, uint8_t **p, size_t *n);
void sbx_frame_reader_commit(sbx_frame_reader *r, size_t n);
/* 1: *f holds a frame; 0: more bytes are needed; < 0: the stream is bad. */
int sbx_frame_reader_next(sbx_frame_reader *r, sbx_frame *f);
/* Bytes received but not yet returned as frames (a truncated frame at EOF). */
size_t sbx_frame_reader_pending(const sbx_frame_reader *r);

/* Reading ahead, for a receiver that holds frames back while it waits for
 * one further on (sbx, stalled on its own stdout, looking for the exit).
 * prepare_ahead() is prepare() that also makes room for the frames after
 * the current one while fewer than `limit` bytes are buffered: the buffer
 * grows to at most `limit` + SBX_FRAME_HDR + SBX_CHUNK bytes (or the one
 * frame prepare() allows, if larger), so a peer that sends on and on is
 * held back by the caller's not reading.  *n is 0 only when `limit` bytes
 * are buffered and the current frame is complete: nothing to read then.
 * Frames returned by next() before it are invalid afterwards, as after
 * prepare(). */
int sbx_frame_reader_prepare_ahead(sbx_frame_reader *r, size_t limit, uint8_t **p, size_t *n);
/* Looks through the buffered bytes without consuming anything: 1 when a
 * complete frame of `type` is buffered, 0 when none is (yet), or the error
 * next() will give when a bad header comes before one. */
int sbx_frame_reader_has(const sbx_frame_reader *r, unsigned type);

/* Outgoing queue of encoded frames, drained by the caller's writes. */
typedef struct sbx_outq {
    uint8_t *buf;
    size_t cap, rd, wr;
    size_t reserved; /* payload bytes promised by the last reserve() */
} sbx_outq;

void sbx_outq_init(sbx_outq *q);
void sbx_outq_free(sbx_outq *q);
/* Appends one frame (header and payload); SBX_ENOMEM, SBX_E2BIG. */
int sbx_outq_put(sbx_outq *q, unsigned type, const void *payload, size_t len);
/* Zero-copy append: reserve() returns room for `max` payload bytes (with the
 * header slot before it), commit() writes the header for the `n` <= max bytes
 * actually filled.  NULL on allocation failure. */
uint8_t *sbx_outq_reserve(sbx_outq *q, size_t max);
void sbx_outq_commit(sbx_outq *q, unsigned type, size_t n);
/* Appends only the header of a frame of `len` payload bytes, which the
 * caller sends itself right after it (from outside the queue); SBX_ENOMEM,
 * SBX_E2BIG. */
int sbx_outq_put_hdr(sbx_outq *q, unsigned type, size_t len);
size_t sbx_outq_len(const sbx_outq *q);
const uint8_t *sbx_outq_data(const sbx_outq *q);
void sbx_outq_consume(sbx_outq *q, size_t n);

#endif
