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

int report_write(const char *path, const struct report *r)
{
    const struct session_out *o = r->out;
    int exited = o && o->result == SESSION_EXITED;
    int by_signal = exited && o->st.how == SBX_SIGNALED;
    const char *signame = by_signal ? sbx_sig_name(o->st.signal) : NULL;
    cJSON *root = cJSON_CreateObject(), *bytes = NULL;
    char *text = NULL, *tmp = NULL;
    FILE *f = NULL;
    int ok, rc = 0;

    ok = root != NULL && cJSON_AddStringToObject(root, "sbx_version", SBX_VERSION) &&
         cJSON_AddNumberToObject(root, "exit_status", r->exit_status) &&
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
         add_num_or_null(root, "pid", o && o->pid > 0, o ? (double)o->pid : 0) &&
         (r->error ? cJSON_AddStringToObject(root, "error", r->error) != NULL
                   : cJSON_AddNullToObject(root, "error") != NULL);
    if (!ok || (text = cJSON_Print(root)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    if ((tmp = malloc(strlen(path) + 32)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    sprintf(tmp, "%s.tmp.%lld", path, sbx_os_pid());
    if ((f = fopen(tmp, "wb")) == NULL) {
        rc = SBX_EACCES;
        goto done;
    }
    if (fputs(text, f) == EOF || fputc('\n', f) == EOF || fflush(f) == EOF) {
        rc = SBX_EIO;
        goto done;
    }
    if (fclose(f) == EOF) {
        f = NULL;
        rc = SBX_EIO;
        goto done;
    }
    f = NULL;
    rc = sbx_os_replace_file(tmp, path);
done:
    if (f != NULL)
        fclose(f);
    if (rc < 0 && tmp != NULL)
        remove(tmp);
    free(tmp);
    free(text);
    cJSON_Delete(root);
    return rc;
}
