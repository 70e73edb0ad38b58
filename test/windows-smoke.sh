#!/bin/bash
# The Windows checks for a real Windows machine (the Windows CI job runs it
# in MSYS2's bash after `make win WIN_CC=gcc WIN_CJSON=system`).  On Linux
# the same properties are checked under Wine by test/integration/
# test_windows.c; this script covers what needs real Windows: FILE_FLAG_
# FIRST_PIPE_INSTANCE, job objects, console events, the pseudo console and
# the real C runtime.  docs/windows.md marks what is checked here only.
#
#   test/windows-smoke.sh [BUILD_DIR]      (default build/win)
set -u
export MSYS2_ARG_CONV_EXCL='*' # pass arguments to the .exe files untouched
W=${1:-build/win}
SBX="$W/sbx.exe"
H="$W/sbx-testhelper.exe"
T="$W/sbx-wintest.exe"
pass=0 fail=0 skip=0

check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        pass=$((pass + 1)); echo "ok   $1"
    else
        fail=$((fail + 1)); echo "FAIL $1"; echo "  expected: $2"; echo "  actual:   $3"
    fi
}

hexargs() { # the helper's "argv" output for the given arguments
    echo "argc $#"
    for a in "$@"; do
        printf '%s:%s\n' "$(printf '%s' "$a" | wc -c | tr -d ' ')" \
            "$(printf '%s' "$a" | od -An -tx1 -v | tr -d ' \n')"
    done
}

args=(plain '' ' ' 'a b' '"' 'say "hi"' '\' 'trail\' 'sp ace\' 'a\"b' '*' '*.txt' '?' '%PATH%'
      '^' 'a&b|c<d>e' $'tab\there' 'café' '😀' '\\server\share\' 'end\\\')
check "argv round trip" "$(hexargs "${args[@]}")" \
    "$("$SBX" run --same-user -- "$H" argv "${args[@]}" | tr -d '\r')"

# sbx.exe's own 32-bit exit code, as a Windows parent sees it.
SBXW=$(cygpath -w "$SBX") HW=$(cygpath -w "$H")
for code in 0 1 255 256 0xC0000005 0xC000013A; do
    want=$(printf 'exit 0x%08x' "$code")
    got=$("$H" spawn "\"$SBXW\" run --same-user -- \"$HW\" exit $code" | tr -d '\r')
    check "exit code $code" "$want" "$got"
done

check "16 MiB stdout" "$("$H" write out 16777216 3 | md5sum)" \
    "$("$SBX" run --same-user -- "$H" write out 16777216 3 | md5sum)"
check "16 MiB stderr" "$("$H" write err 16777216 4 2>&1 >/dev/null | md5sum)" \
    "$("$SBX" run --same-user -- "$H" write err 16777216 4 2>&1 >/dev/null | md5sum)"
head -c 8388608 /dev/urandom > "$W/stdin.bin"
check "8 MiB stdin" "$("$H" hash-stdin < "$W/stdin.bin")" \
    "$("$SBX" run --same-user -- "$H" hash-stdin < "$W/stdin.bin")"
check "cmd.exe" "hi" "$("$SBX" run --same-user -- cmd /c "echo hi" | tr -d '\r')"
"$SBX" run --same-user -- no-such-command-sbx 2>/dev/null
check "not found" 127 $?
printf '@echo %%1\r\n' > "$W/evil.bat"
"$SBX" run --same-user -- "$W/evil.bat" '"&calc.exe' 2>/dev/null
check "batch file refused" 126 $?
# Every spelling Windows opens as evil.bat, and streams of a file.
for name in 'evil.bat.' 'evil.bat ' 'evil.bat. .' 'EVIL.BAT..' 'evil.bat::$DATA' 'evil.bat:s'; do
    "$SBX" run --same-user -C "$W" -- ".\\$name" '"&calc.exe' 2>/dev/null
    check "batch file refused as [$name]" 126 $?
done

wintest() { # NAME CHECK [ARG]: an sbx-wintest check; 77 is a skip
    "$T" "${@:2}"
    local rc=$?
    if [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "skip $1"
    else
        check "$1" 0 $rc
    fi
}
wintest "squatted pipe name refused with ERROR_ACCESS_DENIED" squat
wintest "one client, and its pid" foreign
wintest "a failed write is reported by the flush" write-error
wintest "the runner's secret never blocks" secret
wintest "2>&1 for the command: one pipe, one stream" stdout-stderr
wintest "a command inside an outer job with UI limits" nested
wintest "sbx.exe without a console: the command's console has no window" detached
wintest "Ctrl-C reaches the command once, as Ctrl-C" in-console ctrlc
wintest "Ctrl-C ends the wait for the runner" in-console accept
wintest "Ctrl-C at sbx.exe's console is not end of input" conpty-stdin

check "the command's pipes admit this user alone" 0 \
    "$("$SBX" run --same-user -- "$T" pipe-dacl >/dev/null; echo $?)"
check "the environment sorted, -e entries in place" 0 \
    "$("$SBX" run --same-user -e SBX_AAA_EARLY=1 -e a_lower=2 -- "$T" env-sorted SBX_AAA_EARLY \
        >/dev/null; echo $?)"

# --timeout ends the command's whole tree, a grandchild included.
HW=$(cygpath -w "$H")
"$SBX" run --same-user --timeout 2s --kill-after 2s -- "$H" spawn "\"$HW\" sleep 424242" \
    2>/dev/null
check "--timeout exits 124" 124 $?
sleep 2
left=$(powershell -NoProfile -Command \
    "@(Get-CimInstance Win32_Process | Where-Object { \$_.CommandLine -like '*sleep 424242*' }).Count" |
    tr -d '\r')
check "--timeout leaves nothing of the tree" 0 "$left"

# A program without a console (GUI) cannot receive the console event: the
# timeout ends it at once rather than after --kill-after.
"$T" gui-copy "$(cygpath -w "$H")" "$(cygpath -w "$W")\\gui-helper.exe"
start=$SECONDS
"$SBX" run --same-user --timeout 1s --kill-after 60s -- "$W/gui-helper.exe" sleep 100000 2>/dev/null
check "--timeout on a GUI program exits 124" 124 $?
check "--timeout on a GUI program ends it at once" 1 $((SECONDS - start < 20))

# --report at a path that is not ASCII.
R="$W/rapport-été-€.json"
rm -f "$R"
"$SBX" run --same-user --report "$R" -- cmd /c "exit 3"
check "--report at a non-ASCII path: the status" 3 $?
check "--report at a non-ASCII path: the file" yes "$([ -s "$R" ] && echo yes || echo no)"

# Elevation: an elevated shell (GitHub's Windows runners are) starts the
# runner directly and -n changes nothing; a non-elevated one would need the
# UAC prompt, which -n refuses at once.  -u and --via are not for Windows.
if net session >/dev/null 2>&1; then # succeeds only when elevated
    check "elevated run" "hi" "$("$SBX" run -n -- cmd /c "echo hi" | tr -d '\r')"
else
    "$SBX" run -n -- cmd /c "echo hi" 2>/dev/null
    check "not elevated: -n refuses the UAC prompt" 125 $?
fi
"$SBX" run -u nobody -- cmd /c "echo hi" 2>/dev/null
check "-u refused" 125 $?
"$SBX" run --via gsudo -- cmd /c "echo hi" 2>/dev/null
check "--via refused" 125 $?

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
