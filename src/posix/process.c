/* POSIX: starting a process, and the guardian that contains its tree
 * (watching, signalling and releasing it afterwards is proc.c). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#ifdef __linux__
#include <sched.h>
#include <sys/mman.h>
#endif

extern char **environ;

/* On Linux the child starts with clone(CLONE_VM | CLONE_VFORK): it runs on
 * a stack of its own in our memory while we are suspended, until it has
 * exec'd or exited.  Nothing of ours is copied for it, where fork() copies
 * every page table only for exec to throw them away.  Since we cannot act
 * while it runs, the child sets up its own containment before exec: its
 * group, the guardian (which it starts as a child of ours, born in that
 * group) and, with a terminal, the group in the foreground.  Elsewhere, or
 * built with -DSBX_SPAWN_FORK, fork(): the child waits before exec on a
 * "go" pipe while we set up the same containment from this side. */
#if defined(__linux__) && !defined(SBX_SPAWN_FORK)
#define VFORK_SPAWN 1
#else
#define VFORK_SPAWN 0
#endif

/* Code that runs in the child on its own stack in our memory is not
 * instrumented by AddressSanitizer: it would poison the shadow of that
 * stack (or put frames on its fake stack, in our heap), and a function
 * that never returns never cleans up after itself. */
#if VFORK_SPAWN && defined(__GNUC__)
#define CHILD_SIDE __attribute__((noinline, no_sanitize_address))
#else
#define CHILD_SIDE
#endif

/* What the child reports through the report pipe: a failure before exec,
 * or (MSG_GUARDIAN) the guardian it started. */
struct child_err {
    int stage; /* index into stage_names, or MSG_GUARDIAN */
    int err;   /* errno, or the guardian's pid */
};

static const char *const stage_names[] = { "setup", "chdir", "exec", "stdio", "user", "tty" };
enum { ST_SETUP, ST_CHDIR, ST_EXEC, ST_STDIO, ST_USER, ST_TTY, ST_COUNT_, MSG_GUARDIAN = 100 };

/* Everything the child needs, prepared before it starts: it may only make
 * async-signal-safe calls, and it reads this from our memory. */
struct child_ctx {
    const struct sbx_spawn_opts *o;
    int new_group;
    int fds[3];        /* what goes on its 0, 1, 2; -1: left alone */
    char **cands;      /* the paths execvp would try, in order */
    char **sh_argv;    /* for a file without #!; the child sets [1] */
    char *const *env;
    int errfd;         /* the write end of the report pipe */
    int gofd;          /* fork: the read end of the "go" pipe; else -1 */
    int guard_rfd;     /* clone, with `job`: the guardian's end of its pipe */
    int fg_fd;         /* clone: the terminal whose foreground it takes, or -1 */
    char *guard_stack; /* clone: the top of the guardian's stack */
};

static void spawn_fail(struct sbx_spawn_fail *f, const char *stage, int e)
{
    f->stage = stage;
    f->err = sbx__sys_err(e);
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

/* The candidates execvp would try for `file`, built before the child starts
 * because the child may only make async-signal-safe calls. */
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

static CHILD_SIDE _Noreturn void child_report(int fd, int stage, int err)
{
    struct child_err ce = { stage, err };
    (void)!write(fd, &ce, sizeof(ce));
    _exit(127);
}

#if VFORK_SPAWN
/* The raw system calls, not glibc's wrappers: in a process that has ever
 * had a second thread, those apply the change to every thread of the
 * process, and the process glibc would see from the child is ours. */
#ifdef SYS_setuid32
#define SYS_SETGROUPS_ SYS_setgroups32
#define SYS_SETGID_ SYS_setgid32
#define SYS_SETUID_ SYS_setuid32
#define SYS_SETRESGID_ SYS_setresgid32
#define SYS_SETRESUID_ SYS_setresuid32
#else
#define SYS_SETGROUPS_ SYS_setgroups
#define SYS_SETGID_ SYS_setgid
#define SYS_SETUID_ SYS_setuid
#define SYS_SETRESGID_ SYS_setresgid
#define SYS_SETRESUID_ SYS_setresuid
#endif
#define set_groups(n, g) syscall(SYS_SETGROUPS_, (long)(n), (g))
#define set_gid(id) syscall(SYS_SETGID_, (long)(id))
#define set_uid(id) syscall(SYS_SETUID_, (long)(id))
#define set_egid(id) syscall(SYS_SETRESGID_, -1L, (long)(id), -1L)
#define set_euid(id) syscall(SYS_SETRESUID_, -1L, (long)(id), -1L)
#else
#define set_groups(n, g) setgroups((size_t)(n), (g))
#define set_gid(id) setgid(id)
#define set_uid(id) setuid(id)
#define set_egid(id) setegid(id)
#define set_euid(id) seteuid(id)
#endif

static CHILD_SIDE _Noreturn void guardian_main(int rfd, pid_t group, int join);

#if VFORK_SPAWN
struct guard_args {
    int rfd;
    pid_t group;
    int join;
};

/* The guardian's first function, in a copy of our memory, on the stack
 * set aside for it: not instrumented either, as nothing on that stack. */
static CHILD_SIDE int guardian_entry(void *arg)
{
    const struct guard_args *g = arg;

    guardian_main(g->rfd, g->group, g->join);
}

/* In the child, before anything of the command runs: the guardian, as a
 * child of ours (CLONE_PARENT) so that we reap it as any other, in a copy
 * of our memory rather than a share of it.  After setpgid() it is born in
 * the child's group: nothing has to wait for it to join.  It runs with the
 * ids the child has now, before any switch to another account, so that
 * account cannot signal it.  Its pid reaches us through the report pipe. */
static CHILD_SIDE void child_guardian(const struct child_ctx *c, int errfd, int join)
{
    struct guard_args g = { c->guard_rfd, getpid(), join };
    struct child_err msg;
    pid_t pid = clone(guardian_entry, c->guard_stack, CLONE_PARENT | SIGCHLD, &g);

    if (pid < 0)
        child_report(errfd, ST_SETUP, errno);
    msg.stage = MSG_GUARDIAN;
    msg.err = (int)pid;
    /* A few bytes into an empty pipe whose reader is alive: no short write. */
    if (write(errfd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
        child_report(errfd, ST_SETUP, errno);
}
#endif

/* Runs in the child before exec: async-signal-safe calls only.  Every
 * signal is blocked on entry (sbx_proc_spawn blocks them around the start),
 * so none of the parent's handlers can run in here, and the command gets
 * its empty mask only at the last moment.  With clone(), it writes nothing
 * of ours but its own stack, the /bin/sh vector prepared for it, the
 * report pipe and errno (our thread's, which we do not look at before we
 * resume). */
static CHILD_SIDE _Noreturn void child_main(const struct child_ctx *c)
{
    const struct sbx_spawn_opts *o = c->o;
    struct sigaction sa;
    sigset_t none;
    int moved[3] = { -1, -1, -1 };
    int saw_eacces = 0, last = ENOENT, fd, e;
    int errfd = c->errfd, gofd = c->gofd;
    ssize_t r;
    char go;

    /* Our own pipes first: with a standard stream of the parent closed,
     * either may sit at 0, 1 or 2, where the dup2() calls below would
     * overwrite it. */
    if (errfd < 3) {
        if ((fd = fcntl(errfd, F_DUPFD_CLOEXEC, 3)) < 0)
            child_report(errfd, ST_SETUP, errno);
        errfd = fd;
    }
    if (gofd >= 0 && gofd < 3 && (gofd = fcntl(gofd, F_DUPFD_CLOEXEC, 3)) < 0)
        child_report(errfd, ST_SETUP, errno);

    /* With a terminal, a new group in our session, never a session of its
     * own: a session leader's group has no parent outside it in the
     * session, and the kernel drops the terminal's stop signals for such
     * a group, so Ctrl-Z would do nothing. */
    if (o->new_session) {
#if VFORK_SPAWN
        /* Started first, it stays in our session and watches from there. */
        if (c->guard_rfd >= 0)
            child_guardian(c, errfd, 0);
#endif
        if (setsid() < 0)
            child_report(errfd, ST_SETUP, errno);
    } else if (c->new_group) {
        if (setpgid(0, 0) < 0)
            child_report(errfd, ST_SETUP, errno);
#if VFORK_SPAWN
        if (c->guard_rfd >= 0)
            child_guardian(c, errfd, 1);
        /* A background group may take the foreground while SIGTTOU is
         * blocked, as it is here. */
        if (c->fg_fd >= 0 && tcsetpgrp(c->fg_fd, getpid()) < 0)
            child_report(errfd, ST_TTY, errno);
#endif
    }

    /* Dispositions and the mask are inherited across exec: give the child
     * the defaults a shell would.  Still blocked, a signal that comes now
     * waits for the default action instead of running a handler of ours. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &sa, NULL);

    /* Every source is copied above 2 before anything is put on 0, 1 or 2,
     * so that no dup2() can overwrite a source a later one still needs (a
     * pipe end lands on 0, 1 or 2 when the parent had that stream closed).
     * The copies are close-on-exec; dup2() from a copy also clears
     * close-on-exec on the target, which dup2() onto itself would not. */
    for (int i = 0; i < 3; i++)
        if (c->fds[i] >= 0 && (moved[i] = fcntl(c->fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
            child_report(errfd, ST_STDIO, errno);
    for (int i = 0; i < 3; i++)
        if (moved[i] >= 0 && dup2(moved[i], i) < 0)
            child_report(errfd, ST_STDIO, errno);

    if (o->as != NULL) {
        /* Groups first, while we may still change them; the uid last. */
        const sbx_account *a = o->as;
        if (set_groups(a->ngroups, a->groups) < 0 || set_gid(a->gid) < 0 || set_uid(a->uid) < 0)
            child_report(errfd, ST_USER, errno);
        /* The drop must be for good: no way back to root's ids. */
        if (a->uid != 0 && (set_uid(0) == 0 || set_euid(0) == 0))
            child_report(errfd, ST_USER, EPERM);
        if (a->gid != 0 && (set_gid(0) == 0 || set_egid(0) == 0))
            child_report(errfd, ST_USER, EPERM);
    }
    /* After the switch, so the account's own rights decide. */
    if (o->cwd != NULL && chdir(o->cwd) < 0)
        child_report(errfd, ST_CHDIR, errno);

    /* fork(): held here until the parent has the containment in place: the
     * group set from both sides and the guardian in it, and with a
     * terminal the group in its foreground when it should be.  End of file
     * instead of the byte means the parent gave up, or died: nothing of
     * the command may run, so leave quietly. */
    if (gofd >= 0) {
        do {
            r = read(gofd, &go, 1);
        } while (r < 0 && errno == EINTR);
        if (r != 1)
            _exit(127);
    }
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    for (char **cand = c->cands; *cand; cand++) {
        execve(*cand, o->argv, c->env);
        switch ((e = errno)) {
        case ENOEXEC:
            /* A file without #!: run it with the shell, like execvp. */
            c->sh_argv[1] = *cand;
            execve("/bin/sh", c->sh_argv, c->env);
            child_report(errfd, ST_EXEC, ENOEXEC);
        case EACCES:
            /* Only a file that exists makes "permission denied" the answer;
             * an unsearchable PATH directory just hides nothing, as in a
             * shell.  access() is async-signal-safe. */
            if (access(*cand, F_OK) == 0)
                saw_eacces = 1;
            continue;
        case ENOENT:
        case ENOTDIR:
        case ESTALE:
        case ENODEV:
        case ETIMEDOUT:
            last = e;
            continue;
        default:
            child_report(errfd, ST_EXEC, e);
        }
    }
    child_report(errfd, ST_EXEC, saw_eacces ? EACCES : last);
}

#if VFORK_SPAWN
static CHILD_SIDE int child_entry(void *arg)
{
    child_main(arg);
}
#endif

/* The guardian: a process that waits for end of file on a pipe whose other
 * end only the runner holds, then kills the command's process group by its
 * id.  If the runner dies, even by SIGKILL, the command's tree goes with
 * it.  With `join` it is a member of the group, which keeps the group id
 * from being reused while it waits; a group in a new session cannot be
 * joined, and is then watched from outside.  Started by fork(), or from the
 * child by clone() without CLONE_VM: a process of its own either way, with
 * async-signal-safe calls only and every signal blocked on entry. */
static CHILD_SIDE _Noreturn void guardian_main(int rfd, pid_t group, int join)
{
    struct sigaction sa;
    struct rlimit rl;
    sigset_t none;
    char c;

    /* Not in the group means not containing it: end it now rather than
     * watch something it cannot vouch for (the parent sees its own
     * setpgid() fail too, and gives up the spawn).  Born in it already
     * when the child started it: then this only confirms it. */
    if (join && setpgid(0, group) < 0) {
        (void)kill(-group, SIGKILL);
        _exit(1);
    }
    /* Signals forwarded to the group are for the command, not for us. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD)
            (void)sigaction(s, &sa, NULL);
    /* SIGCHLD ignored would change how children are reaped; it has none,
     * but the parent's handler must not stay either. */
    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGCHLD, &sa, NULL);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
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
    /* By the id, never kill(0): outside the group that would be our own
     * group, the runner's. */
    (void)kill(-group, SIGKILL);
    _exit(0);
}

#if !VFORK_SPAWN
/* fork(): starts the guardian of p's group from this side; on failure after
 * the fork, p holds it (guardian, guard_fd) and sbx_proc_free() ends it. */
static int start_guardian(sbx_proc *p, int join)
{
    sigset_t all, old;
    int gp[2], e;
    pid_t g;

    if (pipe2(gp, O_CLOEXEC) < 0)
        return sbx__sys_err(errno);
    /* As around the command's fork: none of our handlers may run in the
     * guardian before it has set its own dispositions. */
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, &old) < 0) {
        e = errno;
        close(gp[0]);
        close(gp[1]);
        return sbx__sys_err(e);
    }
    g = fork();
    e = errno;
    if (g == 0)
        guardian_main(gp[0], p->pid, join);
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    close(gp[0]);
    if (g < 0) {
        close(gp[1]);
        return sbx__sys_err(e);
    }
    p->guardian = g;
    p->guard_fd = gp[1];
    /* From this side too, so the guardian is in the group before the
     * command may run; checked, because a guardian outside the group would
     * not contain it. */
    if (join && setpgid(g, p->pid) < 0)
        return sbx__sys_err(errno);
    return 0;
}
#endif

#if VFORK_SPAWN
/* One mapping for what the child and the guardian use of our memory: a
 * page that faults on overflow, the child's stack, the guardian's (its own
 * copy once it is a process) and the argument vector for /bin/sh.  The
 * child needs little stack: async-signal-safe calls only. */
#define CHILD_STACK ((size_t)64 << 10)
#define GUARDIAN_STACK ((size_t)32 << 10)

struct child_mem {
    char *base;
    size_t len;
};

static int child_mem_map(struct child_mem *m, size_t argc, struct child_ctx *c, char **stack_top)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t vec = (argc + 3) * sizeof(char *);
    char *b;

    m->len = page + CHILD_STACK + GUARDIAN_STACK + (vec + page - 1) / page * page;
    b = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1,
             0);
    if (b == MAP_FAILED)
        return errno;
    if (mprotect(b, page, PROT_NONE) < 0) {
        int e = errno;
        munmap(b, m->len);
        return e;
    }
    m->base = b;
    *stack_top = b + page + CHILD_STACK;
    c->guard_stack = *stack_top + GUARDIAN_STACK;
    c->sh_argv = (char **)(void *)c->guard_stack;
    return 0;
}
#endif

int sbx_proc_spawn(struct sbx_spawn_opts *o, sbx_proc **out, struct sbx_spawn_fail *fail)
{
    int fds[3] = { -1, -1, -1 };     /* the child's ends */
    int parent[3] = { -1, -1, -1 };  /* our ends of pipes */
    int master = -1, follower = -1;  /* the command's terminal */
    const struct sbx_spawn_tty *tty = o->tty;
    int new_group = o->new_group || tty != NULL;
    const char *tty_detail = NULL;
    int errpipe[2] = { -1, -1 };
    char *const *env = o->env ? o->env : environ;
    char **cands = NULL, **sh_argv = NULL;
    struct child_ctx ctx;
    sbx_proc *p = NULL;
    size_t argc = 0;
    struct child_err ce;
    sigset_t all, old;
    const char *held = NULL; /* why the child was not released */
    int held_err = 0;
    ssize_t r;
    pid_t pid;
    int rc = 0, e;
#if VFORK_SPAWN
    struct child_mem mem = { NULL, 0 };
    char *stack_top = NULL;
    int gp[2] = { -1, -1 }; /* the guardian's pipe; it holds [0] */
    int failed = 0;
#else
    int gopipe[2] = { -1, -1 }; /* the child waits on [0] for our "go" */
#endif

    *out = NULL;
    memset(fail, 0, sizeof(*fail));
    memset(&ctx, 0, sizeof(ctx));
    for (int i = 0; i < 3; i++)
        o->stdio[i].h = NULL;
    o->tty_master = NULL;

    if ((p = calloc(1, sizeof(*p))) == NULL) {
        spawn_fail(fail, "setup", ENOMEM);
        return SBX_ENOMEM;
    }
    p->guard_fd = -1;
    p->tty_fd = -1;
    if (o->elevate) {
        spawn_fail(fail, "setup", ENOTSUP);
        free(p);
        return SBX_ENOTSUP;
    }
    /* A terminal needs the command in our session, which a session of its
     * own is not; and at least one stream on it. */
    if (tty != NULL && (o->new_session || (tty->streams & 7u) == 0 || (tty->streams & ~7u))) {
        spawn_fail(fail, "setup", EINVAL);
        free(p);
        return SBX_EINVAL;
    }
    cands = path_candidates(o->file, env, o->search_path);
    while (o->argv[argc] != NULL)
        argc++;
    if (cands == NULL) {
        spawn_fail(fail, "setup", ENOMEM);
        rc = SBX_ENOMEM;
        goto done;
    }
#if VFORK_SPAWN
    if ((e = child_mem_map(&mem, argc, &ctx, &stack_top)) != 0) {
        spawn_fail(fail, "setup", e);
        rc = fail->err;
        goto done;
    }
    sh_argv = ctx.sh_argv;
#else
    if ((sh_argv = calloc(argc + 3, sizeof(*sh_argv))) == NULL) {
        spawn_fail(fail, "setup", ENOMEM);
        rc = SBX_ENOMEM;
        goto done;
    }
#endif
    /* "/bin/sh", the file (set by the child), argv[1...], NULL. */
    sh_argv[0] = (char *)"/bin/sh";
    for (size_t i = 1; i < argc; i++)
        sh_argv[i + 1] = o->argv[i];

    if (tty != NULL) {
        if ((rc = sbx__pty_open(tty, o->as, &master, &follower, &tty_detail)) < 0) {
            spawn_fail(fail, "tty", (int)sbx_os_last_error());
            fail->err = rc;
            fail->detail = tty_detail;
            goto done;
        }
    }
    for (int i = 0; i < 3; i++) {
        int pp[2];
        if (tty != NULL && (tty->streams & (1u << i))) {
            fds[i] = follower;
            continue;
        }
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
        case SBX_STDIO_HANDLE:
            /* A copy, so that closing ours below never touches the
             * caller's. */
            if (o->stdio[i].give == NULL ||
                (fds[i] = fcntl(o->stdio[i].give->fd, F_DUPFD_CLOEXEC, 3)) < 0) {
                spawn_fail(fail, "stdio", o->stdio[i].give == NULL ? EINVAL : errno);
                rc = fail->err;
                goto done;
            }
            break;
        case SBX_STDIO_STDOUT:
            /* 2>&1: a second descriptor of stdout's pipe, no pipe of its
             * own, so what the command writes to the two arrives in the
             * order it wrote it.  Only stderr, after a stdout that is a
             * pipe of ours. */
            if (i != 2 || o->stdio[1].kind != SBX_STDIO_PIPE || parent[1] < 0) {
                spawn_fail(fail, "setup", EINVAL);
                rc = SBX_EINVAL;
                goto done;
            }
            if ((fds[2] = fcntl(fds[1], F_DUPFD_CLOEXEC, 3)) < 0) {
                spawn_fail(fail, "pipe", errno);
                rc = fail->err;
                goto done;
            }
            break;
        default:
            spawn_fail(fail, "setup", EINVAL);
            rc = SBX_EINVAL;
            goto done;
        }
    }
#if VFORK_SPAWN
    /* Non-blocking: once we resume, whatever the child reported is in the
     * pipe, and the guardian may still hold a copy of the write end. */
    if (pipe2(errpipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
        (o->job && (new_group || o->new_session) && pipe2(gp, O_CLOEXEC) < 0)) {
#else
    if (pipe2(errpipe, O_CLOEXEC) < 0 || pipe2(gopipe, O_CLOEXEC) < 0) {
#endif
        spawn_fail(fail, "pipe", errno);
        rc = fail->err;
        goto done;
    }

    ctx.o = o;
    ctx.new_group = new_group;
    memcpy(ctx.fds, fds, sizeof(ctx.fds));
    ctx.cands = cands;
    ctx.sh_argv = sh_argv;
    ctx.env = env;
    ctx.errfd = errpipe[1];
#if VFORK_SPAWN
    ctx.gofd = -1;
    ctx.guard_rfd = gp[0];
    ctx.fg_fd = tty != NULL && tty->foreground ? follower : -1;
#else
    ctx.gofd = gopipe[0];
    ctx.guard_rfd = -1;
    ctx.fg_fd = -1;
#endif

    /* Every signal blocked across the start, as libuv does: a handler of
     * ours running in the child before it has reset the dispositions would
     * act on our state (the self-pipe) from the wrong process. */
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, &old) < 0) {
        spawn_fail(fail, "setup", errno);
        rc = fail->err;
        goto done;
    }
#if VFORK_SPAWN
    pid = clone(child_entry, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
    e = errno; /* meaningful only on failure: the child shares our errno */
#else
    pid = fork();
    e = errno;
    if (pid == 0) {
        close(errpipe[0]);
        close(gopipe[1]);
        if (master >= 0)
            close(master);
        child_main(&ctx);
    }
#endif
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        spawn_fail(fail, "fork", e);
        rc = fail->err;
        goto done;
    }
    p->pid = pid;
    p->group = new_group || o->new_session;
    close(errpipe[1]);
    errpipe[1] = -1;

#if VFORK_SPAWN
    /* The child has exec'd or exited: its group, guardian and terminal
     * were set up by then, and what it reported is in the pipe. */
    for (;;) {
        r = read(errpipe[0], &ce, sizeof(ce));
        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof(ce))
            break;
        if (ce.stage == MSG_GUARDIAN && gp[1] >= 0) {
            p->guardian = (pid_t)ce.err;
            p->guard_fd = gp[1];
            gp[1] = -1;
            continue;
        }
        failed = 1;
        break;
    }
    if (failed) {
        /* The child failed before exec and has exited; it is reaped below. */
        spawn_fail(fail, stage_names[ce.stage >= 0 && ce.stage < ST_COUNT_ ? ce.stage : 0],
                   ce.err);
        rc = fail->err;
        goto done;
    }
#else
    close(gopipe[0]);
    gopipe[0] = -1;

    /* The containment, while the child waits for "go".  The group from
     * this side too, so it exists before anyone signals it; checked, since
     * the child cannot have exec'd yet and a failure means no group. */
    if (new_group && !o->new_session && setpgid(pid, pid) < 0) {
        held = "setup";
        held_err = errno;
    } else if (o->job && p->group && start_guardian(p, !o->new_session) < 0) {
        held = "setup";
        held_err = (int)sbx_os_last_error();
    } else if (tty != NULL && tty->foreground && sbx__pty_foreground(follower, pid) < 0) {
        held = "tty";
        held_err = (int)sbx_os_last_error();
    } else {
        do {
            r = write(gopipe[1], "g", 1);
        } while (r < 0 && errno == EINTR);
        if (r != 1) {
            /* The child is gone before exec; its report, if any, says why. */
            held = "setup";
            held_err = r < 0 ? errno : EIO;
        }
    }
    close(gopipe[1]);
    gopipe[1] = -1;

    do {
        r = read(errpipe[0], &ce, sizeof(ce));
    } while (r < 0 && errno == EINTR);
    if (r == (ssize_t)sizeof(ce)) {
        /* The child failed before exec and has exited; it is reaped below. */
        spawn_fail(fail, stage_names[ce.stage >= 0 && ce.stage < ST_COUNT_ ? ce.stage : 0],
                   ce.err);
        rc = fail->err;
        goto done;
    }
#endif
    if (held != NULL) {
        spawn_fail(fail, held, held_err);
        rc = fail->err;
        goto done;
    }

    for (int i = 0; i < 3; i++) {
        if (parent[i] >= 0) {
            if ((rc = sbx__h_new(parent[i], 1, &o->stdio[i].h)) < 0) {
                parent[i] = -1;
                goto done;
            }
            parent[i] = -1;
        }
    }
    if (master >= 0) {
        /* A copy for continue and resize, so they never act on a number
         * the caller has closed and the system has reused. */
        if ((p->tty_fd = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0) {
            spawn_fail(fail, "tty", errno);
            rc = fail->err;
            goto done;
        }
        if ((rc = sbx__h_new(master, 1, &o->tty_master)) < 0) {
            master = -1;
            goto done;
        }
        o->tty_master->eio_eof = 1;
        master = -1;
    }
    *out = p;
    p = NULL;
done:
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && fds[i] == follower)
            continue;
        if (fds[i] >= 0 && o->stdio[i].kind != SBX_STDIO_INHERIT)
            close(fds[i]);
        if (parent[i] >= 0)
            close(parent[i]);
        if (rc < 0 && o->stdio[i].h != NULL) {
            sbx_h_close(o->stdio[i].h);
            o->stdio[i].h = NULL;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (errpipe[i] >= 0)
            close(errpipe[i]);
#if VFORK_SPAWN
        /* A guardian the child never reported (it died in between) sees
         * end of file here, and ends the group. */
        if (gp[i] >= 0)
            close(gp[i]);
#else
        if (gopipe[i] >= 0)
            close(gopipe[i]);
#endif
    }
    /* The command holds the follower now; ours would keep the master from
     * ever reading end of file once the command is gone. */
    if (follower >= 0)
        close(follower);
    if (master >= 0)
        close(master);
    if (rc < 0 && o->tty_master != NULL) {
        sbx_h_close(o->tty_master);
        o->tty_master = NULL;
    }
    free_strv(cands);
#if VFORK_SPAWN
    /* The child runs on it no more: it has exec'd or exited. */
    if (mem.base != NULL)
        munmap(mem.base, mem.len);
#else
    free(sh_argv);
#endif
    if (p != NULL && rc < 0) {
        /* Spawned, but we could not finish setting it up: do not leave it.
         * The guardian goes first, while the child's pid, not yet reaped,
         * still keeps the group id from being reused. */
        if (p->guard_fd >= 0) {
            close(p->guard_fd);
            p->guard_fd = -1;
            while (waitpid(p->guardian, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        if (p->pid > 0) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                ;
            p->pid = 0;
        }
    }
    sbx_proc_free(p);
    return rc;
}
