/* sbx's side of the command's terminal (see tty.h).
 *
 * The rule for each standard stream is sudo's with use_pty: a stream that is
 * the caller's controlling terminal becomes the command's new terminal, and
 * anything else -- a pipe, a file, or some other terminal -- stays a pipe, so
 * the command never holds a descriptor of a terminal sbx did not create.
 */
#include <string.h>

#include "tty.h"

/* A terminal of unknown size, like a new xterm or a serial console. */
#define TERM_DEFAULT_ROWS 24
#define TERM_DEFAULT_COLS 80

int term_sig_is(int sig, const char *name)
{
    const char *n = sbx_sig_name(sig);

    return n != NULL && strcmp(n, name) == 0;
}

/* Whether the caller's TERM can travel in the request: the runner refuses
 * a request with anything but printable ASCII there, and an empty or
 * strange TERM helps no program on the other side. */
static int term_usable(const char *v)
{
    size_t n = 0;

    if (v == NULL)
        return 0;
    for (; v[n] != '\0'; n++)
        if ((unsigned char)v[n] < 0x20 || (unsigned char)v[n] > 0x7e)
            return 0;
    return n >= 1 && n <= SBX_MAX_TERM;
}

int term_foreground(struct term *tm)
{
    /* --pty with no terminal of sbx's (CI): nobody else wants the
     * command's terminal, so the command may always have it. */
    if (tm->t == NULL)
        return tm->pty;
    return sbx_tty_foreground(tm->t) == 1;
}

void term_decide(struct term *tm, int opt, const char *term_env, struct sbx_tty_req *req)
{
    struct sbx_tty_modes m;
    struct sbx_tty_size sz;
    unsigned mine = 0;

    memset(tm, 0, sizeof(*tm));
    memset(req, 0, sizeof(*req));
    if (opt == TERM_NO_PTY)
        return;
    if (sbx_tty_open(&tm->t, &mine) < 0) {
        tm->t = NULL;
        mine = 0;
    }
    mine &= 7;
    if (opt == TERM_AUTO && mine == 0) {
        /* No terminal, or one that none of our streams is (everything
         * redirected): pipes, as inline nothing would be a terminal. */
        sbx_tty_close(tm->t);
        tm->t = NULL;
        return;
    }
    tm->pty = 1;
    /* --pty with no stream on the terminal: the output gets the terminal,
     * which is what tools that colour or page look at; stdin stays the
     * pipe or file it is. */
    tm->streams = mine != 0 ? mine : 6;
    tm->out = (tm->streams & 2) ? 1 : (tm->streams & 4) ? 2 : 0;
    tm->keys_from_stdin = (tm->streams & 1) != 0;

    memset(&m, 0, sizeof(m));
    memset(&sz, 0, sizeof(sz));
    if (tm->t != NULL && sbx_tty_get(tm->t, &m, &sz) == 0) {
        req->have_modes = 1;
        req->modes = m;
    }
    if (sz.rows == 0 || sz.cols == 0) {
        sz.rows = TERM_DEFAULT_ROWS;
        sz.cols = TERM_DEFAULT_COLS;
    }
    tm->size = sz;
    /* The command starts in its terminal's foreground only where inline
     * it would own the terminal: sbx in the foreground with its output on
     * the terminal.  In a pipeline (`sbx run -- cmd | less`), under `&`, or
     * with the output in a file, it starts in the background and gets the
     * terminal the first time it touches it (SIGTTIN/SIGTTOU, handled as
     * job control), so it never steals keys from a pager. */
    tm->cmd_fg = tm->t == NULL || (term_foreground(tm) && (mine & 2));

    req->present = 1;
    req->streams = tm->streams;
    req->foreground = tm->cmd_fg;
    req->size = sz;
    req->term = term_usable(term_env) ? (char *)term_env : NULL;
}

int term_take(struct term *tm)
{
    if (tm->t == NULL)
        return 0;
    if (!tm->raw && sbx_tty_raw(tm->t) == 0)
        tm->raw = 1;
    return tm->raw;
}

void term_release(struct term *tm)
{
    if (tm->t != NULL && tm->raw)
        (void)sbx_tty_restore(tm->t);
    tm->raw = 0;
}

int term_resized(struct term *tm)
{
    struct sbx_tty_modes m;
    struct sbx_tty_size sz;

    if (tm->t == NULL || sbx_tty_get(tm->t, &m, &sz) < 0 || sz.rows == 0 || sz.cols == 0)
        return 0;
    if (sz.rows == tm->size.rows && sz.cols == tm->size.cols)
        return 0;
    tm->size = sz;
    return 1;
}

sbx_h *term_keys(struct term *tm, sbx_h *in)
{
    if (!tm->pty || tm->t == NULL)
        return NULL;
    return tm->keys_from_stdin ? in : sbx_tty_handle(tm->t);
}

sbx_h *term_out(struct term *tm, sbx_h *const std[3])
{
    if (tm->out == 1 || tm->out == 2)
        return std[tm->out];
    /* Only stdin is the terminal: what the command's terminal shows (the
     * echo of what is typed, a /dev/tty prompt) goes where inline it would
     * have appeared, on the terminal itself. */
    return tm->t != NULL ? sbx_tty_handle(tm->t) : NULL;
}

void term_close(struct term *tm)
{
    term_release(tm);
    sbx_tty_close(tm->t);
    tm->t = NULL;
}
