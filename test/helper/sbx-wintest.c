/*
 * sbx-wintest.exe: checks of the Windows channel that need a second process
 * or a name chosen in advance, which the end-to-end tests cannot arrange.
 * Linked with the core; run under Wine (or on Windows) by
 * test/integration/test_windows.c.  Prints one line per check and exits 0
 * only when every check passed.
 *
 *   sbx-wintest squat      a pipe name taken by someone else is refused
 *   sbx-wintest foreign    the server sees who connected; one client only
 *   sbx-wintest connect N  (internal) connect to N, hold it for 2 s
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "os.h"

static int spawn_self(const char *args, DWORD *pid, HANDLE *proc)
{
    wchar_t exe[MAX_PATH], line[1024];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;

    GetModuleFileNameW(NULL, exe, MAX_PATH);
    swprintf(line, 1024, L"\"%ls\" %hs", exe, args);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessW(exe, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return -1;
    CloseHandle(pi.hThread);
    *pid = pi.dwProcessId;
    *proc = pi.hProcess;
    return 0;
}

static int squat(void)
{
    const char *name = "\\\\.\\pipe\\sbx-wintest-squatted";
    HANDLE attacker = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 4096, 4096,
                                       0, NULL);
    sbx_listener *l = NULL;
    int rc;

    if (attacker == INVALID_HANDLE_VALUE) {
        printf("setup failed: %lu\n", GetLastError());
        return 2;
    }
    rc = sbx_chan_listen_at(&l, name);
    if (rc == 0 && GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != NULL) {
        /* Wine does not implement FILE_FLAG_FIRST_PIPE_INSTANCE; sbx still
         * refuses such a server through the runner's pid check. */
        printf("SKIP: this Wine does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE\n");
        return 77;
    }
    if (rc == 0) {
        printf("FAIL: sbx joined a pipe someone else created\n");
        return 1;
    }
    printf("ok: squatted name refused (%s)\n", sbx_err_name(rc));
    return 0;
}

static int foreign(void)
{
    char name[256], args[300];
    sbx_listener *l = NULL;
    struct sbx_peer peer;
    sbx_h *conn = NULL;
    DWORD pid1, pid2, code2 = 0;
    HANDLE p1, p2;
    int rc, bad = 0;

    if ((rc = sbx_chan_listen(&l, name, sizeof(name), 0)) < 0) {
        printf("setup failed: listen %s\n", sbx_err_name(rc));
        return 2;
    }
    snprintf(args, sizeof(args), "connect %s", name);
    if (spawn_self(args, &pid1, &p1) < 0) {
        printf("setup failed: spawn\n");
        return 2;
    }
    rc = sbx_chan_accept(l, 20000, NULL, &conn, &peer);
    if (rc < 0) {
        printf("FAIL: accept %s\n", sbx_err_name(rc));
        return 1;
    }
    if (peer.pid == (long long)pid1) {
        printf("ok: the server sees the client's pid (%lu)\n", pid1);
    } else {
        printf("FAIL: client pid %lld, expected %lu\n", peer.pid, pid1);
        bad = 1;
    }
    /* The one instance is taken: a second client cannot get in. */
    if (spawn_self(args, &pid2, &p2) < 0) {
        printf("setup failed: spawn\n");
        return 2;
    }
    WaitForSingleObject(p2, 20000);
    GetExitCodeProcess(p2, &code2);
    if (code2 == 3) {
        printf("ok: a second client is refused\n");
    } else {
        printf("FAIL: a second client got in (exit %lu)\n", code2);
        bad = 1;
    }
    WaitForSingleObject(p1, 20000);
    sbx_h_close(conn);
    sbx_listener_close(l);
    return bad;
}

static int connect_to(const char *name)
{
    struct sbx_peer server;
    sbx_h *conn = NULL;

    if (sbx_chan_connect(name, &conn, &server) < 0)
        return 3;
    Sleep(2000);
    sbx_h_close(conn);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    _setmode(_fileno(stdout), _O_BINARY); /* "\n", not "\r\n", for the tests */
    if (argc == 2 && strcmp(argv[1], "squat") == 0)
        return squat();
    if (argc == 2 && strcmp(argv[1], "foreign") == 0)
        return foreign();
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return connect_to(argv[2]);
    fprintf(stderr, "usage: sbx-wintest squat|foreign\n");
    return 2;
}
