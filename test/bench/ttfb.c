/* ttfb CMD [ARGS...]: runs CMD with stdin on /dev/null and stdout on a pipe
 * that this program drains, and prints two numbers in milliseconds: from
 * just before the fork to the first byte of output, and to the end of the
 * output.  Exits with CMD's status (1 if it was killed). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    static char buf[256 * 1024];
    double t0, first = -1, end;
    int p[2], st;
    long long total = 0;
    pid_t pid;

    if (argc < 2) {
        fprintf(stderr, "usage: ttfb CMD [ARGS...]\n");
        return 2;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("ttfb: pipe");
        return 2;
    }
    t0 = now_ms();
    if ((pid = fork()) < 0) {
        perror("ttfb: fork");
        return 2;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0)
            _exit(127);
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        ssize_t r = read(p[0], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (first < 0)
            first = now_ms() - t0;
        total += r;
    }
    end = now_ms() - t0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    printf("%.3f %.3f %lld\n", first, end, total);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
