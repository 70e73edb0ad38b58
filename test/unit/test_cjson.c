/* The cJSON that sbx is built with: every frame's payload goes through it,
 * in the runner too, from a caller that may be anyone. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "json.h"

/* A payload that ends right after a comma inside an object: cJSON 1.7.15
 * as released reads the byte after the end, looking for the next name;
 * Debian's patch "Fix heap buffer overflow" stops at the end.  The payload
 * sits at the very end of a page whose next page is unmapped, so a read
 * past it crashes the test with or without a sanitizer. */
Test(cjson, payload_ending_after_a_comma_is_not_read_past)
{
    static const char *const cuts[] = { "{\"a\":1,", "{\"a\":{\"b\":2},", "{\"a\":1,\"b\":2," };
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);

    cr_assert(m != MAP_FAILED);
    cr_assert(mprotect(m + page, (size_t)page, PROT_NONE) == 0);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t n = strlen(cuts[i]);
        uint8_t *p = (uint8_t *)m + page - n;
        char why[256] = "";

        memcpy(p, cuts[i], n);
        cr_assert_null(sbx_json_parse(p, n, "frame", why), "%s parsed", cuts[i]);
        cr_assert(strstr(why, "malformed") != NULL, "%s: %s", cuts[i], why);
    }
    munmap(m, (size_t)page * 2);
}
