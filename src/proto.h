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
 * sent as JSON strings when they are valid UTF-8 and that is not longer
 * than the other form, {"hex": "<lowercase hex of the bytes>"}; see
 * docs/protocol.md.
 */
#ifndef SBX_PROTO_H
#define SBX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "term.h"

#define SBX_PROTO_VERSION 3
#define SBX_NONCE_BYTES 32
#define SBX_NONCE_HEX (SBX_NONCE_BYTES * 2)
/* Entries of argv, and of env, at most.  The request's byte bound
 * (SBX_SPAWN_MAX, protocol.h) is what limits a request; these only keep
 * the decoder's arrays in proportion to it, above anything execve() takes
 * (on Linux each entry costs its pointer and NUL, 9 bytes of at most
 * 6 MiB: fewer than 700,000 entries of argv and env together). */
#define SBX_MAX_ARGC (1u << 20)
#define SBX_MAX_ENVC (1u << 20)
#define SBX_MAX_USER 256 /* bytes of an account name */
#define SBX_WHY 200 /* size of the `why` buffers */
#define SBX_MAX_TERM 256 /* bytes of a TERM value in a terminal request */
#define SBX_MAX_ROWS 65535 /* a terminal's rows and columns, at most */
#define SBX_MODE_MAX 0xffffffffUL /* a termios flag or speed, at most: all
                                     fit in 32 bits, and so in an unsigned
                                     long and a double on every platform */

struct sbx_hello {
    int version;
    char nonce[SBX_NONCE_HEX + 1]; /* lowercase hex */
    long long pid;                 /* sender's pid; informational */
};

/* The spawn request's "tty" member: the command gets a terminal of its own
 * (docs/protocol.md, "spawn").  `streams` has bit n set for each standard
 * stream n (0..2) that is the terminal, at least one; `size` is 0 x 0 when
 * sbx has no terminal to copy it from (both or neither are set); `term` is
 * the caller's TERM (printable ASCII, 1 to SBX_MAX_TERM bytes) or NULL;
 * `modes` count only with `have_modes`, and then carry 1 to SBX_TTY_NCC
 * control characters and flags up to SBX_MODE_MAX.  The encoder writes what
 * it is given; a request outside these bounds is refused by the decoder. */
struct sbx_tty_req {
    int present; /* 0: no "tty" member, the command runs on pipes */
    unsigned streams;
    int foreground;
    struct sbx_tty_size size;
    char *term;
    int have_modes;
    struct sbx_tty_modes modes;
};

struct sbx_spawn_req {
    char **argv; /* argc strings plus a NULL */
    size_t argc;
    char *cwd;   /* NULL: not sent, the runner stays where it started (in
                    sbx's directory, which it inherited) */
    char **env; /* envc strings plus a NULL: "NAME=VALUE" as a rule, but
                   any string execve() takes, "NAME" and "" included */
    size_t envc;
    long long timeout_ms;    /* options.timeout_ms; 0: none */
    long long kill_after_ms; /* options.kill_after_ms; 0: the runner's default */
    char *user;              /* options.user: the account to run as; NULL:
                                the runner's own */
    struct sbx_tty_req tty;  /* tty.present: a terminal of its own */
    int merge_stderr;        /* options.merge_stderr: the command's stderr
                                is its stdout pipe (sbx's two are one file,
                                2>&1); never with stdout or stderr on the
                                terminal */
};

/* The spawn request's JSON text as the runner receives it: the payloads of
 * the spawn part frames and of the spawn frame, in order.  Start from a
 * zeroed struct; sbx_spawn_text_free() releases it. */
struct sbx_spawn_text {
    uint8_t *buf;
    size_t len, cap;
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

/* A signal sbx received, for the command's process group (1..255; 9 ends
 * the whole tree on every platform). */
struct sbx_signal {
    int signal;
};

/* The caller's terminal has a new size (1..SBX_MAX_ROWS each). */
struct sbx_resize {
    struct sbx_tty_size size;
};

/* The command stopped, by this signal (1..255). */
struct sbx_stopped {
    int signal;
};

/* Continue the stopped command; with a terminal, as the terminal's
 * foreground process group or not. */
struct sbx_continue {
    int foreground;
};

struct sbx_error_msg {
    char *message;
};

int sbx_hello_encode(const struct sbx_hello *m, char **json, size_t *len);
int sbx_hello_decode(const uint8_t *p, size_t n, struct sbx_hello *m, char *why);

/* Checks a received hello against ours: SBX_EPROTO when the versions
 * differ, SBX_EPEER when the nonce is not the run's (compared in constant
 * time).  `why` says which in one line that reads right on either side
 * after its program's name ("sbx: ...", "sbx-runner: ..."): for the version,
 * "the other program speaks protocol version N, this one version 3: install
 * sbx and sbx-runner from the same build". */
int sbx_hello_check(const struct sbx_hello *m, const char *nonce, char *why);

/* The decoded request owns argv, env, cwd, user and tty.term;
 * sbx_spawn_req_free() releases them all. */
int sbx_spawn_req_encode(const struct sbx_spawn_req *m, char **json, size_t *len);
int sbx_spawn_req_decode(const uint8_t *p, size_t n, struct sbx_spawn_req *m, char *why);
void sbx_spawn_req_free(struct sbx_spawn_req *m);

/* How sbx cuts a request's text into frames: for the `left` (>= 1) bytes
 * still to send, the size of the next piece, and in *type whether it is a
 * spawn part (more follow) or the spawn frame (the last).  Pieces are
 * SBX_CHUNK bytes, so the receiver's buffer never grows for them. */
size_t sbx_spawn_piece(size_t left, unsigned *type);
/* Appends a frame's payload to the text: 0; SBX_E2BIG, with `why`, when the
 * text would grow past SBX_SPAWN_MAX (nothing is appended); SBX_ENOMEM. */
int sbx_spawn_text_add(struct sbx_spawn_text *t, const uint8_t *p, size_t n, char *why);
void sbx_spawn_text_free(struct sbx_spawn_text *t);

int sbx_spawned_encode(const struct sbx_spawned *m, char **json, size_t *len);
int sbx_spawned_decode(const uint8_t *p, size_t n, struct sbx_spawned *m, char *why);

int sbx_spawn_error_encode(const struct sbx_spawn_error *m, char **json, size_t *len);
int sbx_spawn_error_decode(const uint8_t *p, size_t n, struct sbx_spawn_error *m, char *why);
void sbx_spawn_error_free(struct sbx_spawn_error *m);

int sbx_exit_encode(const struct sbx_exit *m, char **json, size_t *len);
int sbx_exit_decode(const uint8_t *p, size_t n, struct sbx_exit *m, char *why);

int sbx_signal_encode(const struct sbx_signal *m, char **json, size_t *len);
int sbx_signal_decode(const uint8_t *p, size_t n, struct sbx_signal *m, char *why);

int sbx_resize_encode(const struct sbx_resize *m, char **json, size_t *len);
int sbx_resize_decode(const uint8_t *p, size_t n, struct sbx_resize *m, char *why);

int sbx_stopped_encode(const struct sbx_stopped *m, char **json, size_t *len);
int sbx_stopped_decode(const uint8_t *p, size_t n, struct sbx_stopped *m, char *why);

int sbx_continue_encode(const struct sbx_continue *m, char **json, size_t *len);
int sbx_continue_decode(const uint8_t *p, size_t n, struct sbx_continue *m, char *why);

int sbx_error_encode(const struct sbx_error_msg *m, char **json, size_t *len);
int sbx_error_decode(const uint8_t *p, size_t n, struct sbx_error_msg *m, char *why);
void sbx_error_msg_free(struct sbx_error_msg *m);

/* The payload of a stdin-ack frame. */
void sbx_ack_put(uint8_t out[4], uint32_t n);
uint32_t sbx_ack_get(const uint8_t in[4]);

/* Whether the n bytes are well-formed UTF-8 (no overlongs, no surrogates). */
int sbx_utf8_valid(const char *s, size_t n);

#endif
