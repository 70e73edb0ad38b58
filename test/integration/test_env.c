/* The command's environment and working directory: sbx's own unless -C,
 * -e, -U or --clear-env say otherwise; command lookup like execvp. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* sbx's environment in these tests: the test's own plus a few known names. */
static char **sbx_env(void)
{
	return it_env(ARGV("SBXT_INHERIT=yes", "SBXT_GONE=1", "SBXT_OLD=old",
			   "SBXT_BYTES=\xff\xfe \t\x01=x\xc3\xa9"),
		      NULL);
}

#define RUN_ENV(...)                                                          \
	sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", __VA_ARGS__), \
				  .envp = sbx_env() })

Test(env, inherited_unchanged)
{
	struct sp *p = RUN_ENV("--", HELPER, "env", "SBXT_INHERIT", "SBXT_OLD", "SBXT_BYTES", "SBXT_NEVER");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "SBXT_INHERIT=yes\nSBXT_OLD=old\nSBXT_BYTES=\xff\xfe \t\x01=x\xc3\xa9\nSBXT_NEVER is unset\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Split into lines and sort: the order of environ is not part of the
 * contract, its contents are. */
static char *sorted_lines(char *text)
{
	size_t n = 0, k = 0, len = strlen(text);
	char **lines, *out, *o;

	for (char *c = text; *c; c++)
		n += *c == '\n';
	lines = calloc(n + 1, sizeof *lines);
	out = malloc(len + 2);
	cr_assert(lines && out);
	for (char *tok = strtok(text, "\n"); tok; tok = strtok(NULL, "\n"))
		lines[k++] = tok;
	qsort(lines, k, sizeof *lines, cmp_str);
	o = out;
	for (size_t i = 0; i < k; i++)
		o += sprintf(o, "%s\n", lines[i]);
	*o = '\0';
	free(lines);
	free(text);
	return it_keep(out);
}

Test(env, whole_environment_is_sbxs_own)
{
	char **env = sbx_env();
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "env"),
		.envp = env,
	});
	char *want, *got, *w;
	size_t len = 1;

	EXPECT_EXIT(p, 0);
	for (char **e = env; *e; e++) {
		cr_assert(strchr(*e, '\n') == NULL, "test environment has a newline in %s", *e);
		len += strlen(*e) + 1;
	}
	want = w = malloc(len);
	cr_assert(want != NULL);
	for (char **e = env; *e; e++)
		w += sprintf(w, "%s\n", *e);
	*w = '\0';
	got = strndup((const char *)p->out_buf, p->out_len);
	want = sorted_lines(want);
	got = sorted_lines(got);
	cr_assert(strcmp(want, got) == 0, "environment differs\nwant: %s\ngot:  %s",
		  it_esc(want, strlen(want)), it_esc(got, strlen(got)));
	sp_free(p);
}

Test(env, set_variables)
{
	struct sp *p = RUN_ENV("-e", "SBXT_NEW=1", "--env", "SBXT_OLD=new", "-e", "SBXT_EMPTY=", "-e",
			       "SBXT_SP=a b=c", "-e", "SBXT_RAW=\xff\xc3\x28", "--", HELPER, "env", "SBXT_NEW",
			       "SBXT_OLD", "SBXT_EMPTY", "SBXT_SP", "SBXT_RAW", "SBXT_INHERIT");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "SBXT_NEW=1\nSBXT_OLD=new\nSBXT_EMPTY=\nSBXT_SP=a b=c\nSBXT_RAW=\xff\xc3\x28\n"
		      "SBXT_INHERIT=yes\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(env, set_twice_last_wins)
{
	struct sp *p = RUN_ENV("-e", "SBXT_TWICE=1", "-e", "SBXT_TWICE=2", "--", HELPER, "env");

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, "\nSBXT_TWICE=2\n") ||
			  (p->out_len >= 13 && memcmp(p->out_buf, "SBXT_TWICE=2\n", 13) == 0),
		  "stdout: %s", IT_ESC_OUT(p));
	cr_assert(!it_buf_has(p->out_buf, p->out_len, "SBXT_TWICE=1"),
		  "the first value is still there: %s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(env, unset_variables)
{
	struct sp *p = RUN_ENV("-U", "SBXT_GONE", "--unset", "SBXT_NEVER", "--", HELPER, "env", "SBXT_GONE",
			       "SBXT_NEVER", "SBXT_INHERIT");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "SBXT_GONE is unset\nSBXT_NEVER is unset\nSBXT_INHERIT=yes\n");
	sp_free(p);
}

Test(env, set_and_unset_apply_in_order)
{
	struct sp *p = RUN_ENV("-e", "SBXT_A=1", "-U", "SBXT_A", "-U", "SBXT_OLD", "-e", "SBXT_OLD=again",
			       "--", HELPER, "env", "SBXT_A", "SBXT_OLD");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "SBXT_A is unset\nSBXT_OLD=again\n");
	sp_free(p);
}

Test(env, clear_env_gives_an_empty_environment)
{
	struct sp *p = RUN_ENV("--clear-env", "--", HELPER, "env");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "");
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(env, clear_env_then_set)
{
	struct sp *p = RUN_ENV("--clear-env", "-e", "ONLY=1", "-e", "SBXT_OLD=kept", "--", HELPER, "env");

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_eq(p->out_buf, p->out_len, "ONLY=1\nSBXT_OLD=kept\n") ||
			  it_buf_eq(p->out_buf, p->out_len, "SBXT_OLD=kept\nONLY=1\n"),
		  "stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(env, clear_env_after_set_still_applies_set)
{
	/* --clear-env is applied first wherever it stands. */
	struct sp *p = RUN_ENV("-e", "ONLY=1", "--clear-env", "--", HELPER, "env");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "ONLY=1\n");
	sp_free(p);
}

Test(cwd, defaults_to_sbxs_cwd)
{
	char *dir = it_tmpdir();
	char *want;
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "cwd"),
		.cwd = dir,
	});

	cr_assert(asprintf(&want, "%s\n", dir) > 0);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);
	free(want);
}

Test(cwd, chdir_option)
{
	char *dir = it_tmpdir();
	char *want;
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "-C", dir, "--", HELPER, "cwd"),
	});

	cr_assert(asprintf(&want, "%s\n", dir) > 0);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--chdir", dir, "--", HELPER, "cwd"),
	});
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);
	free(want);
}

Test(cwd, relative_chdir_is_relative_to_sbxs_cwd)
{
	char *dir = it_tmpdir(), *sub, *want;
	struct sp *p;

	cr_assert(asprintf(&sub, "%s/sub dir", dir) > 0 && mkdir(sub, 0700) == 0);
	it_keep(sub);
	cr_assert(asprintf(&want, "%s\n", sub) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "-C", "sub dir", "--", HELPER, "cwd"),
		.cwd = dir,
	});
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);
	free(want);
}

Test(cwd, missing_directory_exits_125)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "-C", "/nonexistent-sbx-dir", "--", HELPER, "cwd"),
	});

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "/nonexistent-sbx-dir");
	EXPECT_OUT(p, "");
	sp_free(p);
}

Test(lookup, relative_path_is_relative_to_the_commands_cwd)
{
	char *dir = it_tmpdir();
	struct sp *p;

	free(it_write_file(dir, "prog.sh", "#!/bin/sh\necho script-ran \"$@\"\n", 0755));
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "-C", dir, "--", "./prog.sh", "x"),
	});
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "script-ran x\n");
	sp_free(p);
}

Test(lookup, name_is_searched_in_the_commands_path)
{
	char *dir = it_tmpdir(), *path;
	struct sp *p;

	free(it_write_file(dir, "sbxt-prog", "#!/bin/sh\necho found-in-path\n", 0755));
	cr_assert(asprintf(&path, "PATH=/nonexistent-sbx-dir:%s", dir) > 0);
	p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "-e", path, "--", "sbxt-prog") });
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "found-in-path\n");
	sp_free(p);
	free(path);
}

Test(lookup, script_without_shebang_runs_with_sh)
{
	char *dir = it_tmpdir();
	struct sp *p;

	free(it_write_file(dir, "noshebang", "echo ran-by-sh; exit 6\n", 0755));
	p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "-C", dir, "--", "./noshebang") });
	EXPECT_EXIT(p, 6);
	EXPECT_OUT(p, "ran-by-sh\n");
	sp_free(p);
}
