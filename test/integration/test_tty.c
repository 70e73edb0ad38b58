/*
 * sbx at a terminal (issue 11), the way a person uses one: a job-control
 * shell on a pseudo-terminal (term.h) types sbx runs at its prompt, and
 * each test sets what the command gets through sbx beside what it gets run
 * directly from the same prompt, wherever the contract is "as inline".
 *
 * Output through a terminal is not byte-exact by nature (the line
 * discipline turns "\n" into "\r\n"), so it is compared as a terminal shows
 * it; the byte-exact tests stay on pipes (test_stdio.c).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "accounts.h"
#include "itest.h"
#include "term.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------ which streams */

/* KEY from ttyinfo's line about descriptor fd. */
static const char *fd_field(const char *text, int fd, const char *key)
{
	char line[16];

	snprintf(line, sizeof line, "fd%d ", fd);
	return term_line_field(text, line, key);
}

/* One stream as the command saw it: a terminal or not, and if so whether
 * it is the caller's own (the harness's) or another. */
static void expect_same_shape(const struct term *t, const char *direct, const char *via, const char *fg,
			      const char *what)
{
	char *dev_direct = term_field(direct, "devtty"), *dev_via = term_field(via, "devtty");
	const char *pty = NULL;

	cr_assert(dev_direct && dev_via, "%s: no ttyinfo\ndirect: %s\nsbx: %s", what, it_esc(direct, strlen(direct)),
		  it_esc(via, strlen(via)));
	cr_assert_str_eq(dev_via, dev_direct, "%s: /dev/tty opens differently\ndirect: %s\nsbx: %s", what,
			 it_esc(direct, strlen(direct)), it_esc(via, strlen(via)));
	if (strcmp(dev_via, "ok") == 0) {
		/* The command's terminal is a new one, never the caller's. */
		pty = term_line_field(via, "devtty=", "rdev");
		cr_assert(strtoul(pty, NULL, 10) != t->rdev, "%s: the command's /dev/tty is the caller's terminal", what);
		cr_assert_str_eq(term_field(via, "fg"), fg ? fg : term_field(direct, "fg"), "%s: foreground differs\ndirect: %s\nsbx: %s",
				 what, it_esc(direct, strlen(direct)), it_esc(via, strlen(via)));
		cr_assert_str_eq(term_field(via, "leader"), term_field(direct, "leader"),
				 "%s: session leader differs\ndirect: %s\nsbx: %s", what, it_esc(direct, strlen(direct)),
				 it_esc(via, strlen(via)));
		cr_assert_str_eq(term_field(via, "size"), term_field(direct, "size"), "%s: size differs\ndirect: %s\nsbx: %s",
				 what, it_esc(direct, strlen(direct)), it_esc(via, strlen(via)));
	}
	for (int fd = 0; fd <= 2; fd++) {
		char caller[32];
		const char *tty_d, *tty_v, *rdev_d, *rdev_v;

		snprintf(caller, sizeof caller, "%lu", t->rdev);
		tty_d = fd_field(direct, fd, "tty");
		tty_v = fd_field(via, fd, "tty");
		rdev_d = fd_field(direct, fd, "rdev");
		rdev_v = fd_field(via, fd, "rdev");
		cr_assert_str_eq(tty_v, tty_d, "%s: isatty(%d) differs\ndirect: %s\nsbx: %s", what, fd,
				 it_esc(direct, strlen(direct)), it_esc(via, strlen(via)));
		/* Where inline the stream is the terminal, through sbx it is the
		 * command's own terminal; never the caller's. */
		cr_assert(strcmp(rdev_v, caller) != 0, "%s: the command's fd %d is the caller's terminal", what, fd);
		if (strcmp(rdev_d, caller) == 0)
			cr_assert(pty && strcmp(rdev_v, pty) == 0,
				  "%s: fd %d is the terminal inline but not the command's terminal through sbx\nsbx: %s",
				  what, fd, it_esc(via, strlen(via)));
	}
}

/* before + the command + after, run directly and through sbx.  fg: what
 * the command's tcgetpgrp() == getpgrp() must be through sbx, NULL for
 * "as inline". */
static void side_by_side(const char *before, const char *after, const char *fg, const char *what)
{
	struct term *t = term_shell(40, 120, NULL);
	char line[1024], *direct, *via;
	int st;

	snprintf(line, sizeof line, "%s$H ttyinfo%s", before, after);
	st = term_run(t, line, 10000, &direct);
	cr_assert(st == 0, "%s: direct run: status %d: %s", what, st, it_esc(direct, strlen(direct)));
	snprintf(line, sizeof line, "%s$SBX run --same-user -- $H ttyinfo%s", before, after);
	st = term_run(t, line, 20000, &via);
	cr_assert(st == 0, "%s: through sbx: status %d: %s", what, st, it_esc(via, strlen(via)));
	expect_same_shape(t, direct, via, fg, what);
}

Test(tty_streams, all_three_streams_the_terminal, .timeout = 60, .fini = term_fini)
{
	side_by_side("", "", NULL, "all three the terminal");
}

Test(tty_streams, stdout_a_pipe, .timeout = 60, .fini = term_fini)
{
	/* Not as inline, by design (tty-spec "Foreground start", sudo's rule):
	 * with stdout not the terminal the command starts in its terminal's
	 * background, so that it cannot take keys from a pager in the same
	 * pipeline; the first time it touches the terminal it is handed it. */
	side_by_side("", " | cat", "0", "| cat");
}

Test(tty_streams, stdin_a_pipe, .timeout = 60, .fini = term_fini)
{
	side_by_side("echo y | ", "", NULL, "echo y |");
}

Test(tty_streams, stdin_dev_null, .timeout = 60, .fini = term_fini)
{
	side_by_side("", " </dev/null", NULL, "</dev/null");
}

Test(tty_streams, stderr_a_file, .timeout = 60, .fini = term_fini)
{
	char line[512];

	snprintf(line, sizeof line, " 2>%s/err", it_tmpdir());
	side_by_side("", line, NULL, "2>file");
}

/* With stdin a pipe, /dev/tty is still the person's terminal: a prompt on
 * it shows and what is typed answers it, while stdin keeps the pipe's bytes. */
Test(tty_streams, dev_tty_prompt_with_stdin_a_pipe, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "echo piped | $SBX run --same-user -- sh -c "
		     "'read p; printf \"%s? \" name >/dev/tty; read x </dev/tty; echo \"got $x from tty, $p from stdin\"'\n");
	cr_assert(term_wait(t, "name? ", 15000), "no prompt on /dev/tty: %s", term_tail(t, 0));
	term_type(t, "sbxt-typed\r");
	cr_assert(term_prompt(t, 15000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "got sbxt-typed from tty, piped from stdin\n") != NULL, "the terminal showed: %s",
		  it_esc(out, strlen(out)));
}

Test(tty_streams, no_pty_gives_pipes_and_no_dev_tty, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	char *out, *ms;
	int st = term_run(t, "$SBX run --same-user --no-pty -- $H ttyinfo", 20000, &out);

	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	for (int fd = 0; fd <= 2; fd++)
		cr_assert_str_eq(fd_field(out, fd, "tty"), "0", "fd %d is a terminal with --no-pty: %s", fd,
				 it_esc(out, strlen(out)));
	cr_assert_str_eq(term_field(out, "devtty"), "ENXIO", "/dev/tty with --no-pty: %s", it_esc(out, strlen(out)));
	ms = term_field(out, "ms");
	cr_assert(ms && atol(ms) < 1000, "opening /dev/tty took %s ms", ms);
}

/* CI: no terminal at all.  --pty gives stdout and stderr a terminal of
 * 24x80, stdin stays a pipe. */
Test(tty_streams, pty_without_a_terminal, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = no_tty(ARGV(SBX, "run", "--same-user", "--pty", "--", HELPER, "ttyinfo")),
		.stdin_mode = SP_IN_DATA,
		.timeout_ms = 30000,
	});
	char *out = term_text(p->out_buf, p->out_len);

	EXPECT_EXIT(p, 0);
	cr_assert_str_eq(fd_field(out, 0, "tty"), "0", "stdin: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(fd_field(out, 1, "tty"), "1", "stdout: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(fd_field(out, 2, "tty"), "1", "stderr: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(term_field(out, "devtty"), "ok", "/dev/tty: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(term_field(out, "size"), "24x80", "size: %s", it_esc(out, strlen(out)));
	sp_free(p);
}

/* No terminal, default mode: /dev/tty fails at once, never a hang. */
Test(tty_streams, pipe_mode_dev_tty_fails_at_once, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = no_tty(ARGV(SBX, "run", "--same-user", "--", "sh", "-c",
				    "read x </dev/tty; echo \"read: $?\"; exec \"$0\" ttyinfo", HELPER)),
		.stdin_mode = SP_IN_DATA,
		.timeout_ms = 30000,
	});
	char *out = term_text(p->out_buf, p->out_len), *ms = term_field(out, "ms");

	EXPECT_EXIT(p, 0);
	cr_assert(strstr(out, "read: 1") || strstr(out, "read: 2"), "read from /dev/tty: %s", IT_ESC_OUT(p));
	cr_assert_str_eq(term_field(out, "devtty"), "ENXIO", "stdout: %s", IT_ESC_OUT(p));
	cr_assert(ms && atol(ms) < 1000, "opening /dev/tty took %s ms", ms);
	cr_assert(p->end_ms - p->start_ms < 10000, "the run took %lld ms", p->end_ms - p->start_ms);
	sp_free(p);
}

/* ------------------------------------------------------- window size */

Test(tty_streams, stty_size_is_the_window, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(37, 101, NULL);
	char *direct, *via;

	cr_assert(term_run(t, "stty size", 10000, &direct) == 0, "stty size: %s", it_esc(direct, strlen(direct)));
	cr_assert(term_run(t, "$SBX run --same-user -- stty size", 20000, &via) == 0, "through sbx: %s",
		  it_esc(via, strlen(via)));
	cr_assert_str_eq(direct, "37 101\n", "direct: %s", it_esc(direct, strlen(direct)));
	cr_assert_str_eq(via, direct, "through sbx: %s", it_esc(via, strlen(via)));
}

/* A resize of the window reaches the command once, as SIGWINCH, and the
 * terminal then has the new size. */
Test(tty_streams, resize_reaches_the_command_once, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(30, 90, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- $H signals 2500\n");
	cr_assert(term_wait(t, "ready", 15000), "the helper never started: %s", term_tail(t, 0));
	term_resize(t, 50, 132);
	cr_assert(term_wait(t, "got WINCH 1 size 50x132", 2000), "no SIGWINCH with the new size: %s", term_tail(t, 0));
	cr_assert(term_prompt(t, 15000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d", st);
	cr_assert(strstr(out, "counts WINCH=1 INT=0 TERM=0 HUP=0 QUIT=0 USR1=0 USR2=0 CONT=0") != NULL,
		  "signals other than one SIGWINCH: %s", it_esc(out, strlen(out)));
}

/* ------------------------------------------------------------- input */

Test(tty_streams, read_dev_tty_gets_what_is_typed, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- sh -c 'printf \"%s? \" what >/dev/tty; read x </dev/tty; echo \"[$x]\"'\n");
	cr_assert(term_wait(t, "what? ", 15000), "no prompt: %s", term_tail(t, 0));
	term_type(t, "sbxt answer\r");
	cr_assert(term_prompt(t, 15000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d", st);
	cr_assert(strstr(out, "[sbxt answer]\n") != NULL, "the terminal showed: %s", it_esc(out, strlen(out)));
}

/* A no-echo prompt (passwd, ssh-keygen): the secret never shows. */
Test(tty_streams, secret_typed_without_echo_never_shows, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;
	size_t from = t->mark;

	term_type(t, "$SBX run --same-user -- sh -c "
		     "'stty -echo; printf \"%s? \" secret; read x; stty echo; echo; echo \"length ${#x}\"'\n");
	cr_assert(term_wait(t, "secret? ", 15000), "no prompt: %s", term_tail(t, 0));
	term_type(t, "hunter2sbxt\r");
	cr_assert(term_prompt(t, 15000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d", st);
	cr_assert(strstr(out, "length 11\n") != NULL, "the terminal showed: %s", it_esc(out, strlen(out)));
	cr_assert(strstr((const char *)t->shown.p + from, "hunter2sbxt") == NULL, "the secret was echoed: %s",
		  term_tail(t, from));
}
