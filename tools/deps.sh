#!/bin/sh
# Installs the Debian 12 packages kioskd needs for a goal (build, test, bench, deb, fuzz, arm64).
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

goal=${1:-build}

# "check:package" pairs; a check is pkg:<pkg-config module>, cmd:<command> or file:<path>.
# node and npm fetch the pinned browser scripts (tools/web/) that are embedded in
# the binary; the end-to-end tests drive Debian's chromium (CJK font for screenshots).
build="cmd:cc:gcc cmd:make:make cmd:pkg-config:pkg-config
pkg:libwebsockets:libwebsockets-dev hdr:mbedtls/ecdsa.h:libmbedtls-dev hdr:ev.h:libev-dev
pkg:libcurl:libcurl4-openssl-dev pkg:sqlite3:libsqlite3-dev
pkg:libqrencode:libqrencode-dev pkg:expat:libexpat1-dev pkg:jansson:libjansson-dev
pkg:inih:libinih-dev pkg:libargon2:libargon2-dev pkg:libpng:libpng-dev hdr:csv.h:libcsv-dev
pkg:zlib:zlib1g-dev pkg:libpq:libpq-dev
cmd:node:nodejs cmd:npm:npm"
test="$build pkg:cmocka:libcmocka-dev cmd:python3:python3 file:/usr/bin/chromium:chromium
cmd:clang-format:clang-format cmd:cppcheck:cppcheck
file:/usr/share/fonts/truetype/wqy/wqy-microhei.ttc:fonts-wqy-microhei
file:/usr/lib/python3/dist-packages/cryptography/__init__.py:python3-cryptography
cmd:systemd-analyze:systemd cmd:dpkg-shlibdeps:dpkg-dev cmd:strip:binutils file:/bin/kill:procps
file:/usr/lib/postgresql/15/bin/postgres:postgresql"
bench="$build cmd:python3:python3 cmd:wrk:wrk cmd:nginx:nginx-light cmd:curl:curl
file:/usr/lib/python3/dist-packages/cryptography/__init__.py:python3-cryptography
file:/usr/lib/postgresql/15/bin/postgres:postgresql"
deb="$build cmd:dpkg-shlibdeps:dpkg-dev cmd:strip:binutils cmd:systemd-analyze:systemd
cmd:lintian:lintian"
fuzz="$build cmd:clang:clang lib:libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev"
# arm64 (make ARCH=arm64, asked for only then): the cross compiler, qemu-user and
# the :arm64 libraries (written PACKAGE@arm64). libwebsockets-dev and libpq-dev
# cannot be installed for two architectures: the native ones give the headers
# ($build), their arm64 runtime libraries are linked by name. Multi-Arch: same
# keeps libwebsockets17:arm64 at the version of the native headers. The headers
# libwebsockets.h includes are the native ones but for OpenSSL's (libssl-dev).
a=/usr/lib/aarch64-linux-gnu
arm64="$build cmd:aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu cmd:qemu-aarch64-static:qemu-user-static
file:$a/libwebsockets.so.17:libwebsockets17@arm64 file:$a/libpq.so.5:libpq5@arm64
xpkg:libcurl:libcurl4-openssl-dev@arm64 xpkg:sqlite3:libsqlite3-dev@arm64
xpkg:libqrencode:libqrencode-dev@arm64 xpkg:expat:libexpat1-dev@arm64
xpkg:jansson:libjansson-dev@arm64 xpkg:inih:libinih-dev@arm64 xpkg:libargon2:libargon2-dev@arm64
xpkg:libpng:libpng-dev@arm64 xpkg:zlib:zlib1g-dev@arm64 xpkg:cmocka:libcmocka-dev@arm64
file:$a/libmbedcrypto.so:libmbedtls-dev@arm64 file:$a/libcsv.so:libcsv-dev@arm64
file:$a/libev.so:libev-dev@arm64 file:$a/libwebsockets-evlib_ev.so:libwebsockets-evlib-ev@arm64
file:/usr/include/aarch64-linux-gnu/openssl/opensslconf.h:libssl-dev@arm64"

case $goal in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
deb) want=$deb ;;
fuzz) want=$fuzz ;;
arm64) want=$arm64 ;;
*) echo "tools/deps.sh: unknown goal '$goal' (build, test, bench, deb, fuzz, arm64)" >&2; exit 2 ;;
esac

missing=""
for item in $want; do
    kind=${item%%:*}
    rest=${item#*:}
    what=${rest%:*}
    package=${rest##*:}
    case $kind in
    cmd) command -v "$what" >/dev/null 2>&1 && continue ;;
    pkg) pkg-config --exists "$what" 2>/dev/null && continue ;;
    xpkg) PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
        pkg-config --exists "$what" 2>/dev/null && continue ;;
    hdr) [ -f "/usr/include/$what" ] && continue ;;
    file) [ -e "$what" ] && continue ;;
    lib) [ -n "$(find /usr/lib/llvm-*/lib/clang -name "$what" 2>/dev/null | head -n 1)" ] && continue ;;
    esac
    package=$(echo "$package" | tr @ :)
    case " $missing " in *" $package "*) ;; *) missing="$missing $package" ;; esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "kioskd: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ "$goal" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
    fi
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
else
    echo "kioskd: missing packages. Run this, then try again:" >&2
    [ "$goal" != arm64 ] || echo "    sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
