/* Crossing the boundary for real: sudo (with and without -n, --via,
 * SBX_ELEVATE), -u from root and through sudo, and Ctrl-C or SIGKILL across
 * sudo.  The accounts these tests run sbx as, and why they are safe to
 * create, are in accounts.h; the password prompt is tested in
 * test_elevate_prompt.c, the checks on who may be at the other end of the
 * channel in test_elevate_peers.c, and the audit line in
 * test_elevate_audit.c (all in the suite "elevate"). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)

/* ------------------------------------------------------------ sudo: as root */

Test(elevate, sudo_runs_the_command_as_root, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(elevate, sudo_passes_exit_statuses_and_signal_deaths, .timeout = 90)
{
	static const int codes[] = { 0, 3, 255 };
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		char num[8];

		snprintf(num, sizeof num, "%d", codes[i]);
		p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "exit", num), NULL);
		EXPECT_EXIT(p, codes[i]);
		EXPECT_OUT(p, "");
		EXPECT_ERR(p, "");
		sp_free(p);
	}
	/* As inline: sbx dies by the command's signal and prints nothing. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "kill", "15"), NULL);
	EXPECT_SIGNAL(p, SIGTERM);
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(elevate, sudo_keeps_stdout_and_stderr_byte_exact_and_apart, .timeout = 90)
{
	size_t n = 384 * 1024;
	char count[32];
	struct pub pb;
	struct sp *p;
	long long at;

	setup_sudo(&pb);
	snprintf(count, sizeof count, "%zu", n);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "write", "both", count, "4242"), NULL);
	EXPECT_EXIT(p, 0);
	at = it_pattern_mismatch(p->out_buf, p->out_len, 4242, n);
	cr_assert(at < 0, "stdout differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->out_len, n);
	at = it_pattern_mismatch(p->err_buf, p->err_len, 4243, n);
	cr_assert(at < 0, "stderr differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->err_len, n);
	sp_free(p);
}

Test(elevate, sudo_passes_stdin_byte_exact, .timeout = 90)
{
	size_t n = 4 * MIB;
	unsigned char *data = it_pattern_alloc(9, n);
	struct pub pb;
	struct sp_opts o;
	struct sp *p;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "hash-stdin"), NULL);
	o.in = data;
	o.in_len = n;
	o.timeout_ms = 60000;
	p = sp_run(&o);
	EXPECT_EXIT(p, 0);
	cr_assert(p->in_off == n, "sbx took only %zu of %zu stdin bytes (%s)", p->in_off, n, strerror(p->in_errno));
	EXPECT_OUT(p, hash_line(data, n));
	EXPECT_ERR(p, "");
	sp_free(p);
	free(data);
}

/* Without -n sudo keeps the chance to prompt; with NOPASSWD it needs none,
 * and with no terminal anywhere it still just works. */
Test(elevate, sudo_without_n_and_without_a_terminal, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, no_tty(ARGV(pb.sbx, "run", "--", "id", "-u")), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* sudo says why on stderr, then sbx's own line, the last one, names sudo;
 * 125 at once, nothing on stdout. */
static void expect_sudo_refusal(struct sp *p, const char *what, const char *also)
{
	char *last = last_err_line(p);

	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125, got %s\nstdout: %s\nstderr: %s", what,
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(elapsed(p) < 5000, "%s: sbx took %lld ms to give up", what, elapsed(p));
	cr_assert(p->out_len == 0, "%s: stdout: %s", what, IT_ESC_OUT(p));
	cr_assert(strncmp(last, "sbx: ", 5) == 0 && strstr(last, "sudo") != NULL,
		  "%s: the last stderr line should be sbx's and name sudo: %s", what, IT_ESC_ERR(p));
	cr_assert(also == NULL || strstr(last, also) != NULL, "%s: sbx's line should say \"%s\": %s", what, also,
		  IT_ESC_ERR(p));
	cr_expect(p->err_len > 6 && memcmp(p->err_buf, "sudo: ", 6) == 0 && it_count_lines(p->err_buf, p->err_len) >= 2,
		  "%s: sudo's own message should come first: %s", what, IT_ESC_ERR(p));
	free(last);
}

Test(elevate, sudo_refuses_an_account_without_rights, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(PLAIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	expect_sudo_refusal(p, "-n", "under -n it may not ask for a password");
	sp_free(p);

	/* Without -n sudo would prompt, but there is no terminal to prompt on. */
	p = run_as(PLAIN, no_tty(ARGV(pb.sbx, "run", "--", "id", "-u")), NULL);
	expect_sudo_refusal(p, "without -n", NULL);
	sp_free(p);
}

/* --------------------------------------------------------------- -u from root */

Test(elevate, root_runs_the_command_as_the_account, .timeout = 60)
{
	struct acct a;
	char want[64];
	long got[256], exp[256];
	size_t ng, ne;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, BOX "\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-u"), NULL);
	snprintf(want, sizeof want, "%ld\n", (long)a.uid);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-g"), NULL);
	snprintf(want, sizeof want, "%ld\n", (long)a.gid);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	/* The supplementary groups are the account's, as initgroups would set
	 * them: sbxt-extra among them, root's none. */
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-G"), NULL);
	EXPECT_EXIT(p, 0);
	ng = sorted_ids(p->out_buf, p->out_len, got, 256);
	ne = sorted_groups(&a, exp);
	cr_assert(ng == ne && memcmp(got, exp, ng * sizeof *got) == 0, "id -G: expected %s, got %s",
		  ids_str(exp, ne), IT_ESC_OUT(p));
	cr_assert(getgrnam(EXTRA) != NULL);
	sp_free(p);
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-Gn"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, EXTRA), "id -Gn should list %s: %s", EXTRA, IT_ESC_OUT(p));
	sp_free(p);
}

/* HOME, USER, LOGNAME and SHELL are the account's, whatever the caller's
 * environment or -e say; every other variable passes as usual. */
Test(elevate, root_gives_the_account_its_identity_variables, .timeout = 60)
{
	static const char *const script =
		"printf '%s|%s|%s|%s|%s\\n' \"$HOME\" \"$USER\" \"$LOGNAME\" \"$SHELL\" \"$SBXT_KEEP\"";
	struct acct a;
	char *want;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);
	cr_assert(asprintf(&want, "%s|%s|%s|%s|kept\n", a.home, a.name, a.name, a.shell) > 0);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "sh", "-c", script),
		     ARGV("HOME=/wrong", "USER=wrong", "LOGNAME=wrong", "SHELL=/bin/false", "SBXT_KEEP=kept"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "-e", "HOME=/wrong2", "-e", "USER=wrong2", "-e", "LOGNAME=wrong2",
			  "-e", "SHELL=/bin/false", "-e", "SBXT_KEEP=kept", "--", "sh", "-c", script),
		     NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);

	/* Clearing the environment does not take them away either. */
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--clear-env", "-e", "SBXT_KEEP=kept", "--", "/bin/sh", "-c", script),
		     NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);
	free(want);
}

/* The value after `key` in /proc/PID/status text (leaked). */
static char *status_field(const unsigned char *buf, size_t len, const char *key)
{
	char *text = strndup((const char *)buf, len), *line, *save = NULL;
	size_t kl = strlen(key);

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, kl) == 0) {
			line += kl;
			while (*line == ' ' || *line == '\t')
				line++;
			line = strdup(line);
			free(text);
			return it_keep(line);
		}
	}
	free(text);
	return it_keep(strdup("(missing)"));
}

/* The switch is for good: real, effective, saved and filesystem ids are
 * all the account's, no capabilities are left, and setuid(0) fails. */
Test(elevate, root_to_account_cannot_regain_root, .timeout = 60)
{
	struct acct a;
	char *want, *perl;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "cat", "/proc/self/status"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(asprintf(&want, "%ld\t%ld\t%ld\t%ld", (long)a.uid, (long)a.uid, (long)a.uid, (long)a.uid) > 0);
	it_keep(want);
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "Uid:"), want, "Uid: %s",
			 status_field(p->out_buf, p->out_len, "Uid:"));
	cr_assert(asprintf(&want, "%ld\t%ld\t%ld\t%ld", (long)a.gid, (long)a.gid, (long)a.gid, (long)a.gid) > 0);
	it_keep(want);
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "Gid:"), want, "Gid: %s",
			 status_field(p->out_buf, p->out_len, "Gid:"));
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapPrm:"), "0000000000000000");
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapEff:"), "0000000000000000");
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapAmb:"), "0000000000000000");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "sh", "-c", "id -u"), NULL);
	cr_assert(asprintf(&want, "%ld\n", (long)a.uid) > 0);
	it_keep(want);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	/* A program that tries: setuid(0), seteuid(0), setgid(0), setegid(0). */
	perl = tool("perl");
	if (!perl)
		cr_skip_test("perl not found: the ids were checked, the attempt to take root back was not");
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", perl, "-e",
			  "$< = 0; $> = 0; $( = 0; $) = \"0 0\"; print \"$< $> \", (split / /, $()[0], \" \","
			  " (split / /, $))[0], \"\\n\""),
		     NULL);
	cr_assert(asprintf(&want, "%ld %ld %ld %ld\n", (long)a.uid, (long)a.uid, (long)a.gid, (long)a.gid) > 0);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);
	free(want);
}

/* -C is entered after the switch, with the account's rights: root could
 * enter /root, the account cannot. */
Test(elevate, root_to_account_enters_the_directory_with_its_rights, .timeout = 60)
{
	struct stat st;
	struct sp *p;

	setup_accounts(false);
	cr_assert(stat("/root", &st) == 0, "/root: %s", strerror(errno));
	if (st.st_mode & S_IXOTH)
		cr_skip_test("/root is searchable by everyone here (mode %o)", (unsigned)(st.st_mode & 07777));
	if (st.st_uid == account(BOX).uid)
		cr_skip_test("/root belongs to %s here", BOX);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "-C", "/root", "--", "pwd"), NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'/root'");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-C", "/root", "--", "pwd"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "/root\n");
	sp_free(p);
}

/* ----------------------------------------------------------- -u through sudo */

Test(elevate, sudo_to_the_account, .timeout = 60)
{
	size_t n = 96 * 1024;
	char count[32];
	struct pub pb;
	struct sp *p;
	long long at;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, BOX "\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "id", "-Gn"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, EXTRA), "id -Gn should list %s: %s", EXTRA, IT_ESC_OUT(p));
	EXPECT_ERR(p, "");
	sp_free(p);

	/* -u root is plain elevation, through the same rule. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", "root", "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "root\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* The channel through the 0666 socket carries data both ways. */
	snprintf(count, sizeof count, "%zu", n);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", pb.helper, "write", "both", count, "31"), NULL);
	EXPECT_EXIT(p, 0);
	at = it_pattern_mismatch(p->out_buf, p->out_len, 31, n);
	cr_assert(at < 0, "stdout differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->out_len, n);
	at = it_pattern_mismatch(p->err_buf, p->err_len, 32, n);
	cr_assert(at < 0, "stderr differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->err_len, n);
	sp_free(p);
}

Test(elevate, sudo_refuses_an_account_the_rule_does_not_name, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", PLAIN, "--", "id"), NULL);
	expect_sudo_refusal(p, "-u " PLAIN, NULL);
	sp_free(p);
}

/* No root needed: the account is looked up before anything starts. */
Test(elevate, unknown_account_and_bad_user_options)
{
	struct sp *p = run_here(ARGV(SBX, "run", "-u", "no-such-user-sbxt", "--", "true"), NULL);

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-user-sbxt'");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "--same-user", "-u", "x", "--", "true"), NULL);
	expect_usage_error(p, "--same-user -u x");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", "x", "--same-user", "--", "true"), NULL);
	expect_usage_error(p, "-u x --same-user");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", "", "--", "true"), NULL);
	expect_usage_error(p, "-u ''");
	sp_free(p);
}

/* ------------------------------------------------------------------ --via */

Test(elevate, via_and_sbx_elevate_choose_the_launcher, .timeout = 90)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "sudo", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* Words are split on blanks. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "  sudo\t", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);

	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), ARGV("SBX_ELEVATE=sudo"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* --via wins over SBX_ELEVATE; an empty SBX_ELEVATE means the default. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "sudo", "--", "id", "-u"),
		   ARGV("SBX_ELEVATE=no-such-launcher-xyz"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), ARGV("SBX_ELEVATE="));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);
}

/* Mistakes in the launcher are sbx's 125, before anything runs.  Root does
 * not elevate, so as root this runs as an account without sudo rights. */
Test(elevate, via_errors, .timeout = 60)
{
	struct pub pb;
	const char *sbx = SBX;
	struct sp *p;

#define RUN_VIA(argv, env) (geteuid() == 0 ? run_as(PLAIN, (argv), (env)) : run_here((argv), (env)))
	if (geteuid() == 0) {
		setup_accounts(false);
		make_pub(&pb);
		sbx = pb.sbx;
	}
	p = RUN_VIA(ARGV(sbx, "run", "-n", "--via", "no-such-launcher-xyz", "--", "true"), NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-launcher-xyz' not found");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--", "true"), ARGV("SBX_ELEVATE=no-such-launcher-xyz"));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-launcher-xyz' not found");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--via", "   ", "--", "true"), NULL);
	expect_usage_error(p, "--via '   '");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--", "true"), ARGV("SBX_ELEVATE= \t "));
	expect_usage_error(p, "SBX_ELEVATE=' \\t '");
	sp_free(p);
#undef RUN_VIA
}

/* ------------------------------------------------------------ Ctrl-C, sudo */

/* SIGINT to sbx reaches the command across sudo; sbx dies by it, as in
 * the same-user case (lifecycle.sigint_ends_the_tree_and_sbx_dies_by_sigint),
 * and nothing it started survives: not sudo, not the runner, not the
 * command. */
Test(elevate, sigint_through_sudo_ends_everything, .timeout = 60)
{
	struct pub pb;
	struct sp_opts o;
	struct sp *p;
	long pids[32], helper = 0;
	size_t n;
	long long sent;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "echo $$; exec \"$0\" live out", pb.helper),
		    NULL);
	o.stdin_mode = SP_IN_OPEN;
	p = sp_start(&o);
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never said ready: %s\nstdout: %s\nstderr: %s",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(lc_numbers(p->out_buf, p->out_len, &helper, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	n = descendants(p->pid, pids, 31);
	cr_assert(n >= 2, "sbx should have sudo and the runner below it, found %zu processes", n);
	pids[n++] = helper;

	sent = sp_now_ms();
	sp_kill(p, SIGINT);
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGINT);
	cr_assert(p->end_ms - sent < 3000, "sbx took %lld ms to end after SIGINT", p->end_ms - sent);
	cr_expect(p->err_len == 0, "stderr: %s", IT_ESC_ERR(p));
	cr_assert(lc_survivor(pids, n, 3000) == 0, "a process of the run outlived sbx by 3 s");
	sp_free(p);
}

/* sbx killed outright (it cannot forward anything) while sudo and a root
 * runner sit between it and the command: the runner sees the channel close
 * and ends the command's tree; then the runner and sudo go too. */
Test(elevate, sbx_killed_through_sudo_leaves_nothing_behind, .timeout = 60)
{
	struct pub pb;
	struct sp_opts o;
	struct sp *p;
	long pids[32], helper = 0;
	size_t n;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "echo $$; exec \"$0\" live out", pb.helper),
		    NULL);
	o.stdin_mode = SP_IN_OPEN;
	p = sp_start(&o);
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never said ready: %s\nstdout: %s\nstderr: %s",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(lc_numbers(p->out_buf, p->out_len, &helper, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	n = descendants(p->pid, pids, 31);
	cr_assert(n >= 2, "sbx should have sudo and the runner below it, found %zu processes", n);
	pids[n++] = helper;
	/* Only sbx: sudo runs in a session of its own (-n), so the group
	 * kill in sp_free would not reach it anyway. */
	cr_assert(kill(p->pid, SIGKILL) == 0);
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGKILL);
	cr_assert(lc_survivor(pids, n, 5000) == 0, "a process of the run outlived a SIGKILLed sbx by 5 s");
	sp_free(p);
}
