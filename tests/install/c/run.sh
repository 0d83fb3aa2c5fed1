#!/usr/bin/env bash
# The C package as a user installs it (`make test-install-c`): a C program that sees only an
# installed prefix, through pkg-config (PKG_CONFIG_LIBDIR is the prefix's alone, so no system
# or build-tree .pc answers), built warning-free as C11, linked
#   - dynamically: it must record the library's SONAME (not the bare development name), carry
#     no RPATH/RUNPATH, and resolve librewrap_ffi from PREFIX/lib under LD_LIBRARY_PATH;
#   - statically, with `pkg-config --static --libs` (Libs.private) and the archive
#     (-l:librewrap_ffi.a: with both installed, -lrewrap_ffi picks the .so): no librewrap_ffi
#     NEEDED at all.
# Each binary seals, re-encrypts and opens a record and checks rewrap_version() against
# `pkg-config --modversion rewrap` (the shared one under valgrind memcheck too, when installed).
# The shipped .so must be stripped, the .a without debuginfo.
#
# Usage: tests/install/c/run.sh PREFIX WORK_DIR
set -euo pipefail
prefix=$(cd "$1" && pwd) work=$2
repo=$(cd "$(dirname "$0")/../../.." && pwd)
src=$repo/tests/install/c/roundtrip.c
fail() { echo "test-install-c: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"
# The program is compiled from a copy in WORK_DIR: nothing next to it but itself.
cp "$src" "$work/roundtrip.c"
cd "$work"
unset CPATH C_INCLUDE_PATH LIBRARY_PATH LD_LIBRARY_PATH PKG_CONFIG_SYSROOT_DIR
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig
CC=${CC:-cc}
CFLAGS="-std=c11 -Wall -Wextra -Werror -pedantic -O2"

version=$(pkg-config --modversion rewrap)
cflags=$(pkg-config --cflags rewrap)
libs=$(pkg-config --libs rewrap)
static_libs=$(pkg-config --static --libs rewrap)
echo "pkg-config: rewrap $version; cflags: $cflags; libs: $libs; static: $static_libs"
# Every -I and -L pkg-config hands out is inside the prefix.
for flag in $cflags $libs $static_libs; do
  case $flag in
    -I* | -L*) dir=$(cd "${flag:2}" && pwd)
      case $dir/ in "$prefix"/*) ;; *) fail "$flag is outside $prefix" ;; esac ;;
  esac
done

so=$(readlink -f "$prefix/lib/librewrap_ffi.so")
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || fail "$so has no SONAME"
[ "$(readlink -f "$prefix/lib/$soname")" = "$so" ] || fail "$prefix/lib/$soname is not $so"
readelf -S --wide "$so" | grep -q '\.debug_\|\.symtab' && fail "$so is not stripped"
readelf -S --wide "$prefix/lib/librewrap_ffi.a" | grep -q '\.debug_info' \
  && fail "librewrap_ffi.a carries debuginfo"
echo "installed: $(basename "$so") (SONAME $soname, $(stat -c %s "$so") bytes, stripped), "\
"librewrap_ffi.a ($(stat -c %s "$prefix/lib/librewrap_ffi.a") bytes, no debuginfo)"

# shellcheck disable=SC2086 # pkg-config's output is a list of flags
"$CC" $CFLAGS roundtrip.c $cflags $libs -o roundtrip-shared
needed=$(readelf -d roundtrip-shared | sed -n 's/.*Shared library: \[\(librewrap_ffi[^]]*\)\]/\1/p')
[ "$needed" = "$soname" ] || fail "roundtrip-shared needs '$needed', not the SONAME $soname"
readelf -d roundtrip-shared | grep -q 'RPATH\|RUNPATH' && fail "roundtrip-shared has an RPATH"
resolved=$(LD_LIBRARY_PATH=$prefix/lib ldd roundtrip-shared | awk -v n="$soname" '$1 == n { print $3 }')
[ "$resolved" = "$prefix/lib/$soname" ] || fail "the loader resolves $soname to '$resolved'"
echo "dynamic: NEEDED $needed, resolved to $resolved"
LD_LIBRARY_PATH=$prefix/lib ./roundtrip-shared "$version"
# The shipped library (fat LTO, stripped) under memcheck too, as test-c runs the debug build.
if command -v valgrind > /dev/null; then
  LD_LIBRARY_PATH=$prefix/lib valgrind --quiet --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible \
    --suppressions="$repo/tests/c/valgrind.supp" ./roundtrip-shared "$version" > /dev/null
  echo "dynamic: clean under valgrind memcheck"
fi

# shellcheck disable=SC2086
"$CC" $CFLAGS roundtrip.c $cflags ${static_libs/-lrewrap_ffi/-l:librewrap_ffi.a} -o roundtrip-static
readelf -d roundtrip-static | grep -q 'librewrap_ffi' && fail "roundtrip-static needs the .so"
echo "static: $(stat -c %s roundtrip-static) bytes, no librewrap_ffi NEEDED"
./roundtrip-static "$version"
echo "test-install-c: ok"
