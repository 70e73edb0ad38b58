/*
 * sockets: what the fake runner (test/helper/sbx-fakerunner.c) leaves in
 * its directory, and the channel sockets a run of sbx makes under TMPDIR,
 * for the tests of who may connect to whom.
 */
#ifndef SBX_TEST_SOCKETS_H
#define SBX_TEST_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>

/* dir/name, NUL-terminated, or NULL; the caller frees it. */
char *read_in(const char *dir, const char *name);
/* The pid the fake runner wrote to dir/fake-runner.pid, or 0. */
long fake_pid(const char *dir);
/* dir/fake-log, or "(no fake-log)" (leaked). */
char *fake_log(const char *dir);
/* The number after `key` in text, or 0. */
long number_after(const char *text, const char *key);

/* Exactly 32 lowercase hex digits: a channel socket's name. */
bool is_hex32(const char *s);

/* Sockets with a 32-hex-digit name one level down in the sbx-XXXXXX
 * directories of tmpdir, at most max; the paths are leaked.  (sbx binds
 * under a placeholder name and renames the socket to its random one, so a
 * socket of any other name is one still being set up.) */
size_t list_sockets(const char *tmpdir, char **out, size_t max);
/* Polls until TMPDIR holds `want` sockets, or ms have passed. */
size_t wait_sockets(const char *tmpdir, char **out, size_t want, int ms);

/* Whether a file exists (the marker a command that must not run would make). */
bool exists(const char *path);

#endif
