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

/* The length of an environment string's name: up to the first '=' after
 * the first character, since the per-drive variables are named "=C:". */
static size_t env_name_len(const wchar_t *s)
{
    const wchar_t *eq = s[0] != 0 ? wcschr(s + 1, L'=') : NULL;
    return eq != NULL ? (size_t)(eq - s) : wcslen(s);
}

struct env_part {
    wchar_t *s;
    size_t order; /* the request's order, to keep the sort stable */
};

/* The order Windows keeps an environment in ("Changing Environment
 * Variables": sorted by name, case-insensitively, in Unicode order without
 * regard to locale), with the hidden per-drive "=C:" entries first as
 * Windows keeps them.  Programs may rely on it (a binary search by name). */
static int env_cmp(const void *a, const void *b)
{
    const struct env_part *x = a, *y = b;
    int hx = x->s[0] == L'=', hy = y->s[0] == L'=', c;

    if (hx != hy)
        return hy - hx;
    c = CompareStringOrdinal(x->s, (int)env_name_len(x->s), y->s, (int)env_name_len(y->s), TRUE);
    if (c != CSTR_EQUAL && c != 0)
        return c - CSTR_EQUAL;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "A=1\0B=2\0\0" in UTF-16, sorted as env_cmp says. */
static wchar_t *env_block(char *const *env)
{
    size_t total = 2, used = 0; /* the final NUL, and room for an empty block's pair */
    struct env_part *parts;
    wchar_t *block = NULL;
    size_t n = 0;

    while (env[n] != NULL)
        n++;
    if ((parts = calloc(n + 1, sizeof(*parts))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if ((parts[i].s = win_to_w(env[i])) == NULL)
            goto done;
        parts[i].order = i;
        total += wcslen(parts[i].s) + 1;
    }
    qsort(parts, n, sizeof(*parts), env_cmp);
    if ((block = malloc(total * sizeof(wchar_t))) == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        size_t k = wcslen(parts[i].s) + 1;
        /* An empty string would end the block early and hide every entry
         * after it: Windows has no way to carry one. */
        if (k == 1)
            continue;
        memcpy(block + used, parts[i].s, k * sizeof(wchar_t));
        used += k;
    }
    block[used] = 0;
    block[used + 1] = 0; /* an empty environment is two NULs */
done:
    for (size_t i = 0; i < n; i++)
        free(parts[i].s);
    free(parts);
    return block;
}

static volatile LONG pipe_serial;

/* A pipe whose parent end is overlapped and private to us, and whose child
 * end is synchronous and inheritable (most programs expect synchronous
 * standard handles).  Anonymous pipes cannot be overlapped, hence a named
 * pipe with an unguessable name and a single instance, which only this
 * user may open (the channel's descriptor): with the default one, any
 * local user could open it first, read the command's input or make the
 * spawn fail by taking the only instance. */
static int make_pipe(int child_reads, HANDLE *parent, HANDLE *child)
{
    SECURITY_ATTRIBUTES psa = { sizeof(psa), NULL, FALSE };
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    PSECURITY_DESCRIPTOR sd = NULL;
    unsigned char rnd[8];
    wchar_t name[128];
    ULONG client = 0;
    DWORD e;
    int rc;

    *parent = *child = INVALID_HANDLE_VALUE;
    if (sbx_os_random(rnd, sizeof(rnd)) < 0)
        return SBX_ESYS;
    if ((rc = win_user_only_sd(&sd)) < 0)
        return rc;
    psa.lpSecurityDescriptor = sd;
    swprintf(name, 128, L"\\\\.\\pipe\\sbx-io-%lu-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&pipe_serial),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    *parent = CreateNamedPipeW(name,
                               (child_reads ? PIPE_ACCESS_OUTBOUND : PIPE_ACCESS_INBOUND) |
                                   FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
                               PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                   PIPE_REJECT_REMOTE_CLIENTS,
                               1, HBUF, HBUF, 0, &psa);
    e = GetLastError();
    LocalFree(sd);
    if (*parent == INVALID_HANDLE_VALUE)
        return win_err(e);
    *child = CreateFileW(name,
                         child_reads ? GENERIC_READ | FILE_WRITE_ATTRIBUTES
                                     : GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                         0, &sa, OPEN_EXISTING, 0, NULL);
    e = *child == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    /* The one instance is ours: the client must be this very process, not
     * another of this user's that connected between the two calls. */
    if (e == 0 && (!GetNamedPipeClientProcessId(*parent, &client) ||
                   client != GetCurrentProcessId()))
        e = ERROR_ACCESS_DENIED;
    if (e != 0) {
        if (*child != INVALID_HANDLE_VALUE)
            CloseHandle(*child);
        CloseHandle(*parent);
        *parent = *child = INVALID_HANDLE_VALUE;
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
    HANDLE inherit[3];
    DWORD ninherit = 0;
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
    if (win_names_stream(o->file)) {
        spawn_fail(f, "exec", ERROR_BAD_EXE_FORMAT,
                   "a program in a file's alternate data stream is not run");
        rc = f->err;
        goto done;
    }
    app = win_resolve(o->file, env, o->cwd, o->search_path);
    if (app == NULL) {
        spawn_fail(f, "exec", ERROR_FILE_NOT_FOUND, NULL);
        rc = f->err;
        goto done;
    }
    /* What is judged is what runs: the found file's full path, normalised
     * the way Windows opens it ("x.bat." and "x.bat " are x.bat), and that
     * very path is what CreateProcessW gets. */
    if ((wapp = win_full_path(app)) == NULL) {
        spawn_fail(f, "exec", ERROR_INVALID_NAME, NULL);
        rc = f->err;
        goto done;
    }
    /* cmd.exe re-parses a batch file's command line and expands %VAR%
     * inside quotes, so no quoting makes arbitrary arguments safe. */
    if (win_is_batch(wapp)) {
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
    if ((wcmd = win_to_w(cmdline)) == NULL ||
        (o->env != NULL && (wenv = env_block(o->env)) == NULL)) {
        spawn_fail(f, "setup", ERROR_INVALID_PARAMETER,
                   "an argument or variable is not valid WTF-8");
        rc = f->err;
        goto done;
    }

    if (o->stdio[2].kind == SBX_STDIO_STDOUT && o->stdio[1].kind != SBX_STDIO_PIPE) {
        spawn_fail(f, "stdio", ERROR_INVALID_PARAMETER, NULL);
        rc = f->err;
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        switch (o->stdio[i].kind) {
        case SBX_STDIO_STDOUT:
            /* 2>&1: hStdError below is stream 1's very handle, so both
             * streams are one pipe and keep their order exactly. */
            continue;
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

    /* Only these handles are inherited, whatever else is inheritable in
     * this process; each once, as the list must not repeat one. */
    for (int i = 0; i < 3; i++)
        if (child[i] != INVALID_HANDLE_VALUE)
            inherit[ninherit++] = child[i];
    InitializeProcThreadAttributeList(NULL, 1, 0, &asize);
    if ((attrs = malloc(asize)) == NULL || !InitializeProcThreadAttributeList(attrs, 1, 0, &asize) ||
        !UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                   ninherit * sizeof(HANDLE), NULL, NULL)) {
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
    si.StartupInfo.hStdError = o->stdio[2].kind == SBX_STDIO_STDOUT ? child[1] : child[2];
    si.lpAttributeList = attrs;
    /* Suspended, so the job holds the process before its first instruction
     * and nothing it starts can escape. */
    flags = CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED;
    /* A new console process group is created with Ctrl-C disabled, and
     * everything in it inherits that: a command there never sees the
     * Ctrl-C its user pressed, only Ctrl-Break.  So only a process started
     * without a job (sbx.exe starting the runner) gets a group of its own;
     * a contained command stays in the runner's group, where the job stands
     * for the group (sbx_proc_kill_group). */
    if (o->new_group && !o->job)
        flags |= CREATE_NEW_PROCESS_GROUP;
    /* Without a console of our own, a console program would get a new one
     * with a window on the desktop; this gives it one without a window,
     * which console events can still reach. */
    if (!win_has_console())
        flags |= CREATE_NO_WINDOW;
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
            !SetInformationJobObject(p->job, JobObjectExtendedLimitInformation, &li, sizeof(li))) {
            spawn_fail(f, "setup", GetLastError(), "cannot create a job object");
            rc = f->err;
            goto kill;
        }
        if (!AssignProcessToJobObject(p->job, pi.hProcess)) {
            DWORD e = GetLastError();
            /* Denied inside an outer job that does not allow ours below it
             * (Windows 7, or an outer job with UI limits): the command runs
             * without our job, as libuv's spawn does, and loses only the
             * tree-wide ending (docs/windows.md). */
            if (e != ERROR_ACCESS_DENIED) {
                spawn_fail(f, "setup", e, "cannot put the command in a job object");
                rc = f->err;
                goto kill;
            }
            CloseHandle(p->job);
            p->job = NULL;
        }
    }
    if (ResumeThread(pi.hThread) == (DWORD)-1) {
        spawn_fail(f, "setup", GetLastError(), "cannot start the command's first thread");
        rc = f->err;
        goto kill;
    }

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
    goto done;
kill:
    /* Nothing of it has run yet: it ends before its first instruction. */
    TerminateProcess(pi.hProcess, 1);
    WaitForSingleObject(pi.hProcess, 5000);
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

/* Whether any process of the command's tree is attached to our console,
 * where console events can reach it.  A GUI program has no console: a
 * console event "sent" to it succeeds and nobody receives it. */
static int tree_on_console(sbx_proc *p)
{
    DWORD cons[256], ncons;
    union {
        JOBOBJECT_BASIC_PROCESS_ID_LIST l;
        char room[sizeof(JOBOBJECT_BASIC_PROCESS_ID_LIST) + 255 * sizeof(ULONG_PTR)];
    } job;
    ULONG_PTR one = p->pid, *ids = &one;
    DWORD nids = 1;

    ncons = GetConsoleProcessList(cons, 256);
    if (ncons == 0)
        return 0;
    if (ncons > 256)
        return 1; /* too many to tell: assume one of them is ours */
    if (p->job != NULL) {
        memset(&job, 0, sizeof(job));
        if (QueryInformationJobObject(p->job, JobObjectBasicProcessIdList, &job, sizeof(job),
                                      NULL) || GetLastError() == ERROR_MORE_DATA) {
            ids = job.l.ProcessIdList;
            nids = job.l.NumberOfProcessIdsInList;
        }
    }
    for (DWORD i = 0; i < nids; i++)
        for (DWORD k = 0; k < ncons; k++)
            if (ids[i] == cons[k])
                return 1;
    return 0;
}

int sbx_proc_kill_group(sbx_proc *p, int sig)
{
    DWORD seen, ev;

    /* Windows has no signals to deliver to a tree: an interrupt is a
     * Ctrl-C, a break or a polite stop a Ctrl-Break, both for the console
     * process group the command's tree shares with the runner; anything
     * else, a command already gone (the rest of its tree) or a tree with no
     * process on the console (GUI programs) ends the job at once. */
    if (sig == WSIG_INT) {
        seen = ev = CTRL_C_EVENT;
    } else if (sig == WSIG_BREAK) {
        seen = ev = CTRL_BREAK_EVENT;
    } else if (sig == WSIG_TERM) {
        seen = CTRL_CLOSE_EVENT; /* what sbx.exe forwards as TERM */
        ev = CTRL_BREAK_EVENT;
    } else {
        return sbx_proc_kill_tree(p);
    }
    if (win_proc_check(p) || !tree_on_console(p))
        return sbx_proc_kill_tree(p);
    if (win_console_delivered(seen))
        return 0; /* the console gave it to the command already */
    if (!GenerateConsoleCtrlEvent(ev, win_console_group(p->pid)))
        return sbx_proc_kill_tree(p);
    win_console_generated(ev);
    return 0;
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
