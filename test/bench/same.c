/* same FILE: reads stdin to its end and exits 0 only when it is byte for
 * byte FILE (same length, same contents); otherwise says where it differs
 * and exits 1.  Comparing against the mapped file is exact and costs far
 * less CPU than hashing, which matters with 32 streams on two cores. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF (256 * 1024)

int main(int argc, char **argv)
{
    static unsigned char buf[BUF];
    const unsigned char *want = NULL;
    unsigned long long off = 0;
    struct stat st;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: same FILE < stream\n");
        return 2;
    }
    if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        perror(argv[1]);
        return 2;
    }
    if (st.st_size > 0 &&
        (want = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        perror("same: mmap");
        return 2;
    }
    for (;;) {
        ssize_t r = read(0, buf, sizeof(buf));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("same: read");
            return 1;
        }
        if (r == 0)
            break;
        if (off + (unsigned long long)r > (unsigned long long)st.st_size) {
            fprintf(stderr, "same: more than the %lld bytes of %s\n", (long long)st.st_size,
                    argv[1]);
            return 1;
        }
        if (memcmp(buf, want + off, (size_t)r) != 0) {
            fprintf(stderr, "same: differs from %s within bytes %llu..%llu\n", argv[1], off,
                    off + (unsigned long long)r);
            return 1;
        }
        off += (unsigned long long)r;
    }
    if (off != (unsigned long long)st.st_size) {
        fprintf(stderr, "same: %llu bytes, %s has %lld\n", off, argv[1], (long long)st.st_size);
        return 1;
    }
    return 0;
}
