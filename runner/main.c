/* sbx-runner: started by sbx (directly, or across a privilege boundary),
 * connects back over the channel, proves itself with the nonce sbx gave it,
 * runs exactly one command for it and streams the result.
 *
 *   sbx-runner --server-pid PID [--secret-from HANDLE]
 *
 * sbx hands over two lines, the nonce and the channel's name.  POSIX: on
 * the runner's stdin, which is the channel itself (one end of a socket
 * pair sbx made), and the name says so (SBX_CHAN_STDIN).  Windows: in a
 * pipe the runner takes out of sbx (--secret-from), naming a pipe to
 * connect to.  Neither is ever in argv, which any local user can read.
 * It is not meant to be run by hand.  Exit status: 0 when the exit frame was
 * delivered, 1 otherwise.
 *
 * The user hears of a failure once, from sbx.  Before the channel exists
 * the runner says why on its stderr in one line, which sbx, when it started
 * the runner itself, reads and makes part of its own.  Once connected, it
 * tells sbx in an error frame and writes nothing; when sbx is the one that
 * closed the channel, sbx has said why already, and the runner just exits.
 * Nothing it says names the channel: its path is half of the secret.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "err.h"
#include "frame.h"
#include "os.h"
#include "proto.h"
#include "protocol.h"
#include "runner.h"

#define AUDIT_MAX 2048

static void die(const char *fmt, ...) SBX_PRINTF(1, 2) __attribute__((noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "sbx-runner: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Reads what sbx handed over: the nonce (64 lowercase hex digits) and the
 * channel's name, each ending in a newline. */
static int read_secret(sbx_h *in, char nonce[SBX_NONCE_HEX + 1], char **name)
{
    long long deadline = sbx_now_ms() + SBX_HANDSHAKE_MS;
    size_t cap = SBX_NONCE_HEX + 1 + SBX_CHAN_NAME_MAX + 1, have = 0;
    char *buf = malloc(cap + 1), *nl;
    int rc = 0, lines = 0;

    if (buf == NULL)
        return SBX_ENOMEM;
    while (lines < 2) {
        struct sbx_wait w = { in, NULL, SBX_EV_READ, 0 };
        long long left = deadline - sbx_now_ms();
        size_t got;

        if (have == cap || left <= 0) {
            rc = have == cap ? SBX_E2BIG : SBX_ETIMEDOUT;
            break;
        }
        if ((rc = sbx_wait(&w, 1, (int)left)) < 0)
            break;
        if (rc == 0)
            continue;
        rc = sbx_h_read(in, buf + have, cap - have, &got);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        if (got == 0) {
            rc = SBX_EPROTO;
            break;
        }
        for (size_t i = have; i < have + got; i++)
            if (buf[i] == '\n' && ++lines == 2 && i + 1 != have + got)
                rc = SBX_EPROTO; /* nothing may follow the two lines */
        have += got;
        if (rc < 0)
            break;
    }
    sbx_h_close(in);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[have] = '\0';
    nl = strchr(buf, '\n');
    if (nl - buf != SBX_NONCE_HEX || nl[1] == '\n') {
        free(buf);
        return SBX_EPROTO;
    }
    for (size_t i = 0; i < SBX_NONCE_HEX; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))) {
            free(buf);
            return SBX_EPROTO;
        }
    memcpy(nonce, buf, SBX_NONCE_HEX);
    nonce[SBX_NONCE_HEX] = '\0';
    buf[have - 1] = '\0';
    memmove(buf, nl + 1, strlen(nl + 1) + 1);
    *name = buf;
    return 0;
}

/* Appends s to the audit line, quoted, with anything unprintable escaped,
 * so that a crafted argument can neither forge a second log line nor drive
 * the terminal of whoever reads the log: '"' and '\\' get a backslash; the
 * C0 controls, DEL, the C1 controls (U+0080..U+009F, which some terminals
 * obey like ESC [) and every byte that is not part of valid UTF-8 become
 * \xNN, lowercase; other UTF-8 text is kept as it is. */
static void audit_quote(char *line, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    if (*n + 1 < AUDIT_MAX)
        line[(*n)++] = '"';
    while (*s && *n + 5 < AUDIT_MAX) {
        unsigned char c = (unsigned char)*s;
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

        if (c >= 0x80 && strnlen(s, len) == len && sbx_utf8_valid(s, len) &&
            !(c == 0xc2 && (unsigned char)s[1] < 0xa0)) {
            if (*n + len + 1 >= AUDIT_MAX)
                break;
            memcpy(line + *n, s, len);
            *n += len;
            s += len;
            continue;
        }
        if (c == '"' || c == '\\') {
            line[(*n)++] = '\\';
            line[(*n)++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            line[(*n)++] = '\\';
            line[(*n)++] = 'x';
            line[(*n)++] = hex[c >> 4];
            line[(*n)++] = hex[c & 15];
        } else {
            line[(*n)++] = (char)c;
        }
        s++;
    }
    if (*n + 1 < AUDIT_MAX)
        line[(*n)++] = '"';
    line[*n] = '\0';
}

static void audit_add(char *line, size_t *n, const char *fmt, ...) SBX_PRINTF(3, 4);

/* Appends to the audit line, truncating at its cap. */
static void audit_add(char *line, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (*n + 1 >= AUDIT_MAX)
        return;
    va_start(ap, fmt);
    r = vsnprintf(line + *n, AUDIT_MAX - *n, fmt, ap);
    va_end(ap);
    if (r > 0)
        *n = *n + (size_t)r >= AUDIT_MAX ? AUDIT_MAX - 1 : *n + (size_t)r;
}

/* The run's audit line: who asked, as whom, what, where, and how it ended. */
static void audit(long long server_uid, long long server_pid, const char *as, char *const *argv,
                  const char *cwd, const char *result)
{
    char line[AUDIT_MAX], who[256];
    size_t n;

    sbx_os_user_name(server_uid, who, sizeof(who));
    n = 0;
    audit_add(line, &n, "user=");
    audit_quote(line, &n, who);
    audit_add(line, &n, " uid=%lld sbx_pid=%lld as=", server_uid, server_pid);
    audit_quote(line, &n, as);
    audit_add(line, &n, " result=%s cwd=", result);
    /* No directory in the request: the runner's own, which it inherited
     * and cannot name (sbx's was removed).  Unquoted, so no directory
     * named "?" reads the same. */
    if (cwd != NULL)
        audit_quote(line, &n, cwd);
    else
        audit_add(line, &n, "?");
    audit_add(line, &n, " argv=");
    for (size_t i = 0; argv[i] != NULL && n + 2 < sizeof(line); i++) {
        if (i > 0)
            line[n++] = ' ';
        audit_quote(line, &n, argv[i]);
    }
    sbx_os_audit(line);
}

/* `env` with TERM=<term> added when it has no TERM (malloc'd array and
 * string, in *out and *keep; *out stays NULL when nothing is added). */
static int add_term(char *const *env, const char *term, char ***out, char **keep)
{
    size_t n = 0;

    *out = NULL;
    *keep = NULL;
    if (term == NULL)
        return 0;
    for (; env[n] != NULL; n++)
        if (sbx_os_env_name_cmp(env[n], "TERM", 4) == 0 && env[n][4] == '=')
            return 0;
    if ((*out = calloc(n + 2, sizeof(**out))) == NULL ||
        (*keep = malloc(strlen(term) + 6)) == NULL) {
        free(*out);
        *out = NULL;
        return SBX_ENOMEM;
    }
    snprintf(*keep, strlen(term) + 6, "TERM=%s", term);
    memcpy(*out, env, n * sizeof(**out));
    (*out)[n] = *keep;
    (*out)[n + 1] = NULL;
    return 0;
}

/* The command's environment as the request has it, with the identity
 * variables of the account it runs as (malloc'd array, borrowed strings). */
static char **account_env(char *const *env, char *const *ident)
{
    size_t n = 0, k = 0, m = 0;
    char **out;

    while (env[n] != NULL)
        n++;
    while (ident[m] != NULL)
        m++;
    if ((out = calloc(n + m + 1, sizeof(*out))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int keep = 1;
        for (size_t j = 0; j < m && keep; j++) {
            size_t len = (size_t)(strchr(ident[j], '=') - ident[j]);
            if (sbx_os_env_name_cmp(env[i], ident[j], len) == 0 && env[i][len] == '=')
                keep = 0;
        }
        if (keep)
            out[k++] = env[i];
    }
    for (size_t j = 0; j < m; j++)
        out[k++] = ident[j];
    out[k] = NULL;
    return out;
}

/* Tells sbx why the session ends, best effort, then exits.  sbx turns the
 * message into its own one line, so nothing goes to stderr. */
static void fail_to_peer(sbx_conn *c, const char *msg)
{
    struct sbx_error_msg m = { (char *)msg };
    char *json = NULL;
    size_t len = 0;
    int rc = sbx_error_encode(&m, &json, &len);

    if (sbx_conn_put_json(c, SBX_F_ERROR, json, len, rc) == 0)
        (void)sbx_conn_flush_wait(c, sbx_now_ms() + 2000);
    sbx_conn_free(c);
    exit(1);
}

/* The secret came on stdin, but neither stdin nor stdout is sbx's end of
 * the pair, and stdout is a pipe: a launcher relays both (sudo with
 * log_input and log_output).  Whatever sbx reads would then be written by
 * the launcher, so sbx could not tell who is at this end; the run cannot
 * go on.  The reason goes in an error frame on stdout, which the launcher
 * relays to sbx, and not to stderr, which it relays to the user: sbx
 * refuses that writer in a line of its own, the only one.  No hello: the
 * nonce goes nowhere but the pair.  Only when the frame cannot be written
 * does the reason go to stderr. */
static void relayed_both(void)
{
    char msg[384];
    sbx_h *out = NULL;
    sbx_conn *c = NULL;
    struct sbx_error_msg m = { msg };
    char *json = NULL;
    size_t len = 0;
    int rc;

    snprintf(msg, sizeof(msg),
             "neither stdin nor stdout is sbx's channel: the launcher relays both (sudo's "
             "log_input and log_output together?), and then sbx cannot tell who writes to "
             "it; use one of the two, not both");
    if (sbx_h_std(1, &out) == 0 && sbx_conn_new(out, &c) == 0) {
        rc = sbx_error_encode(&m, &json, &len);
        if (sbx_conn_put_json(c, SBX_F_ERROR, json, len, rc) == 0 &&
            sbx_conn_flush_wait(c, sbx_now_ms() + 2000) == 0) {
            sbx_conn_free(c);
            exit(1);
        }
    }
    sbx_conn_free(c);
    die("%s", msg);
}

/* The next handshake frame; a channel sbx has closed ends the runner
 * quietly, since sbx closes it only after a failure of its own that it has
 * reported already. */
static void handshake_frame(sbx_conn *c, sbx_frame *f, long long deadline, const char *what)
{
    int rc;

    do
        rc = sbx_conn_next_wait(c, f, deadline);
    while (rc == SBX_EINTR);
    if (rc == SBX_EPIPE) {
        sbx_conn_free(c);
        exit(1);
    }
    if (rc < 0)
        fail_to_peer(c, what);
}

static int send_spawn_result(sbx_conn *c, sbx_proc *child, const struct sbx_spawn_fail *sf)
{
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (child != NULL) {
        struct sbx_spawned m = { sbx_proc_pid(child) };
        rc = sbx_spawned_encode(&m, &json, &len);
        return sbx_conn_put_json(c, SBX_F_SPAWNED, json, len, rc);
    } else {
        struct sbx_spawn_error m;
        m.stage = (char *)sf->stage;
        m.err = sf->err;
        m.os_code = sf->os_code;
        m.message = (char *)(sf->detail ? sf->detail : sbx_os_error_text(sf->os_code));
        rc = sbx_spawn_error_encode(&m, &json, &len);
        return sbx_conn_put_json(c, SBX_F_SPAWN_ERROR, json, len, rc);
    }
}

/* Works out how to run the command as req->user: *as is the account to
 * switch to in the child (NULL: already running as it) and *env gets its
 * identity variables.  A failure goes back to sbx as a spawn error. */
static int prepare_user(const struct sbx_spawn_req *req, sbx_account **acct, char ***env,
                        struct sbx_spawn_fail *sf, char *msg, size_t cap)
{
    int rc;

    memset(sf, 0, sizeof(*sf));
    sf->stage = "user";
    sf->detail = msg;
    if ((rc = sbx_account_lookup(req->user, acct)) < 0) {
        sf->err = rc;
        if (rc == SBX_ENOENT)
            snprintf(msg, cap, "no account named '%s'", req->user);
        else
            snprintf(msg, cap, "cannot look up account '%s': %s", req->user,
                     rc == SBX_ENOTSUP ? "not supported on this platform" : sbx_err_str(rc));
        return rc;
    }
    if (sbx_account_uid(*acct) != sbx_os_uid() && !sbx_os_privileged()) {
        sf->err = SBX_EPERM;
        snprintf(msg, cap, "the runner runs as uid %lld and cannot switch to '%s'",
                 sbx_os_uid(), req->user);
        return SBX_EPERM;
    }
    if ((*env = account_env(req->env, sbx_account_env(*acct))) == NULL) {
        sf->err = SBX_ENOMEM;
        snprintf(msg, cap, "out of memory");
        return SBX_ENOMEM;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *server_pid_arg = NULL, *secret_from = NULL;
    char nonce[SBX_NONCE_HEX + 1], why[SBX_WHY] = "", umsg[SBX_WHY], as[300], result[64];
    char *name = NULL, **env = NULL, **tenv = NULL, *term_var = NULL;
    struct sbx_hello hello;
    struct sbx_spawn_req req;
    struct sbx_spawn_opts so;
    struct sbx_spawn_tty tty;
    struct runner_io io;
    struct sbx_spawn_fail sf;
    struct sbx_peer server;
    struct sbx_exit st;
    struct sbx_rules rules;
    sbx_account *acct = NULL;
    sbx_proc *child = NULL;
    sbx_h *ch = NULL, *secret = NULL;
    sbx_conn *c = NULL;
    sbx_frame f;
    long long deadline, server_pid;
    char *json = NULL, *end;
    size_t len = 0;
    int rc, crossing;

    if (sbx_os_args(&argc, &argv) < 0)
        die("cannot read the command line");
    /* First, before anything can be inherited by the command: only 0-2. */
    if (sbx_os_sanitize_fds() < 0)
        die("cannot set up standard descriptors");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--server-pid") == 0)
            server_pid_arg = argv[i + 1];
        else if (strcmp(argv[i], "--secret-from") == 0)
            secret_from = argv[i + 1];
        else
            die("unknown argument '%s'", argv[i]);
    }
    if (server_pid_arg == NULL || argc % 2 != 1)
        die("usage: sbx-runner --server-pid PID [--secret-from HANDLE] (started by sbx)");
    server_pid = strtoll(server_pid_arg, &end, 10);
    if (*end != '\0' || server_pid <= 0)
        die("--server-pid wants a process id, not '%s'", server_pid_arg);
    /* Signals for the command are sbx's to forward, as frames: the
     * terminal's, and whatever a launcher relays from the caller, are
     * ignored from the start, in the stand-in below too.  The runner ends
     * when the channel closes, having ended the command and written the
     * audit line, or by SIGKILL. */
    if ((rc = sbx_sig_ignore_console()) < 0)
        die("cannot install signal handlers: %s", sbx_err_str(rc));
    /* A session of our own, without a controlling terminal: the command's
     * terminal becomes ours to give it, and its stops are ours to see.
     * Started by sbx directly we lead one already; under sudo this may
     * fork, before anything else is set up. */
    if ((rc = sbx_os_lead_session()) < 0)
        die("cannot start a session of its own: %s", sbx_os_error_text(sbx_os_last_error()));
    if ((rc = sbx_sig_init(NULL)) < 0)
        die("cannot install signal handlers: %s", sbx_err_str(rc));
    /* Not tied to sbx's life (no death signal), however it was started:
     * should sbx die, even by SIGKILL, its end of the channel (or of the
     * secret's pipe) closes, and the runner ends on that, after ending the
     * command and writing the audit line. */
    if (secret_from != NULL)
        rc = sbx_secret_take(server_pid, secret_from, &secret);
    else
        rc = sbx_h_std(0, &secret);
    if (rc < 0)
        die("cannot open the handle sbx passed: %s", sbx_err_str(rc));
    if ((rc = read_secret(secret, nonce, &name)) < 0)
        die("no valid nonce and channel name from sbx: %s", sbx_err_str(rc));
    if (secret_from == NULL && strcmp(name, SBX_CHAN_STDIN) == 0) {
        /* The stream the two lines came on is the channel itself (POSIX:
         * sbx's socket pair, passed on by any launcher): taken off stdin,
         * which becomes the null device.  A launcher that relays stdin
         * through a pipe of its own (sudo's log_input) passes on stdout,
         * which sbx made the same end: then the channel is read from the
         * one and written to the other. */
        if ((rc = sbx_chan_from_stdin(&ch, &server)) == SBX_ENOENT)
            rc = sbx_chan_from_relay(&ch, &server);
        if (rc == SBX_EPEER)
            relayed_both();
        if (rc < 0)
            die("standard input is not sbx's channel: %s",
                rc == SBX_ENOTSUP ? "not supported on this platform"
                                  : sbx_os_error_text(sbx_os_last_error()));
    } else {
        if ((rc = sbx_os_std_to_null(0)) < 0)
            die("cannot reopen standard input: %s", sbx_err_str(rc));
        if ((rc = sbx_chan_connect(name, &ch, &server)) < 0)
            die("cannot connect to sbx's channel: %s",
                rc == SBX_ENOTSUP ? "this platform's runner takes the channel on its "
                                    "standard input only (sbx and sbx-runner of different builds?)"
                                  : sbx_os_error_text(sbx_os_last_error()));
    }
    free(name);
    if (sbx_conn_new(ch, &c) < 0)
        die("out of memory");
    /* Only the sbx that started us may drive us. */
    if (server.pid >= 0 && server.pid != server_pid)
        fail_to_peer(c, "channel server is not the sbx that started this runner");

    memset(&hello, 0, sizeof(hello));
    hello.version = SBX_PROTO_VERSION;
    memcpy(hello.nonce, nonce, sizeof(nonce));
    hello.pid = sbx_os_pid();
    rc = sbx_hello_encode(&hello, &json, &len);
    if ((rc = sbx_conn_put_json(c, SBX_F_HELLO, json, len, rc)) < 0)
        fail_to_peer(c, "out of memory");

    sbx_rules_init(&rules, SBX_AT_RUNNER);
    deadline = sbx_now_ms() + SBX_HANDSHAKE_MS;
    handshake_frame(c, &f, deadline, "expected a hello frame from sbx");
    if (sbx_rules_check(&rules, f.type, why) < 0)
        fail_to_peer(c, why);
    if (sbx_hello_decode(f.payload, f.len, &hello, why) < 0)
        fail_to_peer(c, why);
    /* A version mismatch is sbx_hello_check's first answer. */
    if (sbx_hello_check(&hello, nonce, why) < 0)
        fail_to_peer(c, why);

    /* A request larger than a frame comes in parts before its spawn frame
     * (docs/protocol.md, "spawn part"): gathered within SBX_SPAWN_MAX, all
     * before the same deadline.  The usual one-frame request is decoded
     * where it lies. */
    struct sbx_spawn_text text = { NULL, 0, 0 };
    for (;;) {
        handshake_frame(c, &f, deadline, "expected a spawn frame from sbx");
        if (sbx_rules_check(&rules, f.type, why) < 0)
            fail_to_peer(c, why);
        if (f.type == SBX_F_SPAWN && text.len == 0)
            break;
        if ((rc = sbx_spawn_text_add(&text, f.payload, f.len, why)) < 0)
            fail_to_peer(c, rc == SBX_ENOMEM ? "out of memory" : why);
        if (f.type == SBX_F_SPAWN)
            break;
    }
    if (text.len == 0)
        rc = sbx_spawn_req_decode(f.payload, f.len, &req, why);
    else
        rc = sbx_spawn_req_decode(text.buf, text.len, &req, why);
    sbx_spawn_text_free(&text);
    if (rc < 0)
        fail_to_peer(c, rc == SBX_ENOMEM ? "out of memory" : why);

    /* Without a terminal, frames of the terminal stream are an error. */
    if (!req.tty.present)
        sbx_rules_no_tty(&rules);

    memset(&so, 0, sizeof(so));
    so.file = req.argv[0];
    so.argv = req.argv;
    so.env = req.env;
    so.cwd = req.cwd;
    so.search_path = 1;
    /* Its own process group in our session: with a terminal, the group
     * the terminal's job control acts on; without, a session with no
     * terminal, where /dev/tty fails at once instead of stopping it. */
    so.new_group = 1;
    so.job = 1;
    /* Streams on the terminal get no pipe: their kind is not looked at.
     * When sbx's stdout and stderr are one file (2>&1), the command's are
     * one pipe, so that the order of what it writes to the two is its own
     * (the decoder refused the request if either were the terminal). */
    so.stdio[0].kind = so.stdio[1].kind = SBX_STDIO_PIPE;
    so.stdio[2].kind = req.merge_stderr ? SBX_STDIO_STDOUT : SBX_STDIO_PIPE;
    if (req.tty.present) {
        memset(&tty, 0, sizeof(tty));
        tty.streams = req.tty.streams;
        tty.foreground = req.tty.foreground;
        tty.have_modes = req.tty.have_modes;
        tty.modes = req.tty.modes;
        tty.size = req.tty.size;
        so.tty = &tty;
    }
    if (req.user != NULL) {
        snprintf(as, sizeof(as), "%s", req.user);
        rc = prepare_user(&req, &acct, &env, &sf, umsg, sizeof(umsg));
        if (rc == 0) {
            so.env = env;
            if (sbx_account_uid(acct) != sbx_os_uid())
                so.as = acct;
        }
    } else {
        sbx_os_user_name(sbx_os_uid(), as, sizeof(as));
        rc = 0;
    }
    /* A terminal's programs look at TERM; the caller's says what the
     * terminal understands, unless the request's environment says. */
    if (rc == 0 && req.tty.present) {
        if (add_term(so.env, req.tty.term, &tenv, &term_var) < 0) {
            memset(&sf, 0, sizeof(sf));
            sf.stage = "setup";
            sf.err = rc = SBX_ENOMEM;
            sf.detail = "out of memory";
        } else if (tenv != NULL) {
            so.env = tenv;
        }
    }
    /* Runs that cross a boundary leave an audit line; a same-user run does
     * not, as it could have run the command itself. */
    crossing = sbx_os_privileged() || so.as != NULL || server.uid != sbx_os_uid();
    if (rc == 0)
        rc = sbx_proc_spawn(&so, &child, &sf);
    if (child == NULL && crossing) {
        snprintf(result, sizeof(result), "not-started:%s", sf.stage ? sf.stage : "setup");
        audit(server.uid, server_pid, as, req.argv, req.cwd, result);
    }
    if (send_spawn_result(c, child, &sf) < 0)
        fail_to_peer(c, "out of memory");
    if (child == NULL) {
        (void)sbx_conn_flush_wait(c, sbx_now_ms() + SBX_HANDSHAKE_MS);
        rc = 0;
        goto done;
    }
    memset(&io, 0, sizeof(io));
    io.in = so.stdio[0].h;
    io.out = so.stdio[1].h;
    io.err = so.stdio[2].h;
    io.master = so.tty_master;
    io.foreground = req.tty.present && req.tty.foreground;
    io.timeout_ms = req.timeout_ms;
    io.kill_after_ms = req.kill_after_ms;
    rc = runner_pump(c, &rules, child, &io, why);
    if (crossing) {
        /* Also when the run was cut short, since the pump has ended the
         * command by then: its fate, after what cut it short -- sbx gone
         * (the channel closed under us: sbx killed, or crashed), or a
         * failure of the session itself (a protocol error). */
        const char *cut = rc == SBX_EPIPE ? "sbx-gone:" : rc < 0 ? "aborted:" : "";
        if (sbx_proc_poll(child, &st) < 0)
            snprintf(result, sizeof(result), "%sunknown", cut);
        else if (st.how == SBX_SIGNALED)
            snprintf(result, sizeof(result), "%ssignal:%d", cut, st.signal);
        else
            snprintf(result, sizeof(result), "%sexit:%lld", cut, st.code);
        audit(server.uid, server_pid, as, req.argv, req.cwd, result);
    }
done:
    /* Also after a spawn that failed once the account was looked up. */
    sbx_spawn_req_free(&req);
    sbx_proc_free(child);
    free(env);
    free(tenv);
    free(term_var);
    sbx_account_free(acct);
    if (rc < 0 && rc != SBX_EPIPE)
        fail_to_peer(c, why[0] ? why : sbx_err_str(rc));
    sbx_conn_free(c);
    return rc < 0 ? 1 : 0;
}
