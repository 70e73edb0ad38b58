/* --report FILE: one JSON object describing how the run ended, for CI. */
#ifndef SBX_REPORT_H
#define SBX_REPORT_H

#include "session.h"

struct report {
    const char *result;  /* "exited", "signaled", "timed_out", "spawn_failed", "failed" */
    int exit_status;     /* sbx's own exit status */
    long long duration_ms;
    const struct session_out *out; /* may be NULL when sbx failed before a run */
    const char *error;   /* the sbx: message, or NULL */
};

/* Writes the report to a temporary file beside `path` and renames it into
 * place, so a reader never sees half a report.  Returns 0, or a negative
 * sbx error (the caller says so on stderr; the run's status is unchanged). */
int report_write(const char *path, const struct report *r);

#endif
