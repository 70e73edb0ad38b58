/* The sbx side of a session: the channel, the handshake and the relay loop
 * (starting and checking the runner are in launch.c).
 *
 * Data path: frames from the runner are written to our stdout/stderr as
 * soon as they arrive (blocking writes: the descriptors are shared with the
 * caller, so they are never switched to non-blocking mode, and a slow reader
 * pushes back through the channel to the child).  Once a signal asking the
 * command to stop has been passed on, no write may block any more: output
 * is written a pipe's worth at a time when the descriptor is ready, and
 * while our reader takes nothing sbx reads the channel ahead, a bounded
 * way, for the exit; if the command has ended and the reader still takes
 * nothing, the rest is dropped (counted as lost) and sbx ends as the
 * command did.  A write error other than a vanished reader is recorded for
 * main() and ends that stream like a broken pipe.  Our stdin is read only
 * while the stdin window has room, so a command that never reads its stdin
 * is never flooded and control frames are never stuck behind input.
 *
 * Large output into a pipe is not copied: when the reader holds no frame
 * and the next header (peeked at) is stdout or stderr data of at least
 * SBX_SPLICE_MIN bytes bound for a pipe, the header is taken and the
 * payload spliced from the channel into that pipe, blocking as the write
 * would, with "sp_left bytes still in the channel" as the loop's state.
 * It is only a shortcut: a stop asked, a descriptor that refuses (full and
 * non-blocking, or no splice at all), or the channel ending hands the rest
 * of the payload back to the frame reader as a frame of its own, and the
 * copy path above does the rest; a write error is the same write error.
 * Nothing is spliced once a stop was asked or while output is held.
 *
 * In pty mode the command's terminal output arrives as terminal data and
 * goes to our stdout (or stderr, or the terminal itself, see tty.h); keys
 * go the other way only while the command holds its terminal's foreground
 * and ours is raw, and they share the stdin window.  Job control is a
 * conversation: the runner says the command stopped, sbx either hands it
 * the terminal (it only wanted the terminal) or stops itself the same way,
 * and says continue when it runs again (job.c, with the signals).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "err.h"
#include "frame.h"
#include "launch.h"
#include "os.h"
#include "protocol.h"
#include "rules.h"
#include "session.h"
#include "session_int.h"

static void set_msg(struct session_out *out, const char *fmt, ...) SBX_PRINTF(2, 3);

static void set_msg(struct session_out *out, const char *fmt, ...)
{
    va_list ap;

    out->result = SESSION_FAILED;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
}

static const char *os_text(void)
{
    return sbx_os_error_text(sbx_os_last_error());
}

/* How long a reader must have taken nothing before sbx, asked to stop and
 * knowing the command has ended, stops waiting for it.  Long enough that a
 * reader that is slow but reading gets everything; short next to the
 * patience of someone pressing Ctrl-C. */
#define STALL_MS 500
/* How far sbx reads the channel ahead of a stalled write, looking for the
 * exit: far enough for everything the runner and the channel hold after
 * the command ended; bounded, so a command that ignores the stop and
 * writes on is still held back by its reader. */
#define LOOKAHEAD (16u * 1024 * 1024)
/* What one write may put once a stop was asked, when no write may block:
 * readiness to write promises room for PIPE_BUF bytes on a pipe (and
 * POSIX lets PIPE_BUF be as small as 512). */
#ifdef PIPE_BUF
#define CAREFUL_MAX PIPE_BUF
#else
#define CAREFUL_MAX 512
#endif

/* Where output of `to` goes: our stdout or stderr (1, 2), or for SBX_TTY
 * the terminal's output (tty.h: our stdout, stderr or the terminal). */
static sbx_h *out_h(struct sess *s, int to)
{
    return to == SBX_TTY ? term_out(s->tm, s->std) : s->std[to];
}

/* The standard stream output of `to` counts as: 1 or 2, or 0 for the
 * terminal itself, which is neither. */
static int out_stream(const struct sess *s, int to)
{
    if (to != SBX_TTY)
        return to;
    return s->tm->out == 1 || s->tm->out == 2 ? s->tm->out : 0;
}

static void lose(struct sess *s, int to, size_t n)
{
    int st = out_stream(s, to);

    if (st != 0)
        s->out->lost[st] += n;
}

/* Writing `to` failed with `err`, `left` bytes of the chunk unwritten.  The
 * stream is dropped, and the runner closes the command's end of it, so the
 * command gets the broken pipe it would have got inline (a terminal has
 * one output for both streams and no close: the rest is dropped, as a
 * screen nobody reads would drop it).  EPIPE is a reader that went away,
 * no fault of the run; anything else (a full disk, an I/O error, a file
 * too large) loses output the caller wanted, so the first such error and
 * every byte not written from then on are recorded for main() to report. */
static int write_failed(struct sess *s, int to, int err, size_t left)
{
    int st = out_stream(s, to);

    if (err != SBX_EPIPE && st != 0) {
        if (s->out->write_err[st] == 0) {
            s->out->write_err[st] = err;
            s->out->write_os_err[st] = sbx_os_last_error();
        }
        s->out->lost[st] += left;
    }
    if (to == SBX_TTY) {
        s->tty_dead = 1;
        return 0;
    }
    s->dead[to] = 1;
    return sbx_conn_put(s->c, SBX_F_CLOSE | (unsigned)to, NULL, 0);
}

/* A write came back short, interrupted or refused: the signal that may
 * have cut it short must reach the command now, not when the reader
 * catches up. */
static int signals_now(struct sess *s)
{
    int rc = forward_signals(s);

    if (rc < 0)
        return rc;
    (void)sbx_conn_flush(s->c); /* a failure shows on the read side */
    return 0;
}

/* Keeps the unwritten rest of a chunk for the relay loop to write when
 * `to` is ready; frames stay in the channel meanwhile. */
static int hold(struct sess *s, int to, const uint8_t *p, size_t n, int tried)
{
    if (s->pend_cap < n) {
        uint8_t *nb = realloc(s->pend, n); /* n <= SBX_FRAME_MAX */
        if (nb == NULL) {
            set_msg(s->out, "out of memory");
            return SBX_ENOMEM;
        }
        s->pend = nb;
        s->pend_cap = n;
    }
    memcpy(s->pend, p, n);
    s->pend_off = 0;
    s->pend_len = n;
    s->pend_to = to;
    s->scan_dirty = 1;
    /* Held without a try (after a stop): the reader's grace starts now. */
    if (!tried)
        s->moved_ms = sbx_now_ms();
    return 0;
}

/* One chunk of output for `to`.  The common case is one blocking write of
 * the whole chunk (the descriptors are shared with the caller, so they are
 * never made non-blocking, and a slow reader pushes back through the
 * channel to the command).  What cannot be written that way is held for
 * the relay loop: a chunk a non-blocking descriptor refused, and after a
 * stop was asked every chunk, since from then on no write may block. */
static int emit(struct sess *s, int to, const uint8_t *p, size_t n)
{
    sbx_h *h = out_h(s, to);
    int st = out_stream(s, to), dead = to == SBX_TTY ? s->tty_dead : s->dead[to];
    int tried = 0, rc, frc;

    if (s->draining || (dead && st != 0 && s->out->write_err[st] != 0)) {
        lose(s, to, n);
        return 0;
    }
    if (dead || h == NULL)
        return 0;
    while (n > 0 && !s->stop_asked) {
        size_t put = 0;
        rc = sbx_h_write(h, p, n, &put);
        tried = 1;
        if (rc < 0 && rc != SBX_EINTR && rc != SBX_EAGAIN)
            return write_failed(s, to, rc, n);
        if (put > 0)
            s->moved_ms = sbx_now_ms();
        p += put;
        n -= put;
        if (n == 0)
            break;
        if ((frc = signals_now(s)) < 0)
            return frc;
        if (rc == SBX_EAGAIN)
            break;
    }
    return n > 0 ? hold(s, to, p, n, tried) : 0;
}

/* Writes more of the held output, `to` being ready.  After a stop no write
 * may block (the command may be gone, and nothing would interrupt it), so
 * each puts at most what readiness promises. */
static int write_held(struct sess *s)
{
    sbx_h *h = out_h(s, s->pend_to);
    size_t left = s->pend_len - s->pend_off, n = left, put = 0;
    int rc;

    if (s->stop_asked && n > CAREFUL_MAX)
        n = CAREFUL_MAX;
    rc = sbx_h_write(h, s->pend + s->pend_off, n, &put);
    if (rc < 0 && rc != SBX_EINTR && rc != SBX_EAGAIN) {
        s->pend_off = s->pend_len = 0;
        return write_failed(s, s->pend_to, rc, left);
    }
    if (put > 0)
        s->moved_ms = sbx_now_ms();
    s->pend_off += put;
    if (s->pend_off == s->pend_len)
        s->pend_off = s->pend_len = 0;
    return 0;
}

/* Gives the payload still in the channel back to the frame reader, as a
 * frame of its own for the copy path (which counts it). */
static int splice_abandon(struct sess *s)
{
    int rc = sbx_conn_resume(s->c, SBX_F_DATA | (unsigned)s->sp_to, s->sp_left);

    s->sp_left = 0;
    if (rc < 0)
        set_msg(s->out, "out of memory");
    return rc;
}

/* Moves more of the payload being spliced into our stdout or stderr, as
 * far as the channel has it: 0 (with s->sp_left still > 0 when the rest
 * has yet to arrive), or < 0 to end the session. */
static int splice_more(struct sess *s)
{
    int to = s->sp_to, rc;
    size_t moved, unread;

    while (s->sp_left > 0) {
        if (s->stop_asked)
            return splice_abandon(s); /* from now on no write may block */
        rc = sbx_conn_splice_out(s->c, s->std[to], s->sp_left, &moved);
        if (moved > 0) {
            s->sp_left -= moved;
            s->out->bytes[to] += moved;
            s->moved_ms = sbx_now_ms();
            /* Cut short, maybe by a signal (as a short write): it must
             * reach the command now, and a stop changes how to go on. */
            if (s->sp_left > 0 && (rc = signals_now(s)) < 0)
                return rc;
            continue;
        }
        if (rc == 0)
            return splice_abandon(s); /* the channel ended mid-frame */
        if (rc == SBX_EINTR) {
            if ((rc = signals_now(s)) < 0)
                return rc;
            continue;
        }
        if (rc == SBX_EAGAIN) {
            /* Nothing in the channel yet: the loop waits for it.  With
             * bytes there, our stdout is non-blocking and full: the copy
             * path holds what it cannot write. */
            if (sbx_conn_unread(s->c, &unread) == 0 && unread > 0)
                return splice_abandon(s);
            return 0;
        }
        if (rc == SBX_ENOTSUP) {
            s->no_splice = 1;
            return splice_abandon(s);
        }
        /* As a failed write: the rest goes through the copy path, which
         * drops it (and counts it lost but for a vanished reader). */
        if ((rc = write_failed(s, to, rc, 0)) < 0)
            return rc;
        return splice_abandon(s);
    }
    return 0;
}

/* With no frame buffered: when the next one is stdout or stderr data worth
 * splicing into a pipe, takes its header and moves its payload (1), or 0
 * for the copy path.  Only peeked at after a large frame, so small output
 * costs no extra system call. */
static int splice_start(struct sess *s)
{
    char why[SBX_WHY];
    unsigned type;
    size_t len;
    int to, rc;

    if (!s->big || s->no_splice || s->stop_asked || s->draining || s->pend_len > 0 || s->done)
        return 0;
    if (sbx_conn_peek_hdr(s->c, &type, &len) != 1)
        return 0;
    if (type != (SBX_F_DATA | SBX_STDOUT) && type != (SBX_F_DATA | SBX_STDERR))
        return 0;
    to = (int)SBX_F_STREAM(type);
    if (len < SBX_SPLICE_MIN || !s->pipe_out[to] || s->dead[to] || s->std[to] == NULL)
        return 0;
    if (sbx_rules_check(&s->rules, type, why) < 0)
        return 0; /* the copy path says what is wrong */
    if ((rc = sbx_conn_take_hdr(s->c)) < 0) {
        set_msg(s->out, "reading the channel: %s", os_text());
        return rc;
    }
    s->sp_to = to;
    s->sp_left = len;
    if ((rc = splice_more(s)) < 0)
        return rc;
    return 1;
}

static int stdin_done(struct sess *s)
{
    int rc = 0;

    if (s->in == NULL)
        return 0;
    sbx_h_close(s->in);
    s->in = NULL;
    rc = sbx_conn_put(s->c, SBX_F_CLOSE | SBX_STDIN, NULL, 0);
    return rc;
}

/* One read of `h` straight into a data frame of `stream`, within the stdin
 * window that stdin and keys share: 1 with the bytes queued, 0 when nothing
 * was there (or a signal came first), or the read's failure; *got is 0 at
 * end of file. */
static int read_into_window(struct sess *s, sbx_h *h, unsigned stream, size_t *got)
{
    size_t room = SBX_STDIN_WINDOW - s->in_flight;
    uint8_t *dst;
    int rc;

    *got = 0;
    if (room > SBX_CHUNK)
        room = SBX_CHUNK;
    if ((dst = sbx_conn_reserve(s->c, room)) == NULL)
        return SBX_ENOMEM;
    rc = sbx_h_read(h, dst, room, got);
    if (rc == SBX_EAGAIN || rc == SBX_EINTR)
        return 0;
    if (rc < 0 || *got == 0)
        return rc < 0 ? rc : 1;
    sbx_conn_commit(s->c, SBX_F_DATA | stream, *got);
    s->in_flight += *got;
    s->out->bytes[SBX_STDIN] += *got;
    return 1;
}

static int read_stdin(struct sess *s)
{
    size_t got;
    int rc = read_into_window(s, s->in, SBX_STDIN, &got);

    if (rc == SBX_ENOMEM)
        return rc;
    if (rc < 0 || (rc == 1 && got == 0))
        return stdin_done(s); /* EOF, or an unreadable stdin: same to the child */
    return 0;
}

/* Keys typed at the caller's terminal, as bytes: Ctrl-C, Ctrl-Z and the
 * rest reach the command's terminal, whose line discipline makes of them
 * what the caller's would have made inline. */
static int read_keys(struct sess *s)
{
    size_t got;
    int rc = read_into_window(s, s->keys, SBX_TTY, &got);

    if (rc == SBX_ENOMEM)
        return rc;
    if (rc < 0 || (rc == 1 && got == 0)) {
        /* In the background a read fails rather than stops us: leave the
         * terminal alone until we are back in the foreground.  Otherwise
         * the terminal hung up, and the kernel's SIGHUP tells the rest. */
        if (term_foreground(s->tm))
            s->keys_dead = 1;
        else
            term_release(s->tm);
    }
    return 0;
}

static int on_frame(struct sess *s, const sbx_frame *f)
{
    struct sbx_stopped stp;
    char why[SBX_WHY] = "";
    struct sbx_spawned sp;
    struct sbx_error_msg em;
    uint32_t n;

    if (sbx_rules_check(&s->rules, f->type, why) < 0)
        goto bad;
    switch (f->type) {
    case SBX_F_SPAWNED:
        if (sbx_spawned_decode(f->payload, f->len, &sp, why) < 0)
            break;
        s->spawned = 1;
        s->out->pid = sp.pid;
        {
            int rc = job_spawned(s);
            if (rc < 0)
                return rc;
        }
        /* A signal that arrived while the command was starting is its. */
        return forward_signals(s);
    case SBX_F_SPAWN_ERROR:
        if (sbx_spawn_error_decode(f->payload, f->len, &s->out->se, why) < 0)
            break;
        s->out->result = SESSION_SPAWN_FAILED;
        s->done = 1;
        return 0;
    case SBX_F_DATA | SBX_STDOUT:
    case SBX_F_DATA | SBX_STDERR:
        s->out->bytes[SBX_F_STREAM(f->type)] += f->len;
        s->big = f->len >= SBX_SPLICE_MIN;
        return emit(s, (int)SBX_F_STREAM(f->type), f->payload, f->len);
    case SBX_F_CLOSE | SBX_STDOUT:
    case SBX_F_CLOSE | SBX_STDERR:
    case SBX_F_CLOSE | SBX_TTY:
        return 0;
    case SBX_F_DATA | SBX_TTY:
        /* Counted as the stream it is written to (the terminal itself, when
         * only stdin is the terminal, is neither). */
        if (s->tm->out == 1 || s->tm->out == 2)
            s->out->bytes[s->tm->out] += f->len;
        return emit(s, SBX_TTY, f->payload, f->len);
    case SBX_F_STOPPED:
        if (sbx_stopped_decode(f->payload, f->len, &stp, why) < 0)
            break;
        /* Draining, the command has already exited after it. */
        return s->draining ? 0 : job_stopped(s, stp.signal);
    case SBX_F_CLOSE | SBX_STDIN:
        /* The child's stdin is closed: stop reading ours, leaving the rest
         * unread for whoever shares it. */
        if (s->in != NULL) {
            sbx_h_close(s->in);
            s->in = NULL;
        }
        return 0;
    case SBX_F_STDIN_ACK:
        n = sbx_ack_get(f->payload);
        if (n > s->in_flight) {
            snprintf(why, sizeof(why), "runner acknowledged more stdin than was sent");
            break;
        }
        s->in_flight -= n;
        return 0;
    case SBX_F_EXIT:
        if (sbx_exit_decode(f->payload, f->len, &s->out->st, why) < 0)
            break;
        s->out->result = SESSION_EXITED;
        s->done = 1;
        return 0;
    case SBX_F_ERROR:
        if (sbx_error_decode(f->payload, f->len, &em, why) < 0)
            break;
        set_msg(s->out, "runner: %s", em.message);
        sbx_error_msg_free(&em);
        return SBX_EPROTO;
    default:
        /* The table let through a frame this loop does not know. */
        break;
    }
bad:
    if (why[0])
        set_msg(s->out, "protocol error: %s", why);
    else
        set_msg(s->out, "protocol error: unexpected %s frame from the runner",
                sbx_frame_type_name(f->type));
    return SBX_EPROTO;
}

/* peer_pid: who the channel says the runner is (> 0), which its hello must
 * say too. */
static int handshake(struct sess *s, const char *nonce, long long peer_pid)
{
    const struct session_req *r = s->r;
    long long deadline = sbx_now_ms() + r->connect_ms;
    char why[SBX_WHY] = "";
    struct sbx_hello hello;
    sbx_frame f;
    char *json = NULL;
    size_t len = 0;
    int rc;

    do {
        rc = sbx_conn_next_wait(s->c, &f, deadline);
    } while (rc == SBX_EINTR && (rc = forward_signals(s)) == 0);
    if (rc == SBX_EINTR)
        return rc;
    if (rc == SBX_ETIMEDOUT) {
        set_msg(s->out, "runner did not say hello within %d ms", r->connect_ms);
        return rc;
    }
    if (rc == SBX_EPROTO || rc == SBX_E2BIG) {
        set_msg(s->out, "protocol error: malformed frame from the runner during the handshake");
        return rc;
    }
    if (rc < 0) {
        set_msg(s->out, "runner closed the channel during the handshake");
        return rc;
    }
    if (sbx_rules_check(&s->rules, f.type, why) < 0) {
        set_msg(s->out, "protocol error: %s", why);
        return SBX_EPROTO;
    }
    if (f.type == SBX_F_ERROR) {
        struct sbx_error_msg em;
        if (sbx_error_decode(f.payload, f.len, &em, why) < 0) {
            set_msg(s->out, "protocol error: %s", why);
            return SBX_EPROTO;
        }
        set_msg(s->out, "runner: %s", em.message);
        sbx_error_msg_free(&em);
        return SBX_EPROTO;
    }
    if (sbx_hello_decode(f.payload, f.len, &hello, why) < 0) {
        set_msg(s->out, "protocol error: %s", why);
        return SBX_EPROTO;
    }
    /* A runner of another build: "the other program speaks protocol
     * version N, this one version 3: ...", as documented. */
    if ((rc = sbx_hello_check(&hello, nonce, why)) < 0) {
        set_msg(s->out, "%s%s", why, rc == SBX_EPEER ? "; refusing the connection" : "");
        return rc;
    }
    if (peer_pid > 0 && hello.pid != peer_pid) {
        set_msg(s->out, "runner's hello names pid %lld, but pid %lld wrote it; refusing the "
                        "connection", hello.pid, peer_pid);
        return SBX_EPEER;
    }

    memset(&hello, 0, sizeof(hello));
    hello.version = SBX_PROTO_VERSION;
    memcpy(hello.nonce, nonce, SBX_NONCE_HEX + 1);
    hello.pid = sbx_os_pid();
    rc = sbx_hello_encode(&hello, &json, &len);
    if ((rc = sbx_conn_put_json(s->c, SBX_F_HELLO, json, len, rc)) < 0)
        goto oom;

    /* The request may take many frames: spawn parts, then the spawn frame
     * with the rest.  The runner takes up to SBX_SPAWN_MAX in all, which
     * no command line and environment that execve() accepts can reach. */
    if ((rc = sbx_spawn_req_encode(&r->spawn, &json, &len)) < 0)
        goto oom;
    if (len > SBX_SPAWN_MAX) {
        free(json);
        set_msg(s->out, "command line and environment too large: %zu bytes, limit %u", len,
                SBX_SPAWN_MAX);
        return SBX_E2BIG;
    }
    for (size_t off = 0; off < len && rc == 0;) {
        unsigned type;
        size_t n = sbx_spawn_piece(len - off, &type);
        rc = sbx_conn_put(s->c, type, json + off, n);
        off += n;
    }
    free(json);
    if (rc < 0)
        goto oom;
    return 0;
oom:
    set_msg(s->out, "out of memory");
    return SBX_ENOMEM;
}

/* Whether `sig` asks the command to stop (as opposed to a window change,
 * a job-control stop or a continue): once one was delivered, sbx does not
 * wait on a reader that has stopped reading after the command ended. */
static int asks_stop(int sig)
{
    static const char *const names[] = { "INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "BREAK" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (term_sig_is(sig, names[i]))
            return 1;
    return 0;
}

int forward_signals(struct sess *s)
{
    int sig, rc;

    while ((sig = sbx_sig_take()) != 0) {
        if ((rc = job_signal(s, sig)) < 0)
            return rc;
        if (s->req_sent && asks_stop(sig) && !s->stop_asked) {
            s->stop_asked = 1;
            s->stop_sig = sig;
            s->stop_at_ms = sbx_now_ms();
            s->scan_dirty = 1;
        }
    }
    return 0;
}

/* Whether sbx may give up on held output: a stop was asked and the
 * command has ended (its exit frame is among those read ahead), or the
 * channel has (then a bad frame or the end of it is what is ahead).
 * Looked for only when something changed. */
static void look_ahead(struct sess *s)
{
    if (!s->stop_asked || s->pend_len == 0 || s->end_ahead || !s->scan_dirty)
        return;
    s->scan_dirty = 0;
    s->end_ahead = sbx_conn_eof(s->c) || sbx_conn_has(s->c, SBX_F_EXIT) != 0;
}

/* When sbx stops waiting for the answer to the spawn request, asked to
 * stop meanwhile: a runner that does not answer within the connect bound
 * of the signal is wedged, and sbx must not be left unkillable by it.  -1:
 * no such bound. */
static long long answer_deadline(const struct sess *s)
{
    return !s->spawned && s->stop_asked ? s->stop_at_ms + s->r->connect_ms : -1;
}

/* The next deadline to wake up for, as a sbx_wait timeout: the end of the
 * reader's grace, once giving up is allowed, or of the wait for the spawn
 * answer after a stop. */
static int next_timer(struct sess *s)
{
    long long now = sbx_now_ms(), at = answer_deadline(s), left;

    if (s->stop_asked && s->pend_len > 0 && s->end_ahead &&
        (at < 0 || s->moved_ms + STALL_MS < at))
        at = s->moved_ms + STALL_MS;
    if (at < 0)
        return -1;
    left = at - now;
    return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/* Takes the frames received so far, in order, until the session is done
 * or one leaves output held (the rest waits behind it). */
static int take_frames(struct sess *s)
{
    sbx_frame f;
    int rc;

    for (;;) {
        rc = 0;
        while (!s->done && s->pend_len == 0 && s->sp_left == 0 &&
               (rc = sbx_conn_next(s->c, &f)) == 1)
            if ((rc = on_frame(s, &f)) < 0)
                return rc;
        if (rc < 0 && !s->done) {
            set_msg(s->out, "protocol error: malformed frame from the runner");
            return rc;
        }
        /* The reader is empty: the next payload may be spliced, and once
         * it has all been, the one after it. */
        if (s->sp_left > 0 || (rc = splice_start(s)) <= 0 || s->sp_left > 0)
            return rc < 0 ? rc : 0;
    }
}

/* A stop was asked, the command has ended and our reader has taken
 * nothing for STALL_MS: what was held and what is still to come of the
 * command's output is counted as lost, and the frames are taken up to the
 * exit, so sbx ends as the command did instead of waiting on a reader
 * that may never read again. */
static int give_up_output(struct sess *s)
{
    lose(s, s->pend_to, s->pend_len - s->pend_off);
    s->pend_off = s->pend_len = 0;
    s->draining = 1;
    return take_frames(s);
}

static int pump_loop(struct sess *s)
{
    int rc;

    /* handshake() has queued the spawn request: a signal is the
     * command's from now on, and the answer may take as long as starting
     * it takes (a dead runner shows as the end of the channel). */
    s->req_sent = 1;
    while (!s->done) {
        struct sbx_wait w[4];
        int room = s->spawned && s->in_flight < SBX_STDIN_WINDOW &&
                   sbx_conn_queued(s->c) < SBX_CLI_OUT_HIGH;
        /* With output held, the channel is read only to look for the exit
         * after a stop, and only so far. */
        int ahead = s->pend_len > 0 && s->stop_asked && !s->end_ahead &&
                    sbx_conn_pending(s->c) < LOOKAHEAD;

        memset(w, 0, sizeof(w));
        sbx_conn_wait_entry(s->c, &w[0]);
        if (s->pend_len > 0 && !ahead)
            w[0].want &= ~(unsigned)SBX_EV_READ;
        if (s->in != NULL && room) {
            w[1].h = s->in;
            w[1].want = SBX_EV_READ;
        }
        /* Keys only while the command holds its terminal's foreground and
         * the caller's terminal is raw (so sbx is in its foreground): in
         * the background sbx never reads its terminal. */
        if (s->keys != NULL && !s->keys_dead && room && s->tm->raw && s->tm->cmd_fg) {
            w[2].h = s->keys;
            w[2].want = SBX_EV_READ;
        }
        if (s->pend_len > 0) {
            w[3].h = out_h(s, s->pend_to);
            w[3].want = SBX_EV_WRITE;
        }
        rc = sbx_wait(w, 4, next_timer(s));
        if (rc < 0 && rc != SBX_EINTR) {
            set_msg(s->out, "waiting: %s", os_text());
            return rc;
        }
        if ((rc = forward_signals(s)) < 0)
            return rc;
        /* A stop: the rest of a spliced payload goes the careful way. */
        if (s->sp_left > 0 && s->stop_asked &&
            ((rc = splice_abandon(s)) < 0 || (rc = take_frames(s)) < 0))
            return rc;
        if (answer_deadline(s) >= 0 && sbx_now_ms() >= answer_deadline(s)) {
            /* The command may have started; sbx ends as the signal says,
             * and the runner, if it is alive, ends the command with it. */
            s->out->result = SESSION_INTERRUPTED;
            s->out->signal = s->stop_sig;
            return SBX_EINTR;
        }
        if ((w[3].got & SBX_EV_WRITE) && s->pend_len > 0) {
            if ((rc = write_held(s)) < 0) {
                set_msg(s->out, "out of memory");
                return rc;
            }
            if (s->pend_len == 0 && (rc = take_frames(s)) < 0)
                return rc;
        }
        if ((w[0].got & SBX_EV_READ) && !s->done && s->sp_left > 0) {
            /* More of the payload being spliced. */
            if ((rc = splice_more(s)) < 0 || (s->sp_left == 0 && (rc = take_frames(s)) < 0))
                return rc;
        } else if ((w[0].got & SBX_EV_READ) && !s->done) {
            rc = s->pend_len > 0 ? sbx_conn_fill_ahead(s->c, LOOKAHEAD) : sbx_conn_fill(s->c);
            s->scan_dirty = 1;
            if (rc < 0 && rc != SBX_EAGAIN && rc != SBX_EINTR) {
                if (rc == SBX_EPROTO || rc == SBX_E2BIG)
                    set_msg(s->out, "protocol error: malformed frame header from the runner");
                else if (rc == SBX_EPIPE)
                    goto runner_gone;
                else
                    set_msg(s->out, "reading the channel: %s", os_text());
                return rc;
            }
            if ((rc = take_frames(s)) < 0)
                return rc;
        }
        if (s->done)
            break;
        /* The end of the channel counts once every frame before it is
         * taken: with output held, the exit may still be waiting. */
        if (s->pend_len == 0 && sbx_conn_eof(s->c))
            goto runner_gone;
        if ((w[1].got & SBX_EV_READ) && s->in != NULL)
            if ((rc = read_stdin(s)) < 0) {
                set_msg(s->out, "out of memory");
                return rc;
            }
        /* Re-checked: a frame above may have stopped sbx and left the
         * terminal to someone else meanwhile. */
        if ((w[2].got & SBX_EV_READ) && s->keys != NULL && s->tm->raw && s->tm->cmd_fg)
            if ((rc = read_keys(s)) < 0) {
                set_msg(s->out, "out of memory");
                return rc;
            }
        rc = sbx_conn_flush(s->c);
        if (rc < 0 && rc != SBX_EAGAIN && rc != SBX_EINTR && rc != SBX_EPIPE) {
            set_msg(s->out, "writing the channel: %s", os_text());
            return rc;
        }
        /* EPIPE on write: the runner is gone; the read side reports it. */
        look_ahead(s);
        if (s->stop_asked && s->pend_len > 0 && s->end_ahead &&
            sbx_now_ms() - s->moved_ms >= STALL_MS) {
            if ((rc = give_up_output(s)) < 0)
                return rc;
            if (!s->done && sbx_conn_eof(s->c))
                goto runner_gone;
        }
    }
    return 0;
runner_gone:
    s->runner_died = 1;
    set_msg(s->out, "runner exited unexpectedly%s",
            sbx_conn_pending(s->c) ? " in the middle of a frame" : "");
    return SBX_EPIPE;
}

static int pump(struct sess *s)
{
    int rc = pump_loop(s);

    free(s->pend);
    s->pend = NULL;
    s->pend_cap = s->pend_off = s->pend_len = 0;
    return rc;
}

void session_run(const struct session_req *r, struct session_out *out)
{
    struct sess s;
    sbx_listener *l = NULL;
    struct sbx_peer peer;
    struct sbx_exit rst;
    char nonce[SBX_NONCE_HEX + 1], name[512] = "", said[SESSION_MSG] = "";
    sbx_h *conn = NULL, *runner_err = NULL, *pair[2] = { NULL, NULL };
    int rc, wait_ms, connected = 0, named = 0, own_session;

    memset(out, 0, sizeof(*out));
    memset(&s, 0, sizeof(s));
    s.r = r;
    s.out = out;
    s.tm = r->term;
    sbx_rules_init(&s.rules, SBX_AT_CLI);
    if (!s.tm->pty)
        sbx_rules_no_tty(&s.rules);
    out->result = SESSION_FAILED;

    if ((rc = sbx_h_std(0, &s.in)) < 0 || (rc = sbx_h_std(1, &s.std[1])) < 0 ||
        (rc = sbx_h_std(2, &s.std[2])) < 0) {
        set_msg(out, "out of memory");
        goto done;
    }
    /* The command's stdin is its terminal: fd 0 carries keys, not a
     * stream of its own. */
    s.keys = term_keys(s.tm, s.in);
    if (s.tm->pty && s.tm->keys_from_stdin) {
        s.keys_owned = s.keys != NULL;
        if (s.keys == NULL)
            sbx_h_close(s.in);
        s.in = NULL;
    }
    /* Where splicing output can save its copy; decided once, as the
     * descriptors are the caller's and stay what they are. */
    s.pipe_out[1] = sbx_h_is_pipe(s.std[1]);
    s.pipe_out[2] = sbx_h_is_pipe(s.std[2]);
    if ((rc = launch_nonce(nonce, out->msg)) < 0)
        goto done;

    /* The channel: a nameless pair whose other end becomes the runner's
     * stdin where the platform can (POSIX), else a named rendezvous
     * (Windows, where the runner started through the elevation prompt
     * inherits nothing). */
    rc = sbx_chan_pair(&pair[0], &pair[1]);
    if (rc == SBX_ENOTSUP) {
        named = 1;
        rc = sbx_chan_listen(&l, name, sizeof(name), r->others);
    }
    if (rc < 0) {
        set_msg(out, "cannot create the channel: %s", os_text());
        goto done;
    }
    if ((rc = launch_start(r, nonce, name, named ? NULL : pair, &s.runner, &s.secret, &runner_err,
                           out->msg)) < 0)
        goto done;

    wait_ms = r->connect_ms;
    if ((r->launcher != NULL && r->interactive) || r->elevate)
        wait_ms = wait_ms > 0x7fffffff - SBX_PROMPT_MS ? 0x7fffffff : wait_ms + SBX_PROMPT_MS;
    if (named) {
        rc = sbx_chan_accept(l, wait_ms, s.runner, &conn, &peer);
        sbx_listener_close(l);
        l = NULL;
    } else if ((rc = sbx_chan_first_writer(pair[0], wait_ms, s.runner, &peer)) == 0) {
        /* The runner's first bytes are there, and who wrote them. */
        conn = pair[0];
        pair[0] = NULL;
    }
    if (rc == SBX_EINTR) {
        (void)forward_signals(&s);
        goto done;
    }
    if (rc == SBX_ETIMEDOUT) {
        set_msg(out, "runner did not connect within %d ms", wait_ms);
        goto done;
    }
    if (rc == SBX_EPIPE) {
        /* A launcher ended by the same Ctrl-C that is pending for us: that
         * is an interruption, not a refusal. */
        if (forward_signals(&s) == SBX_EINTR)
            goto done;
        if (r->launcher != NULL)
            set_msg(out, "%s exited before the runner connected: it refused, or failed "
                         "(see its message above)%s", r->launcher[0],
                    r->interactive ? "" : "; under -n it may not ask for a password");
        else
            set_msg(out, "runner exited before connecting");
        s.runner_died = 1;
        goto done;
    }
    if (rc < 0) {
        set_msg(out, "%s the runner's connection: %s", named ? "accepting" : "waiting for",
                os_text());
        goto done;
    }
    connected = 1;
    rc = sbx_conn_new(conn, &s.c);
    conn = NULL;
    if (rc < 0) {
        set_msg(out, "out of memory");
        goto done;
    }
    if ((rc = launch_check_peer(r, s.runner, &peer, out->msg)) < 0)
        goto done;
    if ((rc = handshake(&s, nonce, peer.pid)) < 0)
        goto done;
    rc = pump(&s);
done:
    /* Every way out of the session passes here: the caller's terminal gets
     * its own modes back before anything else is said on it. */
    term_release(s.tm);
    sbx_listener_close(l);
    sbx_h_close(pair[0]);
    sbx_h_close(pair[1]);
    sbx_conn_free(s.c);
    sbx_h_close(s.in);
    if (s.keys_owned)
        sbx_h_close(s.keys);
    sbx_h_close(s.std[1]);
    sbx_h_close(s.std[2]);
    sbx_h_close(s.secret);
    /* The runner ends on its own once the channel is closed.  After a
     * clean exit or spawn-error frame, a runner in a session of its own
     * (started directly, or by a launcher that may not prompt) is not
     * waited for: the command has exited and the runner ended what it
     * left in its group before it said exit (or never started it), and
     * all that is left for the runner is to write its audit line and
     * exit, which sbx's exit cannot cut short (it ignores signals, is not
     * tied to sbx, and its last write to the channel is behind it).  Its
     * exit would tell sbx nothing, and waiting costs every run a wake-up.
     * A launcher that may prompt is in sbx's process group, on the
     * caller's terminal, and is waited for as before: it should not
     * still run there when the shell takes its terminal back.  After a
     * failure the runner may be wedged, and nothing it could still say
     * matters. */
    own_session = r->launcher == NULL ? !r->elevate : !r->interactive;
    if ((out->result == SESSION_EXITED || out->result == SESSION_SPAWN_FAILED) && own_session) {
        launch_forget(&s.runner);
        rc = SBX_ETIMEDOUT;
    } else {
        wait_ms = out->result == SESSION_EXITED || out->result == SESSION_SPAWN_FAILED ? 5000
                  : s.runner_died ? 1000 : 100;
        rc = launch_reap(&s.runner, wait_ms, &rst);
    }
    /* A runner that failed before the channel existed said why on its
     * stderr, the only way it had: that becomes part of sbx's one line. */
    launch_said(&runner_err, s.runner_died && out->result == SESSION_FAILED ? said : NULL,
                sizeof(said));
    if (rc == 0 && s.runner_died && out->result == SESSION_FAILED && said[0] != '\0') {
        if (connected) {
            size_t n = strlen(out->msg);
            snprintf(out->msg + n, sizeof(out->msg) - n, ": %s", said);
        } else {
            set_msg(out, "runner exited before connecting: %s", said);
        }
    } else if (rc == 0 && s.runner_died && out->result == SESSION_FAILED) {
        size_t n = strlen(out->msg);
        if (rst.how == SBX_SIGNALED)
            snprintf(out->msg + n, sizeof(out->msg) - n, " (killed by signal %d%s%s)",
                     rst.signal, sbx_sig_name(rst.signal) ? ", SIG" : "",
                     sbx_sig_name(rst.signal) ? sbx_sig_name(rst.signal) : "");
        else
            snprintf(out->msg + n, sizeof(out->msg) - n, " (exit status %lld)", rst.code);
    }
    (void)rc;
}

void session_out_free(struct session_out *out)
{
    sbx_spawn_error_free(&out->se);
}
