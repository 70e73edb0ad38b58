/* sbx's side of the command's terminal: the choice between a terminal of
 * the command's own (pty mode) and pipes, and the caller's terminal while
 * the command runs (raw while the command has it, restored otherwise).
 *
 * main.c decides the mode before the session (term_decide); session.c
 * drives the rest.  The caller's terminal is only ever read, written and
 * switched between raw and its own modes here and in the platform layer:
 * no descriptor of it travels to the runner.
 */
#ifndef SBX_CLI_TTY_H
#define SBX_CLI_TTY_H

#include "os.h"
#include "proto.h"

/* --pty / --no-pty; the default decides from the terminal. */
enum { TERM_AUTO = -1, TERM_NO_PTY = 0, TERM_PTY = 1 };

struct term {
    sbx_tty *t;        /* the caller's controlling terminal; NULL in pipe mode
                          or when there is none */
    int pty;           /* pty mode: the request has a tty member */
    unsigned streams;  /* bit n: the command's stream n is the new terminal */
    int out;           /* where the terminal's output goes: 1 or 2 (that
                          standard stream), or 0 for the terminal handle */
    int keys_from_stdin; /* keys come from fd 0 (stream 0 is the terminal);
                          else from the terminal handle */
    int cmd_fg;        /* the command's group was last made, or started as,
                          the foreground group of its terminal */
    int raw;           /* sbx has put the caller's terminal in raw mode */
    struct sbx_tty_size size; /* the size the command's terminal has now */
};

/* Opens the caller's terminal and decides the mode for `opt` (TERM_AUTO,
 * TERM_PTY, TERM_NO_PTY).  In pty mode, fills *req (streams, foreground,
 * size, modes; term borrowed from `term_env`, may be NULL) and keeps the
 * terminal in *tm; in pipe mode leaves req->present 0 and holds nothing.
 * Never fails: without a terminal to read, pty mode gets 24 x 80 and the
 * system's modes. */
void term_decide(struct term *tm, int opt, const char *term_env, struct sbx_tty_req *req);

/* Whether sbx's process group is the caller's terminal's foreground group
 * (0 without a terminal). */
int term_foreground(struct term *tm);

/* Switches the caller's terminal to raw when sbx is in the foreground: 1
 * when it is raw now, 0 when sbx is in the background (left alone). */
int term_take(struct term *tm);

/* Gives the caller's terminal its own modes back (pending output first);
 * nothing when it is not raw.  Safe to call any number of times. */
void term_release(struct term *tm);

/* The caller's terminal's size now, when it differs from the command's
 * terminal's: 1 and tm->size updated; else 0. */
int term_resized(struct term *tm);

/* Where keys are read from, or NULL: the terminal handle, or `in` (fd 0)
 * when stream 0 is the terminal. */
sbx_h *term_keys(struct term *tm, sbx_h *in);

/* Where the terminal's output is written: std[1], std[2] or the terminal
 * handle. */
sbx_h *term_out(struct term *tm, sbx_h *const std[3]);

/* Restores (term_release) and closes the terminal; accepts a zeroed one. */
void term_close(struct term *tm);

/* Whether `sig` is the signal the platform names `name` ("WINCH", "TSTP",
 * ...): job control exists only where the platform names those signals, so
 * sbx asks by name and compiles the same everywhere. */
int term_sig_is(int sig, const char *name);

#endif
