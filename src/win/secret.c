/* The runner's secret: handed over in a pipe that the runner duplicates out
 * of sbx, so it never appears on a command line or in the environment. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* The pipe's buffer: the whole secret must fit in it, since nobody reads it
 * before the runner has started.  A nonce and a pipe name take about 150
 * bytes. */
#define SECRET_MAX 4096u

int sbx_secret_offer(const void *data, size_t n, sbx_h **keep, char *arg, size_t cap)
{
    DWORD mode = PIPE_READMODE_BYTE | PIPE_NOWAIT;
    HANDLE r, w;
    DWORD put = 0, e = 0;
    BOOL ok;

    *keep = NULL;
    if (n == 0 || n > SECRET_MAX)
        return SBX_E2BIG;
    if (!CreatePipe(&r, &w, NULL, SECRET_MAX))
        return win_last_err();
    /* Never blocking: a write the buffer cannot take whole comes back short
     * (and fails below) instead of waiting for a reader that only comes
     * after this returns. */
    ok = SetNamedPipeHandleState(w, &mode, NULL, NULL) &&
         WriteFile(w, data, (DWORD)n, &put, NULL);
    if (!ok) {
        e = GetLastError();
    } else if (put != n) {
        e = ERROR_INSUFFICIENT_BUFFER;
        ok = FALSE;
    }
    CloseHandle(w);
    if (!ok) {
        CloseHandle(r);
        return win_err(e);
    }
    /* Never read here: the runner duplicates it out of this process. */
    if ((*keep = win_h_alloc(r, 1, H_NULL, 0)) == NULL) {
        CloseHandle(r);
        return SBX_ENOMEM;
    }
    snprintf(arg, cap, "%llu", (unsigned long long)(uintptr_t)r);
    return 0;
}

int sbx_secret_take(long long pid, const char *arg, sbx_h **out)
{
    unsigned long long v;
    HANDLE proc, h = NULL;
    char *end;
    int rc = 0;

    *out = NULL;
    v = strtoull(arg, &end, 10);
    if (*end != '\0' || end == arg || v == 0)
        return SBX_EINVAL;
    if ((proc = OpenProcess(PROCESS_DUP_HANDLE, FALSE, (DWORD)pid)) == NULL)
        return win_last_err();
    if (!DuplicateHandle(proc, (HANDLE)(uintptr_t)v, GetCurrentProcess(), &h, GENERIC_READ, FALSE,
                         0))
        rc = win_last_err();
    CloseHandle(proc);
    if (rc < 0)
        return rc;
    if ((*out = win_h_alloc(h, 1, H_SYNC, HBUF)) == NULL) {
        CloseHandle(h);
        return SBX_ENOMEM;
    }
    return 0;
}
