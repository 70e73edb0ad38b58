/* POSIX: the caller's terminal on sbx's side -- which standard streams are
 * it, its modes and size, raw mode for the run and the way back from it on
 * every exit, a fatal signal included. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"

struct sbx_tty {
    int fd;               /* our own open of /dev/tty */
    sbx_h *h;             /* wraps fd, does not own it */
    int raw;              /* `saved` holds the modes to go back to */
    struct termios saved; /* the modes before sbx_tty_raw */
};

/* ---- the way back on a fatal signal ---- */

/* What a dying sbx puts back: a copy of the raw terminal's saved modes,
 * readable from a signal handler.  Armed only while the terminal is raw. */
static volatile sig_atomic_t emerg_armed;
static int emerg_fd = -1;
static struct termios emerg_modes;
static sbx_tty *live; /* the terminal that is raw, for exit paths */
static int exit_hooked;

/* Signals whose default action ends sbx outright: the faults, and the
 * others that kill by default and that sbx does not watch (the watched
 * ones end it through sbx_os_exit_like).  Each keeps the disposition it
 * had before ours, which it gets back before it is raised again. */
static const int fatal_sigs[] = {
    SIGSEGV, SIGBUS,  SIGFPE,    SIGILL,  SIGABRT, SIGSYS, SIGXCPU,
    SIGXFSZ, SIGTRAP, SIGVTALRM, SIGPROF, SIGALRM, SIGIO,
#ifdef SIGPWR
    SIGPWR,
#endif
#ifdef SIGSTKFLT
    SIGSTKFLT,
#endif
};
#define NFATAL (sizeof(fatal_sigs) / sizeof(fatal_sigs[0]))
static struct sigaction fatal_old[NFATAL];
static int fatal_installed;

/* Async-signal-safe: tcgetpgrp, getpgrp and tcsetattr are all on POSIX's
 * list.  TCSANOW, because a dying process must not wait for a terminal
 * that may never drain. */
static void emergency_restore(void)
{
    if (!emerg_armed || emerg_fd < 0)
        return;
    /* Only from the foreground: in the background the terminal belongs to
     * whoever is there now. */
    if (tcgetpgrp(emerg_fd) == getpgrp())
        (void)tcsetattr(emerg_fd, TCSANOW, &emerg_modes);
    emerg_armed = 0;
}

static void on_fatal(int sig)
{
    int saved = errno;

    emergency_restore();
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal_sigs[i] == sig)
            (void)sigaction(sig, &fatal_old[i], NULL);
    /* Pending until the handler returns, then acted on with the old
     * disposition; a fault would also simply happen again. */
    (void)raise(sig);
    errno = saved;
}

static void install_fatal(void)
{
    struct sigaction sa;

    if (fatal_installed)
        return;
    fatal_installed = 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    /* Blocked in the handler: a background tcsetattr then goes through
     * rather than stopping a process that is about to die. */
    sigaddset(&sa.sa_mask, SIGTTOU);
    for (size_t i = 0; i < NFATAL; i++) {
        if (sigaction(fatal_sigs[i], NULL, &fatal_old[i]) < 0)
            continue;
        /* Only where the default would kill: ignored stays ignored
         * (SIGXFSZ ignored turns into EFBIG), and a handler someone
         * installed decides for itself. */
        if (fatal_old[i].sa_handler != SIG_DFL || (fatal_old[i].sa_flags & SA_SIGINFO))
            continue;
        (void)sigaction(fatal_sigs[i], &sa, NULL);
    }
}

static void at_exit(void)
{
    if (live != NULL)
        (void)sbx_tty_restore(live);
}

void sbx__tty_exit_restore(void)
{
    at_exit();
}

/* ---- changing modes without being stopped for it ---- */

static volatile sig_atomic_t got_ttou;

static void on_ttou(int sig)
{
    (void)sig;
    got_ttou = 1;
}

/* tcsetattr that never stops this process.  A background process changing
 * its terminal is sent SIGTTOU, whose default action stops it; an ignored
 * or blocked SIGTTOU would instead let the change through silently, onto
 * a terminal that now belongs to someone else.  So, for the length of the
 * call, SIGTTOU is caught (without SA_RESTART): the call then fails with
 * EINTR, which here means "in the background, leave it".  A process group
 * without a parent outside it (orphaned) gets EIO, which means the same. */
static int set_modes(int fd, int when, const struct termios *t)
{
    struct sigaction sa, old;
    sigset_t ttou, mask;
    int rc, e;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_ttou;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTTOU, &sa, &old) < 0)
        return sbx__sys_err(errno);
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    (void)sigprocmask(SIG_UNBLOCK, &ttou, &mask);
    got_ttou = 0;
    do {
        rc = tcsetattr(fd, when, t);
    } while (rc < 0 && errno == EINTR && !got_ttou);
    e = errno;
    (void)sigprocmask(SIG_SETMASK, &mask, NULL);
    (void)sigaction(SIGTTOU, &old, NULL);
    if (rc == 0)
        return 0;
    if (got_ttou || e == EIO)
        return SBX_EAGAIN;
    return sbx__sys_err(e);
}

/* ---- the interface ---- */

/* Whether standard stream n is this process's controlling terminal.  A
 * terminal answers TIOCGSID only when it is the caller's controlling one,
 * so this holds for /dev/console and in the background alike, where device
 * numbers (our /dev/tty reports /dev/tty's own) or the foreground group
 * would not.  S_ISCHR first: no terminal ioctl on anything else. */
static int is_ctty(int n, pid_t sid)
{
    struct stat st;

    if (fstat(n, &st) < 0 || !S_ISCHR(st.st_mode) || !isatty(n))
        return 0;
    return tcgetsid(n) == sid;
}

int sbx_tty_open(sbx_tty **t, unsigned *streams)
{
    sbx_tty *x;
    pid_t sid;
    int fd, rc;

    *t = NULL;
    *streams = 0;
    /* A description of our own: O_NONBLOCK on it, or anything else set on
     * it, never reaches the shell's descriptors of the same terminal. */
    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        /* ENXIO: no controlling terminal; anything else means the same to
         * the caller, with the reason kept. */
        (void)sbx__sys_err(errno);
        return SBX_ENOENT;
    }
    if ((sid = getsid(0)) < 0 || !isatty(fd)) {
        close(fd);
        return SBX_ENOENT;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL) {
        close(fd);
        return SBX_ENOMEM;
    }
    x->fd = fd;
    if ((rc = sbx__h_new(fd, 0, &x->h)) < 0) {
        close(fd);
        free(x);
        return rc;
    }
    for (int n = 0; n < 3; n++)
        if (is_ctty(n, sid))
            *streams |= 1u << n;
    *t = x;
    return 0;
}

void sbx_tty_close(sbx_tty *t)
{
    if (t == NULL)
        return;
    (void)sbx_tty_restore(t);
    if (live == t) {
        emerg_armed = 0;
        live = NULL;
    }
    sbx_h_close(t->h);
    close(t->fd);
    free(t);
}

sbx_h *sbx_tty_handle(sbx_tty *t)
{
    return t->h;
}

int sbx_tty_get(sbx_tty *t, struct sbx_tty_modes *m, struct sbx_tty_size *sz)
{
    struct termios tio;
    struct winsize ws;
    size_t n = NCCS < SBX_TTY_NCC ? NCCS : SBX_TTY_NCC;

    if (m != NULL) {
        /* While raw, the caller's modes are the saved ones. */
        if (t->raw)
            tio = t->saved;
        else if (tcgetattr(t->fd, &tio) < 0)
            return sbx__sys_err(errno);
        memset(m, 0, sizeof(*m));
        m->iflag = tio.c_iflag;
        m->oflag = tio.c_oflag;
        m->cflag = tio.c_cflag;
        m->lflag = tio.c_lflag;
        m->ispeed = cfgetispeed(&tio);
        m->ospeed = cfgetospeed(&tio);
        memcpy(m->cc, tio.c_cc, n);
        m->ncc = (unsigned)n;
    }
    if (sz != NULL) {
        memset(&ws, 0, sizeof(ws));
        if (ioctl(t->fd, TIOCGWINSZ, &ws) < 0)
            return sbx__sys_err(errno);
        sz->rows = ws.ws_row;
        sz->cols = ws.ws_col;
    }
    return 0;
}

int sbx_tty_foreground(sbx_tty *t)
{
    pid_t fg = tcgetpgrp(t->fd);

    return fg > 0 && fg == getpgrp();
}

int sbx_tty_raw(sbx_tty *t)
{
    struct termios cur, raw;
    int was = t->raw, rc;

    if (!sbx_tty_foreground(t))
        return SBX_EAGAIN;
    if (t->raw) {
        raw = t->saved;
    } else {
        if (tcgetattr(t->fd, &cur) < 0)
            return sbx__sys_err(errno);
        raw = cur;
    }
    /* cfmakeraw's changes, spelled out (it is not POSIX): keys arrive as
     * bytes, Ctrl-C, Ctrl-Z and Ctrl-\ included, for the command's own
     * terminal to interpret; nothing is echoed; output is passed as it is,
     * because the command's terminal has done the output processing. */
    raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_oflag &= ~(tcflag_t)OPOST;
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (!t->raw) {
        /* Saved and armed before the change, so a crash in between finds
         * the way back already. */
        t->saved = cur;
        t->raw = 1;
        emerg_armed = 0;
        emerg_fd = t->fd;
        emerg_modes = cur;
        emerg_armed = 1;
        if (!exit_hooked && atexit(at_exit) == 0)
            exit_hooked = 1;
        live = t;
        install_fatal();
    }
    /* Applied again when raw already: whoever had the terminal while we
     * were stopped may have changed it. */
    if ((rc = set_modes(t->fd, TCSADRAIN, &raw)) < 0) {
        if (!was) {
            /* Not changed (in the background after all, or refused):
             * nothing needs putting back. */
            t->raw = 0;
            emerg_armed = 0;
        }
        return rc;
    }
    return 0;
}

int sbx_tty_restore(sbx_tty *t)
{
    int rc;

    if (t == NULL || !t->raw)
        return 0;
    /* In the background the terminal is someone else's now; the saved
     * modes are kept for when we are back in the foreground. */
    if (!sbx_tty_foreground(t))
        return SBX_EAGAIN;
    if ((rc = set_modes(t->fd, TCSADRAIN, &t->saved)) < 0)
        return rc;
    t->raw = 0;
    emerg_armed = 0;
    return 0;
}
