/*
 * The lifecycle helpers (lifecycle.h): the fake runner, pids printed by a
 * command, the runner among sbx's children, and a strict little JSON reader
 * for --report files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "lifecycle.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $SBX_FAKERUNNER or build/test/sbx-fakerunner, absolute. */
const char *lc_fakerunner(void)
{
	static const char *path;
	const char *given;

	if (path)
		return path;
	given = getenv("SBX_FAKERUNNER");
	if (!given || !*given)
		given = "build/test/sbx-fakerunner";
	path = realpath(given, NULL);
	if (!path)
		cr_assert_fail("SBX_FAKERUNNER: %s: %s (build it, or set SBX_FAKERUNNER)", given,
			       strerror(errno));
	return path;
}

/* A copy of sbx in dir with the fake runner as its sbx-runner, in `mode`. */
char *lc_sbx_with_fakerunner(const char *dir, const char *mode)
{
	char *sbx, *runner;

	cr_assert(asprintf(&sbx, "%s/sbx", dir) > 0 && asprintf(&runner, "%s/sbx-runner", dir) > 0);
	it_copy_file(SBX, sbx);
	it_copy_file(lc_fakerunner(), runner);
	free(it_write_file(dir, "fake-mode", mode, 0644));
	free(runner);
	return it_keep(sbx);
}

/* Whole file, NUL-terminated; NULL if it cannot be read. */
char *lc_read_file(const char *path, size_t *len)
{
	size_t n;
	char *buf = it_read_file(path, &n);

	if (buf && len)
		*len = n;
	return buf;
}

/* Decimal numbers in buf, in order (the pids a command printed). */
size_t lc_numbers(const unsigned char *buf, size_t len, long *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max;) {
		long v = 0;

		if (!isdigit(buf[i])) {
			i++;
			continue;
		}
		while (i < len && isdigit(buf[i]))
			v = v * 10 + (buf[i++] - '0');
		out[n++] = v;
	}
	return n;
}

/* Waits up to ms for every pid to be gone; returns the first survivor, or
 * 0. Survivors are then SIGKILLed so one failing test leaves nothing
 * running for the next. */
long lc_survivor(const long *pids, size_t n, int ms)
{
	long long end = sp_now_ms() + ms;
	long left = 0;

	for (size_t i = 0; i < n; i++) {
		int rest = (int)(end - sp_now_ms());

		if (pids[i] > 1 && !it_wait_gone(pids[i], rest > 0 ? rest : 0) && !left)
			left = pids[i];
	}
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 1 && !it_process_gone(pids[i]))
			kill((pid_t)pids[i], SIGKILL);
	return left;
}

/* The sbx-runner among sbx's children (sbx may have others one day), or 0. */
long lc_runner_of(long sbx)
{
	long kids[16];
	size_t n = it_children(sbx, kids, 16);

	for (size_t i = 0; i < n; i++) {
		char path[64], *comm;

		snprintf(path, sizeof path, "/proc/%ld/comm", kids[i]);
		comm = lc_read_file(path, NULL);
		if (comm && strcmp(comm, "sbx-runner\n") == 0) {
			free(comm);
			return kids[i];
		}
		free(comm);
	}
	return 0;
}

/* Names in dir other than "." and "..", newline-separated (leaked). */
char *lc_list_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *out = strdup("");

	cr_assert(d != NULL, "opendir %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char *more;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		cr_assert(asprintf(&more, "%s%s\n", out, de->d_name) > 0);
		free(out);
		out = more;
	}
	closedir(d);
	return it_keep(out);
}

/* ---- a strict JSON reader (RFC 8259), enough for a report ---- */

struct lc_jp {
	const char *start, *s, *end;
	char err[160];
};

static void lc_jp_ws(struct lc_jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static struct lc_json *lc_jp_fail(struct lc_jp *p, const char *why)
{
	if (!p->err[0])
		snprintf(p->err, sizeof p->err, "%s at offset %td", why, p->s - p->start);
	return NULL;
}

static int lc_jp_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *lc_jp_string(struct lc_jp *p)
{
	size_t cap = 64, n = 0;
	char *out = malloc(cap);

	cr_assert(out != NULL);
	p->s++; /* the opening quote */
	for (;;) {
		unsigned char c;
		unsigned cp;

		if (n + 5 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			cr_assert(out != NULL);
		}
		if (p->s >= p->end) {
			lc_jp_fail(p, "unterminated string");
			return NULL;
		}
		c = (unsigned char)*p->s++;
		if (c == '"')
			break;
		if (c < 0x20) {
			lc_jp_fail(p, "control character in a string");
			return NULL;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		if (p->s >= p->end) {
			lc_jp_fail(p, "unterminated escape");
			return NULL;
		}
		switch (*p->s++) {
		case '"': out[n++] = '"'; continue;
		case '\\': out[n++] = '\\'; continue;
		case '/': out[n++] = '/'; continue;
		case 'b': out[n++] = '\b'; continue;
		case 'f': out[n++] = '\f'; continue;
		case 'n': out[n++] = '\n'; continue;
		case 'r': out[n++] = '\r'; continue;
		case 't': out[n++] = '\t'; continue;
		case 'u': break;
		default:
			lc_jp_fail(p, "bad escape");
			return NULL;
		}
		if (p->end - p->s < 4 || lc_jp_hex4(p->s, &cp) < 0) {
			lc_jp_fail(p, "bad \\u escape");
			return NULL;
		}
		p->s += 4;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			unsigned lo;

			if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u' ||
			    lc_jp_hex4(p->s + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
				lc_jp_fail(p, "lone surrogate");
				return NULL;
			}
			p->s += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			lc_jp_fail(p, "lone surrogate");
			return NULL;
		}
		if (cp == 0) {
			/* Legal JSON, but a report string with a NUL in it is a bug. */
			lc_jp_fail(p, "\\u0000 in a string");
			return NULL;
		}
		if (cp < 0x80) {
			out[n++] = (char)cp;
		} else if (cp < 0x800) {
			out[n++] = (char)(0xc0 | cp >> 6);
			out[n++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[n++] = (char)(0xe0 | cp >> 12);
			out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[n++] = (char)(0xf0 | cp >> 18);
			out[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
			out[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[n++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[n] = '\0';
	return out;
}

static struct lc_json *lc_jp_value(struct lc_jp *p, int depth);

static struct lc_json *lc_jp_new(enum lc_jt t)
{
	/* Kept: a parsed report lives as long as the test. */
	struct lc_json *v = it_keep(calloc(1, sizeof *v));

	cr_assert(v != NULL);
	v->t = t;
	return v;
}

static struct lc_json *lc_jp_container(struct lc_jp *p, int depth, int obj)
{
	struct lc_json *v = lc_jp_new(obj ? LC_JOBJ : LC_JARR);
	char close = obj ? '}' : ']';

	p->s++;
	lc_jp_ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct lc_json *item;

		lc_jp_ws(p);
		if (obj) {
			if (p->s >= p->end || *p->s != '"')
				return lc_jp_fail(p, "expected a member name");
			if (!(key = lc_jp_string(p)))
				return NULL;
			for (size_t i = 0; i < v->n; i++)
				if (strcmp(v->keys[i], key) == 0)
					return lc_jp_fail(p, "duplicate member name");
			lc_jp_ws(p);
			if (p->s >= p->end || *p->s != ':')
				return lc_jp_fail(p, "expected ':'");
			p->s++;
		}
		if (!(item = lc_jp_value(p, depth + 1)))
			return NULL;
		v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
		v->vals = realloc(v->vals, (v->n + 1) * sizeof *v->vals);
		cr_assert(v->keys && v->vals);
		v->keys[v->n] = key;
		v->vals[v->n++] = item;
		lc_jp_ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return v;
		}
		return lc_jp_fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static struct lc_json *lc_jp_value(struct lc_jp *p, int depth)
{
	static const struct { const char *word; enum lc_jt t; } words[] = {
		{ "null", LC_JNULL }, { "false", LC_JFALSE }, { "true", LC_JTRUE },
	};
	const char *start;
	struct lc_json *v;

	if (depth > 64)
		return lc_jp_fail(p, "nested too deeply");
	lc_jp_ws(p);
	if (p->s >= p->end)
		return lc_jp_fail(p, "expected a value");
	if (*p->s == '{' || *p->s == '[')
		return lc_jp_container(p, depth, *p->s == '{');
	if (*p->s == '"') {
		char *s = lc_jp_string(p);

		if (!s)
			return NULL;
		v = lc_jp_new(LC_JSTR);
		v->str = s;
		return v;
	}
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i].word);

		if ((size_t)(p->end - p->s) >= n && memcmp(p->s, words[i].word, n) == 0) {
			p->s += n;
			return lc_jp_new(words[i].t);
		}
	}
	/* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	start = p->s;
	if (p->s < p->end && *p->s == '-')
		p->s++;
	if (p->s < p->end && *p->s == '0') {
		p->s++;
	} else if (p->s < p->end && *p->s >= '1' && *p->s <= '9') {
		while (p->s < p->end && isdigit((unsigned char)*p->s))
			p->s++;
	} else {
		return lc_jp_fail(p, "expected a value");
	}
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		if (p->s >= p->end || !isdigit((unsigned char)*p->s))
			return lc_jp_fail(p, "bad number");
		while (p->s < p->end && isdigit((unsigned char)*p->s))
			p->s++;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (p->s >= p->end || !isdigit((unsigned char)*p->s))
			return lc_jp_fail(p, "bad number");
		while (p->s < p->end && isdigit((unsigned char)*p->s))
			p->s++;
	}
	v = lc_jp_new(LC_JNUM);
	v->num = strndup(start, (size_t)(p->s - start));
	return v;
}

/* Parses buf (which must be NUL-terminated at len) as exactly one JSON
 * value with optional surrounding white space. NULL and *why on error. */
struct lc_json *lc_json_parse(const char *buf, size_t len, const char **why)
{
	/* static: *why points into it after we return. */
	static struct lc_jp p;
	struct lc_json *v;

	memset(&p, 0, sizeof p);
	p.start = p.s = buf;
	p.end = buf + len;
	if (strlen(buf) != len) {
		*why = "NUL byte in the text";
		return NULL;
	}
	v = lc_jp_value(&p, 0);
	if (v) {
		lc_jp_ws(&p);
		if (p.s != p.end)
			v = lc_jp_fail(&p, "trailing bytes after the value");
	}
	*why = p.err;
	return v;
}

struct lc_json *lc_json_get(const struct lc_json *o, const char *key)
{
	if (!o || o->t != LC_JOBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->vals[i];
	return NULL;
}

/* An integer (no fraction, no exponent) that fits a long long. */
bool lc_json_int(const struct lc_json *v, long long *out)
{
	char *end;
	long long x;

	if (!v || v->t != LC_JNUM || strpbrk(v->num, ".eE"))
		return false;
	errno = 0;
	x = strtoll(v->num, &end, 10);
	if (errno || *end)
		return false;
	*out = x;
	return true;
}

const char *lc_json_type_name(const struct lc_json *v)
{
	static const char *const names[] = { "null", "false", "true", "number", "string", "array", "object" };

	return v ? names[v->t] : "missing";
}
