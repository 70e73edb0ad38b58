/* sbx protocol messages: C structs <-> the JSON payloads of control frames.
 *
 * Pure: no I/O.  Encoders return a malloc'd JSON text (the caller frees it)
 * that goes into a frame of the matching type.  Decoders take a frame
 * payload, accept unknown members, and fail with SBX_EPROTO and a one-line
 * reason in `why` for malformed JSON, missing or wrongly typed members,
 * embedded NULs, or counts over the caps.  On success the decoded struct
 * owns its strings; release it with the matching _free(), which also accepts
 * a zeroed struct.  On failure nothing needs freeing.
 *
 * Strings that may be arbitrary bytes on POSIX (argv, cwd, environment) are
 * sent as JSON strings when they are valid UTF-8, and otherwise as
 * {"hex": "<lowercase hex of the bytes>"}; see docs/protocol.md.
 */
#ifndef SBX_PROTO_H
#define SBX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define SBX_PROTO_VERSION 1
#define SBX_NONCE_BYTES 32
#define SBX_NONCE_HEX (SBX_NONCE_BYTES * 2)
#define SBX_MAX_ARGC 65536
#define SBX_MAX_ENVC 65536
#define SBX_MAX_USER 256 /* bytes of an account name */
#define SBX_WHY 200 /* size of the `why` buffers */

struct sbx_hello {
    int version;
    char nonce[SBX_NONCE_HEX + 1]; /* lowercase hex */
    long long pid;                 /* sender's pid; informational */
};

struct sbx_spawn_req {
    char **argv; /* argc strings plus a NULL */
    size_t argc;
    char *cwd;
    char **env; /* envc "NAME=VALUE" strings plus a NULL */
    size_t envc;
    long long timeout_ms;    /* options.timeout_ms; 0: none */
    long long kill_after_ms; /* options.kill_after_ms; 0: the runner's default */
    char *user;              /* options.user: the account to run as; NULL:
                                the runner's own */
};

struct sbx_spawned {
    long long pid;
};

struct sbx_spawn_error {
    char *stage;   /* "exec", "chdir", "pipe", "fork", ... */
    int err;       /* enum sbx_err, sent by name */
    long long os_code;
    char *message; /* the OS's description */
};

struct sbx_terminate {
    int signal;
};

struct sbx_error_msg {
    char *message;
};

int sbx_hello_encode(const struct sbx_hello *m, char **json, size_t *len);
int sbx_hello_decode(const uint8_t *p, size_t n, struct sbx_hello *m, char *why);

/* Checks a received hello against ours: SBX_EPROTO when the versions
 * differ, SBX_EPEER when the nonce is not the run's (compared in constant
 * time); `why` says which. */
int sbx_hello_check(const struct sbx_hello *m, const char *nonce, char *why);

int sbx_spawn_req_encode(const struct sbx_spawn_req *m, char **json, size_t *len);
int sbx_spawn_req_decode(const uint8_t *p, size_t n, struct sbx_spawn_req *m, char *why);
void sbx_spawn_req_free(struct sbx_spawn_req *m);

int sbx_spawned_encode(const struct sbx_spawned *m, char **json, size_t *len);
int sbx_spawned_decode(const uint8_t *p, size_t n, struct sbx_spawned *m, char *why);

int sbx_spawn_error_encode(const struct sbx_spawn_error *m, char **json, size_t *len);
int sbx_spawn_error_decode(const uint8_t *p, size_t n, struct sbx_spawn_error *m, char *why);
void sbx_spawn_error_free(struct sbx_spawn_error *m);

int sbx_exit_encode(const struct sbx_exit *m, char **json, size_t *len);
int sbx_exit_decode(const uint8_t *p, size_t n, struct sbx_exit *m, char *why);

int sbx_terminate_encode(const struct sbx_terminate *m, char **json, size_t *len);
int sbx_terminate_decode(const uint8_t *p, size_t n, struct sbx_terminate *m, char *why);

int sbx_error_encode(const struct sbx_error_msg *m, char **json, size_t *len);
int sbx_error_decode(const uint8_t *p, size_t n, struct sbx_error_msg *m, char *why);
void sbx_error_msg_free(struct sbx_error_msg *m);

/* The payload of a stdin-ack frame. */
void sbx_ack_put(uint8_t out[4], uint32_t n);
uint32_t sbx_ack_get(const uint8_t in[4]);

/* Whether the n bytes are well-formed UTF-8 (no overlongs, no surrogates). */
int sbx_utf8_valid(const char *s, size_t n);

#endif
