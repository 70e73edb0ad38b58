/* sudo's password prompt: on the terminal, never on sbx's stdio.  Run as
 * root with the accounts of accounts.h, on a pseudo-terminal of the
 * test's own (pty.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"
#include "pty.h"
#include "sockets.h"

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
	it_keep(line);
	p = it_keep(sp_run(&(struct sp_opts){
		.argv = ARGV(chpasswd),
		.envp = it_env(ARGV(SYS_PATH), NULL),
		.in = line,
		.in_len = strlen(line),
		.timeout_ms = 30000,
	}));
	if (!sp_exited_with(p, 0))
		cr_skip_test("chpasswd cannot set %s's password here (%s): %s", PW, sp_status_str(p), IT_ESC_ERR(p));
	sp_free(p);

	/* sudo on its own, the password on its stdin (-S), no terminal: it
	 * lists the rule only once PAM has accepted the password. */
	cr_assert(asprintf(&line, "%s\n", pass) > 0);
	it_keep(line);
	o = as_opts(PW, no_tty(ARGV(sudo, "-S", "-p", "", "-l")), NULL);
	o.in = line;
	o.in_len = strlen(line);
	/* Kept: a skip below leaves the test before sp_free. */
	p = it_keep(sp_run(&o));
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
	it_keep(marker);
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
