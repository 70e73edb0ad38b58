/* Lifecycle: timeouts, signals, dying peers, broken output and --report
 * (issue 4; ARCHITECTURE.md items 5-7: interruption works like inline,
 * nothing outlives the run, it never hangs).
 *
 * Commands that start a process tree print their pids, so each test can
 * check that every one of them is gone afterwards. A "bad runner" is
 * sbx-fakerunner copied as sbx-runner beside a copy of sbx (see the modes in
 * test/helper/sbx-fakerunner.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Two background sleeps and the shell itself, all in the command's process
 * group, all holding the command's stdout. The pids come first, then
 * "ready". A non-interactive shell starts its background jobs with SIGINT
 * and SIGQUIT ignored, so for those signals the sleeps are ended only by
 * sbx cleaning up what the command left behind. */
#define TREE "sleep 100 & echo $!; sleep 100 & echo $!; echo $$; echo ready; wait"

#define MAX_ARGS 64

/* sbx run --same-user OPTS... -- CMD... */
static const char *const *sbx_argv(const char *sbx, const char *const *opts, const char *const *cmd)
{
	const char **v = it_keep(calloc(MAX_ARGS, sizeof *v));
	size_t n = 0;

	cr_assert(v != NULL);
	v[n++] = sbx ? sbx : SBX;
	v[n++] = "run";
	v[n++] = "--same-user";
	for (; opts && *opts; opts++)
		v[n++] = *opts;
	v[n++] = "--";
	for (; *cmd && n < MAX_ARGS - 1; cmd++)
		v[n++] = *cmd;
	v[n] = NULL;
	return v;
}

/* Starts `sh -c script` under sbx and waits for "ready"; stores the pids the
 * script printed before it. */
static struct sp *start_tree(const char *const *opts, const char *script, long *pids, size_t max,
			     size_t *npids)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = sbx_argv(NULL, opts, ARGV("sh", "-c", script)),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 40000,
	});

	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never said ready: %s\nstdout: %s\nstderr: %s",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	*npids = lc_numbers(p->out_buf, p->out_len, pids, max);
	cr_assert(*npids > 0, "no pids on stdout: %s", IT_ESC_OUT(p));
	return p;
}

static void expect_all_gone(const long *pids, size_t n, int ms, const char *what)
{
	long left = lc_survivor(pids, n, ms);

	cr_assert(left == 0, "%s: pid %ld was still running %d ms after sbx ended", what, left, ms);
}

static long long elapsed(const struct sp *p)
{
	return p->end_ms - p->start_ms;
}

/* ------------------------------------------------------------ timeouts */

Test(lifecycle, timeout_ends_the_whole_tree, .timeout = 60)
{
	long pids[8];
	size_t n;
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--timeout", "1s"),
				 ARGV("sh", "-c", "sleep 100 & echo $!; sleep 100 & echo $!; echo $$; wait")),
		.timeout_ms = 30000,
	});

	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out");
	n = lc_numbers(p->out_buf, p->out_len, pids, 8);
	cr_assert(n == 3, "expected 3 pids on stdout, got: %s", IT_ESC_OUT(p));
	/* Not before the timeout; and the tree dies on SIGTERM at once, so
	 * well before the kill-after grace (5 s by default) would matter. */
	cr_assert(elapsed(p) >= 950 && elapsed(p) < 4000, "a 1 s timeout took %lld ms", elapsed(p));
	expect_all_gone(pids, n, 1000, "timeout");
	sp_free(p);
}

Test(lifecycle, timeout_kills_after_the_grace_when_sigterm_is_ignored, .timeout = 60)
{
	long pid = 0;
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--timeout", "1s", "--kill-after", "1s"),
				 /* An ignored signal stays ignored across exec. */
				 ARGV("sh", "-c", "trap '' TERM; echo $$; exec sleep 100")),
		.timeout_ms = 30000,
	});

	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out");
	cr_assert(lc_numbers(p->out_buf, p->out_len, &pid, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	cr_assert(elapsed(p) >= 1950 && elapsed(p) < 5000,
		  "timeout 1s + kill-after 1s took %lld ms (SIGKILL too early, or too late)", elapsed(p));
	expect_all_gone(&pid, 1, 1000, "kill-after");
	sp_free(p);
}

/* coreutils timeout: 124 however the command reacts to SIGTERM. */
Test(lifecycle, timeout_is_124_even_if_the_command_exits_0_on_sigterm, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--timeout", "500ms"),
				 ARGV("sh", "-c", "trap 'exit 0' TERM; echo $$; sleep 100 & wait")),
		.timeout_ms = 30000,
	});
	long pid = 0;

	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out");
	cr_assert(lc_numbers(p->out_buf, p->out_len, &pid, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	expect_all_gone(&pid, 1, 1000, "timeout");
	sp_free(p);
}

Test(lifecycle, timeout_not_reached_keeps_the_status, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--timeout", "30s"), ARGV(HELPER, "exit", "7")),
	});

	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	cr_assert(elapsed(p) < 10000, "took %lld ms", elapsed(p));
	sp_free(p);
}

/* A command blocked on a stdin that never ends must still time out. */
Test(lifecycle, timeout_with_stdin_still_open, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--timeout", "1s"), ARGV(HELPER, "cat")),
		.stdin_mode = SP_IN_OPEN,
		.in = "abc",
		.in_len = 3,
		.timeout_ms = 30000,
	});

	sp_wait(p);
	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out");
	EXPECT_OUT(p, "abc");
	cr_assert(elapsed(p) < 5000, "a 1 s timeout took %lld ms", elapsed(p));
	sp_free(p);
}

Test(lifecycle, duration_forms_are_accepted, .timeout = 120)
{
	/* under_1s: too short to bound a runner's start on a loaded machine,
	 * so --connect-timeout gets 10s instead. */
	static const struct { const char *form; bool under_1s; } forms[] = {
		{ "90", false }, { "90s", false }, { "500ms", true }, { "5m", false },
		{ "1h", false }, { "1.5s", false }, { "0.5", true }, { "2.25m", false },
	};

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		const char *f = forms[i].form;
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = sbx_argv(NULL,
					 ARGV("--timeout", f, "--kill-after", f, "--connect-timeout",
					      forms[i].under_1s ? "10s" : f),
					 ARGV(HELPER, "exit", "0")),
		});

		cr_assert(sp_exited_with(p, 0), "duration \"%s\": %s; stderr: %s", f, sp_status_str(p),
			  IT_ESC_ERR(p));
		cr_assert(p->err_len == 0, "duration \"%s\": stderr: %s", f, IT_ESC_ERR(p));
		sp_free(p);
	}
}

/* NULL if `opt value` is a usage error like the others (125, "sbx: ...",
 * "Try 'sbx run --help'.", nothing on stdout); else what happened. A NULL
 * value means the option is given without its argument. */
static char *usage_error_or_why(const char *opt, const char *value)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = value ? sbx_argv(NULL, ARGV(opt, value), ARGV(HELPER, "exit", "0"))
			      : ARGV(SBX, "run", "--same-user", opt),
		.timeout_ms = 20000,
	});
	char *why = NULL;

	if (!sp_exited_with(p, 125) || p->err_len <= 5 || memcmp(p->err_buf, "sbx: ", 5) != 0 ||
	    !it_buf_has(p->err_buf, p->err_len, "Try 'sbx run --help'.") || p->out_len != 0)
		cr_assert(asprintf(&why, "  %s \"%s\": %s; stdout \"%s\"; stderr \"%s\"\n", opt,
				   value ? value : "(missing)", sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p)) > 0);
	sp_free(p);
	return why;
}

/* Values outside the documented forms ("90", "90s", "500ms", "5m", "1h",
 * decimals) and zero (the first four; --timeout takes zero as "none",
 * tested in test_front.c). Several are what a strtod-based parser would let
 * through (white space, hex, exponents, inf, nan). */
static const char *const bad_durations[] = {
	"0", "0s", "0ms", "0.0", "", "abc", "-1", "-5s", "+5", "1x", "s", "ms", "1.", ".5", "1.2.3",
	"1e3", "0x10", "inf", "nan", " 5", "5 ", "5 s", "1s5", "5sec", "99999999999999999999h",
};

/* Every value is tried, and all that are not refused are listed at once. */
static void bad_values_for(const char *opt)
{
	char *all = strdup(""), *why, *more;

	for (size_t i = strcmp(opt, "--timeout") == 0 ? 4 : 0; i <= sizeof bad_durations / sizeof bad_durations[0]; i++) {
		why = usage_error_or_why(opt, i < sizeof bad_durations / sizeof bad_durations[0] ? bad_durations[i] : NULL);
		if (why) {
			cr_assert(asprintf(&more, "%s%s", all, why) > 0);
			free(all);
			free(why);
			all = more;
		}
	}
	cr_assert(all[0] == '\0', "not refused as usage errors (exit 125, \"Try 'sbx run --help'.\"):\n%s", all);
	free(all);
}

Test(lifecycle, bad_timeout_values_are_usage_errors, .timeout = 120)
{
	bad_values_for("--timeout");
}

Test(lifecycle, bad_connect_timeout_values_are_usage_errors, .timeout = 120)
{
	bad_values_for("--connect-timeout");
}

Test(lifecycle, bad_kill_after_values_are_usage_errors, .timeout = 120)
{
	bad_values_for("--kill-after");
}

/* ------------------------------------------------------------- signals */

/* A signal to sbx reaches the whole tree, and sbx then dies by it, so the
 * caller's shell sees 128+N exactly as if the command had run inline. */
static void interrupt_tree(int sig)
{
	long pids[8];
	size_t n;
	struct sp *p = start_tree(NULL, TREE, pids, 8, &n);
	long long sent;

	cr_assert(n == 3, "expected 3 pids, got: %s", IT_ESC_OUT(p));
	sent = sp_now_ms();
	sp_kill(p, sig);
	sp_wait(p);
	EXPECT_SIGNAL(p, sig);
	cr_assert(p->end_ms - sent < 3000, "sbx took %lld ms to end after signal %d", p->end_ms - sent, sig);
	cr_assert(p->err_len == 0, "stderr: %s", IT_ESC_ERR(p));
	expect_all_gone(pids, n, 2000, strsignal(sig));
	sp_free(p);
}

Test(lifecycle, sigint_ends_the_tree_and_sbx_dies_by_sigint, .timeout = 60)
{
	interrupt_tree(SIGINT);
}

Test(lifecycle, sigterm_ends_the_tree_and_sbx_dies_by_sigterm, .timeout = 60)
{
	interrupt_tree(SIGTERM);
}

Test(lifecycle, sighup_ends_the_tree_and_sbx_dies_by_sighup, .timeout = 60)
{
	interrupt_tree(SIGHUP);
}

Test(lifecycle, sigquit_ends_the_tree_and_sbx_dies_by_sigquit, .timeout = 60)
{
	interrupt_tree(SIGQUIT);
}

/* The shell as the caller sees it: 130 after Ctrl-C. sbx runs in the
 * foreground of a shell, which prints $?; the test signals sbx by pid. */
Test(lifecycle, caller_shell_sees_130_after_sigint, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV("/bin/sh", "-c",
			     "\"$0\" run --same-user -- sh -c 'echo ready; exec sleep 100'; echo \"status $?\"", SBX),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	long kids[4];
	size_t n;

	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never started: %s; stderr: %s",
		  sp_status_str(p), IT_ESC_ERR(p));
	n = it_children(p->pid, kids, 4);
	cr_assert(n == 1, "the shell has %zu children, expected sbx alone", n);
	cr_assert(kill((pid_t)kids[0], SIGINT) == 0, "kill sbx: %s", strerror(errno));
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "ready\nstatus 130\n");
	sp_free(p);
}

/* A second signal is just a second signal (issue 11): each one is delivered
 * once, as itself, and never escalates to SIGKILL.  The command ignores
 * SIGINT, so two of them leave it running; a SIGTERM then ends it. */
Test(lifecycle, second_sigint_is_just_a_second_sigint, .timeout = 60)
{
	long pid = 0;
	size_t n;
	struct sp *p = start_tree(ARGV("--kill-after", "1s"), "trap '' INT; echo $$; echo ready; exec sleep 100",
				  &pid, 1, &n);

	sp_kill(p, SIGINT);
	sp_pump_for(p, 500);
	sp_kill(p, SIGINT);
	/* Longer than --kill-after: an escalation would have happened by now. */
	sp_pump_for(p, 2000);
	cr_assert(!sp_has_exited(p), "sbx ended after two SIGINTs, which the command ignores: %s; stderr: %s",
		  sp_status_str(p), IT_ESC_ERR(p));
	cr_assert(!it_process_gone(pid), "the command ignoring SIGINT died after two of them");
	sp_kill(p, SIGTERM);
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGTERM);
	expect_all_gone(&pid, 1, 1000, "SIGTERM after two SIGINTs");
	sp_free(p);
}

/* A forwarded signal the command ignores no longer arms a SIGKILL countdown
 * (issue 11: only --timeout and a lost channel escalate): the command
 * ignores SIGTERM for twice --kill-after, then finishes on its own. */
Test(lifecycle, ignored_forwarded_sigterm_is_not_followed_by_sigkill, .timeout = 60)
{
	long pid = 0;
	size_t n;
	struct sp *p = start_tree(ARGV("--kill-after", "1s"),
				  "trap '' TERM; echo $$; echo ready; sleep 2; echo survived; exit 3", &pid, 1, &n);
	long long sent = sp_now_ms();

	sp_kill(p, SIGTERM);
	sp_wait(p);
	EXPECT_EXIT(p, 3);
	cr_assert(it_buf_has(p->out_buf, p->out_len, "survived\n"), "stdout: %s", IT_ESC_OUT(p));
	cr_assert(p->end_ms - sent >= 1500, "sbx ended %lld ms after SIGTERM", p->end_ms - sent);
	sp_free(p);
}

/* --------------------------------------------------------- dying peers */

Test(lifecycle, sigkill_to_sbx_leaves_nothing_running, .timeout = 60)
{
	long pids[8];
	size_t n;
	struct sp *p = start_tree(NULL, TREE, pids, 7, &n);
	long runner = lc_runner_of(p->pid);
	long long end;

	cr_assert(runner > 0, "no sbx-runner among sbx's children");
	pids[n++] = runner;
	sp_kill(p, SIGKILL);
	/* Only sbx's exit is waited for: the runner shares our stderr pipe, so
	 * waiting for EOF would wait for the very thing under test. */
	end = sp_now_ms() + 5000;
	while (!sp_has_exited(p) && sp_now_ms() < end)
		sp_pump_for(p, 20);
	cr_assert(sp_killed_by(p, SIGKILL), "sbx: %s", sp_status_str(p));
	expect_all_gone(pids, n, 5000, "sbx killed by SIGKILL (the last pid is the runner)");
	sp_free(p);
}

Test(lifecycle, sigkill_to_runner_gives_125_and_leaves_nothing, .timeout = 60)
{
	long pids[8];
	size_t n;
	struct sp *p = start_tree(NULL, TREE, pids, 8, &n);
	long runner = lc_runner_of(p->pid);
	long long killed;

	cr_assert(runner > 0, "no sbx-runner among sbx's children");
	cr_assert(kill((pid_t)runner, SIGKILL) == 0, "kill runner %ld: %s", runner, strerror(errno));
	killed = sp_now_ms();
	sp_wait(p);
	EXPECT_EXIT(p, 125);
	cr_assert(p->end_ms - killed < 3000, "sbx took %lld ms to notice the runner's death", p->end_ms - killed);
	EXPECT_SBX_LINE(p, "runner exited unexpectedly");
	expect_all_gone(pids, n, 3000, "runner killed");
	sp_free(p);
}

/* ------------------------------------------------------ broken output */

/* `sbx run -- yes | head -1`: the reader goes away, the command gets its
 * broken pipe at once and nothing is left writing. */
Test(lifecycle, closed_stdout_ends_yes_within_a_second, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = sbx_argv(NULL, NULL,
				 ARGV("sh", "-c", "echo $$ >&2; exec \"$0\" yes sigpipe", HELPER)),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 30000,
	});
	long pid = 0;
	long long closed;

	cr_assert(sp_wait_for(p, SP_ERR, "\n", 10000) && sp_wait_for(p, SP_OUT, "y\n", 10000),
		  "yes never started: %s; stderr: %s", sp_status_str(p), IT_ESC_ERR(p));
	cr_assert(lc_numbers(p->err_buf, p->err_len, &pid, 1) == 1, "stderr: %s", IT_ESC_ERR(p));
	sp_close_out(p);
	closed = sp_now_ms();
	sp_wait(p);
	cr_assert(p->end_ms - closed < 1000, "sbx took %lld ms to end after its stdout closed",
		  p->end_ms - closed);
	EXPECT_SIGNAL(p, SIGPIPE);
	expect_all_gone(&pid, 1, 1000, "yes");
	sp_free(p);
}

Test(lifecycle, yes_pipe_head_returns, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV("/bin/sh", "-c", "\"$0\" run --same-user -- \"$1\" yes sigpipe | head -1", SBX, HELPER),
		.timeout_ms = 30000,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "y\n");
	EXPECT_ERR(p, "");
	/* Start-up included, on a loaded machine. */
	cr_assert(elapsed(p) < 3000, "sbx ... | head -1 took %lld ms", elapsed(p));
	sp_free(p);
}

/* The grandchild that keeps stdout open (`sh -c 'sleep 100 & echo done'`)
 * is test_process.c: background_grandchild_does_not_hold_sbx. */

/* -------------------------------------------------------------- report */

/* Reads DIR/report.json, which must be the only file in DIR (the temp file
 * of the atomic write is gone), and parses it. */
static struct lc_json *read_report(const char *dir)
{
	char *path, *text, *names = lc_list_dir(dir);
	size_t len;
	const char *why;
	struct lc_json *r;

	cr_assert(strcmp(names, "report.json\n") == 0, "the report directory should hold report.json only:\n%s",
		  names);
	cr_assert(asprintf(&path, "%s/report.json", dir) > 0);
	it_keep(path);
	text = lc_read_file(path, &len);
	cr_assert(text != NULL, "cannot read %s: %s", path, strerror(errno));
	r = lc_json_parse(text, len, &why);
	cr_assert(r != NULL, "the report is not valid JSON (%s):\n%s", why, it_esc(text, len));
	cr_assert(r->t == LC_JOBJ, "the report is a JSON %s, not an object", lc_json_type_name(r));
	return r;
}

static void expect_int(const struct lc_json *r, const char *key, long long want)
{
	long long got;

	cr_assert(lc_json_int(lc_json_get(r, key), &got), "report: \"%s\" should be an integer, is %s", key,
		  lc_json_type_name(lc_json_get(r, key)));
	cr_assert(got == want, "report: \"%s\" is %lld, expected %lld", key, got, want);
}

static void expect_null(const struct lc_json *r, const char *key)
{
	const struct lc_json *v = lc_json_get(r, key);

	cr_assert(v && v->t == LC_JNULL, "report: \"%s\" should be null, is %s%s%s", key, lc_json_type_name(v),
		  v && v->t == LC_JSTR ? ": " : "", v && v->t == LC_JSTR ? v->str : "");
}

static void expect_str(const struct lc_json *r, const char *key, const char *want)
{
	const struct lc_json *v = lc_json_get(r, key);

	cr_assert(v && v->t == LC_JSTR, "report: \"%s\" should be a string, is %s", key, lc_json_type_name(v));
	cr_assert(strcmp(v->str, want) == 0, "report: \"%s\" is \"%s\", expected \"%s\"", key, v->str, want);
}

static void expect_bool(const struct lc_json *r, const char *key, bool want)
{
	const struct lc_json *v = lc_json_get(r, key);

	cr_assert(v && (v->t == LC_JTRUE || v->t == LC_JFALSE), "report: \"%s\" should be a boolean, is %s", key,
		  lc_json_type_name(v));
	cr_assert((v->t == LC_JTRUE) == want, "report: \"%s\" is %s", key, v->t == LC_JTRUE ? "true" : "false");
}

/* What every report has: the version, a plausible duration, and the byte
 * counts matching what we saw. stderr_bytes is what the command wrote
 * (sbx's own "sbx:" line is not relayed, so not counted). */
static void expect_common(const struct lc_json *r, const struct sp *p, long long stdin_bytes,
			  long long stderr_bytes)
{
	const struct lc_json *bytes = lc_json_get(r, "bytes");
	long long ms;

	expect_str(r, "sbx_version", SBX_VERSION);
	cr_assert(lc_json_int(lc_json_get(r, "duration_ms"), &ms), "report: duration_ms is %s",
		  lc_json_type_name(lc_json_get(r, "duration_ms")));
	cr_assert(ms >= 0 && ms <= p->end_ms - p->start_ms + 50, "report: duration_ms %lld, but sbx ran %lld ms", ms,
		  p->end_ms - p->start_ms);
	cr_assert(bytes && bytes->t == LC_JOBJ, "report: \"bytes\" should be an object, is %s",
		  lc_json_type_name(bytes));
	expect_int(bytes, "stdout", (long long)p->out_len);
	expect_int(bytes, "stderr", stderr_bytes);
	expect_int(bytes, "stdin", stdin_bytes);
}

/* "error" is sbx's own stderr line without "sbx: " and the newline. */
static void expect_error_is_sbx_line(const struct lc_json *r, const struct sp *p)
{
	char *line;

	cr_assert(p->err_len > 6 && memcmp(p->err_buf, "sbx: ", 5) == 0, "stderr: %s", IT_ESC_ERR(p));
	line = strndup((const char *)p->err_buf + 5, p->err_len - 6);
	expect_str(r, "error", line);
	free(line);
}

Test(lifecycle, report_for_a_normal_exit, .timeout = 60)
{
	char *dir = it_tmpdir(), *report;
	struct sp *p;
	struct lc_json *r;
	long pid = 0;

	cr_assert(asprintf(&report, "%s/report.json", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--report", report),
				 ARGV("sh", "-c", "cat >/dev/null; printf %s $$; printf de >&2; exit 3")),
		.in = "hello",
		.in_len = 5,
	});
	EXPECT_EXIT(p, 3);
	EXPECT_ERR(p, "de");
	cr_assert(lc_numbers(p->out_buf, p->out_len, &pid, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	r = read_report(dir);
	expect_int(r, "exit_status", 3);
	expect_str(r, "result", "exited");
	expect_int(r, "code", 3);
	expect_null(r, "signal");
	expect_null(r, "signal_name");
	expect_bool(r, "timed_out", false);
	expect_int(r, "pid", pid);
	expect_null(r, "error");
	expect_common(r, p, 5, 2);
	sp_free(p);
}

Test(lifecycle, report_for_a_signal_death, .timeout = 60)
{
	char *dir = it_tmpdir(), *report;
	struct sp *p;
	struct lc_json *r;
	long pid = 0;

	cr_assert(asprintf(&report, "%s/report.json", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--report", report),
				 ARGV("sh", "-c", "echo $$; exec \"$0\" kill 15", HELPER)),
		.stdin_mode = SP_IN_NULL,
	});
	/* sbx re-raises the signal, so the report must be written before. */
	EXPECT_SIGNAL(p, SIGTERM);
	cr_assert(lc_numbers(p->out_buf, p->out_len, &pid, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	r = read_report(dir);
	expect_int(r, "exit_status", 128 + SIGTERM);
	expect_str(r, "result", "signaled");
	expect_null(r, "code");
	expect_int(r, "signal", SIGTERM);
	expect_str(r, "signal_name", "TERM");
	expect_bool(r, "timed_out", false);
	expect_int(r, "pid", pid);
	expect_null(r, "error");
	expect_common(r, p, 0, 0);
	sp_free(p);
}

Test(lifecycle, report_for_a_timeout, .timeout = 60)
{
	char *dir = it_tmpdir(), *report;
	struct sp *p;
	struct lc_json *r;
	long pid = 0;
	long long ms;

	cr_assert(asprintf(&report, "%s/report.json", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--report", report, "--timeout", "500ms"),
				 ARGV("sh", "-c", "echo $$; exec \"$0\" sleep 100000", HELPER)),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 30000,
	});
	EXPECT_EXIT(p, 124);
	EXPECT_SBX_LINE(p, "timed out");
	cr_assert(lc_numbers(p->out_buf, p->out_len, &pid, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	r = read_report(dir);
	expect_int(r, "exit_status", 124);
	expect_str(r, "result", "timed_out");
	expect_bool(r, "timed_out", true);
	expect_null(r, "code");
	/* The helper dies of the SIGTERM the timeout sends. */
	expect_int(r, "signal", SIGTERM);
	expect_str(r, "signal_name", "TERM");
	expect_int(r, "pid", pid);
	expect_error_is_sbx_line(r, p);
	expect_common(r, p, 0, 0);
	cr_assert(lc_json_int(lc_json_get(r, "duration_ms"), &ms) && ms >= 490,
		  "report: duration_ms %lld for a 500 ms timeout", ms);
	sp_free(p);
}

Test(lifecycle, report_for_a_command_not_found, .timeout = 60)
{
	char *dir = it_tmpdir(), *report;
	struct sp *p;
	struct lc_json *r;

	cr_assert(asprintf(&report, "%s/report.json", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(NULL, ARGV("--report", report), ARGV("sbx-no-such-command-7f3a")),
		.envp = it_env(ARGV("PATH=/usr/local/bin:/usr/bin:/bin"), NULL),
	});
	EXPECT_EXIT(p, 127);
	EXPECT_SBX_LINE(p, "sbx-no-such-command-7f3a");
	r = read_report(dir);
	expect_int(r, "exit_status", 127);
	expect_str(r, "result", "spawn_failed");
	expect_null(r, "code");
	expect_null(r, "signal");
	expect_null(r, "signal_name");
	expect_bool(r, "timed_out", false);
	expect_null(r, "pid");
	expect_error_is_sbx_line(r, p);
	expect_common(r, p, 0, 0);
	sp_free(p);
}

/* ----------------------------------------------------- bad runners */


static char *fake_log(const char *dir)
{
	char *path, *log;

	cr_assert(asprintf(&path, "%s/fake-log", dir) > 0);
	log = lc_read_file(path, NULL);
	free(path);
	return it_keep(log ? log : strdup("(no fake-log)"));
}

static long fake_pid(const char *dir)
{
	char *path, *text;
	long pid = 0;

	cr_assert(asprintf(&path, "%s/fake-runner.pid", dir) > 0);
	text = lc_read_file(path, NULL);
	if (text)
		pid = strtol(text, NULL, 10);
	free(text);
	free(path);
	return pid;
}

#define CONNECT_TIMEOUT_MS 2000

/* sbx with a bad runner: 125, one "sbx:" line naming one of `reasons`,
 * within the connect timeout + 3 s, and the fake runner gone soon after.
 * `did` is what the fake logs once it has misbehaved: without it the test
 * would pass for the wrong reason. stdin stays open, so sbx cannot lean on
 * its EOF. */
static void bad_runner(const char *mode, const char *did, const char *const *reasons, const char *want_out)
{
	char *dir = it_tmpdir();
	char *sbx = lc_sbx_with_fakerunner(dir, mode), *log;
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = sbx_argv(sbx, ARGV("--connect-timeout", "2s"), ARGV(HELPER, "exit", "0")),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	bool named = false;
	long pid;

	sp_wait(p);
	log = fake_log(dir);
	pid = fake_pid(dir);
	cr_assert(pid > 0, "%s: the fake runner never started; log:\n%s\nstderr: %s", mode, log, IT_ESC_ERR(p));
	cr_assert(strstr(log, did) != NULL, "%s: the fake runner never got to \"%s\"; log:\n%s\nsbx: %s; stderr: %s",
		  mode, did, log, sp_status_str(p), IT_ESC_ERR(p));
	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125 within %d ms, got %s\nstderr: %s\nfake log:\n%s",
		  mode, CONNECT_TIMEOUT_MS + 3000, sp_status_str(p), IT_ESC_ERR(p), log);
	cr_assert(elapsed(p) < CONNECT_TIMEOUT_MS + 3000, "%s: sbx took %lld ms (bound %d)\nstderr: %s", mode,
		  elapsed(p), CONNECT_TIMEOUT_MS + 3000, IT_ESC_ERR(p));
	EXPECT_SBX_LINE(p, "");
	EXPECT_OUT(p, want_out);
	for (const char *const *r = reasons; *r && !named; r++)
		named = it_buf_has(p->err_buf, p->err_len, *r);
	cr_expect(named, "%s: the message should say \"%s\"%s: %s", mode, reasons[0],
		  reasons[1] ? " (or similar)" : "", IT_ESC_ERR(p));
	cr_assert(lc_survivor(&pid, 1, 3000) == 0, "%s: the fake runner (pid %ld) outlived sbx by 3 s", mode, pid);
	sp_free(p);
}

#define BAD_RUNNER(mode, did, ...) bad_runner(mode, did, ARGV(__VA_ARGS__), "")

Test(bad_runner, silent_never_connects, .timeout = 60)
{
	BAD_RUNNER("silent-never-connect", "wedged", "runner did not connect");
}

Test(bad_runner, connects_then_silent, .timeout = 60)
{
	BAD_RUNNER("connect-then-silent", "wedged", "runner did not");
}

/* A runner silent after the handshake has the spawn request: the command
 * may be running, so sbx waits for the answer without a bound and ends only
 * on a signal (relay.wedged_runner_still_yields_to_a_signal). */

Test(bad_runner, garbage, .timeout = 60)
{
	BAD_RUNNER("garbage", "bytes of garbage", "protocol error");
}

Test(bad_runner, hello_not_json, .timeout = 60)
{
	BAD_RUNNER("bad-hello-json", "sent type 0x01", "protocol error");
}

Test(bad_runner, oversize_frame, .timeout = 60)
{
	BAD_RUNNER("oversize", "sent type 0x03 len 2147483647", "protocol error");
}

Test(bad_runner, truncated_frame, .timeout = 60)
{
	BAD_RUNNER("truncated", "exiting in the middle of a frame", "runner exited unexpectedly", "protocol error");
}

Test(bad_runner, wrong_nonce, .timeout = 60)
{
	BAD_RUNNER("wrong-nonce", "sent type 0x01", "nonce");
}

Test(bad_runner, wrong_version, .timeout = 60)
{
	BAD_RUNNER("wrong-version", "sent type 0x01", "version");
}

Test(bad_runner, exit_before_spawned, .timeout = 60)
{
	BAD_RUNNER("exit-before-spawned", "sent type 0x05", "protocol error");
}

Test(bad_runner, data_before_spawned, .timeout = 60)
{
	/* EXPECT_OUT(""): nothing of a command that never started is relayed. */
	BAD_RUNNER("data-before-spawned", "sent type 0x11", "protocol error");
}

Test(bad_runner, two_hellos, .timeout = 60)
{
	BAD_RUNNER("two-hellos", "got type 0x02", "protocol error");
}

Test(bad_runner, unknown_frame_type, .timeout = 60)
{
	/* 0x08 is the resize frame since protocol 2, 0x0b the spawn part
	 * since 3: the fake sends 0x0c. */
	BAD_RUNNER("unknown-type", "sent type 0x0c", "protocol error");
}

/* The frame rules (src/rules.c): nothing of the command's streams before
 * spawned, and no data on a stream after its close. */
Test(bad_runner, close_before_spawned, .timeout = 60)
{
	BAD_RUNNER("close-before-spawned", "sent type 0x21", "protocol error");
}

Test(bad_runner, stdin_ack_before_spawned, .timeout = 60)
{
	BAD_RUNNER("ack-before-spawned", "sent type 0x30", "protocol error");
}

Test(bad_runner, data_after_its_close, .timeout = 60)
{
	BAD_RUNNER("data-after-close", "sent type 0x11", "protocol error");
}

Test(bad_runner, exits_right_after_hello, .timeout = 60)
{
	BAD_RUNNER("exit-at-once-after-hello", "exiting right after hello", "runner exited unexpectedly");
}

Test(bad_runner, closes_mid_run, .timeout = 60)
{
	/* Output sent before the runner died is the command's: it is relayed. */
	bad_runner("spawned-then-close", "exiting mid-run", ARGV("runner exited unexpectedly"), "partial\n");
}

Test(bad_runner, garbage_after_spawned, .timeout = 60)
{
	BAD_RUNNER("garbage-after-spawned", "bytes of garbage", "protocol error");
}

Test(bad_runner, stdin_ack_for_more_than_was_sent, .timeout = 60)
{
	BAD_RUNNER("ack-overflow", "sent type 0x30", "protocol error");
}

/* The report is written when sbx itself fails, too. */
Test(bad_runner, report_when_the_runner_fails, .timeout = 60)
{
	char *dir = it_tmpdir(), *rdir = it_tmpdir(), *report;
	struct sp *p;
	struct lc_json *r;

	cr_assert(asprintf(&report, "%s/report.json", rdir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = sbx_argv(lc_sbx_with_fakerunner(dir, "garbage"), ARGV("--connect-timeout", "2s", "--report", report),
				 ARGV(HELPER, "exit", "0")),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 30000,
	});
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "");
	r = read_report(rdir);
	expect_int(r, "exit_status", 125);
	expect_str(r, "result", "failed");
	expect_null(r, "code");
	expect_null(r, "signal");
	expect_null(r, "signal_name");
	expect_bool(r, "timed_out", false);
	expect_null(r, "pid");
	expect_error_is_sbx_line(r, p);
	expect_common(r, p, 0, 0);
	sp_free(p);
}

/* nohup's promise: a signal ignored when sbx starts stays ignored by sbx,
 * so it is not forwarded either. */
Test(lifecycle, signal_ignored_on_entry_is_not_forwarded, .timeout = 60)
{
	static const int ign[] = { SIGHUP, 0 };
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "sleep", "1500"),
		.ignore = ign,
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 30000,
	});

	sp_pump_for(p, 400);
	sp_kill(p, SIGHUP);
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	sp_free(p);
}
