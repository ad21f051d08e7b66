#!/bin/sh
# Builds the Debian package of kioskd with dpkg-deb (no debhelper):
#     sh tools/mkdeb.sh BINARY OUTDIR
# prints the path of OUTDIR/kioskd_VERSION_ARCH.deb. The version is the one
# `BINARY --version` reports (DEB_VERSION overrides it); the architecture is
# dpkg's (DEB_ARCH overrides it). Depends comes from dpkg-shlibdeps when
# dpkg-dev is installed, else from the list of Debian 12 packages below.
# For another architecture (make deb ARCH=arm64): KIOSKD_RUNNER starts the
# binary (qemu-user), STRIP names the cross strip, DEB_HOST_ARCH the libraries.
set -eu

bin=${1:?usage: tools/mkdeb.sh BINARY OUTDIR}
out=${2:?usage: tools/mkdeb.sh BINARY OUTDIR}
top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/deploy

# A sanitizer build (make SAN=1) never goes into a package: under the unit's
# seccomp filter its leak checker cannot attach (no ptrace) and dies at exit
# with status 1, so a configuration error (exit 2) would be restarted forever.
if grep -q -a -e __asan_init -e __ubsan_handle "$bin"; then
    echo "mkdeb: $bin is a sanitizer build (make SAN=1); package a release build (make deb)" >&2
    exit 1
fi

version=${DEB_VERSION:-$(${KIOSKD_RUNNER:-} "$bin" --version | sed -n '1s/^kioskd \([^ ]*\).*/\1/p')}
[ -n "$version" ] || { echo "mkdeb: cannot read the version of $bin" >&2; exit 1; }
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
maintainer=${DEB_MAINTAINER:-kioskd maintainers <kioskd-maintainers@example.org>}
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/kioskd
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$doc" "$root/usr/share/man/man8"

# the binary, stripped (its debugging symbols stay in the build tree)
${STRIP:-strip} --strip-unneeded --remove-section=.comment --remove-section=.note -o "$root/usr/bin/kioskd" "$bin"
chmod 0755 "$root/usr/bin/kioskd"
install -D -m 0644 "$here/kioskd.service" "$root/lib/systemd/system/kioskd.service"
install -D -m 0644 "$here/kioskd.conf" "$root/etc/kioskd/kioskd.conf"

# documentation: compressed as Debian policy asks
install -m 0644 "$here/debian/copyright" "$doc/copyright"
sed -e "s|@VERSION@|$version|" -e "s|@COMMIT@|$commit|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@DATE@|$date|" "$here/debian/changelog" | gzip -9n >"$doc/changelog.gz"
for f in operations.md config.md; do
    gzip -9n <"$top/docs/$f" >"$doc/$f.gz"
done
sed "s|@VERSION@|$version|" "$here/kioskd.8" | gzip -9n >"$root/usr/share/man/man8/kioskd.8.gz"
find "$root" -type d -exec chmod 0755 {} +
find "$root/usr/share" -type f -exec chmod 0644 {} +

for s in postinst prerm postrm; do
    install -m 0755 "$here/debian/$s" "$root/DEBIAN/$s"
done
echo /etc/kioskd/kioskd.conf >"$root/DEBIAN/conffiles"

# the shared libraries the binary links, as Debian 12 package names
if command -v dpkg-shlibdeps >/dev/null; then
    mkdir -p "$work/src/debian"
    printf 'Source: kioskd\n\nPackage: kioskd\nArchitecture: any\n' >"$work/src/debian/control"
    shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$root/usr/bin/kioskd" 2>"$work/shlibdeps.err" |
        sed -n 's/^shlibs:Depends=//p') || true
    [ -n "$shlibs" ] || cat "$work/shlibdeps.err" >&2
else
    shlibs="libargon2-1, libc6 (>= 2.34), libcsv3, libcurl4, libexpat1, libinih1, libjansson4,
libmbedcrypto7, libpng16-16, libqrencode4, libsqlite3-0,
libwebsockets17, libev4, zlib1g" # bookworm
    shlibs=$(echo "$shlibs" | tr -s '\n' ' ')
fi
[ -n "$shlibs" ] || { echo "mkdeb: no shared library dependencies found" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: kioskd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $shlibs, libwebsockets-evlib-ev, adduser, procps
Section: net
Priority: optional
Description: branch kiosk daemon: event sign-ups, check-ins, chat bot, HQ sync
 kioskd serves a bank branch's touch-screen kiosk (event sign-ups with QR
 tickets), the staff tablets that check guests in, a chat-bot webhook and
 reminder messages, from one SQLite database, and syncs its journal to
 headquarters when the network is up.
 .
 This package runs it as the systemd service kioskd (user kioskd, data in
 /var/lib/kioskd, configuration in /etc/kioskd/kioskd.conf, log in the
 journal).
CONTROL

(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort |
    xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/kioskd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
