/* The tables of frame rules (src/rules.c), restated here from
 * docs/protocol.md: every frame type in every phase on both sides, with and
 * without a terminal, the once-only frames, data after its stream's close,
 * and unknown types. */
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "frame.h"
#include "proto.h"
#include "rules.h"

static const unsigned all_types[] = {
    SBX_F_HELLO, SBX_F_SPAWN, SBX_F_SPAWNED, SBX_F_SPAWN_ERROR, SBX_F_EXIT,
    SBX_F_SIGNAL, SBX_F_ERROR, SBX_F_DATA | SBX_STDIN, SBX_F_DATA | SBX_STDOUT,
    SBX_F_DATA | SBX_STDERR, SBX_F_CLOSE | SBX_STDIN, SBX_F_CLOSE | SBX_STDOUT,
    SBX_F_CLOSE | SBX_STDERR, SBX_F_STDIN_ACK, SBX_F_RESIZE, SBX_F_STOPPED,
    SBX_F_CONTINUE, SBX_F_DATA | SBX_TTY, SBX_F_CLOSE | SBX_TTY, SBX_F_SPAWN_PART,
};
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

/* For each type, the phase it leads to from each phase (HELLO, SPAWN,
 * RUNNING, END), or X where it is refused.  R stays RUNNING. */
#define X (-1)
#define H SBX_PH_HELLO
#define S SBX_PH_SPAWN
#define R SBX_PH_RUNNING
#define E SBX_PH_END

struct expect {
    unsigned type;
    int next[SBX_PH_COUNT_];
};

static const struct expect at_cli[NTYPES] = {
    { SBX_F_HELLO, { S, X, X, X } },
    { SBX_F_SPAWN, { X, X, X, X } },
    { SBX_F_SPAWNED, { X, R, X, X } },
    { SBX_F_SPAWN_ERROR, { X, E, X, X } },
    { SBX_F_EXIT, { X, X, E, X } },
    { SBX_F_SIGNAL, { X, X, X, X } },
    { SBX_F_ERROR, { E, E, E, X } },
    { SBX_F_DATA | SBX_STDIN, { X, X, X, X } },
    { SBX_F_DATA | SBX_STDOUT, { X, X, R, X } },
    { SBX_F_DATA | SBX_STDERR, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_STDIN, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_STDOUT, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_STDERR, { X, X, R, X } },
    { SBX_F_STDIN_ACK, { X, X, R, X } },
    { SBX_F_RESIZE, { X, X, X, X } },
    { SBX_F_STOPPED, { X, X, R, X } },
    { SBX_F_CONTINUE, { X, X, X, X } },
    { SBX_F_DATA | SBX_TTY, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_TTY, { X, X, R, X } },
    { SBX_F_SPAWN_PART, { X, X, X, X } },
};

static const struct expect at_runner[NTYPES] = {
    { SBX_F_HELLO, { S, X, X, X } },
    { SBX_F_SPAWN, { X, R, X, X } },
    { SBX_F_SPAWNED, { X, X, X, X } },
    { SBX_F_SPAWN_ERROR, { X, X, X, X } },
    { SBX_F_EXIT, { X, X, X, X } },
    { SBX_F_SIGNAL, { X, X, R, X } },
    { SBX_F_ERROR, { X, X, X, X } },
    { SBX_F_DATA | SBX_STDIN, { X, X, R, X } },
    { SBX_F_DATA | SBX_STDOUT, { X, X, X, X } },
    { SBX_F_DATA | SBX_STDERR, { X, X, X, X } },
    { SBX_F_CLOSE | SBX_STDIN, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_STDOUT, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_STDERR, { X, X, R, X } },
    { SBX_F_STDIN_ACK, { X, X, X, X } },
    { SBX_F_RESIZE, { X, X, R, X } },
    { SBX_F_STOPPED, { X, X, X, X } },
    { SBX_F_CONTINUE, { X, X, R, X } },
    { SBX_F_DATA | SBX_TTY, { X, X, R, X } },
    { SBX_F_CLOSE | SBX_TTY, { X, X, X, X } },
    { SBX_F_SPAWN_PART, { X, S, X, X } },
};

/* The frames of the run's terminal: refused, in every phase, once the
 * receiver knows the run has none. */
static int is_tty_frame(int side, unsigned type)
{
    if (type == (SBX_F_DATA | SBX_TTY))
        return 1;
    return side == SBX_AT_CLI ? type == (SBX_F_CLOSE | SBX_TTY) : type == SBX_F_RESIZE;
}

/* Rules freshly brought to `phase` by the frames that lead there. */
static struct sbx_rules at(int side, int phase)
{
    struct sbx_rules r;
    char why[SBX_WHY];

    sbx_rules_init(&r, side);
    if (phase >= SBX_PH_SPAWN)
        cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), 0);
    if (phase >= SBX_PH_RUNNING)
        cr_assert_eq(sbx_rules_check(&r, side == SBX_AT_CLI ? SBX_F_SPAWNED : SBX_F_SPAWN, why),
                     0);
    if (phase == SBX_PH_END) {
        if (side == SBX_AT_CLI)
            cr_assert_eq(sbx_rules_check(&r, SBX_F_EXIT, why), 0);
        else
            r.phase = SBX_PH_END; /* no frame ends the runner's side */
    }
    cr_assert_eq(r.phase, phase);
    return r;
}

/* A refusal: SBX_EPROTO, one terminated line naming the frame, and the
 * rules left exactly as they were. */
static void expect_refused(struct sbx_rules *r, unsigned type, const char *ctx)
{
    struct sbx_rules before = *r;
    char why[SBX_WHY];

    memset(why, 'x', sizeof(why));
    cr_assert_eq(sbx_rules_check(r, type, why), SBX_EPROTO, "%s: %s accepted", ctx,
                 sbx_frame_type_name(type));
    cr_assert_lt(strnlen(why, sizeof(why)), sizeof(why), "%s: reason not terminated", ctx);
    cr_assert_gt(strlen(why), 0);
    cr_assert_null(strchr(why, '\n'));
    cr_assert_not_null(strstr(why, sbx_frame_type_name(type)), "%s: reason '%s'", ctx, why);
    cr_assert_eq(memcmp(&before, r, sizeof(before)), 0, "%s: a refusal changed the rules", ctx);
}

/* no_tty: as in a run without a terminal, where sbx_rules_no_tty() was
 * called after the spawn request (here, before the first frame: it may be
 * called at any point and never changes anything but the terminal's
 * frames). */
static void every_type_every_phase(int side, const struct expect *tab, int no_tty)
{
    for (size_t i = 0; i < NTYPES; i++) {
        cr_assert_eq(tab[i].type, all_types[i]);
        for (int ph = 0; ph < SBX_PH_COUNT_; ph++) {
            struct sbx_rules r = at(side, ph);
            char ctx[128], why[SBX_WHY];

            if (no_tty)
                sbx_rules_no_tty(&r);
            snprintf(ctx, sizeof(ctx), "side %d%s, %s %s", side, no_tty ? " (no terminal)" : "",
                     sbx_frame_type_name(tab[i].type), sbx_rules_phase_name(side, ph));
            if (tab[i].next[ph] == X || (no_tty && is_tty_frame(side, tab[i].type))) {
                expect_refused(&r, tab[i].type, ctx);
            } else {
                cr_assert_eq(sbx_rules_check(&r, tab[i].type, why), 0, "%s: refused: %s", ctx,
                             why);
                cr_assert_eq(r.phase, tab[i].next[ph], "%s: phase %d", ctx, r.phase);
            }
        }
        cr_assert_eq(sbx_rules_known(side, tab[i].type),
                     tab[i].next[0] != X || tab[i].next[1] != X || tab[i].next[2] != X);
    }
}

Test(rules, sbx_side_every_type_in_every_phase)
{
    every_type_every_phase(SBX_AT_CLI, at_cli, 0);
}

Test(rules, runner_side_every_type_in_every_phase)
{
    every_type_every_phase(SBX_AT_RUNNER, at_runner, 0);
}

Test(rules, sbx_side_every_type_in_every_phase_without_a_terminal)
{
    every_type_every_phase(SBX_AT_CLI, at_cli, 1);
}

Test(rules, runner_side_every_type_in_every_phase_without_a_terminal)
{
    every_type_every_phase(SBX_AT_RUNNER, at_runner, 1);
}

/* Both sides call sbx_rules_no_tty() just after the spawn request; the
 * refusal names the frame and says why, and the rules stay as they were. */
Test(rules, no_terminal_frames_in_a_pipe_run)
{
    struct sbx_rules c, r;
    char why[SBX_WHY];

    sbx_rules_init(&c, SBX_AT_CLI);
    sbx_rules_init(&r, SBX_AT_RUNNER);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_HELLO, why), 0);
    sbx_rules_no_tty(&c); /* sbx sent a spawn request without tty */
    cr_assert_eq(sbx_rules_check(&c, SBX_F_SPAWNED, why), 0);
    expect_refused(&c, SBX_F_DATA | SBX_TTY, "sbx, pipe run");
    expect_refused(&c, SBX_F_CLOSE | SBX_TTY, "sbx, pipe run");
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_TTY, why), SBX_EPROTO);
    cr_assert_str_eq(why, "terminal data frame from the runner in a run without a terminal");
    /* A command without a terminal still stops, and everything else of
     * the run goes on. */
    cr_assert_eq(sbx_rules_check(&c, SBX_F_STOPPED, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDOUT, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_EXIT, why), 0, "%s", why);

    cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), 0);
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN, why), 0);
    sbx_rules_no_tty(&r); /* the request had no tty member */
    expect_refused(&r, SBX_F_DATA | SBX_TTY, "runner, pipe run");
    expect_refused(&r, SBX_F_RESIZE, "runner, pipe run");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_RESIZE, why), SBX_EPROTO);
    cr_assert_str_eq(why, "resize frame from sbx in a run without a terminal");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_CONTINUE, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SIGNAL, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&r, SBX_F_DATA | SBX_STDIN, why), 0, "%s", why);
    /* Frames of the other direction stay refused for their own reason. */
    cr_assert_eq(sbx_rules_check(&r, SBX_F_CLOSE | SBX_TTY, why), SBX_EPROTO);
    cr_assert_str_eq(why, "unexpected terminal close frame from sbx");
}

/* The terminal's output ends once; keys have no close. */
Test(rules, terminal_stream_and_its_close)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_RUNNING), r = at(SBX_AT_RUNNER, SBX_PH_RUNNING);
    char why[SBX_WHY];

    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_TTY, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_CLOSE | SBX_TTY, why), 0, "%s", why);
    expect_refused(&c, SBX_F_DATA | SBX_TTY, "terminal data after its close");
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_TTY, why), SBX_EPROTO);
    cr_assert_str_eq(why, "terminal data frame from the runner after its terminal close");
    expect_refused(&c, SBX_F_CLOSE | SBX_TTY, "a second terminal close");
    /* The pipes are not affected, and the command may still stop. */
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDOUT, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_STOPPED, why), 0, "%s", why);

    for (int i = 0; i < 100; i++)
        cr_assert_eq(sbx_rules_check(&r, SBX_F_DATA | SBX_TTY, why), 0, "%s", why);
    expect_refused(&r, SBX_F_CLOSE | SBX_TTY, "sbx does not close the keys");
    /* stdin close does not end the keys: they are another stream. */
    cr_assert_eq(sbx_rules_check(&r, SBX_F_CLOSE | SBX_STDIN, why), 0, "%s", why);
    cr_assert_eq(sbx_rules_check(&r, SBX_F_DATA | SBX_TTY, why), 0, "%s", why);
}

/* Before the command runs there is nothing to signal, size, stop or
 * continue. */
Test(rules, job_control_only_while_running)
{
    static const unsigned to_runner[] = { SBX_F_SIGNAL, SBX_F_RESIZE, SBX_F_CONTINUE,
                                          SBX_F_DATA | SBX_TTY };
    static const unsigned to_cli[] = { SBX_F_STOPPED, SBX_F_DATA | SBX_TTY,
                                       SBX_F_CLOSE | SBX_TTY };

    for (int ph = SBX_PH_HELLO; ph <= SBX_PH_SPAWN; ph++) {
        for (size_t i = 0; i < sizeof(to_runner) / sizeof(to_runner[0]); i++) {
            struct sbx_rules r = at(SBX_AT_RUNNER, ph);
            expect_refused(&r, to_runner[i], "runner, before the spawn request");
        }
        for (size_t i = 0; i < sizeof(to_cli) / sizeof(to_cli[0]); i++) {
            struct sbx_rules c = at(SBX_AT_CLI, ph);
            expect_refused(&c, to_cli[i], "sbx, before spawned");
        }
    }
}

/* The frames legal while running that may come once: a second is refused. */
Test(rules, once_only_while_running)
{
    static const unsigned closes[] = { SBX_F_CLOSE | SBX_STDIN, SBX_F_CLOSE | SBX_STDOUT,
                                       SBX_F_CLOSE | SBX_STDERR };
    char why[SBX_WHY];

    for (size_t i = 0; i < 3; i++) {
        struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_RUNNING), r = at(SBX_AT_RUNNER, SBX_PH_RUNNING);

        cr_assert_eq(sbx_rules_check(&c, closes[i], why), 0);
        expect_refused(&c, closes[i], "sbx, twice");
        cr_assert_eq(sbx_rules_check(&r, closes[i], why), 0);
        expect_refused(&r, closes[i], "runner, twice");
    }
}

/* A request in parts: any number of them, only between hello and the
 * spawn frame, which ends the request; only sbx sends them. */
Test(rules, spawn_parts_before_the_spawn_frame)
{
    struct sbx_rules r;
    char why[SBX_WHY];

    sbx_rules_init(&r, SBX_AT_RUNNER);
    expect_refused(&r, SBX_F_SPAWN_PART, "runner, before hello");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN_PART, why), SBX_EPROTO);
    cr_assert_str_eq(why, "expected hello, got a spawn part frame from sbx");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), 0, "%s", why);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN_PART, why), 0, "part %d: %s", i, why);
        cr_assert_eq(r.phase, SBX_PH_SPAWN);
    }
    /* Nothing of the command's before the request is whole. */
    expect_refused(&r, SBX_F_DATA | SBX_STDIN, "runner, between parts");
    expect_refused(&r, SBX_F_SIGNAL, "runner, between parts");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN, why), 0, "%s", why);
    cr_assert_eq(r.phase, SBX_PH_RUNNING);
    expect_refused(&r, SBX_F_SPAWN_PART, "runner, after the spawn frame");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN_PART, why), SBX_EPROTO);
    cr_assert_str_eq(why, "unexpected spawn part frame from sbx while the command runs");

    for (int ph = 0; ph < SBX_PH_COUNT_; ph++) {
        struct sbx_rules c = at(SBX_AT_CLI, ph);
        cr_assert_not(sbx_rules_known(SBX_AT_CLI, SBX_F_SPAWN_PART));
        expect_refused(&c, SBX_F_SPAWN_PART, "sbx never receives a spawn part");
    }
}

Test(rules, second_hello_and_second_spawn_refused)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_SPAWN), r = at(SBX_AT_RUNNER, SBX_PH_RUNNING);
    char why[SBX_WHY];

    cr_assert_eq(sbx_rules_check(&c, SBX_F_HELLO, why), SBX_EPROTO);
    cr_assert_str_eq(why, "a second hello frame from the runner");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN, why), SBX_EPROTO);
    cr_assert_str_eq(why, "a second spawn frame from sbx");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), SBX_EPROTO);
}

/* Frames that repeat freely while the command runs. */
Test(rules, repeatable_while_running)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_RUNNING), r = at(SBX_AT_RUNNER, SBX_PH_RUNNING);
    char why[SBX_WHY];

    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDOUT, why), 0);
        cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDERR, why), 0);
        cr_assert_eq(sbx_rules_check(&c, SBX_F_STDIN_ACK, why), 0);
        cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_TTY, why), 0);
        cr_assert_eq(sbx_rules_check(&c, SBX_F_STOPPED, why), 0);
        cr_assert_eq(sbx_rules_check(&r, SBX_F_DATA | SBX_STDIN, why), 0);
        cr_assert_eq(sbx_rules_check(&r, SBX_F_SIGNAL, why), 0);
        cr_assert_eq(sbx_rules_check(&r, SBX_F_DATA | SBX_TTY, why), 0);
        cr_assert_eq(sbx_rules_check(&r, SBX_F_RESIZE, why), 0);
        cr_assert_eq(sbx_rules_check(&r, SBX_F_CONTINUE, why), 0);
    }
    cr_assert_eq(c.phase, SBX_PH_RUNNING);
    cr_assert_eq(r.phase, SBX_PH_RUNNING);
}

Test(rules, no_data_after_its_close)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_RUNNING), r = at(SBX_AT_RUNNER, SBX_PH_RUNNING);
    char why[SBX_WHY];

    cr_assert_eq(sbx_rules_check(&c, SBX_F_CLOSE | SBX_STDOUT, why), 0);
    expect_refused(&c, SBX_F_DATA | SBX_STDOUT, "stdout after its close");
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDOUT, why), SBX_EPROTO);
    cr_assert_str_eq(why, "stdout data frame from the runner after its stdout close");
    /* The other stream is not affected. */
    cr_assert_eq(sbx_rules_check(&c, SBX_F_DATA | SBX_STDERR, why), 0);

    cr_assert_eq(sbx_rules_check(&r, SBX_F_CLOSE | SBX_STDIN, why), 0);
    expect_refused(&r, SBX_F_DATA | SBX_STDIN, "stdin after its close");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SIGNAL, why), 0);
}

/* The runner acknowledges stdin it discards after telling sbx the child's
 * stdin is gone. */
Test(rules, stdin_ack_after_stdin_close)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_RUNNING);
    char why[SBX_WHY];

    cr_assert_eq(sbx_rules_check(&c, SBX_F_CLOSE | SBX_STDIN, why), 0);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_STDIN_ACK, why), 0);
    cr_assert_eq(sbx_rules_check(&c, SBX_F_STDIN_ACK, why), 0);
}

/* Close and stdin-ack frames used to be taken before spawned. */
Test(rules, nothing_of_the_command_before_spawned)
{
    static const unsigned early[] = {
        SBX_F_CLOSE | SBX_STDIN, SBX_F_CLOSE | SBX_STDOUT, SBX_F_CLOSE | SBX_STDERR,
        SBX_F_STDIN_ACK, SBX_F_DATA | SBX_STDOUT, SBX_F_DATA | SBX_STDERR, SBX_F_EXIT,
    };
    char why[SBX_WHY];

    for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++) {
        struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_SPAWN);
        expect_refused(&c, early[i], "before spawned");
    }
    {
        struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_SPAWN);
        cr_assert_eq(sbx_rules_check(&c, SBX_F_STDIN_ACK, why), SBX_EPROTO);
        cr_assert_str_eq(why, "unexpected stdin ack frame from the runner before spawned");
    }
}

Test(rules, hello_first)
{
    struct sbx_rules c = at(SBX_AT_CLI, SBX_PH_HELLO), r = at(SBX_AT_RUNNER, SBX_PH_HELLO);
    char why[SBX_WHY];

    cr_assert_eq(sbx_rules_check(&c, SBX_F_SPAWNED, why), SBX_EPROTO);
    cr_assert_str_eq(why, "expected hello, got a spawned frame from the runner");
    cr_assert_eq(sbx_rules_check(&r, SBX_F_SPAWN, why), SBX_EPROTO);
    cr_assert_str_eq(why, "expected hello, got a spawn frame from sbx");
}

/* Nothing after exit, spawn-error or error. */
Test(rules, nothing_after_the_last_frame)
{
    static const unsigned last_path[][3] = {
        { SBX_F_HELLO, SBX_F_SPAWNED, SBX_F_EXIT },
        { SBX_F_HELLO, SBX_F_SPAWN_ERROR, 0 },
        { SBX_F_ERROR, 0, 0 },
        { SBX_F_HELLO, SBX_F_ERROR, 0 },
        { SBX_F_HELLO, SBX_F_SPAWNED, SBX_F_ERROR },
    };
    char why[SBX_WHY];

    for (size_t p = 0; p < sizeof(last_path) / sizeof(last_path[0]); p++) {
        struct sbx_rules c;

        sbx_rules_init(&c, SBX_AT_CLI);
        for (size_t k = 0; k < 3 && last_path[p][k] != 0; k++)
            cr_assert_eq(sbx_rules_check(&c, last_path[p][k], why), 0, "path %zu: %s", p, why);
        cr_assert_eq(c.phase, SBX_PH_END);
        for (size_t i = 0; i < NTYPES; i++)
            expect_refused(&c, all_types[i], "after the last frame");
    }
}

Test(rules, unknown_types_refused_everywhere)
{
    static const unsigned unknown[] = { 0x00, 0x0c, 0x0f, 0x14, 0x24, 0x31, 0xff };

    for (int side = SBX_AT_CLI; side <= SBX_AT_RUNNER; side++)
        for (int ph = 0; ph < SBX_PH_COUNT_; ph++)
            for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
                struct sbx_rules r = at(side, ph);
                cr_assert_not(sbx_rules_known(side, unknown[i]));
                expect_refused(&r, unknown[i], "unknown type");
            }
}

/* The conversation of docs/protocol.md, as each side receives it. */
Test(rules, the_documented_conversation)
{
    static const unsigned to_cli[] = {
        SBX_F_HELLO, SBX_F_SPAWNED, SBX_F_DATA | SBX_STDOUT, SBX_F_DATA | SBX_STDERR,
        SBX_F_STDIN_ACK, SBX_F_CLOSE | SBX_STDOUT, SBX_F_CLOSE | SBX_STDERR,
        SBX_F_CLOSE | SBX_STDIN, SBX_F_STDIN_ACK, SBX_F_EXIT,
    };
    static const unsigned to_runner[] = {
        SBX_F_HELLO, SBX_F_SPAWN_PART, SBX_F_SPAWN_PART, SBX_F_SPAWN, SBX_F_DATA | SBX_STDIN,
        SBX_F_SIGNAL,
        SBX_F_CLOSE | SBX_STDOUT, SBX_F_CLOSE | SBX_STDIN, SBX_F_SIGNAL,
    };
    /* And the conversation with a terminal. */
    static const unsigned tty_to_cli[] = {
        SBX_F_HELLO, SBX_F_SPAWNED, SBX_F_DATA | SBX_TTY, SBX_F_STDIN_ACK, SBX_F_STOPPED,
        SBX_F_DATA | SBX_TTY, SBX_F_STOPPED, SBX_F_CLOSE | SBX_TTY, SBX_F_EXIT,
    };
    static const unsigned tty_to_runner[] = {
        SBX_F_HELLO, SBX_F_SPAWN, SBX_F_DATA | SBX_TTY, SBX_F_RESIZE, SBX_F_CONTINUE,
        SBX_F_DATA | SBX_TTY, SBX_F_CONTINUE, SBX_F_SIGNAL,
    };
    struct sbx_rules c, r;
    char why[SBX_WHY];

    sbx_rules_init(&c, SBX_AT_CLI);
    sbx_rules_init(&r, SBX_AT_RUNNER);
    for (size_t i = 0; i < sizeof(to_cli) / sizeof(to_cli[0]); i++)
        cr_assert_eq(sbx_rules_check(&c, to_cli[i], why), 0, "frame %zu: %s", i, why);
    cr_assert_eq(c.phase, SBX_PH_END);
    for (size_t i = 0; i < sizeof(to_runner) / sizeof(to_runner[0]); i++)
        cr_assert_eq(sbx_rules_check(&r, to_runner[i], why), 0, "frame %zu: %s", i, why);
    cr_assert_eq(r.phase, SBX_PH_RUNNING);

    sbx_rules_init(&c, SBX_AT_CLI);
    sbx_rules_init(&r, SBX_AT_RUNNER);
    for (size_t i = 0; i < sizeof(tty_to_cli) / sizeof(tty_to_cli[0]); i++)
        cr_assert_eq(sbx_rules_check(&c, tty_to_cli[i], why), 0, "tty frame %zu: %s", i, why);
    cr_assert_eq(c.phase, SBX_PH_END);
    for (size_t i = 0; i < sizeof(tty_to_runner) / sizeof(tty_to_runner[0]); i++)
        cr_assert_eq(sbx_rules_check(&r, tty_to_runner[i], why), 0, "tty frame %zu: %s", i, why);
    cr_assert_eq(r.phase, SBX_PH_RUNNING);
}

Test(rules, bad_state_refused)
{
    struct sbx_rules r;
    char why[SBX_WHY];

    sbx_rules_init(&r, 7);
    cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), SBX_EPROTO);
    sbx_rules_init(&r, SBX_AT_CLI);
    r.phase = SBX_PH_COUNT_;
    cr_assert_eq(sbx_rules_check(&r, SBX_F_HELLO, why), SBX_EPROTO);
}

/* ---- docs/protocol.md's tables say what the code does ---- */

static unsigned type_named(const char *name)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(sbx_frame_type_name(all_types[i]), name) == 0)
            return all_types[i];
    cr_assert_fail("docs/protocol.md names a frame '%s' that does not exist", name);
    return 0;
}

static int phase_named(const char *name)
{
    static const char *const names[] = { "hello", "spawn", "running", "end" };

    for (int i = 0; i < SBX_PH_COUNT_; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    cr_assert_fail("docs/protocol.md names a phase '%s'", name);
    return X;
}

/* Splits a table row into trimmed cells; returns their number. */
static int cells(char *line, char *cell[], int max)
{
    char *p = line + 1, *end;
    int n = 0;

    if (line[0] != '|')
        return 0;
    while (n < max && (end = strchr(p, '|')) != NULL) {
        *end = '\0';
        while (*p == ' ')
            p++;
        for (char *t = end - 1; t >= p && *t == ' '; t--)
            *t = '\0';
        cell[n++] = p;
        p = end + 1;
    }
    return n;
}

/* Checks one row's verdict for `type` in `phase` against the table. */
static void doc_cell(int side, unsigned type, int phase, const char *cell, int once)
{
    struct sbx_rules r = at(side, phase);
    char why[SBX_WHY], ctx[160];

    snprintf(ctx, sizeof(ctx), "docs, side %d: %s %s ('%s')", side, sbx_frame_type_name(type),
             sbx_rules_phase_name(side, phase), cell);
    if (strncmp(cell, "\xe2\x80\x94", 3) == 0) { /* an em dash: refused */
        expect_refused(&r, type, ctx);
        return;
    }
    cr_assert_eq(sbx_rules_check(&r, type, why), 0, "%s: refused: %s", ctx, why);
    if (strncmp(cell, "\xe2\x86\x92 ", 4) == 0) /* an arrow: the phase it leads to */
        cr_assert_eq(r.phase, phase_named(cell + 4), "%s", ctx);
    else
        cr_assert(strncmp(cell, "yes", 3) == 0 && r.phase == phase, "%s", ctx);
    /* Staying in the phase: a second is refused exactly when it says once. */
    if (once && r.phase == phase)
        expect_refused(&r, type, ctx);
    else if (r.phase == phase)
        cr_assert_eq(sbx_rules_check(&r, type, why), 0, "%s: a second refused: %s", ctx, why);
}

/* The table after the paragraph starting with `intro`: a row per group of
 * frames, a column per phase, then the once column. */
static void doc_table(const char *intro, int side, int nphases)
{
    const char *path = getenv("SBX_PROTOCOL_MD");
    char line[1024], copy[1024], *cell[8];
    unsigned covered[NTYPES];
    size_t ncovered = 0;
    int state = 0; /* 0: looking for intro, 1: for the header, 2: rows */
    FILE *f;

    f = fopen(path != NULL ? path : "docs/protocol.md", "r");
    cr_assert_not_null(f, "cannot open docs/protocol.md (run from the repository root)");
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (state == 0 && strncmp(line, intro, strlen(intro)) == 0)
            state = 1;
        else if (state == 1 && strncmp(line, "| frame", 7) == 0)
            state = 2;
        else if (state == 2 && strncmp(line, "|--", 3) == 0)
            continue;
        else if (state == 2 && line[0] != '|')
            break;
        else if (state == 2) {
            unsigned types[NTYPES];
            size_t nt = 0;
            int n;

            snprintf(copy, sizeof(copy), "%s", line);
            n = cells(copy, cell, 8);
            cr_assert_eq(n, 1 + nphases + 1, "docs: row '%s'", line);
            if (strcmp(cell[0], "every other type") == 0) {
                for (size_t i = 0; i < NTYPES; i++) {
                    size_t k = 0;
                    while (k < ncovered && covered[k] != all_types[i])
                        k++;
                    if (k == ncovered)
                        types[nt++] = all_types[i];
                }
            } else {
                for (char *name = strtok(cell[0], ","); name != NULL; name = strtok(NULL, ",")) {
                    while (*name == ' ')
                        name++;
                    types[nt++] = type_named(name);
                }
            }
            for (size_t t = 0; t < nt; t++) {
                for (int ph = 0; ph < nphases; ph++)
                    doc_cell(side, types[t], ph, cell[1 + ph],
                             strncmp(cell[1 + nphases], "once", 4) == 0);
                covered[ncovered++] = types[t];
            }
        }
    }
    fclose(f);
    cr_assert_eq(state, 2, "docs/protocol.md has no table after '%s'", intro);
    cr_assert_eq(ncovered, NTYPES, "docs: the table after '%s' covers %zu frame types", intro,
                 ncovered);
}

Test(rules, documented_tables_match)
{
    doc_table("What `sbx` accepts from the runner", SBX_AT_CLI, 4);
    doc_table("What the runner accepts from `sbx`", SBX_AT_RUNNER, 3);
}
