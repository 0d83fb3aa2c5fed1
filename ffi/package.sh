#!/usr/bin/env bash
# Lays out the C package (`make dist-c`) from a `dist` profile build of rewrap-ffi:
#   lib/librewrap_ffi.so.VERSION, its SONAME link and the librewrap_ffi.so development link,
#   lib/librewrap_ffi.a (debuginfo and embedded LLVM bitcode stripped), include/rewrap.h,
#   lib/pkgconfig/rewrap.pc (prefix relative to the .pc file until `make install` fixes it),
#   share/doc/rewrap/LICENSE.
#
# Usage: ffi/package.sh BUILD_DIR OUT_DIR   (BUILD_DIR: $CARGO_TARGET_DIR/dist)
set -euo pipefail
build=$1 out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)

# The workspace version (one source: Cargo.toml), and the SONAME ffi/build.rs gave the library.
# CARGO may carry arguments ("cargo +stable"): split on purpose.
# shellcheck disable=SC2086
version=$(cd "$repo" && ${CARGO:-cargo} pkgid -p rewrap-ffi | sed 's/.*[#@]//')
soname=$(readelf -d "$build/librewrap_ffi.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case $soname in
  librewrap_ffi.so.*) ;;
  *) echo "package.sh: $build/librewrap_ffi.so has no SONAME (ffi/build.rs)" >&2; exit 1 ;;
esac
if readelf -S "$build/librewrap_ffi.so" | grep -q '\.debug_\|\.symtab'; then
  echo "package.sh: $build/librewrap_ffi.so is not stripped (cargo profile dist)" >&2
  exit 1
fi
# What rustc prints for `--print native-static-libs` on x86_64/aarch64 glibc, without -lc:
# the static library's own dependencies (unwinding needs libgcc_s; glibc < 2.34 needs the rest).
libs_private="-lgcc_s -lutil -lrt -lpthread -lm -ldl"

rm -rf "$out"
mkdir -p "$out/lib/pkgconfig" "$out/include" "$out/share/doc/rewrap"
install -m 755 "$build/librewrap_ffi.so" "$out/lib/librewrap_ffi.so.$version"
if [ "$soname" != "librewrap_ffi.so.$version" ]; then
  ln -s "librewrap_ffi.so.$version" "$out/lib/$soname"
fi
ln -s "$soname" "$out/lib/librewrap_ffi.so"
# The staticlib carries Rust's standard library objects with their debuginfo and bitcode
# (~39 MB); a linker needs neither (Debian's dh_strip does the same to static libraries).
install -m 644 "$build/librewrap_ffi.a" "$out/lib/librewrap_ffi.a"
strip --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
  --enable-deterministic-archives "$out/lib/librewrap_ffi.a"
install -m 644 "$repo/include/rewrap.h" "$out/include/rewrap.h"
install -m 644 "$repo/LICENSE" "$out/share/doc/rewrap/LICENSE"
sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" \
  -e "s|@LIBS_PRIVATE@|$libs_private|" "$repo/ffi/rewrap.pc.in" > "$out/lib/pkgconfig/rewrap.pc"
echo "C package $version (SONAME $soname) in $out"
