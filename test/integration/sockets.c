/* What the fake runner left behind, and the channel sockets a run of sbx
 * makes under its TMPDIR. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "sockets.h"
#include "lifecycle.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

char *read_in(const char *dir, const char *name)
{
	char *path, *text;

	cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
	text = lc_read_file(path, NULL);
	free(path);
	return text;
}

long fake_pid(const char *dir)
{
	char *text = read_in(dir, "fake-runner.pid");
	long pid = text ? strtol(text, NULL, 10) : 0;

	free(text);
	return pid;
}

char *fake_log(const char *dir)
{
	char *log = read_in(dir, "fake-log");

	return it_keep(log ? log : strdup("(no fake-log)"));
}

/* The number after `key` in text, or 0. */
long number_after(const char *text, const char *key)
{
	const char *at = text ? strstr(text, key) : NULL;

	return at ? strtol(at + strlen(key), NULL, 10) : 0;
}

bool is_hex32(const char *s)
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
size_t list_sockets(const char *tmpdir, char **out, size_t max)
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
					out[n++] = it_keep(path);
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
size_t wait_sockets(const char *tmpdir, char **out, size_t want, int ms)
{
	long long end = sp_now_ms() + ms;
	size_t n;

	while ((n = list_sockets(tmpdir, out, want)) < want && sp_now_ms() < end)
		usleep(20000);
	return n;
}

/* Whether a file exists (the marker a command that must not run would make). */
bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}
