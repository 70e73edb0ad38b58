#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "winargv.h"

struct sb {
    char *p;
    size_t len, cap;
};

static int sb_putn(struct sb *b, char c, size_t n)
{
    if (b->cap - b->len <= n) {
        size_t want = b->cap ? b->cap : 64;
        while (want - b->len <= n) {
            if (want > ((size_t)-1) / 2)
                return SBX_ENOMEM;
            want *= 2;
        }
        char *np = realloc(b->p, want);
        if (np == NULL)
            return SBX_ENOMEM;
        b->p = np;
        b->cap = want;
    }
    memset(b->p + b->len, c, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static int needs_quotes(const char *a)
{
    return a[0] == '\0' || strpbrk(a, " \t\n\v\"*?") != NULL;
}

static int quote_arg(struct sb *b, const char *a)
{
    int rc = 0;

    if (!needs_quotes(a)) {
        for (; *a && rc == 0; a++)
            rc = sb_putn(b, *a, 1);
        return rc;
    }
    rc = sb_putn(b, '"', 1);
    while (rc == 0 && *a) {
        size_t bs = 0;
        while (a[bs] == '\\')
            bs++;
        if (a[bs] == '\0') {
            /* Backslashes before the closing quote are doubled, or they
             * would escape it (the CVE-2014-1883 class of bug). */
            rc = sb_putn(b, '\\', bs * 2);
            a += bs;
            break;
        }
        if (a[bs] == '"') {
            rc = sb_putn(b, '\\', bs * 2 + 1);
            if (rc == 0)
                rc = sb_putn(b, '"', 1);
        } else {
            rc = sb_putn(b, '\\', bs);
            if (rc == 0)
                rc = sb_putn(b, a[bs], 1);
        }
        a += bs + 1;
    }
    if (rc == 0)
        rc = sb_putn(b, '"', 1);
    return rc;
}

int sbx_win_cmdline(char *const *argv, char **out)
{
    struct sb b = { NULL, 0, 0 };
    const char *a0 = argv[0];
    int rc = 0;

    *out = NULL;
    if (a0 == NULL || a0[0] == '\0' || strchr(a0, '"') != NULL)
        return SBX_EINVAL;
    /* argv[0]: quoted when it has a space or tab, never escaped. */
    if (strpbrk(a0, " \t") != NULL) {
        rc = sb_putn(&b, '"', 1);
        for (const char *p = a0; rc == 0 && *p; p++)
            rc = sb_putn(&b, *p, 1);
        if (rc == 0)
            rc = sb_putn(&b, '"', 1);
    } else {
        for (const char *p = a0; rc == 0 && *p; p++)
            rc = sb_putn(&b, *p, 1);
    }
    for (size_t i = 1; rc == 0 && argv[i] != NULL; i++) {
        rc = sb_putn(&b, ' ', 1);
        if (rc == 0)
            rc = quote_arg(&b, argv[i]);
    }
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

int sbx_win_split(const char *s, char ***argvp, size_t *argcp)
{
    char **argv = NULL;
    size_t argc = 0, cap = 0;
    struct sb cur = { NULL, 0, 0 };
    int rc = 0;

    *argvp = NULL;
    *argcp = 0;
    /* argv[0]: up to a space or tab, or everything between quotes. */
    if (*s == '"') {
        s++;
        while (*s && *s != '"' && rc == 0)
            rc = sb_putn(&cur, *s++, 1);
        if (*s == '"')
            s++;
    } else {
        while (*s && *s != ' ' && *s != '\t' && rc == 0)
            rc = sb_putn(&cur, *s++, 1);
    }
    for (;;) {
        int in_quotes = 0;

        if (rc == 0 && cur.p == NULL) /* an empty argument: allocate "" */
            rc = sb_putn(&cur, '\0', 0);
        if (rc < 0)
            break;
        if (argc + 2 > cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **na = realloc(argv, nc * sizeof(*na));
            if (na == NULL) {
                rc = SBX_ENOMEM;
                break;
            }
            argv = na;
            cap = nc;
        }
        argv[argc++] = cur.p;
        argv[argc] = NULL;
        cur.p = NULL;
        cur.len = cur.cap = 0;

        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            break;
        while (*s && rc == 0) {
            if (!in_quotes && (*s == ' ' || *s == '\t'))
                break;
            if (*s == '\\') {
                size_t bs = 0;
                while (s[bs] == '\\')
                    bs++;
                if (s[bs] == '"') {
                    rc = sb_putn(&cur, '\\', bs / 2);
                    s += bs;
                    if (bs % 2 == 1 && rc == 0) {
                        rc = sb_putn(&cur, '"', 1);
                        s++;
                    }
                } else {
                    rc = sb_putn(&cur, '\\', bs);
                    s += bs;
                }
            } else if (*s == '"') {
                /* Inside quotes, "" is a literal quote (the 2008+ rule). */
                if (in_quotes && s[1] == '"') {
                    rc = sb_putn(&cur, '"', 1);
                    s += 2;
                } else {
                    in_quotes = !in_quotes;
                    s++;
                }
            } else {
                rc = sb_putn(&cur, *s++, 1);
            }
        }
    }
    if (rc < 0) {
        free(cur.p);
        sbx_win_split_free(argv);
        return rc;
    }
    *argvp = argv;
    *argcp = argc;
    return 0;
}

void sbx_win_split_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}
