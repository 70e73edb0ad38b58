/* Whether two of this process's standard handles are one stream (2>&1). */
#include "internal.h"

typedef BOOL(WINAPI *compare_fn)(HANDLE, HANDLE);

int sbx_os_same_stream(int a, int b)
{
    static const DWORD ids[3] = { STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE };
    HMODULE kb;
    compare_fn same = NULL;
    HANDLE x, y;

    if (a < 0 || a > 2 || b < 0 || b > 2)
        return 0;
    x = GetStdHandle(ids[a]);
    y = GetStdHandle(ids[b]);
    if (x == NULL || x == INVALID_HANDLE_VALUE || y == NULL || y == INVALID_HANDLE_VALUE)
        return 0;
    if (x == y)
        return 1;
    /* Two handles to one file object (a shell's 2>&1 duplicates the
     * handle): CompareObjectHandles, Windows 10 1607 and later, hence
     * looked up rather than linked.  Without it, only the same value
     * counts; two pipe handles of which one was duplicated from the
     * other then look apart. */
    if ((kb = GetModuleHandleW(L"kernelbase.dll")) != NULL)
        same = (compare_fn)(void (*)(void))GetProcAddress(kb, "CompareObjectHandles");
    return same != NULL && same(x, y) ? 1 : 0;
}
