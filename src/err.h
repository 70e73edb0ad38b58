/* sbx error codes.
 *
 * Every function in src/ returns 0 (or a count) on success and a negative
 * value from this enum on failure.  The platform layer translates errno /
 * GetLastError() into these once; the OS's own code is kept beside it
 * (sbx_os_last_error()) so messages can still name the exact OS reason.
 */
#ifndef SBX_ERR_H
#define SBX_ERR_H

#include <stdio.h>

/* printf-style checking; mingw-w64 names the archetype of its C99 printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define SBX_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define SBX_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

enum sbx_err {
    SBX_OK = 0,
    SBX_EAGAIN = -1,   /* nothing to do now; wait and retry */
    SBX_ENOMEM = -2,
    SBX_EINVAL = -3,
    SBX_EPROTO = -4,   /* the peer broke the protocol */
    SBX_E2BIG = -5,    /* a size over a documented cap */
    SBX_ENOENT = -6,
    SBX_EACCES = -7,
    SBX_ENOEXEC = -8,
    SBX_ENOTDIR = -9,
    SBX_EISDIR = -10,
    SBX_EPIPE = -11,   /* the other end of a pipe or channel is gone */
    SBX_ETIMEDOUT = -12,
    SBX_EPERM = -13,
    SBX_EIO = -14,
    SBX_EPEER = -15,   /* the peer is not the process we expect */
    SBX_ELOOP = -16,
    SBX_ENAMETOOLONG = -17,
    SBX_EINTR = -18,   /* a signal arrived; the caller checks sbx_sig_take() */
    SBX_ESYS = -19,    /* any other OS error; see sbx_os_last_error() */
    SBX_ENOTSUP = -20, /* not available on this platform or in this mode */
    SBX_ERR_MIN_ = -21
};

/* Stable symbolic name ("ENOENT"), used on the wire in spawn errors. */
const char *sbx_err_name(int err);
/* Inverse of sbx_err_name(); SBX_ESYS for names it does not know. */
int sbx_err_from_name(const char *name);
/* A short English description for messages. */
const char *sbx_err_str(int err);

#endif
