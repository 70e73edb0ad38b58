/* rss CMD [ARGS...]: runs CMD (meant to be sbx) and reports the peak
 * resident set size of CMD itself and of its child named sbx-runner, each
 * on its own, in KiB:
 *
 *     <sbx VmHWM> <sbx-runner VmHWM> <tree ru_maxrss> <samples>
 *
 * Method: the kernel keeps each process's peak RSS as VmHWM in
 * /proc/PID/status; it only ever grows, so sampling it every 2 ms and
 * keeping the last value read misses at most what a process adds in its
 * final 2 ms.  As a check, wait4() gives ru_maxrss of CMD and all the
 * descendants it reaped (the runner, the command, the guardian): an exact
 * upper bound for both figures.  CMD gets our stdin, stdout and stderr;
 * the figures go to stderr. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* VmHWM of pid in KiB, counted only once pid runs the program called `name`
 * (until its exec, a forked child still has its parent's memory); -1 when
 * it is gone, or a zombie, which has no memory left. */
static long hwm_kib(pid_t pid, const char *name)
{
    char path[64], line[256], comm[64] = "";
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Name:", 5) == 0)
            sscanf(line + 5, "%63s", comm);
        else if (strncmp(line, "VmHWM:", 6) == 0) {
            v = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    /* The kernel's command name is at most 15 bytes. */
    return strncmp(comm, name, 15) == 0 ? v : -1;
}

/* The child of `parent` whose command name is `name`, or 0.  No
 * /proc/PID/task/TID/children on every kernel, so scan PPid fields. */
static pid_t find_child(pid_t parent, const char *name)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;

    if (d == NULL)
        return 0;
    while (found == 0 && (e = readdir(d)) != NULL) {
        char path[300], line[256], comm[64] = "";
        long ppid = -1;
        FILE *f;

        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        if ((f = fopen(path, "re")) == NULL)
            continue;
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "Name:", 5) == 0)
                sscanf(line + 5, "%63s", comm);
            else if (strncmp(line, "PPid:", 5) == 0) {
                ppid = strtol(line + 5, NULL, 10);
                break;
            }
        }
        fclose(f);
        if (ppid == parent && strcmp(comm, name) == 0)
            found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    struct timespec tick = { 0, 2000000 };
    struct rusage ru;
    long top = 0, rtop = 0, samples = 0;
    const char *name;
    pid_t pid, runner = 0;
    int st;

    if (argc < 2) {
        fprintf(stderr, "usage: rss CMD [ARGS...]\n");
        return 2;
    }
    name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    if ((pid = fork()) < 0) {
        perror("rss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    for (;;) {
        pid_t w = wait4(pid, &st, WNOHANG, &ru);
        long v;

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            perror("rss: wait4");
            return 2;
        }
        if ((v = hwm_kib(pid, name)) > top)
            top = v;
        if (runner == 0)
            runner = find_child(pid, "sbx-runner");
        if (runner > 0 && (v = hwm_kib(runner, "sbx-runner")) > rtop)
            rtop = v;
        samples++;
        nanosleep(&tick, NULL);
    }
    /* On stderr: the command's stdout is usually /dev/null here. */
    fprintf(stderr, "%ld %ld %ld %ld\n", top, rtop, ru.ru_maxrss, samples);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
