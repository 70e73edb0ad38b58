/* The channel: one duplex named pipe, local clients only, that only this
 * user may open; each end learns the process id of the other. */
#include "internal.h"

#include <sddl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct sbx_listener {
    HANDLE pipe;
    OVERLAPPED ov;
};

/* A security descriptor that lets only this user's SID open the pipe, and
 * denies network logons outright.  The command's standard pipes get it too
 * (process.c). */
int win_user_only_sd(PSECURITY_DESCRIPTOR *sd)
{
    HANDLE tok = NULL;
    TOKEN_USER *tu = NULL;
    DWORD len = 0;
    wchar_t *sid = NULL, sddl[256];
    int rc = 0;

    *sd = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return win_last_err();
    GetTokenInformation(tok, TokenUser, NULL, 0, &len);
    if ((tu = malloc(len)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    if (!GetTokenInformation(tok, TokenUser, tu, len, &len) ||
        !ConvertSidToStringSidW(tu->User.Sid, &sid)) {
        rc = win_last_err();
        goto done;
    }
    swprintf(sddl, 256, L"D:P(D;;GA;;;NU)(A;;GA;;;%ls)", sid);
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd, NULL))
        rc = win_last_err();
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
    if ((rc = win_user_only_sd(&sd)) < 0)
        goto fail;
    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = sd;
    sa.bInheritHandle = FALSE;
    wname = win_to_w(name);
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
    rc = l->pipe == INVALID_HANDLE_VALUE ? win_last_err() : 0;
    free(wname);
    LocalFree(sd);
    if (rc < 0)
        goto fail;
    if ((l->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL) {
        rc = win_last_err();
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
    HANDLE hs[3];
    ULONG pid = 0;
    DWORD r, d, e, nh = 0, at_exit = MAXDWORD, at_sig = MAXDWORD;
    int rc;

    *conn = NULL;
    /* A console event (Ctrl-C at sbx) ends the wait like a POSIX signal
     * ends sbx_wait: the runner may be waiting for an elevation prompt
     * nobody answers, and the user must be able to give up. */
    if (win_sig_any)
        return SBX_EINTR;
    if (!ConnectNamedPipe(l->pipe, &l->ov)) {
        e = GetLastError();
        if (e == ERROR_IO_PENDING) {
            hs[nh++] = l->ov.hEvent;
            if (watch != NULL) {
                at_exit = nh;
                hs[nh++] = watch->process;
            }
            if (win_sig_event != NULL) {
                at_sig = nh;
                hs[nh++] = win_sig_event;
            }
            r = WaitForMultipleObjects(nh, hs, FALSE, (DWORD)timeout_ms);
            if (r != WAIT_OBJECT_0) {
                e = r == WAIT_FAILED ? GetLastError() : 0;
                CancelIoEx(l->pipe, &l->ov);
                /* The connection may have come in meanwhile: it is closed
                 * with the listener, as nothing will use it. */
                GetOverlappedResult(l->pipe, &l->ov, &d, TRUE);
                if (r == WAIT_TIMEOUT)
                    return SBX_ETIMEDOUT;
                if (r == WAIT_OBJECT_0 + at_sig)
                    return SBX_EINTR;
                return r == WAIT_OBJECT_0 + at_exit ? SBX_EPIPE : win_err(e);
            }
            if (!GetOverlappedResult(l->pipe, &l->ov, &d, FALSE))
                return win_last_err();
        } else if (e != ERROR_PIPE_CONNECTED) {
            return win_err(e);
        }
    }
    if (!GetNamedPipeClientProcessId(l->pipe, &pid))
        return win_last_err();
    peer->pid = (long long)pid;
    peer->uid = -1; /* the pipe's DACL already admits only this user */
    rc = win_h_wrap_ovl(l->pipe, CHAN_BUF, conn);
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
    wchar_t *wname = win_to_w(name);
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
        return win_last_err();
    if (!GetNamedPipeServerProcessId(h, &pid)) {
        int rc = win_last_err();
        CloseHandle(h);
        return rc;
    }
    server->pid = (long long)pid;
    server->uid = -1;
    return win_h_wrap_ovl(h, CHAN_BUF, conn);
}

/* The nameless pair is the POSIX channel: a runner started through the
 * elevation prompt inherits nothing, so here the named pipe above is. */
int sbx_chan_pair(sbx_h **mine, sbx_h **theirs)
{
    *mine = *theirs = NULL;
    return SBX_ENOTSUP;
}

int sbx_chan_first_writer(sbx_h *mine, int timeout_ms, sbx_proc *watch, struct sbx_peer *peer)
{
    (void)mine;
    (void)timeout_ms;
    (void)watch;
    (void)peer;
    return SBX_ENOTSUP;
}

int sbx_chan_from_stdin(sbx_h **conn, struct sbx_peer *server)
{
    (void)server;
    *conn = NULL;
    return SBX_ENOTSUP;
}

int sbx_chan_from_relay(sbx_h **conn, struct sbx_peer *server)
{
    (void)server;
    *conn = NULL;
    return SBX_ENOTSUP;
}
