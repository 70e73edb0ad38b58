/* The pseudo-terminal driver: sbx run as an account in a session of its
 * own whose controlling terminal the test holds the master of. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "pty.h"
#include "accounts.h"
#include "lifecycle.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort(); /* no assertion here: the process under test is still running */
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

bool buf_has(const struct buf *b, const char *s)
{
	return b->len > 0 && it_buf_has(b->p, b->len, s);
}

/* Prompts in what the terminal showed: "assword" followed, on the same
 * line, by a colon ("[sudo] password for sbxt-pw: ", PAM's "Password: "). */
int count_prompts(const struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i + 7 <= b->len; i++) {
		if (memcmp(b->p + i, "assword", 7) != 0)
			continue;
		for (size_t j = i + 7; j < b->len && b->p[j] != '\n' && b->p[j] != '\r'; j++)
			if (b->p[j] == ':') {
				n++;
				break;
			}
	}
	return n;
}

/* Kills what a test that failed mid-run left (no assertion runs while the
 * child does, but a crash might). */
static pid_t pty_pid;

static void pty_kill(void)
{
	if (pty_pid > 0)
		kill(-pty_pid, SIGKILL);
}

/* Between fork and exec: async-signal-safe calls only. */
static _Noreturn void pty_child(const struct pty_run *r, const char *slave_name, int in, int out, int err,
				char *const *envp, int maxfd)
{
	struct rlimit nocore = { 0, 0 };
	struct sigaction sa;
	sigset_t none;
	int fd;

	/* A session of its own, whose first terminal becomes its controlling
	 * one; TIOCSCTTY for systems where opening it is not enough. */
	if (setsid() < 0)
		_exit(126);
	fd = open(slave_name, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	for (fd = 3; fd < maxfd; fd++)
		close(fd);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_CORE, &nocore);
	if (setgroups(0, NULL) < 0 || setgid(r->gid) < 0 || setuid(r->uid) < 0 || chdir("/") < 0)
		_exit(126);
	execve(r->argv[0], (char *const *)r->argv, envp);
	_exit(127);
}

static void nonblock(int fd)
{
	cr_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK: %s", strerror(errno));
}

/* Reads what is there; false at EOF or on an error other than EAGAIN. */
static bool take(int fd, struct buf *b)
{
	unsigned char chunk[16384];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n > 0) {
			buf_add(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void close_at(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Types s on the terminal. */
static void type_in(struct pty_run *r, int master, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	do
		n = write(master, s, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len && r->type_errno == 0)
		r->type_errno = n < 0 ? errno : EIO;
}

/* Runs r to the end: until sbx has exited and its stdout and stderr are
 * closed (or 3 s after it exited), or until the deadline, when sbx's
 * process group is killed. */
void pty_run(struct pty_run *r)
{
	int master, slave, inp[2], outp[2], errp[2], in, out, err;
	long maxfd = sysconf(_SC_OPEN_MAX);
	char **envp = user_env(NULL), *slave_name, *answer = NULL;
	struct sigaction sa;
	long long deadline;

	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	if (r->answer)
		cr_assert(asprintf(&answer, "%s\n", r->answer) > 0);
	/* A write to sbx's stdin after it exited must be an error, not death. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(master >= 0, "posix_openpt: %s", strerror(errno));
	cr_assert(grantpt(master) == 0 && unlockpt(master) == 0, "grantpt/unlockpt: %s", strerror(errno));
	cr_assert((slave_name = ptsname(master)) != NULL, "ptsname: %s", strerror(errno));
	slave_name = strdup(slave_name);
	/* Ours stays open, so that the master never reads as hung up while
	 * no process of the run has the terminal open. */
	slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(slave >= 0, "%s: %s", slave_name, strerror(errno));
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0,
		  "pipe2: %s", strerror(errno));

	if (pty_pid == 0)
		atexit(pty_kill);
	r->start_ms = sp_now_ms();
	deadline = r->start_ms + r->timeout_ms;
	r->pid = fork();
	cr_assert(r->pid >= 0, "fork: %s", strerror(errno));
	if (r->pid == 0)
		pty_child(r, slave_name, inp[0], outp[1], errp[1], envp, (int)maxfd);
	pty_pid = r->pid;
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	in = inp[1];
	out = outp[0];
	err = errp[0];
	nonblock(master);
	nonblock(in);
	nonblock(out);
	nonblock(err);

	/* No assertions from here until the child is reaped. */
	for (;;) {
		struct pollfd pf[4];
		long long now = sp_now_ms(), until;
		int npf = 0, seen;

		if (!r->reaped) {
			pid_t w = waitpid(r->pid, &r->status, WNOHANG);

			if (w == r->pid) {
				r->reaped = true;
				r->end_ms = now;
			}
		}
		if (r->reaped && out < 0 && err < 0)
			break;
		if (r->reaped && now >= r->end_ms + 3000) {
			r->pipes_left_open = true;
			break;
		}
		if (now >= deadline) {
			r->timed_out = true;
			snprintf(r->desc, sizeof r->desc, "%s%s%s", r->reaped ? "" : "sbx still running; ",
				 out >= 0 ? "stdout open; " : "", err >= 0 ? "stderr open" : "");
			break;
		}
		if (in >= 0 && r->in_off == r->in_len) {
			close_at(&in);
			r->in_closed = true;
		}
		pf[npf++] = (struct pollfd){ master, POLLIN, 0 };
		if (out >= 0)
			pf[npf++] = (struct pollfd){ out, POLLIN, 0 };
		if (err >= 0)
			pf[npf++] = (struct pollfd){ err, POLLIN, 0 };
		if (in >= 0)
			pf[npf++] = (struct pollfd){ in, POLLOUT, 0 };
		/* Short waits while sbx runs: its exit is polled for. */
		until = r->reaped ? r->end_ms + 3000 : now + 20;
		if (until > deadline)
			until = deadline;
		(void)poll(pf, (nfds_t)npf, until > now ? (int)(until - now) : 0);

		(void)take(master, &r->tty);
		if (out >= 0 && !take(out, &r->out))
			close_at(&out);
		if (err >= 0 && !take(err, &r->err))
			close_at(&err);
		while (in >= 0 && r->in_off < r->in_len) {
			ssize_t n = write(in, r->in + r->in_off, r->in_len - r->in_off);

			if (n > 0) {
				r->in_off += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN) {
				r->in_errno = errno;
				close_at(&in);
			}
			break;
		}

		seen = count_prompts(&r->tty);
		while (r->prompts < seen) {
			if (r->prompts++ == 0) {
				r->prompt_ms = sp_now_ms();
				r->n_at_prompt = descendants(r->pid, r->at_prompt, 32);
				if (r->interrupt) {
					type_in(r, master, "\x03");
					continue;
				}
			}
			if (answer)
				type_in(r, master, answer);
		}
	}
	if (!r->reaped) {
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
			;
		r->reaped = true;
		r->end_ms = sp_now_ms();
	}
	(void)take(master, &r->tty);
	pty_pid = 0;
	/* The buffers are the test's to read until it ends. */
	it_keep(r->tty.p);
	it_keep(r->out.p);
	it_keep(r->err.p);
	close_at(&in);
	close_at(&out);
	close_at(&err);
	close(slave);
	close(master);
	free(answer);
	free(slave_name);
}

/* Everything about a run, for a failure message (leaked). */
const char *pty_report(const struct pty_run *r)
{
	char how[64], *s;

	if (r->timed_out)
		snprintf(how, sizeof how, "timed out after %d ms", r->timeout_ms);
	else if (WIFEXITED(r->status))
		snprintf(how, sizeof how, "exited %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	else
		snprintf(how, sizeof how, "status 0x%x", (unsigned)r->status);
	cr_assert(asprintf(&s,
			   "sbx %s after %lld ms%s%s; %d prompt(s)\n"
			   "terminal: \"%s\"\nstdout: %s\nstderr: %s",
			   how, r->end_ms - r->start_ms, r->timed_out ? " " : "", r->desc, r->prompts,
			   it_esc(r->tty.p, r->tty.len), it_esc(r->out.p, r->out.len), it_esc(r->err.p, r->err.len)) > 0);
	return s;
}

bool pty_exited_with(const struct pty_run *r, int code)
{
	return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

/* Last line of a buffer, without its newline (leaked). */
char *last_line(const struct buf *b)
{
	size_t end = b->len, start;

	if (end > 0 && b->p[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && b->p[start - 1] != '\n')
		start--;
	return b->len ? strndup((const char *)b->p + start, end - start) : strdup("");
}
