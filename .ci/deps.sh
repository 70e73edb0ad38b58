#!/bin/sh
# Install what sbx needs to build (`build`) or to build and test (`test`).
# On Debian/Ubuntu the missing packages are installed with apt-get (through
# sudo when not root); elsewhere the exact packages are printed and the
# script fails, so `make` stops before a confusing compiler error.
set -eu

what=${1:-build}
case $what in
build) debs="gcc libc6-dev make pkg-config libcjson-dev" ;;
# Besides the compiler and libraries, every program the tests run that a
# minimal system (debootstrap --variant=minbase) may lack: sudo (the
# elevation tests start the runner through it; it brings visudo), passwd
# (useradd, groupadd, userdel, chpasswd for their throwaway accounts) and
# util-linux (setsid, nologin).  The rest (sh, bash for the terminal tests'
# job-control shell, coreutils with stty, perl) is essential.
test)  debs="gcc libc6-dev make pkg-config libcjson-dev libcriterion-dev sudo passwd util-linux" ;;
win)   debs="gcc-mingw-w64-x86-64 wine wine64 ca-certificates" ;;
fuzz)  debs="make pkg-config libcjson-dev clang libclang-rt-14-dev" ;;
*)     echo "usage: $0 build|test|win|fuzz" >&2; exit 2 ;;
esac
# Wanted, never required: .ci/cjson-src.sh needs patch and xz to compile
# cJSON in from the distribution's patched sources (make win cannot do
# without them); without them sbx links the shared libcjson.
case $what in build|test|win) soft="patch xz-utils" ;; *) soft= ;; esac
have_soft() { command -v patch >/dev/null 2>&1 && command -v xz >/dev/null 2>&1; }

have_pc() {
    if [ "$what" = fuzz ]; then
        # clang alone is not enough: libFuzzer and the sanitizers are a
        # separate package that clang only recommends.
        command -v clang >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1 &&
            pkg-config --exists libcjson &&
            [ -f "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" ]
        return
    fi
    if [ "$what" = win ]; then
        command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 && command -v wine >/dev/null 2>&1
        return
    fi
    command -v pkg-config >/dev/null 2>&1 || return 1
    pkg-config --exists libcjson || return 1
    [ "$what" = build ] && return
    pkg-config --exists criterion || return 1
    for prog in sudo visudo useradd groupadd userdel chpasswd setsid; do
        [ -x "/usr/sbin/$prog" ] || [ -x "/usr/bin/$prog" ] || [ -x "/sbin/$prog" ] ||
            [ -x "/bin/$prog" ] || return 1
    done
}

if have_pc; then
    if [ -n "$soft" ] && ! have_soft && command -v apt-get >/dev/null 2>&1 &&
        { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
        sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
        echo "sbx deps: installing: $soft" >&2
        # shellcheck disable=SC2086
        { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
          $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $soft; } >&2 ||
            echo "sbx deps: could not install $soft: sbx will link the shared libcjson" >&2
    fi
    exit 0
fi

if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
    missing=
    for p in $debs $soft; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case $st in *" installed") ;; *) missing="$missing $p" ;; esac
    done
    if [ -n "$missing" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            sudo=
        elif command -v sudo >/dev/null 2>&1; then
            sudo=sudo
        else
            echo "sbx deps: missing:$missing; run as root: apt-get install$missing" >&2
            exit 1
        fi
        echo "sbx deps: installing:$missing" >&2
        # Through env, not export: sudo resets the environment, and a
        # package that asks a question would wait for an answer that an
        # unattended run (CI, no stdin) never gives.
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        # shellcheck disable=SC2086
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
    fi
    have_pc && exit 0
    echo "sbx deps: packages installed but pkg-config still cannot find libcjson/criterion (or sudo, useradd or setsid is missing)" >&2
    exit 1
fi

if [ "$what" = fuzz ]; then
    echo "sbx deps: fuzzing needs clang with compiler-rt (libFuzzer, ASan, UBSan) and libcjson" >&2
    echo "  (Fedora: clang compiler-rt cjson-devel; Arch: clang compiler-rt cjson; Alpine: clang compiler-rt cjson-dev)" >&2
    exit 1
fi
if [ "$what" = win ]; then
    echo "sbx deps: the Windows cross-build needs x86_64-w64-mingw32-gcc and wine" >&2
    echo "  (Debian/Ubuntu: gcc-mingw-w64-x86-64 wine wine64; Fedora: mingw64-gcc wine)" >&2
    exit 1
fi
echo "sbx deps: cannot find libcjson$( [ "$what" = build ] || echo ' and criterion') with pkg-config$( [ "$what" = build ] || echo ', or sudo')." >&2
echo "Install, for your system:" >&2
echo "  Fedora/RHEL:  dnf install gcc make pkgconf cjson-devel$( [ "$what" = build ] || echo ' criterion-devel sudo')" >&2
echo "  Arch:         pacman -S gcc make pkgconf cjson$( [ "$what" = build ] || echo ' criterion sudo')" >&2
echo "  Alpine:       apk add gcc make musl-dev pkgconf cjson-dev$( [ "$what" = build ] || echo ' criterion-dev sudo')" >&2
echo "  openSUSE:     zypper install gcc make pkg-config cjson-devel$( [ "$what" = build ] || echo ' criterion-devel sudo')" >&2
exit 1
