/* POSIX: handles, waiting for them and for processes, and the clock. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int sbx__h_new(int fd, int owned, sbx_h **out)
{
    sbx_h *h = malloc(sizeof(*h));

    if (h == NULL) {
        if (owned)
            close(fd);
        return SBX_ENOMEM;
    }
    h->fd = fd;
    h->wfd = -1;
    h->owned = owned;
    h->eio_eof = 0;
    *out = h;
    return 0;
}

int sbx_h_std(int which, sbx_h **out)
{
    if (which < 0 || which > 2)
        return SBX_EINVAL;
    return sbx__h_new(which, 0, out);
}

void sbx_h_close(sbx_h *h)
{
    if (h == NULL)
        return;
    if (h->owned && h->fd >= 0)
        close(h->fd);
    if (h->owned && h->wfd >= 0)
        close(h->wfd);
    free(h);
}

int sbx_h_read(sbx_h *h, void *buf, size_t n, size_t *got)
{
    ssize_t r;

    *got = 0;
    r = read(h->fd, buf, n);
    if (r < 0 && errno == EIO && h->eio_eof)
        return 0;
    if (r < 0)
        return sbx__sys_err(errno);
    *got = (size_t)r;
    return 0;
}

int sbx_h_write(sbx_h *h, const void *buf, size_t n, size_t *put)
{
    ssize_t r;

    *put = 0;
    r = write(h->wfd >= 0 ? h->wfd : h->fd, buf, n);
    if (r < 0)
        return sbx__sys_err(errno);
    *put = (size_t)r;
    return 0;
}

int sbx_h_flush(sbx_h *h)
{
    (void)h; /* POSIX writes complete before write() returns */
    return 0;
}

long long sbx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sbx_wait(struct sbx_wait *w, size_t n, int timeout_ms)
{
    /* Each entry may need two descriptors (a handle that reads from one
     * and writes to another), and the self-pipe one more. */
    struct pollfd pfd[31];
    size_t map[31];
    unsigned evs[31]; /* what each descriptor can report for its entry */
    long long deadline = timeout_ms >= 0 ? sbx_now_ms() + timeout_ms : -1;

    if (n > 15)
        return SBX_EINVAL;
    for (;;) {
        size_t np = 0;
        int ready = 0, rc, wait_ms;

        if (sbx__sig_seen())
            return SBX_EINTR;
        for (size_t i = 0; i < n; i++) {
            w[i].got = 0;
            if (w[i].proc != NULL && (w[i].want & SBX_EV_EXIT)) {
                if ((rc = sbx__proc_check(w[i].proc)) < 0)
                    return rc;
                if (rc)
                    w[i].got |= SBX_EV_EXIT;
            }
            if (w[i].proc != NULL && (w[i].want & SBX_EV_STATE)) {
                if ((rc = sbx__proc_state(w[i].proc)) < 0)
                    return rc;
                if (rc)
                    w[i].got |= SBX_EV_STATE;
            }
            if (w[i].got != 0)
                ready++;
            if (w[i].h != NULL && (w[i].want & (SBX_EV_READ | SBX_EV_WRITE))) {
                unsigned want = w[i].want & (SBX_EV_READ | SBX_EV_WRITE);

                /* A handle that writes elsewhere: its write side is a
                 * descriptor of its own, and neither side's hang-up
                 * reports as the other's. */
                if (w[i].h->wfd >= 0 && (want & SBX_EV_WRITE)) {
                    pfd[np].fd = w[i].h->wfd;
                    pfd[np].events = POLLOUT;
                    pfd[np].revents = 0;
                    evs[np] = SBX_EV_WRITE;
                    map[np++] = i;
                    want &= ~(unsigned)SBX_EV_WRITE;
                }
                if (want != 0) {
                    pfd[np].fd = w[i].h->fd;
                    pfd[np].events = (short)(((want & SBX_EV_READ) ? POLLIN : 0) |
                                             ((want & SBX_EV_WRITE) ? POLLOUT : 0));
                    pfd[np].revents = 0;
                    evs[np] = want;
                    map[np++] = i;
                }
            }
        }
        if (sbx__sig_fd() >= 0) {
            pfd[np].fd = sbx__sig_fd();
            pfd[np].events = POLLIN;
            pfd[np].revents = 0;
            map[np++] = SIZE_MAX;
        }
        if (ready > 0) {
            wait_ms = 0;
        } else if (deadline < 0) {
            wait_ms = -1;
        } else {
            long long left = deadline - sbx_now_ms();
            wait_ms = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        rc = poll(pfd, np, wait_ms);
        if (rc < 0 && errno != EINTR)
            return sbx__sys_err(errno);
        for (size_t k = 0; rc > 0 && k < np; k++) {
            short re = pfd[k].revents;
            if (re == 0)
                continue;
            if (map[k] == SIZE_MAX) {
                sbx__sig_drain();
                continue;
            }
            struct sbx_wait *e = &w[map[k]];
            unsigned before = e->got;
            if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
                e->got |= evs[k] & SBX_EV_READ;
            if (re & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))
                e->got |= evs[k] & SBX_EV_WRITE;
            /* Counted once, even when its process was ready too. */
            if (before == 0 && e->got != 0)
                ready++;
        }
        if (ready > 0)
            return ready;
        if (deadline >= 0 && sbx_now_ms() >= deadline)
            return 0;
        /* Woken by a signal or the self-pipe: look at processes again. */
    }
}
