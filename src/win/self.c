/* This process: its arguments, paths, environment and identity, its
 * standard handles, the audit log, and the exit that mirrors the child's;
 * and the account stubs (runs as another account are not supported here). */
#include "internal.h"

#include <bcrypt.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- this process ---- */

int sbx_os_args(int *argc, char ***argv)
{
    int n = 0;
    wchar_t **wv = CommandLineToArgvW(GetCommandLineW(), &n);
    char **v;

    if (wv == NULL)
        return win_last_err();
    if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL) {
        LocalFree(wv);
        return SBX_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if ((v[i] = win_from_w(wv[i])) == NULL) {
            while (i-- > 0)
                free(v[i]);
            free(v);
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
    wchar_t *w = win_to_w(path), *full;
    DWORD n;

    if (w == NULL)
        return SBX_EINVAL;
    n = GetFullPathNameW(w, 0, NULL, NULL);
    if (n == 0 || (full = malloc(n * sizeof(wchar_t))) == NULL) {
        free(w);
        return n == 0 ? win_last_err() : SBX_ENOMEM;
    }
    GetFullPathNameW(w, n, full, NULL);
    free(w);
    *out = win_from_w(full);
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
        return win_last_err();
    if ((s = win_from_w(buf)) == NULL)
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
        return win_last_err();
    if ((w = malloc(n * sizeof(wchar_t))) == NULL)
        return SBX_ENOMEM;
    GetCurrentDirectoryW(n, w);
    *cwd = win_from_w(w);
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
            char *s = win_from_w(p);
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
    if (h == INVALID_HANDLE_VALUE)
        return win_last_err();
    if (!SetStdHandle(ids[which], h)) {
        DWORD e = GetLastError();
        CloseHandle(h);
        return win_err(e);
    }
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
    if (GetUserNameW(w, &n) && (u = win_from_w(w)) != NULL) {
        snprintf(buf, cap, "%s", u);
        free(u);
    } else {
        snprintf(buf, cap, "unknown");
    }
}

void sbx_os_audit(const char *line)
{
    HANDLE src = RegisterEventSourceW(NULL, L"sbx");
    wchar_t *w = win_to_w(line);
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
    wchar_t *wt = win_to_w(tmp), *wp = win_to_w(path);
    int rc = 0;

    if (wt == NULL || wp == NULL)
        rc = SBX_EINVAL;
    else if (!MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        rc = win_last_err();
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
