#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setgroups, NSIG */
#endif

#include "spawn.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_TIMEOUT_MS 30000
#define READ_CHUNK (256 * 1024)

long long sp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A failed assertion ends the test without reaching sp_free(); whatever is
 * still running is killed when the test process exits. */
#define MAX_LIVE 64
static pid_t live[MAX_LIVE];

static void kill_live(void)
{
	for (int i = 0; i < MAX_LIVE; i++) {
		if (live[i] > 0)
			kill(-live[i], SIGKILL);
	}
}

static void track(pid_t pid, pid_t old)
{
	static bool registered;

	if (!registered) {
		atexit(kill_live);
		registered = true;
	}
	for (int i = 0; i < MAX_LIVE; i++) {
		if (live[i] == old) {
			live[i] = pid;
			return;
		}
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		cr_assert_fail("spawn: fcntl O_NONBLOCK: %s", strerror(errno));
}

static void cloexec_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		cr_assert_fail("spawn: pipe: %s", strerror(errno));
	if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0)
		cr_assert_fail("spawn: fcntl FD_CLOEXEC: %s", strerror(errno));
}

static bool in_list(const int *list, int terminator, int v)
{
	for (; list && *list != terminator; list++)
		if (*list == v)
			return true;
	return false;
}

/* Between fork and exec: async-signal-safe calls only. On failure the errno
 * goes back through errfd (close-on-exec, so a successful exec closes it and
 * the parent reads EOF). */
static _Noreturn void child(const struct sp_opts *o, int in_fd, int out_fd, int err_fd,
		  int null_fd, int errfd, int maxfd)
{
	struct sigaction sa;
	struct rlimit nocore = { 0, 0 };
	sigset_t mask;
	int high = 3, fd, e;

	setpgid(0, 0);
	/* Lift the descriptors still needed above every leak target first, so
	 * that no dup2 below can land on one of them. */
	for (const int *l = o->leak_fds; l && *l >= 0; l++)
		if (*l >= high)
			high = *l + 1;
	if ((fd = fcntl(errfd, F_DUPFD_CLOEXEC, high)) < 0)
		goto fail;
	errfd = fd;
	if ((fd = fcntl(null_fd, F_DUPFD_CLOEXEC, high)) < 0)
		goto fail;
	null_fd = fd;
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	/* dup2 clears FD_CLOEXEC on the copy: that is the leak we want. */
	for (const int *l = o->leak_fds; l && *l >= 0; l++)
		if (dup2(null_fd, *l) < 0)
			goto fail;
	for (fd = 3; fd < maxfd; fd++)
		if (fd != errfd && !in_list(o->leak_fds, -1, fd))
			close(fd);
	for (fd = 0; fd < 3; fd++)
		if (o->closed_std & (1u << fd))
			close(fd);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	for (const int *s = o->ignore; s && *s; s++)
		sigaction(*s, &sa, NULL);
	sigemptyset(&mask);
	for (const int *s = o->block; s && *s; s++)
		sigaddset(&mask, *s);
	sigprocmask(SIG_SETMASK, &mask, NULL);

	/* A signal death re-raised by mistake must not litter the tree. */
	setrlimit(RLIMIT_CORE, &nocore);

	if (o->drop_privileges) {
		if (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0)
			goto fail;
	}
	if (o->cwd && chdir(o->cwd) < 0)
		goto fail;
	execve(o->argv[0], (char *const *)o->argv, o->envp ? o->envp : environ);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof e);
	_exit(127);
}

struct sp *sp_start(const struct sp_opts *o)
{
	int inp[2] = { -1, -1 }, outp[2], errp[2], errpipe[2];
	int null_fd, e = 0;
	long maxfd = sysconf(_SC_OPEN_MAX);
	struct sp *p = calloc(1, sizeof *p);
	struct sigaction sa;
	ssize_t n;

	cr_assert(p != NULL, "spawn: out of memory");
	cr_assert(o->argv && o->argv[0], "spawn: no argv");
	/* Writing to a program that has already exited must be an error we
	 * can report, not a SIGPIPE that kills the test. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	cr_assert(null_fd >= 0, "spawn: /dev/null: %s", strerror(errno));
	if (o->stdin_mode != SP_IN_NULL)
		cloexec_pipe(inp);
	cloexec_pipe(outp);
	cloexec_pipe(errp);
	cloexec_pipe(errpipe);

	p->start_ms = sp_now_ms();
	p->deadline_ms = p->start_ms + (o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS);
	p->pid = fork();
	cr_assert(p->pid >= 0, "spawn: fork: %s", strerror(errno));
	if (p->pid == 0)
		child(o, o->stdin_mode == SP_IN_NULL ? null_fd : inp[0], outp[1], errp[1],
		      null_fd, errpipe[1], (int)maxfd);
	/* Set in the parent too, so a kill(-pid) right after fork cannot miss. */
	setpgid(p->pid, p->pid);
	track(p->pid, 0);

	close(null_fd);
	close_fd(&inp[0]);
	close(outp[1]);
	close(errp[1]);
	close(errpipe[1]);
	do
		n = read(errpipe[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	if (n == (ssize_t)sizeof e) {
		waitpid(p->pid, &p->status, 0);
		track(0, p->pid);
		close_fd(&inp[1]);
		close(outp[0]);
		close(errp[0]);
		p->in = p->out = p->err = -1;
		p->reaped = true;
		p->exec_errno = e;
		if (o->exec_may_fail)
			return p;
		cr_assert_fail("spawn: cannot start %s: %s", o->argv[0], strerror(e));
	}

	p->in = inp[1];
	p->out = outp[0];
	p->err = errp[0];
	if (p->in >= 0)
		set_nonblock(p->in);
	set_nonblock(p->out);
	set_nonblock(p->err);
	p->in_data = o->in;
	p->in_len = o->in ? o->in_len : 0;
	p->close_in_when_fed = o->stdin_mode == SP_IN_DATA;
	if (p->close_in_when_fed && p->in_len == 0)
		close_fd(&p->in);
	return p;
}

static void grow(unsigned char **buf, size_t *cap, size_t len, size_t need)
{
	size_t ncap = *cap ? *cap : READ_CHUNK;

	if (*cap - len >= need)
		return;
	while (ncap - len < need)
		ncap *= 2;
	*buf = realloc(*buf, ncap);
	cr_assert(*buf != NULL, "spawn: out of memory for %zu bytes of output", ncap);
	*cap = ncap;
}

static void drain(int *fd, unsigned char **buf, size_t *len, size_t *cap)
{
	/* Bounded, so a flood on one stream cannot starve the others. */
	for (int round = 0; round < 16; round++) {
		ssize_t n;

		grow(buf, cap, *len, READ_CHUNK);
		n = read(*fd, *buf + *len, *cap - *len);
		if (n > 0) {
			*len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close_fd(fd); /* EOF, or an error that ends the stream all the same */
		return;
	}
}

static void feed(struct sp *p)
{
	while (p->in >= 0 && p->in_off < p->in_len) {
		ssize_t n = write(p->in, p->in_data + p->in_off, p->in_len - p->in_off);

		if (n > 0) {
			p->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		p->in_errno = n < 0 ? errno : EIO;
		close_fd(&p->in);
		return;
	}
	if (p->in >= 0 && p->close_in_when_fed)
		close_fd(&p->in);
}

bool sp_has_exited(struct sp *p)
{
	if (!p->reaped) {
		pid_t r;

		do
			r = waitpid(p->pid, &p->status, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == p->pid) {
			p->reaped = true;
			p->end_ms = sp_now_ms();
		}
	}
	return p->reaped;
}

/* One round: wait at most `ms` for any of our pipes, move what is ready.
 * The poll slice is short so that an exit with pipes still open (held by
 * some leftover process) is noticed too. */
static void pump_once(struct sp *p, int ms)
{
	struct pollfd fds[3];
	int n = 0, in_i = -1, out_i = -1, err_i = -1;

	if (ms > 20)
		ms = 20;
	if (ms < 0)
		ms = 0;
	if (p->in >= 0 && p->in_off < p->in_len) {
		in_i = n;
		fds[n++] = (struct pollfd){ p->in, POLLOUT, 0 };
	}
	if (p->out >= 0) {
		out_i = n;
		fds[n++] = (struct pollfd){ p->out, POLLIN, 0 };
	}
	if (p->err >= 0) {
		err_i = n;
		fds[n++] = (struct pollfd){ p->err, POLLIN, 0 };
	}
	if (poll(fds, (nfds_t)n, ms) < 0 && errno != EINTR)
		cr_assert_fail("spawn: poll: %s", strerror(errno));
	if (in_i >= 0 && fds[in_i].revents)
		feed(p);
	if (out_i >= 0 && fds[out_i].revents)
		drain(&p->out, &p->out_buf, &p->out_len, &p->out_cap);
	if (err_i >= 0 && fds[err_i].revents)
		drain(&p->err, &p->err_buf, &p->err_len, &p->err_cap);
	sp_has_exited(p);
}

static int remaining(long long until)
{
	long long left = until - sp_now_ms();

	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

void sp_pump_for(struct sp *p, int ms)
{
	long long until = sp_now_ms() + ms;

	while (sp_now_ms() < until && (p->out >= 0 || p->err >= 0 || !p->reaped))
		pump_once(p, remaining(until));
}

static bool contains(const unsigned char *buf, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	if (nl == 0)
		return true;
	for (size_t i = 0; i + nl <= len; i++)
		if (buf[i] == (unsigned char)needle[0] && memcmp(buf + i, needle, nl) == 0)
			return true;
	return false;
}

bool sp_wait_for(struct sp *p, enum sp_stream s, const char *needle, int timeout_ms)
{
	long long until = sp_now_ms() + timeout_ms;

	for (;;) {
		const unsigned char *buf = s == SP_OUT ? p->out_buf : p->err_buf;
		size_t len = s == SP_OUT ? p->out_len : p->err_len;
		int fd = s == SP_OUT ? p->out : p->err;

		if (contains(buf, len, needle))
			return true;
		if (fd < 0 || sp_now_ms() >= until)
			return false;
		pump_once(p, remaining(until));
	}
}

bool sp_send(struct sp *p, const void *buf, size_t len, int timeout_ms)
{
	long long until = sp_now_ms() + timeout_ms;

	if (p->in < 0)
		return false;
	p->in_data = buf;
	p->in_len = len;
	p->in_off = 0;
	while (p->in >= 0 && p->in_off < p->in_len && sp_now_ms() < until)
		pump_once(p, remaining(until));
	bool done = p->in_off == p->in_len;
	/* Forget the caller's buffer: it may go out of scope now. */
	p->in_data = NULL;
	p->in_len = p->in_off = 0;
	return done;
}

static void kill_all(struct sp *p)
{
	/* The group first: it also holds whatever sbx started that stayed in it. */
	kill(-p->pid, SIGKILL);
	if (!p->reaped)
		kill(p->pid, SIGKILL);
}

void sp_wait(struct sp *p)
{
	while (!p->reaped || p->out >= 0 || p->err >= 0) {
		if (sp_now_ms() >= p->deadline_ms) {
			snprintf(p->timeout_what, sizeof p->timeout_what,
				 "after %lld ms: %s%s%s%s", sp_now_ms() - p->start_ms,
				 p->reaped ? "process exited but " : "process still running",
				 p->out >= 0 ? (p->reaped ? "stdout still open " : ", stdout open") : "",
				 p->err >= 0 ? (p->reaped ? "stderr still open" : ", stderr open") : "",
				 p->in >= 0 ? " (our stdin pipe still open)" : "");
			p->timed_out = true;
			kill_all(p);
			if (!p->reaped) {
				while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
					;
				p->reaped = true;
				p->end_ms = sp_now_ms();
			}
			close_fd(&p->out);
			close_fd(&p->err);
			break;
		}
		pump_once(p, remaining(p->deadline_ms));
	}
	close_fd(&p->in);
}

struct sp *sp_run(const struct sp_opts *o)
{
	struct sp *p = sp_start(o);

	sp_wait(p);
	return p;
}

void sp_close_in(struct sp *p)
{
	close_fd(&p->in);
}

void sp_close_out(struct sp *p)
{
	close_fd(&p->out);
}

void sp_kill(struct sp *p, int sig)
{
	if (!p->reaped)
		kill(p->pid, sig);
}

void sp_free(struct sp *p)
{
	if (!p)
		return;
	if (!p->reaped) {
		kill_all(p);
		while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
			;
	}
	track(0, p->pid);
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->err);
	free(p->out_buf);
	free(p->err_buf);
	free(p);
}

bool sp_exited_with(const struct sp *p, int code)
{
	return p->reaped && !p->timed_out && WIFEXITED(p->status) && WEXITSTATUS(p->status) == code;
}

bool sp_killed_by(const struct sp *p, int sig)
{
	return p->reaped && !p->timed_out && WIFSIGNALED(p->status) && WTERMSIG(p->status) == sig;
}

const char *sp_status_str(struct sp *p)
{
	if (p->timed_out)
		snprintf(p->status_str, sizeof p->status_str, "timed out %s", p->timeout_what);
	else if (!p->reaped)
		snprintf(p->status_str, sizeof p->status_str, "still running");
	else if (WIFEXITED(p->status))
		snprintf(p->status_str, sizeof p->status_str, "exited %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(p->status_str, sizeof p->status_str, "killed by signal %d (%s)%s",
			 WTERMSIG(p->status), strsignal(WTERMSIG(p->status)),
			 WCOREDUMP(p->status) ? ", core dumped" : "");
	else
		snprintf(p->status_str, sizeof p->status_str, "wait status 0x%x", p->status);
	return p->status_str;
}
