/*
 * Helpers for the lifecycle tests (test_lifecycle.c) and the elevation
 * tests: the fake runner, pids printed by a command, the runner among sbx's
 * children, and a strict little JSON reader for --report files.
 *
 * The JSON reader is here instead of cJSON because the integration binary
 * is linked without it (it talks to sbx only through its binaries), and a
 * report check must not trust the library sbx itself writes with.
 *
 * Failures to set up (a missing fake runner, an unreadable directory) fail
 * the current Criterion test.  Strings marked "leaked" are never freed.
 */
#ifndef SBX_TEST_LIFECYCLE_H
#define SBX_TEST_LIFECYCLE_H

#include "itest.h"

#include <stdbool.h>
#include <stddef.h>

/* $SBX_FAKERUNNER or build/test/sbx-fakerunner, absolute. */
const char *lc_fakerunner(void);
/* A copy of sbx in dir with the fake runner as its sbx-runner, in `mode`;
 * returns the copy's malloc'ed path. */
char *lc_sbx_with_fakerunner(const char *dir, const char *mode);
/* Whole file, NUL-terminated, malloc'ed; NULL if it cannot be read. */
char *lc_read_file(const char *path, size_t *len);
/* Decimal numbers in buf, in order (the pids a command printed). */
size_t lc_numbers(const unsigned char *buf, size_t len, long *out, size_t max);
/* Waits up to ms for every pid to be gone; returns the first survivor, or
 * 0. Survivors are then SIGKILLed so one failing test leaves nothing
 * running for the next. */
long lc_survivor(const long *pids, size_t n, int ms);
/* The sbx-runner among sbx's children (sbx may have others one day), or 0. */
long lc_runner_of(long sbx);
/* Names in dir other than "." and "..", newline-separated (leaked). */
char *lc_list_dir(const char *dir);

/* ---- a strict JSON reader (RFC 8259), enough for a report ---- */

enum lc_jt { LC_JNULL, LC_JFALSE, LC_JTRUE, LC_JNUM, LC_JSTR, LC_JARR, LC_JOBJ };

struct lc_json {
	enum lc_jt t;
	char *str;               /* LC_JSTR: decoded, NUL-terminated (no NULs inside) */
	char *num;               /* LC_JNUM: the number's text */
	size_t n;                /* LC_JARR/LC_JOBJ: elements */
	char **keys;             /* LC_JOBJ */
	struct lc_json **vals;
};

/* Parses buf (which must be NUL-terminated at len) as exactly one JSON
 * value with optional surrounding white space. NULL and *why on error.
 * The value is never freed (a test process is short-lived). */
struct lc_json *lc_json_parse(const char *buf, size_t len, const char **why);
/* The member `key` of an object, or NULL. */
struct lc_json *lc_json_get(const struct lc_json *o, const char *key);
/* An integer (no fraction, no exponent) that fits a long long. */
bool lc_json_int(const struct lc_json *v, long long *out);
/* "null", "number", ..., or "missing" for NULL. */
const char *lc_json_type_name(const struct lc_json *v);

#endif
