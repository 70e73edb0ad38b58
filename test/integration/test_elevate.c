/* Crossing the boundary for real: sudo (with and without -n, --via,
 * SBX_ELEVATE), -u from root and through sudo, the checks on who may be at
 * the other end of the channel, and the audit line.
 *
 * Most of this needs root, which CI has: the tests create throwaway
 * accounts (sbxt-admin may start the runner through sudo, sbxt-plain may
 * not, sbxt-box is the account commands run as, with the supplementary
 * group sbxt-extra, and sbxt-pw may start the runner too, but only with its
 * password) and sudoers rules for sbxt-admin and sbxt-pw, then run sbx as
 * those accounts.  Creation is serialized with a lock, since Criterion runs
 * tests in parallel processes, and only creates what is missing.  What was
 * created is recorded in the lock file and removed once at the end by the
 * main process (ReportHook POST_ALL); a run that finds another run of the
 * suite still going leaves the removal to it.  Without root, or without
 * sudo, the tests say so through cr_skip_test.
 *
 * An account other than root cannot enter the build tree on CI (the clone
 * may sit under /root), so every test that runs sbx as another account uses
 * copies of sbx, sbx-runner and the helper in a fresh /tmp/sbx-elev-XXXXXX
 * (mode 0755), which is also the path the sudoers rule names. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"

#include <criterion/hooks.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Serializes creation and holds, as a number, what the suite created. */
#define SETUP_LOCK "/tmp/sbxt-itest.lock"
/* Every running test run holds a shared lock on it; cleanup needs it alone. */
#define HOLD_LOCK "/tmp/sbxt-itest.hold"
/* One test at a time may own /dev/log. */
#define DEVLOG_LOCK "/tmp/sbxt-itest.devlog"
/* One test at a time sets sbxt-pw's password and uses it. */
#define PW_LOCK "/tmp/sbxt-itest.pw"

#define SYS_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define MIB (1024 * 1024)
/* LOG_AUTHPRIV | LOG_NOTICE, as syslog(3) puts it in front of the line. */
#define AUDIT_PRI "<85>"

enum { MADE_EXTRA = 1, MADE_ADMIN = 2, MADE_PLAIN = 4, MADE_BOX = 8, MADE_SUDOERS = 16, MADE_PW = 32 };
#define MADE_ALL 63u

/* ------------------------------------------------------------ tools */

/* Absolute path of a system program, or NULL (no assertions: the report
 * hook uses it too). */
static char *tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };

	for (const char *const *d = dirs; *d; d++) {
		char path[256];

		snprintf(path, sizeof path, "%s/%s", *d, name);
		if (access(path, X_OK) == 0)
			return strdup(path);
	}
	return NULL;
}

static void need_root(const char *why)
{
	if (geteuid() != 0)
		cr_skip_test("not root: %s", why);
}

static void need_sudo(void)
{
	char *conf;

	if (!tool("sudo"))
		cr_skip_test("sudo is not installed (`sh .ci/deps.sh test` installs it)");
	conf = lc_read_file("/etc/sudoers", NULL);
	if (!conf || !strstr(conf, "includedir /etc/sudoers.d"))
		cr_skip_test("/etc/sudoers does not include /etc/sudoers.d, where the test's rule goes");
	free(conf);
}

/* A root-owned regular file in /tmp that nobody else can have planted or
 * redirected: opened without following links and checked. -1 if not. */
static int open_root_file(const char *path, int flags)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* flock with a deadline. */
static bool lock_within(int fd, int how, int ms)
{
	long long end = sp_now_ms() + ms;

	for (;;) {
		if (flock(fd, how | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (sp_now_ms() >= end)
			return false;
		usleep(20000);
	}
}

static unsigned state_get(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (unsigned)strtoul(buf, NULL, 10) & MADE_ALL;
}

static bool state_put(int fd, unsigned made)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%u\n", made);

	return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n;
}

/* ------------------------------------------------------------ accounts */

static void run_tool(const char *const *argv)
{
	struct sp *p = sp_run(&(struct sp_opts){
		.argv = argv,
		.envp = it_env(ARGV(SYS_PATH), NULL),
		.stdin_mode = SP_IN_NULL,
		.timeout_ms = 30000,
	});

	cr_assert(sp_exited_with(p, 0), "%s %s: %s\nstdout: %s\nstderr: %s", argv[0], argv[1] ? argv[1] : "",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	sp_free(p);
}

static void add_user(const char *useradd, const char *name, const char *home, const char *shell,
		     const char *groups)
{
	/* The account's own group, unless one of that name is left over. */
	bool own = getgrnam(name) == NULL;
	const char *argv[16];
	size_t n = 0;

	argv[n++] = useradd;
	argv[n++] = "-M";
	argv[n++] = "-d";
	argv[n++] = home;
	argv[n++] = "-s";
	argv[n++] = shell;
	if (own) {
		argv[n++] = "-U";
	} else {
		argv[n++] = "-g";
		argv[n++] = name;
	}
	if (groups) {
		argv[n++] = "-G";
		argv[n++] = groups;
	}
	argv[n++] = name;
	argv[n] = NULL;
	run_tool(argv);
}

static void install_sudoers(void)
{
	char *visudo = tool("visudo");
	size_t len = strlen(SUDOERS_RULE);
	int fd;

	unlink(SUDOERS_TMP);
	fd = open(SUDOERS_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0440);
	cr_assert(fd >= 0, "create %s: %s", SUDOERS_TMP, strerror(errno));
	cr_assert(write(fd, SUDOERS_RULE, len) == (ssize_t)len, "write %s: %s", SUDOERS_TMP, strerror(errno));
	cr_assert(fchmod(fd, 0440) == 0);
	close(fd);
	if (visudo) {
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = ARGV(visudo, "-c", "-f", SUDOERS_TMP),
			.stdin_mode = SP_IN_NULL,
			.timeout_ms = 30000,
		});
		bool ok = sp_exited_with(p, 0);

		if (!ok)
			unlink(SUDOERS_TMP);
		cr_assert(ok, "visudo -cf rejects the rule %s: %s\nstdout: %s\nstderr: %s", SUDOERS_RULE,
			  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
		sp_free(p);
	}
	cr_assert(rename(SUDOERS_TMP, SUDOERS) == 0, "install %s: %s", SUDOERS, strerror(errno));
}

/* The accounts (and, with `sudoers`, the rule), created where missing. */
static void setup_accounts(bool sudoers)
{
	static const struct {
		const char *name, *home;
		bool login;
		const char *groups;
		unsigned bit;
	} users[] = {
		{ ADMIN, "/nonexistent-" ADMIN, true, NULL, MADE_ADMIN },
		{ PLAIN, "/nonexistent-" PLAIN, true, NULL, MADE_PLAIN },
		{ BOX, BOX_HOME, true, EXTRA, MADE_BOX },
		/* It gets a password, so no way to log in with it. */
		{ PW, "/nonexistent-" PW, false, NULL, MADE_PW },
	};
	char *useradd, *groupadd, *nologin = tool("nologin");
	unsigned made;
	int fd;

	need_root("the test creates throwaway accounts and runs sbx as them");
	useradd = tool("useradd");
	groupadd = tool("groupadd");
	if (!useradd || !groupadd)
		cr_skip_test("useradd/groupadd not found: cannot create the test's accounts");
	fd = open_root_file(SETUP_LOCK, O_RDWR | O_CREAT);
	cr_assert(fd >= 0, "%s: %s", SETUP_LOCK, strerror(errno));
	cr_assert(lock_within(fd, LOCK_EX, 60000), "%s: no lock within 60 s", SETUP_LOCK);
	made = state_get(fd);
	if (!getgrnam(EXTRA)) {
		run_tool(ARGV(groupadd, EXTRA));
		made |= MADE_EXTRA;
		cr_assert(state_put(fd, made));
	}
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
		if (getpwnam(users[i].name))
			continue;
		add_user(useradd, users[i].name, users[i].home,
			 users[i].login ? "/bin/sh" : nologin ? nologin : "/bin/false", users[i].groups);
		made |= users[i].bit;
		cr_assert(state_put(fd, made));
	}
	if (sudoers) {
		char *have = lc_read_file(SUDOERS, NULL);

		if (!have || (strcmp(have, SUDOERS_RULE) != 0 && (made & MADE_SUDOERS))) {
			install_sudoers();
			made |= MADE_SUDOERS;
			cr_assert(state_put(fd, made));
		} else {
			cr_assert(strcmp(have, SUDOERS_RULE) == 0,
				  "%s exists with other content and was not made by these tests: \"%s\"", SUDOERS,
				  it_esc(have, strlen(have)));
		}
		free(have);
	}
	close(fd); /* and with it the lock */
}

struct acct {
	uid_t uid;
	gid_t gid;
	char name[64], home[256], shell[256];
	gid_t groups[256];
	int ngroups;
};

static struct acct account(const char *name)
{
	struct passwd *pw = getpwnam(name);
	struct acct a;

	cr_assert(pw != NULL, "no account %s", name);
	memset(&a, 0, sizeof a);
	a.uid = pw->pw_uid;
	a.gid = pw->pw_gid;
	snprintf(a.name, sizeof a.name, "%s", pw->pw_name);
	snprintf(a.home, sizeof a.home, "%s", pw->pw_dir);
	snprintf(a.shell, sizeof a.shell, "%s", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	a.ngroups = 256;
	cr_assert(getgrouplist(name, a.gid, a.groups, &a.ngroups) >= 0, "%s is in too many groups", name);
	return a;
}

/* Removes what the suite created, when no other run still uses it: the
 * main process, at the very end. No Criterion assertions here. */
static int hold_fd = -1;

static int quiet(const char *const *argv)
{
	static char *const env[] = { SYS_PATH, NULL };
	long long end = sp_now_ms() + 30000;
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (sp_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	if (geteuid() != 0)
		return;
	hold_fd = open_root_file(HOLD_LOCK, O_RDWR | O_CREAT);
	if (hold_fd >= 0 && !lock_within(hold_fd, LOCK_SH, 60000)) {
		close(hold_fd);
		hold_fd = -1;
	}
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	static const struct { const char *name; unsigned bit; } users[] = {
		{ PW, MADE_PW }, { BOX, MADE_BOX }, { PLAIN, MADE_PLAIN }, { ADMIN, MADE_ADMIN },
	};
	char *userdel = tool("userdel"), *groupdel = tool("groupdel");
	unsigned made;
	int fd;

	(void)stats;
	if (geteuid() != 0 || hold_fd < 0)
		return;
	/* Another run of the suite still holds its share: the accounts are
	 * its to remove when it ends. */
	if (flock(hold_fd, LOCK_EX | LOCK_NB) < 0)
		goto out;
	fd = open_root_file(SETUP_LOCK, O_RDWR);
	if (fd < 0)
		goto out;
	if (!lock_within(fd, LOCK_EX, 60000)) {
		close(fd);
		goto out;
	}
	made = state_get(fd);
	if ((made & MADE_SUDOERS) && (unlink(SUDOERS) == 0 || errno == ENOENT))
		made &= ~(unsigned)MADE_SUDOERS;
	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
		if (!(made & users[i].bit))
			continue;
		/* userdel also removes the account's own group. */
		if (!getpwnam(users[i].name) || (userdel && quiet(ARGV(userdel, users[i].name)) == 0))
			made &= ~users[i].bit;
	}
	if ((made & MADE_EXTRA) && (!getgrnam(EXTRA) || (groupdel && quiet(ARGV(groupdel, EXTRA)) == 0)))
		made &= ~(unsigned)MADE_EXTRA;
	if (made)
		fprintf(stderr, "test_elevate: could not remove everything the tests created (mask %u); "
				"the next run retries\n", made);
	state_put(fd, made);
	close(fd);
out:
	close(hold_fd);
	hold_fd = -1;
}

/* ------------------------------------------------------------ public copies */

struct pub {
	char dir[64], sbx[96], runner[96], helper[96];
};

static char *runner_build(void)
{
	char *dir = strdup(SBX), *path;

	*strrchr(dir, '/') = '\0';
	cr_assert(asprintf(&path, "%s/sbx-runner", dir) > 0);
	free(dir);
	cr_assert(access(path, X_OK) == 0, "no sbx-runner beside sbx at %s", path);
	return path;
}

static void copy_public(const char *from, const char *to)
{
	it_copy_file(from, to);
	cr_assert(chmod(to, 0755) == 0, "chmod %s: %s", to, strerror(errno));
}

/* /tmp/sbx-elev-XXXXXX, 0755, with copies any account can run; removed
 * when the test process exits. */
static void make_pub(struct pub *pb)
{
	snprintf(pb->dir, sizeof pb->dir, "/tmp/sbx-elev-XXXXXX");
	cr_assert(mkdtemp(pb->dir) != NULL, "mkdtemp: %s", strerror(errno));
	it_remove_at_exit(pb->dir);
	cr_assert(chmod(pb->dir, 0755) == 0);
	snprintf(pb->sbx, sizeof pb->sbx, "%s/sbx", pb->dir);
	snprintf(pb->runner, sizeof pb->runner, "%s/sbx-runner", pb->dir);
	snprintf(pb->helper, sizeof pb->helper, "%s/sbx-testhelper", pb->dir);
	copy_public(SBX, pb->sbx);
	copy_public(runner_build(), pb->runner);
	copy_public(HELPER, pb->helper);
}

/* A subdirectory of the public one that `owner` may write to. */
static char *owned_subdir(const struct pub *pb, const char *name, const char *owner)
{
	struct acct a = account(owner);
	char *dir;

	cr_assert(asprintf(&dir, "%s/%s", pb->dir, name) > 0);
	cr_assert(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
	cr_assert(chown(dir, a.uid, a.gid) == 0, "chown %s: %s", dir, strerror(errno));
	return dir;
}

/* Root, sudo, the accounts and the rule, and a public copy. */
static void setup_sudo(struct pub *pb)
{
	need_root("the test runs sbx as other accounts and elevates through sudo");
	need_sudo();
	setup_accounts(true);
	make_pub(pb);
}

/* ------------------------------------------------------------ running sbx */

/* The environment of a login-less account: HOME=/, the system PATH, no
 * per-user directories, no launcher chosen, plus `extra`. */
static char **user_env(const char *const *extra)
{
	static const char *const unset[] = { "XDG_RUNTIME_DIR", "TMPDIR", "SBX_ELEVATE", NULL };
	const char *set[16];
	size_t n = 0;

	set[n++] = "HOME=/";
	set[n++] = SYS_PATH;
	for (; extra && *extra && n < 15; extra++)
		set[n++] = *extra;
	set[n] = NULL;
	return it_env(set, unset);
}

static struct sp_opts as_opts(const char *user, const char *const *argv, const char *const *env)
{
	struct acct a = account(user);

	return (struct sp_opts){
		.argv = argv,
		.envp = user_env(env),
		.cwd = "/",
		.drop_privileges = true,
		.uid = a.uid,
		.gid = a.gid,
		.timeout_ms = 30000,
	};
}

static struct sp *run_as(const char *user, const char *const *argv, const char *const *env)
{
	struct sp_opts o = as_opts(user, argv, env);

	return sp_run(&o);
}

/* As the test's own user (root, for most callers), in "/", with the system
 * PATH and no launcher chosen, plus `env`. */
static struct sp *run_here(const char *const *argv, const char *const *env)
{
	static const char *const unset[] = { "SBX_ELEVATE", NULL };
	const char *set[16];
	size_t n = 0;

	set[n++] = SYS_PATH;
	for (; env && *env && n < 15; env++)
		set[n++] = *env;
	set[n] = NULL;
	return sp_run(&(struct sp_opts){ .argv = argv, .envp = it_env(set, unset), .cwd = "/", .timeout_ms = 30000 });
}

/* The same command without a controlling terminal (setsid -w), so that
 * sudo cannot prompt on the terminal of whoever runs the tests. */
static const char *const *no_tty(const char *const *argv)
{
	char *setsid = tool("setsid");
	const char **v;
	size_t n = 0;

	if (!setsid) {
		int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			cr_skip_test("setsid(1) not found and the tests have a terminal sudo could prompt on");
		}
		return argv;
	}
	while (argv[n])
		n++;
	v = calloc(n + 3, sizeof *v);
	cr_assert(v != NULL);
	v[0] = setsid;
	v[1] = "-w";
	memcpy(v + 2, argv, (n + 1) * sizeof *v);
	return v;
}

/* Last line of stderr without its newline (leaked). */
static char *last_err_line(const struct sp *p)
{
	size_t end = p->err_len, start;

	if (end > 0 && p->err_buf[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && p->err_buf[start - 1] != '\n')
		start--;
	return strndup((const char *)p->err_buf + start, end - start);
}

/* Some line of stderr starts with `prefix` and contains `needle`. */
static bool err_line_has(const struct sp *p, const char *prefix, const char *needle)
{
	size_t i = 0;

	while (i < p->err_len) {
		const unsigned char *nl = memchr(p->err_buf + i, '\n', p->err_len - i);
		size_t end = nl ? (size_t)(nl - p->err_buf) : p->err_len;
		char *line = strndup((const char *)p->err_buf + i, end - i);
		bool hit = strncmp(line, prefix, strlen(prefix)) == 0 && strstr(line, needle) != NULL;

		free(line);
		if (hit)
			return true;
		i = end + 1;
	}
	return false;
}

static void expect_usage_error(struct sp *p, const char *what)
{
	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125, got %s; stderr: %s", what, sp_status_str(p),
		  IT_ESC_ERR(p));
	cr_assert(p->err_len > 5 && memcmp(p->err_buf, "sbx: ", 5) == 0 &&
			  it_buf_has(p->err_buf, p->err_len, "Try 'sbx run --help'."),
		  "%s: expected a usage error, got \"%s\"", what, IT_ESC_ERR(p));
	cr_assert(p->out_len == 0, "%s: stdout: %s", what, IT_ESC_OUT(p));
}

static long long elapsed(const struct sp *p)
{
	return p->end_ms - p->start_ms;
}

static char *hash_line(const void *buf, size_t len)
{
	char *s;

	cr_assert(asprintf(&s, "%zu %016" PRIx64 "\n", len, it_fnv1a64(buf, len)) > 0);
	return s;
}

/* Numbers in a line of `id -G` style output, sorted. */
static size_t sorted_ids(const unsigned char *buf, size_t len, long *out, size_t max)
{
	size_t n = lc_numbers(buf, len, out, max);

	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			long t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static size_t sorted_groups(const struct acct *a, long *out)
{
	size_t n = 0;

	for (int i = 0; i < a->ngroups; i++) {
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= out[j] == (long)a->groups[i];
		if (!dup)
			out[n++] = (long)a->groups[i];
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			long t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static const char *ids_str(const long *ids, size_t n)
{
	char *s = strdup(""), *more;

	for (size_t i = 0; i < n; i++) {
		cr_assert(asprintf(&more, "%s%s%ld", s, i ? " " : "", ids[i]) > 0);
		free(s);
		s = more;
	}
	return s;
}

/* Every process below `root` (from /proc, breadth first). */
static size_t descendants(long root, long *out, size_t max)
{
	size_t n = it_children(root, out, max);

	for (size_t i = 0; i < n && n < max; i++)
		n += it_children(out[i], out + n, max - n);
	return n;
}

/* ------------------------------------------------------------ fake runners, sockets */


static char *read_in(const char *dir, const char *name)
{
	char *path, *text;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	text = lc_read_file(path, NULL);
	free(path);
	return text;
}

static long fake_pid(const char *dir)
{
	char *text = read_in(dir, "fake-runner.pid");
	long pid = text ? strtol(text, NULL, 10) : 0;

	free(text);
	return pid;
}

static char *fake_log(const char *dir)
{
	char *log = read_in(dir, "fake-log");

	return log ? log : strdup("(no fake-log)");
}

/* The number after `key` in text, or 0. */
static long number_after(const char *text, const char *key)
{
	const char *at = text ? strstr(text, key) : NULL;

	return at ? strtol(at + strlen(key), NULL, 10) : 0;
}

static bool is_hex32(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isdigit((unsigned char)s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
			return false;
	return n == 32;
}

/* Sockets with a 32-hex-digit name one level down in the sbx-XXXXXX
 * directories of tmpdir, at most max; the paths are leaked.  (sbx binds
 * under a placeholder name and renames the socket to its random one, so a
 * socket of any other name is one still being set up.) */
static size_t list_sockets(const char *tmpdir, char **out, size_t max)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		char *sub;
		DIR *sd;
		struct dirent *se;

		if (strncmp(de->d_name, "sbx-", 4) != 0)
			continue;
		cr_assert(asprintf(&sub, "%s/%s", tmpdir, de->d_name) > 0);
		if ((sd = opendir(sub)) != NULL) {
			while ((se = readdir(sd)) != NULL && n < max) {
				struct stat st;
				char *path;

				cr_assert(asprintf(&path, "%s/%s", sub, se->d_name) > 0);
				if (is_hex32(se->d_name) && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
					out[n++] = path;
				else
					free(path);
			}
			closedir(sd);
		}
		free(sub);
	}
	closedir(d);
	return n;
}

/* Polls until TMPDIR holds `want` sockets, or ms have passed. */
static size_t wait_sockets(const char *tmpdir, char **out, size_t want, int ms)
{
	long long end = sp_now_ms() + ms;
	size_t n;

	while ((n = list_sockets(tmpdir, out, want)) < want && sp_now_ms() < end)
		usleep(20000);
	return n;
}

/* Whether a file exists (the marker a command that must not run would make). */
static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------ sudo: as root */

Test(elevate, sudo_runs_the_command_as_root, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(elevate, sudo_passes_exit_statuses_and_signal_deaths, .timeout = 90)
{
	static const int codes[] = { 0, 3, 255 };
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		char num[8];

		snprintf(num, sizeof num, "%d", codes[i]);
		p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "exit", num), NULL);
		EXPECT_EXIT(p, codes[i]);
		EXPECT_OUT(p, "");
		EXPECT_ERR(p, "");
		sp_free(p);
	}
	/* As inline: sbx dies by the command's signal and prints nothing. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "kill", "15"), NULL);
	EXPECT_SIGNAL(p, SIGTERM);
	EXPECT_ERR(p, "");
	sp_free(p);
}

Test(elevate, sudo_keeps_stdout_and_stderr_byte_exact_and_apart, .timeout = 90)
{
	size_t n = 384 * 1024;
	char count[32];
	struct pub pb;
	struct sp *p;
	long long at;

	setup_sudo(&pb);
	snprintf(count, sizeof count, "%zu", n);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "write", "both", count, "4242"), NULL);
	EXPECT_EXIT(p, 0);
	at = it_pattern_mismatch(p->out_buf, p->out_len, 4242, n);
	cr_assert(at < 0, "stdout differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->out_len, n);
	at = it_pattern_mismatch(p->err_buf, p->err_len, 4243, n);
	cr_assert(at < 0, "stderr differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->err_len, n);
	sp_free(p);
}

Test(elevate, sudo_passes_stdin_byte_exact, .timeout = 90)
{
	size_t n = 4 * MIB;
	unsigned char *data = it_pattern_alloc(9, n);
	struct pub pb;
	struct sp_opts o;
	struct sp *p;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "hash-stdin"), NULL);
	o.in = data;
	o.in_len = n;
	o.timeout_ms = 60000;
	p = sp_run(&o);
	EXPECT_EXIT(p, 0);
	cr_assert(p->in_off == n, "sbx took only %zu of %zu stdin bytes (%s)", p->in_off, n, strerror(p->in_errno));
	EXPECT_OUT(p, hash_line(data, n));
	EXPECT_ERR(p, "");
	sp_free(p);
	free(data);
}

/* Without -n sudo keeps the chance to prompt; with NOPASSWD it needs none,
 * and with no terminal anywhere it still just works. */
Test(elevate, sudo_without_n_and_without_a_terminal, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, no_tty(ARGV(pb.sbx, "run", "--", "id", "-u")), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* sudo says why on stderr, then sbx's own line, the last one, names sudo;
 * 125 at once, nothing on stdout. */
static void expect_sudo_refusal(struct sp *p, const char *what, const char *also)
{
	char *last = last_err_line(p);

	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125, got %s\nstdout: %s\nstderr: %s", what,
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(elapsed(p) < 5000, "%s: sbx took %lld ms to give up", what, elapsed(p));
	cr_assert(p->out_len == 0, "%s: stdout: %s", what, IT_ESC_OUT(p));
	cr_assert(strncmp(last, "sbx: ", 5) == 0 && strstr(last, "sudo") != NULL,
		  "%s: the last stderr line should be sbx's and name sudo: %s", what, IT_ESC_ERR(p));
	cr_assert(also == NULL || strstr(last, also) != NULL, "%s: sbx's line should say \"%s\": %s", what, also,
		  IT_ESC_ERR(p));
	cr_expect(p->err_len > 6 && memcmp(p->err_buf, "sudo: ", 6) == 0 && it_count_lines(p->err_buf, p->err_len) >= 2,
		  "%s: sudo's own message should come first: %s", what, IT_ESC_ERR(p));
	free(last);
}

Test(elevate, sudo_refuses_an_account_without_rights, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(PLAIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	expect_sudo_refusal(p, "-n", "under -n it may not ask for a password");
	sp_free(p);

	/* Without -n sudo would prompt, but there is no terminal to prompt on. */
	p = run_as(PLAIN, no_tty(ARGV(pb.sbx, "run", "--", "id", "-u")), NULL);
	expect_sudo_refusal(p, "without -n", NULL);
	sp_free(p);
}

/* --------------------------------------------------------------- -u from root */

Test(elevate, root_runs_the_command_as_the_account, .timeout = 60)
{
	struct acct a;
	char want[64];
	long got[256], exp[256];
	size_t ng, ne;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, BOX "\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-u"), NULL);
	snprintf(want, sizeof want, "%ld\n", (long)a.uid);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-g"), NULL);
	snprintf(want, sizeof want, "%ld\n", (long)a.gid);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	/* The supplementary groups are the account's, as initgroups would set
	 * them: sbxt-extra among them, root's none. */
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-G"), NULL);
	EXPECT_EXIT(p, 0);
	ng = sorted_ids(p->out_buf, p->out_len, got, 256);
	ne = sorted_groups(&a, exp);
	cr_assert(ng == ne && memcmp(got, exp, ng * sizeof *got) == 0, "id -G: expected %s, got %s",
		  ids_str(exp, ne), IT_ESC_OUT(p));
	cr_assert(getgrnam(EXTRA) != NULL);
	sp_free(p);
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "id", "-Gn"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, EXTRA), "id -Gn should list %s: %s", EXTRA, IT_ESC_OUT(p));
	sp_free(p);
}

/* HOME, USER, LOGNAME and SHELL are the account's, whatever the caller's
 * environment or -e say; every other variable passes as usual. */
Test(elevate, root_gives_the_account_its_identity_variables, .timeout = 60)
{
	static const char *const script =
		"printf '%s|%s|%s|%s|%s\\n' \"$HOME\" \"$USER\" \"$LOGNAME\" \"$SHELL\" \"$SBXT_KEEP\"";
	struct acct a;
	char *want;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);
	cr_assert(asprintf(&want, "%s|%s|%s|%s|kept\n", a.home, a.name, a.name, a.shell) > 0);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "sh", "-c", script),
		     ARGV("HOME=/wrong", "USER=wrong", "LOGNAME=wrong", "SHELL=/bin/false", "SBXT_KEEP=kept"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "-e", "HOME=/wrong2", "-e", "USER=wrong2", "-e", "LOGNAME=wrong2",
			  "-e", "SHELL=/bin/false", "-e", "SBXT_KEEP=kept", "--", "sh", "-c", script),
		     NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);

	/* Clearing the environment does not take them away either. */
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--clear-env", "-e", "SBXT_KEEP=kept", "--", "/bin/sh", "-c", script),
		     NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);
}

/* The value after `key` in /proc/PID/status text (leaked). */
static char *status_field(const unsigned char *buf, size_t len, const char *key)
{
	char *text = strndup((const char *)buf, len), *line, *save = NULL;
	size_t kl = strlen(key);

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, kl) == 0) {
			line += kl;
			while (*line == ' ' || *line == '\t')
				line++;
			return strdup(line);
		}
	}
	return strdup("(missing)");
}

/* The switch is for good: real, effective, saved and filesystem ids are
 * all the account's, no capabilities are left, and setuid(0) fails. */
Test(elevate, root_to_account_cannot_regain_root, .timeout = 60)
{
	struct acct a;
	char *want, *perl;
	struct sp *p;

	setup_accounts(false);
	a = account(BOX);
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "cat", "/proc/self/status"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(asprintf(&want, "%ld\t%ld\t%ld\t%ld", (long)a.uid, (long)a.uid, (long)a.uid, (long)a.uid) > 0);
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "Uid:"), want, "Uid: %s",
			 status_field(p->out_buf, p->out_len, "Uid:"));
	cr_assert(asprintf(&want, "%ld\t%ld\t%ld\t%ld", (long)a.gid, (long)a.gid, (long)a.gid, (long)a.gid) > 0);
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "Gid:"), want, "Gid: %s",
			 status_field(p->out_buf, p->out_len, "Gid:"));
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapPrm:"), "0000000000000000");
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapEff:"), "0000000000000000");
	cr_assert_str_eq(status_field(p->out_buf, p->out_len, "CapAmb:"), "0000000000000000");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "sh", "-c", "id -u"), NULL);
	cr_assert(asprintf(&want, "%ld\n", (long)a.uid) > 0);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	sp_free(p);

	/* A program that tries: setuid(0), seteuid(0), setgid(0), setegid(0). */
	perl = tool("perl");
	if (!perl)
		cr_skip_test("perl not found: the ids were checked, the attempt to take root back was not");
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", perl, "-e",
			  "$< = 0; $> = 0; $( = 0; $) = \"0 0\"; print \"$< $> \", (split / /, $()[0], \" \","
			  " (split / /, $))[0], \"\\n\""),
		     NULL);
	cr_assert(asprintf(&want, "%ld %ld %ld %ld\n", (long)a.uid, (long)a.uid, (long)a.gid, (long)a.gid) > 0);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, want);
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* -C is entered after the switch, with the account's rights: root could
 * enter /root, the account cannot. */
Test(elevate, root_to_account_enters_the_directory_with_its_rights, .timeout = 60)
{
	struct stat st;
	struct sp *p;

	setup_accounts(false);
	cr_assert(stat("/root", &st) == 0, "/root: %s", strerror(errno));
	if (st.st_mode & S_IXOTH)
		cr_skip_test("/root is searchable by everyone here (mode %o)", (unsigned)(st.st_mode & 07777));
	if (st.st_uid == account(BOX).uid)
		cr_skip_test("/root belongs to %s here", BOX);

	p = run_here(ARGV(SBX, "run", "-u", BOX, "-C", "/root", "--", "pwd"), NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'/root'");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-C", "/root", "--", "pwd"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "/root\n");
	sp_free(p);
}

/* ----------------------------------------------------------- -u through sudo */

Test(elevate, sudo_to_the_account, .timeout = 60)
{
	size_t n = 96 * 1024;
	char count[32];
	struct pub pb;
	struct sp *p;
	long long at;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, BOX "\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "id", "-Gn"), NULL);
	EXPECT_EXIT(p, 0);
	cr_assert(it_buf_has(p->out_buf, p->out_len, EXTRA), "id -Gn should list %s: %s", EXTRA, IT_ESC_OUT(p));
	EXPECT_ERR(p, "");
	sp_free(p);

	/* -u root is plain elevation, through the same rule. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", "root", "--", "id", "-un"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "root\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* The channel through the 0666 socket carries data both ways. */
	snprintf(count, sizeof count, "%zu", n);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", pb.helper, "write", "both", count, "31"), NULL);
	EXPECT_EXIT(p, 0);
	at = it_pattern_mismatch(p->out_buf, p->out_len, 31, n);
	cr_assert(at < 0, "stdout differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->out_len, n);
	at = it_pattern_mismatch(p->err_buf, p->err_len, 32, n);
	cr_assert(at < 0, "stderr differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->err_len, n);
	sp_free(p);
}

Test(elevate, sudo_refuses_an_account_the_rule_does_not_name, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", PLAIN, "--", "id"), NULL);
	expect_sudo_refusal(p, "-u " PLAIN, NULL);
	sp_free(p);
}

/* No root needed: the account is looked up before anything starts. */
Test(elevate, unknown_account_and_bad_user_options)
{
	struct sp *p = run_here(ARGV(SBX, "run", "-u", "no-such-user-sbxt", "--", "true"), NULL);

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-user-sbxt'");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "--same-user", "-u", "x", "--", "true"), NULL);
	expect_usage_error(p, "--same-user -u x");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", "x", "--same-user", "--", "true"), NULL);
	expect_usage_error(p, "-u x --same-user");
	sp_free(p);

	p = run_here(ARGV(SBX, "run", "-u", "", "--", "true"), NULL);
	expect_usage_error(p, "-u ''");
	sp_free(p);
}

/* ------------------------------------------------------------------ --via */

Test(elevate, via_and_sbx_elevate_choose_the_launcher, .timeout = 90)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "sudo", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* Words are split on blanks. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "  sudo\t", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);

	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), ARGV("SBX_ELEVATE=sudo"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);

	/* --via wins over SBX_ELEVATE; an empty SBX_ELEVATE means the default. */
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", "sudo", "--", "id", "-u"),
		   ARGV("SBX_ELEVATE=no-such-launcher-xyz"));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), ARGV("SBX_ELEVATE="));
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	sp_free(p);
}

/* Mistakes in the launcher are sbx's 125, before anything runs.  Root does
 * not elevate, so as root this runs as an account without sudo rights. */
Test(elevate, via_errors, .timeout = 60)
{
	struct pub pb;
	const char *sbx = SBX;
	struct sp *p;

#define RUN_VIA(argv, env) (geteuid() == 0 ? run_as(PLAIN, (argv), (env)) : run_here((argv), (env)))
	if (geteuid() == 0) {
		setup_accounts(false);
		make_pub(&pb);
		sbx = pb.sbx;
	}
	p = RUN_VIA(ARGV(sbx, "run", "-n", "--via", "no-such-launcher-xyz", "--", "true"), NULL);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-launcher-xyz' not found");
	EXPECT_OUT(p, "");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--", "true"), ARGV("SBX_ELEVATE=no-such-launcher-xyz"));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "'no-such-launcher-xyz' not found");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--via", "   ", "--", "true"), NULL);
	expect_usage_error(p, "--via '   '");
	sp_free(p);

	p = RUN_VIA(ARGV(sbx, "run", "-n", "--", "true"), ARGV("SBX_ELEVATE= \t "));
	expect_usage_error(p, "SBX_ELEVATE=' \\t '");
	sp_free(p);
#undef RUN_VIA
}

/* ------------------------------------------------------------ Ctrl-C, sudo */

/* SIGINT to sbx reaches the command across sudo; sbx dies by it, as in
 * the same-user case (lifecycle.sigint_ends_the_tree_and_sbx_dies_by_sigint),
 * and nothing it started survives: not sudo, not the runner, not the
 * command. */
Test(elevate, sigint_through_sudo_ends_everything, .timeout = 60)
{
	struct pub pb;
	struct sp_opts o;
	struct sp *p;
	long pids[32], helper = 0;
	size_t n;
	long long sent;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "echo $$; exec \"$0\" live out", pb.helper),
		    NULL);
	o.stdin_mode = SP_IN_OPEN;
	p = sp_start(&o);
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never said ready: %s\nstdout: %s\nstderr: %s",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(lc_numbers(p->out_buf, p->out_len, &helper, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	n = descendants(p->pid, pids, 31);
	cr_assert(n >= 2, "sbx should have sudo and the runner below it, found %zu processes", n);
	pids[n++] = helper;

	sent = sp_now_ms();
	sp_kill(p, SIGINT);
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGINT);
	cr_assert(p->end_ms - sent < 3000, "sbx took %lld ms to end after SIGINT", p->end_ms - sent);
	cr_expect(p->err_len == 0, "stderr: %s", IT_ESC_ERR(p));
	cr_assert(lc_survivor(pids, n, 3000) == 0, "a process of the run outlived sbx by 3 s");
	sp_free(p);
}

/* sbx killed outright (it cannot forward anything) while sudo and a root
 * runner sit between it and the command: the runner sees the channel close
 * and ends the command's tree; then the runner and sudo go too. */
Test(elevate, sbx_killed_through_sudo_leaves_nothing_behind, .timeout = 60)
{
	struct pub pb;
	struct sp_opts o;
	struct sp *p;
	long pids[32], helper = 0;
	size_t n;

	setup_sudo(&pb);
	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "echo $$; exec \"$0\" live out", pb.helper),
		    NULL);
	o.stdin_mode = SP_IN_OPEN;
	p = sp_start(&o);
	cr_assert(sp_wait_for(p, SP_OUT, "ready", 15000), "the command never said ready: %s\nstdout: %s\nstderr: %s",
		  sp_status_str(p), IT_ESC_OUT(p), IT_ESC_ERR(p));
	cr_assert(lc_numbers(p->out_buf, p->out_len, &helper, 1) == 1, "stdout: %s", IT_ESC_OUT(p));
	n = descendants(p->pid, pids, 31);
	cr_assert(n >= 2, "sbx should have sudo and the runner below it, found %zu processes", n);
	pids[n++] = helper;
	/* Only sbx: sudo runs in a session of its own (-n), so the group
	 * kill in sp_free would not reach it anyway. */
	cr_assert(kill(p->pid, SIGKILL) == 0);
	sp_wait(p);
	EXPECT_SIGNAL(p, SIGKILL);
	cr_assert(lc_survivor(pids, n, 5000) == 0, "a process of the run outlived a SIGKILLed sbx by 5 s");
	sp_free(p);
}

/* --------------------------------------------------- sudo: the password prompt */

/* Without -n sudo may ask for a password.  It must ask on the controlling
 * terminal: sbx starts it in its own process group (the terminal's
 * foreground one), with a pipe carrying the runner's secret as its stdin
 * and /dev/null as its stdout, so sbx's stdin and stdout are never sudo's
 * to read or write.  These tests run sbx as sbxt-pw, whose rule has no
 * NOPASSWD, on a pseudo-terminal of their own that the test types into. */

/* sbxt-pw's password for this test: a fresh random one, set while the test
 * holds PW_LOCK (until its process exits), and first tried on sudo alone,
 * so that a system where PAM cannot check passwords skips rather than
 * fails. */
static const char *setup_pw(struct pub *pb)
{
	static char pass[64];
	unsigned char raw[12];
	char *chpasswd, *sudo, *line;
	struct sp_opts o;
	struct sp *p;
	size_t len;
	int fd;

	setup_sudo(pb);
	chpasswd = tool("chpasswd");
	sudo = tool("sudo");
	if (!chpasswd)
		cr_skip_test("chpasswd not found: cannot give %s a password", PW);
	/* Left open: the lock is the test's until its process exits. */
	fd = open_root_file(PW_LOCK, O_RDWR | O_CREAT);
	cr_assert(fd >= 0, "%s: %s", PW_LOCK, strerror(errno));
	cr_assert(lock_within(fd, LOCK_EX, 60000), "%s: no lock within 60 s", PW_LOCK);

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw, "/dev/urandom: %s", strerror(errno));
	close(fd);
	len = (size_t)snprintf(pass, sizeof pass, "sbxt-Pw-");
	for (size_t i = 0; i < sizeof raw; i++)
		len += (size_t)snprintf(pass + len, sizeof pass - len, "%02x", raw[i]);

	cr_assert(asprintf(&line, "%s:%s\n", PW, pass) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(chpasswd),
		.envp = it_env(ARGV(SYS_PATH), NULL),
		.in = line,
		.in_len = strlen(line),
		.timeout_ms = 30000,
	});
	if (!sp_exited_with(p, 0))
		cr_skip_test("chpasswd cannot set %s's password here (%s): %s", PW, sp_status_str(p), IT_ESC_ERR(p));
	sp_free(p);

	/* sudo on its own, the password on its stdin (-S), no terminal: it
	 * lists the rule only once PAM has accepted the password. */
	cr_assert(asprintf(&line, "%s\n", pass) > 0);
	o = as_opts(PW, no_tty(ARGV(sudo, "-S", "-p", "", "-l")), NULL);
	o.in = line;
	o.in_len = strlen(line);
	p = sp_run(&o);
	if (!sp_exited_with(p, 0) &&
	    (it_buf_has(p->err_buf, p->err_len, "incorrect password") ||
	     it_buf_has(p->err_buf, p->err_len, "uthentication")))
		cr_skip_test("sudo does not accept %s's password here, so PAM cannot check passwords (%s): %s", PW,
			     sp_status_str(p), IT_ESC_ERR(p));
	cr_assert(sp_exited_with(p, 0) && it_buf_has(p->out_buf, p->out_len, "/tmp/sbx-elev-*/sbx-runner"),
		  "sudo -S -l as %s, with the right password: %s\nstdout: %s\nstderr: %s", PW, sp_status_str(p),
		  IT_ESC_OUT(p), IT_ESC_ERR(p));
	sp_free(p);
	return pass;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort(); /* no assertion here: the process under test is still running */
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static bool buf_has(const struct buf *b, const char *s)
{
	return b->len > 0 && it_buf_has(b->p, b->len, s);
}

/* Prompts in what the terminal showed: "assword" followed, on the same
 * line, by a colon ("[sudo] password for sbxt-pw: ", PAM's "Password: "). */
static int count_prompts(const struct buf *b)
{
	int n = 0;

	for (size_t i = 0; i + 7 <= b->len; i++) {
		if (memcmp(b->p + i, "assword", 7) != 0)
			continue;
		for (size_t j = i + 7; j < b->len && b->p[j] != '\n' && b->p[j] != '\r'; j++)
			if (b->p[j] == ':') {
				n++;
				break;
			}
	}
	return n;
}

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

/* Kills what a test that failed mid-run left (no assertion runs while the
 * child does, but a crash might). */
static pid_t pty_pid;

static void pty_kill(void)
{
	if (pty_pid > 0)
		kill(-pty_pid, SIGKILL);
}

/* Between fork and exec: async-signal-safe calls only. */
static _Noreturn void pty_child(const struct pty_run *r, const char *slave_name, int in, int out, int err,
				char *const *envp, int maxfd)
{
	struct rlimit nocore = { 0, 0 };
	struct sigaction sa;
	sigset_t none;
	int fd;

	/* A session of its own, whose first terminal becomes its controlling
	 * one; TIOCSCTTY for systems where opening it is not enough. */
	if (setsid() < 0)
		_exit(126);
	fd = open(slave_name, O_RDWR);
	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	for (fd = 3; fd < maxfd; fd++)
		close(fd);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_CORE, &nocore);
	if (setgroups(0, NULL) < 0 || setgid(r->gid) < 0 || setuid(r->uid) < 0 || chdir("/") < 0)
		_exit(126);
	execve(r->argv[0], (char *const *)r->argv, envp);
	_exit(127);
}

static void nonblock(int fd)
{
	cr_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK: %s", strerror(errno));
}

/* Reads what is there; false at EOF or on an error other than EAGAIN. */
static bool take(int fd, struct buf *b)
{
	unsigned char chunk[16384];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n > 0) {
			buf_add(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void close_at(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Types s on the terminal. */
static void type_in(struct pty_run *r, int master, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	do
		n = write(master, s, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len && r->type_errno == 0)
		r->type_errno = n < 0 ? errno : EIO;
}

/* Runs r to the end: until sbx has exited and its stdout and stderr are
 * closed (or 3 s after it exited), or until the deadline, when sbx's
 * process group is killed. */
static void pty_run(struct pty_run *r)
{
	int master, slave, inp[2], outp[2], errp[2], in, out, err;
	long maxfd = sysconf(_SC_OPEN_MAX);
	char **envp = user_env(NULL), *slave_name, *answer = NULL;
	struct sigaction sa;
	long long deadline;

	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	if (r->answer)
		cr_assert(asprintf(&answer, "%s\n", r->answer) > 0);
	/* A write to sbx's stdin after it exited must be an error, not death. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(master >= 0, "posix_openpt: %s", strerror(errno));
	cr_assert(grantpt(master) == 0 && unlockpt(master) == 0, "grantpt/unlockpt: %s", strerror(errno));
	cr_assert((slave_name = ptsname(master)) != NULL, "ptsname: %s", strerror(errno));
	slave_name = strdup(slave_name);
	/* Ours stays open, so that the master never reads as hung up while
	 * no process of the run has the terminal open. */
	slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert(slave >= 0, "%s: %s", slave_name, strerror(errno));
	cr_assert(pipe2(inp, O_CLOEXEC) == 0 && pipe2(outp, O_CLOEXEC) == 0 && pipe2(errp, O_CLOEXEC) == 0,
		  "pipe2: %s", strerror(errno));

	if (pty_pid == 0)
		atexit(pty_kill);
	r->start_ms = sp_now_ms();
	deadline = r->start_ms + r->timeout_ms;
	r->pid = fork();
	cr_assert(r->pid >= 0, "fork: %s", strerror(errno));
	if (r->pid == 0)
		pty_child(r, slave_name, inp[0], outp[1], errp[1], envp, (int)maxfd);
	pty_pid = r->pid;
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	in = inp[1];
	out = outp[0];
	err = errp[0];
	nonblock(master);
	nonblock(in);
	nonblock(out);
	nonblock(err);

	/* No assertions from here until the child is reaped. */
	for (;;) {
		struct pollfd pf[4];
		long long now = sp_now_ms(), until;
		int npf = 0, seen;

		if (!r->reaped) {
			pid_t w = waitpid(r->pid, &r->status, WNOHANG);

			if (w == r->pid) {
				r->reaped = true;
				r->end_ms = now;
			}
		}
		if (r->reaped && out < 0 && err < 0)
			break;
		if (r->reaped && now >= r->end_ms + 3000) {
			r->pipes_left_open = true;
			break;
		}
		if (now >= deadline) {
			r->timed_out = true;
			snprintf(r->desc, sizeof r->desc, "%s%s%s", r->reaped ? "" : "sbx still running; ",
				 out >= 0 ? "stdout open; " : "", err >= 0 ? "stderr open" : "");
			break;
		}
		if (in >= 0 && r->in_off == r->in_len) {
			close_at(&in);
			r->in_closed = true;
		}
		pf[npf++] = (struct pollfd){ master, POLLIN, 0 };
		if (out >= 0)
			pf[npf++] = (struct pollfd){ out, POLLIN, 0 };
		if (err >= 0)
			pf[npf++] = (struct pollfd){ err, POLLIN, 0 };
		if (in >= 0)
			pf[npf++] = (struct pollfd){ in, POLLOUT, 0 };
		/* Short waits while sbx runs: its exit is polled for. */
		until = r->reaped ? r->end_ms + 3000 : now + 20;
		if (until > deadline)
			until = deadline;
		(void)poll(pf, (nfds_t)npf, until > now ? (int)(until - now) : 0);

		(void)take(master, &r->tty);
		if (out >= 0 && !take(out, &r->out))
			close_at(&out);
		if (err >= 0 && !take(err, &r->err))
			close_at(&err);
		while (in >= 0 && r->in_off < r->in_len) {
			ssize_t n = write(in, r->in + r->in_off, r->in_len - r->in_off);

			if (n > 0) {
				r->in_off += (size_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno != EAGAIN) {
				r->in_errno = errno;
				close_at(&in);
			}
			break;
		}

		seen = count_prompts(&r->tty);
		while (r->prompts < seen) {
			if (r->prompts++ == 0) {
				r->prompt_ms = sp_now_ms();
				r->n_at_prompt = descendants(r->pid, r->at_prompt, 32);
				if (r->interrupt) {
					type_in(r, master, "\x03");
					continue;
				}
			}
			if (answer)
				type_in(r, master, answer);
		}
	}
	if (!r->reaped) {
		kill(-r->pid, SIGKILL);
		while (waitpid(r->pid, &r->status, 0) < 0 && errno == EINTR)
			;
		r->reaped = true;
		r->end_ms = sp_now_ms();
	}
	(void)take(master, &r->tty);
	pty_pid = 0;
	close_at(&in);
	close_at(&out);
	close_at(&err);
	close(slave);
	close(master);
	free(answer);
	free(slave_name);
}

/* Everything about a run, for a failure message (leaked). */
static const char *pty_report(const struct pty_run *r)
{
	char how[64], *s;

	if (r->timed_out)
		snprintf(how, sizeof how, "timed out after %d ms", r->timeout_ms);
	else if (WIFEXITED(r->status))
		snprintf(how, sizeof how, "exited %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	else
		snprintf(how, sizeof how, "status 0x%x", (unsigned)r->status);
	cr_assert(asprintf(&s,
			   "sbx %s after %lld ms%s%s; %d prompt(s)\n"
			   "terminal: \"%s\"\nstdout: %s\nstderr: %s",
			   how, r->end_ms - r->start_ms, r->timed_out ? " " : "", r->desc, r->prompts,
			   it_esc(r->tty.p, r->tty.len), it_esc(r->out.p, r->out.len), it_esc(r->err.p, r->err.len)) > 0);
	return s;
}

static bool pty_exited_with(const struct pty_run *r, int code)
{
	return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

/* Last line of a buffer, without its newline (leaked). */
static char *last_line(const struct buf *b)
{
	size_t end = b->len, start;

	if (end > 0 && b->p[end - 1] == '\n')
		end--;
	start = end;
	while (start > 0 && b->p[start - 1] != '\n')
		start--;
	return b->len ? strndup((const char *)b->p + start, end - start) : strdup("");
}

/* Processes whose command line contains needle (zombies have none). */
static size_t procs_with(const char *needle, long *out, size_t max)
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
		cmd = lc_read_file(path, &len);
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
static size_t procs_gone(const char *needle, long *left, size_t max, int ms)
{
	long long end = sp_now_ms() + ms;
	size_t n;

	while ((n = procs_with(needle, left, max)) > 0 && sp_now_ms() < end)
		usleep(20000);
	return n;
}

/* The right password, typed at sudo's prompt on the terminal: the command
 * runs as root, stdin reaches it whole (sudo read none of it), and neither
 * stdout nor stderr carries the prompt. */
Test(elevate, password_prompt_goes_to_the_terminal, .timeout = 120)
{
	size_t n = 100 * 1024;
	unsigned char *data = it_pattern_alloc(23, n);
	char *want = hash_line(data, n);
	struct pty_run r;
	struct acct a;
	struct pub pb;
	const char *pass = setup_pw(&pb);

	a = account(PW);
	memset(&r, 0, sizeof r);
	r.argv = ARGV(pb.sbx, "run", "--", pb.helper, "hash-stdin");
	r.uid = a.uid;
	r.gid = a.gid;
	r.in = data;
	r.in_len = n;
	r.answer = pass;
	r.timeout_ms = 20000;
	pty_run(&r);

	cr_assert(pty_exited_with(&r, 0), "expected exit 0: %s", pty_report(&r));
	cr_assert(r.prompts == 1, "sudo should have prompted once on the terminal: %s", pty_report(&r));
	cr_assert(r.type_errno == 0, "typing on the terminal: %s", strerror(r.type_errno));
	cr_assert(r.out.len == strlen(want) && memcmp(r.out.p, want, r.out.len) == 0,
		  "stdout should be the hash of all %zu stdin bytes, \"%s\": %s", n, it_esc(want, strlen(want)),
		  pty_report(&r));
	cr_assert(!buf_has(&r.out, "assword") && !buf_has(&r.err, "assword"),
		  "the prompt went to stdout or stderr: %s", pty_report(&r));
	cr_assert(r.in_off == n && r.in_closed, "sbx's stdin took %zu of %zu bytes (%s)", r.in_off, n,
		  strerror(r.in_errno));
	cr_assert(r.err.len == 0, "stderr: %s", pty_report(&r));
	cr_assert(!r.pipes_left_open, "stdout or stderr stayed open 3 s after sbx exited: %s", pty_report(&r));
	free(want);
	free(data);
}

/* A wrong password: sudo refuses, and sbx fails with 125, its own line
 * last and naming sudo, nothing on stdout. */
Test(elevate, wrong_password_is_refused_with_125, .timeout = 120)
{
	struct pty_run r;
	struct acct a;
	struct pub pb;
	char *last;

	setup_pw(&pb);
	a = account(PW);
	memset(&r, 0, sizeof r);
	r.argv = ARGV(pb.sbx, "run", "--", pb.helper, "hash-stdin");
	r.uid = a.uid;
	r.gid = a.gid;
	r.answer = "sbxt-Pw-wrong";
	r.timeout_ms = 20000;
	pty_run(&r);
	last = last_line(&r.err);

	cr_assert(pty_exited_with(&r, 125), "expected exit 125: %s", pty_report(&r));
	cr_assert(r.prompts >= 1, "sudo never prompted on the terminal: %s", pty_report(&r));
	cr_assert(r.out.len == 0, "stdout: %s", pty_report(&r));
	cr_assert(strncmp(last, "sbx: ", 5) == 0 && strstr(last, "sudo") != NULL,
		  "the last stderr line should be sbx's and name sudo: %s", pty_report(&r));
	/* sudo pauses after a wrong password (about 2 s with pam_unix). */
	cr_assert(r.end_ms - r.prompt_ms < 10000, "sbx took %lld ms to give up after the answer: %s",
		  r.end_ms - r.prompt_ms, pty_report(&r));
	cr_assert(!buf_has(&r.err, "assword:"), "the prompt went to stderr: %s", pty_report(&r));
	cr_assert(!r.pipes_left_open, "stdout or stderr stayed open 3 s after sbx exited: %s", pty_report(&r));
	free(last);
}

/* Ctrl-C at the prompt: the terminal's SIGINT reaches sbx and sudo alike;
 * sbx dies by it, as when interrupted anywhere before the command started,
 * the command never runs, and no sudo or runner of the run is left. */
Test(elevate, ctrl_c_at_the_password_prompt, .timeout = 120)
{
	struct pty_run r;
	struct acct a;
	struct pub pb;
	char *marker;
	long left[32];
	size_t n;

	setup_pw(&pb);
	a = account(PW);
	cr_assert(asprintf(&marker, "%s/marker", pb.dir) > 0);
	memset(&r, 0, sizeof r);
	r.argv = ARGV(pb.sbx, "run", "--", "sh", "-c", "touch \"$0\"", marker);
	r.uid = a.uid;
	r.gid = a.gid;
	r.interrupt = true;
	r.timeout_ms = 20000;
	pty_run(&r);

	cr_assert(!r.timed_out && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGINT,
		  "expected death by SIGINT: %s", pty_report(&r));
	cr_assert(r.prompts == 1, "sudo should have prompted once on the terminal: %s", pty_report(&r));
	cr_assert(r.type_errno == 0, "typing on the terminal: %s", strerror(r.type_errno));
	cr_assert(r.end_ms - r.prompt_ms < 3000, "sbx took %lld ms to end after Ctrl-C", r.end_ms - r.prompt_ms);
	cr_assert(r.n_at_prompt >= 1, "sbx had no child (sudo) at the prompt: %s", pty_report(&r));
	cr_assert(r.out.len == 0, "stdout: %s", pty_report(&r));
	cr_assert(lc_survivor(r.at_prompt, r.n_at_prompt, 3000) == 0,
		  "a process sbx had started when sudo prompted outlived it by 3 s");
	n = procs_gone(pb.dir, left, 32, 3000);
	cr_assert(n == 0, "%zu process(es) of the run (pid %ld...) outlived sbx by 3 s", n, n ? left[0] : 0L);
	cr_assert(!exists(marker), "the command ran");
}

/* ------------------------------------------------------------ rogue peers */

#define MARKER_CMD "touch \"$0\""

/* A runner started by hand, with a wrong nonce, against a live sbx: the
 * peer check refuses it (it is not the process sbx started) before its
 * hello is even read, and the command never runs. */
Test(elevate, hand_started_runner_is_refused, .timeout = 60)
{
	char *dir = it_tmpdir(), *tmp = it_tmpdir(), *sbx = lc_sbx_with_fakerunner(dir, "silent-never-connect");
	char *marker, *tmpenv, *sock[1], *secret, pid[32];
	struct sp *p, *r;
	long fake;

	cr_assert(asprintf(&marker, "%s/marker", dir) > 0 && asprintf(&tmpenv, "TMPDIR=%s", tmp) > 0);
	p = sp_start(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--connect-timeout", "10s", "--", "sh", "-c", MARKER_CMD, marker),
		.envp = it_env(ARGV(tmpenv), ARGV("XDG_RUNTIME_DIR")),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	cr_assert(wait_sockets(tmp, sock, 1, 10000) == 1, "no channel socket appeared in %s: %s", tmp,
		  lc_list_dir(tmp));
	snprintf(pid, sizeof pid, "%ld", (long)p->pid);
	cr_assert(asprintf(&secret, "%064d\n%s\n", 0, sock[0]) > 0);
	r = sp_run(&(struct sp_opts){
		.argv = ARGV(runner_build(), "--server-pid", pid),
		.in = secret,
		.in_len = strlen(secret),
		.timeout_ms = 20000,
	});
	sp_wait(p);
	fake = fake_pid(dir);

	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "refusing it");
	cr_assert(it_buf_has(p->err_buf, p->err_len, "not the runner"), "stderr: %s", IT_ESC_ERR(p));
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse (the connect timeout is 10 s)", elapsed(p));
	EXPECT_OUT(p, "");
	cr_assert(sp_exited_with(r, 1), "the hand-started runner: %s\nstderr: %s", sp_status_str(r), IT_ESC_ERR(r));
	cr_assert(r->out_len == 0, "runner stdout: %s", IT_ESC_OUT(r));
	cr_assert(!exists(marker), "the command ran");
	cr_assert(fake > 0 && lc_survivor(&fake, 1, 3000) == 0, "the fake runner (pid %ld) outlived sbx", fake);
	sp_free(r);
	sp_free(p);
}

/* A launcher's descendant of the right uid passes the peer check; one that
 * does not know the nonce is still refused: here a launcher that starts the
 * real runner through sudo with 64 zeros in place of the nonce. */
Test(elevate, wrong_nonce_from_the_launchers_descendant_is_refused, .timeout = 60)
{
	static const char script[] =
		"#!/bin/sh\n"
		"# sbx runs: evil-launcher -n -- RUNNER --server-pid PID\n"
		"IFS= read -r nonce && IFS= read -r sock || exit 3\n"
		"shift 2\n"
		"printf '%064d\\n%s\\n' 0 \"$sock\" | exec sudo -n -- \"$@\"\n";
	struct pub pb;
	char *launcher, *marker;
	struct sp *p;

	setup_sudo(&pb);
	launcher = it_write_file(pb.dir, "evil-launcher", script, 0755);
	cr_assert(asprintf(&marker, "%s/marker", pb.dir) > 0);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", launcher, "--", "sh", "-c", MARKER_CMD, marker), NULL);
	EXPECT_EXIT(p, 125);
	/* The refused runner may say something too; sbx's line is the one. */
	cr_assert(err_line_has(p, "sbx: ", "nonce"), "no sbx line about the nonce: %s", IT_ESC_ERR(p));
	EXPECT_OUT(p, "");
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse", elapsed(p));
	cr_assert(!exists(marker), "the command ran");
	sp_free(p);
}

/* Another process of the same uid connects before the runner can: it is
 * not the process sbx started, so it is refused, and nothing runs. */
Test(elevate, foreign_process_connecting_first_is_refused, .timeout = 60)
{
	char *dir = it_tmpdir(), *sbx = lc_sbx_with_fakerunner(dir, "foreign-first"), *marker, *log;
	long pids[2];
	struct sp *p;

	cr_assert(asprintf(&marker, "%s/marker", dir) > 0);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--connect-timeout", "10s", "--", "sh", "-c", MARKER_CMD, marker),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	log = fake_log(dir);
	pids[0] = fake_pid(dir);
	pids[1] = number_after(log, "forked foreign pid ");
	cr_assert(pids[1] > 0, "the fake never forked its foreign process; log:\n%s\nstderr: %s", log,
		  IT_ESC_ERR(p));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "not the runner");
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse (the connect timeout is 10 s)", elapsed(p));
	EXPECT_OUT(p, "");
	cr_assert(!exists(marker), "the command ran");
	cr_assert(lc_survivor(pids, 2, 3000) == 0, "the fake or its foreign process outlived sbx; log:\n%s", log);
	sp_free(p);
}

/* A process the launcher started, but with the caller's uid instead of
 * root's: refused on the uid.  The "launcher" is the fake runner itself,
 * which connects as soon as it has the secret. */
Test(elevate, launcher_child_with_the_wrong_uid_is_refused, .timeout = 60)
{
	struct pub pb;
	char *fdir, *fake, *marker, *log;
	long pid;
	struct sp *p;

	need_root("the test runs sbx as another account");
	setup_accounts(false);
	make_pub(&pb);
	fdir = owned_subdir(&pb, "fake", ADMIN);
	cr_assert(asprintf(&fake, "%s/sbx-fakerunner", fdir) > 0 && asprintf(&marker, "%s/marker", pb.dir) > 0);
	copy_public(lc_fakerunner(), fake);
	free(it_write_file(fdir, "fake-mode", "connect-then-silent", 0644));

	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--via", fake, "--connect-timeout", "10s", "--", "sh", "-c",
			       MARKER_CMD, marker),
		   NULL);
	log = fake_log(fdir);
	pid = fake_pid(fdir);
	cr_assert(strstr(log, "connected") != NULL, "the fake never connected; log:\n%s\nstderr: %s", log,
		  IT_ESC_ERR(p));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "not uid 0 as the runner must be");
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse", elapsed(p));
	EXPECT_OUT(p, "");
	cr_assert(!exists(marker), "the command ran");
	cr_assert(pid > 0 && lc_survivor(&pid, 1, 3000) == 0, "the fake launcher (pid %ld) outlived sbx", pid);
	sp_free(p);
}

/* A forged sbx: a socket the test listens on, and a real runner told that
 * its server is pid 1.  It must refuse before it says anything of its own
 * (no hello, so no nonce), report it, and exit 1 without running a thing. */
Test(elevate, runner_refuses_a_server_that_did_not_start_it, .timeout = 60)
{
	char *dir = it_tmpdir(), *path, *secret, nonce[65], buf[65536];
	struct sockaddr_un sa;
	struct pollfd pf;
	size_t got = 0;
	int lfd, cfd;
	struct sp *r;
	long long end;

	cr_assert(asprintf(&path, "%s/s", dir) > 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	cr_assert(strlen(path) < sizeof sa.sun_path, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 1) == 0,
		  "listen on %s: %s", path, strerror(errno));
	memset(nonce, 'a', 64);
	nonce[64] = '\0';
	cr_assert(asprintf(&secret, "%s\n%s\n", nonce, path) > 0);

	r = sp_start(&(struct sp_opts){
		.argv = ARGV(runner_build(), "--server-pid", "1"),
		.in = secret,
		.in_len = strlen(secret),
		.timeout_ms = 20000,
	});
	/* Pumping hands the runner its stdin while we wait for it. */
	end = sp_now_ms() + 5000;
	for (;;) {
		pf = (struct pollfd){ lfd, POLLIN, 0 };
		if (poll(&pf, 1, 0) == 1)
			break;
		cr_assert(sp_now_ms() < end && !sp_has_exited(r), "the runner never connected: %s\nstderr: %s",
			  sp_status_str(r), IT_ESC_ERR(r));
		sp_pump_for(r, 20);
	}
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert(cfd >= 0, "accept: %s", strerror(errno));
	/* Send nothing; read what it says until it hangs up. */
	end = sp_now_ms() + 5000;
	for (;;) {
		long long left = end - sp_now_ms();
		ssize_t n;

		pf = (struct pollfd){ cfd, POLLIN, 0 };
		cr_assert(left > 0 && poll(&pf, 1, (int)left) == 1, "the runner kept the connection open for 5 s");
		n = read(cfd, buf + got, sizeof buf - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		cr_assert(got < sizeof buf, "the runner sent over %zu bytes", sizeof buf);
	}
	sp_wait(r);
	close(cfd);
	close(lfd);

	cr_assert(sp_exited_with(r, 1), "runner: expected exit 1, got %s\nstderr: %s", sp_status_str(r),
		  IT_ESC_ERR(r));
	cr_assert(elapsed(r) < 5000, "the runner took %lld ms", elapsed(r));
	cr_assert(it_buf_has(r->err_buf, r->err_len, "channel server is not the sbx that started this runner"),
		  "runner stderr: %s", IT_ESC_ERR(r));
	/* Frames: u32 length, type, three zero bytes, payload. */
	cr_assert(got >= 8, "the runner sent %zu bytes, not even a frame header", got);
	for (size_t off = 0; off + 8 <= got;) {
		uint32_t len = (uint32_t)(unsigned char)buf[off] << 24 | (uint32_t)(unsigned char)buf[off + 1] << 16 |
			       (uint32_t)(unsigned char)buf[off + 2] << 8 | (unsigned char)buf[off + 3];
		unsigned type = (unsigned char)buf[off + 4];

		cr_assert(type == 0x07, "frame of type 0x%02x from the runner (only an error frame is due)", type);
		off += 8 + len;
	}
	cr_assert(!it_buf_has((unsigned char *)buf, got, nonce), "the runner sent the nonce to a forged server");
}

/* Each run makes its own directory for the channel, 0700 and the caller's,
 * with a socket of an unguessable name, and removes it afterwards. */
Test(elevate, channel_directory_is_private_and_per_run, .timeout = 60)
{
	char *tmp = it_tmpdir(), *tmpenv, *sock[4], *left;
	struct sp *p[2];
	size_t n;

	cr_assert(asprintf(&tmpenv, "TMPDIR=%s", tmp) > 0);
	for (int i = 0; i < 2; i++)
		p[i] = sp_start(&(struct sp_opts){
			.argv = ARGV(lc_sbx_with_fakerunner(it_tmpdir(), "silent-never-connect"), "run", "--same-user",
				     "--connect-timeout", "3s", "--", "true"),
			.envp = it_env(ARGV(tmpenv), ARGV("XDG_RUNTIME_DIR")),
			.stdin_mode = SP_IN_OPEN,
			.timeout_ms = 30000,
		});
	n = wait_sockets(tmp, sock, 2, 10000);
	cr_assert(n == 2, "expected two channel sockets in %s, found %zu", tmp, n);
	for (size_t i = 0; i < n; i++) {
		char *dir = strdup(sock[i]), *name = strrchr(dir, '/'), *base, *alone;
		struct stat st;

		*name++ = '\0';
		base = strrchr(dir, '/') + 1;
		cr_assert(strncmp(base, "sbx-", 4) == 0 && strlen(base) == 10, "directory name %s", base);
		cr_assert(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode), "%s: %s", dir, strerror(errno));
		cr_assert((st.st_mode & 07777) == 0700, "%s has mode %o, not 0700", dir, (unsigned)(st.st_mode & 07777));
		cr_assert(st.st_uid == geteuid(), "%s belongs to uid %ld, not the caller", dir, (long)st.st_uid);
		cr_assert(lstat(sock[i], &st) == 0 && st.st_uid == geteuid(), "%s", sock[i]);
		cr_assert(asprintf(&alone, "%s\n", name) > 0);
		cr_assert_str_eq(lc_list_dir(dir), alone, "%s should hold the socket alone: %s", dir,
				 lc_list_dir(dir));
	}
	cr_assert(strcmp(sock[0], sock[1]) != 0 &&
			  strncmp(sock[0], sock[1], strlen(tmp) + 11) != 0,
		  "two runs share a directory: %s and %s", sock[0], sock[1]);
	for (int i = 0; i < 2; i++) {
		sp_wait(p[i]);
		EXPECT_EXIT(p[i], 125);
		EXPECT_SBX_LINE(p[i], "runner did not connect");
		sp_free(p[i]);
	}
	left = lc_list_dir(tmp);
	cr_assert(left[0] == '\0', "left behind in TMPDIR: %s", left);
}

/* For a runner running as another unprivileged account the directory is
 * 0711 under /tmp and the socket 0666: the account can reach it by its
 * random name but cannot list the directory.  The launcher here is sudo
 * behind a script that holds it back until the test has looked, and that
 * reports the socket's name (a launcher learns it anyway). */
Test(elevate, channel_for_another_account_is_0711_with_a_0666_socket, .timeout = 60)
{
	struct pub pb;
	char *adir, *script, *launcher, *path = NULL, *sdir, *name, *text, go[256];
	struct acct admin;
	struct stat st;
	struct sp_opts o;
	struct sp *p;
	long lpid, sid = 0;
	long long end;
	int fd;

	setup_sudo(&pb);
	admin = account(ADMIN);
	adir = owned_subdir(&pb, "admin", ADMIN);
	cr_assert(asprintf(&script,
			   "#!/bin/sh\n"
			   "d='%s'\n"
			   "echo $$ > \"$d/pid.tmp\" && mv \"$d/pid.tmp\" \"$d/pid\"\n"
			   "IFS= read -r nonce && IFS= read -r sock || exit 3\n"
			   "printf '%%s\\n' \"$sock\" > \"$d/sock.tmp\" && mv \"$d/sock.tmp\" \"$d/sock\"\n"
			   "i=0\n"
			   "while [ ! -e \"$d/go\" ]; do i=$((i + 1)); [ \"$i\" -le 400 ] || exit 4; sleep 0.05; done\n"
			   "printf '%%s\\n%%s\\n' \"$nonce\" \"$sock\" | exec sudo \"$@\"\n",
			   adir) > 0);
	launcher = it_write_file(pb.dir, "slow-sudo", script, 0755);

	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--via", launcher, "--", "id", "-un"), NULL);
	p = sp_start(&o);
	end = sp_now_ms() + 10000;
	while (!(text = read_in(adir, "sock")) && sp_now_ms() < end && !sp_has_exited(p))
		usleep(20000);
	cr_assert(text != NULL, "the launcher never reported the socket: %s", sp_status_str(p));
	path = strndup(text, strcspn(text, "\n"));
	sdir = strdup(path);
	name = strrchr(sdir, '/');
	*name++ = '\0';

	cr_assert(strncmp(sdir, "/tmp/sbx-", 9) == 0 && strlen(sdir) == 15, "channel directory %s", sdir);
	cr_assert(lstat(sdir, &st) == 0 && S_ISDIR(st.st_mode), "%s: %s", sdir, strerror(errno));
	cr_assert((st.st_mode & 07777) == 0711, "%s has mode %o, not 0711", sdir, (unsigned)(st.st_mode & 07777));
	cr_assert(st.st_uid == admin.uid, "%s belongs to uid %ld, not %s", sdir, (long)st.st_uid, ADMIN);
	cr_assert(is_hex32(name), "socket name %s is not 32 hex digits", name);
	cr_assert(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode), "%s: %s", path, strerror(errno));
	cr_assert((st.st_mode & 0777) == 0666, "%s has mode %o, not 0666", path, (unsigned)(st.st_mode & 0777));

	/* -n: the launcher leads a session of its own, with no terminal. */
	text = read_in(adir, "pid");
	lpid = text ? strtol(text, NULL, 10) : 0;
	cr_assert(lpid > 0, "the launcher wrote no pid");
	snprintf(go, sizeof go, "/proc/%ld/stat", lpid);
	text = lc_read_file(go, NULL);
	cr_assert(text && strrchr(text, ')') && sscanf(strrchr(text, ')') + 2, "%*c %*d %*d %ld", &sid) == 1,
		  "cannot read %s", go);
	cr_assert(sid == lpid, "the launcher (pid %ld) is in session %ld, not its own", lpid, sid);

	snprintf(go, sizeof go, "%s/go", adir);
	fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert(fd >= 0, "%s: %s", go, strerror(errno));
	close(fd);
	sp_wait(p);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, BOX "\n");
	EXPECT_ERR(p, "");
	cr_assert(!exists(sdir), "%s is left behind", sdir);
	sp_free(p);
}

/* ------------------------------------------------------------------ audit */

/* The test's own /dev/log: a datagram socket, drained by a child process
 * into a pipe so that no sender (every root run of the whole suite audits
 * while it exists) can block on a full queue. */
struct devlog {
	int lock, pipe;
	pid_t reader;
	ino_t ino;
	char *msgs[256];
	size_t nmsgs;
	unsigned char *pend;
	size_t plen;
};

static struct devlog *the_devlog;

static void devlog_release(void)
{
	struct devlog *dl = the_devlog;
	struct stat st;

	if (!dl)
		return;
	the_devlog = NULL;
	if (dl->reader > 0) {
		kill(dl->reader, SIGKILL);
		waitpid(dl->reader, NULL, 0);
	}
	/* Only our own socket: a logger may have taken the name over since. */
	if (lstat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == dl->ino)
		unlink("/dev/log");
	close(dl->pipe);
	close(dl->lock);
}

/* A socket at path nobody receives on (a test that died holding it). */
static bool stale_socket(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool stale;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	stale = connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static struct devlog *devlog_open(void)
{
	struct devlog *dl = calloc(1, sizeof *dl);
	struct sockaddr_un sa;
	struct stat st;
	int fd, pp[2];

	cr_assert(dl != NULL);
	need_root("only root may bind /dev/log");
	dl->lock = open_root_file(DEVLOG_LOCK, O_RDWR | O_CREAT);
	cr_assert(dl->lock >= 0, "%s: %s", DEVLOG_LOCK, strerror(errno));
	cr_assert(lock_within(dl->lock, LOCK_EX, 60000), "%s: no lock within 60 s", DEVLOG_LOCK);
	if (lstat("/dev/log", &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || !stale_socket("/dev/log"))
			cr_skip_test("a system logger owns /dev/log: the audit line goes there, not to the test");
		unlink("/dev/log");
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		cr_skip_test("cannot bind /dev/log: %s", strerror(errno));
	the_devlog = dl;
	atexit(devlog_release);
	cr_assert(lstat("/dev/log", &st) == 0);
	dl->ino = st.st_ino;
	/* Any account's runner may write to it, so that silence means silence. */
	chmod("/dev/log", 0666);
	cr_assert(pipe2(pp, O_CLOEXEC) == 0);
	(void)fcntl(pp[1], F_SETPIPE_SZ, 1 << 20);
	dl->reader = fork();
	cr_assert(dl->reader >= 0);
	if (dl->reader == 0) {
		char buf[8192];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pp[0]);
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);
			uint32_t len;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				_exit(0);
			len = (uint32_t)n;
			if (write(pp[1], &len, sizeof len) != sizeof len || write(pp[1], buf, len) != (ssize_t)len)
				_exit(0);
		}
	}
	close(fd);
	close(pp[1]);
	dl->pipe = pp[0];
	fcntl(dl->pipe, F_SETFL, fcntl(dl->pipe, F_GETFL) | O_NONBLOCK);
	return dl;
}

/* Moves what the reader has forwarded into dl->msgs; waits up to ms. */
static void devlog_pump(struct devlog *dl, int ms)
{
	struct pollfd pf = { dl->pipe, POLLIN, 0 };
	unsigned char buf[16384];
	ssize_t n;

	if (poll(&pf, 1, ms) <= 0)
		return;
	while ((n = read(dl->pipe, buf, sizeof buf)) > 0) {
		dl->pend = realloc(dl->pend, dl->plen + (size_t)n);
		cr_assert(dl->pend != NULL);
		memcpy(dl->pend + dl->plen, buf, (size_t)n);
		dl->plen += (size_t)n;
	}
	for (;;) {
		uint32_t len;

		if (dl->plen < sizeof len)
			break;
		memcpy(&len, dl->pend, sizeof len);
		if (dl->plen < sizeof len + len)
			break;
		if (dl->nmsgs < sizeof dl->msgs / sizeof dl->msgs[0])
			dl->msgs[dl->nmsgs++] = strndup((char *)dl->pend + sizeof len, len);
		memmove(dl->pend, dl->pend + sizeof len + len, dl->plen - sizeof len - len);
		dl->plen -= sizeof len + len;
	}
}

static size_t devlog_count(struct devlog *dl, const char *needle, const char **first)
{
	size_t n = 0;

	for (size_t i = 0; i < dl->nmsgs; i++)
		if (strstr(dl->msgs[i], needle)) {
			if (n++ == 0 && first)
				*first = dl->msgs[i];
		}
	return n;
}

/* The first message containing needle, within ms; NULL if none came. */
static const char *devlog_wait(struct devlog *dl, const char *needle, int ms)
{
	long long end = sp_now_ms() + ms;
	const char *hit = NULL;

	while (devlog_count(dl, needle, &hit) == 0) {
		long long left = end - sp_now_ms();

		if (left <= 0)
			return NULL;
		devlog_pump(dl, left > 50 ? 50 : (int)left);
	}
	return hit;
}

/* Everything sent to /dev/log before now has been read: a datagram of our
 * own, sent after, has come through. */
static void devlog_sync(struct devlog *dl)
{
	static int seq;
	struct sockaddr_un sa;
	char mark[64];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(mark, sizeof mark, "sbxt-audit-sync-%ld-%d", (long)getpid(), ++seq);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	cr_assert(fd >= 0 && sendto(fd, mark, strlen(mark), 0, (struct sockaddr *)&sa, sizeof sa) >= 0,
		  "send to /dev/log: %s", strerror(errno));
	close(fd);
	cr_assert(devlog_wait(dl, mark, 5000) != NULL, "our own datagram never came through /dev/log");
}

/* The one audit line with `marker` (checked to be the only one), and its
 * common parts: priority, ident, and the argv at the end. */
static const char *audit_line(struct devlog *dl, const char *marker, const char *argv_tail)
{
	const char *line = devlog_wait(dl, marker, 5000), *tail;
	size_t n;

	cr_assert(line != NULL, "no audit line with %s within 5 s", marker);
	devlog_sync(dl);
	n = devlog_count(dl, marker, NULL);
	cr_assert(n == 1, "%zu audit lines for one run: %s", n, line);
	cr_assert(strncmp(line, AUDIT_PRI, strlen(AUDIT_PRI)) == 0, "not LOG_AUTHPRIV|LOG_NOTICE: %s", line);
	cr_assert(strstr(line, " sbx-runner[") != NULL && strstr(line, "]: user="), "ident: %s", line);
	tail = line + strlen(line) - strlen(argv_tail);
	cr_assert(strlen(line) >= strlen(argv_tail) && strcmp(tail, argv_tail) == 0,
		  "the line should end in %s: %s", argv_tail, line);
	return line;
}

#define EXPECT_AUDIT_HAS(line, s) cr_assert(strstr((line), (s)) != NULL, "audit line lacks \"%s\": %s", (s), (line))

Test(elevate, audit_line_for_a_root_run, .timeout = 90)
{
	struct devlog *dl = devlog_open();
	char marker[64], *tail, *pid;
	const char *line;
	struct sp *p;

	snprintf(marker, sizeof marker, "sbxt-audit-%ld-root", (long)getpid());
	p = run_here(ARGV(SBX, "run", "--", "sh", "-c", "exit 7", marker), NULL);
	EXPECT_EXIT(p, 7);
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"exit 7\" \"%s\"", marker) > 0);
	cr_assert(asprintf(&pid, " sbx_pid=%ld ", (long)p->pid) > 0);
	line = audit_line(dl, marker, tail);
	EXPECT_AUDIT_HAS(line, "]: user=\"root\" uid=0 ");
	EXPECT_AUDIT_HAS(line, pid);
	EXPECT_AUDIT_HAS(line, " as=\"root\" ");
	EXPECT_AUDIT_HAS(line, " result=exit:7 ");
	EXPECT_AUDIT_HAS(line, " cwd=\"/\" ");
	sp_free(p);
	devlog_release();
}

Test(elevate, audit_line_names_the_account_and_how_it_ended, .timeout = 90)
{
	struct devlog *dl;
	char marker[64], *tail;
	const char *line;
	struct stat st;
	struct sp *p;

	setup_accounts(false);
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-audit-%ld-signal", (long)getpid());
	p = run_here(ARGV(SBX, "run", "-u", BOX, "--", "sh", "-c", "kill -TERM $$", marker), NULL);
	EXPECT_SIGNAL(p, SIGTERM);
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"kill -TERM $$\" \"%s\"", marker) > 0);
	line = audit_line(dl, marker, tail);
	EXPECT_AUDIT_HAS(line, "]: user=\"root\" uid=0 ");
	EXPECT_AUDIT_HAS(line, " as=\"" BOX "\" ");
	EXPECT_AUDIT_HAS(line, " result=signal:15 ");
	sp_free(p);

	/* A command that never started is audited too, with the stage. */
	if (stat("/root", &st) == 0 && !(st.st_mode & S_IXOTH)) {
		snprintf(marker, sizeof marker, "sbxt-audit-%ld-chdir", (long)getpid());
		p = run_here(ARGV(SBX, "run", "-u", BOX, "-C", "/root", "--", "true", marker), NULL);
		EXPECT_EXIT(p, 125);
		cr_assert(asprintf(&tail, " argv=\"true\" \"%s\"", marker) > 0);
		line = audit_line(dl, marker, tail);
		EXPECT_AUDIT_HAS(line, " as=\"" BOX "\" ");
		EXPECT_AUDIT_HAS(line, " result=not-started:chdir ");
		EXPECT_AUDIT_HAS(line, " cwd=\"/root\" ");
		sp_free(p);
	}
	devlog_release();
}

/* Through sudo the line names who asked: the account that ran sbx. */
Test(elevate, audit_line_through_sudo_names_the_caller, .timeout = 90)
{
	struct pub pb;
	struct devlog *dl;
	char marker[64], *tail, *who, *pid;
	const char *line;
	struct sp *p;

	setup_sudo(&pb);
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-audit-%ld-sudo", (long)getpid());
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "exit 0", marker), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	cr_assert(asprintf(&tail, " argv=\"sh\" \"-c\" \"exit 0\" \"%s\"", marker) > 0);
	cr_assert(asprintf(&who, "]: user=\"%s\" uid=%ld ", ADMIN, (long)account(ADMIN).uid) > 0);
	cr_assert(asprintf(&pid, " sbx_pid=%ld ", (long)p->pid) > 0);
	line = audit_line(dl, marker, tail);
	EXPECT_AUDIT_HAS(line, who);
	EXPECT_AUDIT_HAS(line, pid);
	EXPECT_AUDIT_HAS(line, " as=\"root\" ");
	EXPECT_AUDIT_HAS(line, " result=exit:0 ");
	sp_free(p);
	devlog_release();
}

/* A same-user run crosses nothing, so it leaves no line. */
Test(elevate, no_audit_line_for_a_same_user_run, .timeout = 90)
{
	struct pub pb;
	struct devlog *dl;
	char marker[64];
	struct sp *p;

	setup_accounts(false);
	make_pub(&pb);
	dl = devlog_open();
	snprintf(marker, sizeof marker, "sbxt-audit-%ld-same", (long)getpid());
	p = run_as(PLAIN, ARGV(pb.sbx, "run", "--same-user", "--", "sh", "-c", "exit 0", marker), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_ERR(p, "");
	/* sbx waited for its runner, so a line would be in the queue by now. */
	devlog_sync(dl);
	cr_assert(devlog_count(dl, marker, NULL) == 0, "a same-user run was audited: %s",
		  devlog_wait(dl, marker, 0));
	sp_free(p);
	devlog_release();
}
