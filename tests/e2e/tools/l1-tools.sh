#!/usr/bin/env bash
# l1-tools.sh ROOT: add the helper programs of the exec cases (cases/1*-exec-*.sh)
# and bench/exec.sh to the L1 root being assembled at ROOT (called by
# e2e_build_l1 in tests/e2e/lib.sh). Built on the host at harness time into
# build/e2e/tools/ (rebuilt when a source is newer); no binary is committed.
#   /e2e/tools/pktloop   static: AF_PACKET round trip on eth0 (pktloop.c)
#   /e2e/tools/patgen    static: seeded pseudo-random pattern (patgen.c)
#   /e2e/tools/needslib  dynamic, needs libktstr-e2e-absent.so, which is not
#                        shipped anywhere (the "unresolvable library" input)
#   /e2e/tools/exec-lib.sh  shell helpers of those cases (--stats parsing)
#   /e2e/tools/mke2fs, /e2e/tools/e2fsck with their shared libraries
#                        (e2fsprogs; not in /sbin, where busybox's applet
#                        links are): the guest formats ext4 with the real
#                        mke2fs (--include), L1 checks the image with e2fsck -fn
set -euo pipefail
root=${1:?usage: l1-tools.sh ROOT}
tools_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$tools_src/../lib.sh"
out=$E2E_BUILD/tools
mkdir -p "$out" "$root/e2e/tools"

# A static binary from one C file, rebuilt only when the source changed.
build_static() {
	local name=$1
	if [ ! -x "$out/$name" ] || [ "$tools_src/$name.c" -nt "$out/$name" ]; then
		cc -static -O2 -Wall -Wextra -Werror -o "$out/$name.tmp" "$tools_src/$name.c" ||
			e2e_die "cannot build $name statically (needs cc and libc6-dev)"
		mv "$out/$name.tmp" "$out/$name"
	fi
	cp "$out/$name" "$root/e2e/tools/$name"
}
build_static pktloop
build_static patgen

if [ ! -x "$out/needslib" ]; then
	tmp=$(mktemp -d)
	echo 'int ktstr_e2e_absent(void) { return 0; }' >"$tmp/absent.c"
	echo 'int ktstr_e2e_absent(void); int main(void) { return ktstr_e2e_absent(); }' >"$tmp/main.c"
	cc -shared -fPIC -o "$tmp/libktstr-e2e-absent.so" "$tmp/absent.c" &&
		cc -o "$out/needslib" "$tmp/main.c" -L"$tmp" -lktstr-e2e-absent ||
		{ rm -rf "$tmp"; e2e_die "cannot build the needslib test binary"; }
	rm -rf "$tmp"
fi
cp "$out/needslib" "$root/e2e/tools/needslib"
cp "$tools_src/exec-lib.sh" "$root/e2e/tools/exec-lib.sh"

for t in mke2fs e2fsck; do
	p=$(PATH=/usr/sbin:/sbin:$PATH command -v "$t") || e2e_die "missing $t (package e2fsprogs)"
	e2e_copy_with_libs "$root" "$p" "/e2e/tools/$t"
done
