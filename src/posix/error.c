/* POSIX: errno, translated once into enum sbx_err. */
#include <errno.h>
#include <string.h>

#include "internal.h"

static long long last_os_error;

/* Records errno and translates it. */
int sbx__sys_err(int e)
{
    last_os_error = e;
    switch (e) {
    case 0: return SBX_ESYS;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return SBX_EAGAIN;
    case ENOMEM: return SBX_ENOMEM;
    case EINVAL: return SBX_EINVAL;
    case E2BIG: return SBX_E2BIG;
    case ENOENT: return SBX_ENOENT;
    case EACCES: return SBX_EACCES;
    case ENOEXEC: return SBX_ENOEXEC;
    case ENOTDIR: return SBX_ENOTDIR;
    case EISDIR: return SBX_EISDIR;
    case EPIPE: case ECONNRESET: return SBX_EPIPE;
    case ETIMEDOUT: return SBX_ETIMEDOUT;
    case EPERM: return SBX_EPERM;
    case EIO: return SBX_EIO;
    case ELOOP: return SBX_ELOOP;
    case ENAMETOOLONG: return SBX_ENAMETOOLONG;
    case EINTR: return SBX_EINTR;
    default: return SBX_ESYS;
    }
}

long long sbx_os_last_error(void)
{
    return last_os_error;
}

const char *sbx_os_error_text(long long code)
{
    return strerror((int)code);
}
