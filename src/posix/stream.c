/* POSIX: whether two of this process's standard streams are one, as after
 * the shell's 2>&1. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/kcmp.h>
#include <sys/syscall.h>
#endif

#include "internal.h"

/* Linux answers exactly: kcmp(2) compares the open file descriptions behind
 * two descriptors.  1, 0, or -1 when it cannot tell (no kcmp in the kernel,
 * or a seccomp filter or security module refusing it). */
static int kcmp_same(int a, int b)
{
#if defined(__linux__) && defined(SYS_kcmp)
    pid_t self = getpid();
    long r = syscall(SYS_kcmp, (long)self, (long)self, (long)KCMP_FILE, (long)a, (long)b);

    if (r == 0)
        return 1;
    if (r > 0 || errno == EBADF)
        return 0;
#else
    (void)a;
    (void)b;
#endif
    return -1;
}

int sbx_os_same_stream(int a, int b)
{
    struct stat sa, sb;
    int fa, fb, k;

    if (a == b)
        return 1;
    if ((k = kcmp_same(a, b)) >= 0)
        return k;
    /* Without kcmp, the same object is all that can be seen.  For a pipe,
     * a socket or a character device that is enough: whatever goes into
     * either reaches one ordered sink, so writing both through one keeps
     * the order and changes nothing else; the same access mode and the
     * same O_APPEND and O_NONBLOCK make it likelier still that they are
     * one description (the kernel's own bits, such as O_LARGEFILE, which
     * open() sets and pipe() does not, say nothing).  For a regular file it
     * is not: two descriptions of it each have their own offset, and text
     * written through one would land elsewhere than through two; being one
     * description cannot be seen without kcmp, so the answer is no, and
     * the streams are kept apart as they always were. */
    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return 0;
    if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino || sa.st_rdev != sb.st_rdev)
        return 0;
    if (!S_ISFIFO(sa.st_mode) && !S_ISSOCK(sa.st_mode) && !S_ISCHR(sa.st_mode))
        return 0;
    if ((fa = fcntl(a, F_GETFL)) < 0 || (fb = fcntl(b, F_GETFL)) < 0)
        return 0;
    return ((fa ^ fb) & (O_ACCMODE | O_APPEND | O_NONBLOCK)) == 0;
}
