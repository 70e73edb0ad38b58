/* The terminal a person has: a pseudo-terminal with a job-control shell on
 * it, driven by keys and read back with deadlines. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "term.h"
#include "accounts.h"
#include "itest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static char **term_env(const char *const *extra)
{
	static char sbx[4200], helper[4200];
	const char *base[] = { SYS_PATH, "HOME=/root", "TERM=xterm", "PS1=" TERM_PS1, "PS2=",
			       "HISTFILE=/dev/null", "LC_ALL=C", sbx, helper, NULL };
	size_t n = 0, m = 0;
	char **env;

	snprintf(sbx, sizeof sbx, "SBX=%s", it_sbx());
	snprintf(helper, sizeof helper, "H=%s", it_helper());
	while (base[n])
		n++;
	while (extra && extra[m])
		m++;
	env = it_keep(calloc(n + m + 1, sizeof *env));
	cr_assert(env != NULL, "out of memory");
	/* An extra replaces a base entry of its name: of two, getenv() would
	 * take the first and bash the last. */
	for (size_t i = 0; i < m; i++)
		env[i] = (char *)extra[i];
	for (size_t i = 0, k = m; i < n; i++) {
		size_t name = strcspn(base[i], "=") + 1;
		bool replaced = false;

		for (size_t j = 0; j < m; j++)
			replaced = replaced || strncmp(extra[j], base[i], name) == 0;
		if (!replaced)
			env[k++] = (char *)base[i];
	}
	return env;
}

static struct term *opened[8];

void term_fini(void)
{
	for (size_t i = 0; i < 8; i++) {
		term_close(opened[i]);
		opened[i] = NULL;
	}
}

static struct term *term_start(int rows, int cols, const char *const *argv, const char *const *env, uid_t uid,
			       gid_t gid)
{
	struct term *t = it_keep(calloc(1, sizeof *t));
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	char **envp = term_env(env);
	struct stat st;
	const char *name;
	int fd;

	cr_assert(t != NULL, "out of memory");
	for (size_t i = 0; i < 8; i++)
		if (!opened[i]) {
			opened[i] = t;
			break;
		}
	t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(t->master >= 0, "posix_openpt: %s", strerror(errno));
	cr_assert(grantpt(t->master) == 0 && unlockpt(t->master) == 0, "grantpt/unlockpt: %s", strerror(errno));
	name = ptsname(t->master);
	cr_assert(name != NULL, "ptsname: %s", strerror(errno));
	snprintf(t->pts, sizeof t->pts, "%s", name);
	cr_assert(ioctl(t->master, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ: %s", strerror(errno));
	cr_assert(stat(t->pts, &st) == 0, "stat %s: %s", t->pts, strerror(errno));
	t->rdev = (unsigned long)st.st_rdev;
	/* The terminal is its user's, as a login makes it. */
	cr_assert(chown(t->pts, uid, st.st_gid) == 0, "chown %s: %s", t->pts, strerror(errno));

	t->pid = fork();
	cr_assert(t->pid >= 0, "fork: %s", strerror(errno));
	if (t->pid == 0) {
		sigset_t none;

		/* The session leader of the terminal, as a login would make it:
		 * default dispositions and mask, so the shell's job control is
		 * the only thing deciding what a key does. */
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				signal(s, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (setsid() < 0)
			_exit(120);
		fd = open(t->pts, O_RDWR);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			_exit(121);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(122);
		if (fd > 2)
			close(fd);
		if (chdir("/") < 0)
			_exit(123);
		if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
			_exit(124);
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	cr_assert(fcntl(t->master, F_SETFL, fcntl(t->master, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK: %s",
		  strerror(errno));
	return t;
}

struct term *term_shell(int rows, int cols, const char *const *env)
{
	return term_shell_as(rows, cols, 0, 0, env);
}

struct term *term_shell_as(int rows, int cols, uid_t uid, gid_t gid, const char *const *env)
{
	static const char *const bash[] = { "/bin/bash", "--norc", "--noprofile", "--noediting", "-i", NULL };
	struct term *t = term_start(rows, cols, bash, env, uid, gid);
	int st;

	cr_assert(term_prompt(t, 10000, &st, NULL), "bash showed no prompt: %s", term_tail(t, 0));
	/* The modes a person's terminal starts with, whatever the kernel's
	 * defaults for a new pseudo-terminal are. */
	st = term_run(t, "stty sane", 10000, NULL);
	cr_assert(st == 0, "stty sane: status %d: %s", st, term_tail(t, 0));
	return t;
}

struct term *term_exec(int rows, int cols, const char *const *argv, const char *const *env)
{
	return term_start(rows, cols, argv, env, 0, 0);
}

void term_type(struct term *t, const char *keys)
{
	size_t len = strlen(keys), off = 0;
	long long end = sp_now_ms() + 5000;

	/* The master is non-blocking: a full input queue is waited out. */
	while (off < len) {
		ssize_t n = write(t->master, keys + off, len - off);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		cr_assert(n < 0 && (errno == EAGAIN || errno == EINTR), "typing: %s", strerror(errno));
		cr_assert(sp_now_ms() < end, "the terminal took no keys for 5 s");
		term_pump(t, 20);
	}
}

static void reap(struct term *t)
{
	if (!t->reaped && waitpid(t->pid, &t->status, WNOHANG) == t->pid)
		t->reaped = true;
}

void term_pump(struct term *t, int ms)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		long long left = end - sp_now_ms();
		struct pollfd p = { t->master, POLLIN, 0 };
		unsigned char buf[4096];
		ssize_t n;

		reap(t);
		if (left < 0 || t->eof)
			return;
		if (poll(&p, 1, (int)(left > 50 ? 50 : left)) <= 0)
			continue;
		n = read(t->master, buf, sizeof buf);
		if (n > 0)
			buf_add(&t->shown, buf, (size_t)n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			t->eof = true; /* EIO: no follower is open any more */
	}
}

static const char *find_from(const struct term *t, size_t from, const char *needle)
{
	if (!t->shown.p || from > t->shown.len)
		return NULL;
	return memmem(t->shown.p + from, t->shown.len - from, needle, strlen(needle));
}

bool term_wait(struct term *t, const char *needle, int ms)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		const char *at = find_from(t, t->mark, needle);

		if (at) {
			t->mark = (size_t)(at - (const char *)t->shown.p) + strlen(needle);
			return true;
		}
		if (sp_now_ms() >= end || t->eof)
			return false;
		term_pump(t, 20);
	}
}

bool term_prompt(struct term *t, int ms, int *status, char **out)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		size_t from = t->mark;
		const char *at;

		while ((at = find_from(t, from, "[sbxt:")) != NULL) {
			const char *p = at + 6, *base = (const char *)t->shown.p;
			char *num_end;
			long v = strtol(p, &num_end, 10);

			if (num_end > p && strncmp(num_end, "]> ", 3) == 0) {
				*status = (int)v;
				if (out)
					*out = term_text(t->shown.p + t->mark, (size_t)(at - base) - t->mark);
				t->mark = (size_t)(num_end + 3 - base);
				return true;
			}
			from = (size_t)(at - base) + 1;
		}
		if (sp_now_ms() >= end || t->eof)
			return false;
		term_pump(t, 20);
	}
}

int term_run(struct term *t, const char *line, int ms, char **out)
{
	char *shown = NULL, *typed = it_keep(malloc(strlen(line) + 2));
	size_t from = t->mark, len = strlen(line);
	int status = -1;

	cr_assert(typed != NULL, "out of memory");
	sprintf(typed, "%s\n", line);
	term_type(t, typed);
	cr_assert(term_prompt(t, ms, &status, &shown), "no prompt within %d ms after `%s`; the terminal showed: %s",
		  ms, line, term_tail(t, from));
	/* The terminal's echo of the line comes first. */
	if (strncmp(shown, line, len) == 0 && shown[len] == '\n')
		shown += len + 1;
	if (out)
		*out = shown;
	return status;
}

void term_resize(struct term *t, int rows, int cols)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	cr_assert(ioctl(t->master, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ: %s", strerror(errno));
}

bool term_is_raw(const struct term *t)
{
	struct termios tio;

	cr_assert(tcgetattr(t->master, &tio) == 0, "tcgetattr: %s", strerror(errno));
	return !(tio.c_lflag & (ICANON | ECHO));
}

bool term_wait_exit(struct term *t, int ms)
{
	long long end = sp_now_ms() + ms;

	while (!t->reaped && sp_now_ms() < end)
		term_pump(t, 20);
	/* What it wrote last may still be in the terminal. */
	if (t->reaped)
		term_pump(t, 100);
	return t->reaped;
}

const char *term_tail(const struct term *t, size_t from)
{
	if (from > t->shown.len)
		from = t->shown.len;
	return it_esc(t->shown.p ? t->shown.p + from : (const unsigned char *)"", t->shown.len - from);
}

void term_close(struct term *t)
{
	long pids[256];
	size_t n;

	if (!t || t->master < 0)
		return;
	/* sbx-runner leads a session of its own, so the terminal's session
	 * does not hold everything: what is below the leader goes too. */
	n = descendants(t->pid, pids, 256);
	for (size_t i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGKILL);
	kill(-t->pid, SIGKILL);
	kill(t->pid, SIGKILL);
	if (!t->reaped && waitpid(t->pid, &t->status, 0) == t->pid)
		t->reaped = true;
	close(t->master);
	t->master = -1;
}

char *term_text(const unsigned char *p, size_t len)
{
	char *s = it_keep(malloc(len + 1));
	size_t o = 0;

	cr_assert(s != NULL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
			continue;
		s[o++] = (char)p[i];
	}
	s[o] = '\0';
	return s;
}

char *term_field(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p++) {
		if ((p == text || isspace((unsigned char)p[-1])) && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t n = strcspn(v, " \t\r\n");
			char *r = it_keep(strndup(v, n));

			cr_assert(r != NULL, "out of memory");
			return r;
		}
	}
	return NULL;
}

const char *term_line_field(const char *text, const char *line, const char *key)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, line, n) == 0) {
			char *copy = it_keep(strndup(p, strcspn(p, "\n")));
			char *v;

			cr_assert(copy != NULL, "out of memory");
			v = term_field(copy, key);
			return v ? v : "";
		}
	}
	return "";
}

char proc_state(long pid)
{
	char path[64], buf[512];
	const char *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The name in parentheses may hold anything, so the state is after the
	 * last ")". */
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* The newest process whose command line (arguments joined by spaces)
 * starts with prefix: the command, not sbx, whose own command line holds
 * the command's after "--". */
static long proc_starting_with(const char *prefix)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long best = 0;
	unsigned long long best_start = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[300], buf[4096], stat[1024];
		const char *paren;
		unsigned long long start = 0;
		size_t n;
		FILE *f;
		long pid = strtol(de->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		if (!(f = fopen(path, "r")))
			continue;
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		for (size_t i = 0; i + 1 < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (n == 0 || strncmp(buf, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) != NULL) {
			n = fread(stat, 1, sizeof stat - 1, f);
			fclose(f);
			stat[n] = '\0';
			/* Field 22, starttime, counted from the state (field 3). */
			paren = strrchr(stat, ')');
			if (paren) {
				const char *q = paren + 2;

				for (int field = 3; field < 22 && q; field++) {
					q = strchr(q, ' ');
					if (q)
						q++;
				}
				if (q)
					start = strtoull(q, NULL, 10);
			}
		}
		if (!best || start >= best_start) {
			best = pid;
			best_start = start;
		}
	}
	closedir(d);
	return best;
}

long proc_wait_for(const char *prefix, int ms)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		long pid = proc_starting_with(prefix);

		if (pid > 0 || sp_now_ms() >= end)
			return pid;
		usleep(20000);
	}
}
