/* POSIX: the channel, a connected pair of Unix-domain stream sockets whose
 * runner's end is the runner's standard input and output, and who is at
 * either end.
 *
 * There is no name: the pair exists only as the descriptors sbx holds and
 * hands to the runner, so nothing can be squatted, found, connected to
 * first or left behind in a directory.  The named rendezvous of the
 * platform interface (sbx_chan_listen and the rest) is the Windows way,
 * where the runner started through the elevation prompt inherits nothing;
 * here it answers SBX_ENOTSUP. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct ucred, SCM_CREDENTIALS */
#endif

#include <errno.h>
#include <fcntl.h>
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

/* Asks the kernel to attach the writer's credentials to what arrives on
 * fd (on) or to stop (off).  Linux only: elsewhere SBX_ENOTSUP. */
static int pass_creds(int fd, int on)
{
#ifdef SO_PASSCRED
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
        return sbx__sys_err(errno);
    return 0;
#else
    (void)fd;
    (void)on;
    return SBX_ENOTSUP;
#endif
}

int sbx_chan_pair(sbx_h **mine, sbx_h **theirs)
{
    int sv[2], rc;

    *mine = *theirs = NULL;
    /* Close-on-exec both: the runner gets its end as its stdin, as a copy
     * made for it alone, and nothing else sbx starts gets either. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return sbx__sys_err(errno);
    /* Before the runner exists, so that its very first bytes carry who
     * wrote them: credentials are attached when data is sent, never
     * afterwards.  sbx's end is non-blocking; the runner makes its own
     * non-blocking when it takes it, which changes the open description a
     * launcher passing it on shares: sudo relaying stdin (log_input) waits
     * in its event loop and takes EAGAIN in its stride; a launcher that
     * read its stdin with blocking reads would not. */
    if ((rc = pass_creds(sv[0], 1)) < 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
        rc = rc < 0 ? rc : sbx__sys_err(errno);
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    chan_buffers(sv[0]);
    chan_buffers(sv[1]);
    if ((rc = sbx__h_new(sv[0], 1, mine)) < 0) {
        close(sv[1]);
        return rc;
    }
    if ((rc = sbx__h_new(sv[1], 1, theirs)) < 0) {
        sbx_h_close(*mine);
        *mine = NULL;
        return rc;
    }
    return 0;
}

/* The credentials attached to the first bytes waiting on fd, without
 * taking them: 1 and *peer, 0 at end of file, or a failure (SBX_EAGAIN
 * when nothing is there yet).  A stream socket never returns bytes of two
 * writers' credentials in one read, so these are exactly the first
 * bytes' writer. */
static int peek_creds(int fd, struct sbx_peer *peer)
{
#ifdef SCM_CREDENTIALS
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } ctl;
    struct msghdr mh;
    struct cmsghdr *cm;
    struct iovec iov;
    char byte;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    iov.iov_base = &byte;
    iov.iov_len = 1;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? SBX_EAGAIN : sbx__sys_err(errno);
    if (n == 0)
        return 0;
    /* Without them (never, once SO_PASSCRED was set before the writer
     * wrote) the writer is unknown: pid 0, which no check accepts. */
    peer->pid = 0;
    peer->uid = -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred uc;

            memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
            /* The kernel's own record, in our pid namespace: 0 when the
             * writer is not visible from it. */
            peer->pid = uc.pid;
            peer->uid = uc.uid;
        }
    }
    return 1;
#else
    char byte;
    ssize_t n;

    do
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? SBX_EAGAIN : sbx__sys_err(errno);
    /* Not available here: the nonce alone binds the peer. */
    peer->pid = -1;
    peer->uid = -1;
    return n > 0;
#endif
}

int sbx_chan_first_writer(sbx_h *mine, int timeout_ms, sbx_proc *watch, struct sbx_peer *peer)
{
    long long deadline = sbx_now_ms() + timeout_ms;
    int rc;

    for (;;) {
        struct sbx_wait w[2] = { { mine, NULL, SBX_EV_READ, 0 },
                                 { NULL, watch, SBX_EV_EXIT, 0 } };
        long long left = deadline - sbx_now_ms();

        if (left <= 0)
            return SBX_ETIMEDOUT;
        rc = sbx_wait(w, 2, (int)left);
        if (rc < 0)
            return rc;
        if (w[0].got & SBX_EV_READ) {
            rc = peek_creds(mine->fd, peer);
            if (rc == 1)
                break;
            /* Every copy of the runner's end closed without a byte: the
             * runner (and its launcher) are gone. */
            if (rc == 0)
                return SBX_EPIPE;
            if (rc != SBX_EAGAIN)
                return rc;
            continue;
        }
        if (w[1].got & SBX_EV_EXIT)
            return SBX_EPIPE;
    }
    /* Only the first bytes' writer is checked; what follows is read as a
     * plain stream, without a credential per write to take and drop. */
    (void)pass_creds(mine->fd, 0);
    return 0;
}

/* 0 when fd is a Unix-domain stream socket (the pair's kind), else a
 * failure: whatever else it is (a pipe from a launcher that relays it, a
 * terminal, a file), it is not sbx's end of the pair. */
static int unix_stream(int fd)
{
    int type = 0, domain = 0;
    socklen_t len = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return sbx__sys_err(errno);
#ifdef SO_DOMAIN
    len = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
        return sbx__sys_err(errno);
#else
    domain = AF_UNIX;
#endif
    if (type != SOCK_STREAM || domain != AF_UNIX)
        return sbx__sys_err(EPROTOTYPE);
    return 0;
}

/* Of a pair, the process that made it: sbx, as it was then. */
static int pair_maker(int fd, struct sbx_peer *server)
{
#ifdef SO_PEERCRED
    struct ucred uc;
    socklen_t len = sizeof(uc);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
        return sbx__sys_err(errno);
    server->pid = uc.pid;
    server->uid = uc.uid;
#else
    uid_t uid;
    gid_t gid;

    if (getpeereid(fd, &uid, &gid) < 0)
        return sbx__sys_err(errno);
    server->pid = -1; /* not available here; the nonce still binds sbx */
    server->uid = uid;
#endif
    return 0;
}

/* A close-on-exec, non-blocking copy of standard stream `which` above 2,
 * or -1 with the failure in *rc. */
static int take_std(int which, int *rc)
{
    int fd = fcntl(which, F_DUPFD_CLOEXEC, 3);

    if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        *rc = sbx__sys_err(errno);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int sbx_chan_from_stdin(sbx_h **conn, struct sbx_peer *server)
{
    int fd, rc;

    *conn = NULL;
    /* Not the pair's end: perhaps a launcher's relay (sbx_chan_from_relay).
     * Every later failure is final, as stream 0 may be gone by then. */
    if (unix_stream(0) < 0)
        return SBX_ENOENT;
    /* Off stream 0, which the command must never see and which becomes the
     * null device; close-on-exec, above 2. */
    if ((fd = take_std(0, &rc)) < 0)
        return rc;
    if ((rc = pair_maker(fd, server)) < 0) {
        close(fd);
        return rc;
    }
    /* Stream 1 is the same end (sbx gives it for a launcher that relays
     * stream 0, see sbx_chan_from_relay), or a launcher's pipe that
     * relays it: nothing of the runner's belongs there either way. */
    if ((rc = sbx_os_std_to_null(0)) < 0 || (rc = sbx_os_std_to_null(1)) < 0) {
        close(fd);
        return rc;
    }
    chan_buffers(fd);
    return sbx__h_new(fd, 1, conn);
}

int sbx_chan_from_relay(sbx_h **conn, struct sbx_peer *server)
{
    int rfd = -1, wfd = -1, rc;

    *conn = NULL;
    if ((rc = unix_stream(1)) < 0) {
        struct stat st;

        /* A pipe: the launcher relays stream 1 as well, and whatever the
         * runner writes would reach sbx as the launcher's. */
        if (fstat(1, &st) == 0 && S_ISFIFO(st.st_mode))
            return SBX_EPEER;
        return rc;
    }
    /* Written directly, never through the launcher: the kernel then
     * records this process as the writer of everything sbx reads, and
     * sbx's peer checks hold as if stream 0 were the pair's end too. */
    if ((rfd = take_std(0, &rc)) < 0 || (wfd = take_std(1, &rc)) < 0)
        goto fail;
    if ((rc = pair_maker(wfd, server)) < 0)
        goto fail;
    if ((rc = sbx_os_std_to_null(0)) < 0 || (rc = sbx_os_std_to_null(1)) < 0)
        goto fail;
    chan_buffers(wfd);
    if ((rc = sbx__h_new(rfd, 1, conn)) < 0) {
        close(wfd); /* rfd is closed by sbx__h_new */
        return rc;
    }
    (*conn)->wfd = wfd;
    return 0;
fail:
    if (rfd >= 0)
        close(rfd);
    if (wfd >= 0)
        close(wfd);
    return rc;
}

/* ---- the named rendezvous: Windows only ---- */

int sbx_chan_listen(sbx_listener **l, char *name, size_t cap, int others)
{
    (void)name;
    (void)cap;
    (void)others;
    *l = NULL;
    return SBX_ENOTSUP;
}

int sbx_chan_listen_at(sbx_listener **l, const char *name)
{
    (void)name;
    *l = NULL;
    return SBX_ENOTSUP;
}

int sbx_chan_accept(sbx_listener *l, int timeout_ms, sbx_proc *watch, sbx_h **conn,
                    struct sbx_peer *peer)
{
    (void)l;
    (void)timeout_ms;
    (void)watch;
    (void)peer;
    *conn = NULL;
    return SBX_ENOTSUP;
}

void sbx_listener_close(sbx_listener *l)
{
    (void)l; /* never made here */
}

int sbx_chan_connect(const char *name, sbx_h **conn, struct sbx_peer *server)
{
    (void)name;
    (void)server;
    *conn = NULL;
    return SBX_ENOTSUP;
}
