/* sbx-runner internals shared between its main() and its pump. */
#ifndef SBX_RUNNER_H
#define SBX_RUNNER_H

#include "conn.h"
#include "os.h"
#include "protocol.h"
#include "rules.h"

/* What the pump relays for one command. */
struct runner_io {
    sbx_h *in, *out, *err; /* the command's stdin, stdout, stderr pipes;
                              NULL for a stream that is its terminal */
    sbx_h *master;         /* pty mode: its terminal's other end; else NULL */
    int foreground;        /* pty mode: the command's group holds its
                              terminal's foreground now */
    long long timeout_ms;  /* 0: none */
    long long kill_after_ms; /* 0: SBX_KILL_AFTER_MS */
};

/* Relays between the channel and a running child until the child has exited,
 * its output has been sent, and the exit frame is flushed.  Takes ownership
 * of the handles in *io (any may be NULL).  Returns 0 when the exit frame
 * was delivered, or a negative sbx error; in every case the child's process
 * group has been killed and the child reaped before it returns.  `rules` is
 * the handshake's: every frame from sbx is checked against it.
 *
 * Signals from sbx go to the command's group once each (9: the whole tree)
 * and arm nothing.  io->timeout_ms counts from the call; at expiry the
 * command's group gets SBX_SIG_TERM and a continue (a stopped group must
 * see it), and the whole tree ends kill_after_ms later if the command is
 * still running; the exit frame says timed_out.  The command's stops are
 * reported as stopped frames; continue and resize frames act on it. */
int runner_pump(sbx_conn *c, struct sbx_rules *rules, sbx_proc *child, struct runner_io *io,
                char *why);

#endif
