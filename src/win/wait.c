/* sbx_wait: one wait over processes, handles and the console control
 * event, and the clock its deadlines use. */
#include "internal.h"

long long sbx_now_ms(void)
{
    return (long long)GetTickCount64();
}

int sbx_wait(struct sbx_wait *w, size_t n, int timeout_ms)
{
    HANDLE hs[MAXIMUM_WAIT_OBJECTS];
    long long deadline = timeout_ms >= 0 ? sbx_now_ms() + timeout_ms : -1;

    for (;;) {
        DWORD nh = 0, ms, r;
        int ready = 0, rc;

        if (win_sig_any)
            return SBX_EINTR;
        for (size_t i = 0; i < n; i++) {
            struct sbx_wait *e = &w[i];
            e->got = 0;
            if (e->proc != NULL && (e->want & SBX_EV_EXIT)) {
                if (win_proc_check(e->proc))
                    e->got |= SBX_EV_EXIT;
                else
                    hs[nh++] = e->proc->process;
            }
            if (e->h != NULL && (e->want & SBX_EV_READ)) {
                if (win_h_read_ready(e->h))
                    e->got |= SBX_EV_READ;
                else
                    hs[nh++] = e->h->kind == H_SYNC ? e->h->ready : e->h->ro.hEvent;
            }
            if (e->h != NULL && (e->want & SBX_EV_WRITE)) {
                if (win_h_write_done(e->h, &rc))
                    e->got |= SBX_EV_WRITE;
                else
                    hs[nh++] = e->h->wo.hEvent;
            }
            if (e->got)
                ready++;
            if (nh > MAXIMUM_WAIT_OBJECTS - 4)
                return SBX_EINVAL;
        }
        if (ready > 0)
            return ready;
        if (win_sig_event != NULL)
            hs[nh++] = win_sig_event;
        if (deadline < 0) {
            ms = INFINITE;
        } else {
            long long left = deadline - sbx_now_ms();
            if (left <= 0)
                return 0;
            ms = (DWORD)left;
        }
        if (nh == 0) {
            Sleep(ms == INFINITE ? 1000 : ms);
            continue;
        }
        r = WaitForMultipleObjects(nh, hs, FALSE, ms);
        if (r == WAIT_FAILED)
            return win_last_err();
        if (r == WAIT_TIMEOUT && deadline >= 0 && sbx_now_ms() >= deadline)
            return 0;
    }
}
