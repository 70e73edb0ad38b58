/*
 * sbx-wintest.exe: checks of the Windows platform layer that need a second
 * process, a name chosen in advance, a console, or a look at what the
 * command was given, which the end-to-end tests cannot arrange alone.
 * Linked with the core; run under Wine (or on Windows) by
 * test/integration/test_windows.c and test/windows-smoke.sh.  Prints one
 * line per check and exits 0 only when every check passed (77: skipped,
 * with "SKIP: why").
 *
 * Checks run directly:
 *   squat           a pipe name taken by someone else is refused
 *   foreign         the server sees who connected; one client only
 *   write-error     a failed write completed inside sbx_wait is reported by
 *                   the next sbx_h_flush
 *   secret          a secret too large for its pipe fails at once; a small
 *                   one comes back through sbx_secret_take
 *   stdout-stderr   SBX_STDIO_STDOUT: stream 2 is stream 1's pipe, in order,
 *                   and the command sees one stream (sbx_os_same_stream)
 *   nested          sbx.exe inside an outer job with UI limits still runs a
 *                   command (exit 7)
 *   in-console WHAT runs "console-driver WHAT" in a new console of its own
 *                   (windowless), where console events can be sent:
 *     ctrlc         Ctrl-C on sbx.exe's console reaches the command once, as
 *                   Ctrl-C
 *     accept        Ctrl-C while sbx.exe waits for a runner that never
 *                   connects ends sbx.exe at once (status 130)
 *   gui-copy SRC DST  copies a program, made a GUI one (no console)
 *   detached        sbx.exe started without a console gives the command a
 *                   console without a window (the "console" probe)
 *   conpty-stdin    typed input, a Ctrl-C key and more input at a pseudo
 *                   console whose input is sbx.exe's stdin: the Ctrl-C
 *                   ends no input, and reaches the command once (real
 *                   Windows: Wine's pseudo console does not work)
 *
 * Probes, run as the command through sbx.exe:
 *   pipe-dacl       the standard pipes admit this user alone
 *   env-sorted NAME the environment is in Windows' order and holds NAME
 *   console         the command has a console, and no window
 *   ctrlc-probe     writes "ready", counts console events, then
 *                   "ctrl-c N break M"; exits 0 for exactly one Ctrl-C
 *   read-past-ctrlc reads stdin until "def" has come, and says how many
 *                   Ctrl-C it saw; end of input before that fails
 *   interleave      "o1" out, "e1" err, "o2" out, "e2" err, "same=N" out
 *   exit-after MS   sleeps and exits 0, reading nothing
 *   --server-pid .. a runner that never connects (installed as
 *                   sbx-runner.exe beside a copy of sbx.exe)
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

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
    /* FILE_FLAG_FIRST_PIPE_INSTANCE refuses so; any other error would be
     * a refusal for some other reason. */
    if (sbx_os_last_error() != ERROR_ACCESS_DENIED) {
        printf("FAIL: squatted name refused with Windows error %lld, not ERROR_ACCESS_DENIED\n",
               sbx_os_last_error());
        return 1;
    }
    printf("ok: squatted name refused (%s, ERROR_ACCESS_DENIED)\n", sbx_err_name(rc));
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

/* ---- the platform layer, called directly ---- */

static char self_path[MAX_PATH];

static DWORD WINAPI offer_big(LPVOID arg)
{
    static char big[64 * 1024];
    char harg[64];
    sbx_h *keep = NULL;

    memset(big, 'x', sizeof(big));
    *(int *)arg = sbx_secret_offer(big, sizeof(big), &keep, harg, sizeof(harg));
    sbx_h_close(keep);
    return 0;
}

static int secret(void)
{
    const char msg[] = "0123456789abcdef\n\\\\.\\pipe\\sbx-test\n";
    char harg[64], back[128];
    size_t have = 0, got;
    sbx_h *keep = NULL, *h = NULL;
    int rc = 1, big_rc = 0, bad = 0;
    HANDLE t = CreateThread(NULL, 0, offer_big, &big_rc, 0, NULL);

    if (t == NULL) {
        printf("setup failed: thread\n");
        return 2;
    }
    if (WaitForSingleObject(t, 5000) != WAIT_OBJECT_0) {
        printf("FAIL: sbx_secret_offer blocks on a 64 KiB secret\n");
        fflush(stdout);
        ExitProcess(1); /* the thread is stuck in WriteFile */
    }
    if (big_rc < 0) {
        printf("ok: a 64 KiB secret is refused at once (%s)\n", sbx_err_name(big_rc));
    } else {
        printf("FAIL: a 64 KiB secret was accepted\n");
        bad = 1;
    }
    if ((rc = sbx_secret_offer(msg, sizeof(msg) - 1, &keep, harg, sizeof(harg))) < 0 ||
        (rc = sbx_secret_take((long long)GetCurrentProcessId(), harg, &h)) < 0) {
        printf("FAIL: a small secret: %s\n", sbx_err_name(rc));
        return 1;
    }
    while (have < sizeof(back)) {
        struct sbx_wait w = { h, NULL, SBX_EV_READ, 0 };
        if (sbx_wait(&w, 1, 5000) <= 0 || sbx_h_read(h, back + have, sizeof(back) - have, &got) < 0 ||
            got == 0)
            break;
        have += got;
    }
    if (have == sizeof(msg) - 1 && memcmp(back, msg, have) == 0) {
        printf("ok: a small secret comes back whole\n");
    } else {
        printf("FAIL: the secret came back as %zu bytes\n", have);
        bad = 1;
    }
    sbx_h_close(h);
    sbx_h_close(keep);
    return bad;
}

static int spawn_probe(const char *what, const char *arg, int kind2, sbx_proc **p,
                       struct sbx_spawn_opts *o)
{
    static char *argv[4];
    struct sbx_spawn_fail f;
    int rc;

    argv[0] = self_path;
    argv[1] = (char *)what;
    argv[2] = (char *)arg;
    argv[3] = NULL;
    memset(o, 0, sizeof(*o));
    o->file = self_path;
    o->argv = argv;
    o->job = 1;
    o->new_group = 1;
    o->stdio[0].kind = kind2 < 0 ? SBX_STDIO_PIPE : SBX_STDIO_NULL;
    o->stdio[1].kind = kind2 < 0 ? SBX_STDIO_NULL : SBX_STDIO_PIPE;
    o->stdio[2].kind = kind2 < 0 ? SBX_STDIO_NULL : kind2;
    if ((rc = sbx_proc_spawn(o, p, &f)) < 0)
        printf("setup failed: spawn (%s): %s\n", f.stage, sbx_err_name(rc));
    return rc;
}

static int write_error(void)
{
    static char buf[256 * 1024];
    struct sbx_spawn_opts o;
    struct sbx_wait w;
    sbx_proc *p = NULL;
    size_t put;
    int rc, i;

    if (spawn_probe("exit-after", "1000", -1, &p, &o) < 0)
        return 2;
    /* Fill the pipe until a write stays in flight, then let the reader go
     * without reading: that write fails after it was accepted. */
    for (i = 0; i < 64; i++) {
        rc = sbx_h_write(o.stdio[0].h, buf, sizeof(buf), &put);
        if (rc == SBX_EAGAIN)
            break;
        if (rc < 0) {
            printf("setup failed: a write failed before the reader left (%s)\n", sbx_err_name(rc));
            return 2;
        }
    }
    if (i == 64) {
        printf("setup failed: 16 MiB into a pipe nobody reads\n");
        return 2;
    }
    w = (struct sbx_wait){ o.stdio[0].h, NULL, SBX_EV_WRITE, 0 };
    rc = sbx_wait(&w, 1, 20000);
    if (rc != 1 || !(w.got & SBX_EV_WRITE)) {
        printf("FAIL: the write in flight did not end (sbx_wait %d)\n", rc);
        return 1;
    }
    rc = sbx_h_flush(o.stdio[0].h);
    sbx_h_close(o.stdio[0].h);
    sbx_proc_kill_tree(p);
    sbx_proc_free(p);
    if (rc < 0) {
        printf("ok: the failed write is reported by the flush (%s)\n", sbx_err_name(rc));
        return 0;
    }
    printf("FAIL: a write that failed inside sbx_wait passed for written\n");
    return 1;
}

static int stdout_stderr(void)
{
    const char want[] = "o1\ne1\no2\ne2\nsame=1\n";
    struct sbx_spawn_opts o;
    sbx_proc *p = NULL;
    char buf[256];
    size_t have = 0, got;
    int bad = 0;

    if (spawn_probe("interleave", NULL, SBX_STDIO_STDOUT, &p, &o) < 0)
        return 1;
    if (o.stdio[2].h != NULL) {
        printf("FAIL: stream 2 got a handle of its own\n");
        bad = 1;
    }
    while (have < sizeof(buf) - 1) {
        struct sbx_wait w = { o.stdio[1].h, NULL, SBX_EV_READ, 0 };
        if (sbx_wait(&w, 1, 20000) <= 0 ||
            sbx_h_read(o.stdio[1].h, buf + have, sizeof(buf) - 1 - have, &got) < 0 || got == 0)
            break;
        have += got;
    }
    buf[have] = '\0';
    if (strcmp(buf, want) == 0) {
        printf("ok: one pipe for both streams, in order, and the command sees one stream\n");
    } else {
        printf("FAIL: stdout and stderr gave \"%s\", expected \"%s\"\n", buf, want);
        bad = 1;
    }
    sbx_h_close(o.stdio[1].h);
    sbx_proc_kill_tree(p);
    sbx_proc_free(p);
    return bad;
}

/* ---- processes around sbx.exe ---- */

static wchar_t dir_w[MAX_PATH];

/* Runs LINE (program APP) with these standard handles and flags, waits up
 * to ms: its exit code, or -1 (still running: ended) or -2 (not started). */
static long run_line(const wchar_t *app, const wchar_t *line, DWORD flags, HANDLE out, DWORD ms,
                     HANDLE *started)
{
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    wchar_t *cl = _wcsdup(line);
    DWORD code = 0;

    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = out ? out : GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessW(app, cl, NULL, NULL, TRUE, flags, NULL, NULL, &si, &pi)) {
        free(cl);
        return -2;
    }
    free(cl);
    CloseHandle(pi.hThread);
    if (started != NULL) {
        *started = pi.hProcess;
        return 0;
    }
    if (WaitForSingleObject(pi.hProcess, ms) != WAIT_OBJECT_0) {
        TerminateProcess(pi.hProcess, 1);
        CloseHandle(pi.hProcess);
        return -1;
    }
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    return (long)code;
}

static int nested(void)
{
    JOBOBJECT_BASIC_UI_RESTRICTIONS ui = { JOB_OBJECT_UILIMIT_HANDLES };
    wchar_t app[MAX_PATH + 16], line[3 * MAX_PATH];
    HANDLE job = CreateJobObjectW(NULL, NULL), proc;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 0;

    swprintf(app, MAX_PATH + 16, L"%ls\\sbx.exe", dir_w);
    swprintf(line, 3 * MAX_PATH, L"\"%ls\" run --same-user -- \"%ls\\sbx-testhelper.exe\" exit 7",
             app, dir_w);
    if (job == NULL || !SetInformationJobObject(job, JobObjectBasicUIRestrictions, &ui, sizeof(ui))) {
        printf("setup failed: outer job (%lu)\n", GetLastError());
        return 2;
    }
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessW(app, line, NULL, NULL, FALSE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
        printf("setup failed: sbx.exe (%lu)\n", GetLastError());
        return 2;
    }
    proc = pi.hProcess;
    if (!AssignProcessToJobObject(job, proc)) {
        printf("setup failed: outer job assignment (%lu)\n", GetLastError());
        TerminateProcess(proc, 1);
        return 2;
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    if (WaitForSingleObject(proc, 60000) != WAIT_OBJECT_0) {
        printf("FAIL: sbx.exe in an outer job did not finish\n");
        TerminateJobObject(job, 1);
        return 1;
    }
    GetExitCodeProcess(proc, &code);
    if (code != 7) {
        printf("FAIL: sbx.exe in an outer job with UI limits exited %lu, not 7\n", code);
        return 1;
    }
    printf("ok: a command runs inside an outer job with UI limits\n");
    return 0;
}

static BOOL WINAPI swallow(DWORD type)
{
    (void)type;
    return TRUE;
}

/* Reads a child's output pipe until `needle` shows or it ends (`all`: to
 * the end); the bytes so far in buf. */
static size_t read_until(HANDLE r, char *buf, size_t cap, const char *needle, int all)
{
    size_t have = 0;
    DWORD got;

    while (have < cap - 1 && ReadFile(r, buf + have, (DWORD)(cap - 1 - have), &got, NULL) && got) {
        have += got;
        buf[have] = '\0';
        if (!all && strstr(buf, needle) != NULL)
            break;
    }
    buf[have] = '\0';
    return have;
}

/* In a console of our own: the "keyboard" Ctrl-C, an event for every
 * process on the console, while the command waits for one. */
static int driver_ctrlc(void)
{
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    wchar_t app[MAX_PATH + 16], line[3 * MAX_PATH], self[MAX_PATH];
    HANDLE r, w, proc;
    char buf[4096];
    DWORD code = 0;

    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(app, MAX_PATH + 16, L"%ls\\sbx.exe", dir_w);
    swprintf(line, 3 * MAX_PATH, L"\"%ls\" run --same-user -- \"%ls\" ctrlc-probe", app, self);
    if (!CreatePipe(&r, &w, &sa, 0) || run_line(app, line, 0, w, 0, &proc) < 0) {
        printf("setup failed: sbx.exe (%lu)\n", GetLastError());
        return 2;
    }
    CloseHandle(w);
    read_until(r, buf, sizeof(buf), "ready", 0);
    if (strstr(buf, "ready") == NULL) {
        printf("FAIL: the command never got ready: %s\n", buf);
        TerminateProcess(proc, 1);
        return 1;
    }
    GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
    read_until(r, buf + strlen(buf), sizeof(buf) - strlen(buf), "", 1);
    if (WaitForSingleObject(proc, 30000) != WAIT_OBJECT_0) {
        printf("FAIL: sbx.exe still runs 30 s after the command's end\n");
        TerminateProcess(proc, 1);
        return 1;
    }
    GetExitCodeProcess(proc, &code);
    if (code != 0 || strstr(buf, "ctrl-c 1 break 0") == NULL) {
        printf("FAIL: after one Ctrl-C, sbx.exe exited 0x%lx and the command said: %s\n", code,
               buf);
        return 1;
    }
    printf("ok: one Ctrl-C reaches the command once, as Ctrl-C\n");
    return 0;
}

static int copy_to(const wchar_t *from, const wchar_t *to)
{
    return CopyFileW(from, to, FALSE) ? 0 : -1;
}

/* Ctrl-C while sbx.exe waits for a runner that never connects (an
 * elevation prompt nobody answers). */
static int driver_accept(void)
{
    wchar_t tmp[MAX_PATH], d[MAX_PATH], app[MAX_PATH + 16], runner[MAX_PATH + 24],
        from[MAX_PATH + 16], self[MAX_PATH], line[3 * MAX_PATH];
    HANDLE proc;
    DWORD code = 0, t0, ms;
    int bad = 0;

    GetModuleFileNameW(NULL, self, MAX_PATH);
    GetTempPathW(MAX_PATH, tmp);
    swprintf(d, MAX_PATH, L"%lssbx-wintest-%lu", tmp, GetCurrentProcessId());
    CreateDirectoryW(d, NULL);
    swprintf(app, MAX_PATH + 16, L"%ls\\sbx.exe", d);
    swprintf(runner, MAX_PATH + 24, L"%ls\\sbx-runner.exe", d);
    swprintf(from, MAX_PATH + 16, L"%ls\\sbx.exe", dir_w);
    if (copy_to(from, app) < 0 || copy_to(self, runner) < 0) {
        printf("setup failed: copies in %ls (%lu)\n", d, GetLastError());
        return 2;
    }
    swprintf(line, 3 * MAX_PATH,
             L"\"%ls\" run --same-user --connect-timeout 40s -- cmd /c echo must-not-run", app);
    if (run_line(app, line, 0, NULL, 0, &proc) < 0) {
        printf("setup failed: sbx.exe (%lu)\n", GetLastError());
        return 2;
    }
    Sleep(2000);
    GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
    t0 = GetTickCount();
    if (WaitForSingleObject(proc, 30000) != WAIT_OBJECT_0) {
        printf("FAIL: sbx.exe ignored Ctrl-C while waiting for the runner\n");
        TerminateProcess(proc, 1);
        bad = 1;
    } else {
        ms = GetTickCount() - t0;
        GetExitCodeProcess(proc, &code);
        if (code != 130 || ms > 10000) {
            printf("FAIL: sbx.exe exited %lu, %lu ms after Ctrl-C (expected 130, at once)\n", code,
                   ms);
            bad = 1;
        } else {
            printf("ok: Ctrl-C ends the wait for the runner (status 130, %lu ms)\n", ms);
        }
    }
    /* The fake runner ends with sbx.exe's kill, or after its sleep. */
    for (int i = 0; i < 50 && !DeleteFileW(runner); i++)
        Sleep(100);
    DeleteFileW(app);
    RemoveDirectoryW(d);
    return bad;
}

static int detached(void)
{
    wchar_t app[MAX_PATH + 16], self[MAX_PATH], line[3 * MAX_PATH];
    long code;

    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(app, MAX_PATH + 16, L"%ls\\sbx.exe", dir_w);
    swprintf(line, 3 * MAX_PATH, L"\"%ls\" run --same-user -- \"%ls\" console", app, self);
    code = run_line(app, line, DETACHED_PROCESS, NULL, 60000, NULL);
    if (code != 0) {
        printf("FAIL: with sbx.exe detached from any console, the probe exited %ld\n", code);
        return 1;
    }
    return 0;
}

static int in_console(const char *what)
{
    wchar_t self[MAX_PATH], line[MAX_PATH + 64];
    long code;

    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(line, MAX_PATH + 64, L"\"%ls\" console-driver %hs", self, what);
    /* A console of its own: events sent there reach nobody outside. */
    code = run_line(self, line, CREATE_NO_WINDOW, NULL, 110000, NULL);
    if (code < 0) {
        printf("FAIL: the console driver %s\n", code == -1 ? "hung" : "did not start");
        return 1;
    }
    return (int)code;
}

static int console_driver(const char *what)
{
    DWORD pid;

    if (GetConsoleProcessList(&pid, 1) == 0) {
        printf("SKIP: no console could be created here\n");
        return 77;
    }
    /* A handler, not SetConsoleCtrlHandler(NULL, TRUE): that flag would
     * be inherited by sbx.exe and everything it starts. */
    SetConsoleCtrlHandler(swallow, TRUE);
    if (strcmp(what, "ctrlc") == 0)
        return driver_ctrlc();
    if (strcmp(what, "accept") == 0)
        return driver_accept();
    printf("setup failed: no console check %s\n", what);
    return 2;
}

/* A copy of a program whose PE header says "GUI": Windows gives it no
 * console, as to any windowed program. */
static int gui_copy(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out;
    static unsigned char img[8 << 20];
    size_t n;
    unsigned long pe;

    if (in == NULL)
        return 2;
    n = fread(img, 1, sizeof(img), in);
    fclose(in);
    if (n < 0x40)
        return 2;
    pe = img[0x3c] | img[0x3d] << 8 | (unsigned long)img[0x3e] << 16 | (unsigned long)img[0x3f] << 24;
    /* The optional header follows the signature and the 20-byte file
     * header; Subsystem is at offset 68 in both PE32 and PE32+. */
    if (pe + 24 + 70 > n || memcmp(img + pe, "PE\0\0", 4) != 0)
        return 2;
    img[pe + 24 + 68] = IMAGE_SUBSYSTEM_WINDOWS_GUI;
    img[pe + 24 + 69] = 0;
    if ((out = fopen(dst, "wb")) == NULL)
        return 2;
    if (fwrite(img, 1, n, out) != n) {
        fclose(out);
        return 2;
    }
    return fclose(out) == 0 ? 0 : 2;
}

/* A real key Ctrl-C, which only a console's keyboard input produces: at a
 * pseudo console, "\x03" typed in line mode raises CTRL_C_EVENT and ends
 * a pending console read. */
typedef HRESULT(WINAPI *create_pc_fn)(COORD, HANDLE, HANDLE, DWORD, void **);
typedef void(WINAPI *close_pc_fn)(void *);
#define ATTR_PSEUDOCONSOLE 0x00020016 /* PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE */

static DWORD WINAPI drain(LPVOID h)
{
    char buf[4096];
    DWORD got;

    while (ReadFile((HANDLE)h, buf, sizeof(buf), &got, NULL) && got)
        ;
    return 0;
}

static int conpty_stdin(void)
{
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    create_pc_fn create_pc = (create_pc_fn)(void (*)(void))GetProcAddress(k32, "CreatePseudoConsole");
    close_pc_fn close_pc = (close_pc_fn)(void (*)(void))GetProcAddress(k32, "ClosePseudoConsole");
    wchar_t self[MAX_PATH], tmp[MAX_PATH], file[MAX_PATH + 64], line[3 * MAX_PATH];
    HANDLE in_r, in_w, out_r, out_w, f;
    STARTUPINFOEXW si;
    PROCESS_INFORMATION pi;
    SIZE_T asize = 0;
    void *pc = NULL;
    char buf[4096] = "";
    DWORD got = 0, code = 1, n;
    COORD size = { 80, 25 };

    if (create_pc == NULL || close_pc == NULL) {
        printf("SKIP: no pseudo console on this Windows\n");
        return 77;
    }
    if (GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") != NULL) {
        printf("SKIP: Wine's pseudo console carries nothing (docs/windows.md)\n");
        return 77;
    }
    GetModuleFileNameW(NULL, self, MAX_PATH);
    GetTempPathW(MAX_PATH, tmp);
    swprintf(file, MAX_PATH + 64, L"%lssbx-conpty-%lu.txt", tmp, GetCurrentProcessId());
    if (!CreatePipe(&in_r, &in_w, NULL, 0) || !CreatePipe(&out_r, &out_w, NULL, 0) ||
        FAILED(create_pc(size, in_r, out_w, 0, &pc))) {
        printf("setup failed: pseudo console (%lu)\n", GetLastError());
        return 2;
    }
    CloseHandle(in_r);
    CloseHandle(out_w);
    CloseHandle(CreateThread(NULL, 0, drain, out_r, 0, NULL));
    memset(&si, 0, sizeof(si));
    si.StartupInfo.cb = sizeof(si);
    InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
    si.lpAttributeList = malloc(asize);
    if (si.lpAttributeList == NULL ||
        !InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &asize) ||
        !UpdateProcThreadAttribute(si.lpAttributeList, 0, ATTR_PSEUDOCONSOLE, pc, sizeof(pc), NULL,
                                   NULL)) {
        printf("setup failed: attributes (%lu)\n", GetLastError());
        return 2;
    }
    swprintf(line, 3 * MAX_PATH, L"\"%ls\" conpty-inner \"%ls\"", self, file);
    if (!CreateProcessW(self, line, NULL, NULL, FALSE, EXTENDED_STARTUPINFO_PRESENT, NULL, NULL,
                        &si.StartupInfo, &pi)) {
        printf("setup failed: the process in the pseudo console (%lu)\n", GetLastError());
        return 2;
    }
    CloseHandle(pi.hThread);
    /* Typing starts once the command is reading. */
    for (int i = 0; i < 300 && strstr(buf, "ready") == NULL; i++) {
        Sleep(100);
        f = CreateFileW(file, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                        NULL, OPEN_EXISTING, 0, NULL);
        if (f != INVALID_HANDLE_VALUE) {
            if (ReadFile(f, buf, sizeof(buf) - 1, &got, NULL))
                buf[got] = '\0';
            CloseHandle(f);
        }
    }
    WriteFile(in_w, "abc\r", 4, &n, NULL);
    Sleep(1000);
    WriteFile(in_w, "\x03", 1, &n, NULL);
    Sleep(1500);
    WriteFile(in_w, "def\r", 4, &n, NULL);
    if (WaitForSingleObject(pi.hProcess, 30000) != WAIT_OBJECT_0)
        TerminateProcess(pi.hProcess, 1);
    GetExitCodeProcess(pi.hProcess, &code);
    close_pc(pc);
    f = CreateFileW(file, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0,
                    NULL);
    got = 0;
    if (f != INVALID_HANDLE_VALUE) {
        if (ReadFile(f, buf, sizeof(buf) - 1, &got, NULL))
            buf[got] = '\0';
        CloseHandle(f);
    }
    DeleteFileW(file);
    if (code != 0 || strstr(buf, "ok: abc and def, ctrl-c 1") == NULL) {
        printf("FAIL: the command saw the typed input so (exit %lu): %s\n", code, buf);
        return 1;
    }
    printf("ok: Ctrl-C at the console ends no input and reaches the command once\n");
    return 0;
}

/* Inside the pseudo console: sbx.exe with the console as its stdin, its
 * output in FILE. */
static int conpty_inner(const char *file)
{
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    wchar_t app[MAX_PATH + 16], self[MAX_PATH], line[3 * MAX_PATH], wfile[MAX_PATH];
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    DWORD code = 1;
    HANDLE f;

    SetConsoleCtrlHandler(swallow, TRUE);
    MultiByteToWideChar(CP_UTF8, 0, file, -1, wfile, MAX_PATH);
    f = CreateFileW(wfile, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    &sa, CREATE_ALWAYS, 0, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return 2;
    GetModuleFileNameW(NULL, self, MAX_PATH);
    swprintf(app, MAX_PATH + 16, L"%ls\\sbx.exe", dir_w);
    swprintf(line, 3 * MAX_PATH, L"\"%ls\" run --same-user -- \"%ls\" read-past-ctrlc", app, self);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = f;
    si.hStdError = f;
    if (!CreateProcessW(app, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
        return 2;
    WaitForSingleObject(pi.hProcess, 60000);
    GetExitCodeProcess(pi.hProcess, &code);
    return (int)code;
}

/* ---- probes: run as the command ---- */

static PSID token_user(void)
{
    static char buf[256];
    HANDLE tok;
    DWORD len = 0;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return NULL;
    if (!GetTokenInformation(tok, TokenUser, buf, sizeof(buf), &len)) {
        CloseHandle(tok);
        return NULL;
    }
    CloseHandle(tok);
    return ((TOKEN_USER *)buf)->User.Sid;
}

static int pipe_dacl(void)
{
    static const DWORD ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
    PSID me = token_user();
    int bad = 0;

    if (me == NULL) {
        printf("setup failed: token\n");
        return 2;
    }
    for (int i = 0; i < 3; i++) {
        PSECURITY_DESCRIPTOR sd = NULL;
        PACL dacl = NULL;
        DWORD e = GetSecurityInfo(GetStdHandle(ids[i]), SE_KERNEL_OBJECT,
                                  DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd);
        int mine = 0, others = 0;

        if (e != ERROR_SUCCESS) {
            printf("FAIL: stream %d: the descriptor cannot be read (%lu)\n", i, e);
            bad = 1;
            continue;
        }
        for (DWORD k = 0; dacl != NULL && k < dacl->AceCount; k++) {
            ACE_HEADER *ace;
            if (!GetAce(dacl, k, (void **)&ace) || ace->AceType != ACCESS_ALLOWED_ACE_TYPE)
                continue;
            if (EqualSid((PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart, me)) {
                mine++;
            } else {
                LPSTR who = NULL;
                ConvertSidToStringSidA((PSID)&((ACCESS_ALLOWED_ACE *)ace)->SidStart, &who);
                printf("FAIL: stream %d's pipe admits %s too\n", i, who ? who : "another SID");
                LocalFree(who);
                others++;
            }
        }
        if (dacl == NULL) {
            printf("FAIL: stream %d's pipe has no DACL: anyone may open it\n", i);
            bad = 1;
        } else if (mine == 0 || others > 0) {
            if (mine == 0)
                printf("FAIL: stream %d's pipe does not admit its user\n", i);
            bad = 1;
        } else {
            printf("ok: stream %d's pipe admits this user alone\n", i);
        }
        LocalFree(sd);
    }
    return bad;
}

/* Wine's loader sets these in every new process, after the block its
 * parent gave it: on Windows the block arrives as it was made. */
static int wine_adds(const wchar_t *e, size_t len)
{
    static const wchar_t *const names[] = { L"WINEDATADIR", L"WINEHOMEDIR", L"WINECONFIGDIR",
                                            L"WINELOADER", L"WINEUSERNAME", L"WINEUSERLOCALE",
                                            L"SystemDrive", L"SystemRoot" };

    if (GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_version") == NULL)
        return 0;
    if (len > 10 && _wcsnicmp(e, L"WINEDLLDIR", 10) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (wcslen(names[i]) == len && _wcsnicmp(e, names[i], len) == 0)
            return 1;
    return 0;
}

static int env_sorted(const char *name)
{
    wchar_t *block = GetEnvironmentStringsW(), *prev = NULL, *e, wname[256];
    size_t plen = 0;
    int found = 0, bad = 0;

    MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 256);
    for (e = block; *e; e += wcslen(e) + 1) {
        wchar_t *eq = e[0] ? wcschr(e + 1, L'=') : NULL;
        size_t len = eq ? (size_t)(eq - e) : wcslen(e);
        if (wine_adds(e, len))
            continue;
        if (len == wcslen(wname) && _wcsnicmp(e, wname, len) == 0)
            found = 1;
        if (prev != NULL && !bad) {
            int ph = prev[0] == L'=', eh = e[0] == L'=';
            if ((!ph && eh) || (ph == eh && CompareStringOrdinal(prev, (int)plen, e, (int)len,
                                                                 TRUE) == CSTR_GREATER_THAN)) {
                printf("FAIL: \"%.*ls\" comes before \"%.*ls\"\n", (int)plen, prev, (int)len, e);
                bad = 1;
            }
        }
        prev = e;
        plen = len;
    }
    FreeEnvironmentStringsW(block);
    if (!found) {
        printf("FAIL: %s is not in the environment\n", name);
        bad = 1;
    }
    if (!bad)
        printf("ok: the environment is sorted, %s in its place\n", name);
    return bad;
}

static int console_probe(void)
{
    DWORD pid;

    if (GetConsoleProcessList(&pid, 1) == 0) {
        printf("FAIL: the command has no console: console events cannot reach it\n");
        return 1;
    }
    if (GetConsoleWindow() != NULL && IsWindowVisible(GetConsoleWindow())) {
        printf("FAIL: the command's console has a window\n");
        return 1;
    }
    printf("ok: the command has a console, and no window\n");
    return 0;
}

static volatile LONG seen_c, seen_break;

static BOOL WINAPI count_ctrl(DWORD type)
{
    InterlockedIncrement(type == CTRL_C_EVENT ? &seen_c : &seen_break);
    return TRUE;
}

static int ctrlc_probe(void)
{
    SetConsoleCtrlHandler(count_ctrl, TRUE);
    printf("ready\n");
    for (int i = 0; i < 600 && seen_c == 0 && seen_break == 0; i++)
        Sleep(50);
    Sleep(1500); /* a second delivery would come within this */
    printf("ctrl-c %ld break %ld\n", seen_c, seen_break);
    return seen_c == 1 && seen_break == 0 ? 0 : 1;
}

static int read_past_ctrlc(void)
{
    char buf[1024];
    size_t have = 0;
    DWORD got;

    SetConsoleCtrlHandler(count_ctrl, TRUE);
    printf("ready\n");
    while (have < sizeof(buf) - 1 && strstr(buf, "def") == NULL) {
        if (!ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf + have, (DWORD)(sizeof(buf) - 1 - have),
                      &got, NULL) || got == 0) {
            printf("FAIL: end of input before \"def\" (had \"%s\")\n", buf);
            return 1;
        }
        have += got;
        buf[have] = '\0';
    }
    Sleep(1500); /* a second delivery would come within this */
    if (strstr(buf, "abc") == NULL || seen_c != 1 || seen_break != 0) {
        printf("FAIL: input \"%s\", ctrl-c %ld break %ld\n", buf, seen_c, seen_break);
        return 1;
    }
    printf("ok: abc and def, ctrl-c 1\n");
    return 0;
}

static void put(DWORD which, const char *s)
{
    DWORD n;
    WriteFile(GetStdHandle(which), s, (DWORD)strlen(s), &n, NULL);
}

static int interleave(void)
{
    char same[32];

    put(STD_OUTPUT_HANDLE, "o1\n");
    put(STD_ERROR_HANDLE, "e1\n");
    put(STD_OUTPUT_HANDLE, "o2\n");
    put(STD_ERROR_HANDLE, "e2\n");
    snprintf(same, sizeof(same), "same=%d\n", sbx_os_same_stream(1, 2));
    put(STD_OUTPUT_HANDLE, same);
    return 0;
}

int main(int argc, char **argv)
{
    wchar_t *cut;

    setvbuf(stdout, NULL, _IONBF, 0);
    _setmode(_fileno(stdout), _O_BINARY); /* "\n", not "\r\n", for the tests */
    GetModuleFileNameA(NULL, self_path, MAX_PATH);
    GetModuleFileNameW(NULL, dir_w, MAX_PATH);
    if ((cut = wcsrchr(dir_w, L'\\')) != NULL)
        *cut = 0;
    if (argc == 2 && strcmp(argv[1], "squat") == 0)
        return squat();
    if (argc == 2 && strcmp(argv[1], "foreign") == 0)
        return foreign();
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return connect_to(argv[2]);
    if (argc == 2 && strcmp(argv[1], "write-error") == 0)
        return write_error();
    if (argc == 2 && strcmp(argv[1], "secret") == 0)
        return secret();
    if (argc == 2 && strcmp(argv[1], "stdout-stderr") == 0)
        return stdout_stderr();
    if (argc == 2 && strcmp(argv[1], "nested") == 0)
        return nested();
    if (argc == 2 && strcmp(argv[1], "detached") == 0)
        return detached();
    if (argc == 3 && strcmp(argv[1], "in-console") == 0)
        return in_console(argv[2]);
    if (argc == 3 && strcmp(argv[1], "console-driver") == 0)
        return console_driver(argv[2]);
    if (argc == 4 && strcmp(argv[1], "gui-copy") == 0)
        return gui_copy(argv[2], argv[3]);
    if (argc == 2 && strcmp(argv[1], "pipe-dacl") == 0)
        return pipe_dacl();
    if (argc == 3 && strcmp(argv[1], "env-sorted") == 0)
        return env_sorted(argv[2]);
    if (argc == 2 && strcmp(argv[1], "console") == 0)
        return console_probe();
    if (argc == 2 && strcmp(argv[1], "ctrlc-probe") == 0)
        return ctrlc_probe();
    if (argc == 2 && strcmp(argv[1], "conpty-stdin") == 0)
        return conpty_stdin();
    if (argc == 3 && strcmp(argv[1], "conpty-inner") == 0)
        return conpty_inner(argv[2]);
    if (argc == 2 && strcmp(argv[1], "read-past-ctrlc") == 0)
        return read_past_ctrlc();
    if (argc == 2 && strcmp(argv[1], "interleave") == 0)
        return interleave();
    if (argc == 3 && strcmp(argv[1], "exit-after") == 0) {
        Sleep((DWORD)atoi(argv[2]));
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--server-pid") == 0) {
        Sleep(60000); /* a runner that never connects */
        return 0;
    }
    fprintf(stderr, "usage: sbx-wintest CHECK (see the source's head comment)\n");
    return 2;
}
