/* What the fake runner left behind, the sockets a process holds, and the
 * real runner on a socket pair of the test's. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sockets.h"
#include "lifecycle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *read_in(const char *dir, const char *name)
{
	char *path, *text;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	text = lc_read_file(path, NULL);
	free(path);
	return text;
}

long fake_pid(const char *dir)
{
	char *text = read_in(dir, "fake-runner.pid");
	long pid = text ? strtol(text, NULL, 10) : 0;

	free(text);
	return pid;
}

char *fake_log(const char *dir)
{
	char *log = read_in(dir, "fake-log");

	return it_keep(log ? log : strdup("(no fake-log)"));
}

/* The number after `key` in text, or 0. */
long number_after(const char *text, const char *key)
{
	const char *at = text ? strstr(text, key) : NULL;

	return at ? strtol(at + strlen(key), NULL, 10) : 0;
}

/* Whether a file exists (the marker a command that must not run would make). */
bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ------------------------------------------------ sockets of a process */

/* The line of /proc/net/unix for socket inode `ino`: its flags and name
 * (the rest of the line, "" when unnamed).  False when it is not there. */
static bool unix_entry(const char *table, unsigned long ino, unsigned long *flags, char *name, size_t cap)
{
	const char *line = strchr(table, '\n'); /* past the heading */

	while (line != NULL && *++line) {
		unsigned long f, i;
		int used = 0;

		/* Num RefCount Protocol Flags Type St Inode [Path] */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu%n", &f, &i, &used) == 2 && i == ino) {
			const char *p = line + used, *end = strchr(p, '\n');
			size_t n;

			while (*p == ' ')
				p++;
			n = end ? (size_t)(end - p) : strlen(p);
			if (n >= cap)
				n = cap - 1;
			memcpy(name, p, n);
			name[n] = '\0';
			*flags = f;
			return true;
		}
		line = strchr(line, '\n');
	}
	return false;
}

char *findable_sockets(long pid)
{
	char path[64], *table = lc_read_file("/proc/net/unix", NULL), *out = calloc(1, 1);
	struct dirent *de;
	DIR *d;

	cr_assert(table != NULL && out != NULL, "cannot read /proc/net/unix");
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	cr_assert((d = opendir(path)) != NULL, "opendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char link[PATH_MAX], lpath[400], name[PATH_MAX], *more;
		unsigned long ino, flags;
		ssize_t n;

		snprintf(lpath, sizeof lpath, "%s/%s", path, de->d_name);
		if ((n = readlink(lpath, link, sizeof link - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1 || !unix_entry(table, ino, &flags, name, sizeof name))
			continue;
		/* __SO_ACCEPTCON: a listening socket. */
		if (name[0] == '\0' && !(flags & 0x10000))
			continue;
		cr_assert(asprintf(&more, "%sfd %s: %s%s\n", out, de->d_name, name[0] ? name : "(no name)",
				   flags & 0x10000 ? " [listening]" : "") > 0);
		free(out);
		out = more;
	}
	closedir(d);
	free(table);
	return it_keep(out);
}

unsigned std_sockets(long pid)
{
	unsigned bits = 0;

	for (int i = 0; i < 3; i++) {
		char path[64];
		struct stat st;

		/* stat() follows the magic link to the open file itself. */
		snprintf(path, sizeof path, "/proc/%ld/fd/%d", pid, i);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			bits |= 1u << i;
	}
	return bits;
}

/* ------------------------------------------- the runner on a pair */

struct paired *paired_start(const char *const *argv, const char *cwd, const char *secret)
{
	struct paired *r = calloc(1, sizeof(*r));
	int sv[2], ep[2];
	size_t len = strlen(secret);

	cr_assert(r != NULL);
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s", strerror(errno));
	cr_assert(pipe2(ep, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	/* Ahead of the runner, as sbx does: it reads the two lines first. */
	cr_assert(write(sv[0], secret, len) == (ssize_t)len, "write the secret: %s", strerror(errno));
	r->pid = fork();
	cr_assert(r->pid >= 0, "fork: %s", strerror(errno));
	if (r->pid == 0) {
		struct sigaction sa = { .sa_handler = SIG_DFL };
		sigset_t none;
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				(void)sigaction(s, &sa, NULL);
		if (null < 0 || setsid() < 0 || dup2(sv[1], 0) < 0 || dup2(null, 1) < 0 || dup2(ep[1], 2) < 0 ||
		    (cwd != NULL && chdir(cwd) < 0))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	r->fd = sv[0];
	r->err = ep[0];
	cr_assert(fcntl(r->err, F_SETFL, O_NONBLOCK) == 0);
	return r;
}

void paired_pump(struct paired *r, int ms)
{
	long long end = sp_now_ms() + ms;

	while (r->err >= 0) {
		struct pollfd pf = { r->err, POLLIN, 0 };
		long long left = end - sp_now_ms();
		ssize_t n;

		if (poll(&pf, 1, left > 0 ? (int)left : 0) <= 0)
			return;
		n = read(r->err, r->err_buf + r->err_len, sizeof r->err_buf - 1 - r->err_len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || r->err_len + (size_t)n >= sizeof r->err_buf - 1) {
			close(r->err);
			r->err = -1;
			return;
		}
		r->err_len += (size_t)n;
		r->err_buf[r->err_len] = '\0';
		if (left <= 0)
			return;
	}
}

static bool reap(struct paired *r, int flags)
{
	pid_t got;

	if (r->reaped)
		return true;
	while ((got = waitpid(r->pid, &r->status, flags)) < 0 && errno == EINTR)
		;
	r->reaped = got == r->pid;
	return r->reaped;
}

bool paired_wait(struct paired *r, int ms)
{
	long long end = sp_now_ms() + ms;

	while (sp_now_ms() < end) {
		paired_pump(r, 10);
		if (reap(r, WNOHANG)) {
			paired_pump(r, 100);
			return true;
		}
	}
	kill(r->pid, SIGKILL);
	reap(r, 0);
	return false;
}

bool paired_exited_with(const struct paired *r, int code)
{
	return r->reaped && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

const char *paired_status(struct paired *r)
{
	if (!r->reaped)
		snprintf(r->status_str, sizeof r->status_str, "still running");
	else if (WIFEXITED(r->status))
		snprintf(r->status_str, sizeof r->status_str, "exited %d", WEXITSTATUS(r->status));
	else
		snprintf(r->status_str, sizeof r->status_str, "killed by signal %d", WTERMSIG(r->status));
	return r->status_str;
}

void paired_free(struct paired *r)
{
	if (r == NULL)
		return;
	if (!r->reaped) {
		kill(r->pid, SIGKILL);
		reap(r, 0);
	}
	if (r->fd >= 0)
		close(r->fd);
	if (r->err >= 0)
		close(r->err);
	free(r);
}
