/* Starting sbx-runner across the boundary, handing it its secret, checking
 * that the process that connected is the one started, and reaping it.
 * session.c drives these around the handshake and the relay loop.
 *
 * Failures return a negative sbx error and write one line for the user into
 * `msg` (SESSION_MSG bytes); nothing here exits or decides a status. */
#ifndef SBX_LAUNCH_H
#define SBX_LAUNCH_H

#include "os.h"
#include "proto.h"
#include "session.h"

/* A fresh nonce for the run: SBX_NONCE_HEX lowercase hex digits. */
int launch_nonce(char nonce[SBX_NONCE_HEX + 1], char *msg);

/* Starts the runner, directly or through r->launcher or the elevation
 * prompt, and hands it the nonce and the channel's name over a path that
 * survives the launcher.  With `pair` (sbx_chan_pair: pair[0] sbx's end,
 * pair[1] the runner's), the runner's stdin is its end of the channel
 * itself: the nonce and SBX_CHAN_STDIN go ahead of everything on pair[0],
 * and pair[1] is closed (and NULL) once the runner has it, on failure
 * too; `name` is not used.  Without (NULL: Windows), `name` is the named
 * channel's, and both go in a pipe the runner takes from sbx.  *runner
 * gets the process started (the runner or its launcher) and *keep the
 * handle sbx must hold until the session is over (Windows; else NULL).  *said gets the read end of the runner's stderr when sbx starts
 * the runner itself (see launch_said); through a launcher or the prompt
 * the runner's stderr is sbx's, or nothing, and *said is NULL: what the
 * launcher says (a wrong password) is the user's to read as it comes.  All
 * three are the caller's, set or NULL also on failure: free them with
 * launch_reap(), sbx_h_close() and launch_said(). */
int launch_start(const struct session_req *r, const char *nonce, const char *name,
                 sbx_h *pair[2], sbx_proc **runner, sbx_h **keep, sbx_h **said, char *msg);

/* What a runner started directly said on its stderr before it exited
 * (it says something only when it fails before the channel exists): its
 * first line, without its "sbx-runner: " prefix, with anything unprintable
 * as '?', into buf (cap bytes; "" when it said nothing).  Reads at most
 * the first 512 bytes, without waiting for a runner still running, and
 * closes *said (NULL accepted); buf may be NULL just to close it. */
void launch_said(sbx_h **said, char *buf, size_t cap);

/* SBX_EPEER unless the channel's peer (of a pair: the writer of its first
 * bytes) is exactly who was started: the uid the runner must have, and
 * the process `runner` itself (started directly or through the elevation
 * prompt), or else a descendant of the launcher that started it.  A pid
 * of 0 (a writer the kernel could not name here) never passes. */
int launch_check_peer(const struct session_req *r, sbx_proc *runner,
                      const struct sbx_peer *peer, char *msg);

/* Waits up to `ms` for the runner to exit after the session, then makes
 * sure it does, and frees it (*runner becomes NULL; NULL is accepted).
 * 0 with *st telling how it ended when that could be seen, else
 * SBX_ETIMEDOUT. */
int launch_reap(sbx_proc **runner, int ms, struct sbx_exit *st);

/* Lets go of the runner without waiting for it or ending it (*runner
 * becomes NULL; NULL is accepted): for a runner known to be on its way
 * out, which ends on its own. */
void launch_forget(sbx_proc **runner);

#endif
