/* Finding the program to run the way a Windows user expects (PATH,
 * PATHEXT), and names compared the way Windows compares them. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
        if (x == '\0')
            return 1;
    }
    return 1;
}

int sbx_os_env_name_cmp(const char *a, const char *b, size_t n)
{
    return ieq(a, b, n) ? 0 : 1;
}

static const char *env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);

    for (; env != NULL && *env != NULL; env++)
        if (ieq(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int is_file(const char *path)
{
    wchar_t *w = win_to_w(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;

    free(w);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

static int is_abs(const char *p)
{
    return (p[0] == '\\' || p[0] == '/') ||
           (((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':' &&
            (p[2] == '\\' || p[2] == '/'));
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);

    if (s != NULL)
        snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* Tries `base` as given (when its last component has an extension), then
 * with each PATHEXT extension appended.  The hit is malloc'd. */
static char *try_exts(const char *base, const char *pathext)
{
    const char *last = base + strlen(base), *p;
    char ext[64];

    while (last > base && last[-1] != '\\' && last[-1] != '/')
        last--;
    if (strchr(last, '.') != NULL && is_file(base))
        return strdup(base);
    for (p = pathext; *p;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && n < sizeof(ext)) {
            char *cand;
            memcpy(ext, p, n);
            ext[n] = '\0';
            if ((cand = join(base, ext, "")) != NULL) {
                if (is_file(cand))
                    return cand;
                free(cand);
            }
        }
        p += n + (end ? 1 : 0);
    }
    return NULL;
}

/* The program to run, found the way a Windows user expects: a name with a
 * path (absolute, or relative to the command's directory) as given; a bare
 * name in each PATH directory in order; each time as given if it has an
 * extension, then with the PATHEXT extensions.  Unlike CreateProcess, the
 * runner's own directory and current directory are never searched. */
char *win_resolve(const char *file, char *const *env, const char *cwd, int search)
{
    const char *pathext = env_get(env, "PATHEXT");
    const char *path, *p;
    char *hit = NULL;

    if (pathext == NULL || *pathext == '\0')
        pathext = ".COM;.EXE;.BAT;.CMD";
    if (!search || strpbrk(file, "/\\:") != NULL) {
        char *full = is_abs(file) || cwd == NULL ? strdup(file) : join(cwd, "\\", file);
        if (full != NULL) {
            hit = try_exts(full, pathext);
            free(full);
        }
        return hit;
    }
    path = env_get(env, "PATH");
    for (p = path ? path : ""; *p && hit == NULL;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *dir = malloc(n + 1), *base;
        if (dir == NULL)
            return NULL;
        memcpy(dir, p, n);
        dir[n] = '\0';
        /* PATH entries may be quoted. */
        if (n >= 2 && dir[0] == '"' && dir[n - 1] == '"') {
            memmove(dir, dir + 1, n - 2);
            dir[n - 2] = '\0';
        }
        if (dir[0] != '\0' && (base = join(dir, "\\", file)) != NULL) {
            hit = try_exts(base, pathext);
            free(base);
        }
        free(dir);
        p += n + (end ? 1 : 0);
    }
    return hit;
}

/* The last component of a path as typed, past a drive prefix ("C:x.exe"
 * names x.exe in C:'s current directory). */
static const char *last_component(const char *p)
{
    const char *last = p;

    if (((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':')
        last = p + 2;
    for (const char *c = last; *c; c++)
        if (*c == '\\' || *c == '/')
            last = c + 1;
    return last;
}

int win_names_stream(const char *file)
{
    /* "x.exe:s" or "x.bat::$DATA": a stream of a file.  Nothing else of a
     * program's name may contain ':', so it is refused before any lookup,
     * and what is run is always a file's main stream. */
    return strchr(last_component(file), ':') != NULL;
}

wchar_t *win_full_path(const char *path)
{
    wchar_t *w = win_to_w(path), *full = NULL;
    DWORD n, m;

    if (w == NULL)
        return NULL;
    n = GetFullPathNameW(w, 0, NULL, NULL);
    if (n != 0 && (full = malloc(n * sizeof(wchar_t))) != NULL) {
        m = GetFullPathNameW(w, n, full, NULL);
        if (m == 0 || m >= n) {
            free(full);
            full = NULL;
        }
    }
    free(w);
    return full;
}

int win_is_batch(const wchar_t *full)
{
    const wchar_t *last = full, *c;
    size_t n;

    for (c = full; *c; c++)
        if (*c == L'\\' || *c == L'/')
            last = c + 1;
    /* Windows drops trailing dots and spaces from a name when it opens the
     * file (GetFullPathNameW has already, except after \\?\), so "x.bat."
     * and "x.bat " are x.bat: the extension is judged without them. */
    n = wcslen(last);
    while (n > 0 && (last[n - 1] == L'.' || last[n - 1] == L' '))
        n--;
    if (n < 4 || last[n - 4] != L'.')
        return 0;
    return _wcsnicmp(last + n - 3, L"bat", 3) == 0 || _wcsnicmp(last + n - 3, L"cmd", 3) == 0;
}

int sbx_os_executable(const char *path)
{
    return is_file(path);
}
