/*
 * sbx at a terminal: keys, job control and the caller's terminal modes
 * (issue 11).  A job-control shell on a pseudo-terminal (term.h) runs sbx
 * as a person would; Ctrl-C and Ctrl-Z are bytes typed into the terminal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "accounts.h"
#include "itest.h"
#include "lifecycle.h"
#include "term.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* sbx among the shell's children (its first word is sbx), or 0. */
static long sbx_of(struct term *t, int ms)
{
	long long end = sp_now_ms() + ms;

	do {
		long kids[8];
		size_t n = it_children(t->pid, kids, 8);

		for (size_t i = 0; i < n; i++) {
			char path[64], arg0[4096] = "";
			FILE *f;

			snprintf(path, sizeof path, "/proc/%ld/cmdline", kids[i]);
			if ((f = fopen(path, "r")) != NULL) {
				size_t len = fread(arg0, 1, sizeof arg0 - 1, f);

				arg0[len] = '\0';
				fclose(f);
			}
			if (strcmp(arg0, it_sbx()) == 0 || strcmp(arg0, "sbx") == 0)
				return kids[i];
		}
		usleep(20000);
	} while (sp_now_ms() < end);
	return 0;
}

/* ---------------------------------------------------------------- keys */

/* Ctrl-C to sleep: 130 at the prompt, as inline, and nothing left. */
Test(tty_jobs, ctrl_c_ends_sleep_with_130, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	long cmd;
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- sleep 100.25\n");
	cmd = proc_wait_for("sleep 100.25", 15000);
	cr_assert(cmd > 0, "the command never started: %s", term_tail(t, 0));
	usleep(300000);
	term_type(t, "\x03");
	cr_assert(term_prompt(t, 10000, &st, &out), "no prompt after Ctrl-C: %s", term_tail(t, 0));
	cr_assert(st == 130, "status %d after Ctrl-C (inline: 130): %s", st, it_esc(out, strlen(out)));
	cr_assert(it_wait_gone(cmd, 3000), "the command (pid %ld) is still running after Ctrl-C", cmd);
}

/* Ctrl-C to a program that handles SIGINT: it carries on and ends with 0,
 * having seen SIGINT exactly once. */
Test(tty_jobs, ctrl_c_to_a_program_that_handles_it, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- $H signals 2000\n");
	cr_assert(term_wait(t, "ready", 15000), "the helper never started: %s", term_tail(t, 0));
	usleep(200000);
	term_type(t, "\x03");
	cr_assert(term_wait(t, "got INT 1", 3000), "no SIGINT reached the command: %s", term_tail(t, 0));
	cr_assert(term_prompt(t, 10000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d (the command handles SIGINT and exits 0): %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "counts WINCH=0 INT=1 TERM=0 ") != NULL, "the command's counts: %s",
		  it_esc(out, strlen(out)));
}

/* Ctrl-\ quits, as inline: 131 at the prompt. */
Test(tty_jobs, ctrl_backslash_quits_with_131, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	long cmd;
	int st;

	term_type(t, "$SBX run --same-user -- sleep 100.0625\n");
	cmd = proc_wait_for("sleep 100.0625", 15000);
	cr_assert(cmd > 0, "the command never started: %s", term_tail(t, 0));
	usleep(300000);
	term_type(t, "\x1c");
	cr_assert(term_prompt(t, 10000, &st, NULL), "no prompt after Ctrl-\\: %s", term_tail(t, 0));
	cr_assert(st == 128 + SIGQUIT, "status %d after Ctrl-\\ (inline: 131): %s", st, term_tail(t, 0));
	cr_assert(it_wait_gone(cmd, 3000), "the command is still running");
}

/* Ctrl-D at the start of a line is the end of input for the command. */
Test(tty_jobs, ctrl_d_ends_the_commands_input, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- sh -c 'echo go$((1+1)); cat; echo \"cat ended\"'\n");
	cr_assert(term_wait(t, "go2", 15000), "the command never started: %s", term_tail(t, 0));
	usleep(300000);
	term_type(t, "sbxt line\r");
	cr_assert(term_wait(t, "sbxt line\r\nsbxt line\r\n", 5000), "the typed line was not echoed and copied: %s",
		  term_tail(t, 0));
	term_type(t, "\x04");
	cr_assert(term_prompt(t, 10000, &st, &out), "Ctrl-D did not end cat: %s", term_tail(t, 0));
	cr_assert(st == 0 && strstr(out, "cat ended\n") != NULL, "status %d: %s", st, it_esc(out, strlen(out)));
}

/* --no-pty at a terminal: the terminal's own Ctrl-Z stops sbx's group, the
 * command is stopped with it (a stop in pipe mode never leaves sbx
 * waiting), and fg continues both. */
Test(tty_jobs, no_pty_ctrl_z_and_fg, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	long cmd;
	int st;
	char *out;

	term_type(t, "$SBX run --same-user --no-pty -- sh -c 'echo go$((1+1)); sleep 3; echo finished; exit 6'\n");
	cr_assert(term_wait(t, "go2", 15000), "the command never started: %s", term_tail(t, 0));
	cmd = proc_wait_for("sh -c echo go$((1+1)); sleep 3", 5000);
	cr_assert(cmd > 0, "no command");
	term_type(t, "\x1a");
	cr_assert(term_prompt(t, 10000, &st, &out), "no prompt after Ctrl-Z: %s", term_tail(t, 0));
	cr_assert(st == 148, "status %d after Ctrl-Z: %s", st, it_esc(out, strlen(out)));
	for (int i = 0; i < 50 && proc_state(cmd) != 'T'; i++)
		usleep(20000);
	cr_assert(proc_state(cmd) == 'T', "the command is in state %c, not stopped", proc_state(cmd));
	st = term_run(t, "fg", 15000, &out);
	cr_assert(st == 6 && strstr(out, "finished\n") != NULL, "after fg: status %d: %s", st, it_esc(out, strlen(out)));
}

/* sbx | pager: the command starts in its terminal's background and sbx
 * leaves the caller's terminal alone, so the keys go to the pager (the
 * other member of the pipeline reading /dev/tty), as inline and as sudo. */
Test(tty_jobs, keys_go_to_the_pager_in_the_same_pipeline, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- sh -c 'sleep 1; echo from-sbx' | "
		     "{ printf '%s? ' pager >/dev/tty; read -r k </dev/tty; echo \"pager got $k\"; cat; }\n");
	cr_assert(term_wait(t, "pager? ", 15000), "no pager prompt: %s", term_tail(t, 0));
	usleep(300000);
	term_type(t, "sbxt-key\r");
	cr_assert(term_prompt(t, 15000, &st, &out), "the pipeline did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "pager got sbxt-key\nfrom-sbx\n") != NULL, "the terminal showed: %s",
		  it_esc(out, strlen(out)));
}

/* TERM reaches the command from the caller's terminal even when its
 * environment was cleared (the runner adds it only where there is none). */
Test(tty_jobs, term_comes_with_the_terminal, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	char *out;
	int st = term_run(t, "$SBX run --same-user --clear-env -- $H env TERM", 20000, &out);

	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	cr_assert_str_eq(out, "TERM=xterm\n", "the command's TERM: %s", it_esc(out, strlen(out)));
}

/* --------------------------------------------------------- job control */

/* Ctrl-Z stops the job: the shell says Stopped and $? is 148, the command
 * is stopped too (state T) and stays so; fg continues it to its end. */
Test(tty_jobs, ctrl_z_stops_and_fg_continues, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	/* The shell prints go2 where the typed line (echoed) says go$((1+1)). */
	const char *script = "echo go$((1+1)); sleep 3; echo finished; exit 7";
	char line[256], prefix[128], *out;
	long cmd, sbx;
	int st;

	snprintf(line, sizeof line, "$SBX run --same-user -- sh -c '%s'", script);
	snprintf(prefix, sizeof prefix, "sh -c %s", script);
	term_type(t, line);
	term_type(t, "\n");
	cr_assert(term_wait(t, "go2", 15000), "the command never started: %s", term_tail(t, 0));
	cmd = proc_wait_for(prefix, 5000);
	sbx = sbx_of(t, 1000);
	cr_assert(cmd > 0 && sbx > 0, "command %ld, sbx %ld", cmd, sbx);
	term_type(t, "\x1a");
	cr_assert(term_prompt(t, 10000, &st, &out), "no prompt after Ctrl-Z: %s", term_tail(t, 0));
	cr_assert(st == 148, "status %d after Ctrl-Z (inline: 148): %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "Stopped") != NULL, "the shell did not say Stopped: %s", it_esc(out, strlen(out)));
	cr_assert(proc_state(sbx) == 'T', "sbx is in state %c, not stopped", proc_state(sbx));
	cr_assert(proc_state(cmd) == 'T', "the command is in state %c, not stopped", proc_state(cmd));
	/* Longer than the command would take: stopped, it must not finish. */
	term_pump(t, 3500);
	cr_assert(proc_state(cmd) == 'T', "the command is in state %c after 3.5 s stopped", proc_state(cmd));
	cr_assert(strstr((const char *)t->shown.p + t->mark, "finished") == NULL, "the command went on while stopped: %s",
		  term_tail(t, t->mark));
	st = term_run(t, "fg", 15000, &out);
	cr_assert(st == 7, "status %d after fg (the command exits 7): %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "finished\n") != NULL, "after fg the terminal showed: %s", it_esc(out, strlen(out)));
	cr_assert(it_wait_gone(cmd, 3000), "the command is still there after its run");
}

/* bg: the command runs on; when it reads its terminal in the background it
 * stops (tty input) and the shell says so; fg gives it the keys. */
Test(tty_jobs, bg_then_reading_the_terminal_stops_then_fg_completes, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	int st;
	char *out;

	term_type(t, "$SBX run --same-user -- sh -c 'echo go$((1+1)); sleep 0.5; read x </dev/tty; echo \"got $x\"; exit 5'\n");
	cr_assert(term_wait(t, "go2", 15000), "the command never started: %s", term_tail(t, 0));
	term_type(t, "\x1a");
	cr_assert(term_prompt(t, 10000, &st, &out), "no prompt after Ctrl-Z: %s", term_tail(t, 0));
	cr_assert(st == 148, "status %d after Ctrl-Z: %s", st, it_esc(out, strlen(out)));
	st = term_run(t, "bg", 5000, &out);
	cr_assert(st == 0, "bg: status %d: %s", st, it_esc(out, strlen(out)));
	/* Past the sleep the command reads its terminal, in the background:
	 * as inline, the job is stopped by SIGTTIN (the shell's word for it is
	 * "tty input"; only `jobs -l` names the signal), within a few seconds. */
	for (int i = 0; i < 20; i++) {
		term_pump(t, 250);
		st = term_run(t, "jobs -l", 5000, &out);
		if (strstr(out, "Stopped (tty input)"))
			break;
	}
	cr_assert(strstr(out, "Stopped (tty input)") != NULL,
		  "the job is not stopped for tty input after reading the terminal in the background: %s\nall: %s",
		  it_esc(out, strlen(out)), term_tail(t, 0));
	term_type(t, "fg\n");
	/* fg prints the job's command line; the keys must wait for sbx to
	 * have the terminal again. */
	cr_assert(term_wait(t, "exit 5'", 5000), "fg: %s", term_tail(t, 0));
	term_pump(t, 700);
	term_type(t, "sbxt-late\r");
	cr_assert(term_prompt(t, 10000, &st, &out), "the run did not end after fg: %s", term_tail(t, 0));
	cr_assert(st == 5, "status %d after fg (the command exits 5): %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "got sbxt-late\n") != NULL, "the terminal showed: %s", it_esc(out, strlen(out)));
}

/* ------------------------------------------------- the caller's modes */

static char *modes(struct term *t)
{
	char *out;
	int st = term_run(t, "stty -g", 10000, &out);

	cr_assert(st == 0 && strlen(out) > 10, "stty -g: %d %s", st, it_esc(out, strlen(out)));
	return out;
}

/* Runs `line` and expects status `status` and the caller's modes as they
 * were before. */
static void modes_kept(const char *line, int status)
{
	struct term *t = term_shell(40, 120, NULL);
	char *before = modes(t), *out;
	int st = term_run(t, line, 20000, &out);

	cr_assert(st == status, "status %d, expected %d: %s", st, status, it_esc(out, strlen(out)));
	cr_assert_str_eq(modes(t), before, "the terminal's modes changed after `%s`", line);
}

Test(tty_jobs, modes_kept_after_a_normal_run, .timeout = 60, .fini = term_fini)
{
	modes_kept("$SBX run --same-user -- true", 0);
}

Test(tty_jobs, modes_kept_when_the_command_leaves_its_terminal_raw, .timeout = 60, .fini = term_fini)
{
	modes_kept("$SBX run --same-user -- sh -c 'stty raw -echo; exit 3'", 3);
}

Test(tty_jobs, modes_kept_when_the_command_crashes, .timeout = 60, .fini = term_fini)
{
	modes_kept("$SBX run --same-user -- sh -c 'stty raw -echo; kill -SEGV $$'", 128 + SIGSEGV);
}

/* The runner killed, or sbx given SIGTERM, in the middle of a run. */
static void modes_kept_when_killed(bool runner, int status)
{
	struct term *t = term_shell(40, 120, NULL);
	char *before = modes(t), *out;
	long sbx, victim, cmd;
	int st;

	term_type(t, "$SBX run --same-user -- sh -c 'stty raw -echo; exec sleep 100.5'\n");
	cmd = proc_wait_for("sleep 100.5", 15000);
	sbx = sbx_of(t, 1000);
	cr_assert(cmd > 0 && sbx > 0, "command %ld, sbx %ld: %s", cmd, sbx, term_tail(t, 0));
	victim = runner ? lc_runner_of(sbx) : sbx;
	cr_assert(victim > 0, "no runner below sbx %ld", sbx);
	usleep(200000);
	/* So there is something to restore. */
	cr_assert(term_is_raw(t), "sbx did not put the caller's terminal in raw mode for the run");
	cr_assert(kill((pid_t)victim, runner ? SIGKILL : SIGTERM) == 0, "kill: %s", strerror(errno));
	cr_assert(term_prompt(t, 15000, &st, &out), "no prompt: %s", term_tail(t, 0));
	cr_assert(st == status, "status %d, expected %d: %s", st, status, it_esc(out, strlen(out)));
	cr_assert(it_wait_gone(cmd, 5000), "the command outlived the run");
	cr_assert_str_eq(modes(t), before, "the terminal's modes changed");
}

Test(tty_jobs, modes_kept_when_the_runner_is_killed, .timeout = 60, .fini = term_fini)
{
	modes_kept_when_killed(true, 125);
}

/* SIGTERM to sbx is delivered to the command, which dies of it; sbx ends
 * the way it did (143 at the prompt). */
Test(tty_jobs, modes_kept_when_sbx_gets_sigterm, .timeout = 60, .fini = term_fini)
{
	modes_kept_when_killed(false, 128 + SIGTERM);
}

/* ---------------------------------------------------------- liveness */

/* A program whose stdout is a terminal line-buffers it (perl here): each
 * line shows before the next is written, as inline. */
Test(tty_jobs, line_buffered_output_is_live, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	long long one, two;
	int st;

	if (!tool("perl"))
		cr_skip_test("no perl here to be a stdio program");
	term_type(t, "$SBX run --same-user -- perl -e 'print \"sbxt one\\n\"; sleep 1; print \"sbxt two\\n\"; sleep 1'\n");
	/* The echo of the typed line holds "sbxt one\n" escaped, not the line. */
	cr_assert(term_wait(t, "sbxt one\r\n", 15000), "the first line never came: %s", term_tail(t, 0));
	one = sp_now_ms();
	cr_assert(term_wait(t, "sbxt two\r\n", 5000), "the second line never came: %s", term_tail(t, 0));
	two = sp_now_ms();
	cr_assert(two - one >= 700, "the first line came only %lld ms before the second: buffered", two - one);
	cr_assert(term_prompt(t, 10000, &st, NULL) && st == 0, "status %d", st);
}

/* ------------------------------------------- sbx as the session leader */

/* `ssh -t host sbx run ...`, or a terminal whose program is sbx: sbx leads
 * the terminal's session itself.  The command still gets a terminal of its
 * own with the caller's size, in its foreground. */
Test(tty_jobs, sbx_leading_the_session, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_exec(33, 77, ARGV(SBX, "run", "--same-user", "--", HELPER, "ttyinfo"), NULL);
	char *out;

	cr_assert(term_wait_exit(t, 20000), "sbx did not end: %s", term_tail(t, 0));
	out = term_text(t->shown.p, t->shown.len);
	cr_assert(WIFEXITED(t->status) && WEXITSTATUS(t->status) == 0, "sbx: status 0x%x: %s", t->status,
		  it_esc(out, strlen(out)));
	for (int fd = 0; fd <= 2; fd++) {
		char line[16];

		snprintf(line, sizeof line, "fd%d ", fd);
		cr_assert_str_eq(term_line_field(out, line, "tty"), "1", "fd %d: %s", fd, it_esc(out, strlen(out)));
	}
	cr_assert_str_eq(term_field(out, "fg"), "1", "%s", it_esc(out, strlen(out)));
	cr_assert_str_eq(term_field(out, "size"), "33x77", "%s", it_esc(out, strlen(out)));
}

/* There, sbx's group is orphaned, and the kernel will not stop it: Ctrl-Z
 * then stops nothing for good (as inline for a session leader's job), the
 * command goes on and the run ends normally -- never a hang. */
Test(tty_jobs, ctrl_z_when_sbx_leads_the_session_never_hangs, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_exec(24, 80, ARGV(SBX, "run", "--same-user", "--", "sh", "-c",
						 "echo go$((1+1)); sleep 1; echo finished; exit 4"), NULL);

	cr_assert(term_wait(t, "go2", 15000), "the command never started: %s", term_tail(t, 0));
	usleep(200000);
	term_type(t, "\x1a");
	cr_assert(term_wait_exit(t, 10000), "sbx did not end after Ctrl-Z in an orphaned group: %s", term_tail(t, 0));
	cr_assert(WIFEXITED(t->status) && WEXITSTATUS(t->status) == 4, "sbx: status 0x%x: %s", t->status,
		  term_tail(t, 0));
	cr_assert(term_wait(t, "finished", 100), "the command did not finish: %s", term_tail(t, 0));
}
