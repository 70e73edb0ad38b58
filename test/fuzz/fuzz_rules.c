/* libFuzzer harness for the tables of frame rules (src/rules.c).
 *
 * The input is a sequence of frames as one side receives them: the first
 * byte's low bit picks the side (0: sbx, receiving from the runner; 1: the
 * runner, receiving from sbx), and its next bit says the run has no
 * terminal (sbx_rules_no_tty(), called before the first frame); every
 * further byte is one frame type.  Bytes below 0xe0 pick one of the
 * twenty known types (modulo), so most sequences are made of real
 * frames; bytes from 0xe0 give the type 0x00 to 0x1f or, with 0x20 added,
 * 0x20 to 0x3f, known and unknown alike.
 *
 * The oracle (rules_oracle.h) checks every verdict against the protocol's
 * invariants; the sequence also goes on after a refusal, as the table must
 * stay unchanged by it.
 */
#include <stdint.h>

#include "frame.h"
#include "fuzz.h"
#include "rules.h"
#include "rules_oracle.h"

/* test/fuzz/seeds.sh writes these indexes: new types go at the end. */
static const unsigned known[] = {
    SBX_F_HELLO, SBX_F_SPAWN, SBX_F_SPAWNED, SBX_F_SPAWN_ERROR, SBX_F_EXIT,
    SBX_F_SIGNAL, SBX_F_ERROR, SBX_F_DATA | SBX_STDIN, SBX_F_DATA | SBX_STDOUT,
    SBX_F_DATA | SBX_STDERR, SBX_F_CLOSE | SBX_STDIN, SBX_F_CLOSE | SBX_STDOUT,
    SBX_F_CLOSE | SBX_STDERR, SBX_F_STDIN_ACK, SBX_F_RESIZE, SBX_F_STOPPED,
    SBX_F_CONTINUE, SBX_F_DATA | SBX_TTY, SBX_F_CLOSE | SBX_TTY, SBX_F_SPAWN_PART,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oracle o;

    if (size < 1)
        return 0;
    oracle_init(&o, data[0] & 1 ? SBX_AT_RUNNER : SBX_AT_CLI);
    if (data[0] & 2)
        oracle_no_tty(&o);
    for (size_t i = 1; i < size; i++) {
        unsigned t = data[i] < 0xe0 ? known[data[i] % (sizeof(known) / sizeof(known[0]))]
                                    : (unsigned)(data[i] & 0x3f);
        (void)oracle_feed(&o, t);
    }
    return 0;
}
