/* Handles (sbx_h): the emulated non-blocking reads and writes.
 *
 * I/O model: the pipes and the channel that sbx creates are overlapped, and
 * the emulated non-blocking reads and writes of sbx_h_read/sbx_h_write keep
 * at most one operation in flight per direction, completing into a buffer
 * the handle owns.  A synchronous handle is never used for a duplex stream:
 * there a pending read blocks every write from another thread.  Standard
 * handles inherited from the caller may be consoles, files or synchronous
 * pipes; they are read by a helper thread and written synchronously.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

sbx_h *win_h_alloc(HANDLE h, int owned, int kind, DWORD bufsize)
{
    sbx_h *x = calloc(1, sizeof(*x));

    if (x == NULL)
        return NULL;
    x->h = h;
    x->owned = owned;
    x->kind = kind;
    x->bufsize = bufsize;
    if (kind == H_OVL) {
        x->ro.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
        x->wo.hEvent = CreateEventW(NULL, TRUE, TRUE, NULL);
        x->rbuf = malloc(bufsize);
        x->wbuf = malloc(bufsize);
        if (x->ro.hEvent == NULL || x->wo.hEvent == NULL || x->rbuf == NULL || x->wbuf == NULL) {
            x->owned = 0;
            sbx_h_close(x);
            return NULL;
        }
    }
    return x;
}

/* Wraps an overlapped handle; takes ownership, closing it on failure.  The
 * channel gets larger buffers: every operation on a named pipe is a round
 * trip through the kernel (and, under Wine, to the wineserver). */
int win_h_wrap_ovl(HANDLE h, DWORD bufsize, sbx_h **out)
{
    if ((*out = win_h_alloc(h, 1, H_OVL, bufsize)) == NULL) {
        CloseHandle(h);
        return SBX_ENOMEM;
    }
    return 0;
}

int sbx_h_std(int which, sbx_h **out)
{
    static const DWORD ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
    HANDLE h;

    if (which < 0 || which > 2)
        return SBX_EINVAL;
    h = GetStdHandle(ids[which]);
    *out = win_h_alloc(h, 0, h == NULL || h == INVALID_HANDLE_VALUE ? H_NULL : H_SYNC, HBUF);
    return *out ? 0 : SBX_ENOMEM;
}

/* A console read returns a line at most; consoles before Windows 10 fail
 * one whose buffer exceeds their 64 KiB heap with ERROR_NOT_ENOUGH_MEMORY,
 * so they are asked for less, and for less again if even that fails. */
#define CONSOLE_READ (16u * 1024)

/* The reader thread of a synchronous handle: one blocking ReadFile per
 * request, so nothing is read from a shared stdin before sbx wants it. */
static DWORD WINAPI reader_main(LPVOID arg)
{
    sbx_h *x = arg;
    DWORD mode, want = x->bufsize;
    int console = GetConsoleMode(x->h, &mode) != 0;

    if (console && want > CONSOLE_READ)
        want = CONSOLE_READ;
    for (;;) {
        DWORD got = 0, e;
        LONG st;
        BOOL ok;

        WaitForSingleObject(x->go, INFINITE);
        if (x->quit)
            return 0;
        for (;;) {
            SetLastError(ERROR_SUCCESS);
            ok = ReadFile(x->h, x->rbuf, want, &got, NULL);
            e = GetLastError();
            if (!console || x->quit)
                break;
            /* Ctrl-C at a console in line mode ends the pending read with
             * nothing, and ERROR_OPERATION_ABORTED: the key was an event
             * (sbx forwards it), not the end of the input. */
            if (e == ERROR_OPERATION_ABORTED && (!ok || got == 0))
                continue;
            if (!ok && e == ERROR_NOT_ENOUGH_MEMORY && want > 512) {
                want /= 2;
                continue;
            }
            break;
        }
        if (!ok) {
            if (e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_PIPE_NOT_CONNECTED) {
                st = R_EOF;
            } else {
                x->rerr = e;
                st = R_ERROR;
            }
        } else if (got == 0) {
            st = R_EOF;
        } else {
            x->rlen = got;
            x->roff = 0;
            st = R_DATA;
        }
        /* Decide with our own copy: once `ready` is set the main thread owns
         * rstate and may already have moved it on. */
        InterlockedExchange(&x->rstate, st);
        SetEvent(x->ready);
        if (st != R_DATA)
            return 0;
    }
}

static int sync_start_read(sbx_h *x)
{
    if (x->thread == NULL) {
        x->rbuf = malloc(x->bufsize);
        x->go = CreateEventW(NULL, FALSE, FALSE, NULL);
        x->ready = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (x->rbuf == NULL || x->go == NULL || x->ready == NULL)
            return SBX_ENOMEM;
        x->thread = CreateThread(NULL, 64 * 1024, reader_main, x, 0, NULL);
        if (x->thread == NULL)
            return win_last_err();
    }
    ResetEvent(x->ready);
    InterlockedExchange(&x->rstate, R_PENDING);
    SetEvent(x->go);
    return 0;
}

/* Moves a finished overlapped read out of R_PENDING; 0 while it runs. */
static int ovl_check_read(sbx_h *x)
{
    DWORD got = 0;

    if (x->rstate != R_PENDING)
        return 1;
    if (!GetOverlappedResult(x->h, &x->ro, &got, FALSE)) {
        DWORD e = GetLastError();
        if (e == ERROR_IO_INCOMPLETE)
            return 0;
        if (e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_PIPE_NOT_CONNECTED ||
            e == ERROR_OPERATION_ABORTED) {
            x->rstate = R_EOF;
        } else {
            x->rerr = e;
            x->rstate = R_ERROR;
        }
        return 1;
    }
    /* A zero-byte write on a byte-mode pipe completes a read with zero
     * bytes; that is not end of file. */
    if (got == 0) {
        x->rstate = R_IDLE;
    } else {
        x->rlen = got;
        x->roff = 0;
        x->rstate = R_DATA;
    }
    return 1;
}

static void ovl_start_read(sbx_h *x)
{
    DWORD e;

    memset(&x->ro, 0, offsetof(OVERLAPPED, hEvent));
    x->rstate = R_PENDING;
    if (ReadFile(x->h, x->rbuf, x->bufsize, NULL, &x->ro)) {
        ovl_check_read(x);
        return;
    }
    e = GetLastError();
    if (e == ERROR_IO_PENDING)
        return;
    if (e == ERROR_BROKEN_PIPE || e == ERROR_HANDLE_EOF || e == ERROR_PIPE_NOT_CONNECTED) {
        x->rstate = R_EOF;
    } else {
        x->rerr = e;
        x->rstate = R_ERROR;
    }
}

/* Brings a handle's read side forward without blocking: 1 when a read
 * result (data, end of file or an error) is available. */
int win_h_read_ready(sbx_h *x)
{
    switch (x->kind) {
    case H_NULL:
        return 1;
    case H_SYNC:
        if (x->rstate == R_IDLE && sync_start_read(x) < 0) {
            x->rerr = ERROR_NOT_ENOUGH_MEMORY;
            x->rstate = R_ERROR;
        }
        if (x->rstate == R_PENDING)
            return WaitForSingleObject(x->ready, 0) == WAIT_OBJECT_0;
        return 1;
    default:
        for (int tries = 0; tries < 4 && x->rstate == R_IDLE; tries++) {
            ovl_start_read(x);
            if (x->rstate == R_PENDING)
                ovl_check_read(x);
        }
        if (x->rstate == R_PENDING)
            return ovl_check_read(x) && x->rstate != R_IDLE;
        return x->rstate != R_IDLE;
    }
}

int sbx_h_read(sbx_h *x, void *buf, size_t n, size_t *got)
{
    *got = 0;
    if (!win_h_read_ready(x))
        return SBX_EAGAIN;
    if (x->kind == H_NULL)
        return 0;
    switch (x->rstate) {
    case R_DATA: {
        size_t k = x->rlen - x->roff;
        if (k > n)
            k = n;
        memcpy(buf, x->rbuf + x->roff, k);
        x->roff += (DWORD)k;
        if (x->roff == x->rlen)
            x->rstate = R_IDLE;
        *got = k;
        return 0;
    }
    case R_EOF:
        return 0;
    case R_ERROR:
        return win_err(x->rerr);
    default:
        return SBX_EAGAIN;
    }
}

/* A write's error as sbx_h_write reports it: a reader that went away is a
 * broken pipe, however the pipe says so. */
static int write_err(DWORD e)
{
    return win_err(e == ERROR_NO_DATA ? ERROR_BROKEN_PIPE : e);
}

/* 1 when no overlapped write is in flight (collecting its result).  A
 * failure is kept in the handle, not only returned: sbx_wait collects
 * completions too and has nowhere to report them, and the bytes sbx_h_write
 * accepted must not then pass for written at the next flush. */
int win_h_write_done(sbx_h *x, int *rc)
{
    DWORD put;

    *rc = 0;
    if (x->kind != H_OVL)
        return 1;
    if (x->wpending) {
        if (!GetOverlappedResult(x->h, &x->wo, &put, FALSE)) {
            DWORD e = GetLastError();
            if (e == ERROR_IO_INCOMPLETE)
                return 0;
            x->werr = e;
        }
        x->wpending = 0;
    }
    if (x->werr != 0)
        *rc = write_err(x->werr);
    return 1;
}

int sbx_h_write(sbx_h *x, const void *buf, size_t n, size_t *put)
{
    DWORD k, done = 0, e;
    int rc;

    *put = 0;
    if (x->kind == H_NULL) {
        *put = n;
        return 0;
    }
    k = n > x->bufsize ? x->bufsize : (DWORD)n;
    if (x->kind == H_SYNC) {
        if (!WriteFile(x->h, buf, k, &done, NULL))
            return write_err(GetLastError());
        *put = done;
        return 0;
    }
    if (!win_h_write_done(x, &rc))
        return SBX_EAGAIN;
    if (rc < 0)
        return rc;
    memcpy(x->wbuf, buf, k);
    memset(&x->wo, 0, offsetof(OVERLAPPED, hEvent));
    if (!WriteFile(x->h, x->wbuf, k, NULL, &x->wo)) {
        e = GetLastError();
        if (e != ERROR_IO_PENDING) {
            x->werr = e;
            return write_err(e);
        }
    }
    /* Accepted: the bytes are ours now, and sbx_h_flush reports when the
     * write has really completed. */
    x->wpending = 1;
    *put = k;
    return 0;
}

int sbx_h_flush(sbx_h *x)
{
    int rc;

    if (!win_h_write_done(x, &rc))
        return SBX_EAGAIN;
    return rc;
}

void sbx_h_close(sbx_h *x)
{
    DWORD d;

    if (x == NULL)
        return;
    if (x->kind == H_OVL) {
        if (x->rstate == R_PENDING) {
            CancelIoEx(x->h, &x->ro);
            GetOverlappedResult(x->h, &x->ro, &d, TRUE);
        }
        if (x->wpending) {
            CancelIoEx(x->h, &x->wo);
            GetOverlappedResult(x->h, &x->wo, &d, TRUE);
        }
        if (x->ro.hEvent)
            CloseHandle(x->ro.hEvent);
        if (x->wo.hEvent)
            CloseHandle(x->wo.hEvent);
        free(x->wbuf);
    }
    if (x->thread != NULL) {
        /* The thread may be blocked in ReadFile on a handle we do not own:
         * ask it to stop, and if it cannot, leave it and its buffer to the
         * process exit rather than free memory it still uses. */
        InterlockedExchange(&x->quit, 1);
        SetEvent(x->go);
        CancelSynchronousIo(x->thread);
        if (WaitForSingleObject(x->thread, 200) != WAIT_OBJECT_0)
            return;
        CloseHandle(x->thread);
        CloseHandle(x->go);
        CloseHandle(x->ready);
    } else if (x->kind == H_SYNC) {
        if (x->go)
            CloseHandle(x->go);
        if (x->ready)
            CloseHandle(x->ready);
    }
    if (x->owned && x->h != NULL && x->h != INVALID_HANDLE_VALUE)
        CloseHandle(x->h);
    free(x->rbuf);
    free(x);
}
