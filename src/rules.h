/* Which frame each side may receive, and when: one table per receiving side
 * (docs/protocol.md, "Which frames each side accepts"), consulted by both
 * handshakes and both relay loops instead of checks of their own.
 *
 * Pure: no I/O, no allocation.  The receiver keeps a struct sbx_rules for
 * the session, starting at SBX_PH_HELLO, and asks sbx_rules_check() about
 * every frame before it looks at the payload.  A frame the table refuses
 * is a protocol error, which ends the session.
 */
#ifndef SBX_RULES_H
#define SBX_RULES_H

/* The receiving side, which decides the table. */
enum sbx_rules_side {
    SBX_AT_CLI = 0,   /* sbx, receiving from the runner */
    SBX_AT_RUNNER = 1 /* sbx-runner, receiving from sbx */
};

enum sbx_phase {
    SBX_PH_HELLO = 0, /* nothing received yet: hello comes first */
    SBX_PH_SPAWN,     /* hello received; the runner waits for the spawn
                         request, sbx for the answer to it */
    SBX_PH_RUNNING,   /* the command runs: streams, acks, signals, the
                         terminal's size, stops and continues, exit */
    SBX_PH_END,       /* exit, spawn-error or error received: nothing more
                         may arrive */
    SBX_PH_COUNT_
};

struct sbx_rules {
    int side;      /* enum sbx_rules_side */
    int phase;     /* enum sbx_phase */
    unsigned seen; /* once-only frames received so far, one bit per table row */
    int no_tty;    /* the run has no terminal: its frames are refused */
};

void sbx_rules_init(struct sbx_rules *r, int side);

/* This run has no terminal (its spawn request has no "tty" member): from
 * now on the terminal's frames -- terminal data and close, resize -- are
 * refused.  Both sides call it once they know, after the spawn request:
 * sbx when it sends one without a terminal, the runner when it receives
 * one.  Without the call those frames are legal while the command runs. */
void sbx_rules_no_tty(struct sbx_rules *r);

/* Whether a frame of `type` may arrive now.  0: it may, and r's phase has
 * moved on to what the frame leads to.  SBX_EPROTO: it may not; `why`
 * (SBX_WHY bytes) gets one line naming the frame and the rule it breaks,
 * and r is left as it was. */
int sbx_rules_check(struct sbx_rules *r, unsigned type, char *why);

/* Whether a frame of `type` is one the receiving side ever accepts (a
 * frame of the other direction, or an unknown type, is not). */
int sbx_rules_known(int side, unsigned type);

/* "before spawned", for messages and tests. */
const char *sbx_rules_phase_name(int side, int phase);

#endif
