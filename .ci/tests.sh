#!/bin/sh
# Runs a test binary for `make unit` / `make integration`, and sums up a
# `make check`.
#
#   sh .ci/tests.sh run LOG CMD [ARG...]
#       Runs CMD with its output on ours as it comes (Criterion's own lines,
#       its Synthesis included, reach the terminal or CI log unchanged) and
#       also in LOG; exits with CMD's status.
#       With SBX_SANITIZE=1, every sanitized process the tests start (sbx,
#       sbx-runner, the helpers, the test binary itself) writes its
#       AddressSanitizer, LeakSanitizer or UBSan report to a file in a fresh
#       directory instead of its stderr, where a test would only see
#       unexpected bytes; any report there fails the run, is printed, and is
#       kept in LOG.san/.
#   sh .ci/tests.sh summary LOG...
#       One line counting the tests that passed, failed and were skipped in
#       those logs, then one line per skipped test with its reason.
set -u

run() {
    log=$1
    shift
    mkdir -p "$(dirname "$log")"
    rm -rf "$log.san"
    san=
    if [ "${SBX_SANITIZE:-}" = 1 ]; then
        # In /tmp and writable by all (sticky, like /tmp itself): the tests
        # run sbx as throwaway accounts that cannot enter the build tree.
        san=$(mktemp -d /tmp/sbx-san.XXXXXX) || exit 1
        chmod 1733 "$san"
        # fast_unwind_on_malloc=0: libc has no frame pointers, and a leak
        # from asprintf would otherwise show no caller.
        ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:log_path=$san/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$san/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
        # Known leaks outside the tests, each with who fixes it; a copy any
        # account can read, beside the reports.
        cp .ci/lsan.supp "$san/lsan.supp" && chmod 0644 "$san/lsan.supp"
        LSAN_OPTIONS="suppressions=$san/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
        export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
    fi
    # No pipefail in sh: the status comes back through a file.
    { "$@" 2>&1; echo $? >"$log.rc"; } | tee "$log"
    rc=$(cat "$log.rc" 2>/dev/null || echo 1)
    rm -f "$log.rc"
    if [ -n "$san" ]; then
        # A file without a finding ("ERROR:" from ASan/LSan, "runtime
        # error" from UBSan) is the tool talking about itself: LeakSanitizer
        # writes "Unable to get registers from thread N" when the process it
        # checks at exit is killed meanwhile, which the containment and
        # terminal tests do on purpose.  Shown, not counted.
        for r in $(find "$san" -type f -size +0 ! -name lsan.supp | sort); do
            if ! grep -q -e 'ERROR: ' -e 'runtime error' "$r"; then
                echo "---- sanitizer note $(basename "$r") (no finding) ----"
                cat "$r"
                rm -f "$r"
            fi
        done
        reports=$(find "$san" -type f -size +0 ! -name lsan.supp | sort)
        if [ -n "$reports" ]; then
            mkdir -p "$log.san"
            n=0
            for r in $reports; do
                n=$((n + 1))
                cp "$r" "$log.san/"
                echo "---- sanitizer report $(basename "$r") ----"
                cat "$r"
            done
            echo "sbx: $n sanitizer report(s) during $(basename "$1"); kept in $log.san/" | tee -a "$log"
            [ "$rc" -ne 0 ] || rc=1
        else
            echo "sbx: no sanitizer report during $(basename "$1")" | tee -a "$log"
        fi
        rm -rf "$san"
    fi
    return "$rc"
}

# The counts are Criterion's own, from each log's Synthesis line ("Tested:
# 31 | Passing: 31 | Failing: 0 | Crashing: 0"); the names come from its
# verbose lines: "[FAIL] suite::name: ...", "[SKIP] suite::name: reason" (a
# test left out by --filter says "Test is disabled").
summary() {
    sed 's/\x1b\[[0-9;]*m//g' "$@" 2>/dev/null | awk '
        /^\[====\] Synthesis: / {
            for (i = 1; i <= NF; i++) {
                if ($i == "Passing:") pass += $(i + 1)
                if ($i == "Failing:") fail += $(i + 1)
            }
            runs++
        }
        /^\[FAIL\] / { name = $2; sub(/:$/, "", name); failed = failed " " name }
        /^\[SKIP\] / {
            line = $0; sub(/^\[SKIP\] /, "", line)
            i = index(line, ": "); name = substr(line, 1, i - 1); why = substr(line, i + 2)
            if (why == "Test is disabled") { off++; next }
            skip++; skipped[skip] = name ": " why
        }
        /^sbx: [0-9]+ sanitizer report/ { san++ }
        END {
            printf "sbx check: %d passed, %d failed, %d skipped", pass, fail, skip
            if (off) printf ", %d not selected", off
            if (san) printf "; sanitizer reports in %d run(s)", san
            if (failed != "") printf "; failed:%s", failed
            if (runs == 0) printf " (no test run finished)"
            print ""
            for (i = 1; i <= skip; i++) print "  skipped " skipped[i]
        }'
}

case ${1:-} in
run) shift; [ $# -ge 2 ] || { echo "usage: $0 run LOG CMD [ARG...]" >&2; exit 2; }; run "$@" ;;
summary) shift; summary "$@" ;;
*) echo "usage: $0 run LOG CMD [ARG...] | summary LOG..." >&2; exit 2 ;;
esac
