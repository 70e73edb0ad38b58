/* A runner that fails, never connects or dies must become a clear 125
 * within a bounded time (ARCHITECTURE.md: "It never hangs"). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A copy of sbx in a fresh directory with `runner_script` as its
 * sbx-runner; returns the copy's path. */
static char *sbx_with_fake_runner(const char *dir, const char *runner_script)
{
	char *path;

	cr_assert(asprintf(&path, "%s/sbx", dir) > 0);
	it_keep(path);
	it_copy_file(SBX, path);
	free(it_write_file(dir, "sbx-runner", runner_script, 0755));
	return path;
}

static long read_pid_file(const char *dir)
{
	char *path, buf[32] = "";
	FILE *f;
	long pid = 0;

	cr_assert(asprintf(&path, "%s/runner.pid", dir) > 0);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof buf, f))
			pid = strtol(buf, NULL, 10);
		fclose(f);
	}
	free(path);
	return pid;
}

Test(runner, runner_exits_at_once, .timeout = 60)
{
	char *dir = it_tmpdir();
	char *sbx = sbx_with_fake_runner(dir, "#!/bin/sh\nexit 0\n");
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.timeout_ms = 40000,
	});

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "");
	EXPECT_OUT(p, "");
	cr_assert(p->end_ms - p->start_ms < 10000, "sbx took %lld ms to notice", p->end_ms - p->start_ms);
	sp_free(p);
}

Test(runner, runner_never_connects, .timeout = 90)
{
	char *dir = it_tmpdir(), *script;
	long runner;
	bool gone;
	struct sp *p;

	cr_assert(asprintf(&script, "#!/bin/sh\necho $$ > '%s/runner.pid'\nexec sleep 300\n", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx_with_fake_runner(dir, script), "run", "--same-user", "--", HELPER, "exit", "0"),
		.timeout_ms = 60000,
	});
	runner = read_pid_file(dir);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "");
	cr_assert(runner > 0, "the fake runner never started");
	gone = it_wait_gone(runner, 2000);
	if (!gone)
		kill((pid_t)runner, SIGKILL);
	cr_assert(gone, "the runner that never connected (pid %ld) outlived sbx", runner);
	sp_free(p);
	free(script);
}

Test(runner, runner_killed_mid_run, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "live", "out"),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 40000,
	});
	long kids[8];
	size_t n;

	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never started: %s", sp_status_str(p));
	n = it_children(p->pid, kids, 8);
	if (n != 1)
		cr_skip_test("sbx has %zu child processes, expected exactly the runner", n);
	cr_assert(kill((pid_t)kids[0], SIGKILL) == 0, "kill runner %ld: %s", kids[0], strerror(errno));
	sp_wait(p);
	EXPECT_EXIT(p, 125);
	cr_assert(p->err_len > 5 && memcmp(p->err_buf, "sbx: ", 5) == 0 &&
			  it_count_lines(p->err_buf, p->err_len) == 1,
		  "stderr should be one line \"sbx: ...\", got \"%s\"", IT_ESC_ERR(p));
	sp_free(p);
}
