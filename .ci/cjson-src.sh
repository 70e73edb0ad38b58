#!/bin/sh
# Unpacks the cJSON sources of the distribution's own `cjson` source package,
# with the distribution's patches applied (its security fixes among them),
# into DEST (cJSON.c, cJSON.h, LICENSE, and VERSION, the package version,
# written last).  For builds that compile cJSON in: sbx and sbx-runner, and
# the Windows cross-build, which cannot use the binary package.  The
# system's apt configuration is not touched: a private sources list with the
# matching deb-src lines (the release, its updates and its security
# updates), private lists and cache, and the system's archive keyring for
# verification.  Needs apt-get, patch and xz; fails, saying why, without.
set -eu

dest=${1:?usage: cjson-src.sh DEST}
[ -f "$dest/cJSON.c" ] && [ -f "$dest/cJSON.h" ] && [ -f "$dest/VERSION" ] && exit 0

for tool in apt-get patch xz; do
    command -v $tool >/dev/null 2>&1 || { echo "sbx: cjson-src.sh needs $tool" >&2; exit 1; }
done
. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
case ${ID:-} in
ubuntu) comps="main universe"; uri=http://archive.ubuntu.com/ubuntu; sec_uri=$uri
        keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg ;;
*)      comps=main; uri=http://deb.debian.org/debian; sec_uri=http://deb.debian.org/debian-security
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg ;;
esac
# Prefer the mirrors the system already uses for its own packages.
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/ { print $2; exit }' "$f")
    k=$(awk '/^Signed-By:/ { print $2; exit }' "$f")
    case $u in "") ;; *security*) sec_uri=$u ;; *) uri=$u; [ -n "$k" ] && keyring=$k ;; esac
done
if [ -f /etc/apt/sources.list ]; then
    u=$(awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /^http/ { print $2; exit }' /etc/apt/sources.list)
    [ -n "$u" ] && uri=$u
    u=$(awk '$1 == "deb" && $2 ~ /security/ && $2 ~ /^http/ { print $2; exit }' /etc/apt/sources.list)
    [ -n "$u" ] && sec_uri=$u
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
{
    echo "deb-src [signed-by=$keyring] $uri $codename $comps"
    echo "deb-src [signed-by=$keyring] $uri $codename-updates $comps"
    echo "deb-src [signed-by=$keyring] $sec_uri $codename-security $comps"
} > "$work/sources.list"
apt_opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/nonexistent
          -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache -o Debug::NoLocking=1
          -o APT::Sandbox::User=root"
echo "sbx: fetching Debian's cjson source package from $uri ($codename)" >&2
# A release without an updates or security suite (testing, unstable) fails
# that part of the update; what the others gave is enough for the source.
# shellcheck disable=SC2086
apt-get -qq $apt_opts update >"$work/update.log" 2>&1 || true
# shellcheck disable=SC2086
if ! (cd "$work/src" && apt-get -qq $apt_opts source --download-only cjson >&2); then
    cat "$work/update.log" >&2
    exit 1
fi
dsc=$(ls "$work/src"/cjson_*.dsc | head -n 1)
version=$(sed -n 's/^Version: *//p' "$dsc" | head -n 1)
mkdir -p "$work/x"
tar -xf "$(ls "$work/src"/cjson_*.orig.tar.* | head -n 1)" -C "$work/x"
top=$(dirname "$(find "$work/x" -name cJSON.c | head -n 1)")
# The distribution's changes ("3.0 (quilt)": debian/patches/series, in order).
if ls "$work/src"/cjson_*.debian.tar.* >/dev/null 2>&1; then
    tar -xf "$(ls "$work/src"/cjson_*.debian.tar.* | head -n 1)" -C "$top"
    if [ -f "$top/debian/patches/series" ]; then
        sed -e 's/#.*//' "$top/debian/patches/series" | while read -r name level; do
            [ -n "$name" ] || continue
            patch -s -d "$top" "${level:--p1}" <"$top/debian/patches/$name" ||
                { echo "sbx: cannot apply debian/patches/$name" >&2; exit 1; }
        done
    fi
fi
# Into place, the version last: it marks a complete copy.
mkdir -p "$dest"
cp "$top/cJSON.c" "$top/cJSON.h" "$top/LICENSE" "$dest/"
echo "$version" >"$dest/VERSION"
echo "sbx: cJSON sources of Debian's cjson $version, patched, in $dest" >&2
