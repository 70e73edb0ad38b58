/*
 * sockets: what the fake runner (test/helper/sbx-fakerunner.c) leaves in
 * its directory, the Unix sockets a process holds, and the real runner
 * started on a socket pair by a test that plays sbx, for the tests of who
 * may talk to whom over the channel.
 */
#ifndef SBX_TEST_SOCKETS_H
#define SBX_TEST_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* dir/name, NUL-terminated, or NULL; the caller frees it. */
char *read_in(const char *dir, const char *name);
/* The pid the fake runner wrote to dir/fake-runner.pid, or 0. */
long fake_pid(const char *dir);
/* dir/fake-log, or "(no fake-log)" (leaked). */
char *fake_log(const char *dir);
/* The number after `key` in text, or 0. */
long number_after(const char *text, const char *key);

/* Whether a file exists (the marker a command that must not run would make). */
bool exists(const char *path);

/* The Unix-domain sockets `pid` holds open that someone else could find:
 * bound to a name (a path, or an abstract name) or listening, one line
 * each ("fd N: NAME [listening]") in a leaked string, "" when none.  A
 * socket pair's ends have neither. */
char *findable_sockets(long pid);
/* How many of `pid`'s descriptors 0..2 are sockets: bit n for stream n. */
unsigned std_sockets(long pid);

/* The real runner, started the way sbx starts it, by a test that plays
 * sbx: `argv` with one end of a new socket pair as its stdin, `secret`
 * already written into the other end, which the test keeps; stdout on
 * /dev/null, stderr captured; a session of its own.  The test made the
 * pair, so to the runner the test is its server. */
struct paired {
	pid_t pid;
	int fd;                 /* the test's end of the channel, blocking */
	int err;                /* the read end of the runner's stderr, -1 at EOF */
	unsigned char err_buf[16384];
	size_t err_len;
	bool reaped;
	int status;             /* raw waitpid status once reaped */
	char status_str[64];
};

/* Fails the test when it cannot start. */
struct paired *paired_start(const char *const *argv, const char *cwd, const char *secret);
/* Reads what the runner has written to stderr so far, for up to ms. */
void paired_pump(struct paired *r, int ms);
/* Waits up to ms for it to exit (its stderr read to the end); when it has
 * not, kills it and returns false. */
bool paired_wait(struct paired *r, int ms);
bool paired_exited_with(const struct paired *r, int code);
const char *paired_status(struct paired *r);
/* Kills it if it still runs, reaps it, closes everything. */
void paired_free(struct paired *r);

#endif
