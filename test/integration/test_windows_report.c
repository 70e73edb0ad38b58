/*
 * sbx.exe's --report under Wine: the exit status it records is the one a
 * Windows parent sees (all 32 bits), and the report path is taken as
 * Unicode, never through the ANSI code page.
 *
 * Skipped, with the reason, when the cross-built binaries or Wine are not
 * there, like the suite "windows" (test_windows.c), whose way of finding
 * them this repeats.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "itest.h"
#include "lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char wine[4096], sbx_exe[4200], helper_exe[4200];
static char **wine_env;

static void need_wine(void)
{
	const char *dir = getenv("SBX_WIN_DIR"), *path = getenv("PATH"), *prefix = getenv("WINEPREFIX");
	static char pf[4200];
	char d[4096];

	if (dir == NULL || *dir == '\0')
		dir = "build/win";
	if (strcmp(dir, "none") == 0)
		cr_skip_test("the Windows tests are off (SBX_WIN_DIR=none: make check-linux)");
	if (realpath(dir, d) == NULL)
		cr_skip_test("no Windows build in %s (make win needs x86_64-w64-mingw32-gcc)", dir);
	snprintf(sbx_exe, sizeof sbx_exe, "%s/sbx.exe", d);
	snprintf(helper_exe, sizeof helper_exe, "Z:%s/sbx-testhelper.exe", d);
	for (char *c = helper_exe; *c; c++)
		if (*c == '/')
			*c = '\\';
	if (access(sbx_exe, R_OK) < 0)
		cr_skip_test("%s is missing (run make win)", sbx_exe);
	wine[0] = '\0';
	for (const char *p = path ? path : ""; *p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		snprintf(wine, sizeof wine, "%.*s/wine", (int)n, p);
		if (access(wine, X_OK) == 0)
			break;
		wine[0] = '\0';
		p += n + (end ? 1 : 0);
	}
	if (wine[0] == '\0')
		cr_skip_test("wine is not installed (Debian: apt-get install wine wine64)");
	snprintf(pf, sizeof pf, "WINEPREFIX=%s", prefix && *prefix ? prefix : "");
	/* UTF-8 locale: Wine converts the Unix argv to UTF-16 with it. */
	wine_env = it_env(ARGV("WINEDEBUG=-all", "LC_ALL=C.UTF-8", prefix && *prefix ? pf : "WINEDEBUG=-all"),
			  NULL);
}

/* wine sbx.exe run --same-user --report REPORT -- helper.exe ARGS... */
static struct sp *run_report(const char *report, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;

	argv[n++] = wine;
	argv[n++] = sbx_exe;
	argv[n++] = "run";
	argv[n++] = "--same-user";
	argv[n++] = "--report";
	argv[n++] = report;
	argv[n++] = "--";
	argv[n++] = helper_exe;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return sp_run(&(struct sp_opts){ .argv = argv, .envp = wine_env, .stdin_mode = SP_IN_NULL,
					 .timeout_ms = 120000 });
}

static struct lc_json *read_json(const char *path)
{
	size_t len;
	char *text = lc_read_file(path, &len);
	const char *why = "not an object";
	struct lc_json *r;

	cr_assert(text != NULL, "no report at %s: %s", path, strerror(errno));
	r = lc_json_parse(text, len, &why);
	cr_assert(r != NULL && r->t == LC_JOBJ, "the report is not a JSON object (%s):\n%s", why,
		  it_esc(text, len));
	it_keep(text);
	return r;
}

static void expect_int(const struct lc_json *r, const char *key, long long want)
{
	long long got;

	cr_assert(lc_json_int(lc_json_get(r, key), &got), "report: \"%s\" should be an integer, is %s", key,
		  lc_json_type_name(lc_json_get(r, key)));
	cr_assert(got == want, "report: \"%s\" is %lld, expected %lld", key, got, want);
}

Test(front, windows_report_exit_status_keeps_32_bits, .timeout = 180)
{
	static const struct {
		const char *arg;
		long long code;
	} codes[] = { { "3", 3 }, { "256", 256 }, { "0xC0000005", 0xC0000005LL }, { "0xFFFFFFFF", 0xFFFFFFFFLL } };
	char *dir, *report;

	need_wine();
	dir = it_tmpdir();
	cr_assert(asprintf(&report, "%s/r.json", dir) > 0);
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		struct sp *p = run_report(report, ARGV("exit", codes[i].arg));
		struct lc_json *r;

		/* What Wine hands the Unix side is not sbx.exe's code (the
		 * suite "windows" reads that from a Windows parent); the
		 * report must hold it whole. */
		cr_assert(!p->timed_out && p->reaped, "exit %s: %s", codes[i].arg, sp_status_str(p));
		EXPECT_ERR(p, "");
		r = read_json(report);
		expect_int(r, "exit_status", codes[i].code);
		expect_int(r, "code", codes[i].code);
		sp_free(p);
	}
	free(report);
}

Test(front, windows_report_path_is_unicode, .timeout = 180)
{
	char *dir, *report;
	struct sp *p;
	struct lc_json *r;

	need_wine();
	dir = it_tmpdir();
	/* Cyrillic, CJK and a character outside the BMP: no ANSI code page
	 * holds them all. */
	cr_assert(asprintf(&report, "%s/отчёт-日本-\xF0\x9F\x93\x8A.json", dir) > 0);
	p = run_report(report, ARGV("exit", "7"));
	EXPECT_EXIT(p, 7);
	EXPECT_ERR(p, "");
	r = read_json(report);
	expect_int(r, "exit_status", 7);
	cr_assert(strcmp(lc_list_dir(dir), "отчёт-日本-\xF0\x9F\x93\x8A.json\n") == 0, "in the directory:\n%s",
		  lc_list_dir(dir));
	free(report);
	sp_free(p);
}
