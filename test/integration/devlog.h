/*
 * devlog: the test's own /dev/log, to catch the audit line sbx-runner
 * sends to syslog.  Needs root (the test is skipped otherwise) and a
 * system without a logger on /dev/log; one test at a time holds it
 * (DEVLOG_LOCK).  devlog_open() fails or skips the test; the socket is
 * removed by devlog_release(), which also runs at exit.
 */
#ifndef SBX_TEST_DEVLOG_H
#define SBX_TEST_DEVLOG_H

#include <stddef.h>
#include <sys/types.h>

/* LOG_AUTHPRIV | LOG_NOTICE, as syslog(3) puts it in front of the line. */
#define AUDIT_PRI "<85>"

/* A datagram socket at /dev/log, drained by a child process into a pipe so
 * that no sender (every root run of the whole suite audits while it
 * exists) can block on a full queue. */
struct devlog {
	int lock, pipe;
	pid_t reader;
	ino_t ino;
	char *msgs[256];
	size_t nmsgs;
	unsigned char *pend;
	size_t plen;
};

struct devlog *devlog_open(void);
void devlog_release(void);
/* Moves what the reader has forwarded into dl->msgs; waits up to ms. */
void devlog_pump(struct devlog *dl, int ms);
/* Messages containing needle; *first (if not NULL) gets the first one. */
size_t devlog_count(struct devlog *dl, const char *needle, const char **first);
/* The first message containing needle, within ms; NULL if none came. */
const char *devlog_wait(struct devlog *dl, const char *needle, int ms);
/* Everything sent to /dev/log before now has been read. */
void devlog_sync(struct devlog *dl);
/* The one audit line with `marker` (checked to be the only one), and its
 * common parts: priority, ident, and the argv at the end. */
const char *audit_line(struct devlog *dl, const char *marker, const char *argv_tail);

#endif
