/* POSIX: this process's session and process group -- leading a session of
 * its own (the runner, so that it can give a command a terminal and see it
 * stop), and stopping its group as job control would (sbx, when the command
 * it stands for has stopped). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

int sbx_os_lead_session(void)
{
    struct sigaction dfl, chld;
    sigset_t all, old;
    pid_t me = getpid(), child;
    int status, e;

    if (getsid(0) == me)
        return 0;
    if (setsid() >= 0)
        return 0;
    /* EPERM: we lead a process group (sudo and doas start their command
     * as one), and a group leader may not start a session, because its
     * group would then straddle two sessions.  A child is no leader. */
    if (errno != EPERM)
        return sbx__sys_err(errno);

    /* Nothing buffered may come out twice. */
    fflush(NULL);
    /* The stand-in must learn how the child ended: SIGCHLD ignored would
     * reap it unseen.  Set before the fork so no exit can slip by. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (sigaction(SIGCHLD, NULL, &chld) < 0)
        return sbx__sys_err(errno);
    if (chld.sa_handler == SIG_IGN && sigaction(SIGCHLD, &dfl, NULL) < 0)
        return sbx__sys_err(errno);
    /* No handler of ours may run in the child before it knows what it is. */
    sigfillset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, &old);
    child = fork();
    e = errno;
    if (child == 0) {
        if (chld.sa_handler == SIG_IGN)
            (void)sigaction(SIGCHLD, &chld, NULL);
        if (setsid() < 0) {
            e = errno;
            (void)sigprocmask(SIG_SETMASK, &old, NULL);
            return sbx__sys_err(e);
        }
#ifdef __linux__
        /* We die with the stand-in, so whoever signals or waits for it
         * (sudo) still controls us.  Checked after the request, because
         * the stand-in may have died before it took effect. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != me)
            (void)kill(getpid(), SIGKILL);
#endif
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        return 0;
    }
    if (child < 0) {
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        if (chld.sa_handler == SIG_IGN)
            (void)sigaction(SIGCHLD, &chld, NULL);
        return sbx__sys_err(e);
    }

    /* The stand-in.  None of the handlers it inherited may run here: they
     * act on state it now shares with the child (the self-pipe).  It is
     * what sudo signals: the terminal's interrupts and whatever sudo
     * relays from the caller (SIGTERM from `kill` of the caller's sudo,
     * `timeout`, `kill %1`) are ignored here exactly as in the runner
     * (sbx_sig_ignore_console), since our death would take the child along
     * through its death signal -- the command killed without a word to
     * sbx, and no audit line.  Signals for the command travel as frames. */
    for (int s = 1; s < NSIG; s++) {
        struct sigaction cur;
        if (s != SIGKILL && s != SIGSTOP && sigaction(s, NULL, &cur) == 0 &&
            cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)
            (void)sigaction(s, &dfl, NULL);
    }
    (void)sbx_sig_ignore_console();
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    for (;;) {
        if (waitpid(child, &status, 0) == child)
            break;
        if (errno != EINTR) {
            /* Cannot happen with SIGCHLD at its default; if it did, the
             * child's fate is unknown and we must not outlive it. */
            (void)kill(child, SIGKILL);
            status = 0;
            break;
        }
    }
    /* As the child ended, without running anything of the process that
     * lives on in the child (atexit handlers, stdio buffers). */
    if (WIFSIGNALED(status)) {
        struct rlimit rl = { 0, 0 };
        sigset_t one;
        int sig = WTERMSIG(status);

        (void)setrlimit(RLIMIT_CORE, &rl);
        (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&one);
        sigaddset(&one, sig);
        (void)sigprocmask(SIG_UNBLOCK, &one, NULL);
        (void)kill(getpid(), sig);
        _exit(128 + (sig & 0x7f));
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

int sbx_os_stop_self(int sig)
{
    struct sigaction dfl, old_sig, old_cont;
    sigset_t set, mask;
    int rc = 0;

    if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU && sig != SIGSTOP)
        return SBX_EINVAL;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    /* SIGCONT at its default while we are stopped: it continues us as any
     * SIGCONT does, and is then discarded, so the handler that records it
     * for sbx_sig_take() never sees the SIGCONT that ends this stop. */
    if (sigaction(SIGCONT, &dfl, &old_cont) < 0)
        return sbx__sys_err(errno);
    /* A handler of ours for the stop signal (sbx watches SIGTSTP) would
     * only record it; the default action is the stop. */
    if (sig != SIGSTOP && sigaction(sig, &dfl, &old_sig) < 0) {
        rc = sbx__sys_err(errno);
        (void)sigaction(SIGCONT, &old_cont, NULL);
        return rc;
    }
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigaddset(&set, SIGCONT);
    (void)sigprocmask(SIG_UNBLOCK, &set, &mask);
    /* The whole group, as the terminal would have stopped it: the other
     * members of a pipeline stop with us, and a shell without job control
     * (a script) sees its job stop too.  A signal we send ourselves is
     * acted on before kill() returns, so when this returns we have been
     * stopped and continued -- or never stopped at all, in an orphaned
     * group, where the kernel drops SIGTSTP, SIGTTIN and SIGTTOU rather
     * than stop a group nobody could continue. */
    if (killpg(getpgrp(), sig) < 0)
        rc = sbx__sys_err(errno);
    (void)sigprocmask(SIG_SETMASK, &mask, NULL);
    if (sig != SIGSTOP)
        (void)sigaction(sig, &old_sig, NULL);
    (void)sigaction(SIGCONT, &old_cont, NULL);
    return rc;
}
