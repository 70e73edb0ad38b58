/* The runner's relay loop: child stdout/stderr -> data frames, stdin frames
 * -> child stdin, signal frames -> signals, child exit -> exit frame; in pty
 * mode also the terminal's output -> terminal data frames, keys -> the
 * terminal, the command's stops -> stopped frames, continue and resize
 * frames -> the command and its terminal.
 *
 * One thread and sbx_wait().  Backpressure is explicit: child output is read
 * only while the outgoing queue is below SBX_RUNNER_OUT_HIGH, so a slow sbx
 * slows the child instead of growing memory; stdin is bounded by the stdin
 * window, so control frames from sbx are always read promptly.
 *
 * Large output is not copied: when the queue is empty and a pipe holds at
 * least SBX_SPLICE_MIN bytes, the frame's header is queued for exactly
 * that many and the payload is spliced from the pipe into the channel as
 * it takes it (conn.c).  Until it is all sent nothing more is read from
 * any output (frames queued meanwhile, acks and the like, go after it),
 * but stdin, signals and timers are served as always.  The terminal's
 * master is always copied: it is no pipe, and its output is small.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "proto.h"
#include "runner.h"

struct pump {
    sbx_conn *c;
    struct sbx_rules *rules; /* which frame from sbx is legal now */
    sbx_proc *child;
    sbx_h *cin, *cout[3]; /* cout[1], cout[2]: the child's stdout, stderr */
    sbx_h *master;        /* pty mode: the terminal's other end; NULL once
                             its output has ended */
    int tty;              /* pty mode */
    int tty_idle;         /* nothing holds the terminal open for now (a read
                             said so): not polled until the command exits */
    int fg;               /* the command's group holds the terminal's
                             foreground (as last set) */
    uint8_t *inbuf;       /* stdin bytes received, not yet written */
    size_t inlen;
    uint8_t *kbuf;        /* keys received, not yet written to the terminal */
    size_t klen;
    size_t unacked;       /* stdin and keys delivered, not yet acknowledged */
    int in_eof;           /* sbx sent stdin close */
    long long timeout_at; /* when to stop the command; 0: never */
    long long kill_at;    /* when to end the whole tree; 0: not armed */
    long long kill_after;
    int timed_out;
    int exited;
    int big[3];           /* the last read of cout[s] was large enough to
                             splice: worth asking the pipe how full it is */
    int close_later[3];   /* sbx closed cout[s] while a payload was still
                             being spliced from it */
    struct sbx_exit st;
    char *why;
};

static int queue_close(struct pump *p, int stream)
{
    return sbx_conn_put(p->c, SBX_F_CLOSE | (unsigned)stream, NULL, 0);
}

static int send_ack(struct pump *p)
{
    uint8_t a[4];

    if (p->unacked == 0)
        return 0;
    sbx_ack_put(a, (uint32_t)p->unacked);
    p->unacked = 0;
    return sbx_conn_put(p->c, SBX_F_STDIN_ACK, a, 4);
}

/* The child's stdin is gone (it closed it, or exited): tell sbx to stop
 * sending, and keep acknowledging what is still in flight so sbx never
 * waits on the window. */
static int stdin_gone(struct pump *p)
{
    int had = p->cin != NULL;

    sbx_h_close(p->cin);
    p->cin = NULL;
    p->unacked += p->inlen;
    p->inlen = 0;
    if (!had)
        return send_ack(p);
    if (send_ack(p) < 0)
        return SBX_ENOMEM;
    return queue_close(p, SBX_STDIN);
}

static int write_stdin(struct pump *p)
{
    size_t put;
    int rc;

    while (p->cin != NULL && p->inlen > 0) {
        rc = sbx_h_write(p->cin, p->inbuf, p->inlen, &put);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR)
            break;
        if (rc < 0)
            return stdin_gone(p); /* EPIPE: the child closed its stdin */
        memmove(p->inbuf, p->inbuf + put, p->inlen - put);
        p->inlen -= put;
        p->unacked += put;
    }
    if (p->unacked >= SBX_ACK_BATCH || (p->inlen == 0 && p->unacked > 0))
        if ((rc = send_ack(p)) < 0)
            return rc;
    /* At stdin EOF, close once the last write has really completed. */
    if (p->cin != NULL && p->inlen == 0 && p->in_eof && sbx_h_flush(p->cin) == 0) {
        sbx_h_close(p->cin);
        p->cin = NULL;
    }
    return 0;
}

/* Keys go to the terminal as typed; they share the stdin window with
 * stdin, and the same acks cover both.  A terminal that is gone takes no
 * more: what is left is dropped, and still acknowledged. */
static int write_keys(struct pump *p)
{
    size_t put;
    int rc;

    while (p->master != NULL && p->klen > 0) {
        rc = sbx_h_write(p->master, p->kbuf, p->klen, &put);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR)
            break;
        if (rc < 0)
            break;
        memmove(p->kbuf, p->kbuf + put, p->klen - put);
        p->klen -= put;
        p->unacked += put;
    }
    if (p->klen > 0 && (p->master == NULL || p->exited)) {
        p->unacked += p->klen;
        p->klen = 0;
    }
    if (p->unacked >= SBX_ACK_BATCH || (p->klen == 0 && p->unacked > 0))
        return send_ack(p);
    return 0;
}

static int bad_frame(struct pump *p, const sbx_frame *f)
{
    snprintf(p->why, SBX_WHY, "unexpected %s frame from sbx", sbx_frame_type_name(f->type));
    return SBX_EPROTO;
}

static int on_frame(struct pump *p, const sbx_frame *f)
{
    struct sbx_signal sg;
    struct sbx_continue cn;
    struct sbx_resize rs;

    if (sbx_rules_check(p->rules, f->type, p->why) < 0)
        return SBX_EPROTO;
    switch (f->type) {
    case SBX_F_DATA | SBX_STDIN:
    case SBX_F_DATA | SBX_TTY:
        /* Stdin and keys together stay within the one window. */
        if (SBX_STDIN_WINDOW - p->inlen - p->klen < f->len) {
            snprintf(p->why, SBX_WHY, "sbx overran the stdin window");
            return SBX_EPROTO;
        }
        if (f->type == (SBX_F_DATA | SBX_TTY)) {
            if (p->kbuf == NULL) {
                snprintf(p->why, SBX_WHY, "terminal data from sbx in a run without a terminal");
                return SBX_EPROTO;
            }
            memcpy(p->kbuf + p->klen, f->payload, f->len);
            p->klen += f->len;
            return write_keys(p);
        }
        if (p->cin == NULL) { /* discarded, but still acknowledged */
            p->unacked += f->len;
            return send_ack(p);
        }
        memcpy(p->inbuf + p->inlen, f->payload, f->len);
        p->inlen += f->len;
        return write_stdin(p);
    case SBX_F_CLOSE | SBX_STDIN:
        p->in_eof = 1;
        return write_stdin(p);
    case SBX_F_CLOSE | SBX_STDOUT:
    case SBX_F_CLOSE | SBX_STDERR:
        /* sbx can no longer deliver this stream: closing our read end makes
         * the child's next write fail with EPIPE/SIGPIPE, as it would have
         * inline. */
        if (sbx_conn_sending_from(p->c, p->cout[SBX_F_STREAM(f->type)])) {
            /* Its bytes are promised to sbx in a header already sent. */
            p->close_later[SBX_F_STREAM(f->type)] = 1;
            return 0;
        }
        sbx_h_close(p->cout[SBX_F_STREAM(f->type)]);
        p->cout[SBX_F_STREAM(f->type)] = NULL;
        return 0;
    case SBX_F_SIGNAL:
        if (sbx_signal_decode(f->payload, f->len, &sg, p->why) < 0)
            return SBX_EPROTO;
        if (p->exited)
            return 0;
        if (sg.signal == SBX_SIG_KILL)
            return sbx_proc_kill_tree(p->child);
        /* The signal sbx received, delivered once to the whole group: the
         * command decides what it means, and nothing is armed behind it. */
        (void)sbx_proc_kill_group(p->child, sg.signal);
        return 0;
    case SBX_F_CONTINUE:
        if (sbx_continue_decode(f->payload, f->len, &cn, p->why) < 0)
            return SBX_EPROTO;
        if (p->exited)
            return 0;
        if (p->tty)
            p->fg = cn.foreground;
        (void)sbx_proc_continue(p->child, p->fg);
        return 0;
    case SBX_F_RESIZE:
        if (sbx_resize_decode(f->payload, f->len, &rs, p->why) < 0)
            return SBX_EPROTO;
        if (!p->exited && p->master != NULL)
            (void)sbx_proc_resize(p->child, &rs.size);
        return 0;
    default:
        /* The table let through a frame this loop does not know. */
        return bad_frame(p, f);
    }
}

/* Acts on every complete frame the reader holds, then on sbx's end of
 * file if it came with them. */
static int take_frames(struct pump *p)
{
    sbx_frame f;
    int rc;

    while ((rc = sbx_conn_next(p->c, &f)) == 1)
        if ((rc = on_frame(p, &f)) < 0)
            return rc;
    if (rc < 0) {
        snprintf(p->why, SBX_WHY, "malformed frame from sbx");
        return rc;
    }
    if (sbx_conn_eof(p->c)) {
        /* sbx is gone: nobody is left to report to, so nothing of the
         * command may keep running. */
        snprintf(p->why, SBX_WHY, "sbx closed the channel");
        return SBX_EPIPE;
    }
    return 0;
}

/* Reads one chunk of the terminal's output straight into the outgoing queue,
 * under the same backpressure as stdout.  On Linux the terminal's end of
 * file is EIO, once nothing holds the command's side open; queued output
 * comes first. */
static int read_tty(struct pump *p)
{
    uint8_t *dst = sbx_conn_reserve(p->c, SBX_CHUNK);
    size_t got;
    int rc;

    if (dst == NULL)
        return SBX_ENOMEM;
    rc = sbx_h_read(p->master, dst, SBX_CHUNK, &got);
    if (rc == SBX_EINTR || (rc == SBX_EAGAIN && !p->exited))
        return 0;
    if (rc < 0 || got == 0) {
        if (!p->exited) {
            /* Nobody has the terminal open now, but the command may open
             * /dev/tty again: closing our end would hang it up under a
             * command that is still running, so it is only left unpolled
             * (it would report this again and again) until the exit. */
            p->tty_idle = 1;
            return 0;
        }
        /* After the exit: drained, or what is left belongs to a process
         * outside the command's group, which the hangup now ends. */
        sbx_h_close(p->master);
        p->master = NULL;
        (void)write_keys(p);
        return queue_close(p, SBX_TTY);
    }
    sbx_conn_commit(p->c, SBX_F_DATA | SBX_TTY, got);
    return 1;
}

/* Tells sbx each stop of the command; a continue needs nothing said. */
static int report_stops(struct pump *p)
{
    struct sbx_stopped m;
    char *json;
    size_t len;
    int sig, rc;

    while (sbx_proc_stopped(p->child, &sig) == 1) {
        if (sig == 0)
            continue;
        m.signal = sig;
        json = NULL;
        len = 0;
        rc = sbx_stopped_encode(&m, &json, &len);
        if ((rc = sbx_conn_put_json(p->c, SBX_F_STOPPED, json, len, rc)) < 0)
            return rc;
    }
    return 0;
}

/* A large amount waiting in cout[s], with nothing queued before it: one
 * frame whose payload is spliced to the channel by the flushes (1), or 0
 * for the copy path.  Only asked after a large read, so a command writing
 * small pieces costs no extra system call. */
static int splice_output(struct pump *p, int s)
{
    size_t n;
    int rc;

    if (!p->big[s] || sbx_conn_queued(p->c) != 0 || sbx_conn_splice_refused(p->c))
        return 0;
    if (sbx_h_readable(p->cout[s], &n) < 0 || n < SBX_SPLICE_MIN)
        return 0;
    /* One chunk, like a copied frame: sbx buffers a whole frame whenever
     * it copies one (into a file, a terminal), so larger frames would
     * raise its peak memory. */
    if (n > SBX_CHUNK)
        n = SBX_CHUNK;
    if ((rc = sbx_conn_put_from(p->c, SBX_F_DATA | (unsigned)s, p->cout[s], n)) < 0)
        return rc;
    return 1;
}

/* Reads one chunk of the child's output straight into the outgoing queue
 * (or has it spliced there). */
static int read_output(struct pump *p, int s)
{
    uint8_t *dst;
    size_t got;
    int rc;

    if ((rc = splice_output(p, s)) != 0)
        return rc;
    if ((dst = sbx_conn_reserve(p->c, SBX_CHUNK)) == NULL)
        return SBX_ENOMEM;
    rc = sbx_h_read(p->cout[s], dst, SBX_CHUNK, &got);
    if (rc == SBX_EINTR || (rc == SBX_EAGAIN && !p->exited))
        return 0;
    if (rc < 0 || got == 0) {
        /* EOF; or, once the child has exited and its group is killed, an
         * empty pipe: whatever still holds the write end escaped the group,
         * and its output is not the command's. */
        sbx_h_close(p->cout[s]);
        p->cout[s] = NULL;
        return queue_close(p, s);
    }
    sbx_conn_commit(p->c, SBX_F_DATA | (unsigned)s, got);
    p->big[s] = got >= SBX_SPLICE_MIN;
    return 1;
}

static int on_exit_seen(struct pump *p)
{
    p->exited = 1;
    /* The command is over: end what it left behind in its process group
     * (the output already in the pipes is kept), so a background grandchild
     * holding stdout open cannot keep sbx waiting. */
    sbx_proc_kill_tree(p->child);
    /* Keys nobody will read: dropped, and acknowledged with the stdin. */
    p->unacked += p->klen;
    p->klen = 0;
    return stdin_gone(p);
}

/* Fires the timeout and the escalation; returns how long sbx_wait may
 * sleep before the next of them (-1: no timer armed). */
static int timers(struct pump *p)
{
    long long now = sbx_now_ms(), next = -1;

    if (p->exited)
        return -1;
    if (p->timeout_at != 0 && now >= p->timeout_at) {
        p->timeout_at = 0;
        p->timed_out = 1;
        if (p->kill_at == 0)
            p->kill_at = now + p->kill_after;
        sbx_proc_kill_group(p->child, SBX_SIG_TERM);
        /* A stopped group would not see the SIGTERM until continued (as
         * coreutils timeout does); its terminal's foreground stays as it
         * is. */
        (void)sbx_proc_continue(p->child, p->fg);
    }
    if (p->kill_at != 0 && now >= p->kill_at) {
        p->kill_at = 0;
        sbx_proc_kill_tree(p->child);
    }
    if (p->timeout_at != 0)
        next = p->timeout_at - now;
    if (p->kill_at != 0 && (next < 0 || p->kill_at - now < next))
        next = p->kill_at - now;
    return next < 0 ? -1 : next > 0x7fffffff ? 0x7fffffff : (int)next;
}

int runner_pump(sbx_conn *c, struct sbx_rules *rules, sbx_proc *child, struct runner_io *io,
                char *why)
{
    struct pump p;
    char *json = NULL;
    size_t len = 0;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    p.c = c;
    p.rules = rules;
    p.child = child;
    p.cin = io->in;
    p.cout[1] = io->out;
    p.cout[2] = io->err;
    p.master = io->master;
    p.tty = io->master != NULL;
    p.fg = io->foreground;
    p.why = why;
    p.timeout_at = io->timeout_ms > 0 ? sbx_now_ms() + io->timeout_ms : 0;
    p.kill_after = io->kill_after_ms > 0 ? io->kill_after_ms : SBX_KILL_AFTER_MS;
    if ((p.inbuf = malloc(SBX_STDIN_WINDOW)) == NULL ||
        (p.tty && (p.kbuf = malloc(SBX_STDIN_WINDOW)) == NULL)) {
        rc = SBX_ENOMEM;
        goto done;
    }
    /* What came in the same read as the spawn request is already buffered
     * (sbx may send stdin and its close, or even close the channel, right
     * behind it): handled now, as no readiness will announce it again. */
    if ((rc = take_frames(&p)) < 0)
        goto done;
    for (;;) {
        struct sbx_wait w[7];
        /* While a payload is spliced, no output is read (its bytes are
         * the pipe's first ones, and nothing may come between). */
        int room = sbx_conn_queued(c) < SBX_RUNNER_OUT_HIGH && !sbx_conn_sending_from(c, NULL);
        int sleep_ms = timers(&p);

        if (p.exited && p.cout[1] == NULL && p.cout[2] == NULL && p.master == NULL)
            break;
        memset(w, 0, sizeof(w));
        sbx_conn_wait_entry(c, &w[0]);
        w[1].h = room ? p.cout[1] : NULL;
        w[1].want = SBX_EV_READ;
        w[2].h = room ? p.cout[2] : NULL;
        w[2].want = SBX_EV_READ;
        w[3].h = p.inlen > 0 || p.in_eof ? p.cin : NULL;
        w[3].want = SBX_EV_WRITE;
        w[4].proc = p.exited ? NULL : child;
        w[4].want = SBX_EV_EXIT;
        w[5].h = p.master;
        w[5].want = (room && !p.tty_idle ? SBX_EV_READ : 0) | (p.klen > 0 ? SBX_EV_WRITE : 0);
        w[6].proc = p.exited ? NULL : child;
        w[6].want = SBX_EV_STATE;

        /* After the exit, pipes and terminal are read until empty without
         * waiting. */
        rc = sbx_wait(w, 7, p.exited && room ? 0 : sleep_ms);
        if (rc < 0 && rc != SBX_EINTR)
            goto done;
        if (w[4].got & SBX_EV_EXIT) {
            if ((rc = sbx_proc_poll(child, &p.st)) < 0 || (rc = on_exit_seen(&p)) < 0)
                goto done;
        }
        /* A stop the exit has overtaken is not worth stopping sbx for. */
        if ((w[6].got & SBX_EV_STATE) && !p.exited && (rc = report_stops(&p)) < 0)
            goto done;
        if (w[0].got & SBX_EV_READ) {
            rc = sbx_conn_fill(c);
            if (rc < 0 && rc != SBX_EAGAIN && rc != SBX_EINTR) {
                snprintf(why, SBX_WHY, "channel: %s", sbx_err_str(rc));
                goto done;
            }
            if ((rc = take_frames(&p)) < 0)
                goto done;
        }
        if (w[3].got & SBX_EV_WRITE)
            if ((rc = write_stdin(&p)) < 0)
                goto done;
        if ((w[5].got & SBX_EV_WRITE) && (rc = write_keys(&p)) < 0)
            goto done;
        room = sbx_conn_queued(c) < SBX_RUNNER_OUT_HIGH && !sbx_conn_sending_from(c, NULL);
        if (p.master != NULL && room &&
            ((w[5].got & SBX_EV_READ) || p.exited))
            if ((rc = read_tty(&p)) < 0)
                goto done;
        for (int s = 1; s <= 2; s++) {
            if (p.cout[s] != NULL && sbx_conn_queued(c) < SBX_RUNNER_OUT_HIGH &&
                !sbx_conn_sending_from(c, NULL) && ((w[s].got & SBX_EV_READ) || p.exited))
                if ((rc = read_output(&p, s)) < 0)
                    goto done;
        }
        rc = sbx_conn_flush(c);
        if (rc < 0 && rc != SBX_EAGAIN && rc != SBX_EINTR) {
            snprintf(why, SBX_WHY, "channel: %s", sbx_err_str(rc));
            goto done;
        }
        for (int s = 1; s <= 2; s++)
            if (p.close_later[s] && !sbx_conn_sending_from(c, p.cout[s])) {
                sbx_h_close(p.cout[s]);
                p.cout[s] = NULL;
                p.close_later[s] = 0;
            }
    }

    /* Every byte of output is queued ahead of it: the exit frame is last. */
    p.st.timed_out = p.timed_out;
    rc = sbx_exit_encode(&p.st, &json, &len);
    if ((rc = sbx_conn_put_json(c, SBX_F_EXIT, json, len, rc)) < 0)
        goto done;
    rc = sbx_conn_flush_wait(c, -1);
    if (rc < 0)
        snprintf(why, SBX_WHY, "channel: %s", sbx_err_str(rc));
done:
    /* A payload still to come from a pipe closed below cannot be sent. */
    sbx_conn_cut(c);
    sbx_proc_kill_tree(child);
    if (!p.exited) {
        struct sbx_wait w = { NULL, child, SBX_EV_EXIT, 0 };
        (void)sbx_wait(&w, 1, 5000);
    }
    sbx_h_close(p.cin);
    sbx_h_close(p.cout[1]);
    sbx_h_close(p.cout[2]);
    sbx_h_close(p.master);
    free(p.inbuf);
    free(p.kbuf);
    return rc < 0 ? rc : 0;
}
