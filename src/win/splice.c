/* Windows: no splice.  The relay copies every frame, as it always did. */
#include "err.h"
#include "os.h"

int sbx_h_is_pipe(sbx_h *h)
{
    (void)h;
    return 0;
}

int sbx_h_readable(sbx_h *h, size_t *n)
{
    (void)h;
    *n = 0;
    return SBX_ENOTSUP;
}

int sbx_h_peek(sbx_h *h, void *buf, size_t n, size_t *got)
{
    (void)h;
    (void)buf;
    (void)n;
    *got = 0;
    return SBX_ENOTSUP;
}

int sbx_h_splice(sbx_h *from, sbx_h *to, size_t n, size_t *moved)
{
    (void)from;
    (void)to;
    (void)n;
    *moved = 0;
    return SBX_ENOTSUP;
}
