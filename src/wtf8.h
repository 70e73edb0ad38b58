/* UTF-16 <-> WTF-8, the lossless mapping of Windows strings to bytes.
 *
 * Windows strings are sequences of 16-bit units that need not be valid
 * UTF-16 (a lone surrogate is a legal file name or argument).  WTF-8 encodes
 * them exactly: valid UTF-16 becomes ordinary UTF-8, and a lone surrogate
 * becomes its 3-byte generalized UTF-8 form.  Pure code, tested everywhere.
 */
#ifndef SBX_WTF8_H
#define SBX_WTF8_H

#include <stddef.h>
#include <stdint.h>

/* `n` units (not NUL-terminated) -> a malloc'd NUL-terminated string.
 * SBX_EINVAL when the input holds a NUL unit, SBX_ENOMEM. */
int sbx_utf16_to_wtf8(const uint16_t *w, size_t n, char **out);

/* A NUL-terminated WTF-8 string -> a malloc'd NUL-terminated UTF-16 string
 * (*n units, not counting the NUL).  SBX_EINVAL for bytes that are not
 * WTF-8 (overlongs, bad continuations, an encoded surrogate pair, which
 * WTF-8 writes as one 4-byte sequence instead), SBX_ENOMEM. */
int sbx_wtf8_to_utf16(const char *s, uint16_t **out, size_t *n);

#endif
