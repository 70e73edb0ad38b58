/* The tables of frame rules.  Modelled on OpenSSH's monitor table: one row
 * per frame type a side may receive, the phases in which it is legal,
 * whether it may come only once, and the phase it leads to. */
#include <stdio.h>

#include "err.h"
#include "frame.h"
#include "proto.h"
#include "rules.h"

#define IN(ph) (1u << (ph))
#define ANY_LIVE (IN(SBX_PH_HELLO) | IN(SBX_PH_SPAWN) | IN(SBX_PH_RUNNING))
#define STAY (-1)

#define TTY 1 /* struct rule.tty: a frame of the run's terminal */

struct rule {
    unsigned type;
    unsigned phases;   /* IN() of each phase in which it is legal */
    int once;          /* at most one per session */
    int next;          /* the phase it leads to, or STAY */
    unsigned not_after; /* illegal once a frame of this type was received
                           (data after its stream's close); 0: none */
    int tty;           /* TTY: illegal in a run without a terminal */
};

/* What sbx accepts from the runner.  Nothing of the command's (output,
 * acks, closes, stops, exit) before spawned; stdin acks may follow stdin
 * close, as the runner acknowledges the stdin it discards; the command may
 * stop any number of times; exit and the error message are last. */
static const struct rule at_cli[] = {
    { SBX_F_HELLO, IN(SBX_PH_HELLO), 1, SBX_PH_SPAWN, 0, 0 },
    { SBX_F_SPAWNED, IN(SBX_PH_SPAWN), 1, SBX_PH_RUNNING, 0, 0 },
    { SBX_F_SPAWN_ERROR, IN(SBX_PH_SPAWN), 1, SBX_PH_END, 0, 0 },
    { SBX_F_DATA | SBX_STDOUT, IN(SBX_PH_RUNNING), 0, STAY, SBX_F_CLOSE | SBX_STDOUT, 0 },
    { SBX_F_DATA | SBX_STDERR, IN(SBX_PH_RUNNING), 0, STAY, SBX_F_CLOSE | SBX_STDERR, 0 },
    { SBX_F_CLOSE | SBX_STDOUT, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_CLOSE | SBX_STDERR, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_CLOSE | SBX_STDIN, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_DATA | SBX_TTY, IN(SBX_PH_RUNNING), 0, STAY, SBX_F_CLOSE | SBX_TTY, TTY },
    { SBX_F_CLOSE | SBX_TTY, IN(SBX_PH_RUNNING), 1, STAY, 0, TTY },
    { SBX_F_STDIN_ACK, IN(SBX_PH_RUNNING), 0, STAY, 0, 0 },
    { SBX_F_STOPPED, IN(SBX_PH_RUNNING), 0, STAY, 0, 0 },
    { SBX_F_EXIT, IN(SBX_PH_RUNNING), 1, SBX_PH_END, 0, 0 },
    { SBX_F_ERROR, ANY_LIVE, 1, SBX_PH_END, 0, 0 },
};

/* What the runner accepts from sbx.  sbx never sends an error frame: it
 * ends a session by closing the channel.  A large spawn request comes as
 * any number of parts before its spawn frame, which ends it (their total
 * is bounded by the runner as it gathers them).  Signals, sizes and
 * continues may repeat; keys have no close of their own (sbx stops typing
 * by sending nothing). */
static const struct rule at_runner[] = {
    { SBX_F_HELLO, IN(SBX_PH_HELLO), 1, SBX_PH_SPAWN, 0, 0 },
    { SBX_F_SPAWN_PART, IN(SBX_PH_SPAWN), 0, STAY, 0, 0 },
    { SBX_F_SPAWN, IN(SBX_PH_SPAWN), 1, SBX_PH_RUNNING, 0, 0 },
    { SBX_F_DATA | SBX_STDIN, IN(SBX_PH_RUNNING), 0, STAY, SBX_F_CLOSE | SBX_STDIN, 0 },
    { SBX_F_CLOSE | SBX_STDIN, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_CLOSE | SBX_STDOUT, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_CLOSE | SBX_STDERR, IN(SBX_PH_RUNNING), 1, STAY, 0, 0 },
    { SBX_F_DATA | SBX_TTY, IN(SBX_PH_RUNNING), 0, STAY, 0, TTY },
    { SBX_F_SIGNAL, IN(SBX_PH_RUNNING), 0, STAY, 0, 0 },
    { SBX_F_RESIZE, IN(SBX_PH_RUNNING), 0, STAY, 0, TTY },
    { SBX_F_CONTINUE, IN(SBX_PH_RUNNING), 0, STAY, 0, 0 },
};

static const struct {
    const struct rule *rows;
    size_t n;
    const char *peer;
    const char *phase[SBX_PH_COUNT_];
} tables[] = {
    [SBX_AT_CLI] = { at_cli, sizeof(at_cli) / sizeof(at_cli[0]), "the runner",
                     { "before hello", "before spawned", "while the command runs",
                       "after the last frame" } },
    [SBX_AT_RUNNER] = { at_runner, sizeof(at_runner) / sizeof(at_runner[0]), "sbx",
                        { "before hello", "before the spawn request",
                          "while the command runs", "after the last frame" } },
};

static int side_ok(int side)
{
    return side == SBX_AT_CLI || side == SBX_AT_RUNNER;
}

/* The row of `type`, or -1. */
static int row_of(int side, unsigned type)
{
    for (size_t i = 0; i < tables[side].n; i++)
        if (tables[side].rows[i].type == type)
            return (int)i;
    return -1;
}

void sbx_rules_init(struct sbx_rules *r, int side)
{
    r->side = side;
    r->phase = SBX_PH_HELLO;
    r->seen = 0;
    r->no_tty = 0;
}

void sbx_rules_no_tty(struct sbx_rules *r)
{
    r->no_tty = 1;
}

int sbx_rules_known(int side, unsigned type)
{
    return side_ok(side) && row_of(side, type) >= 0;
}

const char *sbx_rules_phase_name(int side, int phase)
{
    if (!side_ok(side) || phase < 0 || phase >= SBX_PH_COUNT_)
        return "in no phase";
    return tables[side].phase[phase];
}

int sbx_rules_check(struct sbx_rules *r, unsigned type, char *why)
{
    const char *name = sbx_frame_type_name(type), *peer;
    const struct rule *row;
    int i, k;

    if (!side_ok(r->side) || r->phase < 0 || r->phase >= SBX_PH_COUNT_) {
        snprintf(why, SBX_WHY, "frame rules used before they were set up");
        return SBX_EPROTO;
    }
    peer = tables[r->side].peer;
    if ((i = row_of(r->side, type)) < 0) {
        snprintf(why, SBX_WHY, "unexpected %s frame from %s", name, peer);
        return SBX_EPROTO;
    }
    row = &tables[r->side].rows[i];
    if (r->phase == SBX_PH_HELLO && type != SBX_F_HELLO && !(row->phases & IN(SBX_PH_HELLO))) {
        snprintf(why, SBX_WHY, "expected hello, got a %s frame from %s", name, peer);
        return SBX_EPROTO;
    }
    if (row->once && (r->seen & (1u << i))) {
        snprintf(why, SBX_WHY, "a second %s frame from %s", name, peer);
        return SBX_EPROTO;
    }
    if (!(row->phases & IN(r->phase))) {
        snprintf(why, SBX_WHY, "unexpected %s frame from %s %s", name, peer,
                 tables[r->side].phase[r->phase]);
        return SBX_EPROTO;
    }
    if (row->tty && r->no_tty) {
        snprintf(why, SBX_WHY, "%s frame from %s in a run without a terminal", name, peer);
        return SBX_EPROTO;
    }
    if (row->not_after != 0 && (k = row_of(r->side, row->not_after)) >= 0 &&
        (r->seen & (1u << k))) {
        snprintf(why, SBX_WHY, "%s frame from %s after its %s", name, peer,
                 sbx_frame_type_name(row->not_after));
        return SBX_EPROTO;
    }
    if (row->once)
        r->seen |= 1u << i;
    if (row->next != STAY)
        r->phase = row->next;
    return 0;
}
