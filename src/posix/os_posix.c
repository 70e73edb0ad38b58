/* POSIX implementation of the sbx platform interface (src/os.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "os.h"

extern char **environ;

struct sbx_h {
    int fd;
    int owned;
};

struct sbx_proc {
    pid_t pid;
    int group;    /* leads its own process group */
    int exited;   /* observed with WNOWAIT: the pid is still reserved */
    int reaped;
    struct sbx_exit st;
    pid_t guardian;  /* 0 when none */
    int guard_fd;    /* our end of the guardian's pipe, -1 when none */
    sig_atomic_t seen_gen; /* chld_gen when last asked; 0: never */
};

struct sbx_account {
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    char *env[5];
};

struct sbx_listener {
    int fd;
    char dir[PATH_MAX];
    char path[PATH_MAX];
};

static long long last_os_error;

/* Records errno and translates it. */
static int sys_err(int e)
{
    last_os_error = e;
    switch (e) {
    case 0: return SBX_ESYS;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return SBX_EAGAIN;
    case ENOMEM: return SBX_ENOMEM;
    case EINVAL: return SBX_EINVAL;
    case E2BIG: return SBX_E2BIG;
    case ENOENT: return SBX_ENOENT;
    case EACCES: return SBX_EACCES;
    case ENOEXEC: return SBX_ENOEXEC;
    case ENOTDIR: return SBX_ENOTDIR;
    case EISDIR: return SBX_EISDIR;
    case EPIPE: case ECONNRESET: return SBX_EPIPE;
    case ETIMEDOUT: return SBX_ETIMEDOUT;
    case EPERM: return SBX_EPERM;
    case EIO: return SBX_EIO;
    case ELOOP: return SBX_ELOOP;
    case ENAMETOOLONG: return SBX_ENAMETOOLONG;
    case EINTR: return SBX_EINTR;
    default: return SBX_ESYS;
    }
}

long long sbx_os_last_error(void)
{
    return last_os_error;
}

const char *sbx_os_error_text(long long code)
{
    return strerror((int)code);
}

/* ---- signals ---- */

/* The self-pipe: handlers write a byte so poll() in sbx_wait wakes up. */
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sig_pending[NSIG];
static volatile sig_atomic_t sig_any;
/* Bumped by every SIGCHLD: a process is asked about its exit only when
 * something may have exited since it was last asked. */
static volatile sig_atomic_t chld_gen = 1;

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
            return sys_err(errno);
    }
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return sys_err(errno);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, NULL) < 0)
        return sys_err(errno);
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
            return sys_err(errno);
        sigaddset(&unblock, *watch);
    }
    /* The mask is inherited across exec: a caller that blocked SIGCHLD
     * would otherwise hide every exit from us. */
    if (sigprocmask(SIG_UNBLOCK, &unblock, NULL) < 0)
        return sys_err(errno);
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
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, 0 };
    return sigs;
}

int sbx_sig_ignore_console(void)
{
    static const int sigs[] = { SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGTTIN, SIGTTOU };
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return sys_err(errno);
    return 0;
}

/* ---- handles ---- */

static int h_new(int fd, int owned, sbx_h **out)
{
    sbx_h *h = malloc(sizeof(*h));

    if (h == NULL) {
        if (owned)
            close(fd);
        return SBX_ENOMEM;
    }
    h->fd = fd;
    h->owned = owned;
    *out = h;
    return 0;
}

int sbx_h_std(int which, sbx_h **out)
{
    if (which < 0 || which > 2)
        return SBX_EINVAL;
    return h_new(which, 0, out);
}

void sbx_h_close(sbx_h *h)
{
    if (h == NULL)
        return;
    if (h->owned && h->fd >= 0)
        close(h->fd);
    free(h);
}

int sbx_h_read(sbx_h *h, void *buf, size_t n, size_t *got)
{
    ssize_t r;

    *got = 0;
    r = read(h->fd, buf, n);
    if (r < 0)
        return sys_err(errno);
    *got = (size_t)r;
    return 0;
}

int sbx_h_write(sbx_h *h, const void *buf, size_t n, size_t *put)
{
    ssize_t r;

    *put = 0;
    r = write(h->fd, buf, n);
    if (r < 0)
        return sys_err(errno);
    *put = (size_t)r;
    return 0;
}

int sbx_h_flush(sbx_h *h)
{
    (void)h; /* POSIX writes complete before write() returns */
    return 0;
}

/* ---- processes (the part sbx_wait needs) ---- */

/* Observes an exit without reaping (WNOWAIT) so the pid, and with it the
 * process group id, cannot be reused before sbx_proc_kill_group runs. */
static int proc_check(sbx_proc *p)
{
    siginfo_t si;

    if (p->exited)
        return 1;
    if (p->seen_gen == chld_gen)
        return 0;
    p->seen_gen = chld_gen;
    memset(&si, 0, sizeof(si));
    for (;;) {
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
            break;
        if (errno != EINTR)
            return sys_err(errno);
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

long long sbx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sbx_wait(struct sbx_wait *w, size_t n, int timeout_ms)
{
    struct pollfd pfd[16];
    size_t map[16];
    long long deadline = timeout_ms >= 0 ? sbx_now_ms() + timeout_ms : -1;

    if (n > 15)
        return SBX_EINVAL;
    for (;;) {
        size_t np = 0;
        int ready = 0, rc, wait_ms;

        if (sig_any)
            return SBX_EINTR;
        for (size_t i = 0; i < n; i++) {
            w[i].got = 0;
            if (w[i].proc != NULL && (w[i].want & SBX_EV_EXIT)) {
                if ((rc = proc_check(w[i].proc)) < 0)
                    return rc;
                if (rc) {
                    w[i].got = SBX_EV_EXIT;
                    ready++;
                }
            }
            if (w[i].h != NULL && (w[i].want & (SBX_EV_READ | SBX_EV_WRITE))) {
                pfd[np].fd = w[i].h->fd;
                pfd[np].events = (short)(((w[i].want & SBX_EV_READ) ? POLLIN : 0) |
                                         ((w[i].want & SBX_EV_WRITE) ? POLLOUT : 0));
                pfd[np].revents = 0;
                map[np++] = i;
            }
        }
        if (sig_pipe[0] >= 0) {
            pfd[np].fd = sig_pipe[0];
            pfd[np].events = POLLIN;
            pfd[np].revents = 0;
            map[np++] = SIZE_MAX;
        }
        if (ready > 0) {
            wait_ms = 0;
        } else if (deadline < 0) {
            wait_ms = -1;
        } else {
            long long left = deadline - sbx_now_ms();
            wait_ms = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        rc = poll(pfd, np, wait_ms);
        if (rc < 0 && errno != EINTR)
            return sys_err(errno);
        for (size_t k = 0; rc > 0 && k < np; k++) {
            short re = pfd[k].revents;
            if (re == 0)
                continue;
            if (map[k] == SIZE_MAX) {
                char buf[64];
                while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
                    ;
                continue;
            }
            struct sbx_wait *e = &w[map[k]];
            if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
                e->got |= e->want & SBX_EV_READ ? SBX_EV_READ : 0;
            if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
                e->got |= e->want & SBX_EV_WRITE ? SBX_EV_WRITE : 0;
            if (e->got != 0 && !(e->got & SBX_EV_EXIT))
                ready++;
        }
        if (ready > 0)
            return ready;
        if (deadline >= 0 && sbx_now_ms() >= deadline)
            return 0;
        /* Woken by a signal or the self-pipe: look at processes again. */
    }
}

/* ---- spawn ---- */

/* What the child reports through the exec-error pipe. */
struct child_err {
    int stage; /* index into stage_names */
    int err;
};

static const char *const stage_names[] = { "setup", "chdir", "exec", "stdio", "user" };
enum { ST_SETUP, ST_CHDIR, ST_EXEC, ST_STDIO, ST_USER, ST_COUNT_ };

static void spawn_fail(struct sbx_spawn_fail *f, const char *stage, int e)
{
    f->stage = stage;
    f->err = sys_err(e);
    f->os_code = e;
}

static const char *env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);

    for (; env != NULL && *env != NULL; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

/* The candidates execvp would try for `file`, built before fork() because
 * the child may only make async-signal-safe calls. */
static char **path_candidates(const char *file, char *const *env, int search)
{
    const char *path, *p;
    size_t count = 1, flen = strlen(file), i = 0;
    char **v;

    if (!search || strchr(file, '/') != NULL || file[0] == '\0') {
        v = calloc(2, sizeof(*v));
        if (v != NULL && (v[0] = strdup(file)) == NULL) {
            free(v);
            v = NULL;
        }
        return v;
    }
    path = env_get(env, "PATH");
    if (path == NULL)
        path = "/bin:/usr/bin"; /* glibc's default when PATH is unset */
    for (p = path; *p; p++)
        count += *p == ':';
    if ((v = calloc(count + 1, sizeof(*v))) == NULL)
        return NULL;
    for (p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        char *c = malloc(dlen + flen + 3);
        if (c == NULL)
            goto oom;
        /* An empty entry means the current directory, as in execvp. */
        if (dlen == 0)
            memcpy(c, ".", (dlen = 1));
        else
            memcpy(c, p, dlen);
        c[dlen] = '/';
        memcpy(c + dlen + 1, file, flen + 1);
        v[i++] = c;
        if (end == NULL)
            break;
        p = end;
    }
    return v;
oom:
    for (size_t k = 0; k < i; k++)
        free(v[k]);
    free(v);
    return NULL;
}

static void free_strv(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void child_report(int fd, int stage, int err)
{
    struct child_err ce = { stage, err };
    (void)!write(fd, &ce, sizeof(ce));
    _exit(127);
}

/* Runs in the child between fork() and exec: async-signal-safe calls only. */
static void child_main(const struct sbx_spawn_opts *o, const int fds[3], char **cands,
                       char **sh_argv, char *const *env, int errfd)
{
    struct sigaction sa;
    sigset_t none;
    int saw_eacces = 0, last = ENOENT;

    if (o->new_session ? setsid() < 0 : o->new_group && setpgid(0, 0) < 0)
        child_report(errfd, ST_SETUP, errno);

    /* Dispositions and the mask are inherited across exec: give the child
     * the defaults a shell would. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &sa, NULL);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0)
            continue;
        if (fds[i] == i) {
            /* dup2() onto itself keeps close-on-exec set; clear it. */
            if (fcntl(i, F_SETFD, 0) < 0)
                child_report(errfd, ST_STDIO, errno);
        } else if (dup2(fds[i], i) < 0) {
            child_report(errfd, ST_STDIO, errno);
        }
    }
    if (o->as != NULL) {
        /* Groups first, while we may still change them; the uid last. */
        const sbx_account *a = o->as;
        if (setgroups((size_t)a->ngroups, a->groups) < 0 || setgid(a->gid) < 0 ||
            setuid(a->uid) < 0)
            child_report(errfd, ST_USER, errno);
        /* The drop must be for good: no way back to root's ids. */
        if (a->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
            child_report(errfd, ST_USER, EPERM);
        if (a->gid != 0 && (setgid(0) == 0 || setegid(0) == 0))
            child_report(errfd, ST_USER, EPERM);
    }
    /* After the switch, so the account's own rights decide. */
    if (o->cwd != NULL && chdir(o->cwd) < 0)
        child_report(errfd, ST_CHDIR, errno);

    for (char **c = cands; *c; c++) {
        execve(*c, o->argv, env);
        switch (errno) {
        case ENOEXEC:
            /* A file without #!: run it with the shell, like execvp. */
            sh_argv[1] = *c;
            execve("/bin/sh", sh_argv, env);
            child_report(errfd, ST_EXEC, ENOEXEC);
            break;
        case EACCES:
            /* Only a file that exists makes "permission denied" the answer;
             * an unsearchable PATH directory just hides nothing, as in a
             * shell.  access() is async-signal-safe. */
            if (access(*c, F_OK) == 0)
                saw_eacces = 1;
            continue;
        case ENOENT:
        case ENOTDIR:
        case ESTALE:
        case ENODEV:
        case ETIMEDOUT:
            last = errno;
            continue;
        default:
            child_report(errfd, ST_EXEC, errno);
        }
    }
    child_report(errfd, ST_EXEC, saw_eacces ? EACCES : last);
}

/* The guardian: a process in the command's process group that waits for
 * end of file on a pipe whose other end only the runner holds, then kills
 * the group.  If the runner dies, even by SIGKILL, the command's tree goes
 * with it.  Runs between fork and _exit: async-signal-safe calls only. */
static void guardian_main(int rfd, pid_t group)
{
    struct sigaction sa;
    struct rlimit rl;
    char c;

    (void)setpgid(0, group);
    /* Signals forwarded to the group are for the command, not for us. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD)
            (void)sigaction(s, &sa, NULL);
    /* Hold nothing but the pipe: a stray copy of the command's output pipe
     * would keep the runner from ever seeing end of file. */
#ifdef SYS_close_range
    if ((rfd == 0 || syscall(SYS_close_range, 0u, (unsigned)rfd - 1, 0u) == 0) &&
        syscall(SYS_close_range, (unsigned)rfd + 1, ~0u, 0u) == 0)
        goto closed;
#endif
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 65536)
        rl.rlim_cur = 65536;
    for (int fd = 0; fd < (int)rl.rlim_cur; fd++)
        if (fd != rfd)
            (void)close(fd);
#ifdef SYS_close_range
closed:
#endif
    while (read(rfd, &c, 1) < 0 && errno == EINTR)
        ;
    (void)kill(0, SIGKILL);
    _exit(0);
}

static int start_guardian(sbx_proc *p)
{
    int gp[2];
    pid_t g;

    if (pipe2(gp, O_CLOEXEC) < 0)
        return sys_err(errno);
    g = fork();
    if (g < 0) {
        int rc = sys_err(errno);
        close(gp[0]);
        close(gp[1]);
        return rc;
    }
    if (g == 0) {
        close(gp[1]);
        guardian_main(gp[0], p->pid);
    }
    (void)setpgid(g, p->pid);
    close(gp[0]);
    p->guardian = g;
    p->guard_fd = gp[1];
    return 0;
}

int sbx_proc_spawn(struct sbx_spawn_opts *o, sbx_proc **out, struct sbx_spawn_fail *fail)
{
    int fds[3] = { -1, -1, -1 };     /* the child's ends */
    int parent[3] = { -1, -1, -1 };  /* our ends of pipes */
    int errpipe[2] = { -1, -1 };
    char *const *env = o->env ? o->env : environ;
    char **cands = NULL, **sh_argv = NULL;
    sbx_proc *p = NULL;
    size_t argc = 0;
    struct child_err ce;
    ssize_t r;
    pid_t pid;
    int rc = 0;

    *out = NULL;
    memset(fail, 0, sizeof(*fail));
    for (int i = 0; i < 3; i++)
        o->stdio[i].h = NULL;

    if ((p = calloc(1, sizeof(*p))) == NULL) {
        spawn_fail(fail, "setup", ENOMEM);
        return SBX_ENOMEM;
    }
    p->guard_fd = -1;
    if (o->elevate) {
        spawn_fail(fail, "setup", ENOTSUP);
        free(p);
        return SBX_ENOTSUP;
    }
    cands = path_candidates(o->file, env, o->search_path);
    while (o->argv[argc] != NULL)
        argc++;
    sh_argv = calloc(argc + 2, sizeof(*sh_argv));
    if (cands == NULL || sh_argv == NULL) {
        spawn_fail(fail, "setup", ENOMEM);
        rc = SBX_ENOMEM;
        goto done;
    }
    sh_argv[0] = (char *)"/bin/sh";
    for (size_t i = 1; i < argc; i++)
        sh_argv[i + 1] = o->argv[i];

    for (int i = 0; i < 3; i++) {
        int pp[2];
        switch (o->stdio[i].kind) {
        case SBX_STDIO_INHERIT:
            fds[i] = i;
            break;
        case SBX_STDIO_NULL:
            if ((fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
                spawn_fail(fail, "stdio", errno);
                rc = fail->err;
                goto done;
            }
            break;
        case SBX_STDIO_PIPE:
            if (pipe2(pp, O_CLOEXEC) < 0) {
                spawn_fail(fail, "pipe", errno);
                rc = fail->err;
                goto done;
            }
            /* stdin: the child reads pp[0]; stdout/stderr: it writes pp[1]. */
            fds[i] = i == 0 ? pp[0] : pp[1];
            parent[i] = i == 0 ? pp[1] : pp[0];
            if (fcntl(parent[i], F_SETFL, O_NONBLOCK) < 0) {
                spawn_fail(fail, "pipe", errno);
                rc = fail->err;
                goto done;
            }
#ifdef F_SETPIPE_SZ
            /* A 64 KiB pipe caps every read, and so every frame, at 64 KiB;
             * larger pipes let the runner move a full chunk per system call.
             * Best effort: past the user's pipe quota the kernel says no. */
            if (i > 0)
                (void)fcntl(parent[i], F_SETPIPE_SZ, i == 1 ? 1 << 20 : 256 << 10);
#endif
            break;
        default:
            spawn_fail(fail, "setup", EINVAL);
            rc = SBX_EINVAL;
            goto done;
        }
    }
    if (pipe2(errpipe, O_CLOEXEC) < 0) {
        spawn_fail(fail, "pipe", errno);
        rc = fail->err;
        goto done;
    }

    pid = fork();
    if (pid < 0) {
        spawn_fail(fail, "fork", errno);
        rc = fail->err;
        goto done;
    }
    if (pid == 0) {
        close(errpipe[0]);
        child_main(o, fds, cands, sh_argv, env, errpipe[1]);
        _exit(127);
    }
    p->pid = pid;
    p->group = o->new_group || o->new_session;
    /* Also from the parent, so the group exists before anyone signals it. */
    if (o->new_group && !o->new_session)
        (void)setpgid(pid, pid);
    close(errpipe[1]);
    errpipe[1] = -1;
    do {
        r = read(errpipe[0], &ce, sizeof(ce));
    } while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof(ce)) {
        /* The child failed before exec and has exited: reap it. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = 0;
        spawn_fail(fail, stage_names[ce.stage >= 0 && ce.stage < ST_COUNT_ ? ce.stage : 0],
                   ce.err);
        rc = fail->err;
        goto done;
    }

    if (o->job && p->group && (rc = start_guardian(p)) < 0) {
        spawn_fail(fail, "setup", (int)last_os_error);
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        if (parent[i] >= 0) {
            if ((rc = h_new(parent[i], 1, &o->stdio[i].h)) < 0) {
                parent[i] = -1;
                goto done;
            }
            parent[i] = -1;
        }
    }
    *out = p;
    p = NULL;
done:
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && o->stdio[i].kind != SBX_STDIO_INHERIT)
            close(fds[i]);
        if (parent[i] >= 0)
            close(parent[i]);
        if (rc < 0 && o->stdio[i].h != NULL) {
            sbx_h_close(o->stdio[i].h);
            o->stdio[i].h = NULL;
        }
    }
    if (errpipe[0] >= 0)
        close(errpipe[0]);
    if (errpipe[1] >= 0)
        close(errpipe[1]);
    free_strv(cands);
    free(sh_argv);
    if (p != NULL && p->pid > 0 && rc < 0) {
        /* Spawned, but we could not finish setting it up: do not leave it. */
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = 0;
    }
    sbx_proc_free(p);
    return rc;
}

long long sbx_proc_pid(const sbx_proc *p)
{
    return p->pid;
}

int sbx_proc_poll(sbx_proc *p, struct sbx_exit *st)
{
    int rc = proc_check(p);

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
        return errno == ESRCH ? 0 : sys_err(errno);
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
        return errno == ESRCH ? 0 : sys_err(errno);
    return 0;
}

void sbx_proc_free(sbx_proc *p)
{
    if (p == NULL)
        return;
    if (p->pid > 0 && !p->reaped && proc_check(p) == 1) {
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
    free(p);
}

/* ---- the channel ---- */

/* Larger socket buffers let one write carry several frames and halve the
 * wake-ups per MiB.  Best effort: the kernel caps them at net.core.*mem_max. */
static void chan_buffers(int fd)
{
    int size = 4 << 20;

    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static int peer_of(int fd, struct sbx_peer *peer)
{
#ifdef SO_PEERCRED
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return sys_err(errno);
    peer->pid = uc.pid;
    peer->uid = uc.uid;
    return 0;
#else
    uid_t uid;
    gid_t gid;

    if (getpeereid(fd, &uid, &gid) < 0)
        return sys_err(errno);
    peer->pid = -1; /* not available here; the nonce still binds the peer */
    peer->uid = uid;
    return 0;
#endif
}

int sbx_chan_listen(sbx_listener **lp, char *name, size_t cap, int others)
{
    static const char hex[] = "0123456789abcdef";
    const char *base = getenv("XDG_RUNTIME_DIR");
    unsigned char raw[16];
    char tag[2 * sizeof(raw) + 1];
    struct sockaddr_un sa;
    struct stat stb;
    sbx_listener *l;
    int rc;

    *lp = NULL;
    /* XDG_RUNTIME_DIR must be ours and private to be worth preferring.  A
     * runner running as another account must be able to pass through every
     * directory on the way, so then only /tmp will do. */
    if (others || base == NULL || base[0] != '/' || stat(base, &stb) < 0 ||
        stb.st_uid != geteuid())
        base = getenv("TMPDIR");
    /* The name travels to the runner on its stdin, line by line. */
    if (others || base == NULL || base[0] != '/' || strchr(base, '\n') != NULL)
        base = "/tmp";
    if ((rc = sbx_os_random(raw, sizeof(raw))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(raw); i++) {
        tag[2 * i] = hex[raw[i] >> 4];
        tag[2 * i + 1] = hex[raw[i] & 15];
    }
    tag[2 * sizeof(raw)] = '\0';
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SBX_ENOMEM;
    l->fd = -1;
    if (snprintf(l->dir, sizeof(l->dir), "%s/sbx-XXXXXX", base) >= (int)sizeof(l->dir)) {
        rc = SBX_ENAMETOOLONG;
        goto fail;
    }
    /* mkdtemp creates it 0700: nobody else can reach the socket inside. */
    if (mkdtemp(l->dir) == NULL) {
        rc = sys_err(errno);
        l->dir[0] = '\0';
        goto fail;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (snprintf(l->path, sizeof(l->path), "%s/%s", l->dir, tag) >= (int)sizeof(sa.sun_path) ||
        strlen(l->path) + 1 > cap) {
        rc = SBX_ENAMETOOLONG;
        l->path[0] = '\0';
        goto fail;
    }
    /* Bound under a placeholder name, then renamed: the kernel shows every
     * socket's bind-time path to all users (/proc/net/unix), and the name
     * the runner connects to must stay a secret. */
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/b", l->dir) >= (int)sizeof(sa.sun_path)) {
        rc = SBX_ENAMETOOLONG;
        l->path[0] = '\0';
        goto fail;
    }
    if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = sys_err(errno);
        l->path[0] = '\0';
        goto fail;
    }
    if (rename(sa.sun_path, l->path) < 0) {
        rc = sys_err(errno);
        (void)unlink(sa.sun_path);
        l->path[0] = '\0';
        goto fail;
    }
    if (listen(l->fd, 1) < 0) {
        rc = sys_err(errno);
        goto fail;
    }
    /* For another account: it may connect to the socket and pass through
     * the directory, but not list it, so the random name is the key. */
    if (others && (chmod(l->path, 0666) < 0 || chmod(l->dir, 0711) < 0)) {
        rc = sys_err(errno);
        goto fail;
    }
    memcpy(name, l->path, strlen(l->path) + 1);
    *lp = l;
    return 0;
fail:
    sbx_listener_close(l);
    return rc;
}

int sbx_chan_listen_at(sbx_listener **lp, const char *name)
{
    struct sockaddr_un sa;
    sbx_listener *l;
    int rc;

    *lp = NULL;
    if (strlen(name) >= sizeof(sa.sun_path))
        return SBX_ENAMETOOLONG;
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SBX_ENOMEM;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name) + 1);
    /* bind() refuses a path that exists: a squatter is never joined. */
    if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l->fd, 1) < 0) {
        rc = sys_err(errno);
        sbx_listener_close(l);
        return rc;
    }
    memcpy(l->path, name, strlen(name) + 1);
    *lp = l;
    return 0;
}

static void listener_unlink(sbx_listener *l)
{
    if (l->path[0]) {
        unlink(l->path);
        l->path[0] = '\0';
    }
    if (l->dir[0]) {
        rmdir(l->dir);
        l->dir[0] = '\0';
    }
}

int sbx_chan_accept(sbx_listener *l, int timeout_ms, sbx_proc *watch, sbx_h **conn,
                    struct sbx_peer *peer)
{
    long long deadline = sbx_now_ms() + timeout_ms;
    sbx_h lh = { l->fd, 0 };
    int fd, rc;

    *conn = NULL;
    for (;;) {
        struct sbx_wait w[2] = { { &lh, NULL, SBX_EV_READ, 0 },
                                 { NULL, watch, SBX_EV_EXIT, 0 } };
        long long left = deadline - sbx_now_ms();

        if (left <= 0)
            return SBX_ETIMEDOUT;
        rc = sbx_wait(w, 2, (int)left);
        if (rc < 0)
            return rc;
        if (w[0].got & SBX_EV_READ) {
            fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0)
                break;
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                return sys_err(errno);
            continue;
        }
        if (w[1].got & SBX_EV_EXIT)
            return SBX_EPIPE;
    }
    /* One connection only: nobody else may reach this endpoint now. */
    listener_unlink(l);
    close(l->fd);
    l->fd = -1;
    if ((rc = peer_of(fd, peer)) < 0) {
        close(fd);
        return rc;
    }
    chan_buffers(fd);
    return h_new(fd, 1, conn);
}

void sbx_listener_close(sbx_listener *l)
{
    if (l == NULL)
        return;
    listener_unlink(l);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server)
{
    struct sockaddr_un sa;
    int fd, rc;

    *conn = NULL;
    if (strlen(name) >= sizeof(sa.sun_path))
        return SBX_ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return sys_err(errno);
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINTR) {
            rc = sys_err(errno);
            close(fd);
            return rc;
        }
    }
    if ((rc = peer_of(fd, server)) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        rc = rc < 0 ? rc : sys_err(errno);
        close(fd);
        return rc;
    }
    chan_buffers(fd);
    return h_new(fd, 1, conn);
}

/* ---- accounts ---- */

static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *e = malloc(n + v + 2);

    if (e != NULL) {
        memcpy(e, name, n);
        e[n] = '=';
        memcpy(e + n + 1, value, v + 1);
    }
    return e;
}

int sbx_account_lookup(const char *name, sbx_account **out)
{
    struct passwd pw, *res = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    char *buf = NULL;
    sbx_account *a = NULL;
    const char *shell;
    int rc, e, n = 32;

    *out = NULL;
    if (size < 1024)
        size = 1024;
    for (;;) {
        char *nb = realloc(buf, (size_t)size);
        if (nb == NULL) {
            rc = SBX_ENOMEM;
            goto done;
        }
        buf = nb;
        e = getpwnam_r(name, &pw, buf, (size_t)size, &res);
        if (e != ERANGE || size > (1L << 20))
            break;
        size *= 2;
    }
    if (res == NULL) {
        rc = e == 0 || e == ENOENT || e == ESRCH ? SBX_ENOENT : sys_err(e);
        goto done;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    a->uid = pw.pw_uid;
    a->gid = pw.pw_gid;
    /* The account's groups as initgroups(3) would set them, computed here
     * because the child may not read files between fork and exec. */
    for (;;) {
        int got = n;
        gid_t *g = realloc(a->groups, (size_t)n * sizeof(*g));
        if (g == NULL) {
            rc = SBX_ENOMEM;
            goto done;
        }
        a->groups = g;
        if (getgrouplist(pw.pw_name, pw.pw_gid, a->groups, &got) >= 0) {
            a->ngroups = got;
            break;
        }
        if (got <= n || n > 65536) {
            rc = SBX_E2BIG;
            goto done;
        }
        n = got;
    }
    shell = pw.pw_shell && pw.pw_shell[0] ? pw.pw_shell : "/bin/sh";
    if ((a->env[0] = env_entry("HOME", pw.pw_dir ? pw.pw_dir : "/")) == NULL ||
        (a->env[1] = env_entry("USER", pw.pw_name)) == NULL ||
        (a->env[2] = env_entry("LOGNAME", pw.pw_name)) == NULL ||
        (a->env[3] = env_entry("SHELL", shell)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    *out = a;
    a = NULL;
    rc = 0;
done:
    sbx_account_free(a);
    free(buf);
    return rc;
}

long long sbx_account_uid(const sbx_account *a)
{
    return a->uid;
}

char *const *sbx_account_env(const sbx_account *a)
{
    return a->env;
}

void sbx_account_free(sbx_account *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < 4; i++)
        free(a->env[i]);
    free(a->groups);
    free(a);
}

void sbx_os_user_name(long long uid, char *buf, size_t cap)
{
    struct passwd pw, *res = NULL;
    char tmp[4096];

    if (getpwuid_r((uid_t)uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
        snprintf(buf, cap, "%s", pw.pw_name);
    else
        snprintf(buf, cap, "uid %lld", uid);
}

int sbx_secret_offer(const void *data, size_t n, sbx_h **keep, char *arg, size_t cap)
{
    (void)data;
    (void)n;
    (void)arg;
    (void)cap;
    *keep = NULL;
    return SBX_ENOTSUP;
}

int sbx_secret_take(long long pid, const char *arg, sbx_h **out)
{
    (void)pid;
    (void)arg;
    *out = NULL;
    return SBX_ENOTSUP;
}

void sbx_os_audit(const char *line)
{
    openlog("sbx-runner", LOG_PID, LOG_AUTHPRIV);
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
    closelog();
}

/* ---- this process ---- */

int sbx_os_args(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int sbx_os_abspath(const char *path, char **out)
{
    char *here = NULL, *p;
    int rc;

    if (path[0] == '/') {
        if ((*out = strdup(path)) == NULL)
            return SBX_ENOMEM;
        return 0;
    }
    if ((rc = sbx_os_getcwd(&here)) < 0)
        return rc;
    if ((p = malloc(strlen(here) + strlen(path) + 2)) == NULL) {
        free(here);
        return SBX_ENOMEM;
    }
    sprintf(p, "%s/%s", here, path);
    free(here);
    *out = p;
    return 0;
}

const char *sbx_os_exe_suffix(void)
{
    return "";
}

int sbx_os_env_name_cmp(const char *a, const char *b, size_t n)
{
    return strncmp(a, b, n);
}

int sbx_os_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sys_err(errno);
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int sbx_os_self_dir(char **dir)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    char *slash;

    if (n < 0)
        return sys_err(errno);
    if ((size_t)n >= sizeof(buf) - 1)
        return SBX_ENAMETOOLONG;
    buf[n] = '\0';
    if ((slash = strrchr(buf, '/')) == NULL)
        return SBX_EINVAL;
    *slash = '\0';
    if ((*dir = strdup(buf[0] ? buf : "/")) == NULL)
        return SBX_ENOMEM;
    return 0;
}

int sbx_os_getcwd(char **cwd)
{
    char *p = getcwd(NULL, 0);

    if (p == NULL)
        return sys_err(errno);
    *cwd = p;
    return 0;
}

char **sbx_os_environ(void)
{
    return environ;
}

long long sbx_os_pid(void)
{
    return getpid();
}

long long sbx_os_uid(void)
{
    return geteuid();
}

int sbx_os_privileged(void)
{
    return geteuid() == 0;
}

const char *sbx_os_launcher(void)
{
    return "sudo";
}

int sbx_os_executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int sbx_os_std_to_null(int which)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return sys_err(errno);
    if (fd != which) {
        if (dup2(fd, which) < 0)
            rc = sys_err(errno);
        close(fd);
    } else if (fcntl(fd, F_SETFD, 0) < 0) {
        rc = sys_err(errno);
    }
    return rc;
}

int sbx_os_sanitize_fds(void)
{
    DIR *d;
    struct dirent *de;
    int rc;

    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0 && errno == EBADF && (rc = sbx_os_std_to_null(i)) < 0)
            return rc;
    /* /proc/self/fd lists exactly what is open; fall back to a bounded scan
     * where it is not mounted. */
    if ((d = opendir("/proc/self/fd")) != NULL) {
        int self = dirfd(d);
        while ((de = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(de->d_name, &end, 10);
            if (*end == '\0' && end != de->d_name && fd > 2 && fd != self)
                close((int)fd);
        }
        closedir(d);
        return 0;
    }
    for (int fd = 3; fd < 4096; fd++)
        close(fd);
    return 0;
}

int sbx_os_die_with_parent(long long ppid)
{
#ifdef __linux__
    if ((long long)getppid() != ppid)
        return 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return sys_err(errno);
    /* The parent may have died before the request took effect. */
    if ((long long)getppid() != ppid)
        return SBX_EPIPE;
#else
    (void)ppid;
#endif
    return 0;
}

int sbx_os_replace_file(const char *tmp, const char *path)
{
    if (rename(tmp, path) < 0)
        return sys_err(errno);
    return 0;
}

void sbx_os_exit_like(const struct sbx_exit *st)
{
    if (st->how == SBX_SIGNALED) {
        struct sigaction sa;
        struct rlimit rl = { 0, 0 };
        sigset_t set;
        int sig = st->signal;

        /* The child's death by signal N must look the same to our parent:
         * die by N ourselves, without leaving a core file of sbx. */
        (void)setrlimit(RLIMIT_CORE, &rl);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        if (sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
        fflush(NULL);
        /* Stop signals would only suspend us; they and anything that does
         * not kill fall through to the 128+N convention. */
        if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
            raise(sig);
        _exit(128 + (sig & 0x7f));
    }
    fflush(NULL);
    exit((int)(st->code & 0xff));
}
