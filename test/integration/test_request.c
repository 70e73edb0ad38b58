/* The request: whatever the OS let sbx itself be started with reaches the
 * command (argv and environment as large as execve() takes them, entries
 * without '='), a request larger than a frame crosses in parts, and 2>&1
 * keeps the order of the command's two streams. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "accounts.h"
#include "devlog.h"
#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* The bytes execve() counts for these strings: each with its NUL, and its
 * pointer. */
static size_t exec_cost(char *const *v)
{
	size_t n = 0;

	for (; v != NULL && *v != NULL; v++)
		n += strlen(*v) + 1 + sizeof(char *);
	return n;
}

/* Skips the test when the system would not start sbx itself with this
 * much (ARG_MAX is a quarter of the stack limit on Linux). */
static void need_exec_room(char *const *argv, char *const *envp)
{
	long max = sysconf(_SC_ARG_MAX);
	size_t need = exec_cost(argv) + exec_cost(envp) + 4096;

	if (max > 0 && (size_t)max < need)
		cr_skip_test("ARG_MAX is %ld bytes here, the test needs %zu (raise the stack limit)", max, need);
}

/* Where two outputs first differ, for the failure message. */
static void expect_same_bytes(const unsigned char *got, size_t got_len, const char *want, size_t want_len,
			      const char *what)
{
	size_t i = 0;

	while (i < got_len && i < want_len && got[i] == (unsigned char)want[i])
		i++;
	cr_assert(i == got_len && i == want_len,
		  "%s: %zu bytes, expected %zu; first difference at byte %zu: got \"%s\", want \"%s\"", what,
		  got_len, want_len, i, it_esc(got + i, got_len - i), it_esc(want + i, want_len - i));
}

/* sbx run --same-user -- HELPER argv ARGS..., in the environment envp. */
static void check_argv_arrives(char **args, size_t n, char **envp)
{
	const char **argv = calloc(n + 8, sizeof *argv);
	size_t k = 0, want_len;
	char *want = it_keep(it_expected_argv((const char *const *)args, n, &want_len));
	struct sp *p;

	cr_assert(argv != NULL);
	argv[k++] = SBX;
	argv[k++] = "run";
	argv[k++] = "--same-user";
	argv[k++] = "--";
	argv[k++] = HELPER;
	argv[k++] = "argv";
	for (size_t i = 0; i < n; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	need_exec_room((char *const *)argv, envp ? envp : environ);
	p = sp_run(&(struct sp_opts){ .argv = argv, .envp = envp, .timeout_ms = 100000 });
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	expect_same_bytes(p->out_buf, p->out_len, want, want_len, "the command's argv");
	sp_free(p);
	free(argv);
}

/* sbx run --same-user -- HELPER env, in the environment envp: the command
 * prints its whole environment, which must be envp, in order. */
static void check_env_arrives(char **envp)
{
	const char *const *argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "env");
	size_t cap = 1, want_len = 0;
	char *want;
	struct sp *p;

	for (char **e = envp; *e; e++)
		cap += strlen(*e) + 1;
	want = it_keep(malloc(cap));
	cr_assert(want != NULL);
	for (char **e = envp; *e; e++)
		want_len += (size_t)sprintf(want + want_len, "%s\n", *e);
	need_exec_room((char *const *)argv, envp);
	p = sp_run(&(struct sp_opts){ .argv = argv, .envp = envp, .timeout_ms = 100000 });
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	expect_same_bytes(p->out_buf, p->out_len, want, want_len, "the command's environment");
	sp_free(p);
}

/* A copy of the test's environment with `extra` appended, as they are. */
static char **env_plus(char *const *extra, size_t n)
{
	size_t k = 0, have = 0;
	char **env;

	for (char **e = environ; *e; e++)
		have++;
	env = it_keep(calloc(have + n + 1, sizeof *env));
	cr_assert(env != NULL);
	for (char **e = environ; *e; e++)
		env[k++] = *e;
	for (size_t i = 0; i < n; i++)
		env[k++] = extra[i];
	env[k] = NULL;
	return env;
}

/* ------------------------------------------------------------ size and shape */

/* More arguments than version 2 of the protocol took (65,536). */
Test(request, seventy_thousand_arguments, .timeout = 150)
{
	size_t n = 70000;
	char **args = it_keep(calloc(n, sizeof *args)), *buf = it_keep(malloc(n * 8));

	cr_assert(args != NULL && buf != NULL);
	for (size_t i = 0, off = 0; i < n; i++) {
		args[i] = buf + off;
		off += (size_t)sprintf(buf + off, "%zu", i) + 1;
	}
	check_argv_arrives(args, n, NULL);
}

/* More environment entries than version 2 took, all of them in order. */
Test(request, seventy_thousand_environment_entries, .timeout = 150)
{
	size_t n = 70000;
	char **extra = it_keep(calloc(n, sizeof *extra)), *buf = it_keep(malloc(n * 16));

	cr_assert(extra != NULL && buf != NULL);
	for (size_t i = 0, off = 0; i < n; i++) {
		extra[i] = buf + off;
		off += (size_t)sprintf(buf + off, "Q%zu=%zu", i, i % 10) + 1;
	}
	check_env_arrives(env_plus(extra, n));
}

/* 1.5 MB of control bytes: JSON escapes each as \u00XX, 9 MB, more than a
 * frame (4 MiB) holds. */
Test(request, control_byte_arguments_arrive_exactly, .timeout = 150)
{
	/* Linux takes at most 32 pages (131072 bytes, NUL included) in one
	 * argument. */
	size_t n = 12, each = 131071;
	char **args = it_keep(calloc(n, sizeof *args));

	cr_assert(args != NULL);
	for (size_t i = 0; i < n; i++) {
		args[i] = it_keep(malloc(each + 1));
		cr_assert(args[i] != NULL);
		for (size_t j = 0; j < each; j++)
			args[i][j] = (char)(1 + (i * 7 + j) % 0x1f);
		args[i][each] = '\0';
	}
	check_argv_arrives(args, n, NULL);
}

/* execve() takes any string as an environment entry, and sbx's own
 * environment may hold ones that are not NAME=VALUE: they reach the
 * command unchanged, where they were. */
Test(request, environment_entries_without_equals_arrive_unchanged, .timeout = 60)
{
	static char e0[] = "JUSTANAME", e1[] = "SBXR_BEFORE=1", e2[] = "", e3[] = "=", e4[] = "=leading",
		    e5[] = "A==b", e6[] = "SBXR_AFTER=2";
	char *extra[] = { e0, e1, e2, e3, e4, e5, e6 };

	check_env_arrives(env_plus(extra, sizeof extra / sizeof extra[0]));
}

/* ------------------------------------------------------------ a fake sbx */

/* The real runner, driven by the test as sbx would drive it, for requests
 * no real sbx sends: a request in parts of the test's choosing, one
 * without "cwd", one over the bound. */
struct fake {
	int fd;        /* the runner's connection */
	struct paired *runner;
	char nonce[65];
	unsigned char *in; /* frames read, not yet taken */
	size_t in_len, in_cap;
};

static void fake_start(struct fake *fk, const char *runner_cwd)
{
	char *secret, pid[32];

	memset(fk, 0, sizeof *fk);
	for (int i = 0; i < 64; i++)
		fk->nonce[i] = "0123456789abcdef"[(unsigned)rand() % 16];
	/* As sbx does: the runner's stdin is its end of a socket pair, the
	 * secret already in it. */
	cr_assert(asprintf(&secret, "%s\nstdin\n", fk->nonce) > 0);
	it_keep(secret);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	fk->runner = paired_start(ARGV(runner_build(), "--server-pid", it_keep(strdup(pid))), runner_cwd, secret);
	fk->fd = fk->runner->fd;
	fk->runner->fd = -1;
}

/* Sends one frame; false when the runner has closed the channel. */
static bool fake_put(struct fake *fk, unsigned type, const void *payload, size_t len)
{
	unsigned char hdr[8] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16),
				 (unsigned char)(len >> 8), (unsigned char)len, (unsigned char)type, 0, 0, 0 };
	const unsigned char *p = hdr;
	size_t n = sizeof hdr;

	for (int part = 0; part < 2; part++) {
		while (n > 0) {
			ssize_t w = send(fk->fd, p, n, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
				return false;
			cr_assert(w > 0, "send: %s", strerror(errno));
			p += w;
			n -= (size_t)w;
		}
		p = payload;
		n = len;
	}
	return true;
}

/* The next frame from the runner, within ms: its type, and its payload
 * (NUL-terminated, valid until the next call) in *payload; false at end of
 * file or on time. */
static bool fake_get(struct fake *fk, unsigned *type, char **payload, size_t *len, int ms)
{
	long long until = sp_now_ms() + ms;
	static char *last;

	free(last);
	last = NULL;
	for (;;) {
		if (fk->in_len >= 8) {
			size_t n = (size_t)fk->in[0] << 24 | (size_t)fk->in[1] << 16 | (size_t)fk->in[2] << 8 | fk->in[3];

			if (fk->in_len >= 8 + n) {
				*type = fk->in[4];
				last = malloc(n + 1);
				cr_assert(last != NULL);
				memcpy(last, fk->in + 8, n);
				last[n] = '\0';
				memmove(fk->in, fk->in + 8 + n, fk->in_len - 8 - n);
				fk->in_len -= 8 + n;
				*payload = last;
				*len = n;
				return true;
			}
		}
		if (fk->in_cap - fk->in_len < 65536) {
			fk->in_cap = fk->in_cap * 2 + 65536;
			fk->in = realloc(fk->in, fk->in_cap);
			cr_assert(fk->in != NULL);
		}
		struct pollfd pf = { fk->fd, POLLIN, 0 };
		long long left = until - sp_now_ms();

		if (left <= 0 || poll(&pf, 1, (int)left) < 1)
			return false;
		ssize_t r = recv(fk->fd, fk->in + fk->in_len, fk->in_cap - fk->in_len, 0);
		if (r <= 0)
			return false;
		fk->in_len += (size_t)r;
	}
}

/* The runner's hello, and ours in answer (version 3, the spawn request in
 * parts). */
static void fake_hello(struct fake *fk)
{
	unsigned type = 0;
	size_t len;
	char *payload, *hello;

	cr_assert(fake_get(fk, &type, &payload, &len, 10000), "no hello from the runner: %s",
		  IT_ESC_ERR(fk->runner));
	cr_assert_eq(type, 0x01, "the runner's first frame is of type 0x%02x: %s", type, payload);
	cr_assert(asprintf(&hello, "{\"version\":3,\"nonce\":\"%s\",\"pid\":%ld}", fk->nonce, (long)getpid()) > 0);
	cr_assert(fake_put(fk, 0x01, hello, strlen(hello)));
	free(hello);
}

static void fake_end(struct fake *fk)
{
	close(fk->fd);
	(void)paired_wait(fk->runner, 30000);
	free(fk->in);
}

/* The request cut into pieces of the test's choosing, and without "cwd":
 * the runner joins the pieces, and the command runs where the runner was
 * started (which, started by sbx, is sbx's own directory). */
Test(request, runner_joins_a_request_sent_in_parts, .timeout = 60)
{
	char *dir = it_tmpdir(), *req, *out = NULL, *want;
	struct fake fk;
	size_t len, n, out_len = 0;
	unsigned type;
	char *payload;
	bool spawned = false, exited = false;

	fake_start(&fk, dir);
	fake_hello(&fk);
	cr_assert(asprintf(&req, "{\"argv\":[\"%s\",\"cwd\"],\"env\":[\"PATH=/usr/bin:/bin\"],\"options\":{}}",
			   HELPER) > 0);
	n = strlen(req);
	/* 1 byte, 10 bytes, then the spawn frame with the rest. */
	cr_assert(fake_put(&fk, 0x0b, req, 1));
	cr_assert(fake_put(&fk, 0x0b, req + 1, 10));
	cr_assert(fake_put(&fk, 0x02, req + 11, n - 11));
	while (!exited && fake_get(&fk, &type, &payload, &len, 20000)) {
		if (type == 0x03)
			spawned = true;
		else if (type == 0x11) {
			char *more;
			cr_assert(asprintf(&more, "%s%s", out ? out : "", payload) > 0);
			free(out);
			out = more;
		} else if (type == 0x05)
			exited = true;
		else
			cr_assert(type == 0x20 || type == 0x21 || type == 0x22 || type == 0x30, "frame 0x%02x: %s", type, payload);
		if (type == 0x05)
			cr_assert(strcmp(payload, "{\"how\":\"exited\",\"code\":0}") == 0, "exit: %s", payload);
	}
	fake_end(&fk);
	cr_assert(spawned && exited, "spawned %d, exited %d; the runner: %s\nstderr: %s", spawned, exited,
		  paired_status(fk.runner), IT_ESC_ERR(fk.runner));
	cr_assert(asprintf(&want, "%s\n", dir) > 0);
	out_len = out ? strlen(out) : 0;
	expect_same_bytes((unsigned char *)(out ? out : ""), out_len, want, strlen(want), "the command's cwd");
	cr_assert(paired_exited_with(fk.runner, 0), "the runner: %s\nstderr: %s", paired_status(fk.runner),
		  IT_ESC_ERR(fk.runner));
	paired_free(fk.runner);
	free(req);
	free(out);
	free(want);
}

/* Without "cwd", a runner that audits (as root) says it does not know the
 * directory, instead of failing. */
Test(request, audit_line_without_cwd, .timeout = 90)
{
	struct devlog *dl = devlog_open();
	char marker[64], *req, *tail, *payload;
	const char *line;
	struct fake fk;
	unsigned type;
	size_t len;
	bool exited = false;

	snprintf(marker, sizeof marker, "sbxt-request-%ld-nocwd", (long)getpid());
	fake_start(&fk, "/");
	fake_hello(&fk);
	cr_assert(asprintf(&req, "{\"argv\":[\"/bin/sh\",\"-c\",\"exit 3\",\"%s\"],\"env\":[],\"options\":{}}",
			   marker) > 0);
	cr_assert(fake_put(&fk, 0x02, req, strlen(req)));
	while (!exited && fake_get(&fk, &type, &payload, &len, 20000))
		exited = type == 0x05;
	fake_end(&fk);
	cr_assert(exited, "no exit frame; the runner: %s\nstderr: %s", paired_status(fk.runner),
		  IT_ESC_ERR(fk.runner));
	cr_assert(paired_exited_with(fk.runner, 0), "the runner: %s\nstderr: %s", paired_status(fk.runner),
		  IT_ESC_ERR(fk.runner));
	cr_assert(asprintf(&tail, " argv=\"/bin/sh\" \"-c\" \"exit 3\" \"%s\"", marker) > 0);
	line = audit_line(dl, marker, tail);
	cr_assert(strstr(line, " result=exit:3 cwd=? argv=") != NULL, "audit line: %s", line);
	paired_free(fk.runner);
	devlog_release();
	free(req);
	free(tail);
}

/* The runner holds at most 64 MiB of request: past that, one error frame
 * naming the limit, and the runner gives up. */
Test(request, runner_refuses_a_request_over_the_bound, .timeout = 90)
{
	size_t piece = 4u << 20, sent = 0;
	char *buf = it_keep(malloc(piece)), *payload;
	struct fake fk;
	unsigned type = 0;
	size_t len;
	bool got = false;

	cr_assert(buf != NULL);
	memset(buf, ' ', piece);
	fake_start(&fk, "/");
	fake_hello(&fk);
	while (sent <= (64u << 20) && fake_put(&fk, 0x0b, buf, piece))
		sent += piece;
	while (fake_get(&fk, &type, &payload, &len, 20000) && !(got = type == 0x07))
		;
	cr_assert(got, "no error frame after %zu bytes of request; the runner: %s\nstderr: %s", sent,
		  paired_status(fk.runner), IT_ESC_ERR(fk.runner));
	cr_assert(strstr(payload, "over the limit of 67108864 bytes") != NULL, "error: %s", payload);
	fake_end(&fk);
	cr_assert(paired_exited_with(fk.runner, 1), "the runner: %s", paired_status(fk.runner));
	paired_free(fk.runner);
}

/* ------------------------------------------------------------ 2>&1 */

#define FOUR_LINES "echo 1; echo 2 >&2; echo 3; echo 4 >&2"

/* sbx's stdout and stderr one pipe (the shell's 2>&1): the command's four
 * lines come out exactly in the order it wrote them, every time. */
Test(request, stdout_and_stderr_one_pipe_keep_their_order, .timeout = 240)
{
	int runs = 200, wrong = 0;
	char first_wrong[200] = "";

	for (int i = 0; i < runs; i++) {
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = ARGV("/bin/sh", "-c", "exec \"$@\" 2>&1", "sh", SBX, "run", "--same-user", "--",
				     "/bin/sh", "-c", FOUR_LINES),
			.timeout_ms = 20000,
		});

		EXPECT_EXIT(p, 0);
		EXPECT_ERR(p, "");
		if (!it_buf_eq(p->out_buf, p->out_len, "1\n2\n3\n4\n") && wrong++ == 0)
			snprintf(first_wrong, sizeof first_wrong, "%s", IT_ESC_OUT(p));
		sp_free(p);
	}
	cr_assert(wrong == 0, "%d of %d runs out of order, the first: \"%s\"", wrong, runs, first_wrong);
}

/* Apart, they stay apart: each stream gets its own lines, in order. */
Test(request, stdout_and_stderr_apart_stay_apart, .timeout = 120)
{
	for (int i = 0; i < 30; i++) {
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = ARGV(SBX, "run", "--same-user", "--", "/bin/sh", "-c", FOUR_LINES),
			.timeout_ms = 20000,
		});

		EXPECT_EXIT(p, 0);
		EXPECT_OUT(p, "1\n3\n");
		EXPECT_ERR(p, "2\n4\n");
		sp_free(p);
	}
}

/* One regular file for both (>file 2>&1): the same, where the kernel can
 * say that the two are one open file (kcmp). */
Test(request, stdout_and_stderr_one_file_keep_their_order, .timeout = 120)
{
	char *dir = it_tmpdir(), *file;

	if (syscall(SYS_kcmp, (long)getpid(), (long)getpid(), (long)KCMP_FILE, 0L, 0L) != 0)
		cr_skip_test("kcmp(2) is not available here (%s): sbx cannot tell that a regular file is "
			     "one open file for both streams", strerror(errno));
	cr_assert(asprintf(&file, "%s/out", dir) > 0);
	it_keep(file);
	for (int i = 0; i < 50; i++) {
		size_t len = 0;
		char *text;
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = ARGV("/bin/sh", "-c", "f=$1; shift; exec \"$@\" >\"$f\" 2>&1", "sh", file, SBX, "run",
				     "--same-user", "--", "/bin/sh", "-c", FOUR_LINES),
			.timeout_ms = 20000,
		});

		EXPECT_EXIT(p, 0);
		text = it_read_file(file, &len);
		cr_assert(text != NULL, "cannot read %s", file);
		cr_assert(it_buf_eq((unsigned char *)text, len, "1\n2\n3\n4\n"), "run %d: the file holds \"%s\"", i,
			  it_esc(text, len));
		free(text);
		sp_free(p);
	}
}
