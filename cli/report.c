#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "err.h"
#include "os.h"
#include "report.h"

static int add_num_or_null(cJSON *o, const char *name, int present, double v)
{
    return present ? cJSON_AddNumberToObject(o, name, v) != NULL
                   : cJSON_AddNullToObject(o, name) != NULL;
}

int report_write(const char *path, const struct report *r, const char **why)
{
    const struct session_out *o = r->out;
    int exited = o && o->result == SESSION_EXITED;
    int by_signal = exited && o->st.how == SBX_SIGNALED;
    const char *signame = by_signal ? sbx_sig_name(o->st.signal) : NULL;
    cJSON *root = cJSON_CreateObject(), *bytes = NULL, *lost = NULL;
    char *text = NULL;
    size_t len;
    int ok, rc = 0;

    ok = root != NULL && cJSON_AddStringToObject(root, "sbx_version", SBX_VERSION) &&
         cJSON_AddNumberToObject(root, "exit_status", (double)r->exit_status) &&
         cJSON_AddStringToObject(root, "result", r->result) &&
         add_num_or_null(root, "code", exited && !by_signal, exited ? (double)o->st.code : 0) &&
         add_num_or_null(root, "signal", by_signal, by_signal ? o->st.signal : 0) &&
         (signame ? cJSON_AddStringToObject(root, "signal_name", signame) != NULL
                  : cJSON_AddNullToObject(root, "signal_name") != NULL) &&
         cJSON_AddBoolToObject(root, "timed_out", exited && o->st.timed_out) &&
         cJSON_AddNumberToObject(root, "duration_ms", (double)r->duration_ms) &&
         (bytes = cJSON_AddObjectToObject(root, "bytes")) != NULL &&
         cJSON_AddNumberToObject(bytes, "stdin", o ? (double)o->bytes[0] : 0) &&
         cJSON_AddNumberToObject(bytes, "stdout", o ? (double)o->bytes[1] : 0) &&
         cJSON_AddNumberToObject(bytes, "stderr", o ? (double)o->bytes[2] : 0) &&
         /* Output that never reached sbx's stdout or stderr: always
          * present, so a reader need not tell "none" from "not known". */
         (lost = cJSON_AddObjectToObject(root, "lost")) != NULL &&
         cJSON_AddNumberToObject(lost, "stdout", o ? (double)o->lost[1] : 0) &&
         cJSON_AddNumberToObject(lost, "stderr", o ? (double)o->lost[2] : 0) &&
         add_num_or_null(root, "pid", o && o->pid > 0, o ? (double)o->pid : 0) &&
         (r->error ? cJSON_AddStringToObject(root, "error", r->error) != NULL
                   : cJSON_AddNullToObject(root, "error") != NULL);
    if (!ok || (text = cJSON_Print(root)) == NULL) {
        *why = sbx_err_str(SBX_ENOMEM);
        rc = SBX_ENOMEM;
        goto done;
    }
    /* One more byte: the closing newline replaces the terminating NUL. */
    len = strlen(text);
    text[len] = '\n';
    if ((rc = sbx_os_write_file(path, text, len + 1)) < 0)
        *why = sbx_os_error_text(sbx_os_last_error());
done:
    free(text);
    cJSON_Delete(root);
    return rc;
}
