/*
 * pty: a pseudo-terminal driver.  pty_run() runs a program as an account in
 * a session of its own whose controlling terminal is a pseudo-terminal the
 * test holds the master of, feeding stdin and collecting stdout and stderr
 * on pipes while it records what the terminal showed and types answers at
 * password prompts.  Every wait has a deadline; at it the program's process
 * group is killed and r->timed_out says so.  The buffers in a pty_run are
 * the caller's to free (or leak: a test process is short-lived).
 */
#ifndef SBX_TEST_PTY_H
#define SBX_TEST_PTY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A growing buffer, always NUL-terminated after len. */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

/* Appends; aborts on out of memory (no assertion: a process under test may
 * be running). */
void buf_add(struct buf *b, const void *data, size_t n);
bool buf_has(const struct buf *b, const char *s);
/* Last line of a buffer, without its newline (leaked). */
char *last_line(const struct buf *b);
/* Prompts in what the terminal showed: "assword" followed, on the same
 * line, by a colon ("[sudo] password for sbxt-pw: ", PAM's "Password: "). */
int count_prompts(const struct buf *b);

/* sbx run as an account, in a session of its own whose controlling
 * terminal is a pseudo-terminal the test holds the master of; stdin,
 * stdout and stderr are pipes to the test. */
struct pty_run {
	/* what to run and what to do */
	const char *const *argv;
	uid_t uid;
	gid_t gid;
	const unsigned char *in; /* all of it, then EOF */
	size_t in_len;
	const char *answer;      /* typed, with a newline, at every prompt */
	bool interrupt;          /* Ctrl-C at the first prompt instead */
	int timeout_ms;
	/* what happened */
	pid_t pid;
	struct buf tty, out, err;
	size_t in_off;
	int in_errno, type_errno;
	bool in_closed;
	int prompts;
	long at_prompt[32];      /* sbx's descendants at the first prompt */
	size_t n_at_prompt;
	bool reaped, timed_out, pipes_left_open;
	int status;
	long long start_ms, prompt_ms, end_ms;
	char desc[128];
};

/* Runs r to the end: until the program has exited and its stdout and
 * stderr are closed (or 3 s after it exited), or until the deadline, when
 * its process group is killed.  The program runs as r->uid/r->gid in "/",
 * with the environment of accounts.h's user_env(NULL). */
void pty_run(struct pty_run *r);
/* Everything about a run, for a failure message (leaked). */
const char *pty_report(const struct pty_run *r);
bool pty_exited_with(const struct pty_run *r, int code);

#endif
