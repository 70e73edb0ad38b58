/* Processes: spawn (started suspended, put in a kill-on-close job, then
 * resumed), the elevated start through ShellExecuteEx, poll and kill. */
#include "internal.h"

#include <shellapi.h>
#include <objbase.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "winargv.h"

int win_proc_check(sbx_proc *p)
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

/* ---- spawn ---- */

static void spawn_fail(struct sbx_spawn_fail *f, const char *stage, DWORD e, const char *detail)
{
    f->stage = stage;
    f->err = win_err(e);
    f->os_code = (long long)e;
    f->detail = detail;
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
        if ((parts[i] = win_to_w(env[i])) == NULL)
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
        return win_last_err();
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
        (wapp = win_to_w(o->file)) == NULL || (wparams = win_to_w(params)) == NULL) {
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
    o->tty_master = NULL;
    if (o->tty != NULL) {
        /* A pseudo console (ConPTY) would be the counterpart; docs/windows.md
         * says why it is not used yet. */
        spawn_fail(f, "tty", ERROR_NOT_SUPPORTED, "a terminal of the command's own is not "
                                                  "supported on Windows");
        return SBX_ENOTSUP;
    }
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
        if ((wcwd = win_to_w(o->cwd)) == NULL) {
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
    app = win_resolve(o->file, env, o->cwd, o->search_path);
    if (app == NULL) {
        spawn_fail(f, "exec", ERROR_FILE_NOT_FOUND, NULL);
        rc = f->err;
        goto done;
    }
    /* cmd.exe re-parses a batch file's command line and expands %VAR%
     * inside quotes, so no quoting makes arbitrary arguments safe. */
    if (win_ends_with_ci(app, ".bat") || win_ends_with_ci(app, ".cmd")) {
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
    if ((wapp = win_to_w(app)) == NULL || (wcmd = win_to_w(cmdline)) == NULL ||
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
                spawn_fail(f, "pipe", (DWORD)sbx_os_last_error(), NULL);
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
            rc = win_h_wrap_ovl(parent[i], HBUF, &o->stdio[i].h);
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
    if (!win_proc_check(p))
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
            return win_last_err();
        return 0;
    }
    return sbx_proc_kill(p, 9);
}

int sbx_proc_kill(sbx_proc *p, int sig)
{
    (void)sig;
    if (p->exited || win_proc_check(p))
        return 0;
    if (!TerminateProcess(p->process, 1) && !win_proc_check(p))
        return win_last_err();
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

int sbx_proc_descends(long long pid, long long ancestor)
{
    (void)pid;
    (void)ancestor;
    return SBX_ENOTSUP;
}
