#!/usr/bin/env bash
# The library as a package: install a build into a scratch prefix and use it
# as a stranger would. Checks the installed files, that the header compiles
# alone, that libdeconv.so has its SONAME and exports exactly the functions
# of deconv.h, the man page, then builds tests/package/client.c with
# pkg-config (shared, and static with --static) and with find_package(deconv)
# (deconv::deconv and deconv::deconv_static) and runs each client.
#   usage: tests/package/check.sh [BUILD_DIR]     (default: build; built already)
#   environment: CC (default cc)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || { echo "check.sh: no build folder" >&2; exit 2; }
CC=${CC:-cc}
T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
P=$T/prefix
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check WHAT COMMAND...: the command must succeed
    local what=$1
    shift
    if "$@" >"$T/out" 2>&1; then ok; else bad "$what: $(tail -n 20 "$T/out")"; fi
}

cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; echo "check.sh: cmake --install failed" >&2; exit 1; }
pc=$(find "$P" -name deconv.pc)
LIB=$(dirname "$(dirname "$pc")")
version=$(sed -n 's/^#define DECONV_VERSION "\(.*\)"$/\1/p' "$ROOT/include/deconv.h")
shared=1
[ -e "$LIB/libdeconv.so" ] || { shared=0; echo "note: no libdeconv.so (DECONV_SHARED=OFF): static checks only"; }

# The layout.
for f in bin/deconv include/deconv.h share/man/man1/deconv.1; do
    [ -f "$P/$f" ] && ok || bad "not installed: $f"
done
for f in libdeconv.a pkgconfig/deconv.pc cmake/deconv/deconvConfig.cmake \
         cmake/deconv/deconvConfigVersion.cmake; do
    [ -f "$LIB/$f" ] && ok || bad "not installed: ${LIB#"$P"/}/$f"
done
if ! grep -rqF "$P" "$LIB/pkgconfig" "$LIB/cmake"; then ok; else
    bad "the package's files name the prefix they were installed to (not relocatable)"; fi

# The header alone, in C and C++, with nothing but -I<prefix>/include.
printf '#include <deconv.h>\nint main(void) { return deconv_version() == 0; }\n' >"$T/alone.c"
check "deconv.h alone (C11, -Wall -Wextra -pedantic -Werror)" \
    "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I"$P/include" "$T/alone.c"
if command -v c++ >/dev/null; then
    cp "$T/alone.c" "$T/alone.cpp"
    check "deconv.h alone (C++)" c++ -Wall -Wextra -Werror -fsyntax-only -I"$P/include" "$T/alone.cpp"
fi

# The shared library: its SONAME, and its exports are the API: every
# function deconv.h declares, nothing else (GCC's lock of a named OpenMP
# critical section, .gomp_critical_user_*, is shared between objects by
# design).
if [ "$shared" = 1 ]; then
    soname=$(objdump -p "$LIB/libdeconv.so" | awk '$1 == "SONAME" { print $2 }')
    major=${version%%.*}
    expect=libdeconv.so.$major
    [ "$major" = 0 ] && expect=libdeconv.so.$(echo "$version" | cut -d. -f1-2)
    [ "$soname" = "$expect" ] && ok || bad "SONAME '$soname', expected '$expect'"
    [ -f "$LIB/$expect" ] && [ -f "$LIB/libdeconv.so.$version" ] && ok ||
        bad "missing $expect or libdeconv.so.$version"
    nm -D --defined-only "$LIB/libdeconv.so" | awk '{ print $3 }' |
        grep -v '^\.gomp_critical_user_' | sort >"$T/exported"
    grep -o 'deconv_[a-z0-9_]*(' "$P/include/deconv.h" | tr -d '(' | sort -u >"$T/declared"
    if diff "$T/declared" "$T/exported" >"$T/diff"; then ok; else
        bad "exports of libdeconv.so differ from deconv.h's functions (< declared only, > exported only):
$(grep '^[<>]' "$T/diff")"; fi
fi

# The man page: installed as generated, and clean for groff when present.
cmp -s "$BUILD/deconv.1" "$P/share/man/man1/deconv.1" && ok || bad "deconv.1 differs from the build's"
if command -v groff >/dev/null; then
    groff -man -ww -z "$P/share/man/man1/deconv.1" >"$T/groff" 2>&1
    [ ! -s "$T/groff" ] && ok || bad "groff warns on deconv.1: $(cat "$T/groff")"
fi
if command -v mandoc >/dev/null; then
    mandoc -Tlint -Wwarning "$P/share/man/man1/deconv.1" >"$T/mandoc" 2>&1
    [ ! -s "$T/mandoc" ] && ok || bad "mandoc -Tlint: $(cat "$T/mandoc")"
fi

# The program as installed: self-contained (the static library in it).
check "installed deconv --version" "$P/bin/deconv" --version
grep -qF "deconv $version" "$T/out" && ok || bad "deconv --version: $(cat "$T/out")"
if ! readelf -d "$P/bin/deconv" | grep -q 'NEEDED.*libdeconv'; then ok; else
    bad "bin/deconv needs libdeconv.so"; fi

# run WHAT PROGRAM [ENV...]: run a client; it prints the version and checks
# the restoration.
run() {
    local what=$1 prog=$2
    shift 2
    if env "$@" "$prog" >"$T/run" 2>&1 && grep -qF "deconv $version (header $version)" "$T/run"; then
        ok
    else
        bad "$what: $(cat "$T/run")"
    fi
}

# pkg-config.
export PKG_CONFIG_PATH=$LIB/pkgconfig
[ "$(pkg-config --modversion deconv 2>&1)" = "$version" ] && ok ||
    bad "pkg-config --modversion deconv: $(pkg-config --modversion deconv 2>&1)"
cflags=$(pkg-config --cflags deconv) || bad "pkg-config --cflags deconv"
if [ "$shared" = 1 ]; then
    # shellcheck disable=SC2046 # pkg-config's output is a list of flags
    check "client with pkg-config --libs deconv" \
        "$CC" -std=c11 -Wall -Werror -O2 "$HERE/client.c" -o "$T/client_pc" $cflags \
        $(pkg-config --libs deconv)
    readelf -d "$T/client_pc" 2>/dev/null | grep -q "NEEDED.*\[$expect\]" && ok ||
        bad "client_pc does not need $expect"
    run "client (pkg-config, shared)" "$T/client_pc" LD_LIBRARY_PATH="$LIB"
fi
# --static: the archive, and the libraries behind it from Requires.private
# and Libs.private (-ldeconv names the archive itself: the .so is beside it).
libs_static=$(pkg-config --static --libs deconv | sed 's/-ldeconv\b/-l:libdeconv.a/')
# shellcheck disable=SC2086
check "client with pkg-config --static --libs deconv" \
    "$CC" -std=c11 -Wall -Werror -O2 "$HERE/client.c" -o "$T/client_pc_static" $cflags $libs_static
if ! readelf -d "$T/client_pc_static" 2>/dev/null | grep -q 'NEEDED.*libdeconv'; then ok; else
    bad "client_pc_static needs libdeconv.so"; fi
run "client (pkg-config, static)" "$T/client_pc_static"

# find_package(deconv): tests/package/cmake, linking deconv::deconv and
# deconv::deconv_static; the shared client runs from its build RPATH.
check "find_package(deconv) project: configure" \
    cmake -S "$HERE/cmake" -B "$T/cmake-build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC"
check "find_package(deconv) project: build" cmake --build "$T/cmake-build"
run "client (find_package, deconv::deconv)" "$T/cmake-build/client_shared"
run "client (find_package, deconv::deconv_static)" "$T/cmake-build/client_static"
if [ "$shared" = 1 ]; then
    readelf -d "$T/cmake-build/client_shared" 2>/dev/null | grep -q "NEEDED.*\[$expect\]" && ok ||
        bad "client_shared does not need $expect"
fi
if ! readelf -d "$T/cmake-build/client_static" 2>/dev/null | grep -q 'NEEDED.*libdeconv'; then ok; else
    bad "client_static needs libdeconv.so"; fi
# A version the package is not compatible with is refused.
mkdir -p "$T/v"
printf 'cmake_minimum_required(VERSION 3.18)\nproject(v C)\nfind_package(deconv 99 REQUIRED)\n' \
    >"$T/v/CMakeLists.txt"
if ! cmake -S "$T/v" -B "$T/v/build" -DCMAKE_PREFIX_PATH="$P" >/dev/null 2>&1; then ok; else
    bad "find_package(deconv 99) accepted version $version"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
