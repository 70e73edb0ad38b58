/* The exit status is the command's; sbx's own failures use 125/126/127 with
 * one `sbx:` line; a signal death looks like that signal to the caller. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

Test(exit, command_status_passes_through)
{
	static const char *const codes[] = { "0", "1", "3", "124", "125", "126", "127", "128", "255" };

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct sp *p = RUN_HELPER("exit", codes[i]);

		EXPECT_EXIT(p, atoi(codes[i]));
		EXPECT_OUT(p, "");
		EXPECT_ERR(p, "");
		sp_free(p);
	}
}

Test(exit, command_not_found_127)
{
	/* A clean PATH: an unsearchable directory in it (a root PATH seen by
	 * another user) turns "not found" into EACCES, as it does for execvp. */
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sbx-no-such-command-7f3a"),
		.envp = it_env(ARGV("PATH=/usr/local/bin:/usr/bin:/bin"), NULL),
	});

	EXPECT_EXIT(p, 127);
	EXPECT_ERR(p, "sbx: sbx-no-such-command-7f3a: command not found\n");
	EXPECT_OUT(p, "");
	sp_free(p);
}

Test(exit, missing_path_127)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "/nonexistent-sbx-dir/cmd"),
	});

	EXPECT_EXIT(p, 127);
	EXPECT_SBX_LINE(p, "/nonexistent-sbx-dir/cmd");
	EXPECT_OUT(p, "");
	sp_free(p);
}

/* Lookup uses the PATH the command will get, after -e. */
Test(exit, lookup_uses_the_commands_path_127)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "-e", "PATH=/nonexistent-sbx-dir", "--", "sh", "-c", "exit 0"),
	});

	EXPECT_EXIT(p, 127);
	EXPECT_ERR(p, "sbx: sh: command not found\n");
	sp_free(p);
}

Test(exit, not_executable_file_126)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "--", "/etc/passwd") });

	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "/etc/passwd: ");
	cr_assert(memcmp(p->err_buf, "sbx: /etc/passwd: ", 18) == 0, "stderr: %s", IT_ESC_ERR(p));
	EXPECT_OUT(p, "");
	sp_free(p);
}

Test(exit, directory_126)
{
	char *dir = it_tmpdir();
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "--", dir) });

	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, dir);
	EXPECT_OUT(p, "");
	sp_free(p);
}

Test(exit, not_executable_in_path_126)
{
	char *dir = it_tmpdir(), *path;
	struct sp *p;

	free(it_write_file(dir, "sbx-noexec", "#!/bin/sh\necho should not run\n", 0644));
	cr_assert(asprintf(&path, "PATH=%s", dir) > 0);
	it_keep(path);
	p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "-e", path, "--", "sbx-noexec") });
	EXPECT_EXIT(p, 126);
	EXPECT_SBX_LINE(p, "sbx-noexec");
	EXPECT_OUT(p, "");
	sp_free(p);
}

static void expect_signal_death(int sig)
{
	char num[16];
	struct sp *p;

	snprintf(num, sizeof num, "%d", sig);
	p = RUN_HELPER("kill", num);
	EXPECT_SIGNAL(p, sig);
	cr_expect(!WCOREDUMP(p->status), "signal %d: sbx dumped core", sig);
	/* Inline, a signal death prints nothing; the caller's shell reports it. */
	cr_expect(p->err_len == 0, "signal %d: stderr should be empty, got \"%s\"", sig, IT_ESC_ERR(p));
	sp_free(p);
}

Test(exit, sigterm_death_kills_sbx_by_sigterm)
{
	expect_signal_death(SIGTERM);
}

Test(exit, other_signal_deaths, .timeout = 60)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGQUIT,
				    SIGABRT, SIGSEGV };

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		expect_signal_death(sigs[i]);
}

Test(exit, shell_killing_itself_with_sigterm)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", "kill -TERM $$"),
	});

	EXPECT_SIGNAL(p, SIGTERM);
	sp_free(p);
}

/* What a user at a shell sees: $? is 143. */
Test(exit, caller_shell_sees_143)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV("/bin/sh", "-c", "\"$0\" run --same-user -- sh -c 'kill -TERM $$'; echo \"status $?\"", SBX),
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "status 143\n");
	sp_free(p);
}
