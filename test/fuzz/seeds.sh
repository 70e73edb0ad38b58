#!/bin/sh
# Writes the fuzzers' seed corpora and JSON dictionary:
#
#   sh test/fuzz/seeds.sh docs/protocol.md build/fuzz
#
# The seeds for the protocol harnesses are the ```hex example=NAME blocks of
# the specification: whole frames for fuzz_frame (each one, and all of them
# as one stream), the JSON payload after the 8-byte header for fuzz_spawn,
# and the selector byte plus the payload for fuzz_msg.  The frame rules,
# the quoting and
# WTF-8 harnesses get a few hand-picked strings.  Everything goes under
# OUT/corpus/<harness>/ and OUT/json.dict; nothing here is committed.
set -eu

doc=$1
out=$2
corpus=$out/corpus

rm -rf "$corpus"
mkdir -p "$corpus/fuzz_frame" "$corpus/fuzz_rules" "$corpus/fuzz_spawn" "$corpus/fuzz_msg" \
         "$corpus/fuzz_winargv" "$corpus/fuzz_wtf8"

# One line per example: its name, then its bytes as printf octal escapes.
# Plain POSIX awk (no strtonum), so mawk and busybox do as well as gawk.
examples=$(awk '
    function hexval(s,   i, v) {
        v = 0
        for (i = 1; i <= length(s); i++)
            v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
        return v
    }
    /^```hex example=/ { name = substr($0, 16); bytes = ""; inside = 1; next }
    inside && /^```/   { print name "\t" bytes; inside = 0; next }
    inside {
        for (i = 1; i <= NF; i++)
            bytes = bytes sprintf("\\%03o", hexval($i))
    }
' "$doc")

if [ -z "$examples" ]; then
    echo "seeds.sh: no \`\`\`hex example= blocks in $doc" >&2
    exit 1
fi

# The index of each message decoder in fuzz_msg.c's table.
msg_index() {
    case $1 in
    hello) echo 0 ;;
    spawned) echo 1 ;;
    spawn-error) echo 2 ;;
    exit | exit-signal) echo 3 ;;
    signal) echo 4 ;;
    error) echo 5 ;;
    resize) echo 6 ;;
    stopped) echo 7 ;;
    continue) echo 8 ;;
    *) echo "" ;;
    esac
}

tab=$(printf '\t')
stream=
n=0
while IFS=$tab read -r name esc; do
    n=$((n + 1))
    # Each escape is 4 characters; the header is the first 8 bytes.
    payload=${esc#????????????????????????????????}
    printf "$esc" >"$corpus/fuzz_frame/$name"
    stream=$stream$esc
    case $name in spawn | spawn-as-user | spawn-tty*)
        printf "$payload" >"$corpus/fuzz_spawn/$name"
    esac
    idx=$(msg_index "$name")
    if [ -n "$idx" ]; then
        printf "\\00$idx$payload" >"$corpus/fuzz_msg/$name"
    fi
done <<EOF
$examples
EOF
printf "$stream" >"$corpus/fuzz_frame/conversation"

# Members that the examples leave at their defaults.
printf '%s' '{"argv":["sleep","100"],"cwd":"/","env":["A=1","=C:=C:\\"],' \
    '"options":{"timeout_ms":90000,"kill_after_ms":2500}}' >"$corpus/fuzz_spawn/options"
printf '\003%s' '{"how":"signaled","signal":15,"core":true,"timed_out":true}' \
    >"$corpus/fuzz_msg/exit-timed-out"
printf '\010%s' '{"foreground":false}' >"$corpus/fuzz_msg/continue-background"
# A terminal at its bounds: the largest size, every control character, the
# longest flags, and streams in another order.
printf '%s' '{"argv":["sh"],"cwd":"/","env":[],"tty":{"streams":[2,0],' \
    '"foreground":false,"rows":65535,"cols":65535,"term":"screen.xterm-256color",' \
    '"modes":{"iflag":4294967295,"oflag":0,"cflag":0,"lflag":0,"ispeed":0,"ospeed":4098,' \
    '"cc":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}}}' \
    >"$corpus/fuzz_spawn/tty-bounds"

# Frame sequences for fuzz_rules: a side byte (0 sbx, 1 the runner; plus 2
# for a run without a terminal), then one byte per frame, the index in
# fuzz_rules.c's table of known types (0 hello, 1 spawn, 2 spawned,
# 3 spawn-error, 4 exit, 5 signal, 6 error, 7/8/9 stdin/stdout/stderr data,
# 10/11/12 their close, 13 stdin ack, 14 resize, 15 stopped, 16 continue,
# 17 terminal data, 18 terminal close, 19 spawn part).  The documented
# conversations as each side receives them, a spawn error, an error at
# once, and frames out of place (0xe0 + n: the raw type n).
printf '\000\000\002\010\011\015\013\014\012\015\004' >"$corpus/fuzz_rules/sbx-conversation"
printf '\000\000\003' >"$corpus/fuzz_rules/sbx-spawn-error"
printf '\000\006' >"$corpus/fuzz_rules/sbx-error-first"
printf '\000\000\015\013\002\013\013\010\004\010' >"$corpus/fuzz_rules/sbx-out-of-place"
printf '\001\000\001\007\005\013\012\005\007' >"$corpus/fuzz_rules/runner-conversation"
printf '\001\001\000\000\350\363\361\005' >"$corpus/fuzz_rules/runner-out-of-place"
printf '\000\000\002\021\015\017\021\017\022\021\004' >"$corpus/fuzz_rules/sbx-terminal"
printf '\001\000\001\021\016\020\021\020\005\022' >"$corpus/fuzz_rules/runner-terminal"
printf '\002\000\002\021\022\017\010\004' >"$corpus/fuzz_rules/sbx-no-terminal"
printf '\003\000\001\021\016\020\005\007' >"$corpus/fuzz_rules/runner-no-terminal"
printf '\001\000\023\023\023\001\023\007' >"$corpus/fuzz_rules/runner-spawn-parts"

# argv as NUL-separated strings: the spec's spawn argv, and the quoting
# rules' corners (backslashes before quotes and at the end, empty arguments,
# wildcards, a space in argv[0]).
printf 'printf\000%%s\\n\000a b\000caf\303\251\000\377' >"$corpus/fuzz_winargv/spawn-argv"
printf 'C:\\Program Files\\x.exe\000a\\\\\000"q"\000\000 \t\000*?\000b\\\\"c\\' \
    >"$corpus/fuzz_winargv/corners"
printf 'prog a\\\\\\"b "c d" """" e\\f ""' >"$corpus/fuzz_winargv/cmdline"

# WTF-8 bytes (a lone high and a lone low surrogate, a 4-byte character),
# and UTF-16LE units (a, a lone D800, b, the pair D83D DE00).
printf 'caf\303\251 \360\237\230\200' >"$corpus/fuzz_wtf8/utf8"
printf '\355\240\200x\355\260\200' >"$corpus/fuzz_wtf8/lone-surrogates"
printf 'a\000\000\330b\000\075\330\000\336' >"$corpus/fuzz_wtf8/utf16le"

# Member names and values of the JSON payloads, so mutations produce
# messages that get past the first member lookup.
cat >"$out/json.dict" <<'EOF'
"\"version\""
"\"nonce\""
"\"pid\""
"\"argv\""
"\"cwd\""
"\"env\""
"\"options\""
"\"timeout_ms\""
"\"kill_after_ms\""
"\"user\""
"31622400000"
"\"hex\""
"{\"hex\":\"ff\"}"
"\"stage\""
"\"error\""
"\"os_code\""
"\"message\""
"\"how\""
"\"exited\""
"\"signaled\""
"\"code\""
"\"signal\""
"\"core\""
"\"timed_out\""
"\"tty\""
"\"streams\""
"[0,1,2]"
"\"foreground\""
"\"rows\""
"\"cols\""
"65535"
"65536"
"\"term\""
"\"xterm-256color\""
"\"modes\""
"\"iflag\""
"\"oflag\""
"\"cflag\""
"\"lflag\""
"\"ispeed\""
"\"ospeed\""
"\"cc\""
"\"031c7f15\""
"\"exec\""
"\"ENOENT\""
"\"PATH=/bin\""
"\"=C:=C:\\\\\""
"\\u0000"
"\\ud800"
"\\udc00"
"true"
"false"
"null"
"4294967295"
"1e308"
"-0"
"0.5"
"{}"
"[]"
EOF

echo "seeds: $n examples from $doc into $corpus"
