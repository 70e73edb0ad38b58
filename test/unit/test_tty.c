/* The platform layer's terminal and job-control calls (src/os.h), against
 * real pseudo-terminals the tests open themselves.
 *
 * Each case runs its body in a child of its own, because the body changes
 * what a process can change only once or only for itself: its session, its
 * controlling terminal, its process group, its signal dispositions.  The
 * body reports a failed check on a pipe and exits 1; the test asserts on
 * that report.  Every wait in here has a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "err.h"
#include "os.h"

/* ---- running a body in a child ---- */

static int rep_fd = -1;

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            dprintf(rep_fd, "line %d: %s (errno %d, os %lld)\n", __LINE__, #c, errno,      \
                    sbx_os_last_error());                                                 \
            _exit(1);                                                                     \
        }                                                                                 \
    } while (0)

/* Runs body() in a child, which may make itself a session or group leader;
 * fails the test with the child's report unless it exits 0 in time.  On a
 * timeout the child, its group and its session's members it leads are
 * killed. */
static void run_child(void (*body)(void), int timeout_ms)
{
    char msg[2048] = "";
    size_t have = 0;
    int pp[2], status = 0;
    long long deadline;
    pid_t pid, r;

    cr_assert_eq(pipe(pp), 0);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(pp[0]);
        rep_fd = pp[1];
        body();
        _exit(0);
    }
    close(pp[1]);
    deadline = sbx_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = { pp[0], POLLIN, 0 };
        long long left = deadline - sbx_now_ms();
        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(pp[0], msg + have, sizeof(msg) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        msg[have] = '\0';
    }
    close(pp[0]);
    for (;;) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (sbx_now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            cr_assert_fail("timed out after %d ms: %s", timeout_ms, msg);
        }
        usleep(10000);
    }
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x: %s", status,
              msg);
}

/* ---- helpers for bodies ---- */

/* A new pseudo-terminal pair; the follower opened without becoming
 * anyone's controlling terminal. */
static void open_pair(int *m, int *f)
{
    char name[128];

    CHECK((*m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
    CHECK(grantpt(*m) == 0 && unlockpt(*m) == 0);
    CHECK(ptsname_r(*m, name, sizeof(name)) == 0);
    CHECK((*f = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
}

/* This process leads a new session whose controlling terminal is a new
 * pty, 30 x 90; returns the follower in *f (the master in *m). */
static void harness_ctty(int *m, int *f)
{
    struct winsize ws = { 30, 90, 0, 0 };

    CHECK(sbx_os_lead_session() == 0);
    open_pair(m, f);
    CHECK(ioctl(*f, TIOCSCTTY, 0) == 0);
    CHECK(ioctl(*f, TIOCSWINSZ, &ws) == 0);
}

static int same_modes(const struct termios *a, const struct termios *b)
{
    return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
           a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0 &&
           cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

/* Modes a person might have: another interrupt key, no echo. */
static void personal_modes(int f, struct termios *out)
{
    struct termios t;

    CHECK(tcgetattr(f, &t) == 0);
    t.c_cc[VINTR] = 0x18; /* ^X */
    t.c_lflag &= ~(tcflag_t)ECHO;
    CHECK(tcsetattr(f, TCSANOW, &t) == 0);
    CHECK(tcgetattr(f, out) == 0);
}

struct text {
    char s[65536];
    size_t n;
};

/* Reads h into t until `want` shows up (1), or until end of file when
 * want is NULL (1); 0 at the deadline, or at end of file or an error
 * before `want`. */
static int read_until(sbx_h *h, struct text *t, const char *want, int ms)
{
    long long end = sbx_now_ms() + ms;

    t->s[t->n] = '\0';
    while (want == NULL || strstr(t->s, want) == NULL) {
        struct sbx_wait w = { h, NULL, SBX_EV_READ, 0 };
        long long left = end - sbx_now_ms();
        size_t got;
        int rc;

        if (left <= 0 || t->n >= sizeof(t->s) - 1)
            return 0;
        rc = sbx_wait(&w, 1, (int)left);
        if (rc == SBX_EINTR) {
            (void)sbx_sig_take();
            continue;
        }
        if (rc <= 0)
            continue;
        rc = sbx_h_read(h, t->s + t->n, sizeof(t->s) - 1 - t->n, &got);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR)
            continue;
        if (rc < 0)
            return 0;
        if (got == 0)
            return want == NULL;
        t->n += got;
        t->s[t->n] = '\0';
    }
    return 1;
}

static int read_to_eof(sbx_h *h, struct text *t, int ms)
{
    return read_until(h, t, NULL, ms);
}

static void put(sbx_h *h, const char *s)
{
    size_t n = strlen(s), put;

    while (n > 0) {
        int rc = sbx_h_write(h, s, n, &put);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR) {
            usleep(1000);
            continue;
        }
        CHECK(rc == 0);
        s += put;
        n -= put;
    }
}

static int wait_exit(sbx_proc *p, struct sbx_exit *st, int ms)
{
    long long end = sbx_now_ms() + ms;

    for (;;) {
        struct sbx_wait w = { NULL, p, SBX_EV_EXIT, 0 };
        long long left = end - sbx_now_ms();
        if (sbx_proc_poll(p, st) == 0)
            return 1;
        if (left <= 0)
            return 0;
        if (sbx_wait(&w, 1, (int)left) == SBX_EINTR)
            (void)sbx_sig_take();
    }
}

/* Waits for a stop or continue of p: 1 and *sig as sbx_proc_stopped says,
 * or 0 at the deadline. */
static int wait_state(sbx_proc *p, int *sig, int ms)
{
    long long end = sbx_now_ms() + ms;

    for (;;) {
        struct sbx_wait w = { NULL, p, SBX_EV_STATE, 0 };
        long long left = end - sbx_now_ms();
        int rc = sbx_wait(&w, 1, left > 0 ? (int)left : 0);
        if (rc == SBX_EINTR) {
            (void)sbx_sig_take();
            continue;
        }
        if (rc > 0) {
            CHECK(w.got == SBX_EV_STATE);
            return sbx_proc_stopped(p, sig);
        }
        if (left <= 0)
            return 0;
    }
}

/* Fields 5 to 8 of /proc/<pid>/stat. */
struct stat_ids {
    long pgrp, session, tty_nr, tpgid;
};

static void proc_ids(long long pid, struct stat_ids *ids)
{
    char path[64], buf[1024], *rp;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
    CHECK((f = fopen(path, "r")) != NULL);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK((rp = strrchr(buf, ')')) != NULL);
    CHECK(sscanf(rp + 1, " %*c %*d %ld %ld %ld %ld", &ids->pgrp, &ids->session, &ids->tty_nr,
                 &ids->tpgid) == 4);
}

static dev_t fd_rdev(long long pid, int fd)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%lld/fd/%d", pid, fd);
    CHECK(stat(path, &st) == 0);
    return S_ISCHR(st.st_mode) ? st.st_rdev : 0;
}

static char *sh_argv[8];

/* sh -c script */
static struct sbx_spawn_opts sh_opts(const char *script)
{
    struct sbx_spawn_opts o;

    memset(&o, 0, sizeof(o));
    sh_argv[0] = (char *)"sh";
    sh_argv[1] = (char *)"-c";
    sh_argv[2] = (char *)script;
    sh_argv[3] = NULL;
    o.file = "/bin/sh";
    o.argv = sh_argv;
    o.job = 1;
    for (int i = 0; i < 3; i++)
        o.stdio[i].kind = SBX_STDIO_PIPE;
    return o;
}

/* ---- the caller's terminal ---- */

static void body_open_streams(void)
{
    int m, f, m2, f2, pp[2];
    unsigned streams = 99;
    sbx_tty *t = NULL;
    struct sbx_tty_size sz;

    harness_ctty(&m, &f);
    /* 0 and 2 the terminal, 1 a pipe. */
    CHECK(pipe(pp) == 0);
    CHECK(dup2(f, 0) == 0 && dup2(pp[1], 1) == 1 && dup2(f, 2) == 2);
    CHECK(sbx_tty_open(&t, &streams) == 0);
    CHECK(streams == 5u);
    CHECK(sbx_tty_handle(t) != NULL);
    CHECK(sbx_tty_foreground(t) == 1);
    CHECK(sbx_tty_get(t, NULL, &sz) == 0);
    CHECK(sz.rows == 30 && sz.cols == 90);
    sbx_tty_close(t);
    /* Another terminal is not ours: a pty that is nobody's controlling
     * terminal on 1, and /dev/null on 2. */
    open_pair(&m2, &f2);
    CHECK(dup2(f2, 1) == 1);
    CHECK(dup2(open("/dev/null", O_RDWR), 2) == 2);
    CHECK(sbx_tty_open(&t, &streams) == 0);
    CHECK(streams == 1u);
    sbx_tty_close(t);
    /* Our terminal under the name /dev/tty on 1 is still ours. */
    CHECK(dup2(open("/dev/tty", O_RDWR), 1) == 1);
    CHECK(sbx_tty_open(&t, &streams) == 0);
    CHECK(streams == 3u);
    sbx_tty_close(t);
    /* The open description is ours alone: the caller's stdin keeps its
     * blocking mode. */
    CHECK((fcntl(0, F_GETFL) & O_NONBLOCK) == 0);
}

Test(tty, open_tells_which_streams_are_the_terminal, .timeout = 30)
{
    run_child(body_open_streams, 20000);
}

static void body_open_without_terminal(void)
{
    unsigned streams = 99;
    sbx_tty *t = (sbx_tty *)&streams;
    int m, f;

    /* A new session has no controlling terminal, even with a terminal on
     * every stream. */
    CHECK(sbx_os_lead_session() == 0);
    open_pair(&m, &f);
    CHECK(dup2(f, 0) == 0 && dup2(f, 1) == 1 && dup2(f, 2) == 2);
    CHECK(sbx_tty_open(&t, &streams) == SBX_ENOENT);
    CHECK(t == NULL && streams == 0);
    sbx_tty_close(NULL);
}

Test(tty, open_without_a_controlling_terminal, .timeout = 30)
{
    run_child(body_open_without_terminal, 20000);
}

static void body_raw_round_trip(void)
{
    int m, f;
    unsigned streams;
    sbx_tty *t;
    struct termios before, now;
    struct sbx_tty_modes md;

    harness_ctty(&m, &f);
    personal_modes(f, &before);
    CHECK(sbx_tty_open(&t, &streams) == 0);
    CHECK(sbx_tty_get(t, &md, NULL) == 0);
    CHECK(md.lflag == before.c_lflag && md.iflag == before.c_iflag);
    CHECK(md.ncc > VINTR && md.cc[VINTR] == 0x18);
    CHECK(md.ospeed == cfgetospeed(&before));

    CHECK(sbx_tty_raw(t) == 0);
    CHECK(tcgetattr(f, &now) == 0);
    CHECK(!(now.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)));
    CHECK(!(now.c_iflag & (ICRNL | IXON)) && !(now.c_oflag & OPOST));
    CHECK(now.c_cc[VMIN] == 1 && now.c_cc[VTIME] == 0);
    /* While raw, the modes reported are still the caller's own. */
    CHECK(sbx_tty_get(t, &md, NULL) == 0);
    CHECK(md.lflag == before.c_lflag && md.cc[VINTR] == 0x18);
    /* Raw twice is raw, and the saved modes are not the raw ones. */
    CHECK(sbx_tty_raw(t) == 0);
    CHECK(sbx_tty_restore(t) == 0);
    CHECK(tcgetattr(f, &now) == 0);
    CHECK(same_modes(&now, &before));
    /* Restoring when not raw changes nothing. */
    CHECK(sbx_tty_restore(t) == 0);
    /* Raw again saves what is there now. */
    now.c_cc[VINTR] = 0x03;
    CHECK(tcsetattr(f, TCSANOW, &now) == 0);
    CHECK(tcgetattr(f, &before) == 0);
    CHECK(sbx_tty_raw(t) == 0);
    sbx_tty_close(t); /* restores */
    CHECK(tcgetattr(f, &now) == 0);
    CHECK(same_modes(&now, &before));
}

Test(tty, raw_and_restore_round_trip, .timeout = 30)
{
    run_child(body_raw_round_trip, 20000);
}

/* Lets the body's process B talk to the session leader S that owns the
 * foreground: B writes a byte on to_s, S answers on to_b. */
static void body_background(void)
{
    int m, f, to_s[2], to_b[2], status;
    struct termios before, now;
    sigset_t ttou;
    char c;
    pid_t b;

    harness_ctty(&m, &f);
    personal_modes(f, &before);
    /* S moves the foreground around while not in it. */
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    CHECK(sigprocmask(SIG_BLOCK, &ttou, NULL) == 0);
    CHECK(pipe(to_s) == 0 && pipe(to_b) == 0);
    CHECK((b = fork()) >= 0);
    if (b == 0) {
        unsigned streams;
        sbx_tty *t;

        /* B: its own group, whose parent S is in the session, so that the
         * terminal would stop it for a background change. */
        CHECK(sigprocmask(SIG_UNBLOCK, &ttou, NULL) == 0);
        CHECK(setpgid(0, 0) == 0);
        CHECK(write(to_s[1], "g", 1) == 1);
        CHECK(read(to_b[0], &c, 1) == 1); /* now in the foreground */
        CHECK(sbx_tty_open(&t, &streams) == 0);
        CHECK(sbx_tty_foreground(t) == 1);
        CHECK(sbx_tty_raw(t) == 0);
        CHECK(write(to_s[1], "b", 1) == 1);
        CHECK(read(to_b[0], &c, 1) == 1); /* now in the background */
        CHECK(sbx_tty_foreground(t) == 0);
        /* Neither stops us, and neither touches the terminal. */
        CHECK(sbx_tty_restore(t) == SBX_EAGAIN);
        CHECK(sbx_tty_raw(t) == SBX_EAGAIN);
        CHECK(tcgetattr(f, &now) == 0);
        CHECK(!(now.c_lflag & ICANON));
        CHECK(write(to_s[1], "f", 1) == 1);
        CHECK(read(to_b[0], &c, 1) == 1); /* the foreground again */
        CHECK(sbx_tty_foreground(t) == 1);
        CHECK(sbx_tty_restore(t) == 0);
        CHECK(tcgetattr(f, &now) == 0);
        CHECK(same_modes(&now, &before));
        sbx_tty_close(t);
        _exit(0);
    }
    CHECK(setpgid(b, b) == 0 || errno == EACCES);
    CHECK(read(to_s[0], &c, 1) == 1 && c == 'g');
    CHECK(tcsetpgrp(f, b) == 0);
    CHECK(write(to_b[1], "1", 1) == 1);
    CHECK(read(to_s[0], &c, 1) == 1 && c == 'b');
    CHECK(tcsetpgrp(f, getpgrp()) == 0);
    CHECK(write(to_b[1], "2", 1) == 1);
    CHECK(read(to_s[0], &c, 1) == 1 && c == 'f');
    CHECK(tcsetpgrp(f, b) == 0);
    CHECK(write(to_b[1], "3", 1) == 1);
    CHECK(waitpid(b, &status, WUNTRACED) == b);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(tty, background_never_stops_and_leaves_the_terminal_alone, .timeout = 30)
{
    run_child(body_background, 20000);
}

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's check at exit(3) in a child forked from Criterion's
 * threaded worker cannot suspend the threads that stayed behind and says
 * so in a report of its own; that child's leaks are not the test's point. */
static volatile int forked_child;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return forked_child;
}
#endif

/* B goes raw in the foreground, then ends by `how`; S checks that the
 * terminal came back. */
static void raw_then_end(int how)
{
    int m, f, status, to_s[2];
    struct termios before, now;
    char c;
    pid_t b;

    harness_ctty(&m, &f);
    personal_modes(f, &before);
    CHECK(pipe(to_s) == 0);
    CHECK((b = fork()) >= 0);
    if (b == 0) {
        struct rlimit rl = { 0, 0 };
        unsigned streams;
        sbx_tty *t;

        CHECK(setrlimit(RLIMIT_CORE, &rl) == 0);
        CHECK(sbx_sig_init(sbx_sig_forwarded()) == 0);
        CHECK(sbx_tty_open(&t, &streams) == 0);
        CHECK(sbx_tty_raw(t) == 0);
        CHECK(write(to_s[1], "r", 1) == 1);
        if (how == 0) {
            volatile int *nowhere = NULL;
            *nowhere = 1;
        } else if (how == 1) {
            abort();
        } else if (how == 2) {
            struct sbx_exit st = { SBX_SIGNALED, 0, SIGTERM, 0, 0 };
            sbx_os_exit_like(&st);
        } else if (how == 4) {
            kill(getpid(), SIGALRM); /* from outside, as far as we know */
        } else {
#ifdef __SANITIZE_ADDRESS__
            forked_child = 1;
#endif
            exit(3); /* without closing t */
        }
        _exit(99);
    }
    CHECK(read(to_s[0], &c, 1) == 1);
    CHECK(waitpid(b, &status, 0) == b);
    if (how == 0)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    else if (how == 1)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    else if (how == 2)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    else if (how == 4)
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM);
    else
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    CHECK(tcgetattr(f, &now) == 0);
    CHECK(same_modes(&now, &before));
}

static void body_crash(void) { raw_then_end(0); }
static void body_abort(void) { raw_then_end(1); }
static void body_exit_like(void) { raw_then_end(2); }
static void body_exit(void) { raw_then_end(3); }
static void body_alarm(void) { raw_then_end(4); }

Test(tty, restored_when_sbx_crashes, .timeout = 30)
{
#ifdef __SANITIZE_ADDRESS__
    /* AddressSanitizer's own SIGSEGV handler takes the crash first. */
    cr_skip_test("AddressSanitizer owns SIGSEGV in this build");
#endif
    run_child(body_crash, 20000);
}

Test(tty, restored_when_sbx_aborts, .timeout = 30)
{
    run_child(body_abort, 20000);
}

Test(tty, restored_by_exit_like, .timeout = 30)
{
    run_child(body_exit_like, 20000);
}

Test(tty, restored_at_exit, .timeout = 30)
{
    run_child(body_exit, 20000);
}

Test(tty, restored_when_an_unwatched_signal_kills_sbx, .timeout = 30)
{
    run_child(body_alarm, 20000);
}

/* ---- this process: session and stops ---- */

static void body_stop_self(void)
{
    int status;
    pid_t c;

    CHECK((c = fork()) >= 0);
    if (c == 0) {
        struct sigaction sa;

        /* A group of our own, with our parent outside it, like a shell's
         * job: stopping it stops nothing else. */
        CHECK(setpgid(0, 0) == 0);
        CHECK(sbx_sig_init(sbx_sig_forwarded()) == 0);
        CHECK(sbx_os_stop_self(SIGTSTP) == 0);
        /* Continued: the SIGCONT that did it is not reported ... */
        CHECK(sbx_sig_take() == 0);
        /* ... and our handlers are back. */
        CHECK(sigaction(SIGTSTP, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL);
        CHECK(sigaction(SIGCONT, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL);
        CHECK(kill(getpid(), SIGCONT) == 0);
        CHECK(sbx_sig_take() == SIGCONT);
        CHECK(sbx_os_stop_self(SIGKILL) == SBX_EINVAL);
        _exit(0);
    }
    CHECK(waitpid(c, &status, WUNTRACED) == c);
    CHECK(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTSTP);
    CHECK(kill(c, SIGCONT) == 0);
    CHECK(waitpid(c, &status, 0) == c);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(tty, stop_self_stops_the_group_and_eats_the_continue, .timeout = 30)
{
    run_child(body_stop_self, 20000);
}

static void body_lead_session(void)
{
    int status, pp[2];
    pid_t c, me = getpid();

    /* Not a group leader: it simply starts a session. */
    CHECK(getpgrp() != getpid());
    CHECK(sbx_os_lead_session() == 0);
    CHECK(getpid() == me && getsid(0) == me);
    CHECK(sbx_os_lead_session() == 0);
    CHECK(getpid() == me);

    /* A group leader forks; the stand-in exits as the new leader does. */
    for (int how = 0; how < 2; how++) {
        CHECK(pipe(pp) == 0);
        CHECK((c = fork()) >= 0);
        if (c == 0) {
            pid_t standin;
            close(pp[0]);
            CHECK(setpgid(0, 0) == 0);
            /* Once with our handlers installed, as in the runner. */
            if (how == 1)
                CHECK(sbx_sig_init(NULL) == 0 && sbx_sig_ignore_console() == 0);
            standin = getpid();
            CHECK(sbx_os_lead_session() == 0);
            CHECK(getpid() != standin && getsid(0) == getpid() && getppid() == standin);
            CHECK(write(pp[1], "k", 1) == 1);
            if (how == 0)
                _exit(7);
            signal(SIGTERM, SIG_DFL);
            raise(SIGTERM);
            _exit(99);
        }
        close(pp[1]);
        char k = 0;
        CHECK(read(pp[0], &k, 1) == 1 && k == 'k');
        close(pp[0]);
        CHECK(waitpid(c, &status, 0) == c);
        if (how == 0)
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
        else
            CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    }
}

Test(tty, lead_session, .timeout = 30)
{
    run_child(body_lead_session, 20000);
}

/* ---- the command's terminal ---- */

static void body_spawn_tty(void)
{
    struct sbx_spawn_opts o = sh_opts(
        "stty size; stty -a; echo via-dev-tty >/dev/tty; echo reading; read x; echo got:$x");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    struct stat_ids ids;
    struct sbx_exit st;
    struct text out = { "", 0 };
    struct stat fst;
    char path[64];
    sbx_proc *p = NULL;
    long long pid;
    dev_t dev;
    int m, f;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    /* As the runner does.  Among them SIGHUP: closing the master hangs
     * up the terminal, and the kernel tells its session leader, us. */
    CHECK(sbx_sig_ignore_console() == 0);
    /* The caller's modes, taken from a terminal of the test's. */
    open_pair(&m, &f);
    {
        struct termios t;
        personal_modes(f, &t);
        memset(&tty, 0, sizeof(tty));
        tty.have_modes = 1;
        tty.modes.iflag = t.c_iflag;
        tty.modes.oflag = t.c_oflag;
        tty.modes.cflag = t.c_cflag;
        tty.modes.lflag = t.c_lflag | ECHO; /* the echo of `read` is checked */
        tty.modes.ispeed = cfgetispeed(&t);
        tty.modes.ospeed = cfgetospeed(&t);
        memcpy(tty.modes.cc, t.c_cc, NCCS < SBX_TTY_NCC ? NCCS : SBX_TTY_NCC);
        tty.modes.ncc = NCCS < SBX_TTY_NCC ? NCCS : SBX_TTY_NCC;
    }
    tty.streams = 7;
    tty.foreground = 1;
    tty.size.rows = 40;
    tty.size.cols = 120;
    o.tty = &tty;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(o.tty_master != NULL);
    for (int i = 0; i < 3; i++)
        CHECK(o.stdio[i].h == NULL);
    pid = sbx_proc_pid(p);
    CHECK(read_until(o.tty_master, &out, "reading", 5000));
    CHECK(strstr(out.s, "via-dev-tty") != NULL);
    CHECK(strstr(out.s, "40 120") != NULL);
    CHECK(strstr(out.s, "intr = ^X") != NULL);

    /* Its own group, in our session, the terminal's foreground group, the
     * terminal its controlling one and on all three streams. */
    proc_ids(pid, &ids);
    CHECK(ids.pgrp == pid);
    CHECK(ids.session == getpid() && ids.session != pid);
    CHECK(ids.tpgid == pid);
    dev = fd_rdev(pid, 0);
    CHECK(dev != 0 && (long)dev == ids.tty_nr);
    CHECK(fd_rdev(pid, 1) == dev && fd_rdev(pid, 2) == dev);
    /* Owned by us (the account it runs as), mode 0620, and as root group
     * tty where there is one. */
    snprintf(path, sizeof(path), "/proc/%lld/fd/0", pid);
    CHECK(stat(path, &fst) == 0);
    CHECK(fst.st_uid == geteuid());
    CHECK((fst.st_mode & 07777) == 0620);
    if (geteuid() == 0 && getgrnam("tty") != NULL)
        CHECK(fst.st_gid == getgrnam("tty")->gr_gid);

    put(o.tty_master, "hello\n");
    CHECK(read_until(o.tty_master, &out, "got:hello", 5000));
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    /* Nothing of ours holds the other end: end of file, not EIO. */
    CHECK(read_to_eof(o.tty_master, &out, 5000));
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
}

Test(tty, spawn_with_a_terminal, .timeout = 30)
{
    run_child(body_spawn_tty, 20000);
}

/* Run as another account, the command owns its terminal and can use it,
 * /dev/tty included, with nothing of root's left on it. */
static void body_spawn_as_nobody(void)
{
    /* It waits for a line, so that its terminal can be looked at while it
     * still has it: an exited command has no descriptors in /proc. */
    struct sbx_spawn_opts o = sh_opts("id -u; echo via-dev-tty >/dev/tty; read x; echo done");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct sbx_exit st;
    struct stat fst;
    sbx_account *a = NULL;
    sbx_proc *p = NULL;
    char path[64], want[32];
    size_t put = 0;

    CHECK(sbx_account_lookup("nobody", &a) == 0);
    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0);
    memset(&tty, 0, sizeof(tty));
    tty.streams = 7;
    tty.foreground = 1;
    o.tty = &tty;
    o.as = a;
    o.cwd = "/";
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    snprintf(path, sizeof(path), "/proc/%lld/fd/0", sbx_proc_pid(p));
    CHECK(stat(path, &fst) == 0);
    CHECK((long long)fst.st_uid == sbx_account_uid(a));
    CHECK((fst.st_mode & 07777) == 0620);
    snprintf(want, sizeof(want), "%lld\r\n", sbx_account_uid(a));
    CHECK(sbx_h_write(o.tty_master, "go\r", 3, &put) == 0 && put == 3);
    CHECK(read_until(o.tty_master, &out, "done", 5000));
    CHECK(strstr(out.s, want) != NULL && strstr(out.s, "via-dev-tty") != NULL);
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
    sbx_account_free(a);
}

Test(tty, spawn_as_another_account_owns_its_terminal, .timeout = 30)
{
    struct sbx_account *a = NULL;

    if (geteuid() != 0)
        cr_skip_test("needs root, to run a command as nobody");
    if (sbx_account_lookup("nobody", &a) < 0)
        cr_skip_test("no account nobody here");
    sbx_account_free(a);
    run_child(body_spawn_as_nobody, 20000);
}

static void body_spawn_mixed(void)
{
    struct sbx_spawn_opts o = sh_opts("test -t 0 || echo in-pipe; test -t 1 && echo out-tty; "
                                      "test -t 2 || echo err-pipe >&2; cat");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 }, err = { "", 0 };
    struct sbx_exit st;
    sbx_proc *p = NULL;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0); /* as the runner: see body_spawn_tty */
    memset(&tty, 0, sizeof(tty));
    tty.streams = 2; /* only stdout */
    tty.foreground = 1;
    o.tty = &tty;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(o.stdio[0].h != NULL && o.stdio[1].h == NULL && o.stdio[2].h != NULL);
    put(o.stdio[0].h, "abc\n");
    sbx_h_close(o.stdio[0].h);
    CHECK(read_until(o.tty_master, &out, "abc", 5000));
    CHECK(strstr(out.s, "in-pipe") != NULL && strstr(out.s, "out-tty") != NULL);
    CHECK(read_until(o.stdio[2].h, &err, "err-pipe", 5000));
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    /* A pipe, byte-exact; the terminal's output as a terminal makes it. */
    CHECK(strcmp(err.s, "err-pipe\n") == 0);
    CHECK(strstr(out.s, "abc\r\n") != NULL);
    sbx_h_close(o.stdio[2].h);
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
}

Test(tty, spawn_with_the_terminal_on_some_streams, .timeout = 30)
{
    run_child(body_spawn_mixed, 20000);
}

static void body_spawn_needs_session(void)
{
    struct sbx_spawn_opts o = sh_opts("exit 0");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    sbx_proc *p = (sbx_proc *)&o;

    CHECK(setpgid(0, 0) == 0); /* a group of our own, in the test's session */
    memset(&tty, 0, sizeof(tty));
    tty.streams = 7;
    o.tty = &tty;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == SBX_EPERM);
    CHECK(p == NULL && o.tty_master == NULL);
    CHECK(strcmp(fail.stage, "tty") == 0 && fail.detail != NULL);
    /* A terminal and a session of the command's own do not go together. */
    CHECK(sbx_os_lead_session() == 0);
    o.new_session = 1;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == SBX_EINVAL);
}

Test(tty, spawn_with_a_terminal_needs_a_session, .timeout = 30)
{
    run_child(body_spawn_needs_session, 20000);
}

static void body_pipe_mode_no_tty(void)
{
    struct sbx_spawn_opts o = sh_opts("exec 3</dev/tty");
    struct sbx_spawn_fail fail;
    struct text err = { "", 0 };
    struct sbx_exit st;
    sbx_proc *p = NULL;
    long long t0;

    /* The runner's shape: it leads a session without a terminal. */
    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    o.new_group = 1;
    t0 = sbx_now_ms();
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(read_to_eof(o.stdio[2].h, &err, 5000));
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code != 0);
    CHECK(strstr(err.s, strerror(ENXIO)) != NULL);
    CHECK(sbx_now_ms() - t0 < 3000);
    for (int i = 0; i < 3; i++)
        sbx_h_close(o.stdio[i].h);
    sbx_proc_free(p);
}

Test(tty, pipe_mode_has_no_terminal, .timeout = 30)
{
    run_child(body_pipe_mode_no_tty, 20000);
}

/* ---- stops and continues ---- */

static void body_stop_pipe_mode(void)
{
    /* Alive after the continue, which an exit would otherwise overtake
     * (the kernel reports only the exit then). */
    struct sbx_spawn_opts o = sh_opts("kill -STOP $$; echo resumed; read x; exit 0");
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct sbx_exit st;
    sbx_proc *p = NULL;
    int sig = -1;
    struct sbx_tty_size sz = { 10, 10 };

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    o.new_group = 1;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == SIGSTOP);
    CHECK(sbx_proc_stopped(p, &sig) == 0 && sig == 0);
    CHECK(sbx_proc_poll(p, &st) == SBX_EAGAIN);
    CHECK(sbx_proc_resize(p, &sz) == SBX_ENOTSUP);
    CHECK(sbx_proc_continue(p, 1) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == 0);
    CHECK(read_until(o.stdio[1].h, &out, "resumed", 5000));
    sbx_h_close(o.stdio[0].h);
    o.stdio[0].h = NULL;
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    /* An exit is not a change of state. */
    CHECK(sbx_proc_stopped(p, &sig) == 0);
    for (int i = 0; i < 3; i++)
        sbx_h_close(o.stdio[i].h);
    sbx_proc_free(p);
}

Test(tty, stop_and_continue_in_pipe_mode, .timeout = 30)
{
    run_child(body_stop_pipe_mode, 20000);
}

/* Ctrl-Z at sbx in pipe mode arrives as SIGTSTP, forwarded to the
 * command's group: the group is not orphaned (its parent, the runner, is
 * in the session outside it), so the stop happens and is seen. */
static void body_forwarded_tstp(void)
{
    struct sbx_spawn_opts o = sh_opts("echo up; read x; exit 0");
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct sbx_exit st;
    sbx_proc *p = NULL;
    int sig = -1;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0);
    o.new_group = 1;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(read_until(o.stdio[1].h, &out, "up", 5000));
    CHECK(sbx_proc_kill_group(p, SIGTSTP) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == SIGTSTP);
    CHECK(sbx_proc_continue(p, 0) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1 && sig == 0);
    put(o.stdio[0].h, "x\n");
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    for (int i = 0; i < 3; i++)
        sbx_h_close(o.stdio[i].h);
    sbx_proc_free(p);
}

Test(tty, forwarded_tstp_stops_a_pipe_mode_command, .timeout = 30)
{
    run_child(body_forwarded_tstp, 20000);
}

static struct sbx_spawn_opts cat_on_tty(struct sbx_spawn_tty *tty, int fg)
{
    static char *cat_argv[] = { (char *)"cat", NULL };
    struct sbx_spawn_opts o;

    memset(&o, 0, sizeof(o));
    memset(tty, 0, sizeof(*tty));
    tty->streams = 7;
    tty->foreground = fg;
    o.file = "/bin/cat";
    o.argv = cat_argv;
    o.job = 1;
    o.tty = tty;
    return o;
}

static void body_ctrl_z(void)
{
    struct sbx_spawn_tty tty;
    struct sbx_spawn_opts o = cat_on_tty(&tty, 1);
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct stat_ids ids;
    struct sbx_exit st;
    sbx_proc *p = NULL;
    int sig = -1;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0);
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    put(o.tty_master, "one\n");
    CHECK(read_until(o.tty_master, &out, "one\r\none\r\n", 5000)); /* echo, then cat */
    /* Ctrl-Z as a byte: the terminal stops the foreground group. */
    put(o.tty_master, "\x1a");
    CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == SIGTSTP);
    CHECK(sbx_proc_continue(p, 1) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1 && sig == 0);
    proc_ids(sbx_proc_pid(p), &ids);
    CHECK(ids.tpgid == sbx_proc_pid(p));
    put(o.tty_master, "two\n");
    CHECK(read_until(o.tty_master, &out, "two\r\ntwo\r\n", 5000));
    put(o.tty_master, "\x04"); /* Ctrl-D: end of file for cat */
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
}

Test(tty, ctrl_z_stops_the_command_and_continue_resumes_it, .timeout = 30)
{
    run_child(body_ctrl_z, 20000);
}

static void body_background_start(void)
{
    struct sbx_spawn_tty tty;
    struct sbx_spawn_opts o = cat_on_tty(&tty, 0);
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct stat_ids ids;
    struct sbx_exit st;
    sbx_proc *p = NULL;
    int sig = -1;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0);
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    /* In the background, cat's first read stops it. */
    CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == SIGTTIN);
    proc_ids(sbx_proc_pid(p), &ids);
    CHECK(ids.tpgid == getpgrp());
    /* Continued in the background, it stops again. */
    CHECK(sbx_proc_continue(p, 0) == 0);
    CHECK(wait_state(p, &sig, 5000) == 1);
    if (sig == 0)
        CHECK(wait_state(p, &sig, 5000) == 1);
    CHECK(sig == SIGTTIN);
    /* Handed the terminal, it reads. */
    CHECK(sbx_proc_continue(p, 1) == 0);
    proc_ids(sbx_proc_pid(p), &ids);
    CHECK(ids.tpgid == sbx_proc_pid(p));
    put(o.tty_master, "x\n");
    CHECK(read_until(o.tty_master, &out, "x\r\nx\r\n", 5000));
    put(o.tty_master, "\x04");
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
}

Test(tty, background_start_stops_on_read_until_given_the_terminal, .timeout = 30)
{
    run_child(body_background_start, 20000);
}

static void body_resize(void)
{
    struct sbx_spawn_opts o =
        sh_opts("trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct sbx_tty_size sz = { 33, 101 }, bad = { 0, 80 };
    struct sbx_exit st;
    sbx_proc *p = NULL;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0); /* as the runner: see body_spawn_tty */
    memset(&tty, 0, sizeof(tty));
    tty.streams = 7;
    tty.foreground = 1; /* size 0 x 0: 24 x 80 */
    o.tty = &tty;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(read_until(o.tty_master, &out, "ready", 5000));
    CHECK(sbx_proc_resize(p, &bad) == SBX_EINVAL);
    CHECK(sbx_proc_resize(p, &sz) == 0);
    CHECK(read_until(o.tty_master, &out, "33 101", 5000));
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    sbx_h_close(o.tty_master);
    sbx_proc_free(p);
}

Test(tty, resize_reaches_the_command, .timeout = 30)
{
    run_child(body_resize, 20000);
}

static void body_default_size(void)
{
    struct sbx_spawn_opts o = sh_opts("stty size");
    struct sbx_spawn_tty tty;
    struct sbx_spawn_fail fail;
    struct text out = { "", 0 };
    struct sbx_exit st;
    sbx_proc *p = NULL;

    CHECK(sbx_os_lead_session() == 0);
    CHECK(sbx_sig_init(NULL) == 0);
    CHECK(sbx_sig_ignore_console() == 0); /* as the runner: see body_spawn_tty */
    memset(&tty, 0, sizeof(tty));
    tty.streams = 3;
    tty.foreground = 1;
    o.tty = &tty;
    CHECK(sbx_proc_spawn(&o, &p, &fail) == 0);
    CHECK(read_until(o.tty_master, &out, "24 80", 5000));
    CHECK(wait_exit(p, &st, 5000));
    CHECK(st.how == SBX_EXITED && st.code == 0);
    sbx_h_close(o.tty_master);
    for (int i = 0; i < 3; i++)
        sbx_h_close(o.stdio[i].h);
    sbx_proc_free(p);
}

Test(tty, default_size_is_24_by_80, .timeout = 30)
{
    run_child(body_default_size, 20000);
}
