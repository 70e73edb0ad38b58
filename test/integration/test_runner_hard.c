/* The runner under pressure: signals relayed to it, frames that arrive
 * together with the spawn request, one line per failure, the channel sbx
 * leaves behind when it is killed, and a TMPDIR that cannot hold the
 * channel.
 *
 * Some tests act as sbx themselves (mini_sbx below): they listen, start the
 * real sbx-runner with a secret of their choosing on its stdin and speak
 * the protocol by hand, so that they control exactly what arrives in one
 * write, or which path the runner is told. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* How many entries of dir start with "sbx-" (channel directories). */
static size_t channel_dirs(const char *dir, char *names, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, used = 0;

	cr_assert(d != NULL, "opendir %s: %s", dir, strerror(errno));
	if (cap > 0)
		names[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "sbx-", 4) != 0)
			continue;
		n++;
		if (used + strlen(de->d_name) + 2 < cap)
			used += (size_t)snprintf(names + used, cap - used, "%s ", de->d_name);
	}
	closedir(d);
	return n;
}

/* A line in stderr that contains needle. */
static bool err_has(const struct sp *p, const char *needle)
{
	return it_buf_has(p->err_buf, p->err_len, needle);
}

/* ---- a hand-made sbx */

struct mini {
	int lfd, fd;
	char path[108];
	struct sp *runner;
	unsigned char in[1 << 16];
	size_t inlen;
};

/* Listens at dir/name (a socket of ours, mode 0700 directory as sbx makes
 * it) and starts the real runner with the nonce and `told` (NULL: the
 * socket's path) on its stdin, as sbx would. */
static void mini_start(struct mini *m, const char *dir, const char *name, const char *told)
{
	struct sockaddr_un sa;
	char *secret, pid[32];

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	cr_assert(snprintf(m->path, sizeof m->path, "%s/%s", dir, name) < (int)sizeof m->path);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, m->path);
	m->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(m->lfd >= 0 && bind(m->lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(m->lfd, 1) == 0,
		  "listen at %s: %s", m->path, strerror(errno));
	cr_assert(asprintf(&secret, "%s\n%s\n", NONCE, told ? told : m->path) > 0);
	it_keep(secret);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	m->runner = sp_start(&(struct sp_opts){
		.argv = ARGV(runner_build(), "--server-pid", it_keep(strdup(pid))),
		.in = secret,
		.in_len = strlen(secret),
		.timeout_ms = 20000,
	});
}

static void mini_accept(struct mini *m)
{
	long long end = sp_now_ms() + 10000;

	while (m->fd < 0 && sp_now_ms() < end) {
		struct pollfd pf = { m->lfd, POLLIN, 0 };

		sp_pump_for(m->runner, 10);
		if (poll(&pf, 1, 10) == 1)
			m->fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
	}
	cr_assert(m->fd >= 0, "the runner never connected: %s; stderr: %s", sp_status_str(m->runner),
		  IT_ESC_ERR(m->runner));
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
		struct pollfd pf = { m->fd, POLLIN, 0 };
		long long left = end - sp_now_ms();
		ssize_t got;

		if (left <= 0 || poll(&pf, 1, (int)left) != 1)
			return -1;
		got = read(m->fd, m->in + m->inlen, sizeof m->in - m->inlen);
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
	if (m->fd >= 0)
		close(m->fd);
	if (m->lfd >= 0)
		close(m->lfd);
	sp_free(m->runner);
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

	mini_start(&m, it_tmpdir(), "chan", NULL);
	mini_accept(&m);
	type = mini_frame(&m, 10000, &pl, &len);
	cr_assert(type == SBX_F_HELLO, "expected the runner's hello, got type %d", type);
	snprintf(hello, sizeof hello, "{\"version\":%d,\"nonce\":\"%s\",\"pid\":%ld}", SBX_PROTO_VERSION, NONCE,
		 (long)getpid());
	snprintf(spawn, sizeof spawn, "{\"argv\":[\"%s\",\"cat\"],\"cwd\":\"/\",\"env\":[]}", HELPER);
	at = put_frame(buf, at, SBX_F_HELLO, hello, strlen(hello));
	at = put_frame(buf, at, SBX_F_SPAWN, spawn, strlen(spawn));
	at = put_frame(buf, at, SBX_F_DATA | SBX_STDIN, "typed\n", 6);
	at = put_frame(buf, at, SBX_F_CLOSE | SBX_STDIN, "", 0);
	cr_assert(write(m.fd, buf, at) == (ssize_t)at);
	sent = sp_now_ms();
	while (!exited && (type = mini_frame(&m, 2000 - (int)(sp_now_ms() - sent), &pl, &len)) >= 0) {
		if (type == (SBX_F_DATA | SBX_STDOUT) && outlen + len < sizeof out) {
			memcpy(out + outlen, pl, len);
			outlen += len;
		}
		cr_assert(type != SBX_F_ERROR && type != SBX_F_SPAWN_ERROR, "the runner refused: %s", pl);
		exited = type == SBX_F_EXIT;
	}
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

/* The socket is gone when the real runner connects: one line, which says
 * so without naming the channel (its path is half of the secret). */
Test(runner_hard, no_message_names_the_channel, .timeout = 60)
{
	char *dir = it_tmpdir(), *tmp, env[4200];
	char *sbx = sbx_with_wrapper(dir, "#!/bin/sh\n"
					  "IFS= read -r nonce && IFS= read -r sock || exit 3\n"
					  "rm -f \"$sock\"\n"
					  "printf '%s\\n%s\\n' \"$nonce\" \"$sock\" | exec ",
				     " \"$@\"\n");
	struct sp *p;

	cr_assert(asprintf(&tmp, "%s/t", dir) > 0 && mkdir(tmp, 0700) == 0);
	snprintf(env, sizeof env, "TMPDIR=%s", tmp);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.envp = it_env(ARGV(env), ARGV("XDG_RUNTIME_DIR")),
		.timeout_ms = 20000,
	});
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "runner exited before connecting: cannot connect to sbx's channel: No such file");
	cr_assert(!err_has(p, tmp) && !err_has(p, "/sbx-"), "a message names the channel: %s", IT_ESC_ERR(p));
	sp_free(p);
	free(tmp);
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

/* ------------------------------------ 4. the channel sbx left behind */

/* sbx killed before the runner connects: the runner finds nobody
 * listening, and removes the socket and its directory. */
Test(runner_hard, runner_removes_the_channel_of_a_killed_sbx, .timeout = 60)
{
	char *dir = it_tmpdir(), *tmp, env[4200], *go, *pidf, names[512], *pidtxt;
	char *sbx = sbx_with_wrapper(dir, "#!/bin/sh\n"
					  "IFS= read -r nonce && IFS= read -r sock || exit 3\n"
					  "d=$(dirname \"$0\")\n"
					  "echo $$ > \"$d/w.tmp\" && mv \"$d/w.tmp\" \"$d/wrapper.pid\"\n"
					  "while [ ! -e \"$d/go\" ]; do sleep 0.05; done\n"
					  "printf '%s\\n%s\\n' \"$nonce\" \"$sock\" | ",
				     " \"$@\"\necho done > \"$d/done\"\n");
	struct sp *p;
	long wrapper = 0;
	long long end;

	cr_assert(asprintf(&tmp, "%s/t", dir) > 0 && mkdir(tmp, 0700) == 0);
	cr_assert(asprintf(&go, "%s/go", dir) > 0 && asprintf(&pidf, "%s/wrapper.pid", dir) > 0);
	snprintf(env, sizeof env, "TMPDIR=%s", tmp);
	p = sp_start(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--", HELPER, "exit", "0"),
		.envp = it_env(ARGV(env), ARGV("XDG_RUNTIME_DIR")),
		.timeout_ms = 20000,
	});
	end = sp_now_ms() + 10000;
	while ((pidtxt = read_in(dir, "wrapper.pid")) == NULL && sp_now_ms() < end)
		sp_pump_for(p, 20);
	cr_assert(pidtxt != NULL, "the wrapper never started: %s", IT_ESC_ERR(p));
	wrapper = strtol(pidtxt, NULL, 10);
	cr_assert(channel_dirs(tmp, names, sizeof names) == 1, "channel directories: %s", names);
	sp_kill(p, SIGKILL);
	end = sp_now_ms() + 5000;
	while (!sp_has_exited(p) && sp_now_ms() < end)
		sp_pump_for(p, 20);
	cr_assert(sp_killed_by(p, SIGKILL), "sbx: %s", sp_status_str(p));
	free(it_write_file(dir, "go", "", 0644));
	cr_assert(it_wait_gone(wrapper, 10000), "the runner never ended");
	cr_assert(channel_dirs(tmp, names, sizeof names) == 0, "left behind: %s", names);
	sp_free(p);
	free(tmp);
	free(go);
	free(pidf);
	free(pidtxt);
}

/* A dead socket at the path the runner was given, in a directory made as
 * sbx makes it: removed, with the directory. */
static void abandoned(const char *dir, const char *sub, mode_t mode, bool sock, bool want_gone)
{
	char *d, *s, name[64], *path;
	struct stat st;
	struct mini m;
	int fd;

	snprintf(name, sizeof name, "0123456789abcdef0123456789abcdef");
	cr_assert(asprintf(&d, "%s/%s", dir, sub) > 0 && asprintf(&s, "%s/%s", d, name) > 0);
	cr_assert(mkdir(d, 0700) == 0 && chmod(d, mode) == 0, "mkdir %s: %s", d, strerror(errno));
	if (sock) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, s);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "bind %s", s);
		close(fd); /* bound, never listened: a channel nobody serves */
	} else {
		free(it_write_file(d, name, "not a socket", 0600));
	}
	/* The runner is told that path while our own socket listens elsewhere. */
	mini_start(&m, it_tmpdir(), "unused", s);
	sp_wait(m.runner);
	EXPECT_EXIT(m.runner, 1);
	cr_assert(it_buf_has(m.runner->err_buf, m.runner->err_len, "cannot connect to "),
		  "runner stderr: %s", IT_ESC_ERR(m.runner));
	path = want_gone ? d : s;
	if (want_gone)
		cr_assert(lstat(d, &st) < 0 && errno == ENOENT, "%s was left behind", d);
	else
		cr_assert(lstat(path, &st) == 0, "%s (mode %o, %s) was removed", path, (unsigned)mode,
			  sock ? "a socket" : "a file");
	mini_free(&m);
	free(d);
	free(s);
}

Test(runner_hard, runner_removes_only_what_sbx_made, .timeout = 60)
{
	char *dir = it_tmpdir(), *link, *target;

	abandoned(dir, "sbx-AbC123", 0700, true, true);
	abandoned(dir, "sbx-AbC124", 0711, true, true);
	/* Not as sbx makes it: left alone. */
	abandoned(dir, "sbx-AbC125", 0755, true, false);
	abandoned(dir, "sbx-AbC126", 0700, false, false);
	abandoned(dir, "not-sbx-dir", 0700, true, false);
	/* A symbolic link where the directory should be: not followed. */
	abandoned(dir, "target", 0700, true, false);
	cr_assert(asprintf(&link, "%s/sbx-Link12", dir) > 0 && asprintf(&target, "%s/target", dir) > 0);
	cr_assert(symlink(target, link) == 0);
	{
		struct mini m;
		char *told, *s;
		struct stat st;

		cr_assert(asprintf(&told, "%s/0123456789abcdef0123456789abcdef", link) > 0);
		cr_assert(asprintf(&s, "%s/0123456789abcdef0123456789abcdef", target) > 0);
		mini_start(&m, it_tmpdir(), "unused", told);
		sp_wait(m.runner);
		EXPECT_EXIT(m.runner, 1);
		cr_assert(lstat(s, &st) == 0 && S_ISSOCK(st.st_mode), "the socket behind the link was removed");
		cr_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was removed");
		mini_free(&m);
		free(told);
		free(s);
	}
	free(link);
	free(target);
}

/* ------------------------------------------- 5. TMPDIR unfit for it */

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

Test(runner_hard, tmpdir_too_long_falls_back_to_tmp, .timeout = 60)
{
	char *dir = it_tmpdir(), path[4096];
	size_t n = (size_t)snprintf(path, sizeof path, "%s/", dir);

	while (n < 200)
		path[n++] = 'd';
	path[n] = '\0';
	cr_assert(mkdir(path, 0700) == 0, "mkdir %s: %s", path, strerror(errno));
	runs_with_tmpdir(path);
}

Test(runner_hard, tmpdir_missing_falls_back_to_tmp, .timeout = 60)
{
	runs_with_tmpdir("/nonexistent-sbx-tmpdir");
	runs_with_tmpdir("relative/tmp");
}

/* Even /tmp unusable: one line with the real reason. */
Test(runner_hard, no_place_for_the_channel_says_why, .timeout = 60)
{
	char *unshare = tool("unshare"), *cmd;
	struct sp *p;

	need_root("a read-only /tmp needs a mount namespace");
	if (unshare == NULL)
		cr_skip_test("no unshare(1) here");
	cr_assert(asprintf(&cmd, "mount -t tmpfs -o ro none /tmp && exec '%s' run --same-user -- '%s' exit 0", SBX,
			   HELPER) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(unshare, "-m", "--propagation", "private", "sh", "-c", cmd),
		.envp = it_env(ARGV("TMPDIR=/nonexistent-sbx-tmpdir"), ARGV("XDG_RUNTIME_DIR")),
		.timeout_ms = 20000,
	});
	if (sp_exited_with(p, 1) && !err_has(p, "sbx"))
		cr_skip_test("cannot mount here: %s", IT_ESC_ERR(p));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "cannot create the channel: Read-only file system");
	sp_free(p);
	free(cmd);
}
