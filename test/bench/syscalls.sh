#!/usr/bin/env bash
# test/bench/syscalls.sh MIB CMD [ARGS...]
#
# Diagnosis helper, not part of `make bench`: runs CMD (which moves MIB
# mebibytes) under `perf record`, counting every system call entry and every
# context switch, and prints them per MiB for each process name, e.g.
#
#   test/bench/syscalls.sh 1024 build/bench/sbx run --same-user -- cat FILE
#   test/bench/syscalls.sh 1024 sh -c 'cat FILE | cat | cat > /dev/null'
#
# Exact counts with little disturbance (strace stops the process on every
# call and so changes how data batches up).  Needs perf (Debian:
# linux-perf) and permission to use tracepoints (root, or a low
# kernel.perf_event_paranoid).  The syscall names are x86-64 numbers.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 MIB CMD [ARGS...]" >&2; exit 2; }
mib=$1
shift
data=$(mktemp)
trap 'rm -f "$data"' EXIT
perf record -q -c 1 -e raw_syscalls:sys_enter -e sched:sched_switch -o "$data" -- "$@" \
    >/dev/null 2>"$data.err" || { cat "$data.err" >&2; rm -f "$data.err"; exit 1; }
rm -f "$data.err"
# The guardian is a fork of sbx-runner and shares its name; its one-off
# close() sweep shows up in the runner's "close" column.
perf script -i "$data" -F comm,event,trace 2>/dev/null | awk -v mib="$mib" '
    BEGIN {
        split("0 read 1 write 3 close 7 poll 44 sendto 45 recvfrom 16 ioctl 247 waitid 275 splice", m, " ")
        for (i = 1; i < 20; i += 2) name[m[i]] = m[i + 1]
        ncol = split("read write poll waitid splice sendto recvfrom ioctl close other", col, " ")
    }
    /raw_syscalls:sys_enter/ {
        n = $0; sub(/.* NR /, "", n); split(n, a, " ")
        k = (a[1] in name) ? name[a[1]] : "other"
        c[$1, k]++; tot[$1]++; seen[$1] = 1; next
    }
    /sched:sched_switch/ { cs[$1]++; seen[$1] = 1 }
    END {
        printf "%-12s %8s", "process", "calls/MiB"
        for (i = 1; i <= ncol; i++) printf " %8s", col[i]
        printf " %9s\n", "ctxsw/MiB"
        for (p in seen) {
            printf "%-12s %8.1f", p, tot[p] / mib
            for (i = 1; i <= ncol; i++) printf " %8.1f", c[p, col[i]] / mib
            printf " %9.1f\n", cs[p] / mib
        }
    }' | { IFS= read -r header; printf '%s\n' "$header"; LC_ALL=C sort; }
