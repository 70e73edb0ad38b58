/* POSIX (Linux): the splice primitives behind src/os.h.  They reach into
 * sbx_h for its descriptor only; opening and closing stay in handle.c. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The descriptor bytes are read from, and the one they are written to:
 * a channel read from a launcher's relay is written to its own socket
 * (handle.c, wfd). */
static int rfd_of(const sbx_h *h)
{
    return h->fd;
}

static int wfd_of(const sbx_h *h)
{
    return h->wfd >= 0 ? h->wfd : h->fd;
}

int sbx_h_is_pipe(sbx_h *h)
{
    struct stat st;

    return h != NULL && fstat(wfd_of(h), &st) == 0 && S_ISFIFO(st.st_mode);
}

int sbx_h_readable(sbx_h *h, size_t *n)
{
    int v = 0;

    *n = 0;
    if (ioctl(rfd_of(h), FIONREAD, &v) < 0)
        return sbx__sys_err(errno);
    *n = v > 0 ? (size_t)v : 0;
    return 0;
}

int sbx_h_peek(sbx_h *h, void *buf, size_t n, size_t *got)
{
    ssize_t r;

    *got = 0;
    r = recv(rfd_of(h), buf, n, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0)
        return sbx__sys_err(errno);
    *got = (size_t)r;
    return 0;
}

int sbx_h_splice(sbx_h *from, sbx_h *to, size_t n, size_t *moved)
{
#ifdef SPLICE_F_MOVE
    ssize_t r;

    *moved = 0;
    /* No SPLICE_F_NONBLOCK: a full blocking `to` waits as write() would; a
     * non-blocking end answers EAGAIN by its own O_NONBLOCK. */
    r = splice(rfd_of(from), NULL, wfd_of(to), NULL, n, SPLICE_F_MOVE);
    if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
        return SBX_ENOTSUP;
    if (r < 0)
        return sbx__sys_err(errno);
    *moved = (size_t)r;
    return 0;
#else
    (void)from;
    (void)to;
    (void)n;
    *moved = 0;
    return SBX_ENOTSUP;
#endif
}
