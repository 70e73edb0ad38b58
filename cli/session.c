/* The sbx side of a session: the channel, the handshake and the relay loop
 * (starting and checking the runner are in launch.c).
 *
 * Data path: frames from the runner are written to our stdout/stderr as
 * soon as they arrive (blocking writes: the descriptors are shared with the
 * caller, so they are never switched to non-blocking mode, and a slow reader
 * pushes back through the channel to the child).  Our stdin is read only
 * while the stdin window has room, so a command that never reads its stdin
 * is never flooded and control frames are never stuck behind input.
 *
 * In pty mode the command's terminal output arrives as terminal data and
 * goes to our stdout (or stderr, or the terminal itself, see tty.h); keys
 * go the other way only while the command holds its terminal's foreground
 * and ours is raw, and they share the stdin window.  Job control is a
 * conversation: the runner says the command stopped, sbx either hands it
 * the terminal (it only wanted the terminal) or stops itself the same way,
 * and says continue when it runs again (job.c, with the signals).
 */
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

/* Writes a whole chunk to `h`: 0, or the write's error (< 0, not EINTR or
 * EAGAIN), or *fatal set with a session error when a signal handled
 * meanwhile failed. */
static int write_all(struct sess *s, sbx_h *h, const uint8_t *p, size_t n, int *fatal)
{
    *fatal = 0;
    while (n > 0) {
        size_t put;
        int rc = sbx_h_write(h, p, n, &put);
        if (rc == SBX_EINTR) {
            /* A signal while a slow reader holds us here must still reach
             * the command now, not when the reader catches up. */
            if ((rc = forward_signals(s)) < 0) {
                *fatal = 1;
                return rc;
            }
            (void)sbx_conn_flush(s->c);
            continue;
        }
        if (rc == SBX_EAGAIN) {
            /* Someone else made the shared descriptor non-blocking (or it
             * is the terminal's own, which is). */
            struct sbx_wait w = { h, NULL, SBX_EV_WRITE, 0 };
            (void)sbx_wait(&w, 1, 1000);
            continue;
        }
        if (rc < 0)
            return rc;
        p += put;
        n -= put;
    }
    return 0;
}

/* Writes a whole chunk to our stdout or stderr.  When the reader is gone,
 * the stream is dropped and the runner is asked to close the child's end,
 * so the child gets the broken pipe it would have got inline. */
static int relay(struct sess *s, int stream, const uint8_t *p, size_t n)
{
    int fatal, rc;

    if (s->dead[stream])
        return 0;
    rc = write_all(s, s->std[stream], p, n, &fatal);
    if (rc < 0 && fatal)
        return rc;
    if (rc < 0) {
        s->dead[stream] = 1;
        return sbx_conn_put(s->c, SBX_F_CLOSE | (unsigned)stream, NULL, 0);
    }
    return 0;
}

/* The command's terminal output, passed as it is (its terminal did the
 * output processing).  A terminal has one output for both streams, so when
 * ours fails (the reader of our stdout is gone, the terminal hung up) the
 * rest is dropped: the command's terminal keeps working, as a terminal
 * whose screen nobody reads does. */
static int relay_tty(struct sess *s, const uint8_t *p, size_t n)
{
    sbx_h *h = term_out(s->tm, s->std);
    int fatal, rc;

    if (s->tty_dead || h == NULL)
        return 0;
    rc = write_all(s, h, p, n, &fatal);
    if (rc < 0 && fatal)
        return rc;
    if (rc < 0)
        s->tty_dead = 1;
    return 0;
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
        return relay(s, (int)SBX_F_STREAM(f->type), f->payload, f->len);
    case SBX_F_CLOSE | SBX_STDOUT:
    case SBX_F_CLOSE | SBX_STDERR:
    case SBX_F_CLOSE | SBX_TTY:
        return 0;
    case SBX_F_DATA | SBX_TTY:
        /* Counted as the stream it is written to (the terminal itself, when
         * only stdin is the terminal, is neither). */
        if (s->tm->out == 1 || s->tm->out == 2)
            s->out->bytes[s->tm->out] += f->len;
        return relay_tty(s, f->payload, f->len);
    case SBX_F_STOPPED:
        if (sbx_stopped_decode(f->payload, f->len, &stp, why) < 0)
            break;
        return job_stopped(s, stp.signal);
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

int forward_signals(struct sess *s)
{
    int sig, rc;

    while ((sig = sbx_sig_take()) != 0)
        if ((rc = job_signal(s, sig)) < 0)
            return rc;
    return 0;
}

/* The next deadline to wake up for, as a sbx_wait timeout. */
static int next_timer(struct sess *s)
{
    long long now = sbx_now_ms(), at;

    if (s->spawned)
        return -1;
    at = s->spawn_deadline;
    return at <= now ? 0 : at - now > 0x7fffffff ? 0x7fffffff : (int)(at - now);
}

static int pump(struct sess *s)
{
    sbx_frame f;
    int rc;

    s->spawn_deadline = sbx_now_ms() + s->r->connect_ms;
    while (!s->done) {
        struct sbx_wait w[3];
        int room = s->spawned && s->in_flight < SBX_STDIN_WINDOW &&
                   sbx_conn_queued(s->c) < SBX_CLI_OUT_HIGH;
        long long now;

        memset(w, 0, sizeof(w));
        sbx_conn_wait_entry(s->c, &w[0]);
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
        rc = sbx_wait(w, 3, next_timer(s));
        if (rc < 0 && rc != SBX_EINTR) {
            set_msg(s->out, "waiting: %s", os_text());
            return rc;
        }
        if ((rc = forward_signals(s)) < 0)
            return rc;
        now = sbx_now_ms();
        if (!s->spawned && now >= s->spawn_deadline) {
            set_msg(s->out, "runner did not answer the spawn request within %d ms",
                    s->r->connect_ms);
            return SBX_ETIMEDOUT;
        }
        if (w[0].got & SBX_EV_READ) {
            rc = sbx_conn_fill(s->c);
            if (rc < 0 && rc != SBX_EAGAIN && rc != SBX_EINTR) {
                if (rc == SBX_EPROTO || rc == SBX_E2BIG)
                    set_msg(s->out, "protocol error: malformed frame header from the runner");
                else if (rc == SBX_EPIPE)
                    goto runner_gone;
                else
                    set_msg(s->out, "reading the channel: %s", os_text());
                return rc;
            }
            while (!s->done && (rc = sbx_conn_next(s->c, &f)) == 1)
                if ((rc = on_frame(s, &f)) < 0)
                    return rc;
            if (rc < 0) {
                set_msg(s->out, "protocol error: malformed frame from the runner");
                return rc;
            }
            if (s->done)
                break;
            if (sbx_conn_eof(s->c))
                goto runner_gone;
        }
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
    }
    return 0;
runner_gone:
    s->runner_died = 1;
    set_msg(s->out, "runner exited unexpectedly%s",
            sbx_conn_pending(s->c) ? " in the middle of a frame" : "");
    return SBX_EPIPE;
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
