/* Containment: the command is inside its process group, watched by the
 * guardian, before it runs a single instruction (ARCHITECTURE.md item 6,
 * nothing outlives the run).
 *
 * Every process of a command here carries a marker that no other process
 * on the machine has: the commands run a symbolic link to sleep(1) whose
 * name is unique to the test, so it shows in /proc/PID/cmdline of the
 * shell and of every sleep it starts.  A fork of the runner that has not
 * yet reached exec carries the runner's own command line, which names the
 * pid of the sbx it serves (--server-pid), and is looked for as well.
 * Whatever the scan finds after the run is counted, then killed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a process the guardian is ending may still show after sbx
 * returns; one still there after this was left behind. */
#define GRACE_MS 3000

struct mark {
	char *prog; /* the link to sleep(1): a path holding the marker */
	char *name; /* its last component: the marker */
};

/* `world`: in a directory every account can pass through, for -u runs. */
static void mark_init(struct mark *m, bool world)
{
	const char *sleep_bin = access("/bin/sleep", X_OK) == 0 ? "/bin/sleep" : "/usr/bin/sleep";
	unsigned char raw[8];
	char *dir;
	FILE *f;

	f = fopen("/dev/urandom", "rb");
	cr_assert(f != NULL && fread(raw, 1, sizeof raw, f) == sizeof raw, "/dev/urandom");
	fclose(f);
	cr_assert(asprintf(&m->name, "sbx-contain-%ld-%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(),
			   raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]) > 0);
	/* The mark lives as long as the test process: kept reachable, so that
	 * LeakSanitizer does not count it once the caller's frame is gone. */
	it_keep(m->name);
	if (world) {
		dir = it_keep(strdup("/tmp/sbx-contain-XXXXXX"));
		cr_assert(dir != NULL && mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
		it_remove_at_exit(dir);
		cr_assert(chmod(dir, 0755) == 0, "chmod %s: %s", dir, strerror(errno));
	} else {
		dir = it_tmpdir();
	}
	cr_assert(asprintf(&m->prog, "%s/%s", dir, m->name) > 0);
	it_keep(m->prog);
	cr_assert(symlink(sleep_bin, m->prog) == 0, "symlink %s: %s", m->prog, strerror(errno));
}

static bool has_bytes(const char *buf, size_t len, const char *needle, size_t nlen)
{
	return nlen > 0 && memmem(buf, len, needle, nlen) != NULL;
}

/* Processes whose command line holds the marker, or that are a fork of the
 * runner serving sbx `sbx_pid` (0: none); their pids in pids[], at most
 * max.  Zombies have an empty command line and so never count. */
static size_t find_marked(const struct mark *m, long sbx_pid, long *pids, size_t max)
{
	char server[64];
	size_t slen = 0, n = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	cr_assert(d != NULL, "opendir /proc: %s", strerror(errno));
	if (sbx_pid > 0) {
		/* "--server-pid\0PID\0", NULs included. */
		int k = snprintf(server, sizeof server, "--server-pid%c%ld%c", 0, sbx_pid, 0);
		slen = (size_t)k;
	}
	while ((de = readdir(d)) != NULL && n < max) {
		char path[64], *end, *buf;
		long pid = strtol(de->d_name, &end, 10);
		size_t len = 0;

		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		if ((buf = lc_read_file(path, &len)) == NULL)
			continue;
		if (has_bytes(buf, len, m->name, strlen(m->name)) || has_bytes(buf, len, server, slen))
			pids[n++] = pid;
		free(buf);
	}
	closedir(d);
	return n;
}

/* After a run: waits up to GRACE_MS for every marked process to go, then
 * kills whatever is left.  Returns how many were left, and the first. */
static size_t leftovers(const struct mark *m, long sbx_pid, long *first)
{
	long pids[64];
	long long end = sp_now_ms() + GRACE_MS;
	size_t n;

	*first = 0;
	for (;;) {
		n = find_marked(m, sbx_pid, pids, 64);
		if (n == 0)
			return 0;
		if (sp_now_ms() >= end)
			break;
		usleep(2000);
	}
	*first = pids[0];
	for (size_t i = 0; i < n; i++)
		kill((pid_t)pids[i], SIGKILL);
	for (size_t i = 0; i < n; i++)
		it_wait_gone(pids[i], 2000);
	return n;
}

/* The sbx-runner that sbx `sbx` started, once it has exec'd, or 0.  The
 * kernel's list of children is cheap enough to poll in a tight loop. */
static long runner_of(long sbx)
{
	char path[96], *kids, *s;
	long found = 0;

	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", sbx, sbx);
	if ((kids = lc_read_file(path, NULL)) == NULL)
		return lc_runner_of(sbx);
	for (s = kids; *s && !found;) {
		char *end, cpath[64], *comm;
		long pid = strtol(s, &end, 10);

		if (end == s)
			break;
		s = end;
		snprintf(cpath, sizeof cpath, "/proc/%ld/comm", pid);
		comm = lc_read_file(cpath, NULL);
		if (comm && strcmp(comm, "sbx-runner\n") == 0)
			found = pid;
		free(comm);
	}
	free(kids);
	return found;
}

static const char *const *run_argv(const struct mark *m, const char *user, const char *script)
{
	static const char *v[16];
	size_t n = 0;

	v[n++] = SBX;
	v[n++] = "run";
	if (user) {
		v[n++] = "-u";
		v[n++] = user;
		v[n++] = "-C";
		v[n++] = "/";
	} else {
		v[n++] = "--same-user";
	}
	v[n++] = "--";
	v[n++] = "/bin/sh";
	v[n++] = "-c";
	v[n++] = script;
	v[n++] = m->prog;
	v[n] = NULL;
	return v;
}

/* ----------------------------------------------- a command that leaves */

/* The command starts a long sleep in the background and exits at once;
 * once sbx has returned, the sleep is gone too.  Half the runs let the
 * sleep keep the command's stdout, half send it to /dev/null, so both the
 * "output still open" and the "nothing open" ends of a run are covered. */
Test(contain, command_that_forks_and_exits_at_once_leaves_nothing, .timeout = 120)
{
	struct mark m;

	mark_init(&m, false);
	for (int i = 0; i < 20; i++) {
		const char *script = i % 2 ? "\"$0\" 60 </dev/null >/dev/null 2>&1 & echo $!"
					   : "\"$0\" 60 & echo $!";
		struct sp *p = sp_run(&(struct sp_opts){
			.argv = run_argv(&m, NULL, script),
			.stdin_mode = SP_IN_NULL,
			.timeout_ms = 20000,
		});
		long bg = 0, first;
		size_t left;

		EXPECT_EXIT(p, 0);
		cr_assert(lc_numbers(p->out_buf, p->out_len, &bg, 1) == 1 && bg > 1,
			  "run %d: no pid on stdout: %s", i, IT_ESC_OUT(p));
		left = leftovers(&m, 0, &first);
		cr_assert(left == 0, "run %d: %zu process(es) outlived the run, pid %ld first (the background "
			  "sleep was %ld)", i, left, first, bg);
		sp_free(p);
	}
}

/* ------------------------------------- SIGKILL in the first few ms */

enum victim { RUNNER, SBX_ITSELF };

/* `runs` times: start a command that forks at once and then sleeps, and
 * SIGKILL the runner (or sbx) at a random moment within `window_us` of the
 * runner's exec, which is when it connects, shakes hands and spawns.
 * Nothing marked may be left once sbx has ended.  Bounded: stops early
 * after `budget_ms`, having done at least a quarter of the runs. */
static void kill_early(enum victim who, const char *user, bool world, int runs, int window_us,
		       long long budget_ms)
{
	struct mark m;
	long long stop = sp_now_ms() + budget_ms;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	int done = 0, started = 0, bad = 0;
	size_t total_left = 0;
	long first_left = 0;

	mark_init(&m, world);
	cr_log_info("seed %u", seed);
	for (; done < runs && (done < runs / 4 || sp_now_ms() < stop); done++) {
		struct sp *p = sp_start(&(struct sp_opts){
			.argv = run_argv(&m, user, "\"$0\" 60 & exec \"$0\" 60"),
			.stdin_mode = SP_IN_NULL,
			.timeout_ms = 20000,
		});
		long long end = sp_now_ms() + 5000;
		long runner = 0, first;
		useconds_t delay = (useconds_t)(rand_r(&seed) % (unsigned)window_us);
		size_t left;

		while ((runner = runner_of(p->pid)) == 0 && !sp_has_exited(p) && sp_now_ms() < end)
			usleep(50);
		cr_assert(runner > 0, "run %d: no sbx-runner under sbx %ld: %s; stderr: %s", done,
			  (long)p->pid, sp_status_str(p), IT_ESC_ERR(p));
		usleep(delay);
		kill(who == RUNNER ? (pid_t)runner : p->pid, SIGKILL);
		/* Only sbx's exit is waited for: a fork of the runner that has not
		 * yet exec'd may hold sbx's stderr, and that is what is under test. */
		end = sp_now_ms() + 10000;
		while (!sp_has_exited(p) && sp_now_ms() < end)
			sp_pump_for(p, 2);
		cr_assert(sp_has_exited(p), "run %d: sbx still running 10 s after the SIGKILL", done);
		if (find_marked(&m, 0, (long[1]){ 0 }, 1) > 0)
			started++;
		left = leftovers(&m, (long)p->pid, &first);
		if (left > 0 && bad++ == 0)
			first_left = first;
		total_left += left;
		sp_free(p);
	}
	cr_log_info("%d runs, the command seen running after %d of them, %zu process(es) left by %d",
		    done, started, total_left, bad);
	cr_assert(total_left == 0,
		  "%zu process(es) outlived %d of %d runs whose %s was killed in the first %d us (pid %ld first)",
		  total_left, bad, done, who == RUNNER ? "runner" : "sbx", window_us, first_left);
}

Test(contain, sigkill_of_the_runner_early_leaves_nothing, .timeout = 180)
{
	kill_early(RUNNER, NULL, false, 100, 4000, 60000);
}

Test(contain, sigkill_of_sbx_early_leaves_nothing, .timeout = 180)
{
	kill_early(SBX_ITSELF, NULL, false, 100, 4000, 60000);
}

/* As root for another account: the runner switches the child's ids before
 * it may run the command, and the guardian must hold it all the same. */
Test(contain, sigkill_of_the_runner_early_leaves_nothing_with_user, .timeout = 180)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		cr_skip_test("needs root and a 'nobody' account");
	kill_early(RUNNER, "nobody", true, 100, 4000, 60000);
}

/* ------------------------------ the guardian, seen from the command */

/* What the command's first instructions see of its process group: the
 * guardian is there already, and it is the runner's child, not the
 * command's (a child of the command would be one its shell could wait for,
 * and would outlive nothing).  The shell prints "members guardians" where
 * a guardian is a process in its group named sbx-runner whose parent is
 * the shell's parent; with `probe`, then "guarded" when it cannot signal
 * that guardian (a guardian running as the account could be killed by the
 * command it contains). */
static const char guardian_scan[] =
	"g=$(for f in /proc/[0-9]*/stat; do { read -r l <\"$f\"; } 2>/dev/null && echo \"$l\"; done |"
	" awk -v g=$$ -v pp=$PPID '$5 == g && $2 == \"(sbx-runner)\" && $4 == pp { print $1 }');"
	" set -- $g; echo \"$#\";"
	" if [ -n \"$PROBE\" ] && [ $# -ge 1 ]; then kill -0 \"$1\" 2>/dev/null || echo guarded; fi";

static void guardian_seen(const char *user)
{
	const char *v[16];
	size_t n = 0;
	struct sp *p;

	v[n++] = SBX;
	v[n++] = "run";
	if (user) {
		v[n++] = "-u";
		v[n++] = user;
		v[n++] = "-C";
		v[n++] = "/";
		v[n++] = "--";
		v[n++] = "/usr/bin/env";
		v[n++] = "PROBE=1";
	} else {
		v[n++] = "--same-user";
		v[n++] = "--";
	}
	v[n++] = "/bin/sh";
	v[n++] = "-c";
	v[n++] = guardian_scan;
	v[n] = NULL;
	for (int i = 0; i < 10; i++) {
		p = sp_run(&(struct sp_opts){ .argv = v, .stdin_mode = SP_IN_NULL, .timeout_ms = 20000 });
		EXPECT_EXIT(p, 0);
		cr_assert(it_buf_eq(p->out_buf, p->out_len, user ? "1\nguarded\n" : "1\n"),
			  "run %d: want one guardian in the group, the runner's child%s; got %s (stderr %s)", i,
			  user ? ", out of the account's reach" : "", IT_ESC_OUT(p), IT_ESC_ERR(p));
		sp_free(p);
	}
}

Test(contain, the_guardian_is_in_the_group_when_the_command_starts, .timeout = 120)
{
	guardian_seen(NULL);
}

/* The guardian starts before the switch to the account: it keeps root's
 * ids, so the command cannot end it and then outlive the run. */
Test(contain, the_guardian_is_out_of_the_accounts_reach, .timeout = 120)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL)
		cr_skip_test("needs root and a 'nobody' account");
	guardian_seen("nobody");
}
