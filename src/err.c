#include <string.h>

#include "err.h"

static const struct {
    int err;
    const char *name;
    const char *text;
} table[] = {
    { SBX_OK, "OK", "success" },
    { SBX_EAGAIN, "EAGAIN", "resource temporarily unavailable" },
    { SBX_ENOMEM, "ENOMEM", "out of memory" },
    { SBX_EINVAL, "EINVAL", "invalid argument" },
    { SBX_EPROTO, "EPROTO", "protocol error" },
    { SBX_E2BIG, "E2BIG", "too large" },
    { SBX_ENOENT, "ENOENT", "no such file or directory" },
    { SBX_EACCES, "EACCES", "permission denied" },
    { SBX_ENOEXEC, "ENOEXEC", "exec format error" },
    { SBX_ENOTDIR, "ENOTDIR", "not a directory" },
    { SBX_EISDIR, "EISDIR", "is a directory" },
    { SBX_EPIPE, "EPIPE", "broken pipe" },
    { SBX_ETIMEDOUT, "ETIMEDOUT", "timed out" },
    { SBX_EPERM, "EPERM", "operation not permitted" },
    { SBX_EIO, "EIO", "input/output error" },
    { SBX_EPEER, "EPEER", "unexpected peer" },
    { SBX_ELOOP, "ELOOP", "too many levels of symbolic links" },
    { SBX_ENAMETOOLONG, "ENAMETOOLONG", "file name too long" },
    { SBX_EINTR, "EINTR", "interrupted" },
    { SBX_ESYS, "ESYS", "system error" },
    { SBX_ENOTSUP, "ENOTSUP", "not supported" },
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

const char *sbx_err_name(int err)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].err == err)
            return table[i].name;
    return "ESYS";
}

int sbx_err_from_name(const char *name)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].err;
    return SBX_ESYS;
}

const char *sbx_err_str(int err)
{
    for (size_t i = 0; i < NTABLE; i++)
        if (table[i].err == err)
            return table[i].text;
    return "unknown error";
}
