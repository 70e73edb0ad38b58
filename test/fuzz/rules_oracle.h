/* An oracle for the tables of frame rules (src/rules.c), shared by the
 * harnesses that push frame sequences through them.  It does not restate
 * the tables; it keeps its own account of what each side has received and
 * checks the invariants docs/protocol.md promises:
 *
 *   - hello is the first frame accepted (sbx may instead get an error);
 *   - nothing is accepted after exit, spawn-error or error;
 *   - hello, spawn, spawned or spawn-error, exit and each close at most once;
 *   - no output, close, ack, stop or exit before spawned; no stdin or
 *     terminal data, close, signal, resize or continue before spawn; no
 *     data after its stream's close (sbx never closes the terminal);
 *   - spawn parts only between hello and spawn, as many as come;
 *   - only frames of the right direction;
 *   - in a run without a terminal, none of the terminal's frames (terminal
 *     data and close, resize);
 *   - the phase only moves forward, and a refusal changes nothing and says
 *     why in one terminated line naming the frame;
 *   - and the other way round, frames the protocol allows are accepted:
 *     output, acks, stops, signals, sizes, continues and the terminal's
 *     data while running, a first close.
 */
#ifndef SBX_RULES_ORACLE_H
#define SBX_RULES_ORACLE_H

#include <string.h>

#include "err.h"
#include "frame.h"
#include "fuzz.h"
#include "proto.h"
#include "rules.h"

struct oracle {
    struct sbx_rules r;
    int side;
    int no_tty;                       /* a run without a terminal */
    int hello, spawn, started, ended; /* received: hello, spawn, spawned or
                                         spawn-error, a last frame */
    int running;                      /* spawn (runner) or spawned (sbx) */
    int closed[4], exits;             /* by stream, SBX_TTY included */
};

static inline void oracle_init(struct oracle *o, int side)
{
    memset(o, 0, sizeof(*o));
    o->side = side;
    sbx_rules_init(&o->r, side);
}

/* The run has no terminal: as both sides do once they know, after the
 * spawn request, though it may come at any point. */
static inline void oracle_no_tty(struct oracle *o)
{
    o->no_tty = 1;
    sbx_rules_no_tty(&o->r);
}

/* The frames of the run's terminal, as this side receives them. */
static inline int oracle_tty_frame(int side, unsigned t)
{
    if (t == (SBX_F_DATA | SBX_TTY))
        return 1;
    return side == SBX_AT_CLI ? t == (SBX_F_CLOSE | SBX_TTY) : t == SBX_F_RESIZE;
}

/* Whether a frame of `type` could ever travel towards this side. */
static inline int oracle_direction_ok(int side, unsigned t)
{
    if (t == SBX_F_HELLO || (SBX_F_KIND(t) == SBX_F_CLOSE && SBX_F_STREAM(t) <= 2) ||
        t == (SBX_F_DATA | SBX_TTY))
        return 1;
    if (side == SBX_AT_CLI)
        return t == SBX_F_SPAWNED || t == SBX_F_SPAWN_ERROR || t == SBX_F_EXIT ||
               t == SBX_F_ERROR || t == SBX_F_STDIN_ACK || t == (SBX_F_DATA | SBX_STDOUT) ||
               t == (SBX_F_DATA | SBX_STDERR) || t == SBX_F_STOPPED ||
               t == (SBX_F_CLOSE | SBX_TTY);
    return t == SBX_F_SPAWN || t == SBX_F_SPAWN_PART || t == SBX_F_SIGNAL ||
           t == (SBX_F_DATA | SBX_STDIN) || t == SBX_F_RESIZE || t == SBX_F_CONTINUE;
}

/* Frames the protocol certainly allows in the oracle's current state. */
static inline int oracle_must_accept(const struct oracle *o, unsigned t)
{
    if (o->ended)
        return 0;
    if (!o->hello)
        return t == SBX_F_HELLO;
    if (!o->running)
        return o->side == SBX_AT_CLI ? !o->started && (t == SBX_F_SPAWNED ||
                                                       t == SBX_F_SPAWN_ERROR)
                                     : t == SBX_F_SPAWN || t == SBX_F_SPAWN_PART;
    if (SBX_F_KIND(t) == SBX_F_CLOSE && SBX_F_STREAM(t) <= 2)
        return !o->closed[SBX_F_STREAM(t)];
    if (oracle_tty_frame(o->side, t) && o->no_tty)
        return 0;
    if (o->side == SBX_AT_CLI)
        return t == SBX_F_STDIN_ACK || t == SBX_F_EXIT || t == SBX_F_STOPPED ||
               (t == (SBX_F_DATA | SBX_STDOUT) && !o->closed[SBX_STDOUT]) ||
               (t == (SBX_F_DATA | SBX_STDERR) && !o->closed[SBX_STDERR]) ||
               (t == (SBX_F_DATA | SBX_TTY) && !o->closed[SBX_TTY]) ||
               (t == (SBX_F_CLOSE | SBX_TTY) && !o->closed[SBX_TTY]);
    return t == SBX_F_SIGNAL || t == SBX_F_RESIZE || t == SBX_F_CONTINUE ||
           t == (SBX_F_DATA | SBX_TTY) ||
           (t == (SBX_F_DATA | SBX_STDIN) && !o->closed[SBX_STDIN]);
}

/* One frame received: the table's verdict, checked.  Returns it. */
static inline int oracle_feed(struct oracle *o, unsigned t)
{
    struct sbx_rules before = o->r;
    char why[SBX_WHY];
    int must = oracle_must_accept(o, t);
    int rc;

    memset(why, 'x', sizeof(why));
    rc = sbx_rules_check(&o->r, t, why);
    if (rc != 0) {
        CHECK(rc == SBX_EPROTO);
        CHECK(!must);
        CHECK(memcmp(&before, &o->r, sizeof(before)) == 0);
        CHECK(strnlen(why, SBX_WHY) > 0 && strnlen(why, SBX_WHY) < SBX_WHY);
        CHECK(strchr(why, '\n') == NULL);
        CHECK(strstr(why, sbx_frame_type_name(t)) != NULL);
        return rc;
    }

    CHECK(o->r.phase >= before.phase && o->r.phase < SBX_PH_COUNT_);
    CHECK(sbx_frame_type_known(t) && sbx_rules_known(o->side, t));
    CHECK(oracle_direction_ok(o->side, t));
    CHECK(!(o->no_tty && oracle_tty_frame(o->side, t)));
    CHECK(!o->ended);
    CHECK(o->hello || t == SBX_F_HELLO || t == SBX_F_ERROR);
    switch (t) {
    case SBX_F_HELLO:
        CHECK(!o->hello);
        o->hello = 1;
        break;
    case SBX_F_SPAWN:
        CHECK(!o->spawn);
        o->spawn = o->running = 1;
        break;
    case SBX_F_SPAWN_PART:
        /* A piece of the request still to come: the runner only, after
         * hello, and nothing runs yet. */
        CHECK(o->side == SBX_AT_RUNNER && o->hello && !o->spawn);
        break;
    case SBX_F_SPAWNED:
    case SBX_F_SPAWN_ERROR:
        CHECK(!o->started);
        o->started = 1;
        o->running = t == SBX_F_SPAWNED;
        o->ended = t == SBX_F_SPAWN_ERROR;
        break;
    case SBX_F_EXIT:
        CHECK(o->running && o->exits++ == 0);
        o->ended = 1;
        break;
    case SBX_F_ERROR:
        o->ended = 1;
        break;
    default:
        /* Everything else belongs to a running command. */
        CHECK(o->running);
        if (SBX_F_KIND(t) == SBX_F_CLOSE) {
            CHECK(!o->closed[SBX_F_STREAM(t)]);
            o->closed[SBX_F_STREAM(t)] = 1;
        } else if (SBX_F_KIND(t) == SBX_F_DATA) {
            CHECK(!o->closed[SBX_F_STREAM(t)]);
        }
        break;
    }
    CHECK((o->r.phase == SBX_PH_END) == o->ended);
    CHECK((o->r.phase == SBX_PH_RUNNING) == (o->running && !o->ended));
    return 0;
}

#endif
