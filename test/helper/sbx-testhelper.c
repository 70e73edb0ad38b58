/*
 * sbx-testhelper: the command the integration tests run through sbx.
 *
 * Every subcommand prints something the test can check byte for byte, so a
 * difference between "run directly" and "run through sbx" shows up as a
 * failed comparison instead of a guess. Plain C11 + POSIX, no dependencies:
 * the helper has to be trusted more than the thing it tests.
 *
 *   argv ARG...            "argc N", then "LEN:HEX" per argument
 *   write out|err|both N SEED
 *                          N pattern bytes (see below) in chunks of varied
 *                          size; `both` writes N to each stream, interleaved,
 *                          stdout with SEED and stderr with SEED+1
 *   hash-stdin             reads stdin to EOF, prints "COUNT FNV1A64HEX"
 *   cat                    copies stdin to stdout until EOF
 *   exit N                 exits with status N (0..255)
 *   kill SIGNUM            dies by signal SIGNUM (default action restored)
 *   sleep MS               sleeps MS milliseconds, then exits 0
 *   fds                    "fd N" per open descriptor (targets on stderr)
 *   pgid                   "pid P pgid G"
 *   env                    the whole environment, one entry per line
 *   env NAME...            "NAME=VALUE" or "NAME is unset" per name
 *   cwd                    the working directory
 *   sigs                   "blocked:" and "ignored:" lists of signal numbers
 *   live out|err [MS]      writes "ready" (no newline), then waits for EOF on
 *                          stdin (at most 60 s) or sleeps MS ms, then "bye\n"
 *   yes sigpipe|epipe      writes "y\n" forever; with `epipe` SIGPIPE is
 *                          ignored and EPIPE is reported on stderr, exit 3
 *   ttyinfo                what the terminal looks like from here: per fd
 *                          0..2 "fdN tty=0|1 rdev=R|-", then "devtty=ok
 *                          rdev=R" or "devtty=ERRNONAME ms=T", and with a
 *                          terminal "fg=0|1 leader=0|1 size=ROWSxCOLS"
 *   fddevs                 "fd N rdev R|-" per open descriptor (R: st_rdev
 *                          of a character device, decimal)
 *   signals MS             counts SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 *                          SIGUSR1, SIGUSR2 and SIGCONT for MS ms: "ready",
 *                          one "got NAME N [size RxC]" line as each arrives,
 *                          then "counts NAME=N ..." and exit 0
 *   tick N MS              "tick I" N times, MS ms apart
 *
 * Exit status 99 means the helper itself was misused or failed, so it cannot
 * be mistaken for a status a test asked for.
 *
 * Pattern: splitmix64 seeded with SEED; each 64-bit output gives 8 bytes,
 * least significant first. The bytes do not depend on the chunk sizes, so
 * a test can regenerate them with the same few lines
 * (test/integration/itest.c must stay in step).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define HELPER_FAIL 99

extern char **environ;

static _Noreturn void fail(const char *what)
{
	int e = errno;

	fprintf(stderr, "sbx-testhelper: %s: %s\n", what, e ? strerror(e) : "failed");
	exit(HELPER_FAIL);
}

static _Noreturn void usage(const char *msg)
{
	fprintf(stderr, "sbx-testhelper: %s\n", msg);
	exit(HELPER_FAIL);
}

/* Full writes through short writes and EINTR; stdio is avoided for data so
 * that nothing sits in a user-space buffer when a test expects it live. */
static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put(int fd, const char *s)
{
	if (write_all(fd, s, strlen(s)) < 0)
		fail("write");
}

static uint64_t parse_u64(const char *s, uint64_t max, const char *what)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		usage(what);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v > max)
		usage(what);
	return (uint64_t)v;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0) {
		if (errno != EINTR)
			fail("nanosleep");
	}
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct pattern {
	uint64_t state;
	uint64_t word;
	unsigned left; /* bytes of `word` not handed out yet */
};

static void pattern_init(struct pattern *p, uint64_t seed)
{
	p->state = seed;
	p->word = 0;
	p->left = 0;
}

static void pattern_fill(struct pattern *p, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p->left == 0) {
			p->word = splitmix64(&p->state);
			p->left = 8;
		}
		buf[i] = (unsigned char)(p->word & 0xff);
		p->word >>= 8;
		p->left--;
	}
}

/* Chunk sizes from tiny to large, so sbx sees one-byte writes as well as
 * writes bigger than any pipe buffer. */
static size_t chunk_size(uint64_t *state)
{
	uint64_t r = splitmix64(state);

	switch (r & 3) {
	case 0: return 1 + (size_t)((r >> 8) % 16);
	case 1: return 1 + (size_t)((r >> 8) % 4096);
	case 2: return 1 + (size_t)((r >> 8) % 65536);
	default: return 1 + (size_t)((r >> 8) % (1u << 20));
	}
}

static int cmd_argv(int argc, char **argv)
{
	static const char hex[] = "0123456789abcdef";
	char head[64];

	snprintf(head, sizeof head, "argc %d\n", argc);
	put(1, head);
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		char *line = malloc(32 + 2 * len);
		size_t n;

		if (!line)
			fail("malloc");
		n = (size_t)snprintf(line, 32, "%zu:", len);
		for (size_t j = 0; j < len; j++) {
			unsigned char c = (unsigned char)argv[i][j];

			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 15];
		}
		line[n++] = '\n';
		if (write_all(1, line, n) < 0)
			fail("write");
		free(line);
	}
	return 0;
}

static int cmd_write(int argc, char **argv)
{
	struct pattern pat[2];
	uint64_t left[2], sizes, seed;
	int fds[2] = { 1, 2 };
	int both;
	unsigned char *buf;

	if (argc != 3)
		usage("usage: write out|err|both N SEED");
	both = strcmp(argv[0], "both") == 0;
	if (!both && strcmp(argv[0], "out") != 0 && strcmp(argv[0], "err") != 0)
		usage("write: stream must be out, err or both");
	left[0] = parse_u64(argv[1], UINT64_MAX, "write: bad N");
	seed = parse_u64(argv[2], UINT64_MAX, "write: bad SEED");
	left[1] = both ? left[0] : 0;
	if (!both && strcmp(argv[0], "err") == 0)
		fds[0] = 2;
	pattern_init(&pat[0], seed);
	pattern_init(&pat[1], seed + 1);
	sizes = seed ^ 0x5a5a5a5a5a5a5a5aULL;

	buf = malloc(1u << 20);
	if (!buf)
		fail("malloc");
	while (left[0] > 0 || left[1] > 0) {
		int s = (splitmix64(&sizes) & 1) ? 1 : 0;
		size_t n;

		if (left[s] == 0)
			s = !s;
		n = chunk_size(&sizes);
		if (n > left[s])
			n = (size_t)left[s];
		pattern_fill(&pat[s], buf, n);
		if (write_all(fds[s], buf, n) < 0)
			fail("write");
		left[s] -= n;
	}
	free(buf);
	return 0;
}

static int cmd_hash_stdin(void)
{
	static unsigned char buf[1 << 16];
	uint64_t h = 0xcbf29ce484222325ULL, count = 0;
	char line[64];

	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("read stdin");
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			h ^= buf[i];
			h *= 0x100000001b3ULL;
		}
		count += (uint64_t)n;
	}
	snprintf(line, sizeof line, "%" PRIu64 " %016" PRIx64 "\n", count, h);
	put(1, line);
	return 0;
}

static int cmd_cat(void)
{
	static unsigned char buf[1 << 16];

	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("read stdin");
		}
		if (n == 0)
			return 0;
		if (write_all(1, buf, (size_t)n) < 0)
			fail("write");
	}
}

static int cmd_kill(const char *arg)
{
	int sig = (int)parse_u64(arg, 64, "kill: bad signal number");
	struct rlimit nocore = { 0, 0 };
	struct sigaction sa;
	sigset_t set;

	/* The test wants the death, not a core file in someone's cwd. */
	setrlimit(RLIMIT_CORE, &nocore);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, &sa, NULL) < 0)
		fail("sigaction");
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (raise(sig) != 0)
		fail("raise");
	/* A signal whose default action is to ignore lands here. */
	fprintf(stderr, "sbx-testhelper: survived signal %d\n", sig);
	return HELPER_FAIL;
}

static int cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	char line[64];

	if (d) {
		int self = dirfd(d);
		struct dirent *de;
		int fds[1024], n = 0;

		while ((de = readdir(d)) != NULL) {
			char *end;
			long fd;

			if (de->d_name[0] == '.')
				continue;
			fd = strtol(de->d_name, &end, 10);
			if (*end != '\0' || fd == self || n == 1024)
				continue;
			fds[n++] = (int)fd;
		}
		closedir(d);
		/* readdir order is unspecified; sort so the output is stable. */
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
				int t = fds[j];

				fds[j] = fds[j - 1];
				fds[j - 1] = t;
			}
		for (int i = 0; i < n; i++) {
			char path[64], target[PATH_MAX];
			ssize_t len;

			snprintf(line, sizeof line, "fd %d\n", fds[i]);
			put(1, line);
			snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
			len = readlink(path, target, sizeof target - 1);
			if (len >= 0) {
				target[len] = '\0';
				fprintf(stderr, "fd %d -> %s\n", fds[i], target);
			}
		}
		return 0;
	}
	/* No /proc: probe every descriptor the limit allows. */
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (long fd = 0; fd < max; fd++) {
		if (fcntl((int)fd, F_GETFD) != -1) {
			snprintf(line, sizeof line, "fd %ld\n", fd);
			put(1, line);
		}
	}
	return 0;
}

static int cmd_env(int argc, char **argv)
{
	if (argc == 0) {
		for (char **e = environ; *e; e++) {
			put(1, *e);
			put(1, "\n");
		}
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		const char *v = getenv(argv[i]);

		put(1, argv[i]);
		if (v) {
			put(1, "=");
			put(1, v);
			put(1, "\n");
		} else {
			put(1, " is unset\n");
		}
	}
	return 0;
}

static int cmd_cwd(void)
{
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof buf))
		fail("getcwd");
	put(1, buf);
	put(1, "\n");
	return 0;
}

static int cmd_sigs(void)
{
	sigset_t mask;
	char num[16];

	if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0)
		fail("sigprocmask");
	put(1, "blocked:");
	for (int s = 1; s < 65; s++) {
		if (sigismember(&mask, s) == 1) {
			snprintf(num, sizeof num, " %d", s);
			put(1, num);
		}
	}
	put(1, "\nignored:");
	for (int s = 1; s < 65; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			snprintf(num, sizeof num, " %d", s);
			put(1, num);
		}
	}
	put(1, "\n");
	return 0;
}

static int cmd_live(int argc, char **argv)
{
	int fd;

	if (argc < 1 || argc > 2)
		usage("usage: live out|err [MS]");
	if (strcmp(argv[0], "out") == 0)
		fd = 1;
	else if (strcmp(argv[0], "err") == 0)
		fd = 2;
	else
		usage("live: stream must be out or err");
	put(fd, "ready");
	if (argc == 2) {
		sleep_ms(parse_u64(argv[1], 3600000, "live: bad MS"));
	} else {
		/* Waiting for EOF instead of sleeping makes the test exact: the
		 * helper cannot exit before the test has seen "ready". */
		char buf[4096];
		struct pollfd p = { 0, POLLIN, 0 };

		for (;;) {
			int r = poll(&p, 1, 60000);
			ssize_t n;

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fprintf(stderr, "sbx-testhelper: live: no EOF on stdin\n");
				return HELPER_FAIL;
			}
			n = read(0, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
		}
	}
	put(fd, "bye\n");
	return 0;
}

static int cmd_yes(const char *mode)
{
	static char buf[1 << 16];
	time_t start = time(NULL);
	uint64_t total = 0;
	int epipe;

	if (strcmp(mode, "epipe") == 0)
		epipe = 1;
	else if (strcmp(mode, "sigpipe") == 0)
		epipe = 0;
	else
		usage("yes: mode must be sigpipe or epipe");
	if (epipe) {
		signal(SIGPIPE, SIG_IGN);
	} else {
		sigset_t set;

		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, SIGPIPE);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	for (size_t i = 0; i + 1 < sizeof buf; i += 2) {
		buf[i] = 'y';
		buf[i + 1] = '\n';
	}
	/* Bounded, so a sbx that never passes the broken pipe on cannot leave
	 * a writer running for ever. */
	while (time(NULL) - start < 120) {
		if (write_all(1, buf, sizeof buf) < 0) {
			if (errno == EPIPE) {
				fprintf(stderr, "sbx-testhelper: EPIPE after %" PRIu64 " bytes\n", total);
				return 3;
			}
			fail("write");
		}
		total += sizeof buf;
	}
	fprintf(stderr, "sbx-testhelper: yes: stdout never broke\n");
	return HELPER_FAIL;
}

/* ------------------------------------------------------------ terminal */

static const char *errno_name(int e)
{
	switch (e) {
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENODEV: return "ENODEV";
	default: return "EOTHER";
	}
}

static void rdev_str(int fd, char *out, size_t cap)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode))
		snprintf(out, cap, "%lu", (unsigned long)st.st_rdev);
	else
		snprintf(out, cap, "-");
}

/* Everything a test compares between a run through sbx and a direct one,
 * one fact per field so that a difference names itself. */
static int cmd_ttyinfo(void)
{
	char line[256], dev[32];
	struct timespec t0, t1;
	int tty;

	for (int fd = 0; fd <= 2; fd++) {
		rdev_str(fd, dev, sizeof dev);
		snprintf(line, sizeof line, "fd%d tty=%d rdev=%s\n", fd, isatty(fd) ? 1 : 0, dev);
		put(1, line);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (tty < 0) {
		long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;

		snprintf(line, sizeof line, "devtty=%s ms=%ld\n", errno_name(errno), ms);
		put(1, line);
		return 0;
	}
	struct winsize ws = { 0 };
	pid_t fg = tcgetpgrp(tty);

	/* /dev/tty itself is device 5,0 for everyone: the terminal behind it
	 * is what TIOCGDEV says, in the kernel's encoding of a dev_t. */
	unsigned int kdev;

	if (ioctl(tty, TIOCGDEV, &kdev) == 0)
		snprintf(dev, sizeof dev, "%lu",
			 (unsigned long)makedev((kdev & 0xfff00u) >> 8, (kdev & 0xffu) | ((kdev >> 12) & 0xfff00u)));
	else
		snprintf(dev, sizeof dev, "unknown");
	if (ioctl(tty, TIOCGWINSZ, &ws) < 0)
		ws.ws_row = ws.ws_col = 0;
	snprintf(line, sizeof line, "devtty=ok rdev=%s\nfg=%d leader=%d size=%ux%u\n", dev,
		 fg == getpgrp() ? 1 : 0, getsid(0) == getpid() ? 1 : 0, (unsigned)ws.ws_row,
		 (unsigned)ws.ws_col);
	put(1, line);
	close(tty);
	return 0;
}

static int cmd_fddevs(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char line[64], dev[32];

	if (!d)
		fail("opendir /proc/self/fd");
	while ((de = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end != '\0' || fd == dirfd(d))
			continue;
		rdev_str((int)fd, dev, sizeof dev);
		snprintf(line, sizeof line, "fd %ld rdev %s\n", fd, dev);
		put(1, line);
	}
	closedir(d);
	return 0;
}

static const int counted[] = { SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT };
static const char *const counted_name[] = { "WINCH", "INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "CONT" };
#define NCOUNTED (sizeof counted / sizeof counted[0])
static volatile sig_atomic_t got[NCOUNTED];

static void count_sig(int sig)
{
	for (size_t i = 0; i < NCOUNTED; i++)
		if (counted[i] == sig)
			got[i]++;
}

/* The counts are read by the main loop, never printed from the handler;
 * a signal that arrives twice before the loop looks is still counted twice. */
static int cmd_signals(const char *arg)
{
	uint64_t ms = parse_u64(arg, 600000, "signals: bad MS");
	sig_atomic_t seen[NCOUNTED] = { 0 };
	struct sigaction sa;
	char line[256];

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = count_sig;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NCOUNTED; i++)
		if (sigaction(counted[i], &sa, NULL) < 0)
			fail("sigaction");
	put(1, "ready\n");
	for (uint64_t waited = 0; waited < ms; waited += 10) {
		sleep_ms(10);
		for (size_t i = 0; i < NCOUNTED; i++) {
			while (seen[i] < got[i]) {
				struct winsize ws = { 0 };
				int n = snprintf(line, sizeof line, "got %s %d", counted_name[i], (int)++seen[i]);

				if (counted[i] == SIGWINCH && ioctl(1, TIOCGWINSZ, &ws) == 0)
					snprintf(line + n, sizeof line - (size_t)n, " size %ux%u", (unsigned)ws.ws_row,
						 (unsigned)ws.ws_col);
				strcat(line, "\n");
				put(1, line);
			}
		}
	}
	strcpy(line, "counts");
	for (size_t i = 0; i < NCOUNTED; i++) {
		size_t n = strlen(line);

		snprintf(line + n, sizeof line - n, " %s=%d", counted_name[i], (int)got[i]);
	}
	strcat(line, "\n");
	put(1, line);
	return 0;
}

static int cmd_tick(const char *count, const char *gap)
{
	uint64_t n = parse_u64(count, 1000, "tick: bad N"), ms = parse_u64(gap, 60000, "tick: bad MS");
	char line[64];

	for (uint64_t i = 1; i <= n; i++) {
		if (i > 1)
			sleep_ms(ms);
		snprintf(line, sizeof line, "tick %llu\n", (unsigned long long)i);
		put(1, line);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage("usage: sbx-testhelper SUBCOMMAND [ARG...]");
	cmd = argv[1];
	argc -= 2;
	argv += 2;

	if (strcmp(cmd, "argv") == 0)
		return cmd_argv(argc, argv);
	if (strcmp(cmd, "write") == 0)
		return cmd_write(argc, argv);
	if (strcmp(cmd, "hash-stdin") == 0 && argc == 0)
		return cmd_hash_stdin();
	if (strcmp(cmd, "cat") == 0 && argc == 0)
		return cmd_cat();
	if (strcmp(cmd, "exit") == 0 && argc == 1)
		return (int)parse_u64(argv[0], 255, "exit: N must be 0..255");
	if (strcmp(cmd, "kill") == 0 && argc == 1)
		return cmd_kill(argv[0]);
	if (strcmp(cmd, "sleep") == 0 && argc == 1) {
		sleep_ms(parse_u64(argv[0], 3600000, "sleep: bad MS"));
		return 0;
	}
	if (strcmp(cmd, "fds") == 0 && argc == 0)
		return cmd_fds();
	if (strcmp(cmd, "pgid") == 0 && argc == 0) {
		char line[96];

		snprintf(line, sizeof line, "pid %ld pgid %ld\n", (long)getpid(), (long)getpgid(0));
		put(1, line);
		return 0;
	}
	if (strcmp(cmd, "env") == 0)
		return cmd_env(argc, argv);
	if (strcmp(cmd, "cwd") == 0 && argc == 0)
		return cmd_cwd();
	if (strcmp(cmd, "sigs") == 0 && argc == 0)
		return cmd_sigs();
	if (strcmp(cmd, "live") == 0)
		return cmd_live(argc, argv);
	if (strcmp(cmd, "yes") == 0 && argc == 1)
		return cmd_yes(argv[0]);
	if (strcmp(cmd, "ttyinfo") == 0 && argc == 0)
		return cmd_ttyinfo();
	if (strcmp(cmd, "fddevs") == 0 && argc == 0)
		return cmd_fddevs();
	if (strcmp(cmd, "signals") == 0 && argc == 1)
		return cmd_signals(argv[0]);
	if (strcmp(cmd, "tick") == 0 && argc == 2)
		return cmd_tick(argv[0], argv[1]);
	usage("unknown subcommand or wrong number of arguments");
	return HELPER_FAIL;
}
