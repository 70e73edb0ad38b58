/*
 * spawn: run a program with its stdin, stdout and stderr on pipes, for the
 * integration tests.
 *
 * One poll() loop feeds stdin and drains both outputs together, so a program
 * that writes megabytes to both streams while its stdin is still being fed
 * cannot deadlock against the test. Every wait has a deadline; when it
 * passes, the spawned process group is killed with SIGKILL and the result
 * says so (sp->timed_out), and the test fails instead of hanging.
 *
 * The spawned program gets its own process group (so a timeout can kill
 * whatever it left behind in it), default signal dispositions, an empty
 * signal mask (unless sp_opts says otherwise), RLIMIT_CORE 0, and no
 * descriptors besides 0, 1, 2 and sp_opts.leak_fds.
 *
 * Ownership: sp_start()/sp_run() return a struct sp the caller releases with
 * sp_free(), which also kills and reaps a process still running. Setup
 * failures (pipe, fork, exec of argv[0]) fail the current Criterion test.
 */
#ifndef SBX_TEST_SPAWN_H
#define SBX_TEST_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sp_stdin {
	SP_IN_DATA = 0, /* write sp_opts.in, then close: the program sees EOF */
	SP_IN_NULL,     /* /dev/null */
	SP_IN_OPEN,     /* write sp_opts.in, keep the pipe open until sp_close_in() */
};

enum sp_stream { SP_OUT = 1, SP_ERR = 2 };

struct sp_opts {
	const char *const *argv;  /* argv[0] is executed as given, no PATH search */
	char *const *envp;        /* NULL: the test's own environment */
	const char *cwd;          /* NULL: the test's own cwd */
	enum sp_stdin stdin_mode;
	const void *in;           /* not copied: must outlive the struct sp */
	size_t in_len;
	const int *leak_fds;      /* -1-terminated descriptor numbers left open
	                             without FD_CLOEXEC in the program (/dev/null) */
	unsigned closed_std;      /* bit n set: descriptor n (0..2) is closed
	                             in the program instead of a pipe */
	const int *ignore;        /* 0-terminated signals set to SIG_IGN */
	const int *block;         /* 0-terminated signals blocked */
	bool drop_privileges;     /* setgid(gid), setgroups(0), setuid(uid) */
	uid_t uid;
	gid_t gid;
	int timeout_ms;           /* whole lifetime; 0 means 30000 */
	bool exec_may_fail;       /* report a failed exec in sp->exec_errno
	                             instead of failing the test */
};

struct sp {
	pid_t pid;
	int in, out, err;         /* our pipe ends; -1 once closed */

	unsigned char *out_buf, *err_buf;
	size_t out_len, err_len, out_cap, err_cap;

	const unsigned char *in_data;
	size_t in_len, in_off;    /* in_off: bytes the program's stdin took */
	bool close_in_when_fed;
	int in_errno;             /* write error on stdin (EPIPE...), 0 if none */

	int exec_errno;           /* see sp_opts.exec_may_fail */
	bool reaped;
	int status;               /* raw waitpid status once reaped */
	bool timed_out;
	char timeout_what[160];   /* what was still pending at the deadline */

	long long start_ms, deadline_ms, end_ms;
	char status_str[256];
};

/* Start the program; stdin data (if any) is written as the program reads. */
struct sp *sp_start(const struct sp_opts *opts);

/* Start, feed stdin, collect both outputs, reap: all within the timeout. */
struct sp *sp_run(const struct sp_opts *opts);

/* Pump until `needle` has appeared in the stream, the stream has ended, or
 * timeout_ms has passed. Returns whether the needle was seen. Never kills. */
bool sp_wait_for(struct sp *p, enum sp_stream s, const char *needle, int timeout_ms);

/* Pump until the program has exited and both outputs are at EOF, or until
 * the deadline from sp_opts.timeout_ms, when everything is killed. */
void sp_wait(struct sp *p);

/* Pump for ms milliseconds, or less if nothing is left to pump. */
void sp_pump_for(struct sp *p, int ms);

/* Reap without blocking; true once the program has exited. */
bool sp_has_exited(struct sp *p);

/* Queue more stdin (SP_IN_OPEN) and pump until the program has taken it
 * all, or timeout_ms has passed; returns whether it was all taken. `buf`
 * must stay valid until then. */
bool sp_send(struct sp *p, const void *buf, size_t len, int timeout_ms);

void sp_close_in(struct sp *p);
void sp_close_out(struct sp *p);
void sp_kill(struct sp *p, int sig);
void sp_free(struct sp *p);

/* "exited 3", "killed by signal 15 (Terminated)", "timed out (...)". The
 * string lives in *p and stays valid until the next call. */
const char *sp_status_str(struct sp *p);

bool sp_exited_with(const struct sp *p, int code);
bool sp_killed_by(const struct sp *p, int sig);

long long sp_now_ms(void);

#endif
