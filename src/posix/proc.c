/* POSIX: a process sbx started, after the start: watching its exit and its
 * stops without releasing its pid, signalling its group or its whole tree,
 * and releasing it (starting it, with its guardian, is process.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Observes an exit without reaping (WNOWAIT) so the pid, and with it the
 * process group id, cannot be reused before sbx_proc_kill_group runs. */
int sbx__proc_check(sbx_proc *p)
{
    sig_atomic_t gen = sbx__chld_gen();
    siginfo_t si;

    if (p->exited)
        return 1;
    if (p->seen_gen == gen)
        return 0;
    p->seen_gen = gen;
    memset(&si, 0, sizeof(si));
    for (;;) {
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
            break;
        if (errno != EINTR)
            return sbx__sys_err(errno);
    }
    if (si.si_pid == 0)
        return 0;
    p->exited = 1;
    if (si.si_code == CLD_EXITED) {
        p->st.how = SBX_EXITED;
        p->st.code = si.si_status;
    } else {
        p->st.how = SBX_SIGNALED;
        p->st.signal = si.si_status;
        p->st.core = si.si_code == CLD_DUMPED;
    }
    return 1;
}

/* Stops and continues are consumed as they are seen (waitid without
 * WEXITED never touches the exit, which stays for sbx__proc_check); the
 * latest one is kept until sbx_proc_stopped reports it. */
int sbx__proc_state(sbx_proc *p)
{
    sig_atomic_t gen = sbx__chld_gen();
    siginfo_t si;

    if (p->state_pending)
        return 1;
    if (p->reaped || p->pid <= 0 || p->state_gen == gen)
        return 0;
    p->state_gen = gen;
    for (;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)p->pid, &si, WSTOPPED | WCONTINUED | WNOHANG) < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                break;
            return sbx__sys_err(errno);
        }
        if (si.si_pid == 0)
            break;
        p->state_pending = 1;
        p->state_sig = si.si_code == CLD_CONTINUED ? 0 : si.si_status;
    }
    return p->state_pending;
}

int sbx_proc_stopped(sbx_proc *p, int *sig)
{
    int rc = sbx__proc_state(p);

    *sig = 0;
    if (rc <= 0)
        return rc;
    *sig = p->state_sig;
    p->state_pending = 0;
    return 1;
}

long long sbx_proc_pid(const sbx_proc *p)
{
    return p->pid;
}

int sbx_proc_poll(sbx_proc *p, struct sbx_exit *st)
{
    int rc = sbx__proc_check(p);

    if (rc < 0)
        return rc;
    if (rc == 0)
        return SBX_EAGAIN;
    *st = p->st;
    return 0;
}

int sbx_proc_kill_group(sbx_proc *p, int sig)
{
    if (p->reaped || p->pid <= 0 || !p->group)
        return 0;
    if (kill(-p->pid, sig) < 0)
        return errno == ESRCH ? 0 : sbx__sys_err(errno);
    return 0;
}

int sbx_proc_kill_tree(sbx_proc *p)
{
    int rc = sbx_proc_kill_group(p, SIGKILL);

    /* Also the leader itself, in case it left its group. */
    if (rc == 0)
        rc = sbx_proc_kill(p, SIGKILL);
    return rc;
}

int sbx_proc_descends(long long pid, long long ancestor)
{
#ifdef __linux__
    /* Follow the parent links in /proc; a chain longer than this is not a
     * launcher's. */
    for (int hop = 0; hop < 16 && pid > 1; hop++) {
        char path[64], buf[512], *rp;
        ssize_t n;
        int fd;

        if (pid == ancestor)
            return 1;
        snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
        /* Unreadable (/proc mounted with hidepid hides other users'
         * processes, or the process is gone): no answer either way. */
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return SBX_ENOTSUP;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            return SBX_ENOTSUP;
        buf[n] = '\0';
        /* "pid (comm) state ppid ...": comm may hold anything, even ") ". */
        if ((rp = strrchr(buf, ')')) == NULL || sscanf(rp + 1, " %*c %lld", &pid) != 1)
            return 0;
    }
    return pid == ancestor;
#else
    (void)pid;
    (void)ancestor;
    return SBX_ENOTSUP;
#endif
}

int sbx_proc_kill(sbx_proc *p, int sig)
{
    if (p->reaped || p->pid <= 0 || p->exited)
        return 0;
    if (kill(p->pid, sig) < 0)
        return errno == ESRCH ? 0 : sbx__sys_err(errno);
    return 0;
}

void sbx_proc_free(sbx_proc *p)
{
    if (p == NULL)
        return;
    if (p->pid > 0 && !p->reaped && sbx__proc_check(p) == 1) {
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (p->guard_fd >= 0) {
        /* The guardian sees end of file and ends whatever is left of the
         * group, itself included. */
        close(p->guard_fd);
        while (waitpid(p->guardian, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (p->tty_fd >= 0)
        close(p->tty_fd);
    free(p);
}
