/* sbx_os_same_stream (src/posix/stream.c): one open file for two standard
 * streams, as after 2>&1, with kcmp(2) and without it. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <criterion/criterion.h>

#include "os.h"

/* Puts `fd` on standard stream `to` (1 or 2) of this test process. */
static void put_on(int fd, int to)
{
    cr_assert_eq(dup2(fd, to), to);
}

/* kcmp(2) fails with ENOSYS from now on in this process, as in a kernel
 * without it or under a seccomp filter that refuses it. */
static void no_kcmp(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kcmp, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        cr_skip_test("cannot install a seccomp filter here: %s", strerror(errno));
    cr_assert_eq(syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0L, 1L, 2L), -1);
    cr_assert_eq(errno, ENOSYS);
}

/* 1 and 2 one pipe description; then two pipes; then one pipe reached
 * through two descriptions (opened again by its /proc name). */
static void pipes(int same_object_answer)
{
    int a[2], b[2], again;
    char path[64];

    cr_assert_eq(pipe(a), 0);
    cr_assert_eq(pipe(b), 0);
    put_on(a[1], 1);
    put_on(a[1], 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 1, "2>&1 onto a pipe");
    put_on(b[1], 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 0, "two pipes");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", a[1]);
    again = open(path, O_WRONLY);
    cr_assert_geq(again, 0);
    put_on(again, 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), same_object_answer, "one pipe, two descriptions");
}

/* A regular file: one description (2>&1), then the file opened twice. */
static void regular_file(int one_description_answer)
{
    char path[] = "/tmp/sbx-stream-XXXXXX";
    int fd = mkstemp(path), again;

    cr_assert_geq(fd, 0);
    again = open(path, O_WRONLY);
    unlink(path);
    cr_assert_geq(again, 0);
    put_on(fd, 1);
    put_on(fd, 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), one_description_answer, ">file 2>&1");
    put_on(again, 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 0, ">file 2>file: two offsets");
}

Test(stream, with_kcmp)
{
    if (syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0L, 0L, 0L) != 0)
        cr_skip_test("kcmp(2) is not available here: %s", strerror(errno));
    cr_assert_eq(sbx_os_same_stream(1, 1), 1);
    pipes(0);
    regular_file(1);
}

/* Without kcmp, the same pipe is one stream whichever description holds
 * it (the bytes meet in one pipe anyway); a regular file never is, since
 * one description cannot be told from two. */
Test(stream, without_kcmp)
{
    int sv[2];

    no_kcmp();
    pipes(1);
    regular_file(0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    put_on(sv[0], 1);
    put_on(sv[0], 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 1, "one socket");
    put_on(sv[1], 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 0, "the socket's other end");
}

/* Without kcmp, the same pipe under other status flags is taken for
 * another stream: the flags are all that is left to tell descriptions
 * apart, and erring towards two streams is the old behaviour. */
Test(stream, without_kcmp_other_flags)
{
    int p[2], again;
    char path[64];

    no_kcmp();
    cr_assert_eq(pipe(p), 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
    again = open(path, O_WRONLY | O_NONBLOCK);
    cr_assert_geq(again, 0);
    put_on(p[1], 1);
    put_on(again, 2);
    cr_assert_eq(sbx_os_same_stream(1, 2), 0);
}
