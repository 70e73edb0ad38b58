/* UTF-16 <-> WTF-8: exact round trips, including lone surrogates. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "err.h"
#include "proto.h"
#include "wtf8.h"

static void round_trip(const uint16_t *w, size_t n, const char *want)
{
    char *s = NULL;
    uint16_t *back = NULL;
    size_t m = 0;

    cr_assert_eq(sbx_utf16_to_wtf8(w, n, &s), 0);
    if (want != NULL)
        cr_assert_str_eq(s, want);
    cr_assert_eq(sbx_wtf8_to_utf16(s, &back, &m), 0, "[%s]", s);
    cr_assert_eq(m, n);
    cr_assert_eq(memcmp(back, w, n * sizeof(*w)), 0);
    cr_assert_eq(back[m], 0);
    free(s);
    free(back);
}

Test(wtf8, known_strings)
{
    static const uint16_t ascii[] = { 'a', 'b', ' ', '"' };
    static const uint16_t e_acute[] = { 'c', 'a', 'f', 0xe9 };
    static const uint16_t euro[] = { 0x20ac };
    static const uint16_t emoji[] = { 0xd83d, 0xde00 };
    static const uint16_t lone_high[] = { 'x', 0xd800, 'y' };
    static const uint16_t lone_low[] = { 0xdc00 };
    static const uint16_t reversed[] = { 0xdc00, 0xd800 };

    round_trip(ascii, 4, "ab \"");
    round_trip(e_acute, 4, "caf\xc3\xa9");
    round_trip(euro, 1, "\xe2\x82\xac");
    round_trip(emoji, 2, "\xf0\x9f\x98\x80");
    round_trip(lone_high, 3, "x\xed\xa0\x80y");
    round_trip(lone_low, 1, "\xed\xb0\x80");
    round_trip(reversed, 2, "\xed\xb0\x80\xed\xa0\x80");
    round_trip(ascii, 0, "");
}

Test(wtf8, valid_utf16_gives_valid_utf8)
{
    static const uint16_t emoji[] = { 0xd83d, 0xde00, 0xe9 };
    char *s;

    cr_assert_eq(sbx_utf16_to_wtf8(emoji, 3, &s), 0);
    cr_assert(sbx_utf8_valid(s, strlen(s)));
    free(s);
}

Test(wtf8, rejects)
{
    static const char *const bad[] = {
        "\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xc3", "\x80", "\xf4\x90\x80\x80",
        "\xed\xa0\xbd\xed\xb8\x80", /* a pair spelled as two 3-byte sequences */
    };
    static const uint16_t nul[] = { 'a', 0, 'b' };
    uint16_t *w;
    size_t n;
    char *s;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(sbx_wtf8_to_utf16(bad[i], &w, &n), SBX_EINVAL, "accepted case %zu", i);
    cr_assert_eq(sbx_utf16_to_wtf8(nul, 3, &s), SBX_EINVAL);
}

Test(wtf8, random_round_trip)
{
    srand(7);
    for (int round = 0; round < 20000; round++) {
        uint16_t w[12];
        size_t n = (size_t)(rand() % 12);
        for (size_t i = 0; i < n; i++) {
            switch (rand() % 4) {
            case 0: w[i] = (uint16_t)(1 + rand() % 0x7f); break;
            case 1: w[i] = (uint16_t)(0xd800 + rand() % 0x800); break;
            default: w[i] = (uint16_t)(1 + rand() % 0xffff); break;
            }
        }
        round_trip(w, n, NULL);
    }
}
