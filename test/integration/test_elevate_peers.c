/* Who may be at the other end of the channel: rogue runners, rogue
 * servers, and a channel that nobody else can find. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"
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

/* ------------------------------------------------------------ rogue peers */

#define MARKER_CMD "touch \"$0\""

/* The directories in /tmp named as sbx named its channel's (sbx-XXXXXX)
 * that belong to `user`, one per line (leaked). */
static char *channel_dirs_of(const char *user)
{
	struct acct a = account(user);
	char *out = it_keep(strdup("")), *more;
	struct dirent *de;
	DIR *d = opendir("/tmp");

	cr_assert(d != NULL, "opendir /tmp: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		char path[300];
		struct stat st;

		snprintf(path, sizeof path, "/tmp/%s", de->d_name);
		if (strncmp(de->d_name, "sbx-", 4) != 0 || strlen(de->d_name) != 10 || lstat(path, &st) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != a.uid)
			continue;
		cr_assert(asprintf(&more, "%s%s\n", out, de->d_name) > 0);
		out = it_keep(more);
	}
	closedir(d);
	return out;
}

/* While sbx waits for its runner, the channel is nowhere to be found: sbx
 * holds no Unix socket with a name or that listens, nothing appears under
 * TMPDIR or XDG_RUNTIME_DIR, and the runner's stdin is a socket (its end
 * of the pair).  So no other process can connect to sbx, first or at all,
 * and no runner started by hand can reach it. */
Test(elevate, channel_has_no_name, .timeout = 60)
{
	char *tmp = it_tmpdir(), *xdg = it_tmpdir(), *dir[2], *tmpenv, *xdgenv, *log, *held;
	struct sp *p[2];
	long fake[2];

	cr_assert(asprintf(&tmpenv, "TMPDIR=%s", tmp) > 0 && asprintf(&xdgenv, "XDG_RUNTIME_DIR=%s", xdg) > 0);
	it_keep(tmpenv);
	it_keep(xdgenv);
	for (int i = 0; i < 2; i++) {
		dir[i] = it_tmpdir();
		p[i] = sp_start(&(struct sp_opts){
			.argv = ARGV(lc_sbx_with_fakerunner(dir[i], "silent-never-connect"), "run", "--same-user",
				     "--connect-timeout", "3s", "--", "true"),
			.envp = it_env(ARGV(tmpenv, xdgenv), NULL),
			.stdin_mode = SP_IN_OPEN,
			.timeout_ms = 30000,
		});
	}
	for (int i = 0; i < 2; i++) {
		long long end = sp_now_ms() + 10000;

		/* The fake has read its secret: sbx is waiting for it now. */
		while (!strstr((log = fake_log(dir[i])), "wedged") && sp_now_ms() < end)
			sp_pump_for(p[i], 20);
		cr_assert(strstr(log, "wedged") != NULL, "the fake never got its secret; log:\n%s", log);
		fake[i] = fake_pid(dir[i]);
		held = findable_sockets(p[i]->pid);
		cr_assert(held[0] == '\0', "sbx holds sockets others could find:\n%s", held);
		cr_assert(std_sockets(fake[i]) == 3,
			  "the runner's stdin and stdout are not both sockets (streams that are: %x)",
			  std_sockets(fake[i]));
	}
	cr_assert(lc_list_dir(tmp)[0] == '\0', "in TMPDIR: %s", lc_list_dir(tmp));
	cr_assert(lc_list_dir(xdg)[0] == '\0', "in XDG_RUNTIME_DIR: %s", lc_list_dir(xdg));
	for (int i = 0; i < 2; i++) {
		sp_wait(p[i]);
		EXPECT_EXIT(p[i], 125);
		EXPECT_SBX_LINE(p[i], "runner did not connect");
		cr_assert(lc_survivor(&fake[i], 1, 3000) == 0, "the fake runner (pid %ld) outlived sbx", fake[i]);
		sp_free(p[i]);
	}
	cr_assert(lc_list_dir(tmp)[0] == '\0', "left behind in TMPDIR: %s", lc_list_dir(tmp));
	cr_assert(lc_list_dir(xdg)[0] == '\0', "left behind in XDG_RUNTIME_DIR: %s", lc_list_dir(xdg));
}

/* A launcher's descendant of the right uid passes the peer check; one that
 * does not know the nonce is still refused: here sudo starts, as root, a
 * "runner" that sends a hello with another nonce (the fake runner, in the
 * place the sudoers rule names). */
Test(elevate, wrong_nonce_from_the_launchers_descendant_is_refused, .timeout = 60)
{
	struct pub pb;
	char *marker, *log;
	struct sp *p;
	long fake;

	setup_sudo(&pb);
	copy_public(lc_fakerunner(), pb.runner);
	free(it_write_file(pb.dir, "fake-mode", "wrong-nonce", 0644));
	cr_assert(asprintf(&marker, "%s/marker", pb.dir) > 0);
	it_keep(marker);
	p = run_as(ADMIN, ARGV(pb.sbx, "run", "-n", "--", "sh", "-c", MARKER_CMD, marker), NULL);
	log = fake_log(pb.dir);
	fake = fake_pid(pb.dir);
	cr_assert(strstr(log, "sent type 0x01") != NULL, "the fake never sent its hello; log:\n%s\nstderr: %s", log,
		  IT_ESC_ERR(p));
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "peer does not know this run's nonce");
	EXPECT_OUT(p, "");
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse", elapsed(p));
	cr_assert(!exists(marker), "the command ran");
	cr_assert(fake > 0 && lc_survivor(&fake, 1, 3000) == 0, "the fake runner (pid %ld) outlived sbx", fake);
	sp_free(p);
}

/* Another process of the same uid that holds the runner's end (here the
 * fake's child) writes first, a hello with the right nonce even: it is not
 * the process sbx started, so it is refused, and nothing runs. */
Test(elevate, foreign_process_writing_first_is_refused, .timeout = 60)
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
	free(marker);
}

/* The runner itself writes first, but its hello names another process
 * (sbx's own pid): what the channel says about the writer and what the
 * writer says about itself must agree, or the peer is refused. */
Test(elevate, hello_naming_another_pid_is_refused, .timeout = 60)
{
	char *dir = it_tmpdir(), *sbx = lc_sbx_with_fakerunner(dir, "hello-names-another-pid"), *marker, *log;
	long pid;
	struct sp *p;

	cr_assert(asprintf(&marker, "%s/marker", dir) > 0);
	it_keep(marker);
	p = sp_run(&(struct sp_opts){
		.argv = ARGV(sbx, "run", "--same-user", "--connect-timeout", "10s", "--", "sh", "-c", MARKER_CMD, marker),
		.stdin_mode = SP_IN_OPEN,
		.timeout_ms = 30000,
	});
	log = fake_log(dir);
	pid = fake_pid(dir);
	cr_assert(strstr(log, "sent type 0x01") != NULL, "the fake never sent its hello; log:\n%s", log);
	EXPECT_EXIT(p, 125);
	EXPECT_SBX_LINE(p, "but pid");
	cr_assert(elapsed(p) < 8000, "sbx took %lld ms to refuse", elapsed(p));
	EXPECT_OUT(p, "");
	cr_assert(!exists(marker), "the command ran");
	cr_assert(pid > 0 && lc_survivor(&pid, 1, 3000) == 0, "the fake runner (pid %ld) outlived sbx", pid);
	sp_free(p);
}

/* A process the launcher started, but with the caller's uid instead of
 * root's: refused on the uid of its first bytes.  The "launcher" is the
 * fake runner itself, which says hello as soon as it has the secret. */
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
	free(it_write_file(fdir, "fake-mode", "hello-then-silent", 0644));

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
	free(fake);
	free(marker);
}

/* A forged sbx: a socket pair the test made, and a real runner told that
 * its server is pid 1.  It must refuse before it says anything of its own
 * (no hello, so no nonce), report it, and exit 1 without running a thing. */
Test(elevate, runner_refuses_a_server_that_did_not_start_it, .timeout = 60)
{
	char *secret, nonce[65], buf[65536];
	struct pollfd pf;
	size_t got = 0;
	struct paired *r;
	long long end;

	memset(nonce, 'a', 64);
	nonce[64] = '\0';
	cr_assert(asprintf(&secret, "%s\nstdin\n", nonce) > 0);
	r = paired_start(ARGV(runner_build(), "--server-pid", "1"), NULL, secret);
	/* Send nothing; read what it says until it hangs up. */
	end = sp_now_ms() + 5000;
	for (;;) {
		long long left = end - sp_now_ms();
		ssize_t n;

		pf = (struct pollfd){ r->fd, POLLIN, 0 };
		cr_assert(left > 0 && poll(&pf, 1, (int)left) == 1, "the runner kept the channel open for 5 s");
		n = read(r->fd, buf + got, sizeof buf - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		cr_assert(got < sizeof buf, "the runner sent over %zu bytes", sizeof buf);
	}
	cr_assert(paired_wait(r, 5000), "the runner did not exit");

	cr_assert(paired_exited_with(r, 1), "runner: expected exit 1, got %s\nstderr: %s", paired_status(r),
		  IT_ESC_ERR(r));
	/* Connected, it says why in an error frame, not on stderr: the one
	 * line the user sees is sbx's to write. */
	cr_assert(it_buf_has((unsigned char *)buf, got, "channel server is not the sbx that started this runner"),
		  "the runner's frames: %s", it_esc(buf, got));
	cr_assert(r->err_len == 0, "runner stderr: %s", IT_ESC_ERR(r));
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
	paired_free(r);
	free(secret);
}

/* For a runner running as another unprivileged account the channel is the
 * same nameless pair: the launcher gets the runner's end as its stdin and
 * passes it on, and no directory or socket is made for that account to
 * reach (before, a 0711 directory under /tmp with a 0666 socket).  The
 * launcher here is sudo behind a script that holds it back until the
 * test has looked. */
Test(elevate, channel_for_another_account_is_the_launchers_stdin, .timeout = 60)
{
	struct pub pb;
	char *adir, *script, *launcher, *text, go[256], *before, *after;
	struct sp_opts o;
	struct sp *p;
	long lpid, sid = 0;
	long long end;
	int fd;

	setup_sudo(&pb);
	adir = owned_subdir(&pb, "admin", ADMIN);
	cr_assert(asprintf(&script,
			   "#!/bin/sh\n"
			   "d='%s'\n"
			   "echo $$ > \"$d/pid.tmp\" && mv \"$d/pid.tmp\" \"$d/pid\"\n"
			   "i=0\n"
			   "while [ ! -e \"$d/go\" ]; do i=$((i + 1)); [ \"$i\" -le 400 ] || exit 4; sleep 0.05; done\n"
			   "exec sudo \"$@\"\n",
			   adir) > 0);
	it_keep(script);
	launcher = it_keep(it_write_file(pb.dir, "slow-sudo", script, 0755));
	before = channel_dirs_of(ADMIN);

	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--via", launcher, "--", "id", "-un"), NULL);
	p = sp_start(&o);
	end = sp_now_ms() + 10000;
	while (!(text = read_in(adir, "pid")) && sp_now_ms() < end && !sp_has_exited(p))
		usleep(20000);
	cr_assert(text != NULL, "the launcher never started: %s", sp_status_str(p));
	it_keep(text);
	lpid = strtol(text, NULL, 10);
	cr_assert(lpid > 0, "the launcher wrote no pid");
	cr_assert(std_sockets(lpid) == 3, "the launcher's stdin and stdout are not both sockets (streams that are: %x)",
		  std_sockets(lpid));
	text = findable_sockets(p->pid);
	cr_assert(text[0] == '\0', "sbx holds sockets others could find:\n%s", text);
	after = channel_dirs_of(ADMIN);
	cr_assert_str_eq(after, before, "a channel directory of %s appeared in /tmp", ADMIN);

	/* -n: the launcher leads a session of its own, with no terminal. */
	snprintf(go, sizeof go, "/proc/%ld/stat", lpid);
	text = it_keep(lc_read_file(go, NULL));
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
	sp_free(p);
}
