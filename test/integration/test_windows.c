/*
 * The Windows binaries (sbx.exe, sbx-runner.exe) driven through Wine: the
 * same transparency contract, checked against a real Windows C runtime.
 *
 * Skipped, with the reason, when the cross-built binaries or Wine are not
 * there (make check builds them when mingw-w64 and Wine are installed).
 * Wine is not Windows: these tests show that the Win32 code paths work on
 * Wine's implementation of the APIs; the Windows CI job runs real Windows.
 */
#include "itest.h"
#include "lifecycle.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

static char wine[4096], sbx_exe[4200], runner_exe[4200], helper_exe[4200], wintest_exe[4200];
static char wintest_win[4200]; /* sbx-wintest.exe as a Windows path, for sbx.exe to run */
static char helper_unix[4200];
static char **wine_env;

/* Sets the paths up, or skips the test saying what is missing. */
static void need_wine(void)
{
	const char *dir = getenv("SBX_WIN_DIR");
	const char *path = getenv("PATH");
	char d[4096];

	if (dir == NULL || *dir == '\0')
		dir = "build/win";
	if (strcmp(dir, "none") == 0)
		cr_skip_test("the Windows tests are off (SBX_WIN_DIR=none: make check-linux)");
	if (realpath(dir, d) == NULL)
		cr_skip_test("no Windows build in %s (make win needs x86_64-w64-mingw32-gcc)", dir);
	snprintf(sbx_exe, sizeof(sbx_exe), "%s/sbx.exe", d);
	snprintf(runner_exe, sizeof(runner_exe), "%s/sbx-runner.exe", d);
	snprintf(helper_exe, sizeof(helper_exe), "Z:%s/sbx-testhelper.exe", d);
	snprintf(helper_unix, sizeof(helper_unix), "%s/sbx-testhelper.exe", d);
	snprintf(wintest_exe, sizeof(wintest_exe), "%s/sbx-wintest.exe", d);
	snprintf(wintest_win, sizeof(wintest_win), "Z:%s/sbx-wintest.exe", d);
	for (char *c = helper_exe; *c; c++)
		if (*c == '/')
			*c = '\\';
	for (char *c = wintest_win; *c; c++)
		if (*c == '/')
			*c = '\\';
	if (access(sbx_exe, R_OK) < 0 || access(runner_exe, R_OK) < 0)
		cr_skip_test("%s or %s is missing (run make win)", sbx_exe, runner_exe);
	wine[0] = '\0';
	for (const char *p = path ? path : ""; *p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		snprintf(wine, sizeof(wine), "%.*s/wine", (int)n, p);
		if (access(wine, X_OK) == 0)
			break;
		wine[0] = '\0';
		p += n + (end ? 1 : 0);
	}
	if (wine[0] == '\0')
		cr_skip_test("wine is not installed (Debian: apt-get install wine wine64)");
	if (wine_env == NULL) {
		const char *prefix = getenv("WINEPREFIX");
		static char pf[4200];
		snprintf(pf, sizeof(pf), "WINEPREFIX=%s", prefix && *prefix ? prefix : "");
		/* UTF-8 locale: Wine converts the Unix argv to UTF-16 with it. */
		wine_env = it_env(ARGV("WINEDEBUG=-all", "LC_ALL=C.UTF-8",
				       prefix && *prefix ? pf : "WINEDEBUG=-all"), NULL);
	}
}

/* wine sbx.exe run --same-user -- helper.exe ARGS... (argv NULL-terminated) */
static struct sp *run_win(const char *const *sbx_opts, const char *const *args,
			  const void *in, size_t in_len, const char *cwd)
{
	const char *argv[256];
	size_t n = 0;

	argv[n++] = wine;
	argv[n++] = sbx_exe;
	argv[n++] = "run";
	argv[n++] = "--same-user";
	for (; sbx_opts && *sbx_opts; sbx_opts++)
		argv[n++] = *sbx_opts;
	argv[n++] = "--";
	for (; *args && n < 254; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return sp_run(&(struct sp_opts){ .argv = argv, .envp = wine_env, .in = in, .in_len = in_len,
					 .stdin_mode = in ? SP_IN_DATA : SP_IN_NULL, .cwd = cwd,
					 .timeout_ms = 120000 });
}

#define HELPER_ARGS(...) ARGV(helper_exe, __VA_ARGS__)

/* The helper's "argv" output for these arguments (bytes = WTF-8 = UTF-8
 * for valid Unicode input). */
static char *argv_report(const char *const *args)
{
	static const char hex[] = "0123456789abcdef";
	size_t cap = 64, len;
	size_t argc = 0;
	char *out;

	for (const char *const *a = args; *a; a++) {
		cap += strlen(*a) * 2 + 32;
		argc++;
	}
	out = malloc(cap);
	len = (size_t)snprintf(out, cap, "argc %zu\n", argc);
	for (const char *const *a = args; *a; a++) {
		size_t k = strlen(*a);
		len += (size_t)snprintf(out + len, cap - len, "%zu:", k);
		for (size_t i = 0; i < k; i++) {
			out[len++] = hex[(unsigned char)(*a)[i] >> 4];
			out[len++] = hex[(unsigned char)(*a)[i] & 15];
		}
		out[len++] = '\n';
	}
	out[len] = '\0';
	return out;
}

static void check_argv(const char *const *args)
{
	const char *full[64];
	size_t n = 0;
	struct sp *p;

	full[n++] = helper_exe;
	full[n++] = "argv";
	for (const char *const *a = args; *a; a++)
		full[n++] = *a;
	full[n] = NULL;
	p = run_win(NULL, full, NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, it_keep(argv_report(args)));
	sp_free(p);
}

Test(windows, argv_awkward_arguments, .timeout = 180)
{
	need_wine();
	check_argv(ARGV("plain", "", " ", "a b", "\"", "say \"hi\"", "\\", "trail\\", "sp ace\\",
			"two\\\\", "a\\\"b", "\\\\server\\share", "*", "*.txt", "what?", "%PATH%",
			"%%", "^", "a&b|c<d>e", "tab\there", "caf\xc3\xa9", "\xe2\x82\xac",
			"\xf0\x9f\x98\x80", "x\"\"y", "\"\"", "\\\"", "end\\\\\\"));
}

Test(windows, argv_randomized_round_trip, .timeout = 600)
{
	static const char *const alphabet[] = { "\"", "\\", " ", "\t", "*", "?", "%", "^", "&",
						"|", "a", "b", "\xc3\xa9", "<", "'" };
	unsigned seed = 20261126;

	need_wine();
	for (int round = 0; round < 12; round++) {
		char *args[9];
		const char *cargs[9];
		size_t argc = 1 + (size_t)(rand_r(&seed) % 8);
		for (size_t i = 0; i < argc; i++) {
			size_t len = (size_t)(rand_r(&seed) % 10);
			args[i] = calloc(1, len * 2 + 1);
			for (size_t k = 0; k < len; k++)
				strcat(args[i], alphabet[rand_r(&seed) % (sizeof(alphabet) / sizeof(*alphabet))]);
			cargs[i] = args[i];
		}
		cargs[argc] = NULL;
		check_argv(cargs);
		for (size_t i = 0; i < argc; i++)
			free(args[i]);
	}
}

Test(windows, stdout_and_stderr_byte_exact_and_apart, .timeout = 180)
{
	const size_t n = 16u << 20;
	struct sp *p;

	need_wine();
	p = run_win(NULL, HELPER_ARGS("write", "out", "16777216", "11"), NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	cr_assert_eq(it_pattern_mismatch(p->out_buf, p->out_len, 11, n), -1,
		     "stdout differs (%zu bytes)", p->out_len);
	cr_assert_eq(p->err_len, 0, "stderr: %s", IT_ESC_ERR(p));
	sp_free(p);

	p = run_win(NULL, HELPER_ARGS("write", "err", "16777216", "12"), NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	cr_assert_eq(it_pattern_mismatch(p->err_buf, p->err_len, 12, n), -1,
		     "stderr differs (%zu bytes)", p->err_len);
	cr_assert_eq(p->out_len, 0, "stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(windows, stdin_byte_exact_with_eof, .timeout = 180)
{
	const size_t n = 8u << 20;
	unsigned char *data = it_pattern_alloc(5, n);
	char want[64];
	struct sp *p;

	need_wine();
	snprintf(want, sizeof(want), "%zu %016llx\n", n, (unsigned long long)it_fnv1a64(data, n));
	p = run_win(NULL, HELPER_ARGS("hash-stdin"), data, n, NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	p = run_win(NULL, HELPER_ARGS("cat"), data, n, NULL);
	EXPECT_EXIT(p, 0);
	cr_assert_eq(it_pattern_mismatch(p->out_buf, p->out_len, 5, n), -1, "cat differs");
	sp_free(p);
	free(data);
}

Test(windows, output_is_live, .timeout = 180)
{
	const char *argv[] = { NULL, NULL, "run", "--same-user", "--", NULL, "live", NULL };
	struct sp *p;

	need_wine();
	argv[0] = wine;
	argv[1] = sbx_exe;
	argv[5] = helper_exe;
	p = sp_start(&(struct sp_opts){ .argv = argv, .envp = wine_env, .stdin_mode = SP_IN_NULL,
					.timeout_ms = 120000 });
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 60000), "no \"ready\" (%s)", sp_status_str(p));
	cr_assert_not(it_buf_has(p->out_buf, p->out_len, "bye"),
		      "\"ready\" arrived only together with the rest");
	cr_assert_not(sp_has_exited(p), "\"ready\" arrived only after the exit");
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "readybye\n");
	sp_free(p);
}

Test(windows, exit_codes_keep_all_32_bits, .timeout = 180)
{
	static const char *const codes[] = { "0", "1", "3", "255", "256", "0x100", "0xC0000005",
					     "0xC000013A", "0xFFFFFFFF" };
	static const char *const want[] = { "0x00000000", "0x00000001", "0x00000003", "0x000000ff",
					    "0x00000100", "0x00000100", "0xc0000005", "0xc000013a",
					    "0xffffffff" };

	need_wine();
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char line[9000], expect[64];
		struct sp *p;
		/* sbx.exe's own exit code, read by a Windows parent (Wine keeps only
		 * 8 bits for the Unix side). */
		snprintf(line, sizeof(line), "\"Z:%s\" run --same-user -- \"%s\" exit %s", sbx_exe,
			 helper_exe, codes[i]);
		for (char *c = line + 3; *c && c < line + 3 + strlen(sbx_exe); c++)
			if (*c == '/')
				*c = '\\';
		p = run_win(NULL, HELPER_ARGS("spawn", line), NULL, 0, NULL);
		EXPECT_EXIT(p, 0);
		snprintf(expect, sizeof(expect), "exit %s\n", want[i]);
		EXPECT_OUT(p, expect);
		sp_free(p);
	}
}

Test(windows, not_found_127_batch_file_126, .timeout = 180)
{
	char *dir = it_tmpdir(), *bat, wdir[8400];
	struct sp *p;

	need_wine();
	p = run_win(NULL, ARGV("no-such-command-sbx"), NULL, 0, NULL);
	EXPECT_EXIT(p, 127);
	EXPECT_SBX_LINE(p, "no-such-command-sbx: command not found");
	sp_free(p);

	bat = it_keep(it_write_file(dir, "evil.bat", "@echo %1\r\n", 0600));
	(void)bat;
	snprintf(wdir, sizeof(wdir), "Z:%s\\evil.bat", dir);
	p = run_win(NULL, ARGV(wdir, "\"&calc.exe"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "batch files are not run directly");
	sp_free(p);

	/* Found through PATH with PATHEXT, still refused. */
	snprintf(wdir, sizeof(wdir), "PATH=Z:%s", dir);
	p = run_win(ARGV("-e", wdir), ARGV("evil", "x"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "batch files");
	sp_free(p);
}

Test(windows, chdir_and_environment, .timeout = 180)
{
	char *dir = it_tmpdir(), want[4300];
	struct sp *p;

	need_wine();
	p = run_win(ARGV("-C", dir), HELPER_ARGS("cwd"), NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	snprintf(want, sizeof(want), "Z:%s\n", dir);
	for (char *c = want; *c; c++)
		if (*c == '/')
			*c = '\\';
	cr_assert(strcasecmp((char *)p->out_buf, want) == 0 || it_buf_eq(p->out_buf, p->out_len, want),
		  "cwd: got %s, want %s", IT_ESC_OUT(p), want);
	sp_free(p);

	p = run_win(ARGV("-C", "/no/such/dir/sbx"), HELPER_ARGS("cwd"), NULL, 0, NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "cannot change directory");
	sp_free(p);

	p = run_win(ARGV("-e", "SBX_A=caf\xc3\xa9 x", "-e", "SBX_B=1", "-U", "sbx_b"),
		    HELPER_ARGS("env", "SBX_A", "SBX_B"), NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "SBX_A=caf\xc3\xa9 x\nSBX_B is unset\n");
	sp_free(p);
}

Test(windows, sequential_runs, .timeout = 300)
{
	need_wine();
	for (int i = 0; i < 10; i++) {
		struct sp *p = run_win(NULL, HELPER_ARGS("exit", "7"), NULL, 0, NULL);
		EXPECT_EXIT(p, 7);
		sp_free(p);
	}
}

/* sbx-wintest's "SKIP: why\n" as one readable line: the reason alone,
 * since Criterion says [SKIP] itself (leaked). */
static const char *skip_reason(const struct sp *p)
{
	size_t len = p->out_len;
	const char *s = (const char *)p->out_buf;
	char *out;

	if (len >= 6 && memcmp(s, "SKIP: ", 6) == 0) {
		s += 6;
		len -= 6;
	}
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	out = strndup(s, len);
	for (char *c = out; c && *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return out ? out : "sbx-wintest skipped the check";
}

/* Runs one sbx-wintest check (its arguments after the program): exit 0
 * passes, 77 is a skip with a reason. */
static void wintest_args(const char *const *args)
{
	const char *argv[8];
	size_t n = 0;
	struct sp *p;

	need_wine();
	if (access(wintest_exe, R_OK) < 0)
		cr_skip_test("%s is missing (run make win)", wintest_exe);
	argv[n++] = wine;
	argv[n++] = wintest_exe;
	for (; *args && n < 7; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	/* Kept: a skip below leaves the test before sp_free. */
	p = it_keep(sp_run(&(struct sp_opts){ .argv = argv, .envp = wine_env,
					      .stdin_mode = SP_IN_NULL, .timeout_ms = 150000 }));
	if (sp_exited_with(p, 77))
		cr_skip_test("%s", skip_reason(p));
	EXPECT_EXIT(p, 0);
	cr_assert_not(it_buf_has(p->out_buf, p->out_len, "FAIL"), "%s", IT_ESC_OUT(p));
	sp_free(p);
}

static void wintest(const char *check)
{
	wintest_args(ARGV(check));
}

Test(windows, squatted_pipe_name_is_refused, .timeout = 180)
{
	wintest("squat");
}

Test(windows, server_sees_client_pid_and_one_client_only, .timeout = 180)
{
	wintest("foreign");
}

Test(windows, foreign_client_connecting_first_is_refused, .timeout = 180)
{
	char *dir = it_tmpdir(), path[4300];
	struct sp *p;
	long long t0;

	need_wine();
	/* A copy of sbx.exe whose "runner" lets another process connect first,
	 * as a process that learnt the channel's name could. */
	snprintf(path, sizeof(path), "%s/sbx.exe", dir);
	it_copy_file(sbx_exe, path);
	snprintf(path, sizeof(path), "%s/sbx-runner.exe", dir);
	it_copy_file(helper_unix, path);
	snprintf(path, sizeof(path), "%s/sbx.exe", dir);
	t0 = sp_now_ms();
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, path, "run", "--same-user", "--", "cmd", "/c",
						   "echo", "must-not-run"),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 120000 });
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "not the runner");
	cr_assert_not(it_buf_has(p->out_buf, p->out_len, "must-not-run"));
	cr_assert_lt(sp_now_ms() - t0, 60000, "took %lld ms", sp_now_ms() - t0);
	sp_free(p);
}

/* Wine's processes report an elevated token, so a plain `sbx run` takes the
 * already-elevated path (the runner started directly, taking its secret out
 * of sbx.exe by handle, as it does after a UAC prompt); -n changes nothing
 * there.  The options Windows does not have are clear errors. */
Test(windows, elevated_path_without_same_user, .timeout = 180)
{
	struct sp *p;

	need_wine();
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, sbx_exe, "run", "--", helper_exe, "argv", "a b"),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 120000 });
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, it_keep(argv_report(ARGV("a b"))));
	EXPECT_ERR(p, "");
	sp_free(p);
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, sbx_exe, "run", "-n", "--", helper_exe, "exit", "7"),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 120000 });
	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(windows, user_and_via_are_clear_errors, .timeout = 180)
{
	struct sp *p;

	need_wine();
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, sbx_exe, "run", "-u", "someone", "--", helper_exe,
						   "exit", "0"),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 120000 });
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "--user is not supported");
	sp_free(p);
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, sbx_exe, "run", "--via", "gsudo", "--", helper_exe,
						   "exit", "0"),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 120000 });
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "not supported");
	sp_free(p);
}

Test(windows, real_windows_program, .timeout = 180)
{
	struct sp *p;

	need_wine();
	p = run_win(NULL, ARGV("cmd", "/c", "echo hi"), NULL, 0, NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "hi\r\n");
	sp_free(p);
}

Test(windows, timeout_ends_the_job_and_exits_124, .timeout = 180)
{
	char *dir = it_tmpdir(), report[4300];
	long long t0 = sp_now_ms();
	struct sp *p;
	FILE *f;
	char buf[2048] = "";

	need_wine();
	snprintf(report, sizeof(report), "%s/report.json", dir);
	p = run_win(ARGV("--timeout", "1s", "--kill-after", "1s", "--report", report),
		    HELPER_ARGS("sleep", "100000"), NULL, 0, NULL);
	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out after 1s");
	cr_assert_lt(sp_now_ms() - t0, 30000, "took %lld ms", sp_now_ms() - t0);
	f = fopen(report, "r");
	cr_assert_not_null(f, "no report at %s", report);
	(void)!fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	cr_assert(strstr(buf, "\"result\":\t\"timed_out\"") != NULL, "%s", buf);
	cr_assert(strstr(buf, "\"exit_status\":\t124") != NULL, "%s", buf);
	sp_free(p);
}

Test(windows, runner_killed_ends_the_command, .timeout = 180)
{
	const char *argv[] = { NULL, NULL, "run", "--same-user", "--", NULL, "sleep", "100000", NULL };
	struct sp *p;
	long pid = 0, left[4];

	need_wine();
	argv[0] = wine;
	argv[1] = sbx_exe;
	argv[5] = helper_exe;
	p = sp_start(&(struct sp_opts){ .argv = argv, .envp = wine_env, .stdin_mode = SP_IN_NULL,
					.timeout_ms = 120000 });
	/* Wine runs each Windows process as a Unix process: find the runner's,
	 * once it has settled (Wine's loader re-executes itself at start). */
	for (int i = 0; i < 200; i++) {
		long found = proc_newest_with("sbx-runner.exe --server-pid");

		if (found != 0 && found == pid)
			break;
		pid = found;
		sp_pump_for(p, 300);
	}
	cr_assert_gt(pid, 0, "no runner process found");
	sp_pump_for(p, 1000);
	kill((pid_t)pid, SIGKILL);
	sp_wait(p);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "runner exited unexpectedly");
	cr_assert(procs_gone("sbx-testhelper.exe sleep 100000", left, 4, 10000) == 0,
		  "the command outlived its runner (pid %ld)", left[0]);
	sp_free(p);
}

Test(windows, closed_stdout_breaks_the_commands_pipe, .timeout = 180)
{
	const char *argv[] = { NULL, NULL, "run", "--same-user", "--", NULL, "write", "out",
			       "1000000000", "1", NULL };
	long long t0;
	struct sp *p;

	need_wine();
	argv[0] = wine;
	argv[1] = sbx_exe;
	argv[5] = helper_exe;
	p = sp_start(&(struct sp_opts){ .argv = argv, .envp = wine_env, .stdin_mode = SP_IN_NULL,
					.timeout_ms = 120000 });
	while (p->out_len < 10 && !sp_has_exited(p))
		sp_pump_for(p, 20);
	t0 = sp_now_ms();
	sp_close_out(p);
	sp_wait(p);
	/* The helper exits 99 when its WriteFile fails: it saw the broken pipe
	 * instead of writing a gigabyte into nowhere. */
	EXPECT_EXIT(p, 99);
	cr_assert_lt(sp_now_ms() - t0, 10000, "took %lld ms after stdout closed", sp_now_ms() - t0);
	sp_free(p);
}

/* ---- as a real machine runs it ---- */

/* Every spelling Windows normalises to a batch file is refused as one:
 * the decision is taken on the full path of what would run. */
Test(windows, batch_file_spellings_are_refused, .timeout = 300)
{
	static const char *const names[] = { ".\\evil.bat.", ".\\evil.bat ", ".\\evil.bat. .",
					     ".\\EVIL.BAT", ".\\evil.cmd..", "sub\\..\\evil.bat." };
	char *dir = it_tmpdir(), name[8400], sub[4300];
	struct sp *p;

	need_wine();
	it_keep(it_write_file(dir, "evil.bat", "@echo %1\r\n", 0600));
	it_keep(it_write_file(dir, "evil.cmd", "@echo %1\r\n", 0600));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		p = run_win(ARGV("-C", dir), ARGV(names[i], "\"&calc.exe"), NULL, 0, NULL);
		cr_expect(sp_exited_with(p, 126) && it_buf_has(p->err_buf, p->err_len,
							       "batch files are not run directly"),
			  "[%s]: %s, stderr: %s", names[i], sp_status_str(p), IT_ESC_ERR(p));
		sp_free(p);
	}
	/* Absolute, with a trailing dot pair. */
	snprintf(name, sizeof(name), "Z:%s\\evil.bat..", dir);
	p = run_win(NULL, ARGV(name, "x"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "batch files are not run directly");
	sp_free(p);
	/* Through PATH, typed with a trailing dot. */
	snprintf(name, sizeof(name), "PATH=Z:%s", dir);
	p = run_win(ARGV("-e", name), ARGV("evil.bat.", "x"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "batch files are not run directly");
	sp_free(p);
	/* Streams of a file: never run, whatever the file. */
	snprintf(name, sizeof(name), "Z:%s\\evil.bat::$DATA", dir);
	p = run_win(NULL, ARGV(name, "x"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "alternate data stream is not run");
	sp_free(p);
	p = run_win(ARGV("-C", dir), ARGV(".\\evil.exe:stream", "x"), NULL, 0, NULL);
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "alternate data stream is not run");
	sp_free(p);
}

/* sbx.exe run --same-user [OPTS] -- sbx-wintest.exe CHECK [ARG]: the probe's
 * "ok"/"FAIL" lines, and its exit 0. */
static void probe(const char *const *sbx_opts, const char *check, const char *arg)
{
	struct sp *p;

	need_wine();
	if (access(wintest_exe, R_OK) < 0)
		cr_skip_test("%s is missing (run make win)", wintest_exe);
	p = run_win(sbx_opts, arg ? ARGV(wintest_win, check, arg) : ARGV(wintest_win, check), NULL,
		    0, NULL);
	EXPECT_EXIT(p, 0);
	cr_assert_not(it_buf_has(p->out_buf, p->out_len, "FAIL"), "%s", IT_ESC_OUT(p));
	sp_free(p);
}

Test(windows, stdio_pipes_admit_the_user_alone, .timeout = 180)
{
	probe(NULL, "pipe-dacl", NULL);
}

Test(windows, environment_sorted_with_e_entries_in_place, .timeout = 180)
{
	probe(ARGV("-e", "SBX_AAA_EARLY=1", "-e", "a_lower=2"), "env-sorted", "SBX_AAA_EARLY");
}

/* sbx.exe without a console (as here) gives the runner, and so the command,
 * one without a window: console events can reach it, and no window opens. */
Test(windows, command_gets_a_windowless_console, .timeout = 180)
{
	probe(NULL, "console", NULL);
}

Test(windows, ctrl_c_reaches_the_command_once_as_ctrl_c, .timeout = 180)
{
	wintest_args(ARGV("in-console", "ctrlc"));
}

Test(windows, ctrl_c_ends_the_wait_for_the_runner, .timeout = 180)
{
	wintest_args(ARGV("in-console", "accept"));
}

Test(windows, stderr_on_stdouts_pipe_and_one_stream, .timeout = 180)
{
	wintest("stdout-stderr");
}

Test(windows, failed_write_is_reported_by_the_flush, .timeout = 180)
{
	wintest("write-error");
}

Test(windows, large_secret_fails_at_once, .timeout = 180)
{
	wintest("secret");
}

/* Nested jobs work under Wine; the check is for a Windows whose outer job
 * refuses ours (docs/windows.md), run there by test/windows-smoke.sh. */
Test(windows, command_runs_inside_an_outer_job, .timeout = 180)
{
	wintest("nested");
}

/* A program without a console cannot receive the console event: --timeout
 * ends it at once instead of waiting out --kill-after. */
Test(windows, gui_command_is_ended_at_once, .timeout = 180)
{
	char *dir = it_tmpdir(), gui[4300], gui_win[4400];
	long long t0;
	struct sp *p;

	need_wine();
	snprintf(gui, sizeof(gui), "%s/gui-helper.exe", dir);
	snprintf(gui_win, sizeof(gui_win), "Z:%s", gui);
	for (char *c = gui_win; *c; c++)
		if (*c == '/')
			*c = '\\';
	p = sp_run(&(struct sp_opts){ .argv = ARGV(wine, wintest_exe, "gui-copy", helper_exe, gui_win),
				      .envp = wine_env, .stdin_mode = SP_IN_NULL, .timeout_ms = 60000 });
	EXPECT_EXIT(p, 0);
	sp_free(p);
	t0 = sp_now_ms();
	p = run_win(ARGV("--timeout", "1s", "--kill-after", "60s"), ARGV(gui_win, "sleep", "100000"),
		    NULL, 0, NULL);
	EXPECT_EXIT(p, 124);
	cr_assert_lt(sp_now_ms() - t0, 30000, "took %lld ms: the grace was waited out",
		     sp_now_ms() - t0);
	sp_free(p);
}

/* ---------------------------------------------------------- --report */

/* sbx.exe's --report: the exit status it records is the one a Windows
 * parent sees (all 32 bits), and its path is taken as Unicode, never
 * through the ANSI code page. */
static struct lc_json *read_json(const char *path)
{
	size_t len;
	char *text = lc_read_file(path, &len);
	const char *why = "not an object";
	struct lc_json *r;

	cr_assert(text != NULL, "no report at %s: %s", path, strerror(errno));
	r = lc_json_parse(text, len, &why);
	cr_assert(r != NULL && r->t == LC_JOBJ, "the report is not a JSON object (%s):\n%s", why,
		  it_esc(text, len));
	it_keep(text);
	return r;
}

static void expect_int(const struct lc_json *r, const char *key, long long want)
{
	long long got;

	cr_assert(lc_json_int(lc_json_get(r, key), &got), "report: \"%s\" should be an integer, is %s", key,
		  lc_json_type_name(lc_json_get(r, key)));
	cr_assert(got == want, "report: \"%s\" is %lld, expected %lld", key, got, want);
}

Test(windows, report_exit_status_keeps_32_bits, .timeout = 180)
{
	static const struct {
		const char *arg;
		long long code;
	} codes[] = { { "3", 3 }, { "256", 256 }, { "0xC0000005", 0xC0000005LL }, { "0xFFFFFFFF", 0xFFFFFFFFLL } };
	char *dir, *report;

	need_wine();
	dir = it_tmpdir();
	cr_assert(asprintf(&report, "%s/r.json", dir) > 0);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct sp *p = run_win(ARGV("--report", report), HELPER_ARGS("exit", codes[i].arg), NULL, 0, NULL);
		struct lc_json *r;

		/* What Wine hands the Unix side is not sbx.exe's code (the
		 * suite "windows" reads that from a Windows parent); the
		 * report must hold it whole. */
		cr_assert(!p->timed_out && p->reaped, "exit %s: %s", codes[i].arg, sp_status_str(p));
		EXPECT_ERR(p, "");
		r = read_json(report);
		expect_int(r, "exit_status", codes[i].code);
		expect_int(r, "code", codes[i].code);
		sp_free(p);
	}
	free(report);
}

Test(windows, report_path_is_unicode, .timeout = 180)
{
	char *dir, *report;
	struct sp *p;
	struct lc_json *r;

	need_wine();
	dir = it_tmpdir();
	/* Cyrillic, CJK and a character outside the BMP: no ANSI code page
	 * holds them all. */
	cr_assert(asprintf(&report, "%s/отчёт-日本-\xF0\x9F\x93\x8A.json", dir) > 0);
	p = run_win(ARGV("--report", report), HELPER_ARGS("exit", "7"), NULL, 0, NULL);
	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	r = read_json(report);
	expect_int(r, "exit_status", 7);
	cr_assert(strcmp(lc_list_dir(dir), "отчёт-日本-\xF0\x9F\x93\x8A.json\n") == 0, "in the directory:\n%s",
		  lc_list_dir(dir));
	free(report);
	sp_free(p);
}
