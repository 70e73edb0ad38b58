/*
 * sbx-fakerunner: a deliberately bad sbx-runner, for the lifecycle tests.
 *
 * A test copies it as `sbx-runner` beside a copy of sbx in a fresh
 * directory, and writes the mode (one of the names below) to `fake-mode` in
 * that directory.  The mode comes from a file rather than the environment
 * because sbx does not promise to pass its environment to the runner (an
 * elevated launch would not).  sbx starts it the usual way:
 *
 *   sbx-runner --server-pid PID     (nonce, "\n", "stdin", "\n" on stdin,
 *                                    which is the channel itself)
 *
 * and the fake then speaks the protocol of docs/protocol.md by hand, badly.
 * "Connecting" is taking stdin as the channel: sbx learns who the runner
 * is only from its first bytes.
 *
 *   silent-never-connect     reads the nonce, never writes
 *   connect-then-silent      takes the channel, then neither sends nor reads
 *   hello-then-silent        a valid hello, then neither sends nor reads
 *   garbage                  4096 pseudo-random bytes right after connecting
 *   bad-hello-json           a hello frame whose payload is not JSON
 *   oversize                 after the handshake, a spawned header announcing
 *                            0x7fffffff bytes (over the 4 MiB maximum)
 *   truncated                after the handshake, a spawned header announcing
 *                            100 bytes, 10 of them, then exit
 *   wrong-nonce              a hello with another nonce
 *   wrong-version            a hello with version 2 (the previous one) and the
 *                            right nonce
 *   hello-names-another-pid  a hello with the right nonce that names its
 *                            parent's pid (sbx's) instead of its own
 *   exit-before-spawned      after the handshake, exit {"how":"exited",...}
 *   data-before-spawned      after the handshake, stdout data "leak\n"
 *   two-hellos               after the handshake, a second hello
 *   unknown-type             after the handshake, a frame of type 0x0c
 *   close-before-spawned     after the handshake, stdout close
 *   ack-before-spawned       after the handshake, a stdin ack for 1 byte
 *   exit-at-once-after-hello a valid hello, then exit at once
 *   spawned-then-close       spawned, stdout data "partial\n", then exit
 *                            (the channel closes mid-run, without exit)
 *   garbage-after-spawned    spawned, then 4096 pseudo-random bytes
 *   ack-overflow             spawned, then a stdin ack for 0xffffffff bytes
 *   data-after-close         spawned, stdout close, then stdout data
 *   exit-then-linger         spawned, exit {"how":"exited","code":5}, then
 *                            reads until sbx closes the channel and takes
 *                            2 s more to exit (a runner still writing its
 *                            audit line)
 *   foreign-first            forks a child that writes first on the channel
 *                            it inherited: a valid hello, with the right
 *                            nonce and its own pid; the fake itself never
 *                            writes (another process of the same uid, which
 *                            got hold of the runner's end, racing the runner)
 *   slow-spawned             after the handshake, sleeps 300 ms (a command
 *                            slow to start), then spawned, logs "ran",
 *                            stdout data "ran\n"; then waits 200 ms for a
 *                            signal frame from sbx (one sent meanwhile
 *                            included): with one, logs "signal N" and
 *                            answers exit as killed by N; else exit 7
 *
 * "After the handshake" means: a valid hello, and sbx's hello and spawn
 * frames received, so sbx is waiting for spawned.
 *
 * Two kinds of misbehaviour are kept apart on purpose.  The three silent
 * modes model a runner that is wedged: it never reads the channel and never
 * exits on its own, so only sbx can end it.  Every other mode misbehaves in
 * the protocol only: after its bad frame it reads and discards whatever sbx
 * sends and exits when sbx closes the channel, as a real runner would.
 *
 * Nothing is written to stderr, which sbx shares with the caller (the tests
 * count sbx's stderr lines).  What the fake did goes to `fake-log` in its
 * directory, and its pid to `fake-runner.pid`, for the tests to check.  Every
 * mode ends within 60 s whatever happens (alarm), so a broken sbx cannot
 * leave it behind for ever.
 *
 * Plain C11 + POSIX, no dependencies, like sbx-testhelper.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NONCE_HEX 64
#define LIFETIME_S 60
/* The version sbx speaks (src/protocol.h; the fake is built without src/,
 * so it says the number itself): every hello but wrong-version's. */
#define PROTO_VERSION 3

enum {
	F_HELLO = 0x01,
	F_SPAWN = 0x02,
	F_SPAWNED = 0x03,
	F_EXIT = 0x05,
	F_SIGNAL = 0x06,
	F_STDOUT = 0x11,
	F_STDOUT_CLOSE = 0x21,
	F_STDIN_ACK = 0x30,
	/* 0x08..0x0a are resize, stopped and continue since protocol 2,
	 * 0x0b spawn part since 3: the first number no version has used. */
	F_UNKNOWN = 0x0c,
};

static char dir[PATH_MAX];
static int log_fd = -1;

static void logf_(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* O_APPEND and one write per line: the log stays readable even if the
	 * test reads it while we write. */
	(void)!write(log_fd, line, (size_t)n);
}

static _Noreturn void quit(int code, const char *why)
{
	logf_("exit %d: %s", code, why);
	_exit(code);
}

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

/* The directory this executable is in: the test put fake-mode there. */
static void find_dir(const char *argv0)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	char *slash;

	if (n > 0) {
		buf[n] = '\0';
	} else if (argv0 && strlen(argv0) < sizeof buf) {
		strcpy(buf, argv0);
	} else {
		_exit(2);
	}
	slash = strrchr(buf, '/');
	if (!slash)
		strcpy(buf, ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
	strcpy(dir, buf);
}

static int open_in_dir(const char *name, int flags)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return open(path, flags | O_CLOEXEC, 0600);
}

static void read_mode(char *mode, size_t size)
{
	int fd = open_in_dir("fake-mode", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		quit(2, "no fake-mode file");
	n = read(fd, mode, size - 1);
	close(fd);
	if (n <= 0)
		quit(2, "empty fake-mode file");
	mode[n] = '\0';
	mode[strcspn(mode, "\r\n")] = '\0';
}

static void write_pid_file(void)
{
	int fd = open_in_dir("fake-runner.pid.tmp", O_WRONLY | O_CREAT | O_TRUNC);
	char buf[32], from[PATH_MAX + 64], to[PATH_MAX + 64];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());

	if (fd < 0 || write_all(fd, buf, (size_t)n) < 0)
		quit(2, "cannot write the pid file");
	close(fd);
	/* Renamed into place so a test never reads a half-written pid. */
	snprintf(from, sizeof from, "%s/fake-runner.pid.tmp", dir);
	snprintf(to, sizeof to, "%s/fake-runner.pid", dir);
	if (rename(from, to) < 0)
		quit(2, "cannot rename the pid file");
}

/* 64 hex digits, a newline, the channel's name and a newline on stdin,
 * within 10 s.  Returns the name (static).  Nothing follows until our
 * hello, so reading whatever is there takes only the two lines. */
static const char *read_secret(char nonce[NONCE_HEX + 1])
{
	static char buf[NONCE_HEX + 1 + 4096 + 2];
	size_t have = 0, lines = 0;
	char *nl;

	while (lines < 2) {
		struct pollfd p = { 0, POLLIN, 0 };
		int r = poll(&p, 1, 10000);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			quit(3, "no nonce on stdin");
		if (have >= sizeof buf - 1)
			quit(3, "no two lines on stdin");
		n = read(0, buf + have, sizeof buf - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			quit(3, "stdin ended before the nonce and name");
		for (ssize_t k = 0; k < n; k++)
			lines += buf[have + (size_t)k] == '\n';
		have += (size_t)n;
	}
	buf[have] = '\0';
	if (buf[NONCE_HEX] != '\n')
		quit(3, "nonce not followed by a newline");
	memcpy(nonce, buf, NONCE_HEX);
	nonce[NONCE_HEX] = '\0';
	nl = strchr(buf + NONCE_HEX + 1, '\n');
	*nl = '\0';
	logf_("nonce read");
	return buf + NONCE_HEX + 1;
}

/* The channel: stdin itself, as the name says. */
static int connect_to(const char *name)
{
	int fd;

	if (strcmp(name, "stdin") != 0) {
		logf_("channel name %s", name);
		quit(4, "the channel is not stdin");
	}
	fd = dup(0);
	if (fd < 0)
		quit(4, "dup failed");
	logf_("connected");
	return fd;
}

/* The 8-byte header (u32 BE length, type, three zero bytes) and the
 * payload, in one write as the protocol asks. */
static void send_raw_header(int fd, uint32_t len, unsigned type, const void *payload, size_t plen)
{
	unsigned char *buf = malloc(8 + plen);

	if (!buf)
		quit(5, "out of memory");
	buf[0] = (unsigned char)(len >> 24);
	buf[1] = (unsigned char)(len >> 16);
	buf[2] = (unsigned char)(len >> 8);
	buf[3] = (unsigned char)len;
	buf[4] = (unsigned char)type;
	buf[5] = buf[6] = buf[7] = 0;
	if (plen)
		memcpy(buf + 8, payload, plen);
	if (write_all(fd, buf, 8 + plen) < 0)
		logf_("write frame type 0x%02x: %s", type, strerror(errno));
	else
		logf_("sent type 0x%02x len %lu (%zu bytes of payload)", type, (unsigned long)len, plen);
	free(buf);
}

static void send_frame(int fd, unsigned type, const void *payload, size_t len)
{
	send_raw_header(fd, (uint32_t)len, type, payload, len);
}

static void send_json(int fd, unsigned type, const char *json)
{
	send_frame(fd, type, json, strlen(json));
}

static void send_hello_as(int fd, int version, const char *nonce, long pid)
{
	char json[256];

	snprintf(json, sizeof json, "{\"version\":%d,\"nonce\":\"%s\",\"pid\":%ld}", version, nonce, pid);
	send_json(fd, F_HELLO, json);
}

static void send_hello(int fd, int version, const char *nonce)
{
	send_hello_as(fd, version, nonce, (long)getpid());
}

/* Reads exactly len bytes within the deadline; 0 on success, -1 on EOF,
 * error or time out. */
static int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	unsigned char *p = buf;

	while (len > 0) {
		struct pollfd pf = { fd, POLLIN, 0 };
		int r = poll(&pf, 1, timeout_ms);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads sbx's frames, discarding payloads, until one of type `want`. */
static void await_frame(int fd, unsigned want)
{
	for (;;) {
		unsigned char h[8], junk[4096];
		uint32_t len;

		if (read_exact(fd, h, 8, 10000) < 0)
			quit(6, "channel ended or stalled while waiting for a frame from sbx");
		len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		logf_("got type 0x%02x len %lu", h[4], (unsigned long)len);
		if (len > 4u * 1024 * 1024)
			quit(6, "sbx sent an oversized frame");
		while (len > 0) {
			size_t k = len < sizeof junk ? len : sizeof junk;

			if (read_exact(fd, junk, k, 10000) < 0)
				quit(6, "channel ended in the middle of a frame from sbx");
			len -= (uint32_t)k;
		}
		if (h[4] == want)
			return;
	}
}

static void handshake(int fd, const char *nonce)
{
	send_hello(fd, PROTO_VERSION, nonce);
	await_frame(fd, F_HELLO);
	await_frame(fd, F_SPAWN);
}

/* A wedged runner: never reads, never exits by itself. */
static _Noreturn void stay_wedged(void)
{
	logf_("wedged");
	for (;;)
		pause();
}

/* A runner that misbehaved in the protocol but still goes away when sbx
 * closes the channel. */
static _Noreturn void drain_until_eof(int fd)
{
	char junk[4096];

	for (;;) {
		ssize_t n = read(fd, junk, sizeof junk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			quit(0, n == 0 ? "sbx closed the channel" : "channel read failed");
	}
}

/* splitmix64 from a fixed seed: the same "garbage" every run, so a failure
 * can be reproduced. */
static void send_garbage(int fd)
{
	unsigned char buf[4096];
	uint64_t state = 0x5b78ba6eULL;

	for (size_t i = 0; i < sizeof buf; i += 8) {
		uint64_t z = (state += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		for (int k = 0; k < 8; k++)
			buf[i + (size_t)k] = (unsigned char)(z >> (8 * k));
	}
	/* A first header that happens to be valid would make this test
	 * something else; with this seed the type byte is not a known type. */
	if (write_all(fd, buf, sizeof buf) < 0)
		logf_("write garbage: %s", strerror(errno));
	else
		logf_("sent %zu bytes of garbage (first header byte 4: 0x%02x)", sizeof buf, buf[4]);
}

static void send_spawned(int fd)
{
	char json[64];

	snprintf(json, sizeof json, "{\"pid\":%ld}", (long)getpid());
	send_json(fd, F_SPAWNED, json);
}

/* The first signal frame from sbx within ms milliseconds: its number, or
 * 0 when none came (other frames are read and skipped). */
static int await_signal(int fd, int ms)
{
	for (;;) {
		unsigned char h[8], body[4096];
		uint32_t len;
		const char *at;

		if (read_exact(fd, h, 8, ms) < 0)
			return 0;
		len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
		logf_("got type 0x%02x len %lu", h[4], (unsigned long)len);
		if (len >= sizeof body)
			quit(6, "sbx sent a frame larger than the fake expects after spawned");
		if (read_exact(fd, body, len, 10000) < 0)
			return 0;
		body[len] = '\0';
		if (h[4] == F_SIGNAL && (at = strstr((char *)body, "\"signal\":")) != NULL)
			return atoi(at + 9);
	}
}

/* The command takes longer to start than sbx's connect bound: sbx must
 * wait for the answer, and a signal it gets meanwhile is the command's. */
static _Noreturn void slow_spawned(int fd)
{
	struct timespec ts = { 0, 300 * 1000000L };
	char json[96];
	int sig;

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	send_spawned(fd);
	logf_("ran");
	send_frame(fd, F_STDOUT, "ran\n", 4);
	sig = await_signal(fd, 200);
	if (sig > 0) {
		logf_("signal %d", sig);
		snprintf(json, sizeof json, "{\"how\":\"signaled\",\"signal\":%d,\"core\":false}", sig);
	} else {
		snprintf(json, sizeof json, "{\"how\":\"exited\",\"code\":7}");
	}
	send_json(fd, F_EXIT, json);
	drain_until_eof(fd);
}

/* Another process, not the one sbx started, writes first and holds on.  It
 * stays in the fake's process group, so sbx ending the runner's group ends
 * it too; its own alarm bounds it otherwise (alarms are not inherited). */
static _Noreturn void foreign_first(const char *path, const char *nonce)
{
	pid_t pid = fork();

	if (pid < 0)
		quit(5, "fork failed");
	if (pid == 0) {
		alarm(LIFETIME_S);
		send_hello(connect_to(path), PROTO_VERSION, nonce);
		logf_("foreign pid %ld wrote first", (long)getpid());
		for (;;)
			pause();
	}
	logf_("forked foreign pid %ld", (long)pid);
	stay_wedged();
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	char mode[128], nonce[NONCE_HEX + 1];
	int fd, devnull;

	find_dir(argc > 0 ? argv[0] : NULL);
	/* sbx's stderr is the caller's: keep it clean. */
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	log_fd = open_in_dir("fake-log", O_WRONLY | O_CREAT | O_APPEND);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	alarm(LIFETIME_S);
	write_pid_file();

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--server-pid") == 0)
			path = argv[i + 1];
	if (!path)
		quit(2, "no --server-pid PID");
	read_mode(mode, sizeof mode);
	logf_("mode %s pid %ld", mode, (long)getpid());
	path = read_secret(nonce);

	if (strcmp(mode, "silent-never-connect") == 0)
		stay_wedged();
	if (strcmp(mode, "foreign-first") == 0)
		foreign_first(path, nonce);

	fd = connect_to(path);

	if (strcmp(mode, "connect-then-silent") == 0)
		stay_wedged();
	if (strcmp(mode, "hello-then-silent") == 0) {
		send_hello(fd, PROTO_VERSION, nonce);
		stay_wedged();
	}
	if (strcmp(mode, "garbage") == 0) {
		send_garbage(fd);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "bad-hello-json") == 0) {
		send_json(fd, F_HELLO, "{\"version\":2,\"nonce\":");
		drain_until_eof(fd);
	}
	if (strcmp(mode, "wrong-nonce") == 0) {
		char other[NONCE_HEX + 1];

		memcpy(other, nonce, sizeof other);
		other[0] = other[0] == '0' ? '1' : '0';
		send_hello(fd, PROTO_VERSION, other);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "wrong-version") == 0) {
		send_hello(fd, PROTO_VERSION - 1, nonce);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "hello-names-another-pid") == 0) {
		send_hello_as(fd, PROTO_VERSION, nonce, (long)getppid());
		drain_until_eof(fd);
	}
	if (strcmp(mode, "exit-at-once-after-hello") == 0) {
		send_hello(fd, PROTO_VERSION, nonce);
		quit(0, "exiting right after hello");
	}

	handshake(fd, nonce);

	if (strcmp(mode, "slow-spawned") == 0)
		slow_spawned(fd);
	if (strcmp(mode, "oversize") == 0) {
		send_raw_header(fd, 0x7fffffffu, F_SPAWNED, NULL, 0);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "truncated") == 0) {
		static const char part[] = "{\"pid\":123";

		send_raw_header(fd, 100, F_SPAWNED, part, 10);
		quit(0, "exiting in the middle of a frame");
	}
	if (strcmp(mode, "exit-before-spawned") == 0) {
		send_json(fd, F_EXIT, "{\"how\":\"exited\",\"code\":0}");
		drain_until_eof(fd);
	}
	if (strcmp(mode, "data-before-spawned") == 0) {
		send_frame(fd, F_STDOUT, "leak\n", 5);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "two-hellos") == 0) {
		send_hello(fd, PROTO_VERSION, nonce);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "unknown-type") == 0) {
		send_json(fd, F_UNKNOWN, "{}");
		drain_until_eof(fd);
	}
	if (strcmp(mode, "close-before-spawned") == 0) {
		send_frame(fd, F_STDOUT_CLOSE, NULL, 0);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "ack-before-spawned") == 0) {
		static const unsigned char ack[4] = { 0, 0, 0, 1 };

		send_frame(fd, F_STDIN_ACK, ack, sizeof ack);
		drain_until_eof(fd);
	}

	send_spawned(fd);

	if (strcmp(mode, "spawned-then-close") == 0) {
		send_frame(fd, F_STDOUT, "partial\n", 8);
		quit(0, "exiting mid-run");
	}
	if (strcmp(mode, "garbage-after-spawned") == 0) {
		send_garbage(fd);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "ack-overflow") == 0) {
		static const unsigned char ack[4] = { 0xff, 0xff, 0xff, 0xff };

		send_frame(fd, F_STDIN_ACK, ack, sizeof ack);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "data-after-close") == 0) {
		send_frame(fd, F_STDOUT_CLOSE, NULL, 0);
		send_frame(fd, F_STDOUT, "late\n", 5);
		drain_until_eof(fd);
	}
	if (strcmp(mode, "exit-then-linger") == 0) {
		char junk[4096];
		ssize_t n;

		send_json(fd, F_EXIT, "{\"how\":\"exited\",\"code\":5}");
		while ((n = read(fd, junk, sizeof junk)) > 0 || (n < 0 && errno == EINTR))
			;
		logf_("sbx closed the channel");
		sleep(2);
		quit(0, "lingered");
	}
	quit(2, "unknown mode");
}
