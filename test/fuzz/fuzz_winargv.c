/* libFuzzer harness for the Windows command-line quoting (src/winargv.c).
 *
 * On Windows a child gets one command line, not an argv; sbx-runner builds
 * it with sbx_win_cmdline and the child's C runtime splits it again.  If
 * the two disagree, the command runs with different arguments than the
 * user typed — or with extra ones.  So:
 *
 *  1. The input, split at NUL bytes, is an argv.  sbx_win_cmdline must
 *     refuse it exactly when argv[0] is empty or holds a quote, and
 *     otherwise sbx_win_split (the runtime's rules) must give back the same
 *     argv.
 *  2. The input, up to its first NUL, is a command line.  sbx_win_split must
 *     cope with any of them, and when the argv it finds is one
 *     sbx_win_cmdline accepts, quoting and splitting again is stable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "winargv.h"


static int argv0_ok(const char *a0)
{
    return a0[0] != '\0' && strchr(a0, '"') == NULL;
}

/* Quotes argv, splits the result, and expects argv back.  Returns the
 * command line (malloc'd) or NULL when argv[0] is refused. */
static char *round_trip(char *const *argv, size_t argc)
{
    char *line = (char *)0x1, **back = (char **)0x1;
    size_t n = (size_t)-1;
    int rc = sbx_win_cmdline(argv, &line);

    if (!argv0_ok(argv[0])) {
        CHECK(rc == SBX_EINVAL && line == NULL);
        return NULL;
    }
    CHECK(rc == 0 && line != NULL);
    rc = sbx_win_split(line, &back, &n);
    CHECK(rc == 0 && back != NULL);
    if (n != argc) {
        fprintf(stderr, "argc %zu came back as %zu from: [%s]\n", argc, n, line);
        abort();
    }
    CHECK(back[n] == NULL);
    for (size_t i = 0; i < argc; i++) {
        if (strcmp(argv[i], back[i]) != 0) {
            fprintf(stderr, "argv[%zu] [%s] came back as [%s] from: [%s]\n", i, argv[i],
                    back[i], line);
            abort();
        }
    }
    sbx_win_split_free(back);
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, **argv, *line, **split = NULL;
    size_t argc = 1, n = 0;

    /* 1: NUL-separated argv; every piece, even an empty last one, counts. */
    CHECK((buf = malloc(size + 1)) != NULL);
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (size_t i = 0; i < size; i++)
        argc += buf[i] == '\0';
    CHECK((argv = calloc(argc + 1, sizeof(*argv))) != NULL);
    argv[0] = buf;
    for (size_t i = 0, k = 1; i < size; i++)
        if (buf[i] == '\0')
            argv[k++] = buf + i + 1;
    free(round_trip(argv, argc));
    free(argv);

    /* 2: the bytes before the first NUL as a command line. */
    CHECK(sbx_win_split(buf, &split, &n) == 0);
    CHECK(split != NULL && n >= 1 && split[n] == NULL);
    for (size_t i = 0; i < n; i++)
        CHECK(split[i] != NULL);
    if ((line = round_trip(split, n)) != NULL) {
        /* Quoting is canonical: the line for the argv it yields is itself
         * a fixed point. */
        char **again;
        size_t m;
        char *line2;
        CHECK(sbx_win_split(line, &again, &m) == 0);
        CHECK(sbx_win_cmdline(again, &line2) == 0);
        CHECK(strcmp(line, line2) == 0);
        free(line2);
        sbx_win_split_free(again);
        free(line);
    }
    sbx_win_split_free(split);
    free(buf);
    return 0;
}
