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

/* The socket's name: 128 random bits in hex. */
#define SBX_CHAN_TAG 32

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

/* Whether `base` can hold the channel: an absolute path, without the
 * newline that ends the name in the runner's secret, to an existing
 * directory, short enough for the socket's whole path to fit sun_path. */
static int usable_base(const char *base)
{
    struct sockaddr_un sa;
    struct stat st;

    return base != NULL && base[0] == '/' && strchr(base, '\n') == NULL &&
           strlen(base) + sizeof("/sbx-XXXXXX/") - 1 + SBX_CHAN_TAG < sizeof(sa.sun_path) &&
           stat(base, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Makes the directory and the listening socket under `base`. */
static int listen_under(sbx_listener *l, const char *base, const char *tag, int others)
{
    struct sockaddr_un sa;
    int rc;

    if (snprintf(l->dir, sizeof(l->dir), "%s/sbx-XXXXXX", base) >= (int)sizeof(l->dir)) {
        l->dir[0] = '\0';
        return sbx__sys_err(ENAMETOOLONG);
    }
    /* mkdtemp creates it 0700: nobody else can reach the socket inside. */
    if (mkdtemp(l->dir) == NULL) {
        rc = sbx__sys_err(errno);
        l->dir[0] = '\0';
        return rc;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (snprintf(l->path, sizeof(l->path), "%s/%s", l->dir, tag) >= (int)sizeof(sa.sun_path)) {
        l->path[0] = '\0';
        return sbx__sys_err(ENAMETOOLONG);
    }
    /* Bound under a placeholder name, then renamed: the kernel shows every
     * socket's bind-time path to all users (/proc/net/unix), and the name
     * the runner connects to must stay a secret. */
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/b", l->dir) >= (int)sizeof(sa.sun_path)) {
        l->path[0] = '\0';
        return sbx__sys_err(ENAMETOOLONG);
    }
    if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = sbx__sys_err(errno);
        l->path[0] = '\0';
        return rc;
    }
    if (rename(sa.sun_path, l->path) < 0) {
        rc = sbx__sys_err(errno);
        (void)unlink(sa.sun_path);
        l->path[0] = '\0';
        return rc;
    }
    if (listen(l->fd, 1) < 0)
        return sbx__sys_err(errno);
    /* For another account: it may connect to the socket and pass through
     * the directory, but not list it, so the random name is the key. */
    if (others && (chmod(l->path, 0666) < 0 || chmod(l->dir, 0711) < 0))
        return sbx__sys_err(errno);
    return 0;
}

static void listener_unlink(sbx_listener *l);

int sbx_chan_listen(sbx_listener **lp, char *name, size_t cap, int others)
{
    static const char hex[] = "0123456789abcdef";
    const char *xdg = getenv("XDG_RUNTIME_DIR"), *bases[3];
    unsigned char raw[SBX_CHAN_TAG / 2];
    char tag[SBX_CHAN_TAG + 1];
    struct stat stb;
    sbx_listener *l;
    size_t nb = 0;
    int rc = 0;

    *lp = NULL;
    /* Where: XDG_RUNTIME_DIR when it is ours and private, else TMPDIR,
     * else /tmp.  One that is not a directory, or too long for a socket's
     * path, is passed over for the next, silently: /tmp is as good a place
     * and the caller did nothing wrong.  A runner running as another
     * account must be able to pass through every directory on the way, so
     * then only /tmp will do. */
    if (!others) {
        if (usable_base(xdg) && stat(xdg, &stb) == 0 && stb.st_uid == geteuid())
            bases[nb++] = xdg;
        if (usable_base(getenv("TMPDIR")))
            bases[nb++] = getenv("TMPDIR");
    }
    bases[nb++] = "/tmp";
    if ((rc = sbx_os_random(raw, sizeof(raw))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(raw); i++) {
        tag[2 * i] = hex[raw[i] >> 4];
        tag[2 * i + 1] = hex[raw[i] & 15];
    }
    tag[SBX_CHAN_TAG] = '\0';
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return sbx__sys_err(ENOMEM);
    for (size_t i = 0; i < nb; i++) {
        l->fd = -1;
        if ((rc = listen_under(l, bases[i], tag, others)) == 0)
            break;
        /* Whatever of it exists goes; the next place is tried, and the
         * last place's reason is the one reported. */
        listener_unlink(l);
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
    }
    if (rc == 0 && strlen(l->path) + 1 > cap)
        rc = sbx__sys_err(ENAMETOOLONG);
    if (rc < 0) {
        sbx_listener_close(l);
        return rc;
    }
    memcpy(name, l->path, strlen(l->path) + 1);
    *lp = l;
    return 0;
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

/* Opens the directory named by the first `len` bytes of `path` (absolute)
 * one component at a time, following no symbolic link anywhere, and
 * refusing "..": -1 if it cannot. */
static int open_dir_nofollow(const char *path, size_t len)
{
    size_t i = 0;
    int fd;

    if (len == 0 || path[0] != '/')
        return -1;
    fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd >= 0) {
        char comp[NAME_MAX + 1];
        size_t n = 0;
        int next;

        while (i < len && path[i] == '/')
            i++;
        if (i == len)
            break;
        while (i < len && path[i] != '/') {
            if (n == NAME_MAX) {
                close(fd);
                return -1;
            }
            comp[n++] = path[i++];
        }
        comp[n] = '\0';
        if (strcmp(comp, "..") == 0) {
            close(fd);
            return -1;
        }
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    return fd;
}

/* Whether the n bytes at s are all in `set`. */
static int all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return 0;
    return 1;
}

/* sbx is gone (nothing listens at `path`, or it is gone) and may have left
 * its channel behind: killed before it accepted, it could not remove it.
 * The runner may be root and the directory is under one that others may
 * write to (/tmp), so this removes exactly the socket and its directory,
 * relative to descriptors opened without following any symbolic link, and
 * only what the directory's owner could have removed: a directory named as
 * sbx names them, mode 0700 or 0711 (its owner alone changes what is in
 * it), owned by this process's uid unless this process is root, in a
 * parent that is the owner's or sticky (so the owner may remove it); a
 * socket of that owner with the channel's 32-hex-digit name.  The
 * directory goes only if it is then empty and still the one checked. */
static void remove_abandoned(const char *path)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const char *tag = strrchr(path, '/'), *d;
    char dname[sizeof("sbx-XXXXXX")];
    struct stat pst, dst, sst, again;
    mode_t mode;
    int pfd, dfd = -1;

    if (tag == NULL || tag == path)
        return;
    for (d = tag - 1; d > path && *d != '/'; d--)
        ;
    d++;
    if ((size_t)(tag - d) != sizeof(dname) - 1 || strncmp(d, "sbx-", 4) != 0 ||
        !all_of(d + 4, 6, alnum) || strlen(tag + 1) != SBX_CHAN_TAG ||
        !all_of(tag + 1, SBX_CHAN_TAG, "0123456789abcdef"))
        return;
    memcpy(dname, d, sizeof(dname) - 1);
    dname[sizeof(dname) - 1] = '\0';
    if ((pfd = open_dir_nofollow(path, (size_t)(d - path))) < 0)
        return;
    dfd = openat(pfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || fstat(pfd, &pst) < 0 || fstat(dfd, &dst) < 0)
        goto done;
    mode = dst.st_mode & 07777;
    if (!S_ISDIR(dst.st_mode) || (mode != 0700 && mode != 0711) ||
        (geteuid() != 0 && dst.st_uid != geteuid()) ||
        (pst.st_uid != dst.st_uid && !(pst.st_mode & S_ISVTX)))
        goto done;
    if (fstatat(dfd, tag + 1, &sst, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISSOCK(sst.st_mode) || sst.st_uid != dst.st_uid)
            goto done;
        (void)unlinkat(dfd, tag + 1, 0);
    }
    /* Fails unless it is empty now. */
    if (fstatat(pfd, dname, &again, AT_SYMLINK_NOFOLLOW) == 0 && again.st_dev == dst.st_dev &&
        again.st_ino == dst.st_ino)
        (void)unlinkat(pfd, dname, AT_REMOVEDIR);
done:
    if (dfd >= 0)
        close(dfd);
    close(pfd);
}

int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server)
{
    struct sockaddr_un sa;
    int fd, rc;

    *conn = NULL;
    if (strlen(name) >= sizeof(sa.sun_path))
        return sbx__sys_err(ENAMETOOLONG);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, strlen(name) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return sbx__sys_err(errno);
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            if (e == ECONNREFUSED || e == ENOENT)
                remove_abandoned(name);
            return sbx__sys_err(e);
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
