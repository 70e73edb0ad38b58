/* The runner under pressure: signals relayed to it, frames that arrive
 * together with the spawn request, one line per failure, and sbx killed at
 * any moment, which leaves nothing behind: the channel has no name, so
 * there is no directory or socket of it anywhere, in TMPDIR or /tmp.
 *
 * Some tests act as sbx themselves (mini_sbx below): they start the real
 * sbx-runner on a socket pair of their own, with a secret of their choosing
 * in it, and speak the protocol by hand, so that they control exactly what
 * arrives in one write. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"
#include "devlog.h"
#include "sockets.h"

#include "frame.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ------------------------------------------------------------ helpers */

/* The sbx-runner sbx started directly (a child named sbx-runner), once it
 * has been exec'd; 0 if none within ms. */
static long wait_runner(struct sp *p, int ms)
{
	long long end = sp_now_ms() + ms;
	long r;

	while ((r = lc_runner_of(p->pid)) == 0 && sp_now_ms() < end)
		sp_pump_for(p, 20);
	return r;
}

/* A line in stderr that contains needle. */
static bool err_has(const struct sp *p, const char *needle)
{
	return it_buf_has(p->err_buf, p->err_len, needle);
}

/* ---- a hand-made sbx */

struct mini {
	struct paired *runner;
	unsigned char in[1 << 16];
	size_t inlen;
};

/* Starts the real runner on a socket pair, with the nonce and "stdin" in
 * it, as sbx would; --server-pid is the test's own pid, the pair's maker. */
static void mini_start(struct mini *m)
{
	char *secret, pid[32];

	memset(m, 0, sizeof(*m));
	cr_assert(asprintf(&secret, "%s\nstdin\n", NONCE) > 0);
	it_keep(secret);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	m->runner = paired_start(ARGV(runner_build(), "--server-pid", it_keep(strdup(pid))), NULL, secret);
}

/* The next frame from the runner within ms: its type, the payload in
 * *payload (leaked) and *len; -1 on end of file or time out. */
static int mini_frame(struct mini *m, int ms, unsigned char **payload, size_t *len)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		if (m->inlen >= 8) {
			size_t n = (size_t)m->in[0] << 24 | (size_t)m->in[1] << 16 | (size_t)m->in[2] << 8 | m->in[3];
			int type = m->in[4];

			cr_assert(n <= sizeof m->in - 8, "a frame of %zu bytes from the runner", n);
			if (m->inlen >= 8 + n) {
				*payload = it_keep(malloc(n + 1));
				memcpy(*payload, m->in + 8, n);
				(*payload)[n] = '\0';
				*len = n;
				memmove(m->in, m->in + 8 + n, m->inlen - 8 - n);
				m->inlen -= 8 + n;
				return type;
			}
		}
		struct pollfd pf = { m->runner->fd, POLLIN, 0 };
		long long left = end - sp_now_ms();
		ssize_t got;

		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			return -1;
		got = read(m->runner->fd, m->in + m->inlen, sizeof m->in - m->inlen);
		if (got <= 0)
			return -1;
		m->inlen += (size_t)got;
	}
}

/* Appends one frame to buf. */
static size_t put_frame(unsigned char *buf, size_t at, unsigned type, const void *payload, size_t len)
{
	buf[at] = (unsigned char)(len >> 24);
	buf[at + 1] = (unsigned char)(len >> 16);
	buf[at + 2] = (unsigned char)(len >> 8);
	buf[at + 3] = (unsigned char)len;
	buf[at + 4] = (unsigned char)type;
	buf[at + 5] = buf[at + 6] = buf[at + 7] = 0;
	memcpy(buf + at + 8, payload, len);
	return at + 8 + len;
}

static void mini_free(struct mini *m)
{
	paired_free(m->runner);
}

/* ------------------------------------------------ 1. relayed signals */

/* What a launcher relays from the caller (sudo: HUP INT QUIT TERM USR1
 * USR2 ALRM PIPE), and other signals whose default would end the runner. */
static const int relayed[] = { SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGHUP,   SIGINT,
			       SIGQUIT, SIGPIPE, SIGVTALRM, SIGPROF, SIGPWR, 0 };

#define WORK "echo ready; sleep 2; exit 7"

/* Root, so the runner is started directly: signalled itself, it carries
 * on; the command finishes, sbx has its status, and the audit line says
 * how the command ended. */
Test(runner_hard, runner_ignores_relayed_signals, .timeout = 60)
{
	struct devlog *dl;
	char marker[64], *tail;
	const char *line;
	struct sp *p;
	long runner;

	need_root("the audit line is caught on a /dev/log of the test's own");
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-hard-%ld-sig", (long)getpid());
	p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--", "sh", "-c", WORK, marker),
		.cwd = "/",
		.timeout_ms = 30000,
	});
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never started: %s %s", sp_status_str(p),
		  IT_ESC_ERR(p));
	runner = wait_runner(p, 5000);
	cr_assert(runner > 0, "no sbx-runner among sbx's children");
	/* A runner that dies of the first is reported by sbx's status below. */
	for (const int *s = relayed; *s; s++)
		(void)kill((pid_t)runner, *s);
	sp_wait(p);
	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	EXPECT_OUT(p, "ready\n");
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"%s\" \"%s\"", WORK, marker) > 0);
	line = audit_line(dl, marker, tail);
	cr_assert(strstr(line, " result=exit:7 ") != NULL, "audit line: %s", line);
	sp_free(p);
	devlog_release();
	free(tail);
}

/* sbx killed: the runner sees the channel close, ends the command and
 * still writes the line, saying that sbx went away. */
Test(runner_hard, audit_line_when_sbx_is_killed, .timeout = 60)
{
	struct devlog *dl;
	char marker[64], *tail;
	const char *line;
	struct sp *p;
	long runner;

	need_root("the audit line is caught on a /dev/log of the test's own");
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-hard-%ld-gone", (long)getpid());
	p = sp_start(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--", "sh", "-c", "echo ready; sleep 20", marker),
		.cwd = "/",
		.timeout_ms = 30000,
	});
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never started: %s", sp_status_str(p));
	runner = wait_runner(p, 5000);
	cr_assert(runner > 0, "no sbx-runner among sbx's children");
	sp_kill(p, SIGKILL);
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"echo ready; sleep 20\" \"%s\"", marker) > 0);
	line = audit_line(dl, marker, tail);
	cr_assert(strstr(line, " result=sbx-gone:signal:9 ") != NULL, "audit line: %s", line);
	cr_assert(it_wait_gone(runner, 5000), "the runner outlived sbx");
	sp_free(p);
	devlog_release();
	free(tail);
}

/* The command must not inherit what the runner ignores. */
Test(runner_hard, command_sees_default_dispositions, .timeout = 60)
{
	struct sp *p = sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "sigs") });

	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "blocked:\nignored:\n");
	sp_free(p);
	if (geteuid() == 0) { /* the privileged runner, which audits */
		p = run_here(ARGV(SBX, "run", "--", HELPER, "sigs"), NULL);
		EXPECT_EXIT(p, 0);
		EXPECT_OUT(p, "blocked:\nignored:\n");
		sp_free(p);
	}
}

/* Through sudo, as a throwaway account: the caller's own sudo signalled
 * (kill of the job, timeout) relays to the runner, which carries on. */
Test(runner_hard, runner_through_sudo_ignores_what_sudo_relays, .timeout = 90)
{
	struct pub pb;
	struct devlog *dl;
	char marker[64], *tail;
	const char *line;
	long kids[4];
	struct sp *p;
	struct sp_opts o;
	size_t n;

	setup_sudo(&pb);
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-hard-%ld-sudo", (long)getpid());
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", WORK, marker), NULL);
	p = sp_start(&o);
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never started: %s %s", sp_status_str(p),
		  IT_ESC_ERR(p));
	n = it_children(p->pid, kids, 4);
	cr_assert(n == 1, "sbx has %zu children, expected sudo alone", n);
	/* What sudo relays as it is.  Not SIGALRM: to sudo that is its own
	 * command timeout (SIGHUP, SIGTERM, and SIGKILL 2 s later), which no
	 * runner can survive; nor the others, which end sudo itself. */
	for (const int *s = relayed; *s; s++)
		if (*s != SIGALRM && *s != SIGVTALRM && *s != SIGPROF && *s != SIGPWR)
			(void)kill((pid_t)kids[0], *s);
	sp_wait(p);
	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"%s\" \"%s\"", WORK, marker) > 0);
	line = audit_line(dl, marker, tail);
	cr_assert(strstr(line, " result=exit:7 ") != NULL, "audit line: %s", line);
	sp_free(p);
	devlog_release();
	free(tail);
}

/* ------------------------------- 2. frames buffered with the spawn */

/* hello, spawn, stdin data and stdin close in one write: legal, and the
 * command gets its stdin and its end at once. */
Test(runner_hard, frames_in_the_same_read_as_spawn_are_handled, .timeout = 60)
{
	struct mini m;
	unsigned char buf[4096], *pl;
	char hello[256], spawn[1024], out[256] = "";
	size_t len, at = 0, outlen = 0;
	long long sent;
	int type, exited = 0;

	mini_start(&m);
	type = mini_frame(&m, 10000, &pl, &len);
	cr_assert(type == SBX_F_HELLO, "expected the runner's hello, got type %d", type);
	snprintf(hello, sizeof hello, "{\"version\":%d,\"nonce\":\"%s\",\"pid\":%ld}", SBX_PROTO_VERSION, NONCE,
		 (long)getpid());
	snprintf(spawn, sizeof spawn, "{\"argv\":[\"%s\",\"cat\"],\"cwd\":\"/\",\"env\":[]}", HELPER);
	at = put_frame(buf, at, SBX_F_HELLO, hello, strlen(hello));
	at = put_frame(buf, at, SBX_F_SPAWN, spawn, strlen(spawn));
	at = put_frame(buf, at, SBX_F_DATA | SBX_STDIN, "typed\n", 6);
	at = put_frame(buf, at, SBX_F_CLOSE | SBX_STDIN, "", 0);
	cr_assert(write(m.runner->fd, buf, at) == (ssize_t)at);
	sent = sp_now_ms();
	while (!exited && (type = mini_frame(&m, 2000 - (int)(sp_now_ms() - sent), &pl, &len)) >= 0) {
		if (type == (SBX_F_DATA | SBX_STDOUT) && outlen + len < sizeof out) {
			memcpy(out + outlen, pl, len);
			outlen += len;
		}
		cr_assert(type != SBX_F_ERROR && type != SBX_F_SPAWN_ERROR, "the runner refused: %s", pl);
		exited = type == SBX_F_EXIT;
	}
	paired_pump(m.runner, 0);
	cr_assert(exited, "no exit frame within 2 s of the request (stdout so far: \"%s\"); runner stderr: %s", out,
		  IT_ESC_ERR(m.runner));
	cr_assert(strcmp(out, "typed\n") == 0, "the command's stdout: \"%s\"", out);
	cr_assert(strstr((char *)pl, "\"code\":0") != NULL, "exit frame: %s", pl);
	mini_free(&m);
}

/* -------------------------------------------- 3. one line per failure */

/* sbx beside a wrapper script as sbx-runner: `before`, the real runner's
 * path quoted, `after`. */
static char *sbx_with_wrapper(const char *dir, const char *before, const char *after)
{
	char *script, *sbx;

	cr_assert(asprintf(&script, "%s'%s'%s", before, runner_build(), after) > 0);
	cr_assert(asprintf(&sbx, "%s/sbx", dir) > 0);
	it_copy_file(SBX, sbx);
	free(it_write_file(dir, "sbx-runner", script, 0755));
	free(script);
	return it_keep(sbx);
}

/* The real runner, given no secret: it says why, and sbx makes that its
 * one line. */
Test(runner_hard, runner_failing_before_connecting_is_one_sbx_line, .timeout = 60)
{
	char *dir = it_tmpdir();
	char *sbx = sbx_with_wrapper(dir, "#!/bin/sh\nexec ", " \"$@\" </dev/null\n");
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.timeout_ms = 20000,
	});

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "runner exited before connecting: no valid nonce and channel name from sbx");
	sp_free(p);
}

/* A launcher that reads the secret and relays it through a pipe of its own
 * and keeps the runner's stdout from it too leaves the runner without the
 * channel: one line that says so, and names neither the channel nor the
 * nonce. */
Test(runner_hard, runner_without_the_channel_is_one_sbx_line, .timeout = 60)
{
	char *dir = it_tmpdir();
	char *sbx = sbx_with_wrapper(dir, "#!/bin/sh\n"
					  "IFS= read -r nonce && IFS= read -r name || exit 3\n"
					  "printf '%s\\n%s\\n' \"$nonce\" \"$name\" | exec ",
				     " \"$@\" >/dev/null\n");
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.timeout_ms = 20000,
	});

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "runner exited before connecting: standard input is not sbx's channel: Socket "
			   "operation on non-socket");
	cr_assert(!err_has(p, "/sbx-"), "a message names a channel: %s", IT_ESC_ERR(p));
	sp_free(p);
}

/* sbx fails first (it refuses a runner of the wrong uid) and closes the
 * channel in the middle of the handshake: sbx says why, and the runner,
 * whose stderr is sbx's through the launcher, says nothing. */
Test(runner_hard, runner_says_nothing_when_sbx_failed_first, .timeout = 60)
{
	static const char launcher[] = "#!/bin/sh\n"
				       "# sbx runs: LAUNCHER -n -- RUNNER --server-pid PID\n"
				       "while [ \"$1\" != -- ]; do shift; done\n"
				       "shift\n"
				       "exec \"$@\"\n";
	struct pub pb;
	char *via;
	struct sp *p;

	need_root("the test runs sbx as another account");
	setup_accounts(false);
	make_pub(&pb);
	via = it_keep(it_write_file(pb.dir, "same-uid-launcher", launcher, 0755));
	p = run_as(PLAIN, ARGV(pb.sbx, "run", "-n", "--via", via, "--", "true"), NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "not uid 0 as the runner must be");
	EXPECT_OUT(p, "");
	sp_free(p);
}

/* ------------------------------ 4. sbx killed: nothing left behind */

/* The runners serving any of `sbx` (n pids) and the commands named `mark`
 * still alive: how many, the first in *first. */
static size_t leftovers(const long *sbx, size_t n, const char *mark, long *first)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t found = 0;

	cr_assert(d != NULL, "opendir /proc: %s", strerror(errno));
	*first = 0;
	while ((de = readdir(d)) != NULL) {
		char path[64], *end, *buf;
		long pid = strtol(de->d_name, &end, 10);
		size_t len = 0;
		bool hit = false;

		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		/* Zombies have an empty command line and never count. */
		if ((buf = lc_read_file(path, &len)) == NULL || len == 0) {
			free(buf);
			continue;
		}
		hit = memmem(buf, len, mark, strlen(mark)) != NULL;
		for (size_t i = 0; i < n && !hit; i++) {
			/* "--server-pid\0PID\0", NULs included. */
			char server[64];
			int k = snprintf(server, sizeof server, "--server-pid%c%ld%c", 0, sbx[i], 0);

			hit = memmem(buf, len, server, (size_t)k) != NULL;
		}
		free(buf);
		if (hit && found++ == 0)
			*first = pid;
	}
	closedir(d);
	return found;
}

/* sbx killed by SIGKILL at every moment of a run, 0 to 9 ms after it
 * started (before, during and after the runner's start and the
 * handshake, and while the command runs): the runner and the command
 * end, and nothing is left in TMPDIR or XDG_RUNTIME_DIR, which a channel
 * with a name would have used.  The command sleeps 30 s, so only the
 * runner ending it can make it go. */
Test(runner_hard, sbx_killed_at_any_moment_leaves_nothing, .timeout = 240)
{
	enum { RUNS = 200 };
	char *dir = it_tmpdir(), *tmp, *xdg, *cmd, mark[64], tmpenv[4200], xdgenv[4200], *left;
	long sbx[RUNS], first;
	long long end;
	size_t n;

	snprintf(mark, sizeof mark, "sbxt-kill-%ld", (long)getpid());
	cr_assert(asprintf(&tmp, "%s/tmp", dir) > 0 && mkdir(tmp, 0700) == 0);
	cr_assert(asprintf(&xdg, "%s/xdg", dir) > 0 && mkdir(xdg, 0700) == 0);
	cr_assert(asprintf(&cmd, "%s/%s", dir, mark) > 0);
	cr_assert(symlink(HELPER, cmd) == 0, "symlink %s: %s", cmd, strerror(errno));
	snprintf(tmpenv, sizeof tmpenv, "TMPDIR=%s", tmp);
	snprintf(xdgenv, sizeof xdgenv, "XDG_RUNTIME_DIR=%s", xdg);
	srand((unsigned)getpid());
	for (int i = 0; i < RUNS; i++) {
		struct sp *p = sp_start(&(struct sp_opts){
			.argv = ARGV(SBX, "run", "--same-user", "--", cmd, "sleep", "30000"),
			.envp = it_env(ARGV(tmpenv, xdgenv), NULL),
			.stdin_mode = SP_IN_NULL,
			.timeout_ms = 20000,
		});

		sbx[i] = p->pid;
		usleep((useconds_t)(rand() % 10) * 1000);
		sp_kill(p, SIGKILL);
		sp_wait(p);
		cr_assert(sp_killed_by(p, SIGKILL), "run %d: sbx %s; stderr: %s", i, sp_status_str(p), IT_ESC_ERR(p));
		sp_free(p);
	}
	end = sp_now_ms() + 10000;
	while ((n = leftovers(sbx, RUNS, mark, &first)) > 0 && sp_now_ms() < end)
		usleep(20000);
	if (n > 0) {
		long pids[RUNS];
		size_t k = procs_with(mark, pids, RUNS);

		for (size_t i = 0; i < k; i++)
			kill((pid_t)pids[i], SIGKILL);
	}
	cr_assert(n == 0, "%zu runners or commands outlived their sbx by 10 s, the first pid %ld", n, first);
	left = lc_list_dir(tmp);
	cr_assert(left[0] == '\0', "left behind in TMPDIR: %s", left);
	left = lc_list_dir(xdg);
	cr_assert(left[0] == '\0', "left behind in XDG_RUNTIME_DIR: %s", left);
	free(tmp);
	free(xdg);
	free(cmd);
}

/* ----------------------------------- 5. no place for a channel needed */

static void runs_with_tmpdir(const char *tmpdir)
{
	char env[4200];
	struct sp *p;

	snprintf(env, sizeof env, "TMPDIR=%s", tmpdir);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(SBX, "run", "--same-user", "--", HELPER, "exit", "3"),
		.envp = it_env(ARGV(env), ARGV("XDG_RUNTIME_DIR")),
		.timeout_ms = 20000,
	});
	EXPECT_EXIT(p, 3);
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* TMPDIR is not sbx's business: too long for a socket's path, missing,
 * relative, or a directory of its own, which stays empty. */
Test(runner_hard, tmpdir_of_any_kind_is_no_obstacle, .timeout = 60)
{
	char *dir = it_tmpdir(), path[4096], *left;
	size_t n = (size_t)snprintf(path, sizeof path, "%s/", dir);

	while (n < 200)
		path[n++] = 'd';
	path[n] = '\0';
	cr_assert(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	runs_with_tmpdir(path);
	left = lc_list_dir(path);
	cr_assert(left[0] == '\0', "left in TMPDIR: %s", left);
	runs_with_tmpdir("/nonexistent-sbx-tmpdir");
	runs_with_tmpdir("relative/tmp");
}

/* Not even /tmp writable, nor TMPDIR there: the channel needs no place,
 * and the run is as any other. */
Test(runner_hard, read_only_tmp_is_no_obstacle, .timeout = 60)
{
	char *unshare = tool("unshare"), *cmd;
	struct sp *p;

	need_root("a read-only /tmp needs a mount namespace");
	if (unshare == NULL)
		cr_skip_test("no unshare(1) here");
	/* /tmp made read-only where it is, not hidden under a new mount: sbx
	 * itself may be built under /tmp (a clone there, as CI makes). */
	cr_assert(asprintf(&cmd,
			   "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && "
			   "! touch /tmp/.sbx-rw-probe 2>/dev/null && exec '%s' run --same-user -- '%s' exit 3",
			   SBX, HELPER) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(unshare, "-m", "--propagation", "private", "sh", "-c", cmd),
		.envp = it_env(ARGV("TMPDIR=/nonexistent-sbx-tmpdir"), ARGV("XDG_RUNTIME_DIR")),
		.timeout_ms = 20000,
	});
	if (sp_exited_with(p, 1) && !err_has(p, "sbx"))
		cr_skip_test("cannot mount here: %s", IT_ESC_ERR(p));
	EXPECT_EXIT(p, 3);
	EXPECT_ERR(p, "");
	sp_free(p);
	free(cmd);
}

/* ---------------------------------------- 6. after the exit frame */

/* After a clean exit frame sbx does not wait for a runner in a session of
 * its own: the command is over, and what the runner still does (its audit
 * line) is its own business.  The fake says exit, then takes 2 s to go
 * once sbx has closed the channel; sbx must be back at once with the
 * command's status, and the fake must still finish on its own. */
Test(runner_hard, sbx_does_not_wait_for_the_runner_after_exit, .timeout = 60)
{
	char *dir = it_tmpdir(), *sbx = lc_sbx_with_fakerunner(dir, "exit-then-linger"), *log;
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.timeout_ms = 20000,
	});
	long pid = fake_pid(dir);
	long long end = sp_now_ms() + 5000;

	EXPECT_EXIT(p, 5);
	EXPECT_ERR(p, "");
	cr_assert(elapsed(p) < 1000, "sbx took %lld ms, waiting for a runner that had said exit", elapsed(p));
	while (!strstr((log = fake_log(dir)), "lingered") && sp_now_ms() < end)
		usleep(20000);
	cr_assert(strstr(log, "sbx closed the channel") && strstr(log, "exit 0: lingered"),
		  "the runner did not end on its own; log:\n%s", log);
	cr_assert(pid > 0 && lc_survivor(&pid, 1, 3000) == 0, "the fake runner (pid %ld) outlived sbx", pid);
	sp_free(p);
}
