/* sudo's I/O logging: with log_input sudo relays the command's stdin
 * through a pipe of its own, with log_output its stdout (and stderr), so
 * the runner may get its end of the channel on stdin, on stdout, or on
 * neither.  Each test adds, for its own public copy of sbx-runner alone,
 * a sudoers Defaults line that turns logging on, with the logs in the
 * test's public directory; both go when the test process exits. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char rule_path[128];

static void remove_rule(void)
{
	if (rule_path[0] != '\0')
		unlink(rule_path);
}

/* Defaults!<this test's sbx-runner> `what`, iolog_dir=<public dir>/iolog:
 * no other test's runner (each has a directory of its own) logs anything.
 * The file name has no dot, or sudo's @includedir would skip it. */
static void iolog_rule(const struct pub *pb, const char *what)
{
	char tmp[160], *rule, *visudo = tool("visudo");
	struct sp *p;
	size_t len;
	int fd;

	snprintf(rule_path, sizeof rule_path, "/etc/sudoers.d/sbx-itest-iolog-%ld", (long)getpid());
	snprintf(tmp, sizeof tmp, "%s.tmp", rule_path);
	cr_assert(asprintf(&rule, "Defaults!%s %s, iolog_dir=%s/iolog\n", pb->runner, what, pb->dir) > 0);
	len = strlen(rule);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0440);
	cr_assert(fd >= 0, "create %s: %s", tmp, strerror(errno));
	cr_assert(write(fd, rule, len) == (ssize_t)len, "write %s: %s", tmp, strerror(errno));
	cr_assert(fchmod(fd, 0440) == 0);
	close(fd);
	if (visudo) {
		p = sp_run(&(struct sp_opts){
			.argv = ARGV(visudo, "-c", "-f", tmp),
			.stdin_mode = SP_IN_NULL,
			.timeout_ms = 30000,
		});
		if (!sp_exited_with(p, 0))
			unlink(tmp);
		cr_assert(sp_exited_with(p, 0), "visudo -cf rejects \"%s\": %s\nstderr: %s", rule, sp_status_str(p),
			  IT_ESC_ERR(p));
		sp_free(p);
	}
	atexit(remove_rule);
	cr_assert(rename(tmp, rule_path) == 0, "install %s: %s", rule_path, strerror(errno));
	free(rule);
}

/* Some file named `name` below dir: sudo logged that stream, so the rule
 * was in force for the run. */
static bool logged(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool hit = false;

	if (d == NULL)
		return false;
	while (!hit && (de = readdir(d)) != NULL) {
		char path[512];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			hit = logged(path, name);
		else
			hit = strcmp(de->d_name, name) == 0;
	}
	closedir(d);
	return hit;
}

static void expect_logged(const struct pub *pb, const char *name)
{
	char dir[128];

	snprintf(dir, sizeof dir, "%s/iolog", pb->dir);
	cr_assert(logged(dir, name), "sudo logged no %s under %s: the rule was not in force", name, dir);
}

/* sudo hands the runner a pipe as stdin; sbx's end of the channel is the
 * runner's stdout too, and the runner writes there itself. */
Test(elevate_iolog, log_input_runs_the_command, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	char uid[32];

	setup_sudo(&pb);
	iolog_rule(&pb, "log_input");
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
	expect_logged(&pb, "stdin");

	/* As another account: the runner, not root, is the writer sbx sees. */
	snprintf(uid, sizeof uid, "%ld\n", (long)account(BOX).uid);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, uid);
	EXPECT_ERR(p, "");
	sp_free(p);
}

/* Through sudo's relay both ways, byte-exact, with backpressure: more
 * stdin than any pipe holds, and output back on the socket. */
Test(elevate_iolog, log_input_passes_stdin_and_output_byte_exact, .timeout = 90)
{
	size_t n = 4 * MIB, m = 384 * 1024;
	unsigned char *data = it_pattern_alloc(7, n);
	char count[32];
	struct pub pb;
	struct sp_opts o;
	struct sp *p;
	long long at;

	setup_sudo(&pb);
	iolog_rule(&pb, "log_input");
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

	snprintf(count, sizeof count, "%zu", m);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", pb.helper, "write", "both", count, "4242"), NULL);
	EXPECT_EXIT(p, 0);
	at = it_pattern_mismatch(p->out_buf, p->out_len, 4242, m);
	cr_assert(at < 0, "stdout differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->out_len, m);
	at = it_pattern_mismatch(p->err_buf, p->err_len, 4243, m);
	cr_assert(at < 0, "stderr differs from the pattern at byte %lld (got %zu of %zu bytes)", at, p->err_len, m);
	sp_free(p);
}

/* sudo relays the runner's stdout; its stdin is still the socket. */
Test(elevate_iolog, log_output_runs_the_command, .timeout = 60)
{
	struct pub pb;
	struct sp *p;

	setup_sudo(&pb);
	iolog_rule(&pb, "log_output");
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "id", "-u"), NULL);
	EXPECT_EXIT(p, 0);
	EXPECT_OUT(p, "0\n");
	EXPECT_ERR(p, "");
	sp_free(p);
	expect_logged(&pb, "stdout");
}

/* Both relayed: whatever reached sbx would be written by sudo, not by the
 * runner, so nothing can tell who is at the other end.  Refused at once,
 * exit 125, in one sbx line that says why, for root and for an account;
 * the command never runs. */
Test(elevate_iolog, log_input_and_log_output_are_refused_clearly, .timeout = 60)
{
	struct pub pb;
	struct sp *p;
	char *marker;

	setup_sudo(&pb);
	iolog_rule(&pb, "log_input, log_output");
	cr_assert(asprintf(&marker, "%s/ran", pb.dir) > 0);
	for (int as_box = 0; as_box < 2; as_box++) {
		p = run_as(ADMIN,
			   as_box ? ARGV(pb.sbx, "run", "-n", "-u", BOX, "--", "sh", "-c", "touch \"$0\"", marker)
				  : ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", "touch \"$0\"", marker),
			   NULL);
		EXPECT_EXIT(p, 125);
		cr_assert(p->out_len == 0, "stdout: %s", IT_ESC_OUT(p));
		EXPECT_SBX_LINE(p, "log_input and log_output together");
		EXPECT_SBX_LINE(p, "cannot tell who writes");
		cr_assert(elapsed(p) < 5000, "sbx took %lld ms to give up", elapsed(p));
		cr_assert(access(marker, F_OK) < 0, "the command ran");
		sp_free(p);
	}
	free(marker);
}

/* The runner itself, with the secret on a pipe and a pipe for stdout, as
 * a launcher that relays both leaves it: it tells sbx why in an error
 * frame on stdout, which the launcher relays to sbx, says nothing on
 * stderr (sbx's line is the only one), and never sends its hello, so the
 * nonce goes nowhere but sbx's socket pair.  No root needed. */
Test(elevate_iolog, runner_with_both_relayed_says_why_on_stdout_only, .timeout = 30)
{
	char pid[32], secret[128], nonce[65];
	struct sp *p;

	for (size_t i = 0; i < 64; i++)
		nonce[i] = "0123456789abcdef"[(i * 7 + 3) % 16];
	nonce[64] = '\0';
	snprintf(secret, sizeof secret, "%s\nstdin\n", nonce);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(runner_build(), "--server-pid", pid),
		.in = (const unsigned char *)secret,
		.in_len = strlen(secret),
		.timeout_ms = 20000,
	});
	EXPECT_EXIT(p, 1);
	EXPECT_ERR(p, "");
	cr_assert(it_buf_has(p->out_buf, p->out_len, "log_input and log_output together") &&
			  it_buf_has(p->out_buf, p->out_len, "cannot tell who writes"),
		  "stdout should hold an error frame that says why: %s", IT_ESC_OUT(p));
	cr_assert(!it_buf_has(p->out_buf, p->out_len, nonce), "the nonce went to stdout: %s", IT_ESC_OUT(p));
	sp_free(p);
}
