/* The protocol's numbers: windows, bounds and defaults that sbx and
 * sbx-runner must agree on, or that docs/protocol.md promises.
 *
 * A header of its own rather than a section of proto.h: proto.h is the
 * message codec, and these are the session's flow control and timing, used
 * by both programs' relay loops and handshakes.  Each says who uses it and
 * why; neither program defines a number of the protocol itself.
 */
#ifndef SBX_PROTOCOL_H
#define SBX_PROTOCOL_H

#include "frame.h"

/* Stdin bytes sbx may have sent and not yet seen acknowledged.  sbx reads
 * its stdin only while it has room in the window, so a command that never
 * reads is never flooded; the runner buffers up to this much and calls
 * more a protocol violation.  Both sides use this one value.
 *
 * Keys typed at the terminal (terminal data frames from sbx) share this one
 * window with stdin data: together they may not exceed it, and the stdin
 * ack frames acknowledge both, counting bytes delivered to the command's
 * stdin or written to its terminal.  One window keeps a command that reads
 * neither from making the runner buffer more than this, and needs no ack
 * frame of its own. */
#define SBX_STDIN_WINDOW (256u * 1024)

/* The runner acknowledges stdin in batches of this size, or sooner when its
 * buffer empties: fewer ack frames, and sbx's window never stalls. */
#define SBX_ACK_BATCH (64u * 1024)

/* sbx reads its stdin (and its terminal) only while less than this is
 * queued for the channel, so control frames (signal, resize, continue)
 * never wait behind much input. */
#define SBX_CLI_OUT_HIGH (512u * 1024)

/* The runner reads the command's output only while less than one chunk is
 * queued: the queue then never holds more than two chunks, so the runner's
 * footprint is the same for any stream length, and the socket's own buffer
 * (4 MiB) does the pipelining.  Smaller than sbx's: here it bounds the
 * memory of each run. */
#define SBX_RUNNER_OUT_HIGH SBX_CHUNK

/* Grace between the polite stop and the end of the whole tree, when the
 * runner ends a run (--timeout, or sbx gone): sbx's --kill-after default,
 * and the runner's when the request says 0.  A signal sbx forwards arms no
 * such countdown: the command decides what it means. */
#define SBX_KILL_AFTER_MS 5000

/* sbx's --connect-timeout default: the bound on launching the runner, its
 * connection and the handshake (not the answer to the spawn request, which
 * may come after the command has started). */
#define SBX_CONNECT_MS 10000

/* The runner's bound on receiving the nonce and channel name, and then
 * sbx's hello and spawn request: a runner left without an sbx gives up. */
#define SBX_HANDSHAKE_MS 10000

/* Added to sbx's connect bound when the launcher may prompt for a password
 * on the terminal (sudo's own prompt gives up after 5 minutes by default),
 * or when Windows shows the elevation prompt. */
#define SBX_PROMPT_MS (5 * 60 * 1000)

/* Bytes of a spawn request's JSON text, at most, over all its frames (spawn
 * parts and the spawn frame).  The runner gathers the text before it
 * decodes it, so this bounds what sbx -- the caller, and the runner may be
 * root -- can make it hold.  It is far above what execve() takes: Linux
 * allows at most 6 MiB of argument and environment strings, pointers
 * included (a quarter of the stack limit, capped at three quarters of
 * 8 MiB), and the encoder spends at most about 2.2 bytes of JSON on one
 * such byte (the shorter of a JSON string, where a control byte takes 6,
 * and the hex form, which takes 2), so the largest request any exec could
 * have given sbx is under 14 MiB; 64 MiB leaves room for systems with a
 * larger ARG_MAX and for the 6-byte escapes of another encoder.  sbx
 * checks its own request against it before sending. */
#define SBX_SPAWN_MAX (64u * 1024 * 1024)

/* Bytes of a channel name in the runner's secret. */
#define SBX_CHAN_NAME_MAX 4096

#endif
