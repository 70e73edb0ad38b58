/* Large output moved with splice instead of copied (Linux): byte-exact into
 * pipes, the copy path where splice does not apply, and every way the
 * splice can be cut short (a reader that goes away, a full non-blocking
 * stdout) ending the way the copy path always did. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static const char *find_strace(void)
{
	static const char *const where[] = { "/usr/bin/strace", "/bin/strace", NULL };

	for (size_t i = 0; where[i]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* How many processes in an strace -f log made a splice that moved bytes. */
static int splicing_pids(const char *log)
{
	long pids[16];
	int n = 0;
	const char *line = log;

	while (line && *line) {
		long pid;
		long long moved;
		const char *eq = strstr(line, ") = ");
		const char *nl = strchr(line, '\n');

		if (sscanf(line, "%ld splice(", &pid) == 1 && strstr(line, "splice(") &&
		    eq && (!nl || eq < nl) && sscanf(eq, ") = %lld", &moved) == 1 && moved > 0) {
			int seen = 0;
			for (int i = 0; i < n; i++)
				seen |= pids[i] == pid;
			if (!seen && n < 16)
				pids[n++] = pid;
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

/* 64 MiB into a pipe: byte-exact, and both the runner (command's pipe ->
 * channel) and sbx (channel -> our pipe) moved it with splice. */
Test(splice, stdout_64mib_into_a_pipe_is_spliced, .timeout = 240)
{
	const char *strace = find_strace();
	size_t n = 64 * MIB, len = 0;
	char count[32], *dir, *logpath, *log, *asan;
	struct sp *p;

	if (strace == NULL)
		cr_skip_test("strace is not installed: cannot see which system calls moved the data");
	dir = it_tmpdir();
	cr_assert(asprintf(&logpath, "%s/strace.log", dir) > 0);
	snprintf(count, sizeof count, "%zu", n);
	/* LeakSanitizer cannot work under ptrace: off for the traced run of a
	 * sanitized build (the other tests run it). */
	cr_assert(asprintf(&asan, "ASAN_OPTIONS=%s%sdetect_leaks=0",
			   getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
			   getenv("ASAN_OPTIONS") ? ":" : "") > 0);
	p = sp_run(&(struct sp_opts){
		.envp = it_env((const char *const[]){ asan, NULL }, NULL),
		.argv = ARGV(strace, "-f", "-qq", "-e", "trace=splice", "-o", logpath, SBX, "run",
			     "--same-user", "--", HELPER, "write", "out", count, "4321"),
		.timeout_ms = 200000,
	});
	EXPECT_EXIT(p, 0);
	it_expect_pattern(p->out_buf, p->out_len, 4321, n, "stdout");
	log = it_read_file(logpath, &len);
	cr_assert(log != NULL, "no strace log at %s", logpath);
	cr_assert(splicing_pids(log) >= 2,
		  "expected successful splices in sbx and in sbx-runner; the log has them in %d "
		  "process(es)", splicing_pids(log));
	free(log);
	free(logpath);
	free(asan);
	sp_free(p);
}

/* Into a file sbx copies (a splice needs a pipe on one side): byte-exact. */
Test(splice, stdout_64mib_into_a_file_is_copied, .timeout = 180)
{
	size_t n = 64 * MIB, len = 0;
	char count[32], *path;
	unsigned char *got;
	struct sp *p;

	cr_assert(asprintf(&path, "%s/out", it_tmpdir()) > 0);
	snprintf(count, sizeof count, "%zu", n);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV("/bin/sh", "-c", "exec \"$0\" run --same-user -- \"$1\" write out \"$2\" 99 >\"$3\"",
			     SBX, HELPER, count, path),
		.timeout_ms = 150000,
	});
	EXPECT_EXIT(p, 0);
	got = (unsigned char *)it_read_file(path, &len);
	cr_assert(got != NULL, "no output file");
	it_expect_pattern(got, len, 99, n, "the file");
	free(got);
	free(path);
	sp_free(p);
}

/* Both streams, in chunks of varied sizes interleaved, each into its own
 * pipe: neither loses or swaps a byte when payloads alternate between
 * spliced and copied. */
Test(splice, both_streams_interleaved_byte_exact, .timeout = 240)
{
	size_t n = 64 * MIB;
	char count[32];
	struct sp *p;

	snprintf(count, sizeof count, "%zu", n);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "write", "both", count, "55"),
		.timeout_ms = 200000,
	});
	EXPECT_EXIT(p, 0);
	it_expect_pattern(p->out_buf, p->out_len, 55, n, "stdout");
	it_expect_pattern(p->err_buf, p->err_len, 56, n, "stderr");
	sp_free(p);
}

/* A reader that goes away in the middle of a large stream: the command
 * gets its SIGPIPE as it would have inline, and sbx ends as it did. */
Test(splice, reader_closing_mid_stream_gives_the_command_sigpipe, .timeout = 120)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV("/bin/sh", "-c",
			     "{ \"$0\" run --same-user -- \"$1\" write out 1073741824 5; echo \"st=$?\" >&2; } "
			     "| head -c 3000000 >/dev/null",
			     SBX, HELPER),
		.timeout_ms = 100000,
	});

	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->err_buf, p->err_len, "st=141"),
		  "expected sbx to end as a command killed by SIGPIPE (141), got: %s", IT_ESC_ERR(p));
	sp_free(p);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sbx's stdout a pipe whose description is non-blocking (a caller's
 * choice sbx must live with) and full, because its reader waits: a splice
 * is refused with EAGAIN while the channel holds the payload, and the rest
 * goes the copy path, which holds it until the pipe takes it.  Every byte
 * arrives, in order. */
Test(splice, full_nonblocking_stdout_falls_back_to_copying, .timeout = 120)
{
	size_t n = 32 * MIB, len = 0, cap = n + 1;
	unsigned char *buf = malloc(cap);
	char count[32];
	int fds[2], status;
	long long deadline;
	pid_t pid;

	cr_assert(buf != NULL);
	snprintf(count, sizeof count, "%zu", n);
	cr_assert(pipe2(fds, O_CLOEXEC) == 0);
	cr_assert(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(fds[1], 1);
		execl(SBX, SBX, "run", "--same-user", "--", HELPER, "write", "out", count, "31",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* Let the pipe fill and stay full for a while. */
	usleep(300 * 1000);
	deadline = now_ms() + 100000;
	for (;;) {
		ssize_t r = read(fds[0], buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
		cr_assert(len <= n, "more bytes than written");
		/* A slow reader: the pipe is full most of the time. */
		if ((len / 65536) % 64 == 0)
			usleep(1000);
		cr_assert(now_ms() < deadline, "timed out after %zu bytes", len);
	}
	close(fds[0]);
	cr_assert(waitpid(pid, &status, 0) == pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sbx ended with status 0x%x", status);
	it_expect_pattern(buf, len, 31, n, "stdout");
	free(buf);
}
