/* wincat.exe [FILE]: the Windows side of the Wine rows.  Without FILE it
 * copies stdin to stdout, with FILE it copies FILE to stdout, through
 * ReadFile/WriteFile in 256 KiB blocks (no C runtime text mode, so no
 * newline translation); `wincat.exe --true` exits 0 at once, the trivial
 * command of the startup row.  Built with mingw-w64 by test/bench/run.sh. */
#include <string.h>
#include <windows.h>

int main(int argc, char **argv)
{
    static char buf[256 * 1024];
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE), out = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD got, put;

    if (argc == 2 && strcmp(argv[1], "--true") == 0)
        return 0;
    if (argc == 2) {
        in = CreateFileA(argv[1], GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                         FILE_FLAG_SEQUENTIAL_SCAN, NULL);
        if (in == INVALID_HANDLE_VALUE)
            return 2;
    }
    for (;;) {
        /* A broken pipe on stdin is how Windows reports end of file. */
        if (!ReadFile(in, buf, sizeof(buf), &got, NULL) || got == 0)
            break;
        for (DWORD off = 0; off < got; off += put)
            if (!WriteFile(out, buf + off, got - off, &put, NULL))
                return 1;
    }
    return 0;
}
