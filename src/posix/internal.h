/* What the POSIX files behind src/os.h share: the objects' layouts and the
 * few helpers more than one of them needs.  Private to src/posix; nothing
 * outside includes it.  Names shared between files start with sbx__. */
#ifndef SBX_POSIX_INTERNAL_H
#define SBX_POSIX_INTERNAL_H

#include <limits.h>
#include <signal.h>
#include <sys/types.h>

#include "err.h"
#include "os.h"

struct sbx_h {
    int fd;
    int wfd;   /* -1, or where writes go instead of fd: a channel whose two
                  directions are two streams (sbx_chan_from_relay); owned
                  and closed with fd */
    int owned;
    int eio_eof; /* a terminal's master: EIO, which is how Linux says that
                    nothing holds the other end any more, reads as end of
                    file */
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
    sig_atomic_t state_gen; /* likewise, for stops and continues */
    int state_pending;       /* a stop or continue not yet reported */
    int state_sig;           /* its stop signal; 0: continued */
    int tty_fd;              /* our copy of its terminal's master, or -1 */
};

struct sbx_account {
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int ngroups;
    char *env[5];
};

/* error.c: records errno for sbx_os_last_error() and translates it. */
int sbx__sys_err(int e);

/* handle.c: wraps fd in a new handle; an owned fd is closed on failure. */
int sbx__h_new(int fd, int owned, sbx_h **out);

/* signal.c: what sbx_wait and the process code need from the handlers. */
int sbx__sig_seen(void);            /* a watched signal is pending */
int sbx__sig_fd(void);              /* the self-pipe's read end, or -1 */
void sbx__sig_drain(void);          /* empties the self-pipe */
sig_atomic_t sbx__chld_gen(void);   /* bumped by every SIGCHLD */

/* process.c: 1 when the process has exited (without reaping it), 0 while
 * it runs. */
int sbx__proc_check(sbx_proc *p);
/* process.c: 1 when the process stopped or continued since it was last
 * reported by sbx_proc_stopped, else 0. */
int sbx__proc_state(sbx_proc *p);

/* pty.c: creates the command's terminal (master non-blocking, both ends
 * close-on-exec), owned by `as` (NULL: our own account), with t's modes
 * and size, and makes it this session's controlling terminal.  On failure
 * nothing is open and *detail may explain the stage. */
int sbx__pty_open(const struct sbx_spawn_tty *t, const sbx_account *as, int *master,
                  int *follower, const char **detail);
/* pty.c: makes pgrp the foreground group of our terminal fd, from the
 * background too. */
int sbx__pty_foreground(int fd, pid_t pgrp);

/* tty.c: puts the caller's terminal back if it is raw (sbx_os_exit_like). */
void sbx__tty_exit_restore(void);

#endif
