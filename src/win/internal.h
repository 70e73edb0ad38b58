/* Win32 implementation of the sbx platform interface (src/os.h): what its
 * files share, and nothing else.  Everything here is private to src/win/.
 *
 * Strings cross this layer as WTF-8 (src/wtf8.h) and become UTF-16 only at
 * the API calls, so no argument, path or variable is ever re-encoded lossily.
 *
 *   error.c    GetLastError() -> enum sbx_err, error text, WTF-8 <-> UTF-16
 *   io.c       sbx_h: overlapped I/O, the reader thread of synchronous handles
 *   wait.c     sbx_wait and the clock
 *   signal.c   console control events as signals
 *   path.c     finding the program: PATH, PATHEXT
 *   process.c  spawn, job, elevation, poll, kill
 *   chan.c     the channel: one named pipe, its DACL, the peer's pid
 *   secret.c   the runner's secret handoff
 *   self.c     this process, the audit log, the account stubs
 *   stream.c   whether two standard handles are one stream
 *   tty.c      the terminal and job-control calls, which have nothing to do
 *              here: no caller's terminal, no stops
 */
#ifndef SBX_WIN_INTERNAL_H
#define SBX_WIN_INTERNAL_H

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "os.h"

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
    /* overlapped writes; werr: the OS code of a write that failed after it
     * was accepted, kept so that every later write and flush reports it,
     * whoever collected the completion (sbx_wait does, to see readiness) */
    OVERLAPPED wo;
    int wpending;
    DWORD werr;
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

/* error.c: win_err translates a Windows error code and keeps it for
 * sbx_os_last_error; win_last_err does so for GetLastError(). */
int win_err(DWORD e);
int win_last_err(void);
/* WTF-8 -> UTF-16 and back, malloc'd (the caller frees), or NULL. */
wchar_t *win_to_w(const char *s);
char *win_from_w(const wchar_t *w);

/* io.c: a handle wrapper; kind is H_NULL, H_OVL or H_SYNC.  win_h_alloc
 * returns NULL when out of memory and never closes h; win_h_wrap_ovl takes
 * ownership of an overlapped handle, closing it on failure. */
sbx_h *win_h_alloc(HANDLE h, int owned, int kind, DWORD bufsize);
int win_h_wrap_ovl(HANDLE h, DWORD bufsize, sbx_h **out);
/* 1 when a read result is available, or no write is in flight (the write's
 * result, 0 or a negative sbx_err, in *rc); both never block. */
int win_h_read_ready(sbx_h *x);
int win_h_write_done(sbx_h *x, int *rc);

/* signal.c: set on a watched console event, reset by sbx_sig_take; the
 * event is NULL until sbx_sig_init. */
extern HANDLE win_sig_event;
extern volatile LONG win_sig_any;
/* 1 when this process is attached to a console. */
int win_has_console(void);
/* For sbx_proc_kill_group in the runner (after sbx_sig_ignore_console):
 * the console process group holding the runner and the command's tree
 * (`fallback` before that); whether the console already gave the command
 * this event type itself (counting it as used); and the note that the
 * runner generated one, which it receives too. */
DWORD win_console_group(DWORD fallback);
int win_console_delivered(DWORD type);
void win_console_generated(DWORD type);

/* path.c: the program to run as a malloc'd path, or NULL when not found. */
char *win_resolve(const char *file, char *const *env, const char *cwd, int search);
/* 1 when a program's name as typed names a stream of a file ("x.exe:s"). */
int win_names_stream(const char *file);
/* `path` made absolute and normalised as Windows will open it
 * (GetFullPathNameW: "." and ".." resolved, trailing dots and spaces of a
 * component dropped), malloc'd, or NULL. */
wchar_t *win_full_path(const char *path);
/* 1 when a full path names a batch file (.bat, .cmd), as CreateProcess
 * would judge it: by its extension, trailing dots and spaces ignored. */
int win_is_batch(const wchar_t *full);

/* chan.c: D:P(D;;GA;;;NU)(A;;GA;;;<this process's user>), to LocalFree. */
int win_user_only_sd(PSECURITY_DESCRIPTOR *sd);

/* process.c: 1 once the process has exited (p->st then holds its status). */
int win_proc_check(sbx_proc *p);

#endif
