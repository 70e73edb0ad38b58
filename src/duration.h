/* Durations on the command line: "90" (seconds), "90s", "500ms", "1.5s",
 * "5m", "1h", "2d". */
#ifndef SBX_DURATION_H
#define SBX_DURATION_H

/* Parses `s` into milliseconds (rounded up, so a non-zero duration never
 * becomes 0).  SBX_EINVAL for anything else, a negative value, or more
 * than a year. */
int sbx_duration_parse(const char *s, long long *ms);

/* "90s", "1.5s", "5m", "500ms": a short form of `ms` for messages. */
void sbx_duration_format(long long ms, char *buf, unsigned long cap);

#endif
