/* The inside of one sbx session, shared by the relay loop (session.c) and
 * job control and signals (job.c).  Not for anything else in cli/. */
#ifndef SBX_SESSION_INT_H
#define SBX_SESSION_INT_H

#include <stdint.h>

#include "conn.h"
#include "os.h"
#include "rules.h"
#include "session.h"
#include "tty.h"

struct sess {
    const struct session_req *r;
    struct session_out *out;
    sbx_conn *c;          /* NULL until the runner connects */
    struct sbx_rules rules; /* which frame from the runner is legal now */
    sbx_proc *runner;     /* the runner, or the launcher that starts it */
    sbx_h *secret;        /* Windows: the pipe the runner takes its secret from */
    sbx_h *in;            /* our stdin; NULL once it is done, and in pty mode
                             when stream 0 is the terminal */
    struct term *tm;      /* the terminal side (tty.h) */
    sbx_h *keys;          /* where keys are read: fd 0 (owned) or the
                             terminal handle (borrowed); NULL: none */
    int keys_owned, keys_dead;
    sbx_h *std[3];        /* our stdout/stderr in std[1], std[2] */
    int dead[3];          /* writing there failed: drop that stream */
    int tty_dead;         /* writing the terminal's output failed */
    size_t in_flight;     /* stdin and keys sent, not yet acknowledged */
    int req_sent;         /* the spawn request is queued: from then on a
                             signal is the command's (queued as a frame
                             for the runner to deliver once it exists) */
    int spawned, done;
    int stop_asked;       /* a signal asking the command to stop (INT,
                             TERM, HUP, QUIT, USR1, USR2; Windows BREAK)
                             was sent: output writes must never block */
    int stop_sig;         /* the first such signal, and when it was sent */
    long long stop_at_ms;
    /* The unwritten rest of the current output chunk, a copy of our own
     * (the channel may be read meanwhile), for pend_to: 1 or 2 (our
     * stdout or stderr) or SBX_TTY (the terminal's output).  While it is
     * there, no frame is taken from the channel: output stays in order. */
    uint8_t *pend;
    size_t pend_cap, pend_off, pend_len;
    int pend_to;
    long long moved_ms;   /* when a write of output last took any bytes */
    int end_ahead;        /* with output held after a stop: the exit frame
                             (or the end of the channel) is among the
                             frames read ahead */
    int scan_dirty;       /* something changed since end_ahead was looked
                             for */
    int draining;         /* the command ended after a stop while our
                             reader did not read: output is counted as
                             lost instead of written, up to the exit */
    int runner_died;
    /* Large stdout/stderr payloads spliced from the channel straight into
     * a pipe (session.c): sp_left bytes of the frame for sp_to are still in
     * the channel, and no frame is read until they are moved. */
    int pipe_out[3];      /* std[1], std[2] is a pipe (looked at once) */
    int big;              /* the last output frame was large enough to
                             splice: worth peeking at the next header */
    int no_splice;        /* the kernel refused once: copy from then on */
    size_t sp_left;
    int sp_to;
    long long bg_stop_at; /* when sbx last came back from a stop still in
                             the background */
    int bg_spins;         /* how many such returns came in quick succession */
};

/* session.c: delivers every signal received so far (job_signal); < 0 when
 * the session must end (SBX_EINTR: interrupted before the command
 * existed, out->result says so). */
int forward_signals(struct sess *s);

/* job.c.  Each returns 0, or a negative sbx error that ends the session. */

/* The command exists: when it starts in its terminal's foreground, the
 * caller's terminal goes raw, and a resize made meanwhile is passed on. */
int job_spawned(struct sess *s);
/* One signal sbx received (sbx_sig_take). */
int job_signal(struct sess *s, int sig);
/* The runner says the command stopped with `sig`. */
int job_stopped(struct sess *s, int sig);

#endif
