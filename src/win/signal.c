/* Signals on Windows: console control events (Ctrl-C, Ctrl-Break, close),
 * turned into the C runtime's signal numbers the protocol uses. */
#include "internal.h"

HANDLE win_sig_event;
static volatile LONG sig_pending[32];
volatile LONG win_sig_any;
static int sig_watched[32];

static BOOL WINAPI on_ctrl(DWORD type)
{
    int sig = type == CTRL_C_EVENT ? WSIG_INT : type == CTRL_BREAK_EVENT ? WSIG_BREAK : WSIG_TERM;

    if (!sig_watched[sig])
        return FALSE; /* the default handler ends the process */
    InterlockedExchange(&sig_pending[sig], 1);
    InterlockedExchange(&win_sig_any, 1);
    SetEvent(win_sig_event);
    return TRUE;
}

int sbx_sig_init(const int *watch)
{
    int any = 0;

    if (win_sig_event == NULL && (win_sig_event = CreateEventW(NULL, TRUE, FALSE, NULL)) == NULL)
        return win_last_err();
    for (; watch != NULL && *watch != 0; watch++) {
        if (*watch > 0 && *watch < 32) {
            sig_watched[*watch] = 1;
            any = 1;
        }
    }
    if (any && !SetConsoleCtrlHandler(on_ctrl, TRUE))
        return win_last_err();
    return 0;
}

int sbx_sig_take(void)
{
    if (!InterlockedExchange(&win_sig_any, 0))
        return 0;
    ResetEvent(win_sig_event);
    for (int s = 1; s < 32; s++) {
        if (InterlockedExchange(&sig_pending[s], 0)) {
            for (int t = s + 1; t < 32; t++)
                if (sig_pending[t]) {
                    InterlockedExchange(&win_sig_any, 1);
                    SetEvent(win_sig_event);
                }
            return s;
        }
    }
    return 0;
}

const char *sbx_sig_name(int sig)
{
    switch (sig) {
    case WSIG_INT: return "INT";
    case WSIG_TERM: return "TERM";
    case WSIG_BREAK: return "BREAK";
    case 22: return "ABRT";
    case 9: return "KILL";
    default: return NULL;
    }
}

const int *sbx_sig_forwarded(void)
{
    static const int sigs[] = { WSIG_INT, WSIG_BREAK, WSIG_TERM, 0 };
    return sigs;
}

static BOOL WINAPI swallow_ctrl(DWORD type)
{
    (void)type;
    return TRUE;
}

int sbx_sig_ignore_console(void)
{
    if (!SetConsoleCtrlHandler(swallow_ctrl, TRUE))
        return win_last_err();
    return 0;
}
