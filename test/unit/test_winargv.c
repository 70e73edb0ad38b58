/* Windows command-line quoting: a table of known cases, and a randomized
 * round trip through the reference splitter.  The same quoting is checked
 * against a real Windows C runtime by the integration tests under Wine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "winargv.h"

static void expect_cmdline(char *const *argv, const char *want)
{
    char *got = NULL;

    cr_assert_eq(sbx_win_cmdline(argv, &got), 0);
    cr_assert_str_eq(got, want);
    free(got);
}

Test(winargv, table)
{
    static const struct {
        const char *arg;
        const char *quoted;
    } cases[] = {
        { "plain", "plain" },
        { "", "\"\"" },
        { "a b", "\"a b\"" },
        { "tab\there", "\"tab\there\"" },
        { "say \"hi\"", "\"say \\\"hi\\\"\"" },
        { "\"", "\"\\\"\"" },
        { "C:\\path\\", "C:\\path\\" },
        { "C:\\my path\\", "\"C:\\my path\\\\\"" },
        { "trail\\\\", "trail\\\\" },
        { "sp ace\\\\", "\"sp ace\\\\\\\\\"" },
        { "a\\\"b", "\"a\\\\\\\"b\"" },
        { "\\\\server\\share", "\\\\server\\share" },
        { "*.txt", "\"*.txt\"" },
        { "what?", "\"what?\"" },
        { "%PATH%", "%PATH%" },
        { "a&b|c^d<e>f", "a&b|c^d<e>f" },
        { "caf\xc3\xa9", "caf\xc3\xa9" },
        { "line\nbreak", "\"line\nbreak\"" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = { (char *)"prog.exe", (char *)cases[i].arg, NULL };
        char want[256];
        snprintf(want, sizeof(want), "prog.exe %s", cases[i].quoted);
        expect_cmdline(argv, want);
    }
}

Test(winargv, argv0)
{
    char *spaced[] = { (char *)"C:\\Program Files\\x.exe", (char *)"a", NULL };
    char *quote[] = { (char *)"bad\"name", NULL };
    char *empty[] = { (char *)"", NULL };
    char *out = NULL;

    expect_cmdline(spaced, "\"C:\\Program Files\\x.exe\" a");
    cr_assert_eq(sbx_win_cmdline(quote, &out), SBX_EINVAL);
    cr_assert_eq(sbx_win_cmdline(empty, &out), SBX_EINVAL);
    cr_assert_null(out);
}

Test(winargv, splitter_reference_cases)
{
    /* Cases from Microsoft's documentation of argument parsing. */
    static const struct {
        const char *line;
        const char *argv[4];
    } cases[] = {
        { "p \"abc\" d e", { "abc", "d", "e", NULL } },
        { "p a\\\\b d\"e f\"g h", { "a\\\\b", "de fg", "h", NULL } },
        { "p a\\\\\\\"b c d", { "a\\\"b", "c", "d", NULL } },
        { "p a\\\\\\\\\"b c\" d e", { "a\\\\b c", "d", "e", NULL } },
        { "p a\"b\"\" c d", { "ab\" c d", NULL } },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **argv;
        size_t argc, k;
        cr_assert_eq(sbx_win_split(cases[i].line, &argv, &argc), 0);
        cr_assert_str_eq(argv[0], "p");
        for (k = 0; cases[i].argv[k] != NULL; k++) {
            cr_assert_lt(k + 1, argc, "case %zu: too few arguments", i);
            cr_assert_str_eq(argv[k + 1], cases[i].argv[k], "case %zu arg %zu", i, k);
        }
        cr_assert_eq(argc, k + 1, "case %zu", i);
        sbx_win_split_free(argv);
    }
}

Test(winargv, random_round_trip)
{
    static const char alphabet[] = "\"\\ \t*?%^&|<>a\\\"b \xc3\xa9";
    srand(2024);
    for (int round = 0; round < 5000; round++) {
        char *argv[7];
        char *line = NULL, **back;
        size_t argc = 1 + (size_t)(rand() % 6), n;

        argv[0] = (char *)"prog.exe";
        for (size_t i = 1; i < argc; i++) {
            size_t len = (size_t)(rand() % 9);
            argv[i] = malloc(len + 1);
            for (size_t k = 0; k < len; k++)
                argv[i][k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
            argv[i][len] = '\0';
        }
        argv[argc] = NULL;
        cr_assert_eq(sbx_win_cmdline(argv, &line), 0);
        cr_assert_eq(sbx_win_split(line, &back, &n), 0);
        cr_assert_eq(n, argc, "line [%s]", line);
        for (size_t i = 0; i < argc; i++)
            cr_assert_str_eq(back[i], argv[i], "line [%s] arg %zu", line, i);
        sbx_win_split_free(back);
        free(line);
        for (size_t i = 1; i < argc; i++)
            free(argv[i]);
    }
}
