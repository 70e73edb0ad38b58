/* POSIX: local accounts, looked up before fork so the child only has to
 * apply them. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *e = malloc(n + v + 2);

    if (e != NULL) {
        memcpy(e, name, n);
        e[n] = '=';
        memcpy(e + n + 1, value, v + 1);
    }
    return e;
}

int sbx_account_lookup(const char *name, sbx_account **out)
{
    struct passwd pw, *res = NULL;
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    char *buf = NULL;
    sbx_account *a = NULL;
    const char *shell;
    int rc, e, n = 32;

    *out = NULL;
    if (size < 1024)
        size = 1024;
    for (;;) {
        char *nb = realloc(buf, (size_t)size);
        if (nb == NULL) {
            rc = SBX_ENOMEM;
            goto done;
        }
        buf = nb;
        e = getpwnam_r(name, &pw, buf, (size_t)size, &res);
        if (e != ERANGE || size > (1L << 20))
            break;
        size *= 2;
    }
    if (res == NULL) {
        rc = e == 0 || e == ENOENT || e == ESRCH ? SBX_ENOENT : sbx__sys_err(e);
        goto done;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    a->uid = pw.pw_uid;
    a->gid = pw.pw_gid;
    /* The account's groups as initgroups(3) would set them, computed here
     * because the child may not read files between fork and exec. */
    for (;;) {
        int got = n;
        gid_t *g = realloc(a->groups, (size_t)n * sizeof(*g));
        if (g == NULL) {
            rc = SBX_ENOMEM;
            goto done;
        }
        a->groups = g;
        if (getgrouplist(pw.pw_name, pw.pw_gid, a->groups, &got) >= 0) {
            a->ngroups = got;
            break;
        }
        if (got <= n || n > 65536) {
            rc = SBX_E2BIG;
            goto done;
        }
        n = got;
    }
    shell = pw.pw_shell && pw.pw_shell[0] ? pw.pw_shell : "/bin/sh";
    if ((a->env[0] = env_entry("HOME", pw.pw_dir ? pw.pw_dir : "/")) == NULL ||
        (a->env[1] = env_entry("USER", pw.pw_name)) == NULL ||
        (a->env[2] = env_entry("LOGNAME", pw.pw_name)) == NULL ||
        (a->env[3] = env_entry("SHELL", shell)) == NULL) {
        rc = SBX_ENOMEM;
        goto done;
    }
    *out = a;
    a = NULL;
    rc = 0;
done:
    sbx_account_free(a);
    free(buf);
    return rc;
}

long long sbx_account_uid(const sbx_account *a)
{
    return a->uid;
}

char *const *sbx_account_env(const sbx_account *a)
{
    return a->env;
}

void sbx_account_free(sbx_account *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < 4; i++)
        free(a->env[i]);
    free(a->groups);
    free(a);
}

void sbx_os_user_name(long long uid, char *buf, size_t cap)
{
    struct passwd pw, *res = NULL;
    char tmp[4096];

    if (getpwuid_r((uid_t)uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
        snprintf(buf, cap, "%s", pw.pw_name);
    else
        snprintf(buf, cap, "uid %lld", uid);
}
