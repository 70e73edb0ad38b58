/* The JSON underneath the protocol messages (proto.c): parsing a payload
 * into an object with the checks every message needs, reading typed
 * members, and the byte strings that may not be UTF-8.  Private to the
 * message codec; nothing else includes it.
 *
 * Readers take `what` (the message's name) and `name` (the member's) for
 * the one-line reason they write into `why` (SBX_WHY bytes; may be NULL),
 * and fail with SBX_EPROTO, or SBX_ENOMEM.  Strings they return are
 * malloc'd and the caller's. */
#ifndef SBX_JSON_H
#define SBX_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"

/* Writes the reason into why (when not NULL) and returns SBX_EPROTO. */
int sbx_json_fail(char *why, const char *fmt, ...) SBX_PRINTF(2, 3);

/* The payload as a JSON object: no NUL escapes (cJSON would cut the string
 * there), nothing but white space after it.  NULL, with why, otherwise;
 * the caller cJSON_Delete()s it. */
cJSON *sbx_json_parse(const uint8_t *p, size_t n, const char *what, char *why);

/* An integer member within [lo, hi]: 0; when not required and absent, 1,
 * and *out is left as it is. */
int sbx_json_get_int(const cJSON *o, const char *name, long long lo, long long hi,
                     int required, long long *out, const char *what, char *why);
/* A boolean member; absent and not required: *out = 0. */
int sbx_json_get_bool(const cJSON *o, const char *name, int required, int *out,
                      const char *what, char *why);
/* A UTF-8 string member; absent and not required: *out = NULL. */
int sbx_json_get_str(const cJSON *o, const char *name, int required, char **out,
                     const char *what, char *why);

/* The value of one hex digit, or -1. */
int sbx_json_hexval(int c);
/* A byte string: a JSON string when the bytes are UTF-8 and that is not
 * the longer form, else {"hex": "..."} (docs/protocol.md, "Byte
 * strings"); either form is read. */
int sbx_json_get_bytes(const cJSON *v, char **out, const char *what, const char *name,
                       char *why);
cJSON *sbx_json_bytes(const char *s);
/* An array of byte strings, min to max entries; *out gets count strings
 * and a NULL. */
int sbx_json_get_strv(const cJSON *o, const char *name, size_t min, size_t max, char ***out,
                      size_t *count, const char *what, char *why);
cJSON *sbx_json_strv(char *const *v, size_t n);
void sbx_json_free_strv(char **v, size_t n);

/* Serialises and frees root; SBX_ENOMEM when !ok or on failure. */
int sbx_json_finish(cJSON *root, int ok, char **json, size_t *len);

#endif
