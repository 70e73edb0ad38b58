/* Windows command lines: argv -> one string that the child's C runtime
 * splits back into exactly the same argv.
 *
 * Pure string code, built and unit-tested on every platform; the Win32 spawn
 * uses it.  Strings are UTF-8 here; the platform layer converts to UTF-16.
 *
 * The rules are those of CommandLineToArgvW and the Microsoft C runtime
 * since 2008: arguments are separated by spaces and tabs; a double quote
 * toggles quoting; 2n backslashes before a quote are n backslashes and the
 * quote is special; 2n+1 backslashes before a quote are n backslashes and a
 * literal quote; backslashes anywhere else are literal.  argv[0] is read
 * differently (up to the first space, or between quotes, with no backslash
 * rules), so it is only quoted and may not contain a quote.
 */
#ifndef SBX_WINARGV_H
#define SBX_WINARGV_H

#include <stddef.h>

/* Builds the command line for argv (NULL-terminated, at least argv[0]).
 * Quotes every argument that is empty or holds a space, tab, newline,
 * vertical tab, quote, '*' or '?' (the last two so runtimes that expand
 * wildcards leave them alone).  Returns 0 and a malloc'd string, or
 * SBX_EINVAL when argv[0] is empty or contains a quote, SBX_ENOMEM. */
int sbx_win_cmdline(char *const *argv, char **out);

/* The reverse, as the C runtime does it: splits `cmdline` into a malloc'd
 * NULL-terminated vector of malloc'd strings (*argc set).  Used by the tests
 * as the reference parser. */
int sbx_win_split(const char *cmdline, char ***argv, size_t *argc);
void sbx_win_split_free(char **argv);

#endif
