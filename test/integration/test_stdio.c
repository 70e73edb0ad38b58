/* stdin, stdout and stderr: byte-exact, separate, live, EOF and broken
 * pipes passed through. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define MIB (1024u * 1024u)

static void big_stream(const char *stream, bool to_err)
{
	size_t n = 64 * MIB;
	char count[32];
	struct sp *p;

	snprintf(count, sizeof count, "%zu", n);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "write", stream, count, "1234"),
		.timeout_ms = 150000,
	});
	EXPECT_EXIT(p, 0);
	if (to_err) {
		cr_assert(p->out_len == 0, "stdout should be empty, got %zu bytes", p->out_len);
		it_expect_pattern(p->err_buf, p->err_len, 1234, n, "stderr");
	} else {
		cr_assert(p->err_len == 0, "stderr should be empty, got \"%s\"", IT_ESC_ERR(p));
		it_expect_pattern(p->out_buf, p->out_len, 1234, n, "stdout");
	}
	sp_free(p);
}

Test(stdio, stdout_64mib_byte_exact, .timeout = 180)
{
	big_stream("out", false);
}

Test(stdio, stderr_64mib_byte_exact, .timeout = 180)
{
	big_stream("err", true);
}

Test(stdio, stdout_and_stderr_kept_apart, .timeout = 180)
{
	size_t n = 16 * MIB;
	char count[32];
	struct sp *p;

	snprintf(count, sizeof count, "%zu", n);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "write", "both", count, "77"),
		.timeout_ms = 150000,
	});
	EXPECT_EXIT(p, 0);
	it_expect_pattern(p->out_buf, p->out_len, 77, n, "stdout");
	it_expect_pattern(p->err_buf, p->err_len, 78, n, "stderr");
	sp_free(p);
}

Test(stdio, small_output_and_status)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", "sh", "-c", "printf out; printf err >&2; exit 3"),
	});

	EXPECT_EXIT(p, 3);
	EXPECT_OUT(p, "out");
	EXPECT_ERR(p, "err");
	sp_free(p);
}

Test(stdio, no_output_at_all)
{
	struct sp *p = RUN_HELPER("exit", "0");

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "");
	EXPECT_ERR(p, "");
	sp_free(p);
}

static char *hash_line(const void *buf, size_t len)
{
	char *s;

	cr_assert(asprintf(&s, "%zu %016" PRIx64 "\n", len, it_fnv1a64(buf, len)) > 0);
	return s;
}

Test(stdio, stdin_64mib_byte_exact_with_eof, .timeout = 180)
{
	size_t n = 64 * MIB;
	unsigned char *data = it_pattern_alloc(7, n);
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "hash-stdin"),
		.in = data,
		.in_len = n,
		.timeout_ms = 150000,
	});

	EXPECT_EXIT(p, 0);
	cr_assert(p->in_off == n, "sbx took only %zu of %zu stdin bytes (%s)", p->in_off, n,
		  strerror(p->in_errno));
	EXPECT_OUT(p, it_keep(hash_line(data, n)));
	EXPECT_ERR(p, "");
	sp_free(p);
	free(data);
}

Test(stdio, empty_stdin_gives_eof)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "hash-stdin"),
		.timeout_ms = 20000,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0 cbf29ce484222325\n");
	sp_free(p);
}

Test(stdio, dev_null_stdin_gives_eof)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "hash-stdin"),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 20000,
	});

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0 cbf29ce484222325\n");
	sp_free(p);
}

/* Input and output at the same time: a sbx that blocks writing one side
 * while the other fills up deadlocks here. */
Test(stdio, stdin_to_stdout_16mib_concurrently, .timeout = 180)
{
	size_t n = 16 * MIB;
	unsigned char *data = it_pattern_alloc(99, n);
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "cat"),
		.in = data,
		.in_len = n,
		.timeout_ms = 150000,
	});

	EXPECT_EXIT(p, 0);
	it_expect_pattern(p->out_buf, p->out_len, 99, n, "stdout");
	EXPECT_ERR(p, "");
	sp_free(p);
	free(data);
}

Test(stdio, stdin_is_forwarded_without_waiting_for_more, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "cat"),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 45000,
	});

	for (int i = 0; i < 20; i++) {
		char line[32];

		snprintf(line, sizeof line, "line %d\n", i);
		cr_assert(sp_send(p, line, strlen(line), 10000), "sbx did not take \"%s\" from its stdin; %s",
			  it_esc(line, strlen(line)), sp_status_str(p));
		cr_assert(sp_wait_for(p, SP_OUT, line, 10000),
			  "\"%s\" written to sbx's stdin did not come back within 10 s; stdout so far: %s; %s",
			  it_esc(line, strlen(line)), IT_ESC_OUT(p), sp_status_str(p));
	}
	sp_close_in(p);
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	sp_free(p);
}

static void live(const char *stream, enum sp_stream s)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "live", stream),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 45000,
	});

	/* The helper cannot exit before its stdin ends, which only happens
	 * below: "ready" must travel on its own. */
	cr_assert(sp_wait_for(p, s, "ready", 15000),
		  "\"ready\" on %s did not arrive within 15 s while the command was running; %s",
		  stream, sp_status_str(p));
	cr_assert(!sp_has_exited(p), "sbx exited before its stdin ended: %s", sp_status_str(p));
	sp_close_in(p);
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	if (s == SP_OUT) {
		EXPECT_OUT(p, "readybye\n");
		EXPECT_ERR(p, "");
	} else {
		EXPECT_ERR(p, "readybye\n");
		EXPECT_OUT(p, "");
	}
	sp_free(p);
}

Test(stdio, stdout_is_live, .timeout = 60)
{
	live("out", SP_OUT);
}

Test(stdio, stderr_is_live, .timeout = 60)
{
	live("err", SP_ERR);
}

Test(stdio, chunk_before_sleep_arrives_before_exit, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "live", "out", "5000"),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 45000,
	});
	bool seen = sp_wait_for(p, SP_OUT, "ready", 4000);
	long long at = sp_now_ms() - p->start_ms;

	cr_assert(seen, "\"ready\" did not arrive within 4 s; %s", sp_status_str(p));
	cr_assert(!sp_has_exited(p), "sbx had already exited when \"ready\" arrived");
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "readybye\n");
	cr_assert(p->end_ms - p->start_ms >= 5000 - 100, "exited after %lld ms, before the sleep ended",
		  p->end_ms - p->start_ms);
	cr_assert(at < p->end_ms - p->start_ms, "ready at %lld ms", at);
	sp_free(p);
}

Test(stdio, command_ignoring_pending_stdin_exits_normally, .timeout = 60)
{
	size_t n = 8 * MIB;
	unsigned char *data = it_pattern_alloc(5, n);
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "exit", "5"),
		.in = data,
		.in_len = n,
		.timeout_ms = 30000,
	});

	EXPECT_EXIT(p, 5);
	EXPECT_ERR(p, "");
	sp_free(p);

	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "sleep", "300"),
		.in = data,
		.in_len = n,
		.timeout_ms = 30000,
	});
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	sp_free(p);
	free(data);
}

/* Like an interactive terminal: sbx's stdin never ends, the command never
 * reads it, and sbx must still return when the command does. */
Test(stdio, command_exit_does_not_wait_for_stdin_eof, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "exit", "4"),
		.stdin_mode = SP_IN_OPEN,
		.in = "some typed text\n",
		.in_len = 16,
		.timeout_ms = 20000,
	});

	sp_wait(p);
	EXPECT_EXIT(p, 4);
	sp_free(p);
}

Test(stdio, closed_stdout_gives_the_command_epipe, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "yes", "epipe"),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 40000,
	});
	long long closed;

	cr_assert(sp_wait_for(p, SP_OUT, "y\ny\n", 10000), "no output from yes: %s; stderr: %s",
		  sp_status_str(p), IT_ESC_ERR(p));
	sp_close_out(p);
	closed = sp_now_ms();
	sp_wait(p);
	cr_assert(it_buf_has(p->err_buf, p->err_len, "EPIPE"),
		  "the command never saw EPIPE after sbx's stdout closed; %s; stderr: %s",
		  sp_status_str(p), IT_ESC_ERR(p));
	EXPECT_EXIT(p, 3);
	cr_assert(p->end_ms - closed < 10000, "sbx took %lld ms to finish after stdout closed",
		  p->end_ms - closed);
	sp_free(p);
}

Test(stdio, closed_stdout_gives_the_command_sigpipe, .timeout = 60)
{
	struct sp *p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "yes", "sigpipe"),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 40000,
	});
	long long closed;

	cr_assert(sp_wait_for(p, SP_OUT, "y\ny\n", 10000), "no output from yes: %s; stderr: %s",
		  sp_status_str(p), IT_ESC_ERR(p));
	sp_close_out(p);
	closed = sp_now_ms();
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGPIPE);
	cr_assert(p->end_ms - closed < 10000, "sbx took %lld ms to finish after stdout closed",
		  p->end_ms - closed);
	sp_free(p);
}
