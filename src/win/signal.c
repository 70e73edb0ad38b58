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

int win_has_console(void)
{
    DWORD pid;

    return GetConsoleProcessList(&pid, 1) != 0;
}

/* ---- the runner ----
 *
 * The command stays in the runner's console and console process group
 * (process.c), so whatever console event reaches the runner reaches the
 * command's tree too, from Windows itself.  When sbx.exe started the runner
 * directly, that console is sbx.exe's as well: the keyboard's Ctrl-C or
 * Ctrl-Break reaches sbx.exe, the runner and the command at once, and the
 * signal frame sbx.exe then sends must not deliver it a second time.  The
 * runner counts the events it receives itself; a forwarded signal that one
 * of them matches has been delivered already.  An event that reached
 * sbx.exe alone (sent to sbx.exe's own process group by its parent) has no
 * match and is delivered by the runner. */

enum { CEV_C, CEV_BREAK, CEV_CLOSE, CEV_N };

static int runner_console;  /* 1: sbx_sig_ignore_console ran */
static int shares_console;  /* 1: someone else is on the runner's console */
static volatile LONG seen[CEV_N];
static volatile LONG64 seen_ms[CEV_N];
static LONG used[CEV_N];
static HANDLE seen_event;

static int ev_index(DWORD type)
{
    return type == CTRL_C_EVENT ? CEV_C : type == CTRL_BREAK_EVENT ? CEV_BREAK : CEV_CLOSE;
}

static BOOL WINAPI swallow_ctrl(DWORD type)
{
    int i = ev_index(type);

    InterlockedExchange64(&seen_ms[i], (LONG64)GetTickCount64());
    InterlockedIncrement(&seen[i]);
    if (seen_event != NULL)
        SetEvent(seen_event);
    return TRUE;
}

int sbx_sig_ignore_console(void)
{
    DWORD pids[2];

    /* At the runner's start its console holds the runner alone when it is
     * its own (the elevation prompt's, or a windowless one because sbx.exe
     * had none), and sbx.exe too when shared. */
    shares_console = GetConsoleProcessList(pids, 2) > 1;
    if (seen_event == NULL && (seen_event = CreateEventW(NULL, FALSE, FALSE, NULL)) == NULL)
        return win_last_err();
    /* sbx.exe starts the runner in a new console process group, which
     * disables Ctrl-C for it and for everything it starts; the command must
     * see Ctrl-C, and the runner must count it.  No console: nothing to do. */
    (void)SetConsoleCtrlHandler(NULL, FALSE);
    if (!SetConsoleCtrlHandler(swallow_ctrl, TRUE))
        return win_last_err();
    runner_console = 1;
    return 0;
}

DWORD win_console_group(DWORD fallback)
{
    if (!runner_console)
        return fallback;
    /* Our own console holds only us and the command's tree: everyone on it.
     * Shared with sbx.exe: the runner's group, which sbx.exe created for it
     * and the command's tree is in; the runner ignores the event. */
    return shares_console ? GetCurrentProcessId() : 0;
}

int win_console_delivered(DWORD type)
{
    int i = ev_index(type);
    long long now;

    if (!runner_console || !shares_console)
        return 0;
    /* An event of ours that no frame claimed within a few seconds belongs
     * to no forwarded signal any more (sbx.exe takes two quick presses as
     * one). */
    now = (long long)GetTickCount64();
    if (seen[i] > used[i] && now - (long long)seen_ms[i] > 3000)
        used[i] = seen[i];
    /* sbx.exe's frame may overtake the console's own delivery to us. */
    for (long long end = now + 200; seen[i] <= used[i];) {
        now = (long long)GetTickCount64();
        if (now >= end || WaitForSingleObject(seen_event, (DWORD)(end - now)) == WAIT_TIMEOUT)
            return 0;
    }
    used[i]++;
    return 1;
}

void win_console_generated(DWORD type)
{
    /* Our own event reaches us too; it is no forwarded one. */
    if (runner_console && shares_console)
        used[ev_index(type)]++;
}
