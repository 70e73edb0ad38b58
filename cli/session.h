/* One sbx run: launch the runner, authenticate it, send the request, relay
 * the streams, and report how it ended.  main() turns the result into an
 * exit status; nothing here exits. */
#ifndef SBX_SESSION_H
#define SBX_SESSION_H

#include "proto.h"
#include "tty.h"

#define SESSION_MSG 512

struct session_req {
    struct sbx_spawn_req spawn; /* what the runner is to run: argv and env
                                   NULL-terminated, cwd absolute, timeout,
                                   kill-after, user (NULL: the runner's
                                   account); borrowed, never freed here */
    const char *runner; /* absolute path of sbx-runner */
    long long runner_uid; /* the uid the runner must run as; -1: not known
                             on this platform */
    char *const *launcher; /* NULL: start the runner directly; else the
                             launcher's argv up to and including its "--"
                             (sudo ... --), NULL-terminated */
    int elevate;        /* start the runner through the OS's elevation
                           prompt (Windows UAC) */
    int interactive;    /* the launcher may prompt on the terminal: keep it
                           in sbx's process group, and allow time to type */
    int others;         /* the runner runs as another unprivileged account:
                           the channel must be reachable by it */
    int connect_ms;     /* bound on launch, connect and handshake; the
                           answer to the spawn request is awaited without
                           one (the command may be running already) */
    struct term *term;  /* the terminal side, decided by term_decide() and
                           matching spawn.tty; the session switches it
                           between raw and restored and leaves it restored
                           on every way out; the caller closes it */
};

enum session_result {
    SESSION_EXITED,       /* st: how the command ended */
    SESSION_SPAWN_FAILED, /* se: why it could not start */
    SESSION_FAILED,       /* msg: sbx itself failed */
    SESSION_INTERRUPTED   /* signal: sbx was interrupted before the command
                             started; it should die by that signal */
};

struct session_out {
    int result;
    struct sbx_exit st;
    struct sbx_spawn_error se; /* owned; freed by session_out_free() */
    char msg[SESSION_MSG];
    int signal;
    long long pid;             /* the command's, once spawned; else 0 */
    unsigned long long bytes[3]; /* relayed: stdin sent, stdout, stderr */
    /* Writing our stdout (1) or stderr (2) failed with something other
     * than a vanished reader (EPIPE): the first such failure per stream,
     * as an sbx error and the OS's code; 0 when none.  The session goes on
     * without that stream, as a broken pipe would have ended it inline. */
    int write_err[3];
    long long write_os_err[3];
    /* Bytes of that stream received from the runner but never written:
     * after a write error, or abandoned because sbx was asked to stop (a
     * forwarded signal) and the command had ended while its reader did not
     * read. */
    unsigned long long lost[3];
};

void session_run(const struct session_req *r, struct session_out *out);
void session_out_free(struct session_out *out);

#endif
