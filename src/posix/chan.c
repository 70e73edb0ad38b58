/* POSIX: the channel, a Unix-domain stream socket under a private
 * directory, and its peer's credentials. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* Larger socket buffers let one write carry several frames and halve the
 * wake-ups per MiB.  Best effort: the kernel caps them at net.core.*mem_max. */
static void chan_buffers(int fd)
{
    int size = 4 << 20;

    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static int peer_of(int fd, struct sbx_peer *peer)
{
#ifdef SO_PEERCRED
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return sbx__sys_err(errno);
    peer->pid = uc.pid;
    peer->uid = uc.uid;
    return 0;
#else
    uid_t uid;
    gid_t gid;

    if (getpeereid(fd, &uid, &gid) < 0)
        return sbx__sys_err(errno);
    peer->pid = -1; /* not available here; the nonce still binds the peer */
    peer->uid = uid;
    return 0;
#endif
}

int sbx_chan_listen(sbx_listener **lp, char *name, size_t cap, int others)
{
    static const char hex[] = "0123456789abcdef";
    const char *base = getenv("XDG_RUNTIME_DIR");
    unsigned char raw[16];
    char tag[2 * sizeof(raw) + 1];
    struct sockaddr_un sa;
    struct stat stb;
    sbx_listener *l;
    int rc;

    *lp = NULL;
    /* XDG_RUNTIME_DIR must be ours and private to be worth preferring.  A
     * runner running as another account must be able to pass through every
     * directory on the way, so then only /tmp will do. */
    if (others || base == NULL || base[0] != '/' || stat(base, &stb) < 0 ||
        stb.st_uid != geteuid())
        base = getenv("TMPDIR");
    /* The name travels to the runner on its stdin, line by line. */
    if (others || base == NULL || base[0] != '/' || strchr(base, '\n') != NULL)
        base = "/tmp";
    if ((rc = sbx_os_random(raw, sizeof(raw))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(raw); i++) {
        tag[2 * i] = hex[raw[i] >> 4];
        tag[2 * i + 1] = hex[raw[i] & 15];
    }
    tag[2 * sizeof(raw)] = '\0';
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SBX_ENOMEM;
    l->fd = -1;
    if (snprintf(l->dir, sizeof(l->dir), "%s/sbx-XXXXXX", base) >= (int)sizeof(l->dir)) {
        rc = SBX_ENAMETOOLONG;
        goto fail;
    }
    /* mkdtemp creates it 0700: nobody else can reach the socket inside. */
    if (mkdtemp(l->dir) == NULL) {
        rc = sbx__sys_err(errno);
        l->dir[0] = '\0';
        goto fail;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (snprintf(l->path, sizeof(l->path), "%s/%s", l->dir, tag) >= (int)sizeof(sa.sun_path) ||
        strlen(l->path) + 1 > cap) {
        rc = SBX_ENAMETOOLONG;
        l->path[0] = '\0';
        goto fail;
    }
    /* Bound under a placeholder name, then renamed: the kernel shows every
     * socket's bind-time path to all users (/proc/net/unix), and the name
     * the runner connects to must stay a secret. */
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/b", l->dir) >= (int)sizeof(sa.sun_path)) {
        rc = SBX_ENAMETOOLONG;
        l->path[0] = '\0';
        goto fail;
    }
    if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = sbx__sys_err(errno);
        l->path[0] = '\0';
        goto fail;
    }
    if (rename(sa.sun_path, l->path) < 0) {
        rc = sbx__sys_err(errno);
        (void)unlink(sa.sun_path);
        l->path[0] = '\0';
        goto fail;
    }
    if (listen(l->fd, 1) < 0) {
        rc = sbx__sys_err(errno);
        goto fail;
    }
    /* For another account: it may connect to the socket and pass through
     * the directory, but not list it, so the random name is the key. */
    if (others && (chmod(l->path, 0666) < 0 || chmod(l->dir, 0711) < 0)) {
        rc = sbx__sys_err(errno);
        goto fail;
    }
    memcpy(name, l->path, strlen(l->path) + 1);
    *lp = l;
    return 0;
fail:
    sbx_listener_close(l);
    return rc;
}

int sbx_chan_listen_at(sbx_listener **lp, const char *name)
{
    struct sockaddr_un sa;
    sbx_listener *l;
    int rc;

    *lp = NULL;
    if (strlen(name) >= sizeof(sa.sun_path))
        return SBX_ENAMETOOLONG;
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return SBX_ENOMEM;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name) + 1);
    /* bind() refuses a path that exists: a squatter is never joined. */
    if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l->fd, 1) < 0) {
        rc = sbx__sys_err(errno);
        sbx_listener_close(l);
        return rc;
    }
    memcpy(l->path, name, strlen(name) + 1);
    *lp = l;
    return 0;
}

static void listener_unlink(sbx_listener *l)
{
    if (l->path[0]) {
        unlink(l->path);
        l->path[0] = '\0';
    }
    if (l->dir[0]) {
        rmdir(l->dir);
        l->dir[0] = '\0';
    }
}

int sbx_chan_accept(sbx_listener *l, int timeout_ms, sbx_proc *watch, sbx_h **conn,
                    struct sbx_peer *peer)
{
    long long deadline = sbx_now_ms() + timeout_ms;
    sbx_h lh = { l->fd, 0, 0 };
    int fd, rc;

    *conn = NULL;
    for (;;) {
        struct sbx_wait w[2] = { { &lh, NULL, SBX_EV_READ, 0 },
                                 { NULL, watch, SBX_EV_EXIT, 0 } };
        long long left = deadline - sbx_now_ms();

        if (left <= 0)
            return SBX_ETIMEDOUT;
        rc = sbx_wait(w, 2, (int)left);
        if (rc < 0)
            return rc;
        if (w[0].got & SBX_EV_READ) {
            fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0)
                break;
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                return sbx__sys_err(errno);
            continue;
        }
        if (w[1].got & SBX_EV_EXIT)
            return SBX_EPIPE;
    }
    /* One connection only: nobody else may reach this endpoint now. */
    listener_unlink(l);
    close(l->fd);
    l->fd = -1;
    if ((rc = peer_of(fd, peer)) < 0) {
        close(fd);
        return rc;
    }
    chan_buffers(fd);
    return sbx__h_new(fd, 1, conn);
}

void sbx_listener_close(sbx_listener *l)
{
    if (l == NULL)
        return;
    listener_unlink(l);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server)
{
    struct sockaddr_un sa;
    int fd, rc;

    *conn = NULL;
    if (strlen(name) >= sizeof(sa.sun_path))
        return SBX_ENAMETOOLONG;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return sbx__sys_err(errno);
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINTR) {
            rc = sbx__sys_err(errno);
            close(fd);
            return rc;
        }
    }
    if ((rc = peer_of(fd, server)) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        rc = rc < 0 ? rc : sbx__sys_err(errno);
        close(fd);
        return rc;
    }
    chan_buffers(fd);
    return sbx__h_new(fd, 1, conn);
}
