/* Job control and signals on sbx's side of a session: what sbx does with a
 * signal it receives, and with the runner's word that the command stopped.
 *
 * The command's stops are the caller's to see: when the command stops for
 * any reason other than wanting its terminal while the caller's is ours to
 * give, sbx stops its own process group the same way, and continues the
 * command when it is continued itself -- in its terminal's foreground when
 * sbx is back in the caller's, else in the background.  Signals are the
 * command's to interpret: each is delivered once, as itself.
 */
#include <stdlib.h>

#include "err.h"
#include "frame.h"
#include "proto.h"
#include "session_int.h"

static int send_signal(struct sess *s, int sig)
{
    struct sbx_signal m = { sig };
    char *json = NULL;
    size_t len = 0;
    int rc = sbx_signal_encode(&m, &json, &len);

    return sbx_conn_put_json(s->c, SBX_F_SIGNAL, json, len, rc);
}

static int send_continue(struct sess *s, int foreground)
{
    struct sbx_continue m = { foreground };
    char *json = NULL;
    size_t len = 0;
    int rc = sbx_continue_encode(&m, &json, &len);

    return sbx_conn_put_json(s->c, SBX_F_CONTINUE, json, len, rc);
}

/* Sends the caller's window size when it is not the command's terminal's. */
static int send_resize(struct sess *s)
{
    struct sbx_resize m;
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (!term_resized(s->tm))
        return 0;
    m.size = s->tm->size;
    rc = sbx_resize_encode(&m, &json, &len);
    return sbx_conn_put_json(s->c, SBX_F_RESIZE, json, len, rc);
}

/* sbx is in its terminal's foreground: the command gets its own terminal's
 * foreground, at the size the caller's has now, and keys flow. */
static int give_terminal(struct sess *s)
{
    int rc;

    if ((rc = send_resize(s)) < 0)
        return rc;
    (void)term_take(s->tm);
    s->tm->cmd_fg = 1;
    return send_continue(s, 1);
}

/* The command stopped.  If it merely touched its terminal from the
 * background while the caller's terminal is ours to give, it gets it and
 * sbx goes on.  Otherwise sbx stops the same way, so the shell sees the job
 * stop (`Stopped`, $? 148 for Ctrl-Z) and a pipeline's other members stop
 * with it; `fg` or `bg` continue sbx, which continues the command in the
 * foreground or the background of its terminal. */
int job_stopped(struct sess *s, int sig)
{
    struct term *tm = s->tm;

    if (tm->pty && (term_sig_is(sig, "TTIN") || term_sig_is(sig, "TTOU")) &&
        term_foreground(tm))
        return give_terminal(s);
    (void)sbx_conn_flush(s->c);
    term_release(tm);
    (void)sbx_os_stop_self(sig);
    if (tm->pty && term_foreground(tm))
        return give_terminal(s);
    if (tm->pty && (term_sig_is(sig, "TTIN") || term_sig_is(sig, "TTOU"))) {
        /* Back at once, again and again: sbx is in an orphaned group (its
         * shell is gone), which the kernel does not stop, so nobody will
         * ever hand it the terminal.  Rather than let the command and sbx
         * trade stops and continues forever, the command gets its own
         * terminal's foreground; sbx still leaves the caller's alone. */
        long long now = sbx_now_ms();
        s->bg_spins = now - s->bg_stop_at < 100 ? s->bg_spins + 1 : 0;
        s->bg_stop_at = now;
        if (s->bg_spins >= 3) {
            tm->cmd_fg = 1;
            return send_continue(s, 1);
        }
    }
    /* In the background sbx neither reads the terminal nor changes its
     * modes; the command runs without its terminal's foreground (pipe
     * mode: the flag means nothing). */
    tm->cmd_fg = 0;
    return send_continue(s, 0);
}

int job_spawned(struct sess *s)
{
    int rc;

    /* The command starts in its terminal's foreground only when sbx was
     * in the caller's (tty.c decided): take the caller's terminal now. */
    if (!s->tm->pty || !s->tm->cmd_fg)
        return 0;
    if ((rc = send_resize(s)) < 0)
        return rc;
    (void)term_take(s->tm);
    return 0;
}

/* One signal sbx received.  Before the command exists there is nothing to
 * deliver it to: a window change or a continue changes nothing, a stop
 * stops sbx (and a launcher prompting in its group) like any program, and
 * anything else interrupts until the spawn request is sent: sbx dies by
 * the signal, and the runner, seeing sbx gone, ends whatever it started.
 * Once the request is on its way the command may run already (only the
 * answer is missing), and dying would say that nothing ran: the signal is
 * sent for the runner to deliver to the command once it exists.  From then
 * on each signal goes, once and as itself, to the command's process group, which decides what it
 * means; nothing escalates.  In pty mode a window change is a resize of the
 * command's terminal instead (which signals its foreground group itself),
 * and a continue that finds sbx back in the foreground gives the command
 * its terminal back along with the SIGCONT. */
int job_signal(struct sess *s, int sig)
{
    struct term *tm = s->tm;

    if (!s->spawned) {
        if (term_sig_is(sig, "WINCH") || term_sig_is(sig, "CONT"))
            return 0;
        if (term_sig_is(sig, "TSTP")) {
            term_release(tm);
            (void)sbx_os_stop_self(sig);
            return 0;
        }
        if (s->req_sent)
            return send_signal(s, sig);
        s->out->result = SESSION_INTERRUPTED;
        s->out->signal = sig;
        return SBX_EINTR;
    }
    if (tm->pty && term_sig_is(sig, "WINCH"))
        return send_resize(s);
    if (tm->pty && term_sig_is(sig, "CONT") && !(tm->raw && tm->cmd_fg) &&
        term_foreground(tm) && tm->t != NULL)
        return give_terminal(s);
    return send_signal(s, sig);
}
