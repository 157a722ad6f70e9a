#!/usr/bin/env bash
# `make demo`: boot a real Linux kernel in ktstr's VMM with a small topology
# (1 NUMA node, 2 LLCs x 2 cores x 2 threads = 8 vCPUs), a scratch virtio-blk
# disk and the loopback NIC, and run a command in it that shows what the guest
# sees: CPU topology and LLC groups, NUMA nodes, /dev/vd*, the virtio-console
# port names and the network links.
#
# Steps: build ./ktstr if needed; fetch the Debian cloud kernel
# (tests/e2e/fetch-kernels.sh, downloaded once into ~/.cache/ktstr); boot it.
# Where /dev/kvm is missing or not backed by hardware virtualisation (no
# vmx/svm flag in /proc/cpuinfo, e.g. a paravirtual /dev/kvm inside a VM),
# the guest runs one level down, inside the nested-KVM harness's L1 VM
# (tests/e2e/l1-run.sh: QEMU/TCG with AMD SVM, about 1-2 minutes); otherwise
# directly on this machine.
#
# Environment: KTSTR_DEMO_MODE=direct|nested  force the mode
#              KTSTR_DEMO_TOPOLOGY           default 1n2l2c2t
# Exit: ktstr's status (the guest command's own; see ktstr vm --help).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
TOPO=${KTSTR_DEMO_TOPOLOGY:-1n2l2c2t}

say() { printf 'demo: %s\n' "$*" >&2; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# Direct mode needs a /dev/kvm we can open that runs guests in hardware.
mode=${KTSTR_DEMO_MODE:-}
if [ -z "$mode" ]; then
	if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
		grep -qwE 'vmx|svm' /proc/cpuinfo; then
		mode=direct
	else
		mode=nested
	fi
fi
case "$mode" in
direct | nested) ;;
*) die "KTSTR_DEMO_MODE must be direct or nested, not '$mode'" ;;
esac

need=(busybox cpio gzip xz zstd dpkg-deb apt-get)
[ "$mode" = nested ] && need+=(qemu-system-x86_64 timeout ldd)
missing=0
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || missing=1; done
if [ $missing -eq 1 ]; then
	say "installing missing tools (scripts/install-deps.sh)"
	scripts/install-deps.sh >&2 || die "scripts/install-deps.sh failed"
fi

if [ ! -x ./ktstr ] || [ -n "$(find src -newer ./ktstr -name '*.[ch]' -print -quit)" ]; then
	say "building ktstr (make -j2 ktstr)"
	make -s -j2 ktstr >&2 || die "make ktstr failed"
fi

say "fetching the Debian 6.1 cloud kernel (first run downloads it, ~10-60 s)"
kout=$(tests/e2e/fetch-kernels.sh --only 6.1) || die "could not fetch the kernel (see above)"
eval "$kout"
: "${KTSTR_TEST_VMLINUZ:?fetch-kernels.sh gave no kernel}"

# What the guest runs (busybox sh; no single quotes: it is quoted once more
# for the nested run).
read -r -d '' GUEST_CMD <<'EOS' || true
echo "== kernel: $(uname -r), $(nproc) CPUs"
echo "== CPU topology"
printf "%-6s %-8s %-5s %-9s %s\n" cpu package core siblings "LLC (L3 shared with)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
	t=$c/topology
	printf "%-6s %-8s %-5s %-9s %s\n" ${c##*/} $(cat $t/physical_package_id) $(cat $t/core_id) \
		$(cat $t/thread_siblings_list) $(cat $c/cache/index3/shared_cpu_list 2>/dev/null || echo -)
done
echo "== LLC groups"
cat /sys/devices/system/cpu/cpu[0-9]*/cache/index3/shared_cpu_list 2>/dev/null | sort -u | sed "s/^/  /"
echo "== NUMA nodes"
for n in /sys/devices/system/node/node[0-9]*; do
	echo "  ${n##*/}: cpus $(cat $n/cpulist), $(awk "/MemTotal/ {print \$4 \" kB\"}" $n/meminfo)"
done
echo "== block devices"
for d in /dev/vd*; do echo "  $d: $(($(cat /sys/block/${d#/dev/}/size) / 2048)) MiB"; done
echo "== virtio-console ports"
for p in /sys/class/virtio-ports/*; do echo "  ${p##*/}: $(cat $p/name)"; done
echo "== network"
ip link
EOS

if [ "$mode" = direct ]; then
	eval "$(grep -m1 '^KTSTR_E2E_KDIR_61=' <<<"$kout")"
	mods=$(find "${KTSTR_E2E_KDIR_61:?}" -maxdepth 4 -type d -path '*/lib/modules/*' | head -n 1)
	scratch=$(mktemp /tmp/ktstr-demo-disk.XXXXXX)
	trap 'rm -f "$scratch"' EXIT
	truncate -s 64M "$scratch"
	say "booting $KTSTR_TEST_VMLINUZ ($TOPO, 64 MiB scratch disk, --net) directly on /dev/kvm"
	set +e
	./ktstr vm --kernel "$KTSTR_TEST_VMLINUZ" --modules "$mods" --topology "$TOPO" \
		--disk "$scratch" --net --exec "$GUEST_CMD"
	rc=$?
	set -e
	say "ktstr vm exited $rc"
	exit $rc
fi

why="no /dev/kvm"
[ -e /dev/kvm ] && why="/dev/kvm is not backed by vmx/svm (no such flag in /proc/cpuinfo)"
say "$why: running the guest inside the nested-KVM harness (QEMU/TCG L1, tests/e2e/l1-run.sh)"
say "building L1 and booting it, then the guest inside it: about 1-2 minutes under emulation"
l1cmd="dd if=/dev/zero of=/tmp/scratch.img bs=1M count=64 2>/dev/null
echo 'demo: L1 up; booting the guest ($TOPO, 64 MiB scratch disk, --net) with ktstr vm'
ktstr vm --kernel /l2/6.1/vmlinuz --scale 20 --topology $TOPO --disk /tmp/scratch.img --net --exec '$GUEST_CMD'"
set +e
KTSTR_E2E_RUN_NAME=demo tests/e2e/l1-run.sh --timeout 600 "$l1cmd"
rc=$?
set -e
say "ktstr vm exited $rc"
exit $rc
