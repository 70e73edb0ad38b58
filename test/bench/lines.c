/* lines N [PAUSE_MS]: prints N short numbered lines, flushing stdout after
 * each one, as a chatty build or CI step does; every line is one write(2).
 * With PAUSE_MS it sleeps that long after the first line, so a reader can
 * tell whether that line reached it live or only with the rest. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n, pause_ms;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: lines N [PAUSE_MS]\n");
        return 2;
    }
    n = strtol(argv[1], NULL, 10);
    pause_ms = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    for (long i = 1; i <= n; i++) {
        printf("line %07ld\n", i);
        if (fflush(stdout) != 0)
            return 1;
        if (i == 1 && pause_ms > 0) {
            struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
