#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include "itest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *resolve(const char *var, const char *fallback)
{
	const char *given = getenv(var);
	char *abs;

	if (!given || !*given)
		given = fallback;
	/* Absolute, because tests run sbx from other directories (-C, cwd). */
	abs = realpath(given, NULL);
	if (!abs)
		cr_assert_fail("%s: %s: %s (build it, or set %s)", var, given, strerror(errno), var);
	if (access(abs, X_OK) < 0)
		cr_assert_fail("%s: %s is not executable: %s", var, abs, strerror(errno));
	return abs;
}

const char *it_sbx(void)
{
	static const char *path;

	if (!path)
		path = resolve("SBX", "build/sbx");
	return path;
}

const char *it_helper(void)
{
	static const char *path;

	if (!path)
		path = resolve("SBX_TESTHELPER", "build/test/sbx-testhelper");
	return path;
}

/* splitmix64: must match sbx-testhelper.c. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void it_pattern_init(struct it_pattern *p, uint64_t seed)
{
	p->state = seed;
	p->word = 0;
	p->left = 0;
}

void it_pattern_fill(struct it_pattern *p, unsigned char *buf, size_t len)
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

unsigned char *it_pattern_alloc(uint64_t seed, size_t len)
{
	struct it_pattern pat;
	unsigned char *buf = malloc(len ? len : 1);

	cr_assert(buf != NULL, "out of memory for %zu bytes", len);
	it_pattern_init(&pat, seed);
	it_pattern_fill(&pat, buf, len);
	return buf;
}

long long it_pattern_mismatch(const unsigned char *buf, size_t len, uint64_t seed, size_t expect_len)
{
	struct it_pattern pat;
	unsigned char chunk[65536];
	size_t n = len < expect_len ? len : expect_len;

	it_pattern_init(&pat, seed);
	for (size_t off = 0; off < n; off += sizeof chunk) {
		size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;

		it_pattern_fill(&pat, chunk, k);
		if (memcmp(chunk, buf + off, k) != 0) {
			for (size_t i = 0; i < k; i++)
				if (chunk[i] != buf[off + i])
					return (long long)(off + i);
		}
	}
	return len == expect_len ? -1 : (long long)n;
}

uint64_t it_fnv1a64(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static char **tmpdirs;
static size_t ntmpdirs;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tmpdirs(void)
{
	for (size_t i = 0; i < ntmpdirs; i++)
		nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void *it_keep(void *p)
{
	static void **kept;
	static size_t n, cap;

	if (!p)
		return p;
	if (n == cap) {
		void **more = realloc(kept, (cap ? cap * 2 : 64) * sizeof *kept);

		if (!more)
			abort(); /* no assertion: the report hooks call this too */
		kept = more;
		cap = cap ? cap * 2 : 64;
	}
	kept[n++] = p;
	return p;
}

char *it_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl, *dir;

	if (!base || !*base)
		base = "/tmp";
	cr_assert(asprintf(&tmpl, "%s/sbx-itest.XXXXXX", base) > 0);
	dir = mkdtemp(tmpl);
	cr_assert(dir != NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
	/* realpath: the command reports its cwd resolved, compare like with like. */
	dir = realpath(tmpl, NULL);
	cr_assert(dir != NULL);
	free(tmpl);
	it_remove_at_exit(dir);
	return it_keep(dir);
}

void it_remove_at_exit(const char *path)
{
	if (ntmpdirs == 0)
		atexit(rm_tmpdirs);
	tmpdirs = realloc(tmpdirs, (ntmpdirs + 1) * sizeof *tmpdirs);
	cr_assert(tmpdirs != NULL);
	tmpdirs[ntmpdirs] = strdup(path);
	cr_assert(tmpdirs[ntmpdirs] != NULL);
	ntmpdirs++;
}

char *it_write_file(const char *dir, const char *name, const char *content, unsigned mode)
{
	char *path;
	int fd;
	size_t len = strlen(content);

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert(write(fd, content, len) == (ssize_t)len, "write %s: %s", path, strerror(errno));
	/* fchmod after writing: the umask must not decide the mode under test. */
	cr_assert(fchmod(fd, (mode_t)mode) == 0, "chmod %s: %s", path, strerror(errno));
	close(fd);
	return path;
}

void it_copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	char buf[65536];
	ssize_t n;

	cr_assert(in >= 0 && out >= 0, "copy %s -> %s: %s", from, to, strerror(errno));
	while ((n = read(in, buf, sizeof buf)) > 0)
		cr_assert(write(out, buf, (size_t)n) == n, "write %s: %s", to, strerror(errno));
	cr_assert(n == 0, "read %s: %s", from, strerror(errno));
	close(in);
	close(out);
}

/* Fields after the ")" that ends comm in /proc/PID/stat; NULL if gone. */
static char *stat_tail(long pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	char *paren;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren + 2 : NULL;
}

bool it_process_gone(long pid)
{
	char buf[1024], *tail;

	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return true;
	tail = stat_tail(pid, buf, sizeof buf);
	return !tail || *tail == 'Z' || *tail == 'X';
}

bool it_wait_gone(long pid, int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		if (it_process_gone(pid))
			return true;
		usleep(20000);
	}
	return it_process_gone(pid);
}

size_t it_children(long parent, long *pids, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char buf[1024], *tail, *end;
		long pid = strtol(de->d_name, &end, 10), ppid;
		char state;

		if (*end != '\0' || pid <= 0)
			continue;
		tail = stat_tail(pid, buf, sizeof buf);
		if (tail && sscanf(tail, "%c %ld", &state, &ppid) == 2 && ppid == parent)
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

static bool name_is(const char *entry, const char *name)
{
	size_t n = strcspn(name, "=");

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **it_env(const char *const *set, const char *const *unset)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	for (const char *const *s = set; s && *s; s++)
		n++;
	env = calloc(n + 1, sizeof *env);
	cr_assert(env != NULL);
	for (char **e = environ; *e; e++) {
		bool drop = false;

		for (const char *const *u = unset; u && *u && !drop; u++)
			drop = name_is(*e, *u);
		for (const char *const *s = set; s && *s && !drop; s++)
			drop = name_is(*e, *s);
		if (!drop)
			env[k++] = *e;
	}
	for (const char *const *s = set; s && *s; s++)
		env[k++] = (char *)*s;
	env[k] = NULL;
	return it_keep(env);
}

const char *it_esc(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t max = len > 600 ? 600 : len;
	char *out = malloc(max * 4 + 64), *o;

	if (!out)
		return "(out of memory)";
	o = out;
	for (size_t i = 0; i < max; i++) {
		unsigned char c = p[i];

		if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c == '\\' || c == '"') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			*o++ = (char)c;
		} else {
			o += sprintf(o, "\\x%02x", c);
		}
	}
	if (max < len)
		sprintf(o, "...(%zu bytes)", len);
	else
		*o = '\0';
	return it_keep(out);
}

bool it_buf_eq(const unsigned char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len == n && (n == 0 || memcmp(buf, s, n) == 0);
}

bool it_buf_has(const unsigned char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, s, n) == 0)
			return true;
	return n == 0;
}

size_t it_count_lines(const unsigned char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\n';
	if (len > 0 && buf[len - 1] != '\n')
		n++;
	return n;
}

/* Any file, /proc's included (a command line holds NULs: *len says where
 * it ends); see itest.h. */
char *it_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		ssize_t r;

		if (cap - n < 2) {
			char *more = realloc(buf, cap * 2);

			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* Processes whose command line contains needle (zombies have none). */
size_t procs_with(const char *needle, long *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char path[64], *cmd;
		size_t len;
		long pid = strtol(de->d_name, NULL, 10);

		if (pid <= 0 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		cmd = it_read_file(path, &len);
		if (!cmd)
			continue;
		for (size_t i = 0; i < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		if (len > 0 && memmem(cmd, len, needle, strlen(needle)))
			out[n++] = pid;
		free(cmd);
	}
	closedir(d);
	return n;
}

/* Polls until no process has needle in its command line, up to ms. */
size_t procs_gone(const char *needle, long *left, size_t max, int ms)
{
	long long end = sp_now_ms() + ms;
	size_t n;

	while ((n = procs_with(needle, left, max)) > 0 && sp_now_ms() < end)
		usleep(20000);
	return n;
}

long proc_newest_with(const char *needle)
{
	long pids[64], newest = 0;
	unsigned long long newest_start = 0;
	size_t n = procs_with(needle, pids, 64);

	for (size_t i = 0; i < n; i++) {
		char buf[1024], *tail = stat_tail(pids[i], buf, sizeof buf), *tok, *save = NULL;
		unsigned long long start = 0;
		int field = 3;

		/* starttime is field 22 of /proc/PID/stat, in clock ticks. */
		for (tok = tail ? strtok_r(tail, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save))
			if (field++ == 22) {
				start = strtoull(tok, NULL, 10);
				break;
			}
		if (!newest || start > newest_start || (start == newest_start && pids[i] > newest)) {
			newest = pids[i];
			newest_start = start;
		}
	}
	return newest;
}

void it_expect_pattern(const unsigned char *buf, size_t len, uint64_t seed, size_t want, const char *stream)
{
	long long at = it_pattern_mismatch(buf, len, seed, want);

	cr_assert(len == want, "%s: got %zu bytes, want %zu (first difference at %lld)", stream, len, want, at);
	cr_assert(at < 0, "%s: byte %lld differs from the pattern", stream, at);
}

char *it_expected_argv(const char *const *args, size_t n, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	size_t cap = 32;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		cap += 32 + 2 * strlen(args[i]);
	out = malloc(cap);
	cr_assert(out != NULL);
	o = out + sprintf(out, "argc %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(args[i]);

		o += sprintf(o, "%zu:", l);
		for (size_t j = 0; j < l; j++) {
			unsigned char ch = (unsigned char)args[i][j];

			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
		*o++ = '\n';
	}
	*o = '\0';
	if (len != NULL)
		*len = (size_t)(o - out);
	return out;
}
