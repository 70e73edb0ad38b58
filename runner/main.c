/* sbx-runner: started by sbx (directly, or across a privilege boundary),
 * connects back over the channel, proves itself with the nonce sbx gave it
 * on stdin, runs exactly one command for it and streams the result.
 *
 *   sbx-runner --connect NAME --server-pid PID      (nonce on stdin)
 *
 * It is not meant to be run by hand.  Exit status: 0 when the exit frame was
 * delivered, 1 otherwise (sbx reports the failure to the user).
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
#include "runner.h"

#define HANDSHAKE_MS 10000

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

/* Reads the nonce sbx wrote to our stdin: 64 hex digits and a newline.  The
 * nonce never appears in argv, which any local user can read. */
static int read_nonce(char out[SBX_NONCE_HEX + 1])
{
    sbx_h *in = NULL;
    size_t have = 0;
    long long deadline = sbx_now_ms() + HANDSHAKE_MS;
    char buf[SBX_NONCE_HEX + 1];
    int rc;

    if ((rc = sbx_h_std(0, &in)) < 0)
        return rc;
    while (have < sizeof(buf)) {
        struct sbx_wait w = { in, NULL, SBX_EV_READ, 0 };
        long long left = deadline - sbx_now_ms();
        size_t got;

        if (left <= 0) {
            rc = SBX_ETIMEDOUT;
            break;
        }
        if ((rc = sbx_wait(&w, 1, (int)left)) < 0)
            break;
        if (rc == 0)
            continue;
        rc = sbx_h_read(in, buf + have, sizeof(buf) - have, &got);
        if (rc == SBX_EAGAIN || rc == SBX_EINTR)
            continue;
        if (rc < 0)
            break;
        if (got == 0) {
            rc = SBX_EPROTO;
            break;
        }
        have += got;
    }
    sbx_h_close(in);
    if (rc < 0 && have < sizeof(buf))
        return rc;
    if (buf[SBX_NONCE_HEX] != '\n')
        return SBX_EPROTO;
    for (size_t i = 0; i < SBX_NONCE_HEX; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f')))
            return SBX_EPROTO;
    memcpy(out, buf, SBX_NONCE_HEX);
    out[SBX_NONCE_HEX] = '\0';
    return 0;
}

/* Tells sbx why the session ends, best effort, then exits. */
static void fail_to_peer(sbx_conn *c, const char *msg)
{
    struct sbx_error_msg m = { (char *)msg };
    char *json = NULL;
    size_t len = 0;
    int rc = sbx_error_encode(&m, &json, &len);

    if (sbx_conn_put_json(c, SBX_F_ERROR, json, len, rc) == 0)
        (void)sbx_conn_flush_wait(c, sbx_now_ms() + 2000);
    sbx_conn_close(c);
    fprintf(stderr, "sbx-runner: %s\n", msg);
    exit(1);
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

int main(int argc, char **argv)
{
    const char *name = NULL, *server_pid = NULL;
    char nonce[SBX_NONCE_HEX + 1], why[SBX_WHY] = "";
    struct sbx_hello hello;
    struct sbx_spawn_req req;
    struct sbx_spawn_opts so;
    struct sbx_spawn_fail sf;
    struct sbx_peer server;
    sbx_proc *child = NULL;
    sbx_h *ch = NULL;
    sbx_conn c;
    sbx_frame f;
    long long deadline, timeout_ms, kill_after_ms;
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (sbx_os_args(&argc, &argv) < 0)
        die("cannot read the command line");
    /* First, before anything can be inherited by the command: only 0-2. */
    if (sbx_os_sanitize_fds() < 0)
        die("cannot set up standard descriptors");
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--connect") == 0)
            name = argv[i + 1];
        else if (strcmp(argv[i], "--server-pid") == 0)
            server_pid = argv[i + 1];
        else
            die("unknown argument '%s'", argv[i]);
    }
    if (name == NULL || server_pid == NULL || argc % 2 != 1)
        die("usage: sbx-runner --connect NAME --server-pid PID (started by sbx)");
    if ((rc = sbx_sig_init(NULL)) < 0 || (rc = sbx_sig_ignore_console()) < 0)
        die("cannot install signal handlers: %s", sbx_err_str(rc));
    /* Should sbx die, even by SIGKILL, the runner follows, and the command's
     * guardian ends its tree. */
    if (sbx_os_die_with_parent(strtoll(server_pid, NULL, 10)) == SBX_EPIPE)
        die("sbx exited before the runner started");
    if ((rc = read_nonce(nonce)) < 0)
        die("no valid nonce on standard input: %s", sbx_err_str(rc));
    if ((rc = sbx_os_std_to_null(0)) < 0)
        die("cannot reopen standard input: %s", sbx_err_str(rc));

    if ((rc = sbx_chan_connect(name, &ch, &server)) < 0)
        die("cannot connect to %s: %s", name, sbx_os_error_text(sbx_os_last_error()));
    sbx_conn_init(&c, ch);
    /* Only the sbx that started us may drive us. */
    if (server.pid >= 0 && server.pid != strtoll(server_pid, NULL, 10))
        fail_to_peer(&c, "channel server is not the sbx that started this runner");

    memset(&hello, 0, sizeof(hello));
    hello.version = SBX_PROTO_VERSION;
    memcpy(hello.nonce, nonce, sizeof(nonce));
    hello.pid = sbx_os_pid();
    rc = sbx_hello_encode(&hello, &json, &len);
    if ((rc = sbx_conn_put_json(&c, SBX_F_HELLO, json, len, rc)) < 0)
        fail_to_peer(&c, "out of memory");

    deadline = sbx_now_ms() + HANDSHAKE_MS;
    rc = sbx_conn_next_wait(&c, &f, deadline);
    if (rc < 0 || f.type != SBX_F_HELLO)
        fail_to_peer(&c, "expected a hello frame from sbx");
    if (sbx_hello_decode(f.payload, f.len, &hello, why) < 0)
        fail_to_peer(&c, why);
    if (sbx_hello_check(&hello, nonce, why) < 0)
        fail_to_peer(&c, why);

    rc = sbx_conn_next_wait(&c, &f, deadline);
    if (rc < 0 || f.type != SBX_F_SPAWN)
        fail_to_peer(&c, "expected a spawn frame from sbx");
    if (sbx_spawn_req_decode(f.payload, f.len, &req, why) < 0)
        fail_to_peer(&c, why);

    memset(&so, 0, sizeof(so));
    so.file = req.argv[0];
    so.argv = req.argv;
    so.env = req.env;
    so.cwd = req.cwd;
    so.search_path = 1;
    so.new_group = 1;
    so.job = 1;
    so.stdio[0].kind = so.stdio[1].kind = so.stdio[2].kind = SBX_STDIO_PIPE;
    timeout_ms = req.timeout_ms;
    kill_after_ms = req.kill_after_ms;
    rc = sbx_proc_spawn(&so, &child, &sf);
    sbx_spawn_req_free(&req);
    if (send_spawn_result(&c, child, &sf) < 0)
        fail_to_peer(&c, "out of memory");
    if (child == NULL) {
        (void)sbx_conn_flush_wait(&c, sbx_now_ms() + HANDSHAKE_MS);
        sbx_conn_close(&c);
        return 0;
    }
    rc = runner_pump(&c, child, so.stdio[0].h, so.stdio[1].h, so.stdio[2].h, timeout_ms,
                     kill_after_ms, why);
    sbx_proc_free(child);
    if (rc < 0 && rc != SBX_EPIPE)
        fail_to_peer(&c, why[0] ? why : sbx_err_str(rc));
    sbx_conn_close(&c);
    return rc < 0 ? 1 : 0;
}
