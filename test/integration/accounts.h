/*
 * accounts: the world the elevation tests cross into.
 *
 * Most of it needs root, which CI has: the tests create throwaway accounts
 * (sbxt-admin may start the runner through sudo, sbxt-plain may not,
 * sbxt-box is the account commands run as, with the supplementary group
 * sbxt-extra, and sbxt-pw may start the runner too, but only with its
 * password) and sudoers rules for sbxt-admin and sbxt-pw, then run sbx as
 * those accounts.  Creation is serialized with a lock, since Criterion runs
 * tests in parallel processes, and only creates what is missing.  What was
 * created is recorded in the lock file and removed once at the end by the
 * main process (the ReportHook POST_ALL in accounts.c), together with the
 * lock files themselves; a run that finds another run of the suite still
 * going leaves the removal to it.  Without root, or without sudo, the
 * tests say so through cr_skip_test.
 *
 * An account other than root cannot enter the build tree on CI (the clone
 * may sit under /root), so every test that runs sbx as another account uses
 * copies of sbx, sbx-runner and the helper in a fresh /tmp/sbx-elev-XXXXXX
 * (mode 0755), which is also the path the sudoers rule names.
 *
 * Functions that fail a test do it with Criterion assertions or skips;
 * strings marked "leaked" are never freed (a test process is short-lived).
 */
#ifndef SBX_TEST_ACCOUNTS_H
#define SBX_TEST_ACCOUNTS_H

#include "itest.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ADMIN "sbxt-admin"
#define PLAIN "sbxt-plain"
#define BOX "sbxt-box"
#define PW "sbxt-pw"
#define EXTRA "sbxt-extra"
#define BOX_HOME "/nonexistent-sbxt-box"

#define SUDOERS "/etc/sudoers.d/sbx-itest"
/* A name with a dot: sudo's @includedir skips it until it is renamed. */
#define SUDOERS_TMP "/etc/sudoers.d/sbx-itest.tmp"
/* Any sbx-runner in a /tmp/sbx-elev-* directory: whoever can create one
 * there could have sbxt-admin run it as root, but sbxt-admin has no password
 * and no way in except through root, and the rule lives only as long as the
 * test run.  sbxt-pw has a password, but a random one set for each test
 * that uses it and known only to that test, and no login shell.  For it
 * sudo must ask every time (no cached credentials between runs), once (a
 * wrong answer fails at once), and say nothing else first (no lecture). */
#define SUDOERS_RULE                                                               \
	"sbxt-admin ALL=(root,sbxt-box) NOPASSWD: /tmp/sbx-elev-*/sbx-runner\n"    \
	"Defaults:sbxt-pw timestamp_timeout=0, passwd_tries=1, !lecture\n"         \
	"sbxt-pw ALL=(root) /tmp/sbx-elev-*/sbx-runner\n"

/* Every lock file is /tmp/sbxt-itest.*, root's, and removed by the last run
 * to end (accounts.c says how that stays safe for concurrent runs). */
/* Serializes creation and holds, as a number, what the suite created. */
#define SETUP_LOCK "/tmp/sbxt-itest.lock"
/* Every running test run holds a shared lock on it; cleanup needs it alone. */
#define HOLD_LOCK "/tmp/sbxt-itest.hold"
/* One test at a time may own /dev/log. */
#define DEVLOG_LOCK "/tmp/sbxt-itest.devlog"
/* One test at a time sets sbxt-pw's password and uses it. */
#define PW_LOCK "/tmp/sbxt-itest.pw"

#define SYS_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- tools */

/* Absolute path of a system program, or NULL (no assertions: the report
 * hook uses it too). Leaked. */
char *tool(const char *name);
/* Skip the test, saying why, unless it runs as root / sudo is usable. */
void need_root(const char *why);
void need_sudo(void);
/* A root-owned regular file in /tmp that nobody else can have planted or
 * redirected: opened without following links and checked. -1 if not. */
int open_root_file(const char *path, int flags);
/* flock with a deadline. */
bool lock_within(int fd, int how, int ms);

/* ---- accounts */

/* The accounts (and, with `sudoers`, the rule), created where missing. */
void setup_accounts(bool sudoers);

struct acct {
	uid_t uid;
	gid_t gid;
	char name[64], home[256], shell[256];
	gid_t groups[256];
	int ngroups;
};

/* The account's passwd entry and groups; fails the test if it is missing. */
struct acct account(const char *name);

/* ---- public copies */

struct pub {
	char dir[64], sbx[96], runner[96], helper[96];
};

/* The sbx-runner beside sbx (leaked); fails the test if there is none. */
char *runner_build(void);
/* A copy of a program, mode 0755. */
void copy_public(const char *from, const char *to);
/* /tmp/sbx-elev-XXXXXX, 0755, with copies any account can run; removed
 * when the test process exits. */
void make_pub(struct pub *pb);
/* A subdirectory of the public one that `owner` may write to (leaked). */
char *owned_subdir(const struct pub *pb, const char *name, const char *owner);
/* Root, sudo, the accounts and the rule, and a public copy. */
void setup_sudo(struct pub *pb);

/* ---- running sbx */

/* The environment of a login-less account: HOME=/, the system PATH, no
 * per-user directories, no launcher chosen, plus `extra`. Never freed. */
char **user_env(const char *const *extra);
/* Options to run argv as `user`, in "/", with user_env(env). */
struct sp_opts as_opts(const char *user, const char *const *argv, const char *const *env);
struct sp *run_as(const char *user, const char *const *argv, const char *const *env);
/* As the test's own user (root, for most callers), in "/", with the system
 * PATH and no launcher chosen, plus `env`. */
struct sp *run_here(const char *const *argv, const char *const *env);
/* The same command without a controlling terminal (setsid -w), so that
 * sudo cannot prompt on the terminal of whoever runs the tests. */
const char *const *no_tty(const char *const *argv);

/* ---- reading what a run did */

/* Last line of stderr without its newline (leaked). */
char *last_err_line(const struct sp *p);
/* Some line of stderr starts with `prefix` and contains `needle`. */
bool err_line_has(const struct sp *p, const char *prefix, const char *needle);
/* Exit 125, "sbx: ..." with the usage hint, nothing on stdout. */
void expect_usage_error(struct sp *p, const char *what);
/* Milliseconds from start to end of the run. */
long long elapsed(const struct sp *p);
/* "LEN HASH\n", the helper's digest line for buf (leaked). */
char *hash_line(const void *buf, size_t len);
/* Numbers in a line of `id -G` style output, sorted. */
size_t sorted_ids(const unsigned char *buf, size_t len, long *out, size_t max);
/* The account's groups, without duplicates, sorted; out holds 256. */
size_t sorted_groups(const struct acct *a, long *out);
/* "1 2 3" (leaked). */
const char *ids_str(const long *ids, size_t n);
/* Every process below `root` (from /proc, breadth first). */
size_t descendants(long root, long *out, size_t max);

#endif
