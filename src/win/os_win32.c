/* Win32 implementation of the sbx platform interface (src/os.h).
 *
 * Strings cross this layer as WTF-8 (src/wtf8.h) and become UTF-16 only at
 * the API calls, so no argument, path or variable is ever re-encoded lossily.
 *
 * I/O model: the pipes and the channel that sbx creates are overlapped, and
 * the emulated non-blocking reads and writes of sbx_h_read/sbx_h_write keep
 * at most one operation in flight per direction, completing into a buffer
 * the handle owns.  A synchronous handle is never used for a duplex stream:
 * there a pending read blocks every write from another thread.  Standard
 * handles inherited from the caller may be consoles, files or synchronous
 * pipes; they are read by a helper thread and written synchronously.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <bcrypt.h>
#include <sddl.h>
#include <shellapi.h>
#include <objbase.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "err.h"
#include "os.h"
#include "winargv.h"
#include "wtf8.h"

/* Every named-pipe operation is a kernel round trip (under Wine, one to the
 * wineserver), so each moves up to 256 KiB. */
#define HBUF (256u * 1024)
#define CHAN_BUF (256u * 1024)

/* C runtime signal numbers, which the protocol uses for terminate frames. */
#define WSIG_INT 2
#define WSIG_TERM 15
#define WSIG_BREAK 21

enum { H_NULL = 0, H_OVL, H_SYNC };
enum { R_IDLE = 0, R_PENDING, R_DATA, R_EOF, R_ERROR };

struct sbx_h {
    HANDLE h;
    int owned;
    int kind;
    /* reads: overlapped (H_OVL) or by a helper thread (H_SYNC) */
    OVERLAPPED ro;
    volatile LONG rstate;
    DWORD rerr, rlen, roff;
    uint8_t *rbuf;
    HANDLE thread, go, ready;
    volatile LONG quit;
    /* overlapped writes */
    OVERLAPPED wo;
    int wpending;
    uint8_t *wbuf;
    DWORD bufsize; /* of rbuf and wbuf */
};

struct sbx_proc {
    HANDLE process;
    HANDLE job;
    DWORD pid;
    int exited;
    struct sbx_exit st;
};

struct sbx_listener {
    HANDLE pipe;
    OVERLAPPED ov;
};

static long long last_os_error;

static int win_err(DWORD e)
{
    last_os_error = (long long)e;
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_PATHNAME:
        return SBX_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        return SBX_EACCES;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
    case ERROR_BAD_FORMAT:
        return SBX_ENOEXEC;
    case ERROR_DIRECTORY:
        return SBX_ENOTDIR;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_PIPE_NOT_CONNECTED:
        return SBX_EPIPE;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return SBX_ENOMEM;
    case ERROR_INVALID_PARAMETER:
        return SBX_EINVAL;
    case ERROR_FILENAME_EXCED_RANGE:
        return SBX_ENAMETOOLONG;
    case WAIT_TIMEOUT:
    case ERROR_SEM_TIMEOUT:
        return SBX_ETIMEDOUT;
    case ERROR_PRIVILEGE_NOT_HELD:
        return SBX_EPERM;
    case ERROR_IO_PENDING:
        return SBX_EAGAIN;
    default:
        return SBX_ESYS;
    }
}

static int last_err(void)
{
    return win_err(GetLastError());
}

long long sbx_os_last_error(void)
{
    return last_os_error;
}

/* WTF-8 -> UTF-16 (malloc'd), or NULL. */
static wchar_t *to_w(const char *s)
{
    uint16_t *w = NULL;
    size_t n;

    if (sbx_wtf8_to_utf16(s, &w, &n) < 0)
        return NULL;
    return (wchar_t *)w;
}

/* UTF-16 -> WTF-8 (malloc'd), or NULL. */
static char *from_w(const wchar_t *w)
{
    char *s = NULL;

    if (sbx_utf16_to_wtf8((const uint16_t *)w, wcslen(w), &s) < 0)
        return NULL;
    return s;
}

const char *sbx_os_error_text(long long code)
{
    static char text[512];
    wchar_t wbuf[512];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)code, 0, wbuf, 512, NULL);
    char *s;

    if (n == 0 || (s = from_w(wbuf)) == NULL) {
        snprintf(text, sizeof(text), "Windows error %lld", code);
        return text;
    }
    snprintf(text, sizeof(text), "%s", s);
    free(s);
    /* System messages end in ".\r\n"; one-line errors do not. */
    for (size_t k = strlen(text); k > 0 && strchr(" \r\n.", text[k - 1]) != NULL; k--)
        text[k - 1] = '\0';
    return text;
}

/* ---- signals: console control events ---- */

static HANDLE sig_event;
static volatile LONG sig_pending[32];
static volatile LONG sig_any;
static int sig_watched[32];

static BOOL WINAPI on_ctrl(DWORD type)
{
    int sig = type == CTRL_C_EVENT ? WSIG_INT : type == CTRL_BREAK_EVENT ? WSIG_BREAK : WSIG_TERM;

    if (!sig_watched[sig])
        return FALSE; /* the default handler ends the process */
    InterlockedExchange(&sig_pending[sig], 1);
    InterlockedExchange(&sig_any, 1);
    SetEvent(sig_event);
    return TRUE;
}

int sbx_sig_init(const int *watch)
{
    int any = 0;

    if (sig_event == NULL && (sig_event = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL)
        return last_err();
    for (; watch != NULL && *watch != 0; watch++) {
        if (*watch > 0 && *watch < 32) {
            sig_watched[*watch] = 1;
            any = 1;
        }
    }
    if (any && !SetConsoleCtrlHandler(on_ctrl, TRUE))
        return last_err();
    return 0;
}

int sbx_sig_take(void)
{
    if (!InterlockedExchange(&sig_any, 0))
        return 0;
    ResetEvent(sig_event);
    for (int s = 1; s < 32; s++) {
        if (InterlockedExchange(&sig_pending[s], 0)) {
            for (int t = s + 1; t < 32; t++)
                if (sig_pending[t]) {
                    InterlockedExchange(&sig_any, 1);
                    SetEvent(sig_event);
                }
            return s;
        }
    }
    return 0;
}

const char *sbx_sig_name(int sig)
{
    switch (sig) {
    case WSIG_INT: return "INT";
    case WSIG_TERM: return "TERM";
    case WSIG_BREAK: return "BREAK";
    case 22: return "ABRT";
    case 9: return "KILL";
    default: return NULL;
    }
}

const int *sbx_sig_forwarded(void)
{
    static const int sigs[] = { WSIG_INT, WSIG_BREAK, WSIG_TERM, 0 };
    return sigs;
}

static BOOL WINAPI swallow_ctrl(DWORD type)
{
    (void)type;
    return TRUE;
}

int sbx_sig_ignore_console(void)
{
    if (!SetConsoleCtrlHandler(swallow_ctrl, TRUE))
        return last_err();
    return 0;
}

/* ---- handles ---- */

static sbx_h *h_alloc(HANDLE h, int owned, int kind, DWORD bufsize)
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
static int h_wrap_ovl(HANDLE h, DWORD bufsize, sbx_h **out)
{
    if ((*out = h_alloc(h, 1, H_OVL, bufsize)) == NULL) {
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
    *out = h_alloc(h, 0, h == NULL || h == INVALID_HANDLE_VALUE ? H_NULL : H_SYNC, HBUF);
    return *out ? 0 : SBX_ENOMEM;
}

/* The reader thread of a synchronous handle: one blocking ReadFile per
 * request, so nothing is read from a shared stdin before sbx wants it. */
static DWORD WINAPI reader_main(LPVOID arg)
{
    sbx_h *x = arg;

    for (;;) {
        DWORD got = 0;
        LONG st;
        BOOL ok;

        WaitForSingleObject(x->go, INFINITE);
        if (x->quit)
            return 0;
        ok = ReadFile(x->h, x->rbuf, x->bufsize, &got, NULL);
        if (!ok) {
            DWORD e = GetLastError();
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
            return last_err();
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
static int read_ready(sbx_h *x)
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
    if (!read_ready(x))
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

/* 1 when no overlapped write is in flight (collecting its result). */
static int write_done(sbx_h *x, int *rc)
{
    DWORD put;

    *rc = 0;
    if (x->kind != H_OVL || !x->wpending)
        return 1;
    if (!GetOverlappedResult(x->h, &x->wo, &put, FALSE)) {
        DWORD e = GetLastError();
        if (e == ERROR_IO_INCOMPLETE)
            return 0;
        x->wpending = 0;
        *rc = win_err(e);
        return 1;
    }
    x->wpending = 0;
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
        if (!WriteFile(x->h, buf, k, &done, NULL)) {
            e = GetLastError();
            return win_err(e == ERROR_NO_DATA ? ERROR_BROKEN_PIPE : e);
        }
        *put = done;
        return 0;
    }
    if (!write_done(x, &rc))
        return SBX_EAGAIN;
    if (rc < 0)
        return rc;
    memcpy(x->wbuf, buf, k);
    memset(&x->wo, 0, offsetof(OVERLAPPED, hEvent));
    if (!WriteFile(x->h, x->wbuf, k, NULL, &x->wo)) {
        e = GetLastError();
        if (e != ERROR_IO_PENDING)
            return win_err(e == ERROR_NO_DATA ? ERROR_BROKEN_PIPE : e);
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

    if (!write_done(x, &rc))
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

/* ---- processes (the part sbx_wait needs) ---- */

static int proc_check(sbx_proc *p)
{
    DWORD code;

    if (p->exited)
        return 1;
    if (WaitForSingleObject(p->process, 0) != WAIT_OBJECT_0)
        return 0;
    if (!GetExitCodeProcess(p->process, &code))
        code = 0xffffffffu;
    p->exited = 1;
    p->st.how = SBX_EXITED;
    p->st.code = code; /* all 32 bits: NTSTATUS values included */
    return 1;
}

long long sbx_now_ms(void)
{
    return (long long)GetTickCount64();
}

int sbx_wait(struct sbx_wait *w, size_t n, int timeout_ms)
{
    HANDLE hs[MAXIMUM_WAIT_OBJECTS];
    long long deadline = timeout_ms >= 0 ? sbx_now_ms() + timeout_ms : -1;

    for (;;) {
        DWORD nh = 0, ms, r;
        int ready = 0, rc;

        if (sig_any)
            return SBX_EINTR;
        for (size_t i = 0; i < n; i++) {
            struct sbx_wait *e = &w[i];
            e->got = 0;
            if (e->proc != NULL && (e->want & SBX_EV_EXIT)) {
                if (proc_check(e->proc))
                    e->got |= SBX_EV_EXIT;
                else
                    hs[nh++] = e->proc->process;
            }
            if (e->h != NULL && (e->want & SBX_EV_READ)) {
                if (read_ready(e->h))
                    e->got |= SBX_EV_READ;
                else
                    hs[nh++] = e->h->kind == H_SYNC ? e->h->ready : e->h->ro.hEvent;
            }
            if (e->h != NULL && (e->want & SBX_EV_WRITE)) {
                if (write_done(e->h, &rc))
                    e->got |= SBX_EV_WRITE;
                else
                    hs[nh++] = e->h->wo.hEvent;
            }
            if (e->got)
                ready++;
            if (nh > MAXIMUM_WAIT_OBJECTS - 4)
                return SBX_EINVAL;
        }
        if (ready > 0)
            return ready;
        if (sig_event != NULL)
            hs[nh++] = sig_event;
        if (deadline < 0) {
            ms = INFINITE;
        } else {
            long long left = deadline - sbx_now_ms();
            if (left <= 0)
                return 0;
            ms = (DWORD)left;
        }
        if (nh == 0) {
            Sleep(ms == INFINITE ? 1000 : ms);
            continue;
        }
        r = WaitForMultipleObjects(nh, hs, FALSE, ms);
        if (r == WAIT_FAILED)
            return last_err();
        if (r == WAIT_TIMEOUT && deadline >= 0 && sbx_now_ms() >= deadline)
            return 0;
    }
}

/* ---- spawn ---- */

static void spawn_fail(struct sbx_spawn_fail *f, const char *stage, DWORD e, const char *detail)
{
    f->stage = stage;
    f->err = win_err(e);
    f->os_code = (long long)e;
    f->detail = detail;
}

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
    wchar_t *w = to_w(path);
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
static char *resolve(const char *file, char *const *env, const char *cwd, int search)
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

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && ieq(s + n - k, suffix, k);
}

/* "A=1\0B=2\0\0" in UTF-16. */
static wchar_t *env_block(char *const *env)
{
    size_t total = 2, used = 0; /* the final NUL, and room for an empty block's pair */
    wchar_t *block, **parts;
    size_t n = 0;

    while (env[n] != NULL)
        n++;
    if ((parts = calloc(n + 1, sizeof(*parts))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((parts[i] = to_w(env[i])) == NULL)
            goto fail;
        total += wcslen(parts[i]) + 1;
    }
    if ((block = malloc(total * sizeof(wchar_t))) == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        size_t k = wcslen(parts[i]) + 1;
        memcpy(block + used, parts[i], k * sizeof(wchar_t));
        used += k;
        free(parts[i]);
    }
    block[used] = 0;
    block[used + 1] = 0; /* an empty environment is two NULs */
    free(parts);
    return block;
fail:
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
    return NULL;
}

static volatile LONG pipe_serial;

/* A pipe whose parent end is overlapped and private to us, and whose child
 * end is synchronous and inheritable (most programs expect synchronous
 * standard handles).  Anonymous pipes cannot be overlapped, hence a named
 * pipe with an unguessable name and a single instance. */
static int make_pipe(int child_reads, HANDLE *parent, HANDLE *child)
{
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    unsigned char rnd[8];
    wchar_t name[128];
    DWORD e;

    *parent = *child = INVALID_HANDLE_VALUE;
    if (sbx_os_random(rnd, sizeof(rnd)) < 0)
        return SBX_ESYS;
    swprintf(name, 128, L"\\\\.\\pipe\\sbx-io-%lu-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&pipe_serial),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    *parent = CreateNamedPipeW(name,
                               (child_reads ? PIPE_ACCESS_OUTBOUND : PIPE_ACCESS_INBOUND) |
                                   FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                               PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                   PIPE_REJECT_REMOTE_CLIENTS,
                               1, HBUF, HBUF, 0, NULL);
    if (*parent == INVALID_HANDLE_VALUE)
        return last_err();
    *child = CreateFileW(name,
                         child_reads ? GENERIC_READ | FILE_WRITE_ATTRIBUTES
                                     : GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                         0, &sa, OPEN_EXISTING, 0, NULL);
    if (*child == INVALID_HANDLE_VALUE) {
        e = GetLastError();
        CloseHandle(*parent);
        *parent = INVALID_HANDLE_VALUE;
        return win_err(e);
    }
    return 0;
}

static HANDLE open_null(void)
{
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    return CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                       &sa, OPEN_EXISTING, 0, NULL);
}

/* Starts the runner through the elevation prompt.  ShellExecuteEx cannot
 * pass handles, so the child inherits nothing (it takes its secret out of
 * sbx, see sbx_secret_take); its console is its own, kept hidden. */
static int spawn_elevated(struct sbx_spawn_opts *o, sbx_proc *p, struct sbx_spawn_fail *f)
{
    SHELLEXECUTEINFOW sei;
    wchar_t *wapp = NULL, *wparams = NULL;
    char *params = NULL;
    int rc = 0;

    if (o->argv[0] == NULL || o->argv[1] == NULL || sbx_win_cmdline(o->argv + 1, &params) < 0 ||
        (wapp = to_w(o->file)) == NULL || (wparams = to_w(params)) == NULL) {
        spawn_fail(f, "setup", ERROR_INVALID_PARAMETER, NULL);
        rc = f->err;
        goto done;
    }
    /* The shell may hand the verb to COM components: Microsoft asks
     * callers to initialize COM first.  A failure here is not fatal. */
    (void)CoInitializeEx(NULL, COINIT_APARTMENTTHREADED | COINIT_DISABLE_OLE1DDE);
    memset(&sei, 0, sizeof(sei));
    sei.cbSize = sizeof(sei);
    sei.fMask = SEE_MASK_NOCLOSEPROCESS | SEE_MASK_NOASYNC | SEE_MASK_FLAG_NO_UI;
    sei.lpVerb = L"runas";
    sei.lpFile = wapp;
    sei.lpParameters = wparams;
    sei.nShow = SW_HIDE;
    if (!ShellExecuteExW(&sei) || sei.hProcess == NULL) {
        DWORD e = GetLastError();
        spawn_fail(f, "exec", e ? e : ERROR_ACCESS_DENIED,
                   e == ERROR_CANCELLED ? "the elevation prompt was declined" : NULL);
        rc = f->err;
        goto done;
    }
    p->process = sei.hProcess;
    p->pid = GetProcessId(sei.hProcess);
done:
    free(params);
    free(wapp);
    free(wparams);
    return rc;
}

int sbx_proc_spawn(struct sbx_spawn_opts *o, sbx_proc **out, struct sbx_spawn_fail *f)
{
    static const DWORD ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
    char *const *env = o->env ? o->env : sbx_os_environ();
    HANDLE child[3] = { INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE };
    HANDLE parent[3] = { INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE };
    LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
    PROCESS_INFORMATION pi = { 0 };
    STARTUPINFOEXW si;
    SIZE_T asize = 0;
    wchar_t *wapp = NULL, *wcmd = NULL, *wcwd = NULL, *wenv = NULL;
    char *app = NULL, *cmdline = NULL;
    sbx_proc *p = NULL;
    DWORD flags, attr;
    int rc = 0;

    *out = NULL;
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 3; i++)
        o->stdio[i].h = NULL;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        spawn_fail(f, "setup", ERROR_NOT_ENOUGH_MEMORY, NULL);
        return SBX_ENOMEM;
    }
    if (o->as != NULL) {
        spawn_fail(f, "user", ERROR_NOT_SUPPORTED, "running as another account is not "
                                                   "supported on Windows");
        free(p);
        return SBX_ENOTSUP;
    }
    if (o->elevate) {
        if ((rc = spawn_elevated(o, p, f)) < 0) {
            free(p);
            return rc;
        }
        *out = p;
        return 0;
    }

    if (o->cwd != NULL) {
        if ((wcwd = to_w(o->cwd)) == NULL) {
            spawn_fail(f, "chdir", ERROR_INVALID_NAME, NULL);
            rc = f->err;
            goto done;
        }
        attr = GetFileAttributesW(wcwd);
        if (attr == INVALID_FILE_ATTRIBUTES || !(attr & FILE_ATTRIBUTE_DIRECTORY)) {
            spawn_fail(f, "chdir", attr == INVALID_FILE_ATTRIBUTES ? GetLastError()
                                                                   : ERROR_DIRECTORY, NULL);
            rc = f->err;
            goto done;
        }
    }
    app = resolve(o->file, env, o->cwd, o->search_path);
    if (app == NULL) {
        spawn_fail(f, "exec", ERROR_FILE_NOT_FOUND, NULL);
        rc = f->err;
        goto done;
    }
    /* cmd.exe re-parses a batch file's command line and expands %VAR%
     * inside quotes, so no quoting makes arbitrary arguments safe. */
    if (ends_with_ci(app, ".bat") || ends_with_ci(app, ".cmd")) {
        spawn_fail(f, "exec", ERROR_BAD_EXE_FORMAT,
                   "batch files are not run directly, because cmd.exe would re-parse their "
                   "arguments; run 'cmd.exe /c' explicitly if that is intended");
        rc = f->err;
        goto done;
    }
    if (sbx_win_cmdline(o->argv, &cmdline) < 0) {
        spawn_fail(f, "exec", ERROR_INVALID_PARAMETER,
                   "the program name is empty or contains a double quote");
        rc = f->err;
        goto done;
    }
    if ((wapp = to_w(app)) == NULL || (wcmd = to_w(cmdline)) == NULL ||
        (o->env != NULL && (wenv = env_block(o->env)) == NULL)) {
        spawn_fail(f, "setup", ERROR_INVALID_PARAMETER,
                   "an argument or variable is not valid WTF-8");
        rc = f->err;
        goto done;
    }

    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].kind) {
        case SBX_STDIO_PIPE:
            if ((rc = make_pipe(i == 0, &parent[i], &child[i])) < 0) {
                spawn_fail(f, "pipe", (DWORD)last_os_error, NULL);
                goto done;
            }
            break;
        case SBX_STDIO_INHERIT: {
            HANDLE h = GetStdHandle(ids[i]);
            if (h == NULL || h == INVALID_HANDLE_VALUE ||
                !DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &child[i], 0, TRUE,
                                 DUPLICATE_SAME_ACCESS))
                child[i] = open_null();
            break;
        }
        default:
            child[i] = open_null();
            break;
        }
        if (child[i] == INVALID_HANDLE_VALUE) {
            spawn_fail(f, "stdio", GetLastError(), NULL);
            rc = f->err;
            goto done;
        }
    }

    /* Only these three handles are inherited, whatever else is inheritable
     * in this process. */
    InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
    if ((attrs = malloc(asize)) == NULL || !InitializeProcThreadAttributeList(attrs, 1, 0, &asize) ||
        !UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, child,
                                   sizeof(child), NULL, NULL)) {
        spawn_fail(f, "setup", GetLastError(), NULL);
        rc = f->err;
        free(attrs);
        attrs = NULL;
        goto done;
    }
    memset(&si, 0, sizeof(si));
    si.StartupInfo.cb = sizeof(si);
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = child[0];
    si.StartupInfo.hStdOutput = child[1];
    si.StartupInfo.hStdError = child[2];
    si.lpAttributeList = attrs;
    /* Suspended, so the job holds the process before its first instruction
     * and nothing it starts can escape. */
    flags = CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED |
            (o->new_group ? CREATE_NEW_PROCESS_GROUP : 0);
    if (!CreateProcessW(wapp, wcmd, NULL, NULL, TRUE, flags, wenv, wcwd, &si.StartupInfo, &pi)) {
        DWORD e = GetLastError();
        spawn_fail(f, e == ERROR_DIRECTORY ? "chdir" : "exec", e, NULL);
        rc = f->err;
        goto done;
    }
    p->process = pi.hProcess;
    p->pid = pi.dwProcessId;
    if (o->job) {
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
        memset(&li, 0, sizeof(li));
        li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        p->job = CreateJobObjectW(NULL, NULL);
        if (p->job == NULL ||
            !SetInformationJobObject(p->job, JobObjectExtendedLimitInformation, &li, sizeof(li)) ||
            !AssignProcessToJobObject(p->job, pi.hProcess)) {
            spawn_fail(f, "setup", GetLastError(), "cannot put the command in a job object");
            rc = f->err;
            TerminateProcess(pi.hProcess, 1);
            WaitForSingleObject(pi.hProcess, 5000);
            goto done;
        }
    }
    ResumeThread(pi.hThread);

    for (int i = 0; i < 3; i++) {
        if (parent[i] != INVALID_HANDLE_VALUE) {
            rc = h_wrap_ovl(parent[i], HBUF, &o->stdio[i].h);
            parent[i] = INVALID_HANDLE_VALUE;
            if (rc < 0) {
                spawn_fail(f, "setup", ERROR_NOT_ENOUGH_MEMORY, NULL);
                goto done;
            }
        }
    }
    *out = p;
    p = NULL;
done:
    if (pi.hThread)
        CloseHandle(pi.hThread);
    for (int i = 0; i < 3; i++) {
        if (child[i] != INVALID_HANDLE_VALUE)
            CloseHandle(child[i]);
        if (parent[i] != INVALID_HANDLE_VALUE)
            CloseHandle(parent[i]);
        if (rc < 0 && o->stdio[i].h != NULL) {
            sbx_h_close(o->stdio[i].h);
            o->stdio[i].h = NULL;
        }
    }
    if (attrs != NULL) {
        DeleteProcThreadAttributeList(attrs);
        free(attrs);
    }
    if (p != NULL) {
        if (p->process != NULL && rc < 0)
            TerminateProcess(p->process, 1);
        if (p->job)
            CloseHandle(p->job);
        if (p->process)
            CloseHandle(p->process);
        free(p);
    }
    free(app);
    free(cmdline);
    free(wapp);
    free(wcmd);
    free(wcwd);
    free(wenv);
    return rc;
}

long long sbx_proc_pid(const sbx_proc *p)
{
    return p->pid;
}

int sbx_proc_poll(sbx_proc *p, struct sbx_exit *st)
{
    if (!proc_check(p))
        return SBX_EAGAIN;
    *st = p->st;
    return 0;
}

int sbx_proc_kill_group(sbx_proc *p, int sig)
{
    /* Windows has no signals to deliver to a tree: an interrupt or a polite
     * stop becomes a Ctrl-Break for the command's console process group
     * (Ctrl-C cannot be sent to a group other than one's own), anything
     * else, or a command without a console, ends the job. */
    if ((sig == WSIG_INT || sig == WSIG_BREAK || sig == WSIG_TERM) && !p->exited &&
        GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, p->pid))
        return 0;
    return sbx_proc_kill_tree(p);
}

int sbx_proc_kill_tree(sbx_proc *p)
{
    if (p->job != NULL) {
        if (!TerminateJobObject(p->job, 1))
            return last_err();
        return 0;
    }
    return sbx_proc_kill(p, 9);
}

int sbx_proc_kill(sbx_proc *p, int sig)
{
    (void)sig;
    if (p->exited || proc_check(p))
        return 0;
    if (!TerminateProcess(p->process, 1) && !proc_check(p))
        return last_err();
    return 0;
}

void sbx_proc_free(sbx_proc *p)
{
    if (p == NULL)
        return;
    if (p->job != NULL)
        CloseHandle(p->job); /* kill-on-close: nothing of the tree survives */
    if (p->process != NULL)
        CloseHandle(p->process);
    free(p);
}

/* ---- the channel ---- */

/* A security descriptor that lets only this user's SID open the pipe, and
 * denies network logons outright. */
static int user_only_sd(PSECURITY_DESCRIPTOR *sd)
{
    HANDLE tok = NULL;
    TOKEN_USER *tu = NULL;
    DWORD len = 0;
    wchar_t *sid = NULL, sddl[256];
    int rc = 0;

    *sd = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return last_err();
    GetTokenInformation(tok, TokenUser, NULL, 0, &len);
    if ((tu = malloc(len)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    if (!GetTokenInformation(tok, TokenUser, tu, len, &len) ||
        !ConvertSidToStringSidW(tu->User.Sid, &sid)) {
        rc = last_err();
        goto done;
    }
    swprintf(sddl, 256, L"D:P(D;;GA;;;NU)(A;;GA;;;%ls)", sid);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd, NULL))
        rc = last_err();
done:
    if (sid != NULL)
        LocalFree(sid);
    free(tu);
    CloseHandle(tok);
    return rc;
}

int sbx_chan_listen_at(sbx_listener **lp, const char *name)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    SECURITY_ATTRIBUTES sa;
    sbx_listener *l;
    wchar_t *wname;
    int rc;

    *lp = NULL;
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SBX_ENOMEM;
    l->pipe = INVALID_HANDLE_VALUE;
    if ((rc = user_only_sd(&sd)) < 0)
        goto fail;
    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = sd;
    sa.bInheritHandle = FALSE;
    wname = to_w(name);
    /* One instance, created first by us (a name someone else already holds
     * fails with ERROR_ACCESS_DENIED instead of joining their pipe), local
     * clients only. */
    l->pipe = wname ? CreateNamedPipeW(wname,
                                       PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                                           FILE_FLAG_FIRST_PIPE_INSTANCE,
                                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                           PIPE_REJECT_REMOTE_CLIENTS,
                                       1, CHAN_BUF, CHAN_BUF, 0, &sa)
                    : INVALID_HANDLE_VALUE;
    rc = l->pipe == INVALID_HANDLE_VALUE ? last_err() : 0;
    free(wname);
    LocalFree(sd);
    if (rc < 0)
        goto fail;
    if ((l->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
        rc = last_err();
        goto fail;
    }
    *lp = l;
    return 0;
fail:
    sbx_listener_close(l);
    return rc;
}

int sbx_chan_listen(sbx_listener **lp, char *name, size_t cap, int others)
{
    unsigned char rnd[16];
    char buf[96];
    int rc;

    *lp = NULL;
    if (others)
        return SBX_ENOTSUP; /* no --user here */
    if ((rc = sbx_os_random(rnd, sizeof(rnd))) < 0)
        return rc;
    /* \\.\pipe\sbx-<pid>-<128 random bits>: unguessable, so nobody can
     * create it first; FILE_FLAG_FIRST_PIPE_INSTANCE catches it if they do. */
    snprintf(buf, sizeof(buf), "\\\\.\\pipe\\sbx-%lu-", (unsigned long)GetCurrentProcessId());
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(buf + strlen(buf), 3, "%02x", rnd[i]);
    if (strlen(buf) + 1 > cap)
        return SBX_ENAMETOOLONG;
    if ((rc = sbx_chan_listen_at(lp, buf)) < 0)
        return rc;
    memcpy(name, buf, strlen(buf) + 1);
    return 0;
}

int sbx_chan_accept(sbx_listener *l, int timeout_ms, sbx_proc *watch, sbx_h **conn,
                    struct sbx_peer *peer)
{
    HANDLE hs[2];
    ULONG pid = 0;
    DWORD r, d, e;
    int rc;

    *conn = NULL;
    if (!ConnectNamedPipe(l->pipe, &l->ov)) {
        e = GetLastError();
        if (e == ERROR_IO_PENDING) {
            hs[0] = l->ov.hEvent;
            hs[1] = watch ? watch->process : NULL;
            r = WaitForMultipleObjects(watch ? 2 : 1, hs, FALSE, (DWORD)timeout_ms);
            if (r != WAIT_OBJECT_0) {
                CancelIoEx(l->pipe, &l->ov);
                GetOverlappedResult(l->pipe, &l->ov, &d, TRUE);
                if (r == WAIT_TIMEOUT)
                    return SBX_ETIMEDOUT;
                return r == WAIT_OBJECT_0 + 1 ? SBX_EPIPE : last_err();
            }
            if (!GetOverlappedResult(l->pipe, &l->ov, &d, FALSE))
                return last_err();
        } else if (e != ERROR_PIPE_CONNECTED) {
            return win_err(e);
        }
    }
    if (!GetNamedPipeClientProcessId(l->pipe, &pid))
        return last_err();
    peer->pid = (long long)pid;
    peer->uid = -1; /* the pipe's DACL already admits only this user */
    rc = h_wrap_ovl(l->pipe, CHAN_BUF, conn);
    l->pipe = INVALID_HANDLE_VALUE;
    return rc;
}

void sbx_listener_close(sbx_listener *l)
{
    if (l == NULL)
        return;
    if (l->pipe != INVALID_HANDLE_VALUE)
        CloseHandle(l->pipe);
    if (l->ov.hEvent != NULL)
        CloseHandle(l->ov.hEvent);
    free(l);
}

int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server)
{
    wchar_t *wname = to_w(name);
    ULONG pid = 0;
    HANDLE h;

    *conn = NULL;
    if (wname == NULL)
        return SBX_EINVAL;
    /* SECURITY_IDENTIFICATION: the server may learn who we are but never
     * act as us, which matters once the runner is the more privileged end. */
    h = CreateFileW(wname, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
    free(wname);
    if (h == INVALID_HANDLE_VALUE)
        return last_err();
    if (!GetNamedPipeServerProcessId(h, &pid)) {
        int rc = last_err();
        CloseHandle(h);
        return rc;
    }
    server->pid = (long long)pid;
    server->uid = -1;
    return h_wrap_ovl(h, CHAN_BUF, conn);
}

/* ---- this process ---- */

int sbx_os_args(int *argc, char ***argv)
{
    int n = 0;
    wchar_t **wv = CommandLineToArgvW(GetCommandLineW(), &n);
    char **v;

    if (wv == NULL)
        return last_err();
    if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL) {
        LocalFree(wv);
        return SBX_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if ((v[i] = from_w(wv[i])) == NULL) {
            LocalFree(wv);
            return SBX_EINVAL;
        }
    }
    LocalFree(wv);
    /* Kept for the life of the process, like the C runtime's own argv. */
    *argc = n;
    *argv = v;
    return 0;
}

int sbx_os_abspath(const char *path, char **out)
{
    wchar_t *w = to_w(path), *full;
    DWORD n;

    if (w == NULL)
        return SBX_EINVAL;
    n = GetFullPathNameW(w, 0, NULL, NULL);
    if (n == 0 || (full = malloc(n * sizeof(wchar_t))) == NULL) {
        free(w);
        return n == 0 ? last_err() : SBX_ENOMEM;
    }
    GetFullPathNameW(w, n, full, NULL);
    free(w);
    *out = from_w(full);
    free(full);
    return *out ? 0 : SBX_ENOMEM;
}

const char *sbx_os_exe_suffix(void)
{
    return ".exe";
}

int sbx_os_random(void *buf, size_t n)
{
    if (BCryptGenRandom(NULL, buf, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) < 0)
        return win_err(ERROR_GEN_FAILURE);
    return 0;
}

int sbx_os_self_dir(char **dir)
{
    wchar_t buf[32768];
    DWORD n = GetModuleFileNameW(NULL, buf, 32768);
    char *s, *cut = NULL;

    if (n == 0 || n >= 32768)
        return last_err();
    if ((s = from_w(buf)) == NULL)
        return SBX_ENOMEM;
    for (char *c = s; *c; c++)
        if (*c == '\\' || *c == '/')
            cut = c;
    if (cut == NULL) {
        free(s);
        return SBX_EINVAL;
    }
    *cut = '\0';
    *dir = s;
    return 0;
}

int sbx_os_getcwd(char **cwd)
{
    DWORD n = GetCurrentDirectoryW(0, NULL);
    wchar_t *w;

    if (n == 0)
        return last_err();
    if ((w = malloc(n * sizeof(wchar_t))) == NULL)
        return SBX_ENOMEM;
    GetCurrentDirectoryW(n, w);
    *cwd = from_w(w);
    free(w);
    return *cwd ? 0 : SBX_ENOMEM;
}

char **sbx_os_environ(void)
{
    static char **env;
    wchar_t *block, *p;
    size_t n = 0, i = 0;

    if (env != NULL)
        return env;
    if ((block = GetEnvironmentStringsW()) == NULL)
        return NULL;
    for (p = block; *p; p += wcslen(p) + 1)
        n++;
    if ((env = calloc(n + 1, sizeof(*env))) != NULL) {
        for (p = block; *p; p += wcslen(p) + 1) {
            char *s = from_w(p);
            if (s != NULL)
                env[i++] = s;
        }
    }
    FreeEnvironmentStringsW(block);
    return env;
}

long long sbx_os_pid(void)
{
    return (long long)GetCurrentProcessId();
}

long long sbx_os_uid(void)
{
    return -1; /* identities are SIDs here; the channel's DACL checks them */
}

int sbx_os_privileged(void)
{
    HANDLE tok;
    TOKEN_ELEVATION el = { 0 };
    DWORD len = 0;
    int yes = 0;

    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
        if (GetTokenInformation(tok, TokenElevation, &el, sizeof(el), &len))
            yes = el.TokenIsElevated != 0;
        CloseHandle(tok);
    }
    return yes;
}

int sbx_os_executable(const char *path)
{
    return is_file(path);
}

int sbx_os_sanitize_fds(void)
{
    /* Windows handles reach a child only when inheritable and listed in
     * PROC_THREAD_ATTRIBUTE_HANDLE_LIST, which sbx_proc_spawn always sets. */
    return 0;
}

int sbx_os_std_to_null(int which)
{
    static const DWORD ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
    HANDLE h;

    if (which < 0 || which > 2)
        return SBX_EINVAL;
    h = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                    NULL, OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE || !SetStdHandle(ids[which], h))
        return last_err();
    return 0;
}

int sbx_os_die_with_parent(long long ppid)
{
    (void)ppid; /* the channel's end of file, and the job, do this here */
    return 0;
}

const char *sbx_os_launcher(void)
{
    return NULL; /* the UAC prompt: spawn option `elevate` */
}

int sbx_proc_descends(long long pid, long long ancestor)
{
    (void)pid;
    (void)ancestor;
    return SBX_ENOTSUP;
}

/* ---- accounts: not supported (docs/windows.md says why) ---- */

int sbx_account_lookup(const char *name, sbx_account **out)
{
    (void)name;
    *out = NULL;
    return SBX_ENOTSUP;
}

long long sbx_account_uid(const sbx_account *a)
{
    (void)a;
    return -1;
}

char *const *sbx_account_env(const sbx_account *a)
{
    static char *const none[] = { NULL };
    (void)a;
    return none;
}

void sbx_account_free(sbx_account *a)
{
    (void)a;
}

void sbx_os_user_name(long long uid, char *buf, size_t cap)
{
    wchar_t w[257];
    DWORD n = 257;
    char *u;

    (void)uid; /* the runner runs as the same user as sbx, elevated */
    if (GetUserNameW(w, &n) && (u = from_w(w)) != NULL) {
        snprintf(buf, cap, "%s", u);
        free(u);
    } else {
        snprintf(buf, cap, "unknown");
    }
}

/* ---- the runner's secret ---- */

int sbx_secret_offer(const void *data, size_t n, sbx_h **keep, char *arg, size_t cap)
{
    HANDLE r, w;
    DWORD put = 0;
    BOOL ok;

    *keep = NULL;
    if (!CreatePipe(&r, &w, NULL, 4096))
        return last_err();
    ok = WriteFile(w, data, (DWORD)n, &put, NULL) && put == n;
    CloseHandle(w);
    if (!ok) {
        int rc = last_err();
        CloseHandle(r);
        return rc;
    }
    /* Never read here: the runner duplicates it out of this process. */
    if ((*keep = h_alloc(r, 1, H_NULL, 0)) == NULL) {
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
        return last_err();
    if (!DuplicateHandle(proc, (HANDLE)(uintptr_t)v, GetCurrentProcess(), &h, GENERIC_READ, FALSE,
                         0))
        rc = last_err();
    CloseHandle(proc);
    if (rc < 0)
        return rc;
    if ((*out = h_alloc(h, 1, H_SYNC, HBUF)) == NULL) {
        CloseHandle(h);
        return SBX_ENOMEM;
    }
    return 0;
}

void sbx_os_audit(const char *line)
{
    HANDLE src = RegisterEventSourceW(NULL, L"sbx");
    wchar_t *w = to_w(line);
    LPCWSTR strs[1];

    if (src != NULL && w != NULL) {
        strs[0] = w;
        (void)ReportEventW(src, EVENTLOG_INFORMATION_TYPE, 0, 1, NULL, 1, 0, strs, NULL);
    }
    if (src != NULL)
        DeregisterEventSource(src);
    free(w);
}

int sbx_os_replace_file(const char *tmp, const char *path)
{
    wchar_t *wt = to_w(tmp), *wp = to_w(path);
    int rc = 0;

    if (wt == NULL || wp == NULL)
        rc = SBX_EINVAL;
    else if (!MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        rc = last_err();
    free(wt);
    free(wp);
    return rc;
}

void sbx_os_exit_like(const struct sbx_exit *st)
{
    fflush(NULL);
    if (st->how == SBX_SIGNALED)
        ExitProcess(128u + (unsigned)st->signal);
    ExitProcess((UINT)st->code);
}
