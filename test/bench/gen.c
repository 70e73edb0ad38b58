/* gen BYTES: writes BYTES (suffix K, M or G: binary units) of pseudo-random
 * data to stdout in 128 KiB writes.  Used for the multi-GiB memory rows,
 * where a file of that size would only cost disk and page cache. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BUF (128 * 1024)

static unsigned long long parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    switch (*end) {
    case 'K': case 'k': return v << 10;
    case 'M': case 'm': return v << 20;
    case 'G': case 'g': return v << 30;
    default: return v;
    }
}

int main(int argc, char **argv)
{
    static uint64_t buf[BUF / 8];
    unsigned long long left;
    uint64_t x = 0x9e3779b97f4a7c15ull;

    if (argc != 2) {
        fprintf(stderr, "usage: gen BYTES[K|M|G]\n");
        return 2;
    }
    left = parse_size(argv[1]);
    /* xorshift64: incompressible enough that nothing on the path can take
     * a shortcut, and cheap enough not to be what is measured. */
    for (size_t i = 0; i < BUF / 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = x;
    }
    while (left > 0) {
        size_t want = left < BUF ? (size_t)left : BUF, off = 0;
        while (off < want) {
            ssize_t r = write(1, (char *)buf + off, want - off);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                perror("gen: write");
                return 1;
            }
            off += (size_t)r;
        }
        left -= want;
        buf[left / BUF % (BUF / 8)] ^= left; /* not one block repeated */
    }
    return 0;
}
