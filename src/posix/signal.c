/* POSIX: signal handling, and the self-pipe that lets sbx_wait see signals
 * and child exits. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The self-pipe: handlers write a byte so poll() in sbx_wait wakes up. */
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sig_pending[NSIG];
static volatile sig_atomic_t sig_any;
/* Bumped by every SIGCHLD: a process is asked about its exit only when
 * something may have exited since it was last asked. */
static volatile sig_atomic_t chld_gen = 1;

/* SIGXFSZ is caught by a handler that does nothing, so a write past
 * RLIMIT_FSIZE fails with EFBIG, which the caller reports, instead of
 * killing the process without a word; unlike SIG_IGN, a caught signal is
 * back at its default in whatever this process executes. */
static void on_xfsz(int sig)
{
    (void)sig;
}

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (sig == SIGCHLD)
        chld_gen++;
    else if (sig > 0 && sig < NSIG) {
        sig_pending[sig] = 1;
        sig_any = 1;
    }
    if (sig_pipe[1] >= 0)
        (void)!write(sig_pipe[1], &c, 1);
    errno = saved;
}

int sbx_sig_init(const int *watch)
{
    struct sigaction sa;
    sigset_t unblock;

    if (sig_pipe[0] < 0) {
        if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
            return sbx__sys_err(errno);
    }
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return sbx__sys_err(errno);
    sa.sa_handler = on_xfsz;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGXFSZ, &sa, NULL) < 0)
        return sbx__sys_err(errno);
    sa.sa_handler = on_signal;
    /* Without SA_NOCLDSTOP: a command that stops or continues is news
     * (sbx_proc_stopped, SBX_EV_STATE), as much as one that exits. */
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        return sbx__sys_err(errno);
    /* No SA_RESTART: a blocked write to a slow stdout must return so the
     * signal is handled now, not when the reader catches up. */
    sa.sa_flags = 0;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGCHLD);
    for (; watch != NULL && *watch != 0; watch++) {
        struct sigaction old;
        /* A signal ignored on entry (nohup, a shell's background job) stays
         * ignored, as in any well-behaved program. */
        if (sigaction(*watch, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(*watch, &sa, NULL) < 0)
            return sbx__sys_err(errno);
        sigaddset(&unblock, *watch);
    }
    /* The mask is inherited across exec: a caller that blocked SIGCHLD
     * would otherwise hide every exit from us. */
    if (sigprocmask(SIG_UNBLOCK, &unblock, NULL) < 0)
        return sbx__sys_err(errno);
    return 0;
}

int sbx_sig_take(void)
{
    if (!sig_any)
        return 0;
    sig_any = 0;
    for (int s = 1; s < NSIG; s++) {
        if (sig_pending[s]) {
            sig_pending[s] = 0;
            /* More may be pending: look again next time. */
            for (int t = s + 1; t < NSIG; t++)
                if (sig_pending[t])
                    sig_any = 1;
            return s;
        }
    }
    return 0;
}

const char *sbx_sig_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        { SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
        { SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" }, { SIGBUS, "BUS" }, { SIGFPE, "FPE" },
        { SIGKILL, "KILL" }, { SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
        { SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGCHLD, "CHLD" },
        { SIGCONT, "CONT" }, { SIGSTOP, "STOP" }, { SIGTSTP, "TSTP" }, { SIGTTIN, "TTIN" },
        { SIGTTOU, "TTOU" }, { SIGURG, "URG" }, { SIGXCPU, "XCPU" }, { SIGXFSZ, "XFSZ" },
        { SIGVTALRM, "VTALRM" }, { SIGPROF, "PROF" }, { SIGWINCH, "WINCH" }, { SIGSYS, "SYS" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}

const int *sbx_sig_forwarded(void)
{
    static const int sigs[] = { SIGINT,  SIGTERM,  SIGHUP,  SIGQUIT, SIGUSR1,
                                SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, 0 };
    return sigs;
}

/* The runner ends only when its channel closes (or by SIGKILL): signals
 * meant for the command reach it as frames from sbx.  So every signal that
 * would end or stop it and that someone else may send -- the terminal's
 * (sudo may leave the runner in its foreground group, doas always does),
 * those sudo relays from the caller (HUP INT QUIT TERM USR1 USR2 ALRM PIPE:
 * `kill` of the caller's own sudo, `timeout`, `kill %1`), and the rest whose
 * default is to terminate (timers, I/O, power, the real-time signals) --
 * is ignored.  Left at their defaults: the faults of the process's own
 * (SEGV, BUS, FPE, ILL, TRAP, SYS, and ABRT, which abort() raises), where
 * ignoring would loop or hide a bug, and SIGXCPU/SIGXFSZ, which enforce the
 * resource limits an administrator set (the runner writes no file and uses
 * little CPU; the hard CPU limit is SIGKILL anyway).  The command gets
 * default dispositions back before exec (sbx_proc_spawn). */
int sbx_sig_ignore_console(void)
{
    static const int sigs[] = {
        SIGHUP,  SIGINT,    SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE,
        SIGTSTP, SIGTTIN,   SIGTTOU, SIGVTALRM, SIGPROF,
#ifdef SIGPOLL
        SIGPOLL,
#endif
#ifdef SIGPWR
        SIGPWR,
#endif
#ifdef SIGSTKFLT
        SIGSTKFLT,
#endif
    };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return sbx__sys_err(errno);
#ifdef SIGRTMIN
    /* Best effort: the C library may reserve some of them. */
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        (void)sigaction(s, &sa, NULL);
#endif
    return 0;
}

int sbx__sig_seen(void)
{
    return sig_any;
}

int sbx__sig_fd(void)
{
    return sig_pipe[0];
}

void sbx__sig_drain(void)
{
    char buf[64];

    while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

sig_atomic_t sbx__chld_gen(void)
{
    return chld_gen;
}
