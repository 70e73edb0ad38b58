/* POSIX: the runner's secret and audit line, and facts about this process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "internal.h"

extern char **environ;

int sbx_secret_offer(const void *data, size_t n, sbx_h **keep, char *arg, size_t cap)
{
    (void)data;
    (void)n;
    (void)arg;
    (void)cap;
    *keep = NULL;
    return SBX_ENOTSUP;
}

int sbx_secret_take(long long pid, const char *arg, sbx_h **out)
{
    (void)pid;
    (void)arg;
    *out = NULL;
    return SBX_ENOTSUP;
}

void sbx_os_audit(const char *line)
{
    openlog("sbx-runner", LOG_PID, LOG_AUTHPRIV);
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
    closelog();
}

/* ---- this process ---- */

int sbx_os_args(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int sbx_os_abspath(const char *path, char **out)
{
    char *here = NULL, *p;
    int rc;

    if (path[0] == '/') {
        if ((*out = strdup(path)) == NULL)
            return SBX_ENOMEM;
        return 0;
    }
    if ((rc = sbx_os_getcwd(&here)) < 0)
        return rc;
    if ((p = malloc(strlen(here) + strlen(path) + 2)) == NULL) {
        free(here);
        return SBX_ENOMEM;
    }
    sprintf(p, "%s/%s", here, path);
    free(here);
    *out = p;
    return 0;
}

const char *sbx_os_exe_suffix(void)
{
    return "";
}

int sbx_os_env_name_cmp(const char *a, const char *b, size_t n)
{
    return strncmp(a, b, n);
}

int sbx_os_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sbx__sys_err(errno);
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int sbx_os_self_dir(char **dir)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    char *slash;

    if (n < 0)
        return sbx__sys_err(errno);
    if ((size_t)n >= sizeof(buf) - 1)
        return SBX_ENAMETOOLONG;
    buf[n] = '\0';
    if ((slash = strrchr(buf, '/')) == NULL)
        return SBX_EINVAL;
    *slash = '\0';
    if ((*dir = strdup(buf[0] ? buf : "/")) == NULL)
        return SBX_ENOMEM;
    return 0;
}

int sbx_os_getcwd(char **cwd)
{
    char *p = getcwd(NULL, 0);

    if (p == NULL)
        return sbx__sys_err(errno);
    *cwd = p;
    return 0;
}

char **sbx_os_environ(void)
{
    return environ;
}

long long sbx_os_pid(void)
{
    return getpid();
}

long long sbx_os_uid(void)
{
    return geteuid();
}

int sbx_os_privileged(void)
{
    return geteuid() == 0;
}

const char *sbx_os_launcher(void)
{
    return "sudo";
}

int sbx_os_executable(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int sbx_os_std_to_null(int which)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return sbx__sys_err(errno);
    if (fd != which) {
        if (dup2(fd, which) < 0)
            rc = sbx__sys_err(errno);
        close(fd);
    } else if (fcntl(fd, F_SETFD, 0) < 0) {
        rc = sbx__sys_err(errno);
    }
    return rc;
}

int sbx_os_sanitize_fds(void)
{
    DIR *d;
    struct dirent *de;
    int rc;

    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0 && errno == EBADF && (rc = sbx_os_std_to_null(i)) < 0)
            return rc;
    /* /proc/self/fd lists exactly what is open; fall back to a bounded scan
     * where it is not mounted. */
    if ((d = opendir("/proc/self/fd")) != NULL) {
        int self = dirfd(d);
        while ((de = readdir(d)) != NULL) {
            char *end;
            long fd = strtol(de->d_name, &end, 10);
            if (*end == '\0' && end != de->d_name && fd > 2 && fd != self)
                close((int)fd);
        }
        closedir(d);
        return 0;
    }
    for (int fd = 3; fd < 4096; fd++)
        close(fd);
    return 0;
}

int sbx_os_die_with_parent(long long ppid)
{
#ifdef __linux__
    if ((long long)getppid() != ppid)
        return 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return sbx__sys_err(errno);
    /* The parent may have died before the request took effect. */
    if ((long long)getppid() != ppid)
        return SBX_EPIPE;
#else
    (void)ppid;
#endif
    return 0;
}

int sbx_os_replace_file(const char *tmp, const char *path)
{
    if (rename(tmp, path) < 0)
        return sbx__sys_err(errno);
    return 0;
}

void sbx_os_exit_like(const struct sbx_exit *st)
{
    /* The caller's terminal back first, if sbx left it raw: whatever the
     * status, the shell gets its terminal as it was. */
    sbx__tty_exit_restore();
    if (st->how == SBX_SIGNALED) {
        struct sigaction sa;
        struct rlimit rl = { 0, 0 };
        sigset_t set;
        int sig = st->signal;

        /* The child's death by signal N must look the same to our parent:
         * die by N ourselves, without leaving a core file of sbx. */
        (void)setrlimit(RLIMIT_CORE, &rl);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        if (sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &sa, NULL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
        fflush(NULL);
        /* Stop signals would only suspend us; they and anything that does
         * not kill fall through to the 128+N convention. */
        if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
            raise(sig);
        _exit(128 + (sig & 0x7f));
    }
    fflush(NULL);
    exit((int)(st->code & 0xff));
}
