/* The audit line: one syslog line per run that crosses a boundary, caught
 * on the test's own /dev/log (devlog.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"
#include "accounts.h"
#include "devlog.h"

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
	it_keep(pid);
	line = audit_line(dl, marker, tail);
	EXPECT_AUDIT_HAS(line, "]: user=\"root\" uid=0 ");
	EXPECT_AUDIT_HAS(line, pid);
	EXPECT_AUDIT_HAS(line, " as=\"root\" ");
	EXPECT_AUDIT_HAS(line, " result=exit:7 ");
	EXPECT_AUDIT_HAS(line, " cwd=\"/\" ");
	sp_free(p);
	devlog_release();
	free(tail);
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
	it_keep(tail);
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
	free(tail);
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
	it_keep(who);
	cr_assert(asprintf(&pid, " sbx_pid=%ld ", (long)p->pid) > 0);
	it_keep(pid);
	line = audit_line(dl, marker, tail);
	EXPECT_AUDIT_HAS(line, who);
	EXPECT_AUDIT_HAS(line, pid);
	EXPECT_AUDIT_HAS(line, " as=\"root\" ");
	EXPECT_AUDIT_HAS(line, " result=exit:0 ");
	sp_free(p);
	devlog_release();
	free(tail);
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
