/* sbx's side of starting the runner: the launch, the secret handoff, the
 * peer checks and reaping (launch.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "launch.h"
#include "os.h"

static void say(char *msg, const char *fmt, ...) SBX_PRINTF(2, 3);

static void say(char *msg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, SESSION_MSG, fmt, ap);
    va_end(ap);
}

static const char *os_text(void)
{
    return sbx_os_error_text(sbx_os_last_error());
}

int launch_nonce(char nonce[SBX_NONCE_HEX + 1], char *msg)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SBX_NONCE_BYTES];
    int rc;

    if ((rc = sbx_os_random(raw, sizeof(raw))) < 0) {
        say(msg, "cannot get random bytes for the nonce: %s", os_text());
        return rc;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        nonce[2 * i] = hex[raw[i] >> 4];
        nonce[2 * i + 1] = hex[raw[i] & 15];
    }
    nonce[SBX_NONCE_HEX] = '\0';
    memset(raw, 0, sizeof(raw));
    return 0;
}

/* Writes the whole secret to `to`: the runner's end of the pair reads it
 * first.  The channel is new and empty, so this does not wait in practice;
 * a runner that died at once is found out by sbx_chan_first_writer. */
static int hand_over(sbx_h *to, const char *secret, size_t slen)
{
    size_t off = 0, put;

    while (off < slen) {
        struct sbx_wait w = { to, NULL, SBX_EV_WRITE, 0 };
        int rc = sbx_h_write(to, secret + off, slen - off, &put);
        if (rc == SBX_EINTR || rc == SBX_EAGAIN) {
            (void)sbx_wait(&w, 1, 1000);
            continue;
        }
        if (rc < 0)
            return rc;
        off += put;
    }
    return 0;
}

int launch_start(const struct session_req *r, const char *nonce, const char *name,
                 sbx_h *pair[2], sbx_proc **runner, sbx_h **keep, sbx_h **said, char *msg)
{
    struct sbx_spawn_opts so;
    struct sbx_spawn_fail sf;
    char pidbuf[32], handle[64], *secret = NULL, **argv = NULL;
    size_t nl = 0, n = 0, slen = 0;
    int rc;

    *runner = NULL;
    *keep = NULL;
    *said = NULL;
    if (pair != NULL)
        name = SBX_CHAN_STDIN;
    slen = strlen(nonce) + strlen(name) + 2;
    while (r->launcher != NULL && r->launcher[nl] != NULL)
        nl++;
    if ((secret = malloc(slen + 1)) == NULL || (argv = calloc(nl + 6, sizeof(*argv))) == NULL) {
        say(msg, "out of memory");
        rc = SBX_ENOMEM;
        goto done;
    }
    snprintf(secret, slen + 1, "%s\n%s\n", nonce, name);
    if (pair != NULL) {
        /* Ahead of any frame, and before the runner exists: it reads the
         * two lines first, and sbx writes nothing else before its hello. */
        if ((rc = hand_over(pair[0], secret, slen)) < 0) {
            say(msg, "cannot write to the channel: %s", os_text());
            goto done;
        }
    } else if ((rc = sbx_secret_offer(secret, slen, keep, handle, sizeof(handle))) < 0) {
        say(msg, "cannot prepare the runner's secret: %s", os_text());
        goto done;
    }

    snprintf(pidbuf, sizeof(pidbuf), "%lld", sbx_os_pid());
    for (size_t i = 0; i < nl; i++)
        argv[n++] = r->launcher[i];
    argv[n++] = (char *)r->runner;
    argv[n++] = (char *)"--server-pid";
    argv[n++] = pidbuf;
    if (pair == NULL) {
        argv[n++] = (char *)"--secret-from";
        argv[n++] = handle;
    }
    argv[n] = NULL;
    memset(&so, 0, sizeof(so));
    so.file = argv[0];
    so.argv = argv;
    so.search_path = r->launcher != NULL;
    so.elevate = r->elevate;
    if (r->launcher == NULL || !r->interactive) {
        /* The terminal's signals are for sbx to forward; without a prompt
         * to show, the launcher does not need the terminal at all.  A new
         * session also makes the runner started directly the leader of one
         * already, as it must be to give the command a terminal of its own
         * (sbx_os_lead_session then has nothing to do). */
        so.new_group = 1;
        so.new_session = 1;
    }
    /* The runner's end of the channel as its stdin, which sudo and doas
     * pass on to the command they start (and keep themselves, without
     * reading it), and as its stdout too: sudo with log_input relays
     * stdin through a pipe of its own and passes stdout on, so the runner
     * writes there (sbx_chan_from_relay).  Nothing else writes to it:
     * launchers talk on stderr or the terminal, the runner never prints
     * to stdout, and its first act on the channel is to put the null
     * device on both. */
    so.stdio[0].kind = pair != NULL ? SBX_STDIO_HANDLE : SBX_STDIO_NULL;
    so.stdio[0].give = pair != NULL ? pair[1] : NULL;
    so.stdio[1].kind = pair != NULL ? SBX_STDIO_HANDLE : SBX_STDIO_NULL;
    so.stdio[1].give = pair != NULL ? pair[1] : NULL;
    /* The runner's own diagnostics, and the launcher's messages.  Started
     * directly, the runner's one line becomes part of sbx's (launch_said):
     * a pipe, which holds far more than that line, so the runner never
     * waits on it.  Through a launcher, the launcher's messages go to the
     * user as they come, and the runner's with them. */
    so.stdio[2].kind = r->elevate ? SBX_STDIO_NULL
                       : r->launcher == NULL ? SBX_STDIO_PIPE : SBX_STDIO_INHERIT;
    if ((rc = sbx_proc_spawn(&so, runner, &sf)) < 0) {
        if (sf.detail != NULL)
            say(msg, "cannot start %s: %s", argv[0], sf.detail);
        else if (r->launcher != NULL && sf.err == SBX_ENOENT)
            say(msg, "cannot elevate: '%s' not found (install it, or choose another "
                     "launcher with --via or SBX_ELEVATE)", argv[0]);
        else
            say(msg, "cannot start %s: %s", argv[0], sbx_os_error_text(sf.os_code));
        goto done;
    }
    *said = so.stdio[2].h;
    rc = 0;
done:
    /* Ours closed, the runner (and its launcher) hold the only copies of
     * its end: when they are all gone, sbx reads end of file. */
    if (pair != NULL) {
        sbx_h_close(pair[1]);
        pair[1] = NULL;
    }
    /* Windows: the runner has duplicated the read end of *keep by the time
     * it connects; the caller closes ours once the session is over. */
    if (secret != NULL)
        memset(secret, 0, slen);
    free(secret);
    free(argv);
    return rc;
}

void launch_said(sbx_h **said, char *buf, size_t cap)
{
    static const char prefix[] = "sbx-runner: ";
    char raw[513];
    size_t have = 0, got, i, n = 0;
    long long deadline = sbx_now_ms() + 200;

    if (buf != NULL && cap > 0)
        buf[0] = '\0';
    if (*said == NULL)
        return;
    /* The runner has exited: what it wrote is in the pipe already, and
     * the short wait is for handles whose reads complete later
     * (Windows).  Whatever else may hold the write end is not waited for. */
    while (buf != NULL && have < sizeof(raw) - 1) {
        struct sbx_wait w = { *said, NULL, SBX_EV_READ, 0 };
        long long left = deadline - sbx_now_ms();
        int rc = sbx_h_read(*said, raw + have, sizeof(raw) - 1 - have, &got);

        if (rc == SBX_EAGAIN || rc == SBX_EINTR) {
            if (left <= 0 || sbx_wait(&w, 1, (int)left) < 0)
                break;
            continue;
        }
        if (rc < 0 || got == 0)
            break;
        have += got;
    }
    sbx_h_close(*said);
    *said = NULL;
    if (buf == NULL || cap == 0)
        return;
    i = have >= sizeof(prefix) - 1 && memcmp(raw, prefix, sizeof(prefix) - 1) == 0
            ? sizeof(prefix) - 1 : 0;
    /* The line ends at a newline, or at a Windows line's \r. */
    for (; i < have && raw[i] != '\n' && raw[i] != '\r' && n + 1 < cap; i++)
        buf[n++] = (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? '?' : raw[i];
    buf[n] = '\0';
}

/* What a failed peer check says. */
static int refuse_peer(char *msg, const struct sbx_peer *peer, const char *what)
{
    say(msg, "channel peer is pid %lld uid %lld, %s; refusing it", peer->pid, peer->uid, what);
    return SBX_EPEER;
}

/* sudo forks, so the peer may be the launcher's descendant; doas does not. */
int launch_check_peer(const struct session_req *r, sbx_proc *runner,
                      const struct sbx_peer *peer, char *msg)
{
    long long pid = sbx_proc_pid(runner);
    char what[400];
    int d;

    if (peer->pid == 0)
        return refuse_peer(msg, peer, "a process sbx cannot see");
    /* uid -1 (with pid -1): an OS that keeps no record of the writer. */
    if (r->runner_uid >= 0 && peer->uid >= 0 && peer->uid != r->runner_uid) {
        /* The launcher's own process, as the caller: it did not switch
         * accounts, or it relays what the runner writes (sudo logging
         * both of the runner's streams). */
        if (r->launcher != NULL && peer->pid == pid)
            snprintf(what, sizeof(what), "not uid %lld as the runner must be: %s itself, which "
                     "did not switch accounts or relays the runner's output (sudo's log_input "
                     "and log_output together: then sbx cannot tell who writes)",
                     r->runner_uid, r->launcher[0]);
        else
            snprintf(what, sizeof(what), "not uid %lld as the runner must be", r->runner_uid);
        return refuse_peer(msg, peer, what);
    }
    if (peer->pid < 0)
        return 0; /* not known here: the nonce still binds the peer */
    if (r->launcher == NULL) {
        if (peer->pid == pid)
            return 0;
        snprintf(what, sizeof(what), "not the runner (pid %lld)", pid);
        return refuse_peer(msg, peer, what);
    }
    if ((d = sbx_proc_descends(peer->pid, pid)) == 1 || d == SBX_ENOTSUP)
        return 0;
    snprintf(what, sizeof(what), "not started by %s (pid %lld)", r->launcher[0], pid);
    return refuse_peer(msg, peer, what);
}

int launch_reap(sbx_proc **runner, int ms, struct sbx_exit *st)
{
    struct sbx_wait w = { NULL, *runner, SBX_EV_EXIT, 0 };
    int seen = SBX_ETIMEDOUT, killed = 0;

    if (*runner == NULL)
        return SBX_ETIMEDOUT;
    while (sbx_proc_poll(*runner, st) == SBX_EAGAIN) {
        int rc = sbx_wait(&w, 1, ms);
        if (rc == 0) {
            /* A launcher running as root (sudo) or an elevated runner may
             * not take signals from us; then it is left to end on its own
             * when it sees the channel closed, rather than waited for. */
            if (killed++)
                break;
            sbx_proc_kill_tree(*runner);
            ms = 5000;
        } else if (rc < 0 && rc != SBX_EINTR) {
            break;
        }
        (void)sbx_sig_take(); /* the run is over: nothing left to forward to */
    }
    if (sbx_proc_poll(*runner, st) == 0)
        seen = 0;
    sbx_proc_free(*runner);
    *runner = NULL;
    return seen;
}

void launch_forget(sbx_proc **runner)
{
    /* Reaped if it has exited already; else left to end by itself, and
     * to whoever adopts it once sbx is gone. */
    sbx_proc_free(*runner);
    *runner = NULL;
}
