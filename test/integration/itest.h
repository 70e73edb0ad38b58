/*
 * Shared pieces of the integration tests: where the binaries are, the byte
 * pattern the helper writes, temporary directories, and assertions that
 * print what the program actually did when they fail.
 */
#ifndef SBX_TEST_ITEST_H
#define SBX_TEST_ITEST_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "spawn.h"

/* Absolute paths: $SBX or build/sbx, $SBX_TESTHELPER or
 * build/test/sbx-testhelper. Missing binaries fail the test. */
const char *it_sbx(void);
const char *it_helper(void);

#define SBX it_sbx()
#define HELPER it_helper()
#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* sbx run --same-user -- sbx-testhelper ARGS..., default options. */
#define RUN_HELPER(...) \
	sp_run(&(struct sp_opts){ .argv = ARGV(SBX, "run", "--same-user", "--", HELPER, __VA_ARGS__) })

/* The helper's pattern (sbx-testhelper.c has the same generator). */
struct it_pattern {
	uint64_t state, word;
	unsigned left;
};
void it_pattern_init(struct it_pattern *p, uint64_t seed);
void it_pattern_fill(struct it_pattern *p, unsigned char *buf, size_t len);
unsigned char *it_pattern_alloc(uint64_t seed, size_t len);
/* Offset of the first byte of buf that differs from the pattern, or
 * len == expect_len ? -1 : the shorter length. */
long long it_pattern_mismatch(const unsigned char *buf, size_t len, uint64_t seed, size_t expect_len);
/* Asserts that buf is exactly `want` bytes of the pattern `seed`; `stream`
 * names it in the message. */
void it_expect_pattern(const unsigned char *buf, size_t len, uint64_t seed, size_t want, const char *stream);

/* What `sbx-testhelper argv` prints for these n arguments: "argc N", then
 * per argument its length and its bytes in hex (malloc'd, NUL-terminated;
 * *len, when not NULL, its length). */
char *it_expected_argv(const char *const *args, size_t n, size_t *len);

uint64_t it_fnv1a64(const void *buf, size_t len);

/* A whole file, NUL-terminated and malloc'ed, its length in *len; NULL when
 * it cannot be read (or memory runs out). */
char *it_read_file(const char *path, size_t *len);

/* Keeps p reachable until the process exits, and returns it.  For what
 * the helpers hand out and nobody frees (a test process is short-lived):
 * LeakSanitizer then tells those from real leaks, which SANITIZE=1 fails. */
void *it_keep(void *p);

/* A fresh directory (mode 0700) removed with its contents when the test
 * process exits. */
char *it_tmpdir(void);
/* Removes `path` and everything below it when the test process exits. */
void it_remove_at_exit(const char *path);
/* Write a file with the given mode; returns its malloc'ed path. */
char *it_write_file(const char *dir, const char *name, const char *content, unsigned mode);

/* Copy a file's bytes to a new file of mode 0700 (a copy of a program). */
void it_copy_file(const char *from, const char *to);

/* A copy of the test's environment with `set` ("NAME=VALUE") applied and
 * `unset` names removed; both lists NULL-terminated or NULL. Never freed:
 * the test process is short-lived. */
char **it_env(const char *const *set, const char *const *unset);

/* True once pid is gone or a zombie (a zombie still answers kill(pid, 0)).
 * it_wait_gone polls for up to ms milliseconds. */
bool it_process_gone(long pid);
bool it_wait_gone(long pid, int ms);

/* Children of `parent` (from /proc); returns how many were stored. */
size_t it_children(long parent, long *pids, size_t max);

/* Processes whose command line (arguments joined by spaces) contains
 * needle, from /proc (zombies have none); returns how many were stored. */
size_t procs_with(const char *needle, long *out, size_t max);
/* Polls until no process has needle in its command line, up to ms; returns
 * how many are left, stored in left. */
size_t procs_gone(const char *needle, long *left, size_t max, int ms);
/* The one of procs_with() that started last, or 0 (what `pgrep -n -f`
 * finds, without needing procps). */
long proc_newest_with(const char *needle);

/* Printable, escaped, truncated copy for failure messages (leaked). */
const char *it_esc(const void *buf, size_t len);
#define IT_ESC_OUT(p) it_esc((p)->out_buf, (p)->out_len)
#define IT_ESC_ERR(p) it_esc((p)->err_buf, (p)->err_len)

bool it_buf_eq(const unsigned char *buf, size_t len, const char *s);
bool it_buf_has(const unsigned char *buf, size_t len, const char *s);
size_t it_count_lines(const unsigned char *buf, size_t len);

#define EXPECT_EXIT(p, code)                                                         \
	cr_assert(sp_exited_with((p), (code)), "expected exit %d, got %s\nstdout: %s\nstderr: %s", \
		  (code), sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p))

#define EXPECT_SIGNAL(p, sig)                                                        \
	cr_assert(sp_killed_by((p), (sig)),                                              \
		  "expected death by signal %d (%s), got %s\nstdout: %s\nstderr: %s", (sig), \
		  strsignal(sig), sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p))

#define EXPECT_OUT(p, s)                                                             \
	cr_assert(it_buf_eq((p)->out_buf, (p)->out_len, (s)),                            \
		  "stdout: expected \"%s\"\n          got \"%s\"\nstderr: %s", it_esc((s), strlen(s)), \
		  IT_ESC_OUT(p), IT_ESC_ERR(p))

#define EXPECT_ERR(p, s)                                                             \
	cr_assert(it_buf_eq((p)->err_buf, (p)->err_len, (s)),                            \
		  "stderr: expected \"%s\"\n          got \"%s\"", it_esc((s), strlen(s)), IT_ESC_ERR(p))

/* stderr is exactly one line, "sbx: ...", containing `needle`. */
#define EXPECT_SBX_LINE(p, needle)                                                   \
	cr_assert((p)->err_len > 5 && memcmp((p)->err_buf, "sbx: ", 5) == 0 &&           \
			  (p)->err_buf[(p)->err_len - 1] == '\n' &&                              \
			  it_count_lines((p)->err_buf, (p)->err_len) == 1 &&                     \
			  it_buf_has((p)->err_buf, (p)->err_len, (needle)),                      \
		  "stderr should be one line \"sbx: ...%s...\", got \"%s\"", (needle), IT_ESC_ERR(p))

#endif
