/* The command's process: descriptors, process group, signal state, what is
 * left behind, and repeated runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Test(process, only_stdio_descriptors)
{
	struct sp *p = RUN_HELPER("fds");

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_eq(p->out_buf, p->out_len, "fd 0\nfd 1\nfd 2\n"),
		  "the command sees descriptors besides 0, 1, 2: %s\n%s", IT_ESC_OUT(p), IT_ESC_ERR(p));
	sp_free(p);
}

/* A caller that forgot FD_CLOEXEC must not hand its descriptors to the
 * command through sbx. */
Test(process, descriptors_leaked_into_sbx_do_not_reach_the_command)
{
	static const int leak[] = { 3, 9, 200, -1 };
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "fds"),
		.leak_fds = leak,
	});

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_eq(p->out_buf, p->out_len, "fd 0\nfd 1\nfd 2\n"),
		  "the command sees descriptors besides 0, 1, 2: %s\n%s", IT_ESC_OUT(p), IT_ESC_ERR(p));
	sp_free(p);
}

Test(process, only_stdio_descriptors_with_null_stdin)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "fds"),
		.stdin_mode = SP_IN_NULL,
	});

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_eq(p->out_buf, p->out_len, "fd 0\nfd 1\nfd 2\n"), "%s\n%s", IT_ESC_OUT(p),
		  IT_ESC_ERR(p));
	sp_free(p);
}

/* With a standard descriptor closed, the next descriptor sbx opens takes
 * its number; sbx must not then mistake its own channel for stdio. */
Test(process, sbx_started_with_closed_stdio)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "argv", "x"),
		.closed_std = 1u << 0 | 1u << 2,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "argc 1\n1:78\n");
	sp_free(p);

	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "exit", "3"),
		.closed_std = 1u << 0 | 1u << 1 | 1u << 2,
	});
	EXPECT_EXIT(p, 3);
	sp_free(p);

	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sbx-no-such-command-7f3a"),
		.envp = it_env(ARGV("PATH=/usr/local/bin:/usr/bin:/bin"), NULL),
		.closed_std = 1u << 2,
	});
	EXPECT_EXIT(p, 127);
	EXPECT_OUT(p, "");
	sp_free(p);
}

Test(process, command_has_its_own_process_group)
{
	struct sp *p = RUN_HELPER("pgid");
	long pid = -1, pgid = -2;

	EXPECT_EXIT(p, 0);
	cr_assert(sscanf(it_keep(strndup((const char *)p->out_buf, p->out_len)), "pid %ld pgid %ld", &pid, &pgid) == 2,
		  "stdout: %s", IT_ESC_OUT(p));
	cr_assert_eq(pid, pgid, "pid %ld is in process group %ld", pid, pgid);
	cr_assert_neq(pid, (long)p->pid, "the command is sbx itself?");
	sp_free(p);
}

Test(process, signal_state_is_clean)
{
	struct sp *p = RUN_HELPER("sigs");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "blocked:\nignored:\n");
	sp_free(p);
}

/* Per the runner's spawn rules the command starts with default dispositions
 * and an empty mask, whatever sbx itself inherited. */
Test(process, signal_state_is_reset_even_if_sbx_inherited_ignores)
{
	static const int ign[] = { SIGINT, SIGQUIT, SIGPIPE, SIGHUP, 0 };
	static const int blk[] = { SIGUSR1, SIGCHLD, 0 };
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "sigs"),
		.ignore = ign,
		.block = blk,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "blocked:\nignored:\n");
	sp_free(p);
}

Test(process, background_grandchild_does_not_hold_sbx, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", "sleep 100 & echo done"),
		.timeout_ms = 30000,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "done\n");
	cr_assert(p->end_ms - p->start_ms < 10000, "sbx took %lld ms", p->end_ms - p->start_ms);
	sp_free(p);
}

Test(process, leftover_processes_are_killed, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c",
			     "sleep 100 >/dev/null 2>&1 </dev/null & echo $!"),
		.timeout_ms = 30000,
	});
	long bg = 0;
	bool gone;

	EXPECT_EXIT(p, 0);
	cr_assert(sscanf(it_keep(strndup((const char *)p->out_buf, p->out_len)), "%ld", &bg) == 1 && bg > 1,
		  "stdout: %s", IT_ESC_OUT(p));
	/* The kill may land a moment after sbx returns; give it 2 s. */
	gone = it_wait_gone(bg, 2000);
	if (!gone)
		kill((pid_t)bg, SIGKILL);
	cr_assert(gone, "background process %ld survived the run", bg);
	sp_free(p);
}

Test(process, hundred_sequential_runs, .timeout = 240)
{
	for (int i = 0; i < 100; i++) {
		char arg[32], want[96], code[16];
		struct sp *p;
		static const char hex[] = "0123456789abcdef";
		size_t n;

		if (i % 2 == 0) {
			snprintf(arg, sizeof arg, "run-%d", i);
			n = (size_t)snprintf(want, sizeof want, "argc 1\n%zu:", strlen(arg));
			for (size_t j = 0; arg[j]; j++) {
				want[n++] = hex[(unsigned char)arg[j] >> 4];
				want[n++] = hex[(unsigned char)arg[j] & 15];
			}
			want[n++] = '\n';
			want[n] = '\0';
			p = RUN_HELPER("argv", arg);
			cr_assert(sp_exited_with(p, 0), "run %d: %s; stderr: %s", i, sp_status_str(p), IT_ESC_ERR(p));
			cr_assert(it_buf_eq(p->out_buf, p->out_len, want), "run %d: stdout %s", i, IT_ESC_OUT(p));
		} else {
			snprintf(code, sizeof code, "%d", i);
			p = RUN_HELPER("exit", code);
			cr_assert(sp_exited_with(p, i), "run %d: %s; stderr: %s", i, sp_status_str(p), IT_ESC_ERR(p));
		}
		cr_assert(p->err_len == 0, "run %d: stderr %s", i, IT_ESC_ERR(p));
		sp_free(p);
	}
}

/* ARCHITECTURE.md, "Interruption works like inline": a signal sent to sbx
 * reaches the command, and sbx then ends the way the command did. */
static void interrupt(int sig)
{
	char *script;
	struct sp *p;
	long child = 0;
	bool gone;

	cr_assert(asprintf(&script, "echo $$; exec '%s' live out", HELPER) > 0);
	p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", script),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "signal %d: the command never started: %s; %s",
		  sig, IT_ESC_OUT(p), sp_status_str(p));
	cr_assert(sscanf(it_keep(strndup((const char *)p->out_buf, p->out_len)), "%ld", &child) == 1 && child > 1,
		  "stdout: %s", IT_ESC_OUT(p));
	sp_kill(p, sig);
	sp_wait(p);
	EXPECT_SIGNAL(p, sig);
	gone = it_wait_gone(child, 2000);
	if (!gone)
		kill((pid_t)child, SIGKILL);
	cr_assert(gone, "signal %d: the command (pid %ld) survived sbx", sig, child);
	sp_free(p);
	free(script);
}

Test(process, sigterm_to_sbx_reaches_the_command, .timeout = 60)
{
	interrupt(SIGTERM);
}

Test(process, sigint_to_sbx_reaches_the_command, .timeout = 60)
{
	interrupt(SIGINT);
}

Test(process, sighup_to_sbx_reaches_the_command, .timeout = 60)
{
	interrupt(SIGHUP);
}

/* A file without #! runs with /bin/sh, which the runner gives the file's
 * path and then every argument: the vector is built before the command's
 * process starts, as long as the argument list, empty strings included. */
Test(process, script_without_shebang_gets_every_argument, .timeout = 60)
{
	enum { N = 3000 };
	const char **argv = calloc(N + 6, sizeof(*argv));
	char *dir = it_tmpdir(), *script, *want;
	size_t n = 0, len = 0;
	struct sp *p;

	cr_assert(argv != NULL);
	free(it_write_file(dir, "noshebang", "printf '%s|' \"$#\" \"$@\"\n", 0755));
	cr_assert(asprintf(&script, "%s/noshebang", dir) > 0);
	argv[n++] = SBX;
	argv[n++] = "run";
	argv[n++] = "--same-user";
	argv[n++] = "--";
	argv[n++] = script;
	want = malloc(16 + (size_t)N * 8);
	cr_assert(want != NULL);
	len += (size_t)sprintf(want, "%d|", N);
	for (int i = 0; i < N; i++) {
		/* Every 7th argument empty, the others their index. */
		char *a;
		cr_assert(asprintf(&a, "%d", i) > 0);
		if (i % 7 == 0)
			a[0] = '\0';
		argv[n++] = it_keep(a);
		len += (size_t)sprintf(want + len, "%s|", a);
	}
	argv[n] = NULL;
	p = sp_run(&(struct sp_opts){ .argv = argv, .timeout_ms = 30000 });
	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_eq(p->out_buf, p->out_len, want), "the script saw other arguments: %s",
		  IT_ESC_OUT(p));
	sp_free(p);
	free(want);
	free(script);
	free(argv);
}
