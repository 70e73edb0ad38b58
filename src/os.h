/* The sbx platform interface.  One POSIX implementation (src/posix/, one
 * file per concern behind src/posix/internal.h) and one Win32 implementation
 * (src/win/, likewise behind src/win/internal.h) sit behind it; the core,
 * sbx and sbx-runner use nothing else from the OS.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * enum sbx_err on failure; the OS's own error code of the last failure is
 * kept for messages (sbx_os_last_error()).  Objects start as NULL and every
 * _close()/_free() accepts NULL.  Handles are owned by whoever created them
 * unless stated otherwise.
 */
#ifndef SBX_OS_H
#define SBX_OS_H

#include <stddef.h>

#include "status.h"
#include "term.h"

typedef struct sbx_h sbx_h;               /* a byte stream: fd or HANDLE */
typedef struct sbx_proc sbx_proc;         /* a process sbx started */
typedef struct sbx_listener sbx_listener; /* the channel's listening end */
typedef struct sbx_account sbx_account;   /* a local account to run as */
typedef struct sbx_tty sbx_tty;           /* the caller's terminal, on sbx's side */

/* ---- errors ---- */

/* errno / GetLastError() of the most recent failure in this layer. */
long long sbx_os_last_error(void);
/* The OS's text for an OS error code (a static buffer). */
const char *sbx_os_error_text(long long code);

/* ---- handles ---- */

/* Wraps standard stream 0, 1 or 2 of this process.  The handle does not own
 * the descriptor (closing it leaves the stream open) and is never switched to
 * non-blocking mode, because the open file description is shared with other
 * processes: callers wait for readability before reading. */
int sbx_h_std(int which, sbx_h **out);
void sbx_h_close(sbx_h *h);
/* One read.  *got == 0 with a 0 return is end of file.  SBX_EAGAIN: nothing
 * available (non-blocking handles); SBX_EINTR: a watched signal arrived. */
int sbx_h_read(sbx_h *h, void *buf, size_t n, size_t *got);
/* One write; *put may be short.  SBX_EPIPE when the reader is gone. */
int sbx_h_write(sbx_h *h, const void *buf, size_t n, size_t *put);
/* 0 when everything written has reached the OS; SBX_EAGAIN while a write is
 * still in flight (Windows accepts overlapped writes before finishing them),
 * in which case waiting for SBX_EV_WRITE waits for it.  Close a handle only
 * after this returns 0, or the last bytes may be lost. */
int sbx_h_flush(sbx_h *h);

/* ---- moving bytes without copying them (Linux splice) ----
 * The relay uses these only as a shortcut for large data frames; every
 * caller keeps a copying path for when they say SBX_ENOTSUP, which is all
 * they say on platforms without them. */

/* 1 when `h` is a pipe or a FIFO (where a splice can put bytes), else 0. */
int sbx_h_is_pipe(sbx_h *h);
/* How many bytes a read of `h` (a pipe or a socket) would find now. */
int sbx_h_readable(sbx_h *h, size_t *n);
/* Reads up to `n` bytes of socket `h` without consuming them and without
 * waiting; *got may be short. */
int sbx_h_peek(sbx_h *h, void *buf, size_t n, size_t *got);
/* Moves up to `n` bytes from `from` to `to` in the kernel (one of them must
 * be a pipe): *moved == 0 with a 0 return is end of file on `from`.
 * Waits as a write to `to` would (never on a non-blocking `from`: then
 * SBX_EAGAIN when it is empty).  SBX_ENOTSUP when this pair of handles
 * cannot be spliced (nothing was moved). */
int sbx_h_splice(sbx_h *from, sbx_h *to, size_t n, size_t *moved);

/* ---- waiting ---- */

enum { SBX_EV_READ = 1, SBX_EV_WRITE = 2, SBX_EV_EXIT = 4, SBX_EV_STATE = 8 };

/* One thing to wait for: readiness of a handle, or the exit of a process
 * (want = SBX_EV_EXIT), or a change of its state (SBX_EV_STATE: it stopped
 * or continued, see sbx_proc_stopped; an exit reports as SBX_EV_EXIT).  Entries with h == NULL and proc == NULL are
 * ignored, so callers can keep a fixed table. */
struct sbx_wait {
    sbx_h *h;
    sbx_proc *proc;
    unsigned want;
    unsigned got; /* out; a hang-up or error reports as SBX_EV_READ so the
                     following read sees it */
};

/* Waits until an entry is ready, a watched signal arrives (SBX_EINTR), or
 * timeout_ms passes (0 returned; -1 waits forever).  Returns the number of
 * ready entries. */
int sbx_wait(struct sbx_wait *w, size_t n, int timeout_ms);

/* Monotonic milliseconds, for deadlines. */
long long sbx_now_ms(void);

/* ---- signals ---- */

/* Installs sbx's signal handling: child notification for sbx_wait (exits,
 * and stops and continues too, for SBX_EV_STATE), SIGPIPE ignored (writes
 * report SBX_EPIPE instead), and the signals in `watch` (0-terminated, may
 * be NULL) recorded for sbx_sig_take().  A watched signal that was ignored
 * on entry (nohup, a background job without job control) stays ignored. */
int sbx_sig_init(const int *watch);
/* The oldest pending watched signal, or 0. */
int sbx_sig_take(void);
/* "TERM" for SIGTERM; NULL when unknown. */
const char *sbx_sig_name(int sig);
/* The signals sbx forwards to the command (0-terminated), each delivered
 * once, as itself, to the command's process group: POSIX SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT and SIGTSTP; Windows
 * Ctrl-C, Ctrl-Break and console close. */
const int *sbx_sig_forwarded(void);
/* For the runner: terminal and console interrupts are sbx's to forward, so
 * the runner itself ignores them (Windows: a console handler that swallows
 * them; POSIX: every signal that would end or stop it and that another
 * process may send -- SIGINT, SIGQUIT, SIGHUP, SIGTERM, SIGUSR1, SIGUSR2,
 * SIGALRM, SIGPIPE, the job-control stops and the like -- is ignored,
 * because a launcher such as sudo may keep the runner in the terminal's
 * foreground process group or relay the caller's signals to it; the
 * faults and the resource-limit signals keep their defaults).  Windows
 * also re-enables Ctrl-C, which a new process group starts with disabled,
 * so that the command inherits it enabled, and counts the events it
 * swallows, so that sbx_proc_kill_group does not deliver again what a
 * shared console has already delivered. */
int sbx_sig_ignore_console(void);

/* Signal numbers with the same meaning on every platform, for terminate
 * frames: a polite stop (POSIX SIGTERM; Windows Ctrl-Break), and the end of
 * the whole tree (POSIX SIGKILL to the group; Windows the job). */
#define SBX_SIG_TERM 15
#define SBX_SIG_KILL 9

/* ---- processes ---- */

enum sbx_stdio_kind {
    SBX_STDIO_INHERIT = 0, /* the same stream as this process */
    SBX_STDIO_NULL,        /* the null device */
    SBX_STDIO_PIPE,        /* a new pipe; the parent's end is returned in h */
    SBX_STDIO_STDOUT,      /* stream 2 only, with stream 1 a PIPE: the
                              same pipe as stream 1 (2>&1), so the order of
                              the two is kept exactly; h stays NULL */
    SBX_STDIO_HANDLE,      /* POSIX: `give` itself (a copy of it; the
                              caller keeps and closes its own); h stays
                              NULL */
};

struct sbx_stdio {
    int kind;
    sbx_h *h; /* out, SBX_STDIO_PIPE: the parent's end, non-blocking; the
                 caller owns it */
    sbx_h *give; /* in, SBX_STDIO_HANDLE */
};

/* A terminal of the command's own (POSIX).  The runner creates a new
 * pseudo-terminal, owned by the account the command runs as (group tty, mode
 * 0620, like a login terminal), with these modes and size; makes it this
 * process's controlling terminal; and starts the command as the leader of a
 * new process group in this session -- not a session leader, so that the
 * terminal's stop signals (Ctrl-Z, SIGTTIN, SIGTTOU) can stop it -- with
 * each stream in `streams` on the terminal (its stdio[] entry is ignored
 * and its h stays NULL) and the others as stdio[] says.  The caller's own
 * terminal is never involved: only the new one reaches the command. */
struct sbx_spawn_tty {
    unsigned streams;   /* bit n: standard stream n is the terminal */
    int foreground;     /* the command's group starts as the terminal's
                           foreground group; else this process's group is,
                           and the command stops with SIGTTIN/SIGTTOU when
                           it touches the terminal */
    int have_modes;     /* modes are the caller's; else the system's
                           defaults for a new terminal */
    struct sbx_tty_modes modes;
    struct sbx_tty_size size; /* 0 x 0: 24 x 80 */
};

struct sbx_spawn_opts {
    const char *file;   /* the program; searched in PATH when search_path is
                           set and it has no '/' */
    char *const *argv;  /* NULL-terminated */
    char *const *env;   /* NULL-terminated; NULL inherits this process's */
    const char *cwd;    /* NULL keeps this process's */
    int search_path;    /* execvp rules, with the PATH of `env` */
    int new_group;      /* the child leads a new process group (Windows: a new
                           console process group for a process started
                           without `job`; with `job` the child stays in
                           this process's console process group, where
                           Ctrl-C reaches it, and the job stands for the
                           group) */
    int new_session;    /* POSIX: the child leads a new session, without a
                           controlling terminal (implies new_group) */
    const sbx_account *as; /* POSIX: the child runs as this account: its
                           supplementary groups, gid and uid are set in that
                           order before chdir, and the change is verified to
                           be irreversible (stage "user" on failure) */
    int elevate;        /* Windows: start through the elevation prompt
                           (ShellExecuteEx "runas"); stdio must be NULL or
                           INHERIT and nothing is inherited.  POSIX:
                           SBX_ENOTSUP */
    const struct sbx_spawn_tty *tty; /* POSIX: NULL, or a new pseudo-terminal
                           for the command (below); needs this process to
                           lead its session (sbx_os_lead_session), else the
                           spawn fails at stage "tty" with SBX_EPERM, and
                           it stays the session's terminal, so one per
                           session; implies new_group, excludes
                           new_session.  Without
                           it, the command still gets its own process group
                           in this process's session, which then has no
                           controlling terminal: opening /dev/tty fails at
                           once.  Windows: SBX_ENOTSUP */
    sbx_h *tty_master;  /* out, with tty: the terminal's other end,
                           non-blocking; the caller owns it.  Its end of
                           file comes once nothing holds the terminal any
                           more (the command and whatever it started);
                           Linux says so with EIO, which reads as end of
                           file here.  The process object keeps a copy for
                           sbx_proc_continue/resize until sbx_proc_free;
                           when the last copy closes, the terminal hangs
                           up and the kernel sends SIGHUP to this process
                           (its session leader; the runner ignores it) and
                           to the terminal's foreground group */
    int job;            /* contain the whole tree so that sbx_proc_kill_tree
                           and the owner's death end all of it (Windows: a
                           kill-on-close Job object assigned before the child
                           runs; POSIX, with new_group: a guardian process in
                           the group, in place before the child may exec,
                           kills the group by its id when the owner's end of
                           a pipe closes; with new_session it watches the
                           group from outside) */
    struct sbx_stdio stdio[3];
};

/* Why a spawn failed: the stage ("chdir", "exec", "pipe", "fork", ...), the
 * sbx error and the OS code. */
struct sbx_spawn_fail {
    const char *stage;
    int err;
    long long os_code;
    const char *detail; /* a static explanation when the OS code is not one */
};

/* Starts a process.  On failure nothing is left open or running, *out is
 * NULL and *fail says why.  Descriptors of this process never leak into the
 * child: everything sbx opens is close-on-exec.  The child runs nothing of
 * the command before its containment exists (Windows: started suspended and
 * put in the job; POSIX: started with every signal blocked, and it makes
 * its own group and, with `job`, starts the guardian inside it before it
 * execs -- Linux: a vfork-style clone, the parent suspended until then;
 * elsewhere a fork held on a pipe until the same is in place); a failure
 * before that ends and reaps it. */
int sbx_proc_spawn(struct sbx_spawn_opts *o, sbx_proc **out, struct sbx_spawn_fail *fail);
long long sbx_proc_pid(const sbx_proc *p);
/* 0 and *st filled when the process has exited, SBX_EAGAIN while it runs.
 * The exit is observed without releasing the process id, so its process
 * group can still be signalled safely afterwards (sbx_proc_kill_group). */
int sbx_proc_poll(sbx_proc *p, struct sbx_exit *st);
/* Sends `sig` to the process group the process leads (spawned with
 * new_group).  0 when the group no longer exists. */
int sbx_proc_kill_group(sbx_proc *p, int sig);
/* Ends the whole tree at once (POSIX: SIGKILL to the process group; Windows:
 * the job).  0 when nothing is left. */
int sbx_proc_kill_tree(sbx_proc *p);
/* Whether process `pid` is `ancestor` or one of its descendants: 1 or 0;
 * SBX_ENOTSUP where the OS cannot tell (no /proc, or a process on the way
 * hidden from us). */
int sbx_proc_descends(long long pid, long long ancestor);
/* Sends `sig` to the process itself. */
int sbx_proc_kill(sbx_proc *p, int sig);
/* Whether the command stopped or continued since the last call: 1 and *sig
 * the signal that stopped it (0 when it has continued), or 0 when nothing
 * changed; several changes in between report as the latest.  Job-control
 * stops of the command, not of its children.  A continue that the exit
 * follows at once may be reported only as the exit (the kernel keeps just
 * that).  Windows: always 0. */
int sbx_proc_stopped(sbx_proc *p, int *sig);
/* Continues a stopped command: with a terminal (spawn option tty), first
 * makes the command's group (`foreground`) or this process's group the
 * terminal's foreground group; then SIGCONT to the command's group (to the
 * command alone if it leads none).  Without a terminal `foreground` does
 * nothing.  0 when the command is gone.  Windows: SBX_ENOTSUP. */
int sbx_proc_continue(sbx_proc *p, int foreground);
/* Sets the size of the command's terminal (spawn option tty); the terminal
 * itself sends SIGWINCH to its foreground group when the size changes (and
 * only then).  Rows and columns 1..65535, else SBX_EINVAL; SBX_ENOTSUP
 * without a terminal. */
int sbx_proc_resize(sbx_proc *p, const struct sbx_tty_size *sz);
/* Releases the process id (reaping an exited process) and the object.  A
 * process still running is left running. */
void sbx_proc_free(sbx_proc *p);

/* Whether this process's standard streams `a` and `b` are one open file
 * description (POSIX, as after 2>&1) or one file object (Windows): 1 or 0;
 * 0 also when the OS cannot tell. */
int sbx_os_same_stream(int a, int b);

/* ---- the channel ---- */

struct sbx_peer {
    long long pid;
    long long uid;
};

/* The channel as a connected pair of stream sockets, without any name
 * (POSIX): nothing else can find it, connect to it first, or be left
 * behind.  *mine is sbx's end (non-blocking); *theirs is for the runner,
 * as its standard input (spawn stdio kind SBX_STDIO_HANDLE), and the
 * caller closes its own copy once the runner is started, so that the
 * runner's end of file reaches sbx.  The kernel is asked, before the
 * runner exists, to record who writes each byte that reaches *mine (see
 * sbx_chan_first_writer).  Windows, where a runner started through the
 * elevation prompt inherits nothing: SBX_ENOTSUP, and the named channel
 * below is used instead. */
int sbx_chan_pair(sbx_h **mine, sbx_h **theirs);
/* Waits up to timeout_ms for the first bytes on sbx's end of a pair,
 * without taking them, or fails early with SBX_EPIPE when `watch` (may be
 * NULL) exits first or every copy of the other end closes without a byte.
 * *peer: the process that wrote those bytes, as the kernel recorded it
 * when they were sent (pid in this process's pid namespace, 0 when it is
 * not visible there; real uid); pid and uid -1 where the OS keeps no such
 * record. */
int sbx_chan_first_writer(sbx_h *mine, int timeout_ms, sbx_proc *watch, struct sbx_peer *peer);
/* For the runner given the pair's other end as its standard input (and
 * output): takes it off stream 0 (a close-on-exec copy above 2,
 * non-blocking; the null device goes on 0 and 1) as the channel.
 * *server: the process that made the pair (sbx).  SBX_ENOENT, leaving the
 * streams as they were, when stream 0 is not a Unix-domain stream socket
 * (then sbx_chan_from_relay may apply); any other failure is the OS's and
 * final (SBX_ENOTSUP on Windows). */
int sbx_chan_from_stdin(sbx_h **conn, struct sbx_peer *server);
/* For the runner whose standard input a launcher relays through a pipe of
 * its own (sudo's log_input) while its standard output is still the pair's
 * end: one handle that reads the channel from stream 0 and writes it to
 * stream 1, directly, so that the kernel records the runner as the writer
 * (both copies close-on-exec above 2, non-blocking, closed with the
 * handle; the null device goes on 0 and 1).  *server as above.  Fails,
 * leaving the streams as they were, when stream 1 is not a Unix-domain
 * stream socket: SBX_EPEER when it is a pipe (the launcher relays it too,
 * so sbx would see the launcher write), else the OS's reason (SBX_ENOTSUP
 * on Windows). */
int sbx_chan_from_relay(sbx_h **conn, struct sbx_peer *server);
/* The channel name that stands for "this stream, the one this name was
 * read from, is the channel": what sbx hands over with the nonce when the
 * runner's standard input is its end of the pair. */
#define SBX_CHAN_STDIN "stdin"

/* Windows: creates a rendezvous point with an unguessable name and starts
 * listening (POSIX: SBX_ENOTSUP, see sbx_chan_pair).
 * `name` receives what the runner must be told to connect to.  With
 * `others` 0 only this user (and root) can reach it; with `others` 1 (POSIX,
 * for a runner that runs as another unprivileged account) whoever knows the
 * name can, and nobody can list it or learn it from the kernel: keep the
 * name secret. */
int sbx_chan_listen(sbx_listener **l, char *name, size_t cap, int others);
/* Listens at a name the caller chose, failing if anything else holds it
 * already.  sbx always uses sbx_chan_listen(); the tests use this to show
 * that a squatted name is refused rather than shared.  POSIX: SBX_ENOTSUP. */
int sbx_chan_listen_at(sbx_listener **l, const char *name);
/* Accepts exactly one connection within timeout_ms, or fails early with
 * SBX_EPIPE if `watch` (may be NULL) exits first.  The rendezvous point is
 * removed as soon as the connection is taken.  *peer: the client's pid/uid. */
int sbx_chan_accept(sbx_listener *l, int timeout_ms, sbx_proc *watch, sbx_h **conn,
                    struct sbx_peer *peer);
void sbx_listener_close(sbx_listener *l);
/* Connects to `name`; *server: the listening process's pid/uid.  POSIX:
 * SBX_ENOTSUP (the runner's channel is its standard input). */
int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server);

/* ---- the caller's terminal (sbx's side) ---- */

/* Opens this process's controlling terminal under a description of its own
 * (so no mode or flag set on it touches the caller's descriptors), and sets
 * bit n of *streams for each standard stream 0, 1, 2 that is that terminal
 * (POSIX: a character device the kernel calls this session's controlling
 * terminal, whatever its name: another terminal on a stream is not it).
 * SBX_ENOENT, with *streams 0, when there is no controlling terminal.
 * Windows: SBX_ENOENT. */
int sbx_tty_open(sbx_tty **t, unsigned *streams);
/* Restores the terminal if it is raw, then closes it. */
void sbx_tty_close(sbx_tty *t);
/* Where keys are read from and the command's terminal output written to;
 * owned by t.  Non-blocking (the description is sbx's alone): a read or
 * write that cannot go on now says SBX_EAGAIN.  Read it only in the
 * foreground: a background read is answered by the terminal with SIGTTIN,
 * which stops sbx. */
sbx_h *sbx_tty_handle(sbx_tty *t);
/* The terminal's modes and size now (reading them is allowed in the
 * background too).  While it is raw the modes are the saved ones, the
 * caller's.  Either pointer may be NULL. */
int sbx_tty_get(sbx_tty *t, struct sbx_tty_modes *m, struct sbx_tty_size *sz);
/* 1 when this process's group is the terminal's foreground group, else 0. */
int sbx_tty_foreground(sbx_tty *t);
/* Switches the terminal to raw mode (keys arrive as bytes, Ctrl-C and
 * Ctrl-Z included; no echo; output passed as it is), saving its modes when
 * it was not raw already; when it was, raw modes are applied again (after
 * a stop, someone else may have changed them).  Only in the foreground:
 * SBX_EAGAIN otherwise, and the terminal is left alone.  While raw, a
 * signal that kills sbx outright (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGABRT, SIGSYS, SIGXCPU, SIGXFSZ, SIGTRAP, SIGALRM, ...: those at their
 * default action when sbx first goes raw), sbx_os_exit_like() and exit()
 * restore it first. */
int sbx_tty_raw(sbx_tty *t);
/* Puts the saved modes back, after pending output is written, if the
 * terminal is raw and this process is in the foreground; never stops the
 * process (a background change is skipped, not attempted: SBX_EAGAIN, and
 * the saved modes are kept for a later restore).  0 when not raw. */
int sbx_tty_restore(sbx_tty *t);
/* Stops this process's whole process group with `sig` (SIGTSTP, SIGTTIN,
 * SIGTTOU or SIGSTOP; else SBX_EINVAL), as the terminal's job control would
 * have stopped a command run inline, and returns once the group is
 * continued; the SIGCONT that continued it is consumed here, not reported
 * by sbx_sig_take().  In a process group nobody outside could continue (an
 * orphaned group) the kernel drops SIGTSTP, SIGTTIN and SIGTTOU, and this
 * returns at once.  The caller restores its terminal first.  Windows:
 * SBX_ENOTSUP. */
int sbx_os_stop_self(int sig);

/* ---- accounts ---- */

/* Looks up a local account by name (POSIX: the passwd entry and the group
 * list; Windows: SBX_ENOTSUP).  SBX_ENOENT when there is none. */
int sbx_account_lookup(const char *name, sbx_account **out);
long long sbx_account_uid(const sbx_account *a);
/* "HOME=...", "USER=...", "LOGNAME=...", "SHELL=...": NULL-terminated,
 * owned by the account object. */
char *const *sbx_account_env(const sbx_account *a);
void sbx_account_free(sbx_account *a);
/* The name of the account with this uid into buf ("uid N" when unknown;
 * Windows: the account of this process). */
void sbx_os_user_name(long long uid, char *buf, size_t cap);

/* ---- the runner's secret ---- */

/* The nonce and the channel name travel to the runner on something that
 * survives a launcher in between.  POSIX: the runner's stdin, which sudo and
 * doas keep and which is the channel itself (sbx_chan_pair), so this
 * returns SBX_ENOTSUP and sbx writes to the channel.  Windows: the elevation prompt starts the runner without inheriting
 * anything, so sbx keeps a pipe holding the bytes and `arg` names the read
 * handle; the runner, being at least as privileged, duplicates it out of
 * sbx (sbx_secret_take), which a lower-integrity process cannot do. */
int sbx_secret_offer(const void *data, size_t n, sbx_h **keep, char *arg, size_t cap);
int sbx_secret_take(long long pid, const char *arg, sbx_h **out);

/* One audit line for a run (POSIX: syslog, LOG_AUTHPRIV; Windows: the
 * Application event log, source "sbx"). */
void sbx_os_audit(const char *line);

/* ---- this process ---- */

/* Replaces argc/argv with this process's arguments as UTF-8 (Windows: WTF-8
 * from the UTF-16 command line; POSIX: unchanged). */
int sbx_os_args(int *argc, char ***argv);
/* `path` made absolute against the current directory (malloc'd). */
int sbx_os_abspath(const char *path, char **out);
/* "" or ".exe". */
const char *sbx_os_exe_suffix(void);
/* Compares n bytes of two environment variable names the way this OS does
 * (Windows: case-insensitively); 0 when equal. */
int sbx_os_env_name_cmp(const char *a, const char *b, size_t n);

int sbx_os_random(void *buf, size_t n);
/* Absolute path of the directory holding this executable (malloc'd). */
int sbx_os_self_dir(char **dir);
int sbx_os_getcwd(char **cwd);
char **sbx_os_environ(void);
long long sbx_os_pid(void);
long long sbx_os_uid(void);
/* Whether this process already has the target privileges (root / an
 * elevated token). */
int sbx_os_privileged(void);
/* The command that elevates by default ("sudo"), or NULL where the OS has
 * its own way (Windows: the UAC prompt, spawn option `elevate`). */
const char *sbx_os_launcher(void);
/* Whether `path` names a file this process may execute. */
int sbx_os_executable(const char *path);
/* Makes this process the leader of a new session with no controlling
 * terminal, so that it can give a command a terminal of its own and see it
 * stop.  Already one: nothing to do.  Leading a process group (as under
 * sudo), it cannot: it forks, the parent stays behind as a stand-in that
 * waits for the child and exits as it did, and the child returns from this
 * call as the new session's leader, dying with the stand-in (Linux:
 * PR_SET_PDEATHSIG).  The child keeps every descriptor; the stand-in
 * ignores what sbx_sig_ignore_console() ignores, and dies of anything
 * else (SIGKILL), taking the child along.  Call it before anything
 * whose process id matters (the channel's peer checks).  Windows: nothing
 * to do. */
int sbx_os_lead_session(void);
/* Closes every descriptor above 2 and makes sure 0, 1 and 2 are open (on the
 * null device when they were not), so a privileged runner starts clean. */
int sbx_os_sanitize_fds(void);
/* Points standard stream `which` at the null device. */
int sbx_os_std_to_null(int which);
/* When this process's parent is `ppid` (the runner started directly by
 * sbx), it dies with it (Linux: PR_SET_PDEATHSIG); SBX_EPIPE if the parent
 * is already gone.  Started through a launcher, nothing is set: the
 * channel's end of file ends the runner just as well, and a caller who may
 * signal the launcher (sudo keeps the caller's real uid) must not be able
 * to end the runner before it has written its audit line.  Elsewhere a
 * no-op. */
int sbx_os_die_with_parent(long long ppid);
/* Replaces the content of `path` with `n` bytes of `data` in one step: they
 * go to a new file of an unguessable name in the same directory, created
 * exclusively (a file or link planted there is never opened or followed),
 * written in full and closed, then renamed over `path`, so a reader sees
 * the old content or the new and nothing in between.  The new file is this
 * process's, mode 0666 less the umask as fopen() would give it (Windows:
 * the directory's inherited ACL); `path` itself, if it is a link, is
 * replaced, not followed.  Not flushed to the disk (fsync): atomic for
 * readers, not durable across a crash.  On failure the temporary file is
 * gone, `path` is unchanged, and sbx_os_last_error() holds the OS's reason
 * whatever the failure (ENOENT for a missing directory, ENOSPC, ...). */
int sbx_os_write_file(const char *path, const void *data, size_t n);
/* The exit status this process's parent sees when it exits with `code`
 * (POSIX: its low 8 bits; Windows: all 32, as an unsigned DWORD). */
long long sbx_os_exit_code(long long code);
/* Moves `tmp` over `path` in one step (rename; MoveFileEx on Windows). */
int sbx_os_replace_file(const char *tmp, const char *path);
/* Ends this process the way `st` says the child ended: its exit code, or
 * death by the same signal (no core file).  Does not return. */
void sbx_os_exit_like(const struct sbx_exit *st) __attribute__((noreturn));

#endif
