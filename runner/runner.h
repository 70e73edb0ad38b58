/* sbx-runner internals shared between its main() and its pump. */
#ifndef SBX_RUNNER_H
#define SBX_RUNNER_H

#include "conn.h"
#include "os.h"
#include "protocol.h"
#include "rules.h"

/* Relays between the channel and a running child until the child has exited,
 * its output has been sent, and the exit frame is flushed.  Takes ownership
 * of the three stdio handles (any may be NULL).  Returns 0 when the exit
 * frame was delivered, or a negative sbx error; in every case the child's
 * process group has been killed and the child reaped before it returns.
 * `rules` is the handshake's: every frame from sbx is checked against it.
 *
 * timeout_ms (0: none) counts from the call; at expiry the command's group
 * gets SBX_SIG_TERM, and the whole tree ends kill_after_ms later (0:
 * SBX_KILL_AFTER_MS) if the command is still running; the exit frame says
 * timed_out. */
int runner_pump(sbx_conn *c, struct sbx_rules *rules, sbx_proc *child, sbx_h *in, sbx_h *out,
                sbx_h *err, long long timeout_ms, long long kill_after_ms, char *why);

#endif
