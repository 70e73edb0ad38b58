/* --report FILE: one JSON object describing how the run ended, for CI. */
#ifndef SBX_REPORT_H
#define SBX_REPORT_H

#include "session.h"

struct report {
    const char *result;  /* "exited", "signaled", "timed_out", "write_error",
                            "spawn_failed", "failed", "usage_error" */
    long long exit_status; /* what sbx's parent sees (sbx_os_exit_code) */
    long long duration_ms;
    const struct session_out *out; /* may be NULL when sbx failed before a run */
    const char *error;   /* sbx's own lines without "sbx: ", or NULL */
};

/* Replaces `path` with the report in one step (sbx_os_write_file: an
 * exclusively created temporary file beside it, renamed into place), so a
 * reader never sees half a report and nothing planted in the directory is
 * written through.  Returns 0, or a negative sbx error with *why the
 * reason (the OS's own text where the OS failed; static).  The caller says
 * so on stderr; the run's status is unchanged. */
int report_write(const char *path, const struct report *r, const char **why);

#endif
