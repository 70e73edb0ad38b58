/* How a process ended.  The platform layer fills it in (sbx_proc_poll) and
 * acts on it (sbx_os_exit_like); the protocol carries it in the exit frame.
 * Both stand on this header, so the platform needs nothing of the codec. */
#ifndef SBX_STATUS_H
#define SBX_STATUS_H

enum sbx_exit_how { SBX_EXITED = 0, SBX_SIGNALED = 1 };

struct sbx_exit {
    int how;
    long long code; /* SBX_EXITED: 0..255 on POSIX, 0..0xffffffff on Windows */
    int signal;     /* SBX_SIGNALED */
    int core;       /* SBX_SIGNALED: a core was dumped */
    int timed_out;  /* the runner ended it at the request's timeout */
};

#endif
