/*
 * sbx-testhelper.exe: the command the Windows integration tests (under Wine,
 * or on Windows) run through sbx.exe.  Same output formats as the POSIX
 * helper where the subcommand exists there:
 *
 *   argv ARG...       "argc N", then "LEN:HEX" per argument, where the bytes
 *                     are the WTF-8 of the UTF-16 argv the C runtime parsed
 *   write out|err N SEED
 *                     N splitmix64 pattern bytes, in varied chunk sizes
 *   hash-stdin        "COUNT FNV1A64HEX" of stdin read to EOF
 *   cat               copies stdin to stdout
 *   exit N            exits with N, any 32-bit value (decimal or 0x hex)
 *   sleep MS          sleeps, then exits 0
 *   env NAME...       "NAME=VALUE" or "NAME is unset" per name
 *   cwd               the working directory
 *   live              writes "ready", sleeps 1500 ms, writes "bye\n"
 *   --server-pid PID --secret-from H  a fake sbx-runner (installed as
 *                     sbx-runner.exe beside a copy of sbx.exe): it takes the
 *                     channel's name out of sbx like the runner does, lets
 *                     another process connect first, as a foreign client
 *                     that learnt the name would, and then just waits
 *   spawn CMDLINE     runs CMDLINE with the same standard handles, waits, and
 *                     prints "exit 0x%08x" with all 32 bits of its exit code
 *
 * All output goes through WriteFile on the standard handles, so the C
 * runtime's text mode never turns "\n" into "\r\n".  Exit status 99 means
 * the helper itself failed.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define HELPER_FAIL 99

static void out_bytes(DWORD which, const void *p, size_t n)
{
    HANDLE h = GetStdHandle(which);
    const char *c = p;

    while (n > 0) {
        DWORD put = 0;
        if (!WriteFile(h, c, n > (1u << 20) ? (1u << 20) : (DWORD)n, &put, NULL))
            ExitProcess(HELPER_FAIL);
        c += put;
        n -= put;
    }
}

static void out_str(const char *s)
{
    out_bytes(STD_OUTPUT_HANDLE, s, strlen(s));
}

/* UTF-16 -> WTF-8, so lone surrogates survive. */
static size_t wtf8(const wchar_t *w, unsigned char *out)
{
    size_t n = 0;

    for (; *w; w++) {
        uint32_t c = *w;
        if (c >= 0xd800 && c <= 0xdbff && w[1] >= 0xdc00 && w[1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (w[1] - 0xdc00u);
            w++;
        }
        if (c < 0x80) {
            out[n++] = (unsigned char)c;
        } else if (c < 0x800) {
            out[n++] = (unsigned char)(0xc0 | c >> 6);
            out[n++] = (unsigned char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            out[n++] = (unsigned char)(0xe0 | c >> 12);
            out[n++] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
            out[n++] = (unsigned char)(0x80 | (c & 0x3f));
        } else {
            out[n++] = (unsigned char)(0xf0 | c >> 18);
            out[n++] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
            out[n++] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
            out[n++] = (unsigned char)(0x80 | (c & 0x3f));
        }
    }
    return n;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmd_argv(int argc, wchar_t **argv)
{
    static const char hex[] = "0123456789abcdef";
    char line[64];

    snprintf(line, sizeof(line), "argc %d\n", argc);
    out_str(line);
    for (int i = 0; i < argc; i++) {
        size_t len = wcslen(argv[i]);
        unsigned char *b = malloc(len * 3 + 1);
        char *h = malloc(len * 6 + 2);
        size_t n = wtf8(argv[i], b);
        if (b == NULL || h == NULL)
            return HELPER_FAIL;
        for (size_t k = 0; k < n; k++) {
            h[2 * k] = hex[b[k] >> 4];
            h[2 * k + 1] = hex[b[k] & 15];
        }
        h[2 * n] = '\0';
        snprintf(line, sizeof(line), "%zu:", n);
        out_str(line);
        out_str(h);
        out_str("\n");
        free(b);
        free(h);
    }
    return 0;
}

static int cmd_write(const wchar_t *stream, const wchar_t *count, const wchar_t *seed)
{
    DWORD which = wcscmp(stream, L"err") == 0 ? STD_ERROR_HANDLE : STD_OUTPUT_HANDLE;
    uint64_t left = wcstoull(count, NULL, 10), state = wcstoull(seed, NULL, 10);
    uint64_t sizes = state ^ 0x5bd1e995u, word = 0;
    static unsigned char buf[1 << 16];
    int have = 0;

    while (left > 0) {
        size_t n = 1 + (size_t)(splitmix64(&sizes) % sizeof(buf));
        if (n > left)
            n = (size_t)left;
        for (size_t i = 0; i < n; i++) {
            if (have == 0) {
                word = splitmix64(&state);
                have = 8;
            }
            buf[i] = (unsigned char)(word & 0xff);
            word >>= 8;
            have--;
        }
        out_bytes(which, buf, n);
        left -= n;
    }
    return 0;
}

static int cmd_stdin(int copy)
{
    static unsigned char buf[1 << 16];
    uint64_t h = 0xcbf29ce484222325ULL, count = 0;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    char line[64];

    for (;;) {
        DWORD got = 0;
        if (!ReadFile(in, buf, sizeof(buf), &got, NULL)) {
            if (GetLastError() == ERROR_BROKEN_PIPE)
                break;
            return HELPER_FAIL;
        }
        if (got == 0)
            break;
        if (copy) {
            out_bytes(STD_OUTPUT_HANDLE, buf, got);
            continue;
        }
        for (DWORD i = 0; i < got; i++) {
            h ^= buf[i];
            h *= 0x100000001b3ULL;
        }
        count += got;
    }
    if (!copy) {
        snprintf(line, sizeof(line), "%llu %016llx\n", (unsigned long long)count,
                 (unsigned long long)h);
        out_str(line);
    }
    return 0;
}

static int cmd_env(int argc, wchar_t **argv)
{
    for (int i = 0; i < argc; i++) {
        wchar_t val[32768];
        unsigned char name8[4096], val8[98304];
        DWORD n = GetEnvironmentVariableW(argv[i], val, 32768);
        size_t k = wtf8(argv[i], name8);
        name8[k] = '\0';
        out_str((char *)name8);
        if (n == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND) {
            out_str(" is unset\n");
            continue;
        }
        k = wtf8(val, val8);
        val8[k] = '\0';
        out_str("=");
        out_str((char *)val8);
        out_str("\n");
    }
    return 0;
}

static int fake_runner(const wchar_t *pidarg, const wchar_t *harg)
{
    wchar_t exe[MAX_PATH], line[1024], wname[512];
    char buf[1024], *name;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    HANDLE proc, h;
    DWORD got, have = 0;
    int lines = 0;

    proc = OpenProcess(PROCESS_DUP_HANDLE, FALSE, (DWORD)wcstoul(pidarg, NULL, 10));
    if (proc == NULL ||
        !DuplicateHandle(proc, (HANDLE)(uintptr_t)wcstoull(harg, NULL, 10), GetCurrentProcess(),
                         &h, GENERIC_READ, FALSE, 0))
        return HELPER_FAIL;
    while (lines < 2 && have < sizeof(buf) - 1 && ReadFile(h, buf + have, 1, &got, NULL) && got)
        lines += buf[have++] == '\n';
    buf[have] = '\0';
    if (lines < 2)
        return HELPER_FAIL;
    name = strchr(buf, '\n') + 1;
    *strchr(name, '\n') = '\0';
    MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 512);
    GetModuleFileNameW(NULL, exe, MAX_PATH);
    swprintf(line, 1024, L"\"%ls\" foreign-connect %ls", exe, wname);
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessW(exe, line, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return HELPER_FAIL;
    Sleep(30000);
    return 0;
}

static int foreign_connect(const wchar_t *name)
{
    HANDLE h = INVALID_HANDLE_VALUE;

    for (int i = 0; i < 100 && h == INVALID_HANDLE_VALUE; i++) {
        h = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE)
            Sleep(50);
    }
    if (h == INVALID_HANDLE_VALUE)
        return HELPER_FAIL;
    Sleep(10000);
    return 0;
}

int wmain(int argc, wchar_t **argv)
{
    if (argc < 2)
        return HELPER_FAIL;
    if (wcscmp(argv[1], L"--server-pid") == 0 && argc == 5 &&
        wcscmp(argv[3], L"--secret-from") == 0)
        return fake_runner(argv[2], argv[4]);
    if (wcscmp(argv[1], L"foreign-connect") == 0 && argc == 3)
        return foreign_connect(argv[2]);
    if (wcscmp(argv[1], L"argv") == 0)
        return cmd_argv(argc - 2, argv + 2);
    if (wcscmp(argv[1], L"write") == 0 && argc == 5)
        return cmd_write(argv[2], argv[3], argv[4]);
    if (wcscmp(argv[1], L"hash-stdin") == 0)
        return cmd_stdin(0);
    if (wcscmp(argv[1], L"cat") == 0)
        return cmd_stdin(1);
    if (wcscmp(argv[1], L"exit") == 0 && argc == 3) {
        ExitProcess((UINT)wcstoul(argv[2], NULL, 0));
    }
    if (wcscmp(argv[1], L"sleep") == 0 && argc == 3) {
        Sleep((DWORD)wcstoul(argv[2], NULL, 10));
        return 0;
    }
    if (wcscmp(argv[1], L"env") == 0)
        return cmd_env(argc - 2, argv + 2);
    if (wcscmp(argv[1], L"cwd") == 0) {
        wchar_t w[32768];
        unsigned char b[98304];
        size_t k;
        GetCurrentDirectoryW(32768, w);
        k = wtf8(w, b);
        b[k] = '\0';
        out_str((char *)b);
        out_str("\n");
        return 0;
    }
    if (wcscmp(argv[1], L"spawn") == 0 && argc == 3) {
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        DWORD code = 0;
        char line[64];
        memset(&si, 0, sizeof(si));
        si.cb = sizeof(si);
        if (!CreateProcessW(NULL, argv[2], NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
            return HELPER_FAIL;
        WaitForSingleObject(pi.hProcess, INFINITE);
        GetExitCodeProcess(pi.hProcess, &code);
        snprintf(line, sizeof(line), "exit 0x%08lx\n", (unsigned long)code);
        out_str(line);
        return 0;
    }
    if (wcscmp(argv[1], L"live") == 0) {
        out_str("ready");
        Sleep(1500);
        out_str("bye\n");
        return 0;
    }
    return HELPER_FAIL;
}
