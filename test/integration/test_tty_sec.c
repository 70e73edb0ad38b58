/*
 * sbx at a terminal (issue 11): what must hold for security -- the command
 * never holds the caller's terminal, its own terminal belongs to the
 * account it runs as, the audit line cannot drive a terminal -- and the key
 * cases again through sudo as a throwaway account; then signals in pipe
 * mode, which are delivered once and never escalate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "accounts.h"
#include "devlog.h"
#include "itest.h"
#include "term.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Descriptors of pid that are the character device rdev; the first one's
 * number in *fd_out. */
static int fds_on(long pid, unsigned long rdev, int *fd_out)
{
	char dir[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
	d = opendir(dir);
	cr_assert(d != NULL, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[320];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISCHR(st.st_mode) && (unsigned long)st.st_rdev == rdev) {
			if (n++ == 0)
				*fd_out = atoi(de->d_name);
		}
	}
	closedir(d);
	return n;
}

/* The command holds no descriptor of the caller's terminal, not even one
 * inherited from sbx or the runner (the TIOCSTI hole), by /proc and by what
 * the command itself finds open. */
Test(tty_sec, command_has_no_descriptor_of_the_callers_terminal, .timeout = 60, .fini = term_fini)
{
	struct term *t = term_shell(40, 120, NULL);
	char needle[64], *out;
	long cmd;
	int st, fd = -1, n;

	st = term_run(t, "$SBX run --same-user -- $H fddevs", 20000, &out);
	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	snprintf(needle, sizeof needle, " rdev %lu\n", t->rdev);
	cr_assert(strstr(out, " rdev ") != NULL, "fddevs printed nothing: %s", it_esc(out, strlen(out)));
	cr_assert(strstr(out, needle) == NULL, "the command has the caller's terminal open: %s", it_esc(out, strlen(out)));

	term_type(t, "$SBX run --same-user -- sleep 100.625\n");
	cmd = proc_wait_for("sleep 100.625", 15000);
	cr_assert(cmd > 0, "the command never started: %s", term_tail(t, 0));
	n = fds_on(cmd, t->rdev, &fd);
	cr_assert(n == 0, "the command (pid %ld) holds the caller's terminal %s on fd %d", cmd, t->pts, fd);
	term_type(t, "\x03");
	cr_assert(term_prompt(t, 10000, &st, NULL) && st == 130, "Ctrl-C: status %d: %s", st, term_tail(t, 0));
}

/* With -u the command's terminal is the account's, group tty, 0620, as a
 * login terminal is (others cannot write to it or read it). */
Test(tty_sec, terminal_belongs_to_the_account, .timeout = 90, .fini = term_fini)
{
	struct term *t;
	char *out;
	int st;

	need_root("-u needs root");
	setup_accounts(false);
	t = term_shell(40, 120, NULL);
	st = term_run(t, "$SBX run -u " BOX " -- sh -c 'stat -L -c \"%U %G %a %t:%T\" /proc/self/fd/0; id -un'",
		      30000, &out);
	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	cr_assert(strncmp(out, BOX " tty 620 ", strlen(BOX " tty 620 ")) == 0,
		  "the command's terminal is not " BOX "'s, group tty, 0620: %s", it_esc(out, strlen(out)));
	cr_assert(strstr(out, "\n" BOX "\n") != NULL, "not run as " BOX ": %s", it_esc(out, strlen(out)));
}

/* The audit line escapes control characters: an argument holding ESC and a
 * newline shows them as \x1b and \x0a, never as the raw bytes that would
 * forge a log line or drive the terminal of whoever reads the log. */
Test(tty_sec, audit_line_escapes_control_characters, .timeout = 90)
{
	struct devlog *dl = devlog_open();
	char marker[64], arg[160], *esc;
	const char *line;
	struct sp *p;

	snprintf(marker, sizeof marker, "sbxt-esc-%ld", (long)getpid());
	snprintf(arg, sizeof arg, "%s\x1b[2J\nfake: user=\"nobody\"\x9b", marker);
	p = run_here(ARGV(SBX, "run", "--", "sh", "-c", "exit 0", arg), NULL);
	EXPECT_EXIT(p, 0);
	line = devlog_wait(dl, marker, 5000);
	cr_assert(line != NULL, "no audit line with %s", marker);
	cr_assert(strchr(line, '\x1b') == NULL && strchr(line, '\n') == NULL && strchr(line, '\x9b') == NULL,
		  "the audit line holds raw control bytes: %s", it_esc(line, strlen(line)));
	cr_assert(asprintf(&esc, "%s\\x1b[2J\\x0afake: user=\\\"nobody\\\"\\x9b\"", marker) > 0);
	it_keep(esc);
	cr_assert(strstr(line, esc) != NULL, "the audit line lacks %s: %s", esc, line);
	sp_free(p);
	devlog_release();
}

/* ------------------------------------------------- through sudo, as a person */

/* sbxt-admin at its own terminal, running sbx through sudo (root runs the
 * runner): the /dev/tty prompt, Ctrl-C, Ctrl-Z and fg, and the modes. */
static struct term *admin_shell(struct pub *pb)
{
	static char sbx[160], helper[160];
	struct acct a;

	setup_sudo(pb);
	a = account(ADMIN);
	snprintf(sbx, sizeof sbx, "SBX=%s", pb->sbx);
	snprintf(helper, sizeof helper, "H=%s", pb->helper);
	return term_shell_as(40, 120, a.uid, a.gid, ARGV(sbx, helper, "HOME=/"));
}

static char *modes(struct term *t)
{
	char *out;
	int st = term_run(t, "stty -g", 10000, &out);

	cr_assert(st == 0 && strlen(out) > 10, "stty -g: %d %s", st, it_esc(out, strlen(out)));
	return out;
}

Test(tty_sec, sudo_dev_tty_prompt_answered, .timeout = 90, .fini = term_fini)
{
	struct pub pb;
	struct term *t = admin_shell(&pb);
	char *before = modes(t), *out;
	int st;

	term_type(t, "$SBX run -n -- sh -c 'printf \"%s? \" name >/dev/tty; read x </dev/tty; echo \"[$x] uid $(id -u)\"'\n");
	cr_assert(term_wait(t, "name? ", 20000), "no prompt: %s", term_tail(t, 0));
	term_type(t, "sbxt-sudo\r");
	cr_assert(term_prompt(t, 15000, &st, &out), "the run did not end: %s", term_tail(t, 0));
	cr_assert(st == 0, "status %d: %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "[sbxt-sudo] uid 0\n") != NULL, "the terminal showed: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(modes(t), before, "the terminal's modes changed");
}

Test(tty_sec, sudo_ctrl_c, .timeout = 90, .fini = term_fini)
{
	struct pub pb;
	struct term *t = admin_shell(&pb);
	char *before = modes(t);
	long cmd;
	int st;

	term_type(t, "$SBX run -n -- sleep 100.875\n");
	cmd = proc_wait_for("sleep 100.875", 20000);
	cr_assert(cmd > 0, "the command never started: %s", term_tail(t, 0));
	usleep(300000);
	term_type(t, "\x03");
	cr_assert(term_prompt(t, 10000, &st, NULL), "no prompt after Ctrl-C: %s", term_tail(t, 0));
	cr_assert(st == 130, "status %d after Ctrl-C: %s", st, term_tail(t, 0));
	cr_assert(it_wait_gone(cmd, 3000), "the command is still running after Ctrl-C");
	cr_assert_str_eq(modes(t), before, "the terminal's modes changed");
}

Test(tty_sec, sudo_ctrl_z_and_fg, .timeout = 90, .fini = term_fini)
{
	struct pub pb;
	struct term *t = admin_shell(&pb);
	char *before = modes(t), *out;
	long cmd;
	int st;

	term_type(t, "$SBX run -n -- sh -c 'echo go$((1+1)); sleep 3; echo finished; exit 7'\n");
	cr_assert(term_wait(t, "go2", 20000), "the command never started: %s", term_tail(t, 0));
	cmd = proc_wait_for("sh -c echo go$((1+1)); sleep 3", 5000);
	cr_assert(cmd > 0, "no command");
	term_type(t, "\x1a");
	cr_assert(term_prompt(t, 10000, &st, &out), "no prompt after Ctrl-Z: %s", term_tail(t, 0));
	cr_assert(st == 148, "status %d after Ctrl-Z: %s", st, it_esc(out, strlen(out)));
	cr_assert(proc_state(cmd) == 'T', "the command is in state %c, not stopped", proc_state(cmd));
	cr_assert_str_eq(modes(t), before, "the terminal's modes while the job is stopped");
	st = term_run(t, "fg", 15000, &out);
	cr_assert(st == 7, "status %d after fg: %s", st, it_esc(out, strlen(out)));
	cr_assert(strstr(out, "finished\n") != NULL, "after fg: %s", it_esc(out, strlen(out)));
	cr_assert_str_eq(modes(t), before, "the terminal's modes changed");
}

/* ---------------------------------------------------- pipe mode signals */

/* No terminal: SIGINT from another process reaches the command, which
 * ignores it, finishes and exits 0; sbx with it. */
Test(tty_sec, pipe_mode_sigint_to_a_command_that_ignores_it, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", "trap '' INT; echo ready; sleep 1; echo ok"),
		.stdin_mode = SP_IN_DATA,
		.timeout_ms = 30000,
	});

	cr_assert(sp_wait_for(p, SP_OUT, "ready\n", 15000), "never ready: %s", IT_ESC_ERR(p));
	sp_kill(p, SIGINT);
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "ready\nok\n");
	sp_free(p);
}
