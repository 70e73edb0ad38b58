/* POSIX: the command's own terminal -- a new pseudo-terminal that the
 * runner creates, makes its controlling terminal and hands the command, and
 * what the runner does with it later (the foreground group on continue,
 * the window size). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"

/* The flags that describe how a person's terminal behaves, and so are
 * carried from the caller's terminal to the command's (the set sudo and
 * OpenSSH copy).  Never the hardware flags: baud-rate tricks, CLOCAL,
 * HUPCL and CREAD are the new terminal's own business. */
#ifndef IUCLC
#define IUCLC 0
#endif
#ifndef IMAXBEL
#define IMAXBEL 0
#endif
#ifndef IUTF8
#define IUTF8 0
#endif
#ifndef OLCUC
#define OLCUC 0
#endif
#ifndef XCASE
#define XCASE 0
#endif
#ifndef ECHOCTL
#define ECHOCTL 0
#endif
#ifndef ECHOKE
#define ECHOKE 0
#endif
#define COPY_IFLAG (IGNPAR | PARMRK | INPCK | ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXON | \
                    IXANY | IXOFF | IMAXBEL | IUTF8)
#define COPY_OFLAG (OPOST | OLCUC | ONLCR | OCRNL | ONOCR | ONLRET)
#define COPY_CFLAG (CSIZE | PARENB | PARODD)
#define COPY_LFLAG (ISIG | ICANON | XCASE | ECHO | ECHOE | ECHOK | ECHONL | NOFLSH | TOSTOP | \
                    IEXTEN | ECHOCTL | ECHOKE)

/* Each masked field takes the caller's bits and keeps its own elsewhere;
 * the bits the caller has clear are cleared too. */
static tcflag_t merge(tcflag_t own, unsigned long theirs, tcflag_t mask)
{
    return (tcflag_t)((own & ~mask) | ((tcflag_t)theirs & mask));
}

static int apply_modes(int fd, const struct sbx_tty_modes *m)
{
    struct termios t;
    size_t n = m->ncc;

    if (tcgetattr(fd, &t) < 0)
        return sbx__sys_err(errno);
    t.c_iflag = merge(t.c_iflag, m->iflag, COPY_IFLAG);
    t.c_oflag = merge(t.c_oflag, m->oflag, COPY_OFLAG);
    t.c_cflag = merge(t.c_cflag, m->cflag, COPY_CFLAG);
    t.c_lflag = merge(t.c_lflag, m->lflag, COPY_LFLAG);
    if (n > SBX_TTY_NCC)
        n = SBX_TTY_NCC;
    if (n > NCCS)
        n = NCCS;
    memcpy(t.c_cc, m->cc, n);
    /* A speed the system does not know keeps the new terminal's own; an
     * output speed of 0 would mean "hang up". */
    (void)cfsetospeed(&t, m->ospeed == B0 ? B38400 : (speed_t)m->ospeed);
    (void)cfsetispeed(&t, (speed_t)m->ispeed);
    /* TCSAFLUSH: nothing can be queued yet, but nothing typed under the
     * old modes should survive either. */
    if (tcsetattr(fd, TCSAFLUSH, &t) < 0)
        return sbx__sys_err(errno);
    return 0;
}

static int set_size(int fd, const struct sbx_tty_size *sz)
{
    struct winsize ws;

    memset(&ws, 0, sizeof(ws));
    ws.ws_row = (unsigned short)sz->rows;
    ws.ws_col = (unsigned short)sz->cols;
    if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return sbx__sys_err(errno);
    return 0;
}

/* The account the command runs as owns its terminal, group tty, mode
 * 0620, like a login terminal: the command may use it, the tty group
 * (write(1), wall) may write to it, nobody else may open it.  Root makes
 * it so or fails; an unprivileged runner keeps what it can, but never a
 * terminal others may read or write. */
static int set_owner(int fd, uid_t uid, const char **detail)
{
    struct group *g = getgrnam("tty");
    struct stat st;
    int root = geteuid() == 0;

    if (fchown(fd, uid, g != NULL ? g->gr_gid : (gid_t)-1) < 0 && root) {
        *detail = "cannot give the new terminal to the command's account";
        return sbx__sys_err(errno);
    }
    if (fchmod(fd, 0620) < 0 && root) {
        *detail = "cannot make the new terminal private";
        return sbx__sys_err(errno);
    }
    if (fstat(fd, &st) < 0)
        return sbx__sys_err(errno);
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        *detail = "the new terminal stays open to every account";
        return sbx__sys_err(EPERM);
    }
    return 0;
}

/* The follower end without a path lookup where the kernel offers it: a
 * privileged process should not trust whatever /dev/pts/N names in a mount
 * namespace it does not control. */
static int open_follower(int master)
{
    int fd;
#ifdef TIOCGPTPEER
    fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0 || (errno != EINVAL && errno != ENOTTY))
        return fd;
#endif
    {
        char name[128];
        if (ptsname_r(master, name, sizeof(name)) != 0)
            return -1;
        fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
    return fd;
}

int sbx__pty_open(const struct sbx_spawn_tty *t, const sbx_account *as, int *master_out,
                  int *follower_out, const char **detail)
{
    struct sbx_tty_size sz = t->size;
    int master = -1, follower = -1, rc;

    *master_out = *follower_out = -1;
    *detail = NULL;
    /* A controlling terminal is had only by a session leader, and the
     * command's stops are seen only by its parent in the same session. */
    if (getsid(0) != getpid()) {
        *detail = "this process does not lead its session";
        return sbx__sys_err(EPERM);
    }
    /* O_CLOEXEC where posix_openpt takes it (glibc passes it to open);
     * elsewhere it is set just below, before anything can fork. */
    if ((master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 && errno == EINVAL)
        master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) {
        *detail = "cannot open a new pseudo-terminal";
        return sbx__sys_err(errno);
    }
    if (grantpt(master) < 0 || unlockpt(master) < 0 ||
        fcntl(master, F_SETFD, FD_CLOEXEC) < 0 || fcntl(master, F_SETFL, O_NONBLOCK) < 0) {
        rc = sbx__sys_err(errno);
        *detail = "cannot set up the new pseudo-terminal";
        goto fail;
    }
    if ((follower = open_follower(master)) < 0) {
        rc = sbx__sys_err(errno);
        *detail = "cannot open the new terminal";
        goto fail;
    }
    if ((rc = set_owner(follower, as != NULL ? as->uid : geteuid(), detail)) < 0)
        goto fail;
    if (t->have_modes && (rc = apply_modes(follower, &t->modes)) < 0) {
        *detail = "cannot set the new terminal's modes";
        goto fail;
    }
    if (sz.rows == 0 || sz.cols == 0) {
        sz.rows = 24;
        sz.cols = 80;
    }
    if ((rc = set_size(follower, &sz)) < 0) {
        *detail = "cannot set the new terminal's size";
        goto fail;
    }
    /* Ours, so that it is the command's (same session) and so that we may
     * choose its foreground group.  Our own group is the foreground group
     * until we say otherwise. */
    if (ioctl(follower, TIOCSCTTY, 0) < 0) {
        rc = sbx__sys_err(errno);
        *detail = errno == EPERM ? "this session has a controlling terminal already"
                                 : "cannot make the new terminal this session's";
        goto fail;
    }
    *master_out = master;
    *follower_out = follower;
    return 0;
fail:
    if (follower >= 0)
        close(follower);
    close(master);
    return rc;
}

/* tcsetpgrp on our own terminal, which we may be in the background of (the
 * command is its foreground group while it runs): a blocked SIGTTOU lets
 * the change through instead of stopping us. */
int sbx__pty_foreground(int fd, pid_t pgrp)
{
    sigset_t ttou, old;
    int rc = 0;

    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    (void)sigprocmask(SIG_BLOCK, &ttou, &old);
    if (tcsetpgrp(fd, pgrp) < 0)
        rc = sbx__sys_err(errno);
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int sbx_proc_continue(sbx_proc *p, int foreground)
{
    int rc = 0;

    if (p->reaped || p->pid <= 0)
        return 0;
    /* The terminal first, so that the command, once continued, finds
     * itself where it should be: a background read then stops it again
     * with SIGTTIN rather than take keys. */
    if (p->tty_fd >= 0 && sbx__proc_check(p) == 0)
        rc = sbx__pty_foreground(p->tty_fd, foreground ? p->pid : getpgrp());
    /* The whole group: a stopped shell's children (an editor it started)
     * stopped with it. */
    if (kill(p->group ? -p->pid : p->pid, SIGCONT) < 0 && errno != ESRCH && rc == 0)
        rc = sbx__sys_err(errno);
    return rc;
}

int sbx_proc_resize(sbx_proc *p, const struct sbx_tty_size *sz)
{
    if (p->tty_fd < 0)
        return SBX_ENOTSUP;
    if (sz->rows < 1 || sz->rows > 65535 || sz->cols < 1 || sz->cols > 65535)
        return SBX_EINVAL;
    /* On the master: Linux applies it to the follower, and the kernel
     * sends SIGWINCH to the foreground group when the size changed. */
    return set_size(p->tty_fd, sz);
}
