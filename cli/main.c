/* sbx: run one command in another security context, as if inline.
 *
 * Only this file decides sbx's exit status (see usage() and docs/sbx.1):
 * the command's own status, its signal re-raised, 1 after a write error,
 * or 124/125/126/127.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "err.h"
#include "os.h"
#include "protocol.h"
#include "report.h"
#include "session.h"
#include "tty.h"

#define EXIT_TIMED_OUT 124
#define EXIT_SBX_FAILED 125
#define EXIT_NOT_EXECUTABLE 126
#define EXIT_NOT_FOUND 127
/* Output lost to a write error, the command otherwise content: as
 * coreutils' "write error". */
#define EXIT_WRITE_ERROR 1

/* --report: where, and when the run started.  Every way out once the
 * option has been read writes it: die(), die_usage(), and the end of a run.
 * A report that cannot be written is said on stderr and leaves the exit
 * status alone: the command has run, and its status is the answer the
 * caller asked for. */
static const char *report_path;
static long long started_ms;

static void write_report(const char *result, long long status, const struct session_out *out,
                         const char *error)
{
    struct report r;
    const char *why = NULL;

    if (report_path == NULL)
        return;
    r.result = result;
    r.exit_status = status;
    r.duration_ms = sbx_now_ms() - started_ms;
    r.out = out;
    r.error = error;
    if (report_write(report_path, &r, &why) < 0)
        fprintf(stderr, "sbx: cannot write the report %s: %s\n", report_path, why);
}

static const char usage_top[] =
    "Usage: sbx run [OPTIONS] [--] COMMAND [ARG...]\n"
    "       sbx --help | --version\n"
    "\n"
    "Run COMMAND in another security context and relay its stdin, stdout,\n"
    "stderr and exit status as if it had run inline.\n"
    "\n"
    "Commands:\n"
    "  run       run one command (see 'sbx run --help')\n"
    "  help      show this help\n";

static const char usage_run[] =
    "Usage: sbx run [OPTIONS] [--] COMMAND [ARG...]\n"
    "\n"
    "Run COMMAND through sbx-runner and relay its stdin, stdout, stderr and\n"
    "exit status.  Options end at '--' or at the first word that is not an\n"
    "option.  Short options group (-nC DIR); a long option may be shortened\n"
    "to any prefix that names only one.\n"
    "\n"
    "Options:\n"
    "  -C, --chdir DIR         run COMMAND in DIR (default: the current directory,\n"
    "                          even one removed meanwhile, as inline)\n"
    "  -e, --env NAME=VALUE    set NAME in COMMAND's environment (repeatable)\n"
    "  -U, --unset NAME        remove NAME from COMMAND's environment (repeatable)\n"
    "      --clear-env         start from an empty environment; -e and -U then\n"
    "                          apply in the order given\n"
    "  -u, --user NAME         run COMMAND as the account NAME (its uid, groups,\n"
    "                          HOME, USER, LOGNAME and SHELL) instead of root\n"
    "  -n, --non-interactive   never prompt: fail with 125 at once when\n"
    "                          elevation would need a password or a UAC prompt\n"
    "      --via 'CMD [ARG...]'  elevate with CMD instead of sudo (for example\n"
    "                          'doas'); sbx adds [-n] [-u NAME] -- sbx-runner ...\n"
    "      --same-user         run COMMAND as the calling user, crossing no\n"
    "                          boundary\n"
    "      --timeout DURATION  stop COMMAND after DURATION: its process group gets\n"
    "                          SIGTERM (and SIGCONT), then SIGKILL after the\n"
    "                          --kill-after grace; sbx exits 124; 0: no timeout\n"
    "      --kill-after DURATION  grace between --timeout's SIGTERM and the end of\n"
    "                          the whole tree (default 5s; more than 0: the tree\n"
    "                          always ends, 1ms ends it at once)\n"
    "      --pty               give COMMAND a terminal of its own even where sbx's\n"
    "                          streams are not a terminal (without one: 80x24, on\n"
    "                          stdout and stderr)\n"
    "      --no-pty            never give COMMAND a terminal: its streams are pipes\n"
    "                          and opening /dev/tty fails at once\n"
    "      --connect-timeout DURATION  bound on starting the runner, its connection\n"
    "                          and the handshake (default 10s); once COMMAND is\n"
    "                          being started, sbx waits for it without a bound\n"
    "      --report FILE       when sbx ends, write a JSON summary to FILE (also on\n"
    "                          failures, and on usage errors after this option);\n"
    "                          a new file created beside FILE, never through an\n"
    "                          existing file or link, then renamed over it; if\n"
    "                          it cannot be written sbx says why, and its exit\n"
    "                          status stays the same\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "DURATION is a number of seconds, or a number with a unit: 500ms, 1.5s,\n"
    "5m, 1h, 2d.\n"
    "\n"
    "COMMAND runs as root (Windows: elevated), or as the -u account.  When sbx\n"
    "is not already root, it starts sbx-runner through sudo (or --via, or the\n"
    "SBX_ELEVATE environment variable), which may ask for a password on the\n"
    "terminal; on Windows, through the UAC prompt.\n"
    "\n"
    "COMMAND gets sbx's environment, unchanged unless the options above change\n"
    "it, and is looked up in that environment's PATH like execvp(3).\n"
    "\n"
    "At a terminal (POSIX: when sbx's stdin, stdout or stderr is its\n"
    "controlling terminal, or with --pty; the last of --pty and --no-pty wins),\n"
    "COMMAND gets a new terminal of its own with the caller's size and modes:\n"
    "each stream that is the terminal in sbx is that terminal in COMMAND, the\n"
    "others stay pipes.  Keys reach it as typed, the window size follows, and\n"
    "job control works as inline: Ctrl-Z stops COMMAND and sbx, fg and bg\n"
    "continue both.  The caller's terminal is restored when sbx ends.\n"
    "\n"
    "Signals received by sbx (INT, TERM, HUP, QUIT, USR1, USR2, WINCH, CONT,\n"
    "TSTP) are delivered once, as themselves, to COMMAND's process group; it\n"
    "decides what they mean.  Only --timeout, or sbx going away, ends it by\n"
    "force.\n"
    "\n"
    "Exit status:\n"
    "  N        COMMAND exited with status N\n"
    "  128+N    COMMAND was killed by signal N (sbx dies by the same signal)\n"
    "  1        sbx could not write COMMAND's output to its stdout or stderr\n"
    "           (full disk, I/O error: 'sbx: write error on stdout: ...') and\n"
    "           COMMAND otherwise succeeded; a failed COMMAND keeps its status\n"
    "  124      COMMAND was stopped by --timeout\n"
    "  125      sbx itself failed (bad usage, elevation refused or needing a\n"
    "           password under -n, runner missing or failed, ...)\n"
    "  126      COMMAND was found but could not be executed\n"
    "  127      COMMAND was not found\n";

static void die_usage(const char *fmt, ...) SBX_PRINTF(1, 2) __attribute__((noreturn));
static void die(const char *fmt, ...) SBX_PRINTF(1, 2) __attribute__((noreturn));

static void die_usage(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sbx: %s\nTry 'sbx run --help'.\n", msg);
    write_report("usage_error", EXIT_SBX_FAILED, NULL, msg);
    exit(EXIT_SBX_FAILED);
}

static void die(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sbx: %s\n", msg);
    write_report("failed", EXIT_SBX_FAILED, NULL, msg);
    exit(EXIT_SBX_FAILED);
}

static long long duration_arg(const char *opt, const char *arg)
{
    long long ms;

    if (sbx_duration_parse(arg, &ms) < 0)
        die_usage("%s wants a duration such as 90, 90s, 500ms, 5m or 1h, not '%s'", opt, arg);
    return ms;
}

/* The option getopt could not take: the element it was working on is
 * argv[at] (inside a cluster such as -xn, optind has not moved past it
 * yet, and argv[optind - 1] would be the word before).  A long option is
 * named by its own word, resolved the way getopt_long resolves prefixes;
 * a short one by optopt. */
static void bad_option(int opt, char *const *argv, int at, const struct option *longopts)
{
    const char *word = argv[at];

    if (word[0] == '-' && word[1] == '-' && word[2] != '\0' && word[2] != '=') {
        const char *name = word + 2;
        size_t len = strcspn(name, "="), nhit = 0;
        const struct option *hit = NULL, *o;
        char list[512] = "";

        for (o = longopts; o->name != NULL && hit == NULL; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                hit = o;
        if (hit != NULL) {
            nhit = 1;
        } else {
            /* Candidates in alphabetical order, as a reader scans a list. */
            const char *c[32];
            for (o = longopts; o->name != NULL && nhit < 32; o++)
                if (strncmp(o->name, name, len) == 0)
                    c[nhit++] = o->name, hit = o;
            for (size_t i = 1; i < nhit; i++)
                for (size_t j = i; j > 0 && strcmp(c[j - 1], c[j]) > 0; j--) {
                    const char *t = c[j];
                    c[j] = c[j - 1];
                    c[j - 1] = t;
                }
            for (size_t i = 0; i < nhit; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s--%s",
                         i ? ", " : "", c[i]);
        }
        if (nhit > 1)
            die_usage("option '--%.*s' is ambiguous (%s)", (int)len, name, list);
        if (nhit == 0)
            die_usage("unknown option '--%.*s'", (int)len, name);
        if (opt == ':')
            die_usage("option '--%s' needs an argument", hit->name);
        if (name[len] == '=' && hit->has_arg == no_argument)
            die_usage("option '--%s' takes no argument", hit->name);
        die_usage("unknown option '%s'", word);
    }
    if (optopt <= 0 || optopt > 0x7e || !isprint(optopt))
        die_usage("unknown option in '%s'", word);
    if (opt == ':')
        die_usage("option '-%c' needs an argument", optopt);
    die_usage("unknown option '-%c'", optopt);
}

static void print_or_die(const char *text)
{
    if (fputs(text, stdout) == EOF || fflush(stdout) == EOF)
        exit(EXIT_SBX_FAILED);
    exit(0);
}

/* The environment edits, in command-line order. */
struct env_op {
    int set; /* 1: -e NAME=VALUE, 0: -U NAME */
    const char *arg;
};

static int name_matches(const char *entry, const char *name, size_t nlen)
{
    return sbx_os_env_name_cmp(entry, name, nlen) == 0 && entry[nlen] == '=';
}

static char **build_env(int clear, const struct env_op *ops, size_t nops)
{
    char **src = clear ? NULL : sbx_os_environ();
    size_t n = 0, cap;
    char **env;

    for (char **e = src; e != NULL && *e != NULL; e++)
        n++;
    cap = n + nops + 1;
    if ((env = calloc(cap, sizeof(*env))) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        env[i] = src[i];
    for (size_t k = 0; k < nops; k++) {
        const char *eq = strchr(ops[k].arg, '=');
        size_t nlen = ops[k].set ? (size_t)(eq - ops[k].arg) : strlen(ops[k].arg);
        size_t j = 0;
        /* Drop every entry of that name (an environment may repeat one). */
        for (size_t i = 0; i < n; i++)
            if (!name_matches(env[i], ops[k].arg, nlen))
                env[j++] = env[i];
        n = j;
        if (ops[k].set)
            env[n++] = (char *)ops[k].arg;
        env[n] = NULL;
    }
    env[n] = NULL;
    return env;
}

/* sbx-runner is found from sbx's own location, never through PATH: whoever
 * controls PATH must not choose what runs in the other context. */
static char *find_runner(void)
{
    static const char *const rel[] = { "/sbx-runner", "/../libexec/sbx/sbx-runner" };
    const char *suffix = sbx_os_exe_suffix();
    char *dir = NULL, *path;

    if (sbx_os_self_dir(&dir) < 0)
        die("cannot locate the sbx executable: %s", sbx_os_error_text(sbx_os_last_error()));
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(dir) + strlen(rel[i]) + strlen(suffix) + 1;
        if ((path = malloc(n)) == NULL)
            die("%s", "out of memory");
        snprintf(path, n, "%s%s%s", dir, rel[i], suffix);
        if (sbx_os_executable(path)) {
            free(dir);
            return path;
        }
        free(path);
    }
    die("cannot find sbx-runner (looked for %s/sbx-runner%s and "
        "%s/../libexec/sbx/sbx-runner%s)", dir, suffix, dir, suffix);
}

/* Appends one of sbx's lines to the report's "error" (joined by "; ");
 * returns buf. */
static const char *add_error(char *buf, size_t cap, const char *line)
{
    size_t len = strlen(buf);

    snprintf(buf + len, cap - len, "%s%s", len ? "; " : "", line);
    return buf;
}

/* Prints the one line for a command that could not start, and returns the
 * exit status; `msg` receives the same line for the report. */
static int spawn_failure(const struct session_out *o, const char *cmd, const char *cwd,
                         char *msg, size_t cap)
{
    const struct sbx_spawn_error *se = &o->se;
    const char *text = se->message && se->message[0] ? se->message : sbx_err_str(se->err);
    int status = EXIT_SBX_FAILED;

    if (strcmp(se->stage, "exec") == 0) {
        if (se->err == SBX_ENOENT && strchr(cmd, '/') == NULL) {
            snprintf(msg, cap, "%s: command not found", cmd);
        } else {
            snprintf(msg, cap, "%s: %s", cmd, text);
        }
        status = se->err == SBX_ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE;
    } else if (strcmp(se->stage, "user") == 0) {
        snprintf(msg, cap, "cannot run %s as the requested account: %s", cmd, text);
    } else if (strcmp(se->stage, "chdir") == 0) {
        snprintf(msg, cap, "cannot change directory to '%s': %s", cwd ? cwd : ".", text);
    } else {
        snprintf(msg, cap, "cannot start %s (%s): %s", cmd, se->stage, text);
    }
    fprintf(stderr, "sbx: %s\n", msg);
    return status;
}

/* What sbx's parent will see for st: the exit code as this platform keeps
 * it, or 128+N for a signal (POSIX: the shell's view of a death by N;
 * Windows: the code sbx exits with). */
static long long exit_status_of(const struct sbx_exit *st)
{
    if (st->how == SBX_SIGNALED)
        return 128 + st->signal;
    return sbx_os_exit_code(st->code);
}

static int is_sigpipe(int sig)
{
    const char *name = sbx_sig_name(sig);

    return name != NULL && strcmp(name, "PIPE") == 0;
}

/* Prints "sbx: write error on stdout: REASON" for each of stdout and
 * stderr that sbx could not write, and collects the same lines, joined by
 * "; ", in `buf` for the report ("" when none). */
static void note_write_errors(const struct session_out *o, char *buf, size_t cap)
{
    static const char *const names[3] = { "stdin", "stdout", "stderr" };

    buf[0] = '\0';
    for (int i = 1; i <= 2; i++) {
        char line[300];
        const char *why;

        if (o->write_err[i] == 0)
            continue;
        why = o->write_os_err[i] != 0 ? sbx_os_error_text(o->write_os_err[i])
                                      : sbx_err_str(o->write_err[i]);
        snprintf(line, sizeof(line), "write error on %s: %s", names[i], why);
        fprintf(stderr, "sbx: %s\n", line);
        add_error(buf, cap, line);
    }
}

/* The launcher's argv: the words of `cmd`, then the run-as options every
 * supported launcher (sudo, doas) spells alike, then "--". */
static char **make_launcher(const char *cmd, const char *user, int batch)
{
    size_t words = 0, n = 0;
    char **v, *copy, *w, *save = NULL;

    for (const char *p = cmd; *p; p++)
        words += (p == cmd || p[-1] == ' ' || p[-1] == '\t') && *p != ' ' && *p != '\t';
    if (words == 0)
        die_usage("%s", "--via (or SBX_ELEVATE) names no command");
    if ((v = calloc(words + 5, sizeof(*v))) == NULL || (copy = strdup(cmd)) == NULL)
        die("%s", "out of memory");
    for (w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save))
        if ((v[n++] = strdup(w)) == NULL)
            die("%s", "out of memory");
    free(copy);
    if (batch)
        v[n++] = strdup("-n");
    if (user != NULL) {
        v[n++] = strdup("-u");
        v[n++] = strdup(user);
    }
    v[n++] = strdup("--");
    for (size_t i = 0; i < n; i++)
        if (v[i] == NULL)
            die("%s", "out of memory");
    return v;
}

static void free_launcher(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* Decides how the runner starts: directly when sbx already is what the
 * command must run as (or when it runs as another account and sbx is root,
 * the runner switching in the child), otherwise through a launcher (POSIX:
 * sudo, --via, SBX_ELEVATE) or the OS's elevation prompt (Windows). */
static void choose_launch(struct session_req *req, int same_user, const char *user,
                          const char *via, int batch, char ***launcher)
{
    const char *dflt = sbx_os_launcher();
    long long target = 0;
    sbx_account *a = NULL;
    int rc;

    req->runner_uid = sbx_os_uid();
    req->interactive = !batch;
    if (same_user) {
        if (user != NULL)
            die_usage("%s", "--same-user and --user exclude each other");
        return;
    }
    /* SBX_ELEVATE names a POSIX launcher; where the OS has its own way,
     * only an explicit --via is an error. */
    if (via != NULL && dflt == NULL)
        die("%s", "--via is not supported on this platform; sbx elevates through the "
                  "system's elevation prompt");
    if (via == NULL && dflt != NULL && (via = getenv("SBX_ELEVATE")) != NULL && via[0] == '\0')
        via = NULL;
    /* Checked even when no launcher is needed, so a typo shows the first
     * time, not on the first machine where sbx is not root. */
    if (via != NULL && via[strspn(via, " \t")] == '\0')
        die_usage("%s", "--via (or SBX_ELEVATE) names no command");
    if (user != NULL) {
        if ((rc = sbx_account_lookup(user, &a)) < 0) {
            if (rc == SBX_ENOTSUP)
                die("%s", "--user is not supported on this platform (see docs/windows.md)");
            if (rc == SBX_ENOENT)
                die("no account named '%s'", user);
            die("cannot look up account '%s': %s", user, sbx_err_str(rc));
        }
        target = sbx_account_uid(a);
        sbx_account_free(a);
        req->spawn.user = (char *)user;
        /* Root switches in the runner's child; the account itself needs
         * no switch at all. */
        if (sbx_os_privileged() || target == sbx_os_uid())
            return;
        req->runner_uid = target;
        req->others = target != 0;
    } else if (sbx_os_privileged()) {
        return;
    } else if (dflt == NULL) {
        if (batch)
            die("%s", "cannot elevate: this needs the elevation prompt, and -n forbids "
                      "prompting (run sbx from an elevated shell, or pass --same-user)");
        req->elevate = 1;
        return;
    } else {
        req->runner_uid = 0;
    }
    *launcher = make_launcher(via != NULL ? via : dflt, user, batch);
    req->launcher = *launcher;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "chdir", required_argument, NULL, 'C' },
        { "env", required_argument, NULL, 'e' },
        { "unset", required_argument, NULL, 'U' },
        { "clear-env", no_argument, NULL, 'c' },
        { "same-user", no_argument, NULL, 's' },
        { "user", required_argument, NULL, 'u' },
        { "non-interactive", no_argument, NULL, 'n' },
        { "via", required_argument, NULL, 'v' },
        { "timeout", required_argument, NULL, 't' },
        { "kill-after", required_argument, NULL, 'k' },
        { "connect-timeout", required_argument, NULL, 'T' },
        { "report", required_argument, NULL, 'r' },
        { "pty", no_argument, NULL, 'P' },
        { "no-pty", no_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct env_op *ops;
    size_t nops = 0;
    const char *chdir_to = NULL, *user = NULL, *via = NULL;
    int clear = 0, same_user = 0, batch = 0, pty = TERM_AUTO, opt;
    long long timeout_ms = 0, kill_after_ms = SBX_KILL_AFTER_MS, connect_ms = SBX_CONNECT_MS;
    struct session_req req;
    struct session_out out;
    struct term term;
    char *cwd = NULL, *runner, **env, **launcher = NULL;
    char errors[1200] = "";
    long long status = 0;
    struct sbx_exit end_like; /* with ends_like: end the way the command did */
    int at, rc, ends_like = 0;

    if ((ops = calloc((size_t)argc + 1, sizeof(*ops))) == NULL)
        die("%s", "out of memory");
    opterr = 0;
    /* 0: start over; main() has scanned its own options with getopt. */
    optind = 0;
    /* '+': stop at the first non-option, so COMMAND's own options are its. */
    for (;;) {
        at = optind > 0 ? optind : 1;
        if ((opt = getopt_long(argc, argv, "+:C:e:U:u:nhV", longopts, NULL)) == -1)
            break;
        switch (opt) {
        case 'C':
            chdir_to = optarg;
            break;
        case 'e':
            if (optarg[0] == '=' || strchr(optarg, '=') == NULL)
                die_usage("-e wants NAME=VALUE, not '%s'", optarg);
            ops[nops].set = 1;
            ops[nops++].arg = optarg;
            break;
        case 'U':
            if (optarg[0] == '\0' || strchr(optarg, '=') != NULL)
                die_usage("-U wants a variable NAME, not '%s'", optarg);
            ops[nops].set = 0;
            ops[nops++].arg = optarg;
            break;
        case 'c':
            clear = 1;
            break;
        case 's':
            same_user = 1;
            break;
        case 'u':
            if (optarg[0] == '\0')
                die_usage("%s", "-u wants an account name");
            user = optarg;
            break;
        case 'n':
            batch = 1;
            break;
        case 'v':
            via = optarg;
            break;
        case 't':
            /* 0 is no timeout, as for timeout(1) and in the protocol. */
            timeout_ms = duration_arg("--timeout", optarg);
            break;
        case 'k':
            /* timeout(1) reads -k 0 as "never SIGKILL"; sbx always ends
             * the whole tree (nothing outlives a run), so there is no
             * such choice to offer, and "at once" would be a surprise. */
            if ((kill_after_ms = duration_arg("--kill-after", optarg)) == 0)
                die_usage("--kill-after must be more than 0 (sbx always ends the whole "
                          "tree; for an immediate end give 1ms), not '%s'", optarg);
            break;
        case 'T':
            if ((connect_ms = duration_arg("--connect-timeout", optarg)) == 0)
                die_usage("--connect-timeout must be more than 0, not '%s'", optarg);
            if (connect_ms > 0x7fffffff)
                die_usage("--connect-timeout '%s' is too long", optarg);
            break;
        case 'r':
            if (optarg[0] == '\0')
                die_usage("%s", "--report wants a file name");
            report_path = optarg;
            break;
        case 'P':
            pty = TERM_PTY;
            break;
        case 'N':
            pty = TERM_NO_PTY;
            break;
        case 'h':
            print_or_die(usage_run);
            break;
        case 'V':
            print_or_die("sbx " SBX_VERSION "\n");
            break;
        default:
            bad_option(opt, argv, at, longopts);
        }
    }
    if (optind >= argc)
        die_usage("%s", "no command given");

    if (chdir_to != NULL) {
        if (chdir_to[0] == '\0')
            die_usage("%s", "-C wants a directory");
        if (sbx_os_abspath(chdir_to, &cwd) < 0)
            die("cannot get the current directory: %s",
                sbx_os_error_text(sbx_os_last_error()));
    } else if ((rc = sbx_os_getcwd(&cwd)) < 0) {
        /* Removed while we stand in it: inline, the command would run in
         * it all the same, and so it does here: the request names no
         * directory and the runner, started from here, stays where it is.
         * Anything else (EACCES on a parent) is a real failure. */
        if (rc != SBX_ENOENT)
            die("cannot get the current directory: %s", sbx_os_error_text(sbx_os_last_error()));
        cwd = NULL;
    }
    if ((env = build_env(clear, ops, nops)) == NULL)
        die("%s", "out of memory");
    runner = find_runner();

    memset(&req, 0, sizeof(req));
    choose_launch(&req, same_user, user, via, batch, &launcher);
    req.spawn.argv = argv + optind;
    req.spawn.argc = (size_t)(argc - optind);
    req.spawn.cwd = cwd;
    req.spawn.env = env;
    while (env[req.spawn.envc] != NULL)
        req.spawn.envc++;
    req.spawn.timeout_ms = timeout_ms;
    req.spawn.kill_after_ms = kill_after_ms;
    req.runner = runner;
    req.connect_ms = (int)connect_ms;
    /* Decided last, so no usage error can leave the terminal open. */
    term_decide(&term, pty, getenv("TERM"), &req.spawn.tty);
    /* 2>&1: our stdout and stderr are one file, so the command gets one
     * pipe for both and their order is exactly its own.  Streams on the
     * command's terminal are no pipes. */
    if (!(req.spawn.tty.present && (req.spawn.tty.streams & 6u)) && sbx_os_same_stream(1, 2) == 1)
        req.spawn.merge_stderr = 1;
    req.term = &term;
    session_run(&req, &out);
    /* Restored and closed before any message, and before sbx ends the
     * way the command did. */
    term_close(&term);
    /* One line per stream sbx could not write, whatever else happened. */
    note_write_errors(&out, errors, sizeof(errors));

    switch (out.result) {
    case SESSION_EXITED:
        if (out.st.timed_out) {
            char d[32], msg[600];
            sbx_duration_format(timeout_ms, d, sizeof(d));
            snprintf(msg, sizeof(msg), "%s timed out after %s", argv[optind], d);
            fprintf(stderr, "sbx: %s\n", msg);
            write_report("timed_out", EXIT_TIMED_OUT, &out, add_error(errors, sizeof(errors), msg));
            status = EXIT_TIMED_OUT;
            break;
        }
        if (errors[0] != '\0') {
            struct sbx_exit st = out.st;
            /* Output was lost: never the silent success of exit 0.  The
             * command's own failure still speaks for itself; a SIGPIPE is
             * what sbx caused by dropping the stream, so it does not. */
            if ((st.how == SBX_EXITED && st.code == 0) ||
                (st.how == SBX_SIGNALED && is_sigpipe(st.signal))) {
                st.how = SBX_EXITED;
                st.code = EXIT_WRITE_ERROR;
                st.signal = 0;
            }
            write_report("write_error", exit_status_of(&st), &out, errors);
            end_like = st;
            ends_like = 1;
            break;
        }
        write_report(out.st.how == SBX_SIGNALED ? "signaled" : "exited", exit_status_of(&out.st),
                     &out, NULL);
        end_like = out.st;
        ends_like = 1;
        break;
    case SESSION_SPAWN_FAILED: {
        char msg[1024];
        status = spawn_failure(&out, argv[optind], cwd, msg, sizeof(msg));
        write_report("spawn_failed", status, &out, add_error(errors, sizeof(errors), msg));
        break;
    }
    case SESSION_INTERRUPTED: {
        /* Interrupted before the command existed: end as the signal says,
         * like a shell whose foreground job never started. */
        struct sbx_exit st = { SBX_SIGNALED, 0, out.signal, 0, 0 };
        write_report("signaled", 128 + out.signal, &out,
                     add_error(errors, sizeof(errors), "interrupted before the command started"));
        end_like = st;
        ends_like = 1;
        break;
    }
    default:
        fprintf(stderr, "sbx: %s\n", out.msg);
        write_report("failed", EXIT_SBX_FAILED, &out, add_error(errors, sizeof(errors), out.msg));
        status = EXIT_SBX_FAILED;
        break;
    }
    session_out_free(&out);
    free(env);
    free(cwd);
    free(runner);
    free(ops);
    free_launcher(launcher);
    /* Everything freed first: sbx_os_exit_like() does not return. */
    if (ends_like)
        sbx_os_exit_like(&end_like);
    return (int)status;
}

/* sbx's own options, before the command word, read like run's: clusters,
 * unambiguous prefixes of the long names, the same messages. */
static int cmd_top(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt, at;

    opterr = 0;
    optind = 0;
    for (;;) {
        at = optind > 0 ? optind : 1;
        if ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) == -1)
            break;
        if (opt == 'h')
            print_or_die(usage_top);
        if (opt == 'V')
            print_or_die("sbx " SBX_VERSION "\n");
        bad_option(opt, argv, at, longopts);
    }
    if (optind >= argc)
        die_usage("%s", "missing command (try 'sbx run -- COMMAND')");
    if (strcmp(argv[optind], "run") == 0)
        return cmd_run(argc - optind, argv + optind);
    if (strcmp(argv[optind], "help") == 0)
        print_or_die(usage_top);
    die_usage("unknown command '%s' (did you mean 'sbx run -- ...'?)", argv[optind]);
    return EXIT_SBX_FAILED;
}

int main(int argc, char **argv)
{
    if (sbx_os_args(&argc, &argv) < 0) {
        fprintf(stderr, "sbx: cannot read the command line\n");
        return EXIT_SBX_FAILED;
    }
    /* Standard streams exist and nothing else leaks into the runner. */
    if (sbx_os_sanitize_fds() < 0)
        return EXIT_SBX_FAILED;
    started_ms = sbx_now_ms();
    if (sbx_sig_init(sbx_sig_forwarded()) < 0) {
        fprintf(stderr, "sbx: cannot install signal handlers\n");
        return EXIT_SBX_FAILED;
    }
    return cmd_top(argc, argv);
}
