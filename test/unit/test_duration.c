/* Command-line durations. */
#include <string.h>

#include <criterion/criterion.h>

#include "duration.h"
#include "err.h"

Test(duration, accepted)
{
    static const struct {
        const char *s;
        long long ms;
    } ok[] = {
        { "0", 0 },      { "90", 90000 }, { "90s", 90000 }, { "500ms", 500 },
        { "1.5s", 1500 }, { "1.5", 1500 }, { "5m", 300000 }, { "1h", 3600000 },
        { "2d", 172800000 }, { "0.0001s", 1 }, { "0.5ms", 1 }, { "1.25m", 75000 },
        { "365d", 365LL * 86400000 },
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long long ms = -1;
        cr_assert_eq(sbx_duration_parse(ok[i].s, &ms), 0, "%s", ok[i].s);
        cr_assert_eq(ms, ok[i].ms, "%s: %lld", ok[i].s, ms);
    }
}

/* Every spelling of zero is zero: --timeout 0 means no timeout. */
Test(duration, zero_in_any_unit)
{
    static const char *const zeros[] = { "0", "0s", "0ms", "0m", "0h", "0d", "0.0", "0.000s", "00" };

    for (size_t i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++) {
        long long ms = -1;
        cr_assert_eq(sbx_duration_parse(zeros[i], &ms), 0, "%s", zeros[i]);
        cr_assert_eq(ms, 0, "%s: %lld", zeros[i], ms);
    }
}

Test(duration, refused)
{
    static const char *const bad[] = { "", "s", "-1", "+1", "1x", "1 s", "1.", ".5", "1.5.5",
                                       "1sec", "99999999999999999999", "400d", "1e3", "0x10" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long ms;
        cr_assert_eq(sbx_duration_parse(bad[i], &ms), SBX_EINVAL, "accepted '%s'", bad[i]);
    }
}

Test(duration, formatted)
{
    char b[32];

    sbx_duration_format(90000, b, sizeof(b));
    cr_assert_str_eq(b, "90s");
    sbx_duration_format(300000, b, sizeof(b));
    cr_assert_str_eq(b, "5m");
    sbx_duration_format(7200000, b, sizeof(b));
    cr_assert_str_eq(b, "2h");
    sbx_duration_format(1500, b, sizeof(b));
    cr_assert_str_eq(b, "1.500s");
    sbx_duration_format(250, b, sizeof(b));
    cr_assert_str_eq(b, "250ms");
}
