#!/usr/bin/env bash
# conc.sh direct|relay|sbx N FILE SBX SAME OKFILE
#
# Starts N pipelines at once, each streaming FILE into SAME (test/bench/
# same.c), which fails unless it receives FILE byte for byte; waits for all
# of them and writes to OKFILE how many were exact.  Exits 1 if any was not,
# so that hyperfine, which times this script, stops instead of timing
# failures.
#   direct:  cat FILE | same FILE
#   relay:   cat FILE | cat | cat | same FILE     (the hops sbx has)
#   sbx:     SBX run --same-user -- cat FILE | same FILE
set -u -o pipefail

mode=$1 n=$2 file=$3 sbx=$4 same=$5 okfile=$6
pids=()
for ((i = 0; i < n; i++)); do
    case $mode in
    direct) { cat "$file" | "$same" "$file"; } & ;;
    relay)  { cat "$file" | cat | cat | "$same" "$file"; } & ;;
    sbx)    { "$sbx" run --same-user -- cat "$file" | "$same" "$file"; } & ;;
    *)      echo "conc.sh: unknown mode $mode" >&2; exit 2 ;;
    esac
    pids+=($!)
done
ok=0
for p in "${pids[@]}"; do
    wait "$p" && ok=$((ok + 1))
done
echo "$ok" > "$okfile"
[ "$ok" -eq "$n" ]
