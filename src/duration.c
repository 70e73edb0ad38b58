#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "err.h"

#define YEAR_MS (366LL * 24 * 3600 * 1000)

int sbx_duration_parse(const char *s, long long *ms)
{
    long long whole = 0, frac = 0, scale = 1, unit;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return SBX_EINVAL;
    while (*p >= '0' && *p <= '9') {
        whole = whole * 10 + (*p++ - '0');
        if (whole > YEAR_MS)
            return SBX_EINVAL;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return SBX_EINVAL;
        /* Digits beyond the ninth cannot change whole milliseconds. */
        while (*p >= '0' && *p <= '9') {
            if (scale < 1000000000LL) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
            p++;
        }
    }
    if (*p == '\0' || strcmp(p, "s") == 0)
        unit = 1000;
    else if (strcmp(p, "ms") == 0)
        unit = 1;
    else if (strcmp(p, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(p, "d") == 0)
        unit = 24 * 3600 * 1000;
    else
        return SBX_EINVAL;
    if (whole > YEAR_MS / unit)
        return SBX_EINVAL;
    /* frac/scale of a unit, rounded up to whole milliseconds. */
    *ms = whole * unit + (frac * unit + scale - 1) / scale;
    if (*ms > YEAR_MS)
        return SBX_EINVAL;
    return 0;
}

void sbx_duration_format(long long ms, char *buf, unsigned long cap)
{
    if (ms % 3600000 == 0 && ms >= 3600000)
        snprintf(buf, cap, "%lldh", ms / 3600000);
    else if (ms % 60000 == 0 && ms >= 60000)
        snprintf(buf, cap, "%lldm", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%llds", ms / 1000);
    else if (ms > 1000)
        snprintf(buf, cap, "%lld.%03llds", ms / 1000, ms % 1000);
    else
        snprintf(buf, cap, "%lldms", ms);
}
