/* Replacing a file's content in one step, and the exit status our parent
 * sees.  Paths are WTF-8 and become UTF-16 only at the calls, so a name the
 * ANSI code page cannot spell works like any other. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many names to try when one is taken; with 64 random bits a clash
 * means someone is guessing, not chance. */
#define NAME_TRIES 4

/* WriteFile takes a DWORD; stay well below it. */
#define WRITE_MAX (1u << 30)

static int write_all(HANDLE h, const unsigned char *p, size_t n)
{
    while (n > 0) {
        DWORD put = 0, want = n > WRITE_MAX ? WRITE_MAX : (DWORD)n;
        if (!WriteFile(h, p, want, &put, NULL))
            return -1;
        if (put == 0) {
            SetLastError(ERROR_WRITE_FAULT);
            return -1;
        }
        p += put;
        n -= put;
    }
    return 0;
}

int sbx_os_write_file(const char *path, const void *data, size_t n)
{
    size_t len = strlen(path), cut = 0;
    wchar_t *wpath = NULL, *wtmp = NULL;
    char *tmp = NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    unsigned long long r;
    DWORD e = 0;
    int rc;

    /* The temporary file goes where the target is: after the last
     * separator, or after "X:" in a drive-relative name. */
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/' || path[i] == '\\')
            cut = i + 1;
    if (cut == 0 && len >= 2 && path[1] == ':')
        cut = 2;
    if (cut == len)
        return win_err(ERROR_INVALID_NAME); /* "dir\": no file name */
    if ((wpath = win_to_w(path)) == NULL)
        return win_err(ERROR_INVALID_NAME); /* not WTF-8 */
    if ((tmp = malloc(cut + 32)) == NULL) {
        free(wpath);
        return win_err(ERROR_NOT_ENOUGH_MEMORY);
    }
    memcpy(tmp, path, cut);
    /* CREATE_NEW fails on any existing name, a planted link included, and
     * the name is one nobody can predict. */
    for (int i = 0; i < NAME_TRIES && h == INVALID_HANDLE_VALUE; i++) {
        if ((rc = sbx_os_random(&r, sizeof(r))) < 0) {
            e = (DWORD)sbx_os_last_error();
            goto fail;
        }
        snprintf(tmp + cut, 32, ".sbx-%016llx.tmp", r);
        free(wtmp);
        if ((wtmp = win_to_w(tmp)) == NULL) {
            e = ERROR_NOT_ENOUGH_MEMORY;
            goto fail;
        }
        h = CreateFileW(wtmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
        if (h == INVALID_HANDLE_VALUE && (e = GetLastError()) != ERROR_FILE_EXISTS &&
            e != ERROR_ALREADY_EXISTS)
            goto fail;
    }
    if (h == INVALID_HANDLE_VALUE)
        goto fail;
    if (write_all(h, data, n) < 0) {
        e = GetLastError();
        goto fail_delete;
    }
    if (!CloseHandle(h)) {
        h = INVALID_HANDLE_VALUE;
        e = GetLastError();
        goto fail_delete;
    }
    h = INVALID_HANDLE_VALUE;
    if (!MoveFileExW(wtmp, wpath, MOVEFILE_REPLACE_EXISTING)) {
        e = GetLastError();
        goto fail_delete;
    }
    free(wtmp);
    free(wpath);
    free(tmp);
    return 0;

fail_delete:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    (void)DeleteFileW(wtmp);
fail:
    free(wtmp);
    free(wpath);
    free(tmp);
    return win_err(e);
}

long long sbx_os_exit_code(long long code)
{
    return code & 0xffffffffLL;
}
