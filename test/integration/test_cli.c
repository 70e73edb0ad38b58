/* The command line itself: help, version, usage errors, finding the runner,
 * and the launch rule. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void expect_help(const char *const *argv)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = argv });

	EXPECT_EXIT(p, 0);
	cr_assert(p->out_len > 0, "%s %s: nothing on stdout", argv[1], argv[2] ? argv[2] : "");
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(cli, help_exits_0)
{
	expect_help(ARGV(SBX, "--help"));
	expect_help(ARGV(SBX, "-h"));
	expect_help(ARGV(SBX, "help"));
}

Test(cli, run_help_describes_every_option)
{
	static const char *const opts[] = { "--chdir", "--env", "--unset", "--clear-env",
					    "--same-user", "--help", "--version", "-C", "-e",
					    "-U", NULL };
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--help") });

	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	for (const char *const *o = opts; *o; o++)
		cr_expect(it_buf_has(p->out_buf, p->out_len, *o), "`sbx run --help` does not mention %s", *o);
	sp_free(p);
	expect_help(ARGV(SBX, "run", "-h"));
}

Test(cli, top_level_help_mentions_run)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "--help") });

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, "run"), "`sbx --help`: %s", IT_ESC_OUT(p));
	sp_free(p);
}

static void expect_version(const char *const *argv)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = argv });

	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	cr_assert(p->out_len > 4 && memcmp(p->out_buf, "sbx ", 4) == 0 &&
			  p->out_buf[4] >= '0' && p->out_buf[4] <= '9' &&
			  p->out_buf[p->out_len - 1] == '\n' && it_count_lines(p->out_buf, p->out_len) == 1,
		  "version should be one line \"sbx X.Y.Z\", got \"%s\"", IT_ESC_OUT(p));
	sp_free(p);
}

Test(cli, version_exits_0)
{
	expect_version(ARGV(SBX, "--version"));
	expect_version(ARGV(SBX, "-V"));
	expect_version(ARGV(SBX, "run", "--version"));
}

static void expect_usage_error(const char *const *argv, const char *what)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = argv });

	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125, got %s; stderr: %s", what,
		  sp_status_str(p), IT_ESC_ERR(p));
	cr_assert(p->err_len > 5 && memcmp(p->err_buf, "sbx: ", 5) == 0,
		  "%s: stderr should start with \"sbx: \", got \"%s\"", what, IT_ESC_ERR(p));
	cr_assert(it_buf_has(p->err_buf, p->err_len, "Try 'sbx run --help'."),
		  "%s: stderr should say \"Try 'sbx run --help'.\", got \"%s\"", what, IT_ESC_ERR(p));
	cr_assert(p->out_len == 0, "%s: stdout should be empty, got \"%s\"", what, IT_ESC_OUT(p));
	sp_free(p);
}

Test(cli, usage_errors_exit_125)
{
	expect_usage_error(ARGV(SBX, "run", "--same-user", "--no-such-option", "--", HELPER, "exit", "0"),
			   "unknown long option");
	expect_usage_error(ARGV(SBX, "run", "--same-user", "-Q", "--", HELPER, "exit", "0"),
			   "unknown short option");
	expect_usage_error(ARGV(SBX, "run", "--same-user"), "missing command");
	expect_usage_error(ARGV(SBX, "run", "--same-user", "--"), "missing command after --");
	expect_usage_error(ARGV(SBX, "run", "--same-user", "-C"), "missing option argument");
}

Test(cli, unknown_subcommand_exits_125)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "no-such-subcommand") });

	EXPECT_EXIT(p, 125);
	cr_assert(p->err_len > 5 && memcmp(p->err_buf, "sbx: ", 5) == 0, "stderr: %s", IT_ESC_ERR(p));
	sp_free(p);
}

static char *runner_path(void)
{
	char *dir = strdup(SBX), *slash = strrchr(dir, '/'), *path;

	*slash = '\0';
	cr_assert(asprintf(&path, "%s/sbx-runner", dir) > 0);
	free(dir);
	cr_assert(access(path, X_OK) == 0, "no runner beside sbx at %s", path);
	return it_keep(path);
}

Test(cli, runner_missing_exits_125, .timeout = 60)
{
	char *dir = it_tmpdir(), *lone;
	struct sp *p;

	cr_assert(asprintf(&lone, "%s/sbx", dir) > 0);
	it_copy_file(SBX, lone);
	p = sp_run(&(struct sp_opts){ .argv = ARGV(lone, "run", "--same-user", "--", HELPER, "exit", "0") });
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "");
	cr_expect(it_buf_has(p->err_buf, p->err_len, "sbx-runner"),
		  "the message should name sbx-runner: %s", IT_ESC_ERR(p));
	cr_assert(p->out_len == 0, "stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
	free(lone);
}

Test(cli, runner_found_in_libexec_layout, .timeout = 60)
{
	char *dir = it_tmpdir(), *bin, *sbx, *libexec, *runner;
	struct sp *p;

	cr_assert(asprintf(&bin, "%s/bin", dir) > 0 && mkdir(bin, 0755) == 0);
	it_keep(bin);
	cr_assert(asprintf(&libexec, "%s/libexec", dir) > 0 && mkdir(libexec, 0755) == 0);
	it_keep(libexec);
	free(libexec);
	cr_assert(asprintf(&libexec, "%s/libexec/sbx", dir) > 0 && mkdir(libexec, 0755) == 0);
	it_keep(libexec);
	cr_assert(asprintf(&sbx, "%s/sbx", bin) > 0);
	it_keep(sbx);
	cr_assert(asprintf(&runner, "%s/sbx-runner", libexec) > 0);
	it_copy_file(SBX, sbx);
	it_copy_file(runner_path(), runner);

	p = sp_run(&(struct sp_opts){ .argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "argv", "installed") });
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "argc 1\n9:696e7374616c6c6564\n");
	EXPECT_ERR(p, "");
	sp_free(p);
	free(runner);
}

Test(cli, runner_is_not_looked_up_in_path, .timeout = 60)
{
	char *dir = it_tmpdir(), *lone, *path, *rdir;
	struct sp *p;

	/* A runner reachable only through PATH must not be used. */
	cr_assert(asprintf(&lone, "%s/sbx", dir) > 0);
	it_keep(lone);
	it_copy_file(SBX, lone);
	rdir = runner_path();
	*strrchr(rdir, '/') = '\0';
	cr_assert(asprintf(&path, "PATH=%s:/usr/bin:/bin", rdir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(lone, "run", "--same-user", "--", HELPER, "exit", "0"),
		.envp = it_env(ARGV(path), NULL),
	});
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "");
	sp_free(p);
}

/* Not root and not --same-user: sbx goes through a launcher.  One that
 * refuses (here `false`, so the outcome does not depend on this user's
 * sudo rights) means status 125, sbx's line last, and nothing run. */
Test(cli, without_same_user_non_root_goes_through_the_launcher)
{
	struct sp *p;

	if (geteuid() == 0)
		cr_skip_test("running as root: root needs no launcher "
			     "(see cli.root_runs_without_same_user and cli.dropped_to_nobody_*)");
	p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "-n", "--via", "false", "--", HELPER,
						   "write", "out", "5", "1") });
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "false exited before the runner connected");
	cr_assert(p->out_len == 0, "stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(cli, root_runs_without_same_user)
{
	struct sp *p;

	if (geteuid() != 0)
		cr_skip_test("not root: sbx would go through sudo "
			     "(cli.without_same_user_non_root_goes_through_the_launcher)");
	p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--", HELPER, "argv", "as-root") });
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "argc 1\n7:61732d726f6f74\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* Copies of sbx, its runner and the helper that any account can run: the
 * build tree may sit in a directory only root can enter (CI's clone does). */
static void public_copies(const char **sbx, const char **helper)
{
	static char s[4200], h[4200];
	char runner[4200], from[4200], *dir = it_tmpdir(), *slash;

	chmod(dir, 0755);
	snprintf(s, sizeof(s), "%s/sbx", dir);
	snprintf(runner, sizeof(runner), "%s/sbx-runner", dir);
	snprintf(h, sizeof(h), "%s/sbx-testhelper", dir);
	snprintf(from, sizeof(from), "%s", SBX);
	slash = strrchr(from, '/');
	cr_assert_not_null(slash);
	it_copy_file(SBX, s);
	snprintf(slash, sizeof(from) - (size_t)(slash - from), "/sbx-runner");
	it_copy_file(from, runner);
	it_copy_file(HELPER, h);
	chmod(s, 0755);
	chmod(runner, 0755);
	chmod(h, 0755);
	*sbx = s;
	*helper = h;
}

/* As root the non-root path can still be exercised, by dropping to an
 * unprivileged account before starting sbx. */
static struct sp *run_as_nobody(const char *const *argv)
{
	struct passwd *pw = getpwnam("nobody");
	static const char *const unset[] = { "XDG_RUNTIME_DIR", "TMPDIR", "HOME", NULL };
	struct sp *p;

	if (geteuid() != 0)
		cr_skip_test("not root: cannot switch to another user");
	if (!pw)
		cr_skip_test("no user \"nobody\" on this system");
	p = sp_run(&(struct sp_opts){
		.argv = argv,
		.envp = it_env(ARGV("HOME=/"), unset),
		.cwd = "/",
		.drop_privileges = true,
		.uid = pw->pw_uid,
		.gid = pw->pw_gid,
		.exec_may_fail = true,
	});
	if (p->exec_errno)
		cr_skip_test("user nobody cannot execute %s: %s", argv[0], strerror(p->exec_errno));
	return p;
}

/* nobody may not elevate: sudo says why on stderr, and sbx's own line,
 * the last one, names the launcher; nothing runs. */
Test(cli, dropped_to_nobody_without_same_user_exits_125)
{
	const char *sbx, *helper;
	const char *last;
	struct sp *p;

	public_copies(&sbx, &helper);
	p = run_as_nobody(ARGV(sbx, "run", "-n", "--", helper, "write", "out", "5", "1"));

	EXPECT_EXIT(p, 125);
	cr_assert(p->err_len > 0 && p->err_buf[p->err_len - 1] == '\n', "stderr: %s", IT_ESC_ERR(p));
	p->err_buf[p->err_len - 1] = '\0';
	last = strrchr((char *)p->err_buf, '\n');
	last = last ? last + 1 : (char *)p->err_buf;
	p->err_buf[p->err_len - 1] = '\n';
	cr_assert(strncmp(last, "sbx: ", 5) == 0 && strstr(last, "sudo") != NULL,
		  "last stderr line should be sbx's and name sudo: %s", IT_ESC_ERR(p));
	cr_assert_eq(p->out_len, 0, "stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(cli, dropped_to_nobody_with_same_user_runs)
{
	const char *sbx, *helper;
	struct sp *p;

	public_copies(&sbx, &helper);
	p = run_as_nobody(ARGV(helper, "exit", "0"));
	if (!sp_exited_with(p, 0))
		cr_skip_test("user nobody cannot run the helper directly: %s", sp_status_str(p));
	sp_free(p);
	p = run_as_nobody(ARGV(sbx, "run", "--same-user", "--", helper, "pgid"));
	EXPECT_EXIT(p, 0);
	cr_assert(p->out_len > 0 && memcmp(p->out_buf, "pid ", 4) == 0, "stdout: %s", IT_ESC_OUT(p));
	EXPECT_ERR(p, "");
	sp_free(p);
}
