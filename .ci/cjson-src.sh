#!/bin/sh
# Unpacks the cJSON sources of the distribution's own `cjson` source package
# into DEST (cJSON.c, cJSON.h), for cross-builds that cannot use the
# distribution's binary package.  The system's apt configuration is not
# touched: a private sources list with the matching deb-src line, private
# lists and cache, and the system's archive keyring for verification.
set -eu

dest=${1:?usage: cjson-src.sh DEST}
[ -f "$dest/cJSON.c" ] && [ -f "$dest/cJSON.h" ] && exit 0

. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
case ${ID:-} in
ubuntu) comps="main universe"; uri=http://archive.ubuntu.com/ubuntu
        keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg ;;
*)      comps=main; uri=http://deb.debian.org/debian
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg ;;
esac
# Prefer the mirror the system already uses for its own packages.
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/ { print $2; exit }' "$f")
    k=$(awk '/^Signed-By:/ { print $2; exit }' "$f")
    case $u in *security*|"") ;; *) uri=$u; [ -n "$k" ] && keyring=$k; break ;; esac
done
if [ -f /etc/apt/sources.list ]; then
    u=$(awk '$1 == "deb" && $2 !~ /security/ && $2 ~ /^http/ { print $2; exit }' /etc/apt/sources.list)
    [ -n "$u" ] && uri=$u
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=$keyring] $uri $codename $comps" > "$work/sources.list"
apt_opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/nonexistent
          -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache -o Debug::NoLocking=1
          -o APT::Sandbox::User=root"
echo "sbx: fetching Debian's cjson source package from $uri ($codename)" >&2
# shellcheck disable=SC2086
apt-get -qq $apt_opts update >&2
# shellcheck disable=SC2086
(cd "$work/src" && apt-get -qq $apt_opts source --download-only cjson >&2)
tarball=$(ls "$work/src"/cjson_*.orig.tar.* | head -n 1)
mkdir -p "$work/x" "$dest"
tar -xf "$tarball" -C "$work/x"
top=$(find "$work/x" -name cJSON.c | head -n 1)
cp "$top" "$(dirname "$top")/cJSON.h" "$(dirname "$top")/LICENSE" "$dest/"
echo "sbx: cJSON $(sed -n 's/.*CJSON_VERSION_MAJOR \([0-9]*\).*/\1/p' "$dest/cJSON.h").$(sed -n 's/.*CJSON_VERSION_MINOR \([0-9]*\).*/\1/p' "$dest/cJSON.h") sources in $dest" >&2
