/*
 * term: a terminal as a person has one, for the tests of sbx at a terminal.
 *
 * term_shell() opens a pseudo-terminal of a given size and runs an
 * interactive bash on it as a session leader with that terminal as its
 * controlling terminal, so that sbx typed at its prompt is a job of a real
 * job-control shell: Ctrl-Z stops the job and the shell says so, `fg` and
 * `bg` continue it, and the shell prints `$?` in its prompt.  term_exec()
 * runs a program directly as that session leader instead, for tests that
 * need sbx to be the leader's child.  The test types bytes (keys) into the
 * master and reads back what the terminal shows.
 *
 * Every wait has a deadline and returns whether it was met; nothing here
 * blocks without one.  term_close() kills the leader and everything below
 * it (by /proc, since sbx-runner leads a session of its own) and reaps it;
 * the test's teardown must call it.  Strings marked "leaked" are never
 * freed (a test process is short-lived).
 */
#ifndef SBX_TEST_TERM_H
#define SBX_TEST_TERM_H

#include "pty.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The prompt: "[sbxt:N]> " with N the last status ($? at the prompt). */
#define TERM_PS1 "[sbxt:$?]> "

struct term {
	int master;
	pid_t pid;               /* the session leader: bash or the program */
	char pts[64];            /* the follower's name, /dev/pts/N */
	unsigned long rdev;      /* its device number (st_rdev) */
	struct buf shown;        /* everything the terminal showed, raw */
	size_t mark;             /* where the next wait starts looking */
	bool eof, reaped;
	int status;              /* the leader's wait status, once reaped */
};

/* bash --norc --noprofile --noediting -i on a new rows x cols terminal,
 * with the system PATH, TERM=xterm, PS1=TERM_PS1, $SBX and $H (the helper)
 * set, plus `env` ("NAME=VALUE", NULL-terminated or NULL).  Waits for the
 * first prompt and runs `stty sane`; fails the test if either fails. */
struct term *term_shell(int rows, int cols, const char *const *env);
/* The same as another account (uid != 0): the terminal is chowned to it and
 * the shell runs with gid as its only group. */
struct term *term_shell_as(int rows, int cols, uid_t uid, gid_t gid, const char *const *env);
/* argv (argv[0] a path) as the session leader instead, same environment. */
struct term *term_exec(int rows, int cols, const char *const *argv, const char *const *env);

/* Keys: bytes written to the master as they are. */
void term_type(struct term *t, const char *keys);
/* Reads what the terminal shows for up to ms milliseconds. */
void term_pump(struct term *t, int ms);
/* Waits up to ms for `needle` at or after the mark; when it comes the mark
 * moves past it. */
bool term_wait(struct term *t, const char *needle, int ms);
/* Waits up to ms for the next prompt; on success *status gets its $?,
 * *out (if not NULL) what the terminal showed from the mark to the prompt,
 * as a terminal shows it ("\r\n" read as "\n"; leaked), and the mark moves
 * past the prompt. */
bool term_prompt(struct term *t, int ms, int *status, char **out);
/* Types `line` and a newline at the prompt and waits up to ms for the next
 * prompt: *out is the output without the echoed line.  Fails the test if
 * the prompt does not come; returns $?. */
int term_run(struct term *t, const char *line, int ms, char **out);
/* TIOCSWINSZ on the master: the kernel signals the foreground group. */
void term_resize(struct term *t, int rows, int cols);
/* The terminal's modes are raw now (no ICANON, no ECHO), as sbx sets them
 * while a command has the keys: read through the master, which shares the
 * follower's modes. */
bool term_is_raw(const struct term *t);
/* term_exec: waits up to ms for the leader to exit, reading meanwhile. */
bool term_wait_exit(struct term *t, int ms);
/* What the terminal showed from `from`, escaped for a message (leaked). */
const char *term_tail(const struct term *t, size_t from);
/* Kills the leader and every process below it, reaps, closes. */
void term_close(struct term *t);
/* The terminals this test process opened, closed: a Criterion .fini. */
void term_fini(void);

/* "\r\n" as "\n" (leaked). */
char *term_text(const unsigned char *p, size_t len);
/* The value after "KEY=" in text, up to white space (leaked), or NULL. */
char *term_field(const char *text, const char *key);
/* The same within the first line that starts with `line` ("" if none). */
const char *term_line_field(const char *text, const char *line, const char *key);
/* The one-letter state of a process in /proc/PID/stat, or 0 if gone. */
char proc_state(long pid);
/* The newest process whose command line (arguments joined by spaces)
 * starts with prefix (the command itself, not sbx, whose command line
 * holds it after "--"), polled for up to ms; 0 if none came. */
long proc_wait_for(const char *prefix, int ms);

#endif
