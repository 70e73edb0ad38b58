/* Win32 errors: GetLastError() codes translated once into enum sbx_err,
 * the last code kept for the message, its system text; and the WTF-8 <->
 * UTF-16 conversions every file of this layer uses at the API calls. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "wtf8.h"

static long long last_os_error;

int win_err(DWORD e)
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

int win_last_err(void)
{
    return win_err(GetLastError());
}

long long sbx_os_last_error(void)
{
    return last_os_error;
}

/* WTF-8 -> UTF-16 (malloc'd), or NULL. */
wchar_t *win_to_w(const char *s)
{
    uint16_t *w = NULL;
    size_t n;

    if (sbx_wtf8_to_utf16(s, &w, &n) < 0)
        return NULL;
    return (wchar_t *)w;
}

/* UTF-16 -> WTF-8 (malloc'd), or NULL. */
char *win_from_w(const wchar_t *w)
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

    if (n == 0 || (s = win_from_w(wbuf)) == NULL) {
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
