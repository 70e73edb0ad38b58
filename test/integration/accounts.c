/* The elevation tests' world: throwaway accounts and the sudoers rule
 * (created under a lock, removed once at the end of the run), public
 * copies of the binaries any account can run, and running sbx as an
 * account.  accounts.h says what each piece is for. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "accounts.h"
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

enum { MADE_EXTRA = 1, MADE_ADMIN = 2, MADE_PLAIN = 4, MADE_BOX = 8, MADE_SUDOERS = 16, MADE_PW = 32 };
#define MADE_ALL 63u

/* ------------------------------------------------------------ tools */

/* Absolute path of a system program, or NULL (no assertions: the report
 * hook uses it too). */
char *tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL };

	for (const char *const *d = dirs; *d; d++) {
		char path[256];

		snprintf(path, sizeof path, "%s/%s", *d, name);
		if (access(path, X_OK) == 0)
			return it_keep(strdup(path));
	}
	return NULL;
}

void need_root(const char *why)
{
	if (geteuid() != 0)
		cr_skip_test("not root: %s", why);
}

void need_sudo(void)
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
int open_root_file(const char *path, int flags)
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
bool lock_within(int fd, int how, int ms)
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
void setup_accounts(bool sudoers)
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

struct acct account(const char *name)
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
	static char sys_path[] = SYS_PATH;
	char *const env[] = { sys_path, NULL };
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
	/* The last run to end removes the lock files, holding HOLD_LOCK alone.
	 * A run that opened the file just before that, and got its share only
	 * after, holds a lock on a removed file that no later run would see:
	 * it takes the share again on whatever file the name now holds. */
	for (int tries = 0; tries < 20; tries++) {
		struct stat held, named;

		hold_fd = open_root_file(HOLD_LOCK, O_RDWR | O_CREAT);
		if (hold_fd < 0)
			return;
		if (!lock_within(hold_fd, LOCK_SH, 60000))
			break;
		if (fstat(hold_fd, &held) == 0 && stat(HOLD_LOCK, &named) == 0 && held.st_dev == named.st_dev &&
		    held.st_ino == named.st_ino)
			return;
		close(hold_fd);
	}
	close(hold_fd);
	hold_fd = -1;
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
	/* Nothing left to remember and no other run: the lock files go too
	 * (HOLD_LOCK last; PRE_ALL explains why a run starting now is safe). */
	if (!made) {
		unlink(SETUP_LOCK);
		unlink(DEVLOG_LOCK);
		unlink(PW_LOCK);
		unlink(HOLD_LOCK);
	}
	close(fd);
out:
	close(hold_fd);
	hold_fd = -1;
}

/* ------------------------------------------------------------ public copies */

char *runner_build(void)
{
	char *dir = strdup(SBX), *path;

	*strrchr(dir, '/') = '\0';
	cr_assert(asprintf(&path, "%s/sbx-runner", dir) > 0);
	free(dir);
	cr_assert(access(path, X_OK) == 0, "no sbx-runner beside sbx at %s", path);
	return it_keep(path);
}

void copy_public(const char *from, const char *to)
{
	it_copy_file(from, to);
	cr_assert(chmod(to, 0755) == 0, "chmod %s: %s", to, strerror(errno));
}

/* /tmp/sbx-elev-XXXXXX, 0755, with copies any account can run; removed
 * when the test process exits. */
void make_pub(struct pub *pb)
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
char *owned_subdir(const struct pub *pb, const char *name, const char *owner)
{
	struct acct a = account(owner);
	char *dir;

	cr_assert(asprintf(&dir, "%s/%s", pb->dir, name) > 0);
	cr_assert(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
	cr_assert(chown(dir, a.uid, a.gid) == 0, "chown %s: %s", dir, strerror(errno));
	return it_keep(dir);
}

/* Root, sudo, the accounts and the rule, and a public copy. */
void setup_sudo(struct pub *pb)
{
	need_root("the test runs sbx as other accounts and elevates through sudo");
	need_sudo();
	setup_accounts(true);
	make_pub(pb);
}

/* ------------------------------------------------------------ running sbx */

/* The environment of a login-less account: HOME=/, the system PATH, no
 * per-user directories, no launcher chosen, plus `extra`. */
char **user_env(const char *const *extra)
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

struct sp_opts as_opts(const char *user, const char *const *argv, const char *const *env)
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

struct sp *run_as(const char *user, const char *const *argv, const char *const *env)
{
	struct sp_opts o = as_opts(user, argv, env);

	return sp_run(&o);
}

/* As the test's own user (root, for most callers), in "/", with the system
 * PATH and no launcher chosen, plus `env`. */
struct sp *run_here(const char *const *argv, const char *const *env)
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
const char *const *no_tty(const char *const *argv)
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
	v = it_keep(calloc(n + 3, sizeof *v));
	cr_assert(v != NULL);
	v[0] = setsid;
	v[1] = "-w";
	memcpy(v + 2, argv, (n + 1) * sizeof *v);
	return v;
}

/* Last line of stderr without its newline (leaked). */
char *last_err_line(const struct sp *p)
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
bool err_line_has(const struct sp *p, const char *prefix, const char *needle)
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

void expect_usage_error(struct sp *p, const char *what)
{
	cr_assert(sp_exited_with(p, 125), "%s: expected exit 125, got %s; stderr: %s", what, sp_status_str(p),
		  IT_ESC_ERR(p));
	cr_assert(p->err_len > 5 && memcmp(p->err_buf, "sbx: ", 5) == 0 &&
			  it_buf_has(p->err_buf, p->err_len, "Try 'sbx run --help'."),
		  "%s: expected a usage error, got \"%s\"", what, IT_ESC_ERR(p));
	cr_assert(p->out_len == 0, "%s: stdout: %s", what, IT_ESC_OUT(p));
}

long long elapsed(const struct sp *p)
{
	return p->end_ms - p->start_ms;
}

char *hash_line(const void *buf, size_t len)
{
	char *s;

	cr_assert(asprintf(&s, "%zu %016" PRIx64 "\n", len, it_fnv1a64(buf, len)) > 0);
	return it_keep(s);
}

/* Numbers in a line of `id -G` style output, sorted. */
size_t sorted_ids(const unsigned char *buf, size_t len, long *out, size_t max)
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

size_t sorted_groups(const struct acct *a, long *out)
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

const char *ids_str(const long *ids, size_t n)
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
size_t descendants(long root, long *out, size_t max)
{
	size_t n = it_children(root, out, max);

	for (size_t i = 0; i < n && n < max; i++)
		n += it_children(out[i], out + n, max - n);
	return n;
}
