/* Who may be at the other end of the channel: rogue runners, rogue
 * servers, and the channel directory's modes. */
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
	it_keep(marker);
	it_keep(tmpenv);
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
	free(secret);
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
	launcher = it_keep(it_write_file(pb.dir, "evil-launcher", script, 0755));
	cr_assert(asprintf(&marker, "%s/marker", pb.dir) > 0);
	it_keep(marker);
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
	free(marker);
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
	free(fake);
	free(marker);
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
	it_keep(path);
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
	/* Connected, it says why in an error frame, not on stderr: the one
	 * line the user sees is sbx's to write. */
	cr_assert(it_buf_has((unsigned char *)buf, got, "channel server is not the sbx that started this runner"),
		  "the runner's frames: %s", it_esc(buf, got));
	EXPECT_ERR(r, "");
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
	sp_free(r);
	free(secret);
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
		free(alone);
		free(dir);
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
	it_keep(script);
	launcher = it_keep(it_write_file(pb.dir, "slow-sudo", script, 0755));

	o = as_opts(ADMIN, ARGV(pb.sbx, "run", "-n", "-u", BOX, "--via", launcher, "--", "id", "-un"), NULL);
	p = sp_start(&o);
	end = sp_now_ms() + 10000;
	while (!(text = read_in(adir, "sock")) && sp_now_ms() < end && !sp_has_exited(p))
		usleep(20000);
	cr_assert(text != NULL, "the launcher never reported the socket: %s", sp_status_str(p));
	it_keep(text);
	path = strndup(text, strcspn(text, "\n"));
	it_keep(path);
	sdir = strdup(path);
	it_keep(sdir);
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
	text = it_keep(read_in(adir, "pid"));
	lpid = text ? strtol(text, NULL, 10) : 0;
	cr_assert(lpid > 0, "the launcher wrote no pid");
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
	cr_assert(!exists(sdir), "%s is left behind", sdir);
	sp_free(p);
}
