/* The syslog catcher: the test's own /dev/log, for the audit line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "devlog.h"
#include "accounts.h"

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

static struct devlog *the_devlog;

void devlog_release(void)
{
	struct devlog *dl = the_devlog;
	struct stat st;

	if (!dl)
		return;
	the_devlog = NULL;
	if (dl->reader > 0) {
		kill(dl->reader, SIGKILL);
		waitpid(dl->reader, NULL, 0);
	}
	/* Only our own socket: a logger may have taken the name over since. */
	if (lstat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == dl->ino)
		unlink("/dev/log");
	close(dl->pipe);
	close(dl->lock);
	for (size_t i = 0; i < dl->nmsgs; i++)
		free(dl->msgs[i]);
	free(dl->pend);
	free(dl);
}

/* A socket at path nobody receives on (a test that died holding it). */
static bool stale_socket(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool stale;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	stale = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

struct devlog *devlog_open(void)
{
	struct devlog *dl;
	struct sockaddr_un sa;
	struct stat st;
	int fd, pp[2];

	/* Before anything is allocated: a skip leaves the test at once. */
	need_root("only root may bind /dev/log");
	dl = it_keep(calloc(1, sizeof *dl)); /* a skip below leaves it behind */
	cr_assert(dl != NULL);
	dl->lock = open_root_file(DEVLOG_LOCK, O_RDWR | O_CREAT);
	cr_assert(dl->lock >= 0, "%s: %s", DEVLOG_LOCK, strerror(errno));
	cr_assert(lock_within(dl->lock, LOCK_EX, 60000), "%s: no lock within 60 s", DEVLOG_LOCK);
	if (lstat("/dev/log", &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || !stale_socket("/dev/log"))
			cr_skip_test("a system logger owns /dev/log: the audit line goes there, not to the test");
		unlink("/dev/log");
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		cr_skip_test("cannot bind /dev/log: %s", strerror(errno));
	the_devlog = dl;
	atexit(devlog_release);
	cr_assert(lstat("/dev/log", &st) == 0);
	dl->ino = st.st_ino;
	/* Any account's runner may write to it, so that silence means silence. */
	chmod("/dev/log", 0666);
	cr_assert(pipe2(pp, O_CLOEXEC) == 0);
	(void)fcntl(pp[1], F_SETPIPE_SZ, 1 << 20);
	dl->reader = fork();
	cr_assert(dl->reader >= 0);
	if (dl->reader == 0) {
		char buf[8192];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pp[0]);
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);
			uint32_t len;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				_exit(0);
			len = (uint32_t)n;
			if (write(pp[1], &len, sizeof len) != sizeof len || write(pp[1], buf, len) != (ssize_t)len)
				_exit(0);
		}
	}
	close(fd);
	close(pp[1]);
	dl->pipe = pp[0];
	fcntl(dl->pipe, F_SETFL, fcntl(dl->pipe, F_GETFL) | O_NONBLOCK);
	return dl;
}

/* Moves what the reader has forwarded into dl->msgs; waits up to ms. */
void devlog_pump(struct devlog *dl, int ms)
{
	struct pollfd pf = { dl->pipe, POLLIN, 0 };
	unsigned char buf[16384];
	ssize_t n;

	if (poll(&pf, 1, ms) <= 0)
		return;
	while ((n = read(dl->pipe, buf, sizeof buf)) > 0) {
		dl->pend = realloc(dl->pend, dl->plen + (size_t)n);
		cr_assert(dl->pend != NULL);
		memcpy(dl->pend + dl->plen, buf, (size_t)n);
		dl->plen += (size_t)n;
	}
	for (;;) {
		uint32_t len;

		if (dl->plen < sizeof len)
			break;
		memcpy(&len, dl->pend, sizeof len);
		if (dl->plen < sizeof len + len)
			break;
		if (dl->nmsgs < sizeof dl->msgs / sizeof dl->msgs[0])
			dl->msgs[dl->nmsgs++] = strndup((char *)dl->pend + sizeof len, len);
		memmove(dl->pend, dl->pend + sizeof len + len, dl->plen - sizeof len - len);
		dl->plen -= sizeof len + len;
	}
}

size_t devlog_count(struct devlog *dl, const char *needle, const char **first)
{
	size_t n = 0;

	for (size_t i = 0; i < dl->nmsgs; i++)
		if (strstr(dl->msgs[i], needle)) {
			if (n++ == 0 && first)
				*first = dl->msgs[i];
		}
	return n;
}

/* The first message containing needle, within ms; NULL if none came. */
const char *devlog_wait(struct devlog *dl, const char *needle, int ms)
{
	long long end = sp_now_ms() + ms;
	const char *hit = NULL;

	while (devlog_count(dl, needle, &hit) == 0) {
		long long left = end - sp_now_ms();

		if (left <= 0)
			return NULL;
		devlog_pump(dl, left > 50 ? 50 : (int)left);
	}
	return hit;
}

/* Everything sent to /dev/log before now has been read: a datagram of our
 * own, sent after, has come through. */
void devlog_sync(struct devlog *dl)
{
	static int seq;
	struct sockaddr_un sa;
	char mark[64];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(mark, sizeof mark, "sbxt-audit-sync-%ld-%d", (long)getpid(), ++seq);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	cr_assert(fd >= 0 && sendto(fd, mark, strlen(mark), 0, (struct sockaddr *)&sa, sizeof sa) >= 0,
		  "send to /dev/log: %s", strerror(errno));
	close(fd);
	cr_assert(devlog_wait(dl, mark, 5000) != NULL, "our own datagram never came through /dev/log");
}

/* The one audit line with `marker` (checked to be the only one), and its
 * common parts: priority, ident, and the argv at the end. */
const char *audit_line(struct devlog *dl, const char *marker, const char *argv_tail)
{
	const char *line = devlog_wait(dl, marker, 5000), *tail;
	size_t n;

	cr_assert(line != NULL, "no audit line with %s within 5 s", marker);
	devlog_sync(dl);
	n = devlog_count(dl, marker, NULL);
	cr_assert(n == 1, "%zu audit lines for one run: %s", n, line);
	cr_assert(strncmp(line, AUDIT_PRI, strlen(AUDIT_PRI)) == 0, "not LOG_AUTHPRIV|LOG_NOTICE: %s", line);
	cr_assert(strstr(line, " sbx-runner[") != NULL && strstr(line, "]: user="), "ident: %s", line);
	tail = line + strlen(line) - strlen(argv_tail);
	cr_assert(strlen(line) >= strlen(argv_tail) && strcmp(tail, argv_tail) == 0,
		  "the line should end in %s: %s", argv_tail, line);
	return line;
}
