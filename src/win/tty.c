/* Windows: the terminal and job-control calls of src/os.h.  sbx gives a
 * command no terminal of its own here (a pseudo console does not carry
 * output under Wine, see docs/windows.md), so there is no caller's terminal
 * to put in raw mode, no session to lead and no stop to see: sbx runs in
 * pipe mode, which these answers make it choose. */
#include "internal.h"

int sbx_tty_open(sbx_tty **t, unsigned *streams)
{
    *t = NULL;
    *streams = 0;
    return SBX_ENOENT;
}

void sbx_tty_close(sbx_tty *t)
{
    (void)t;
}

sbx_h *sbx_tty_handle(sbx_tty *t)
{
    (void)t;
    return NULL;
}

int sbx_tty_get(sbx_tty *t, struct sbx_tty_modes *m, struct sbx_tty_size *sz)
{
    (void)t;
    (void)m;
    (void)sz;
    return SBX_ENOTSUP;
}

int sbx_tty_foreground(sbx_tty *t)
{
    (void)t;
    return 0;
}

int sbx_tty_raw(sbx_tty *t)
{
    (void)t;
    return SBX_ENOTSUP;
}

int sbx_tty_restore(sbx_tty *t)
{
    (void)t;
    return 0;
}

int sbx_os_stop_self(int sig)
{
    (void)sig;
    return SBX_ENOTSUP;
}

int sbx_os_lead_session(void)
{
    return 0;
}

int sbx_proc_stopped(sbx_proc *p, int *sig)
{
    (void)p;
    *sig = 0;
    return 0;
}

int sbx_proc_continue(sbx_proc *p, int foreground)
{
    (void)p;
    (void)foreground;
    return SBX_ENOTSUP;
}

int sbx_proc_resize(sbx_proc *p, const struct sbx_tty_size *sz)
{
    (void)p;
    (void)sz;
    return SBX_ENOTSUP;
}
