#!/usr/bin/env bash
# test/bench/run.sh: the sbx benchmark behind `make bench`.
#
# Builds an optimised sbx into build/bench, then measures sbx against the
# alternatives of issue 6 and prints ONE markdown table, with the machine and
# the build described above it.  Every row is measured side by side in this
# run: the commands of a row alternate (hyperfine rounds, the order rotated
# each round, or our own alternating loops), and each cell is the median with
# the 25th-75th percentile spread over all repetitions.
#
#   make bench  (or: bash test/bench/run.sh)   about 3 minutes on 2 cores
#   BENCH_QUICK=1 make bench     about a minute: fewer runs, 256 MiB files
#   BENCH_NO_WINE=1 make bench   without the Wine rows
#
# Needs hyperfine (installed with apt-get when missing and run as root);
# installs sudo the same way for the sudo rows.  As root, the row "through
# sudo as an ordinary user" creates a throwaway account, sbxb-bench (the
# name is this script's), with a NOPASSWD rule in /etc/sudoers.d for sbx's
# runner and true only, and removes both at the end, however the run ends
# short of SIGKILL.  The Wine rows need
# `make win` (mingw-w64 and Wine, which .ci/deps.sh installs as for
# `make check`); without them they are skipped, and the table says so.  Data
# files and raw results stay in build/bench.  Nothing here is a test: the
# targets are reported, never enforced.  docs/performance.md explains the
# rows and the figures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
B=build/bench
T=$B/tools
D=$B/data
R=$B/results
quick=${BENCH_QUICK:-0}
MAKE=${MAKE:-make}
notes=()

note() { notes+=("$*"); }

# Whatever the run sets up outside build/bench, undone on the way out.
cleanups=()
cleanup() {
    local i
    for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done
    cleanups=()
}
trap cleanup EXIT
trap 'cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; trap - TERM; kill -TERM $$' TERM
say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# ---- tools ------------------------------------------------------------------

# Installs a Debian package when its command is missing and we may (root,
# apt-get present).  Returns whether the command is there afterwards.
want_cmd() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing $pkg with apt-get"
        { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg"; } \
            >"$B/apt-$pkg.log" 2>&1 || true
        command -v "$cmd" >/dev/null 2>&1 && { note "$pkg was installed by this run (apt-get)."; return 0; }
    fi
    return 1
}

# Before we add any load of our own.
load_start=$(cut -d" " -f1-3 /proc/loadavg)
mkdir -p "$B" "$T" "$D"
rm -rf "$R"
mkdir -p "$R"

want_cmd hyperfine hyperfine ||
    die "hyperfine is needed (Debian: apt-get install hyperfine)"
have_sudo=0
if want_cmd sudo sudo && sudo -n true >/dev/null 2>&1; then
    have_sudo=1
else
    note "sudo rows skipped: sudo is missing or asks for a password (sudo -n true failed)."
fi

# ---- build ------------------------------------------------------------------

OPT="-O2 -DNDEBUG"
# What is built, noted now: the tree may change while the benchmark runs.
rev="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
git diff --quiet HEAD -- src cli runner Makefile 2>/dev/null || rev+=" plus uncommitted changes to src, cli, runner or the Makefile"
say "building sbx into $B ($OPT)"
$MAKE --no-print-directory B="$B" OPT="$OPT" >"$R/build.log" 2>&1 ||
    { cat "$R/build.log" >&2; die "build failed"; }
for t in lines gen same ttfb rss; do
    ${CC:-cc} -O2 -Wall -Wextra -o "$T/$t" "test/bench/$t.c" ||
        die "cannot build test/bench/$t.c"
done
SBX=$B/sbx

win=0
if [ -n "${BENCH_NO_WINE:-}" ]; then
    note "Wine rows skipped: BENCH_NO_WINE is set."
elif sh .ci/deps.sh win >"$R/win-deps.log" 2>&1; then
    if $MAKE --no-print-directory win >"$R/win-build.log" 2>&1 &&
       x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -static -o "$T/wincat.exe" test/bench/wincat.c; then
        win=1
    else
        note "Wine rows skipped: make win failed (see $R/win-build.log)."
    fi
else
    note "Wine rows skipped: no mingw-w64/Wine here (see $R/win-deps.log)."
fi

# ---- parameters -------------------------------------------------------------

if [ "$quick" = 1 ]; then
    st_rounds=3 st_runs=20
    tp_size=256 tp_rounds=2 tp_runs=1
    sw_lines=1000000 sw_rounds=2 sw_runs=1
    tt_reps=5
    mem_reps=1
    cc_n=32 cc_rounds=1
    pt_rounds=2 pt_runs=2
    w_st_rounds=2 w_st_runs=5 w_tp_size=64 w_tp_rounds=1
else
    st_rounds=10 st_runs=32
    tp_size=1024 tp_rounds=15 tp_runs=1
    sw_lines=1000000 sw_rounds=10 sw_runs=1
    tt_reps=15
    mem_reps=5
    cc_n=32 cc_rounds=5
    pt_rounds=5 pt_runs=2
    w_st_rounds=5 w_st_runs=8 w_tp_size=256 w_tp_rounds=3
fi

# ---- data -------------------------------------------------------------------

# Random bytes, so nothing on the path can take a shortcut.  The big file is
# kept between runs; the smaller ones are its prefixes.
make_data() {
    local mib=$1 f=$D/rand-$1m
    if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" != $((mib * 1048576)) ]; then
        say "writing $f"
        if [ -f "$D/rand-1024m" ] && [ "$mib" -le 1024 ]; then
            head -c "$((mib * 1048576))" "$D/rand-1024m" >"$f"
        else
            head -c "$((mib * 1048576))" /dev/urandom >"$f"
        fi
    fi
    cat "$f" >/dev/null # into the page cache: we measure sbx, not the disk
    echo "$f"
}
F_TP=$(make_data "$tp_size")
F_64=$(make_data 64)

# ---- measuring --------------------------------------------------------------

# hf GROUP SHELL WARMUP ROUNDS RUNS  NAME CMD [NAME CMD ...]
# Runs hyperfine ROUNDS times over all the commands, RUNS runs each, the
# order rotated every round so that no command always goes first or last
# (WARMUP unmeasured runs each come before the first round only), and
# appends every run's wall time (seconds) to $R/NAME.t.  SHELL is
# "none" (hyperfine -N: no shell, for the startup rows) or "sh" (pipelines;
# hyperfine subtracts the shell's own start).  With hf_as set (a command
# prefix that runs hyperfine as another account), hyperfine runs that way
# in the directory hf_dir, which that account can write, and its JSON is
# copied from there.
hf_as=()
hf_dir=
hf() {
    local group=$1 shell=$2 warm=$3 rounds=$4 runs=$5
    shift 5
    local names=() cmds=() args r j i k
    while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
    k=${#names[@]}
    for ((r = 0; r < rounds; r++)); do
        args=()
        for ((j = 0; j < k; j++)); do
            i=$(((j + r) % k))
            args+=(-n "${names[i]}" "${cmds[i]}")
        done
        # Warm-up runs only in the first round: after it, caches and the
        # page cache are as warm as they get, and the rounds alternate.
        local json=$R/$group-$r.json
        [ ${#hf_as[@]} -eq 0 ] || json=$hf_dir/$group-$r.json
        (if [ ${#hf_as[@]} -gt 0 ]; then cd "$hf_dir"; fi
         ${hf_as[@]+"${hf_as[@]}"} hyperfine --shell="$shell" --style=none -w "$((r == 0 ? warm : 0))" \
            -r "$runs" --export-json "$json" "${args[@]}") >>"$R/hyperfine.log" 2>&1 ||
            { tail -5 "$R/hyperfine.log" >&2; die "hyperfine failed in $group (log: $R/hyperfine.log)"; }
        [ "$json" = "$R/$group-$r.json" ] || cp "$json" "$R/$group-$r.json"
        awk '
            /"command": / { c = $0; sub(/^[^:]*: "/, "", c); sub(/",?[ \t]*$/, "", c); next }
            /"times": \[/ { t = 1; next }
            t && /\]/     { t = 0; next }
            t             { v = $0; gsub(/[ ,\t]/, "", v); print v >> (dir "/" c ".t") }
        ' dir="$R" "$R/$group-$r.json"
    done
}

# stats FILE: "median p25 p75 n" of the numbers in FILE, one a line.
stats() {
    sort -g "$1" | awk '
        { a[NR] = $1 }
        END {
            if (NR == 0) { print "nan nan nan 0"; exit }
            m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            print m, a[int((NR - 1) * 0.25 + 0.5) + 1], a[int((NR - 1) * 0.75 + 0.5) + 1], NR
        }'
}
med() { stats "$1" | cut -d' ' -f1; }
# cell FILE SCALE DIGITS UNIT: "median [p25-p75] UNIT" with values times SCALE.
cell() {
    stats "$1" | awk -v s="$2" -v d="$3" -v u="$4" \
        '{ printf "%.*f %s [%.*f-%.*f], n=%d", d, $1 * s, u, d, $2 * s, d, $3 * s, $4 }'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
yesno() { if awk "BEGIN { exit !($1) }"; then echo "yes"; else echo "**no**"; fi; }

rows=()
# A pipe inside a cell would end it: markdown wants it escaped.
row() {
    local c line="|"
    for c in "$@"; do line+=" ${c//|/\\|} |"; done
    rows+=("$line")
}

# ---- startup ----------------------------------------------------------------

say "startup ($((st_rounds * st_runs)) runs each)"
st_cmds=(sbx_true "$SBX run --same-user -- true" true "true")
if [ "$have_sudo" = 1 ]; then
    st_cmds+=(sudo_true "sudo -n true" sudo_sbx_true "sudo -n $SBX run --same-user -- true")
fi
hf startup none 5 "$st_rounds" "$st_runs" "${st_cmds[@]}"
ov=$(calc "%.2f" "($(med "$R/sbx_true.t") - $(med "$R/true.t")) * 1000")
row "Startup" "\`sbx run --same-user -- true\`: $(cell "$R/sbx_true.t" 1000 2 ms)" \
    "\`true\`: $(cell "$R/true.t" 1000 2 ms)" "+$ov ms" "<= +1.5 ms" "$(yesno "$ov <= 1.5")"
if [ "$have_sudo" = 1 ]; then
    sov=$(calc "%.2f" "($(med "$R/sudo_true.t") - $(med "$R/true.t")) * 1000")
    row "Startup vs sudo" "\`sbx run --same-user -- true\`: $(cell "$R/sbx_true.t" 1000 2 ms)" \
        "\`sudo -n true\`: $(cell "$R/sudo_true.t" 1000 2 ms)" \
        "sbx +$ov ms, sudo +$sov ms over \`true\`" "(context)" "-"
    uov=$(calc "%.2f" "($(med "$R/sudo_sbx_true.t") - $(med "$R/sudo_true.t")) * 1000")
    row "Startup through sudo" "\`sudo -n sbx run --same-user -- true\`: $(cell "$R/sudo_sbx_true.t" 1000 2 ms)" \
        "\`sudo -n true\`: $(cell "$R/sudo_true.t" 1000 2 ms)" "+$uov ms" "<= sudo +1.5 ms" \
        "$(yesno "$uov <= 1.5")"
fi

# ---- startup through sudo, as an ordinary user ------------------------------

# What a user with a NOPASSWD rule sees: sbx, not root, elevates through
# `sudo -n` (sbx's -n), against that user's own `sudo -n true`.  The account
# is a throwaway one; the rule names sbx's runner and true, nothing else.
# The build is copied where the account can read it (build/ may not be
# passable for others), sbx-runner beside sbx, and hyperfine runs as the
# account (setpriv, no login session) in a directory of the account's there.
user_sudo_row() {
    local u=sbxb-bench bt rule=/etc/sudoers.d/sbxb-bench tbin
    if [ "$have_sudo" != 1 ] || [ "$(id -u)" -ne 0 ]; then
        note "Row through sudo as an ordinary user skipped: it needs root and sudo."
        return
    fi
    for c in useradd userdel setpriv visudo; do
        command -v "$c" >/dev/null 2>&1 ||
            { note "Row through sudo as an ordinary user skipped: no $c here."; return; }
    done
    tbin=$(type -P true)
    bt=$(mktemp -d /tmp/sbx-bench.XXXXXX)
    cleanups+=("rm -rf '$bt'")
    chmod 0755 "$bt"
    install -m 0755 "$SBX" "$B/sbx-runner" "$bt/"
    if ! id "$u" >/dev/null 2>&1; then
        useradd -M -r -d / -s /bin/sh "$u" >>"$R/user.log" 2>&1 ||
            { note "Row through sudo as an ordinary user skipped: useradd failed (see $R/user.log)."; return; }
    fi
    cleanups+=("userdel '$u' >>'$R/user.log' 2>&1")
    cleanups+=("rm -f '$rule'")
    printf '%s ALL=(root) NOPASSWD: %s, %s\n' "$u" "$bt/sbx-runner" "$tbin" >"$rule.tmp"
    chmod 0440 "$rule.tmp"
    if ! visudo -cqf "$rule.tmp" >>"$R/user.log" 2>&1; then
        rm -f "$rule.tmp"
        note "Row through sudo as an ordinary user skipped: visudo refused the rule (see $R/user.log)."
        return
    fi
    mv "$rule.tmp" "$rule"
    install -d -o "$u" -m 0700 "$bt/out"
    hf_as=(setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/)
    hf_dir=$bt/out
    if ! "${hf_as[@]}" sh -c "cd '$bt' && sudo -n true && ./sbx run -n -- true" >>"$R/user.log" 2>&1; then
        hf_as=()
        note "Row through sudo as an ordinary user skipped: the account could not run through sudo (see $R/user.log)."
        return
    fi
    say "startup through sudo as $u ($((st_rounds * st_runs)) runs each)"
    hf user-sudo none 5 "$st_rounds" "$st_runs" \
        user_sudo_true "sudo -n true" user_sbx_true "$bt/sbx run -n -- true"
    hf_as=()
    local dov
    dov=$(calc "%.2f" "($(med "$R/user_sbx_true.t") - $(med "$R/user_sudo_true.t")) * 1000")
    row "Startup through sudo (an ordinary user with a NOPASSWD rule)" \
        "\`sbx run -n -- true\` as that user: $(cell "$R/user_sbx_true.t" 1000 2 ms)" \
        "\`sudo -n true\` as that user: $(cell "$R/user_sudo_true.t" 1000 2 ms)" "+$dov ms" \
        "<= sudo +1.5 ms" "$(yesno "$dov <= 1.5")"
    cleanup
}
user_sudo_row

# ---- throughput -------------------------------------------------------------

say "throughput ($tp_size MiB, $((tp_rounds * tp_runs)) runs each)"
hf throughput sh 1 "$tp_rounds" "$tp_runs" \
    relay "cat $F_TP | cat | cat > /dev/null" \
    sbx_null "$SBX run --same-user -- cat $F_TP > /dev/null" \
    sbx_pipe "$SBX run --same-user -- cat $F_TP | cat > /dev/null" \
    relay3 "cat $F_TP | cat | cat | cat > /dev/null"
mbs() { calc "%.0f" "$tp_size * 1.048576 / $(med "$1")"; }
# spread FILE: (75th - 25th percentile) / median.
spread() { stats "$1" | awk '{ printf "%.2f", ($3 - $2) / $1 }'; }
for v in null pipe; do
    ratio=$(calc "%.2f" "$(med "$R/relay.t") / $(med "$R/sbx_$v.t")")
    if [ $v = null ]; then
        what="> /dev/null" target=">= 0.9x" met=$(yesno "$ratio >= 0.9") sp=
    else
        # Into a pipe, steadily: the spread between runs is part of it.
        sp=$(spread "$R/sbx_$v.t")
        what="| cat > /dev/null" target=">= 1.2x, 25th-75th within 15% of the median"
        met=$(yesno "$ratio >= 1.2 && $sp <= 0.15")
        sp=", 25th-75th $(calc "%.0f" "$sp * 100")% of the median"
    fi
    row "Throughput, $tp_size MiB, sbx $what" \
        "\`sbx run --same-user -- cat FILE $what\`: $(cell "$R/sbx_$v.t" 1 3 s), $(mbs "$R/sbx_$v.t") MB/s" \
        "\`cat FILE | cat | cat > /dev/null\`: $(cell "$R/relay.t" 1 3 s), $(mbs "$R/relay.t") MB/s" \
        "${ratio}x$sp" "$target" "$met"
done
ratio=$(calc "%.2f" "$(med "$R/relay3.t") / $(med "$R/sbx_pipe.t")")
row "Throughput into a pipe, same shape" \
    "\`sbx run --same-user -- cat FILE | cat > /dev/null\`: $(cell "$R/sbx_pipe.t" 1 3 s)" \
    "\`cat FILE | cat | cat | cat > /dev/null\`: $(cell "$R/relay3.t" 1 3 s), $(mbs "$R/relay3.t") MB/s" \
    "${ratio}x" "(context)" "-"

# ---- many small writes ------------------------------------------------------

say "small writes ($sw_lines lines, $((sw_rounds * sw_runs)) runs each)"
hf small sh 1 "$sw_rounds" "$sw_runs" \
    lines_direct "$T/lines $sw_lines | cat > /dev/null" \
    lines_sbx "$SBX run --same-user -- $T/lines $sw_lines | cat > /dev/null"
ratio=$(calc "%.2f" "$(med "$R/lines_sbx.t") / $(med "$R/lines_direct.t")")
row "Small writes: $sw_lines lines, flushed each" \
    "\`sbx run --same-user -- lines N | cat > /dev/null\`: $(cell "$R/lines_sbx.t" 1 3 s)" \
    "\`lines N | cat > /dev/null\`: $(cell "$R/lines_direct.t" 1 3 s)" \
    "${ratio}x the time" "<= 1.1x" "$(yesno "$ratio <= 1.1")"

# The first line must arrive live: the child writes it, then sleeps 200 ms
# before the next 999; arriving before the sleep ends means it was relayed at
# once, not with the rest.
say "first line ($tt_reps runs each)"
for ((i = 0; i < tt_reps; i++)); do
    "$T/ttfb" "$T/lines" 1000 200 | awk '{ print $1 / 1000 }' >>"$R/ttfb_direct.t"
    "$T/ttfb" "$SBX" run --same-user -- "$T/lines" 1000 200 | awk '{ print $1 / 1000 }' >>"$R/ttfb_sbx.t"
done
tmax=$(sort -g "$R/ttfb_sbx.t" | tail -1)
row "First line live (child sleeps 200 ms after it)" \
    "time to first byte via sbx: $(cell "$R/ttfb_sbx.t" 1000 2 ms)" \
    "directly: $(cell "$R/ttfb_direct.t" 1000 2 ms)" \
    "slowest via sbx $(calc "%.1f" "$tmax * 1000") ms" "before the 200 ms sleep ends" \
    "$(yesno "$tmax < 0.2")"

# ---- memory -----------------------------------------------------------------

# test/bench/rss.c: VmHWM of sbx and of sbx-runner, sampled every 2 ms.
say "peak RSS (64 MiB and 4 GiB, $mem_reps runs each)"
for ((i = 0; i < mem_reps; i++)); do
    for size in 64M 4G; do
        "$T/rss" "$SBX" run --same-user -- "$T/gen" "$size" 2>>"$R/rss-$size.raw" >/dev/null ||
            die "sbx failed streaming $size"
    done
done
for size in 64M 4G; do
    awk '{ print $1 }' "$R/rss-$size.raw" >"$R/rss_sbx_$size.t"
    awk '{ print $2 }' "$R/rss-$size.raw" >"$R/rss_runner_$size.t"
done
for p in sbx runner; do
    a=$(sort -g "$R/rss_${p}_64M.t" | tail -1) z=$(sort -g "$R/rss_${p}_4G.t" | tail -1)
    [ $p = sbx ] && pn=sbx || pn=sbx-runner
    row "Peak RSS of $pn (max of $mem_reps)" "4 GiB through: $(calc "%.2f" "$z / 1024") MiB" \
        "64 MiB through: $(calc "%.2f" "$a / 1024") MiB" "$(calc "%+.0f" "$z - $a") KiB" \
        "<= 2.5 MiB, flat (+-256 KiB)" \
        "$(yesno "$z <= 2560 && $a <= 2560 && $z - $a <= 256 && $a - $z <= 256")"
done

# ---- concurrency ------------------------------------------------------------

say "concurrency ($cc_n x 64 MiB, $cc_rounds runs each)"
hf concurrency sh 0 "$cc_rounds" 1 \
    conc_direct "test/bench/conc.sh direct $cc_n $F_64 $SBX $T/same $R/conc-direct.ok" \
    conc_sbx "test/bench/conc.sh sbx $cc_n $F_64 $SBX $T/same $R/conc-sbx.ok" \
    conc_relay "test/bench/conc.sh relay $cc_n $F_64 $SBX $T/same $R/conc-relay.ok"
ratio=$(calc "%.2f" "$(med "$R/conc_sbx.t") / $(med "$R/conc_direct.t")")
rratio=$(calc "%.2f" "$(med "$R/conc_sbx.t") / $(med "$R/conc_relay.t")")
row "Concurrency: $cc_n x 64 MiB at once" \
    "$cc_n \`sbx run --same-user -- cat FILE | same FILE\`: $(cell "$R/conc_sbx.t" 1 2 s), $(cat "$R/conc-sbx.ok")/$cc_n byte-exact in every run" \
    "$cc_n \`cat FILE | same FILE\`: $(cell "$R/conc_direct.t" 1 2 s); as a 2-hop relay: $(cell "$R/conc_relay.t" 1 2 s)" \
    "${ratio}x direct, ${rratio}x the relay" "<= 1.3x direct, all byte-exact" \
    "$( [ "$(cat "$R/conc-sbx.ok")" = "$cc_n" ] && yesno "$ratio <= 1.3" || echo '**no**')"

# ---- through a terminal -----------------------------------------------------

# 64 MiB written to a terminal: the command on a pseudo-terminal of
# script(1)'s directly, through sbx (which then gives it a terminal of its
# own and relays it), and through sudo with use_pty (which does the same).
# The output crosses the line discipline (ONLCR) either way.
if command -v script >/dev/null 2>&1; then
    say "through a terminal (64 MiB, $((pt_rounds * pt_runs)) runs each)"
    pt_cmds=(pty_direct "script -qfec 'cat $F_64' /dev/null </dev/null >/dev/null"
             pty_sbx "script -qfec '$SBX run --same-user -- cat $F_64' /dev/null </dev/null >/dev/null")
    pty_sudo=0
    if [ "$have_sudo" = 1 ] && sudo -n -l 2>/dev/null | grep -q use_pty; then
        pty_sudo=1
        pt_cmds+=(pty_sudo "script -qfec 'sudo -n cat $F_64' /dev/null </dev/null >/dev/null")
    else
        note "pty row without sudo: sudo is missing, asks for a password, or has no use_pty default."
    fi
    hf pty sh 1 "$pt_rounds" "$pt_runs" "${pt_cmds[@]}"
    ratio=$(calc "%.2f" "$(med "$R/pty_sbx.t") / $(med "$R/pty_direct.t")")
    if [ "$pty_sudo" = 1 ]; then
        sratio=$(calc "%.2f" "$(med "$R/pty_sbx.t") / $(med "$R/pty_sudo.t")")
        row "Through a terminal, 64 MiB" \
            "\`script -c 'sbx run --same-user -- cat FILE'\`: $(cell "$R/pty_sbx.t" 1 3 s)" \
            "\`script -c 'sudo cat FILE'\` (use_pty): $(cell "$R/pty_sudo.t" 1 3 s); \`script -c 'cat FILE'\`: $(cell "$R/pty_direct.t" 1 3 s)" \
            "${sratio}x sudo, ${ratio}x direct" "<= 1.0x sudo" "$(yesno "$sratio <= 1.0")"
    else
        row "Through a terminal, 64 MiB" \
            "\`script -c 'sbx run --same-user -- cat FILE'\`: $(cell "$R/pty_sbx.t" 1 3 s)" \
            "\`script -c 'cat FILE'\`: $(cell "$R/pty_direct.t" 1 3 s)" \
            "${ratio}x direct" "(no sudo to compare)" "-"
    fi
else
    note "pty row skipped: script(1) (util-linux) is missing."
fi

# ---- Windows under Wine -----------------------------------------------------

if [ "$win" = 1 ]; then
    export WINEPREFIX=$root/build/wineprefix WINEDEBUG=-all
    say "Wine (prefix $WINEPREFIX)"
    wine cmd /c exit >/dev/null 2>&1 || true # a first start creates the prefix
    F_W=$(make_data "$w_tp_size")
    wcat=$T/wincat.exe
    zcat=$(printf '%q' "Z:$root/$T/wincat.exe") zfile=$(printf '%q' "Z:$root/$F_W")
    hf wine-startup none 3 "$w_st_rounds" "$w_st_runs" \
        w_sbx_true "wine build/win/sbx.exe run --same-user -- $zcat --true" \
        w_true "wine $wcat --true"
    ov=$(calc "%.1f" "($(med "$R/w_sbx_true.t") - $(med "$R/w_true.t")) * 1000")
    row "Wine: startup" "\`sbx.exe run -- wincat.exe --true\`: $(cell "$R/w_sbx_true.t" 1000 1 ms)" \
        "\`wincat.exe --true\`: $(cell "$R/w_true.t" 1000 1 ms)" "+$ov ms" "(Wine figure)" "-"
    hf wine-throughput sh 0 "$w_tp_rounds" 1 \
        w_sbx_null "wine build/win/sbx.exe run --same-user -- $zcat $zfile > /dev/null" \
        w_sbx_pipe "wine build/win/sbx.exe run --same-user -- $zcat $zfile | cat > /dev/null" \
        w_relay "wine $wcat $zfile | wine $wcat | wine $wcat > /dev/null"
    # The target is a rate: twice that of 6e9b48b, whose sbx.exe took
    # 1.12 s for 256 MiB into /dev/null (240 MB/s), so >= 479 MB/s.
    w_goal=$(calc "%.0f" "2 * 256 * 1.048576 / 1.12")
    for v in null pipe; do
        ratio=$(calc "%.2f" "$(med "$R/w_relay.t") / $(med "$R/w_sbx_$v.t")")
        rate=$(calc "%.0f" "$w_tp_size * 1.048576 / $(med "$R/w_sbx_$v.t")")
        [ $v = null ] && what="> /dev/null" || what="| cat > /dev/null"
        row "Wine: throughput, $w_tp_size MiB, sbx.exe $what" \
            "\`sbx.exe run -- wincat.exe FILE $what\`: $(cell "$R/w_sbx_$v.t" 1 2 s), $rate MB/s" \
            "\`wincat.exe FILE | wincat.exe | wincat.exe > /dev/null\`: $(cell "$R/w_relay.t" 1 2 s), $(calc "%.0f" "$w_tp_size * 1.048576 / $(med "$R/w_relay.t")") MB/s" \
            "${ratio}x the relay, $rate MB/s" ">= $w_goal MB/s (2x the 1.12 s for 256 MiB of 6e9b48b)" \
            "$(yesno "$rate >= $w_goal")"
    done
fi

# ---- the table --------------------------------------------------------------

title=
if [ "$quick" = 1 ]; then title=" (BENCH_QUICK=1)"; fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    echo "## sbx benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')$title"
    echo
    echo "- Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "- Load average before the run: $load_start$(echo "$load_start" | awk '$1 > 0.5 { printf " (not idle: other work on the machine inflates every row)" }')"
    echo "- Build: \`$MAKE B=$B OPT=\"$OPT\"\` with $(${CC:-cc} --version | head -1), $rev, $("$SBX" --version)"
    echo "- Driver: $(hyperfine --version); cells are median [25th-75th percentile], n = runs; commands of a row alternate"
    [ "$win" = 1 ] && echo "- Wine: $(wine --version 2>/dev/null), build/win from \`make win\` (-O2, static); Wine figures, not Windows figures"
    for n in "${notes[@]}"; do echo "- $n"; done
    echo
    echo "| Row | sbx | Baseline | Result | Target | Met |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Raw data: $R/ (hyperfine JSON, one file of times per command)."
} | tee "$R/table.md"
