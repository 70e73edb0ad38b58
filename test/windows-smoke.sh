#!/bin/bash
# The Windows checks for a real Windows machine (the Windows CI job runs it
# in MSYS2's bash after `make win WIN_CC=gcc WIN_CJSON=system`).  On Linux
# the same properties are checked under Wine by test/integration/
# test_windows.c; this script covers what needs real Windows: FILE_FLAG_
# FIRST_PIPE_INSTANCE, job objects and the real C runtime.
#
#   test/windows-smoke.sh [BUILD_DIR]      (default build/win)
set -u
export MSYS2_ARG_CONV_EXCL='*' # pass arguments to the .exe files untouched
W=${1:-build/win}
SBX="$W/sbx.exe"
H="$W/sbx-testhelper.exe"
pass=0 fail=0

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
"$W/sbx-wintest.exe" squat
check "squatted pipe name refused" 0 $?
"$W/sbx-wintest.exe" foreign
check "one client, and its pid" 0 $?

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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
