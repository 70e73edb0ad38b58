/* POSIX: replacing a file's content in one step, and the exit status our
 * parent sees. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The directory is opened once and both the creation and the rename are
 * made relative to it, so the temporary file and the target are in the same
 * directory even if a component of the path is swapped meanwhile.  O_PATH
 * needs only search permission on it, as a plain path lookup would. */
#ifdef O_PATH
#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
#else
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif

/* How many names to try when one is taken; with 64 random bits a clash
 * means someone is guessing, not chance. */
#define NAME_TRIES 4

static int open_dir(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    *base = slash != NULL ? slash + 1 : path;
    if (slash == NULL)
        return open(".", DIR_FLAGS);
    if ((dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    fd = open(dir, DIR_FLAGS);
    free(dir);
    return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sbx_os_write_file(const char *path, const void *data, size_t n)
{
    const char *base;
    char tmp[40];
    unsigned long long r;
    int dfd, fd = -1, e = 0;

    if ((dfd = open_dir(path, &base)) < 0)
        return sbx__sys_err(errno);
    if (*base == '\0') {
        /* "dir/": there is no file name to replace. */
        close(dfd);
        return sbx__sys_err(EISDIR);
    }
    /* Exclusive creation (O_EXCL refuses any existing name, a dangling
     * link included) of a name nobody can predict: whoever may write to
     * the directory can neither make us write through a link nor race us
     * to the name. */
    for (int i = 0; i < NAME_TRIES && fd < 0; i++) {
        if (sbx_os_random(&r, sizeof(r)) < 0) {
            e = (int)sbx_os_last_error();
            goto fail;
        }
        snprintf(tmp, sizeof(tmp), ".sbx-%016llx.tmp", r);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) {
            e = errno;
            goto fail;
        }
    }
    if (fd < 0) {
        e = EEXIST;
        goto fail;
    }
    if (write_all(fd, data, n) < 0) {
        e = errno;
        goto fail_unlink;
    }
    /* A network file system may report a failed write only here.  Linux
     * frees the descriptor even when close says EINTR. */
    if (close(fd) < 0 && errno != EINTR) {
        fd = -1;
        e = errno;
        goto fail_unlink;
    }
    fd = -1;
    if (renameat(dfd, tmp, dfd, base) < 0) {
        e = errno;
        goto fail_unlink;
    }
    close(dfd);
    return 0;

fail_unlink:
    if (fd >= 0)
        close(fd);
    (void)unlinkat(dfd, tmp, 0);
fail:
    close(dfd);
    return sbx__sys_err(e);
}

long long sbx_os_exit_code(long long code)
{
    return code & 0xff;
}
