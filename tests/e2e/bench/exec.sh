#!/bin/sh
# `ktstr vm --exec` benchmark, run inside L1 by `make bench-e2e`
# (tests/e2e/run.sh --bench -> /e2e/run-bench.sh -> this file). Same L2
# kernel, same L1, side by side with QEMU (-M microvm, virtio-mmio):
#   read   in-guest sequential read of /dev/vda (dd, 1 MiB blocks, page
#          cache dropped first) in MB/s: ktstr's virtio-blk vs QEMU's
#          virtio-blk-device on the same backing file; both and the ratio
#   exec   wall time from launching the VMM to its exit for a guest that runs
#          `true`: `ktstr vm --exec true` vs QEMU microvm with a busybox
#          /init that runs true and powers off (QEMU's init loads no modules
#          and speaks no protocol; ktstr's loads its virtio drivers)
# Medians over BENCH_REPS runs. Absolute figures mean little under nested
# TCG; the ratios between the two VMMs run side by side are the result.
#
# Environment: BENCH_KERNEL (default /l2/6.1/vmlinuz), BENCH_REPS (default 2),
#              BENCH_DISK_MB (default 128), BENCH_TIMEOUT per run (default 300 s)
# Exit: 0 when every run produced its figure; 1 otherwise.

KERNEL=${BENCH_KERNEL:-/l2/6.1/vmlinuz}
REPS=${BENCH_REPS:-2}
DISK_MB=${BENCH_DISK_MB:-128}
LIMIT=${BENCH_TIMEOUT:-300}
MEM=256
WORK=/tmp/bench-exec
BB=/bin/busybox
rc=0
# now_cs (L1 uptime in hundredths of a second) from the cases' helpers.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh

die() {
	echo "bench-exec: $*"
	exit 1
}

[ -e /dev/kvm ] || die "no /dev/kvm in L1"
[ -r "$KERNEL" ] || die "no kernel $KERNEL"
command -v ktstr >/dev/null || die "no ktstr on PATH"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 in L1 (run.sh --bench puts it there)"
label=${KERNEL%/vmlinuz}
mdir=$(ls -d "$label"/lib/modules/*/ 2>/dev/null | head -n 1)
[ -n "$mdir" ] || die "no module tree under $label/lib/modules"

rm -rf "$WORK"
mkdir -p "$WORK"
# A real (not sparse) backing file: both VMMs read the same bytes from L1's tmpfs.
if [ -x /e2e/tools/patgen ]; then
	/e2e/tools/patgen 1 $((DISK_MB * 1048576)) >"$WORK/disk.img"
else
	dd if=/dev/zero bs=1M count="$DISK_MB" 2>/dev/null | tr '\0' 'k' >"$WORK/disk.img"
fi || die "cannot make the disk image"

# QEMU's guest: busybox, the virtio-mmio + virtio-blk modules (the Debian
# kernel has them as modules; busybox insmod wants them uncompressed) and an
# /init chosen per run: "read" (insmod, drop caches, timed dd) or "true".
mkroot() {
	r=$WORK/root-$1
	mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/m"
	cp "$BB" "$r/bin/busybox"
	for m in virtio_ring virtio virtio_mmio virtio_blk; do
		f=$(find "$mdir" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		[ -n "$f" ] || continue
		case "$f" in
		*.xz) xz -dc "$f" >"$r/m/$m.ko" ;;
		*) cp "$f" "$r/m/$m.ko" ;;
		esac
	done
	{
		echo '#!/bin/busybox sh'
		echo 'export PATH=/bin; /bin/busybox --install -s /bin'
		echo 'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev'
		if [ "$1" = read ]; then
			# Dependency order (modules.dep): virtio_ring < virtio < virtio_mmio, virtio_blk.
			echo 'for m in virtio_ring virtio virtio_mmio virtio_blk; do [ -f /m/$m.ko ] && insmod /m/$m.ko; done'
			echo 'i=0; while [ ! -b /dev/vda ] && [ $i -lt 500 ]; do usleep 20000; i=$((i + 1)); done'
			echo "$READ_CMD"
		else
			echo 'true'
		fi
		echo 'poweroff -f'
	} >"$r/init"
	chmod 755 "$r/init"
	(cd "$r" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 >"$WORK/$1.cpio.gz") ||
		die "cannot build the $1 initramfs"
}
# The timed read, identical in both guests: guest uptime around a dd of the whole disk.
READ_CMD='echo 3 >/proc/sys/vm/drop_caches; read a _ </proc/uptime; dd if=/dev/vda of=/dev/null bs=1M 2>/dev/null; st=$?; read b _ </proc/uptime; echo "BENCH:READ $st $a $b"'
mkroot read
mkroot true

# run_once LOG CMD...: run CMD to its end (LIMIT at most); prints its wall cs
# or "fail". Both VMMs get /dev/null as stdin (QEMU's -serial stdio would
# otherwise put L1's console into raw mode; ktstr --exec never reads stdin).
run_once() {
	log=$1
	shift
	t0=$(now_cs)
	timeout -s KILL "$LIMIT" "$@" >"$log" 2>"$log.err" </dev/null
	st=$?
	t1=$(now_cs)
	if [ $st -ne 0 ]; then
		echo "fail"
		return
	fi
	echo $((t1 - t0))
}

# MB/s from a BENCH:READ line in $1; "fail" when absent or dd failed.
read_rate() {
	awk -v mb="$DISK_MB" '/BENCH:READ / { st = $2; d = $4 - $3; found = 1 }
		END { if (!found || st != 0) print "fail"; else { if (d <= 0) d = 0.01; printf "%.1f\n", mb * 1.048576 / d } }' "$1"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
}

# run_qemu LOG INITRAMFS [QEMU ARGS...]: run_once for QEMU microvm.
run_qemu() {
	l=$1
	i=$2
	shift 2
	run_once "$l" qemu-system-x86_64 -M microvm -accel kvm -cpu host -m $MEM -smp 1 -nodefaults \
		-no-user-config -display none -serial stdio -no-reboot -kernel "$KERNEL" \
		-initrd "$WORK/$i.cpio.gz" -append "console=ttyS0,115200 panic=-1 nokaslr quiet" "$@"
}

note_fail() {
	echo "  $1 run $2 failed:"
	tail -n 5 "$3" "$3.err" 2>/dev/null | sed 's/^/    /'
	rc=1
}

echo "kernel $KERNEL, ${MEM} MiB, 1 vCPU, $REPS runs per figure, disk ${DISK_MB} MiB"
: >"$WORK/k.read"
: >"$WORK/q.read"
: >"$WORK/k.exec"
: >"$WORK/q.exec"
r=0
while [ $r -lt "$REPS" ]; do
	r=$((r + 1))
	w=$(run_qemu "$WORK/q.log" read -drive id=d0,file="$WORK/disk.img",format=raw,if=none \
		-device virtio-blk-device,drive=d0)
	v=$(read_rate "$WORK/q.log")
	if [ "$w" = fail ] || [ "$v" = fail ]; then note_fail "qemu read" $r "$WORK/q.log"; else echo "$v" >>"$WORK/q.read"; fi
	w=$(run_once "$WORK/k.log" ktstr vm --kernel "$KERNEL" --memory ${MEM}M --scale 20 \
		--disk "$WORK/disk.img" --exec "$READ_CMD")
	v=$(read_rate "$WORK/k.log")
	if [ "$w" = fail ] || [ "$v" = fail ]; then note_fail "ktstr read" $r "$WORK/k.log"; else echo "$v" >>"$WORK/k.read"; fi
	w=$(run_qemu "$WORK/q.log" true)
	if [ "$w" = fail ]; then note_fail "qemu true" $r "$WORK/q.log"; else echo "$w" >>"$WORK/q.exec"; fi
	w=$(run_once "$WORK/k.log" ktstr vm --kernel "$KERNEL" --memory ${MEM}M --scale 20 --exec true)
	if [ "$w" = fail ]; then note_fail "ktstr true" $r "$WORK/k.log"; else echo "$w" >>"$WORK/k.exec"; fi
done

kr=$(median <"$WORK/k.read")
qr=$(median <"$WORK/q.read")
ke=$(median <"$WORK/k.exec")
qe=$(median <"$WORK/q.exec")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
secs() { awk -v c="$1" 'BEGIN { if (c == "-") print "-"; else printf "%.2f", c / 100 }'; }
echo "sequential read /dev/vda (MB/s, median): ktstr $kr  qemu-microvm $qr  ktstr/qemu $(ratio "$kr" "$qr")"
echo "  all runs: ktstr $(tr '\n' ' ' <"$WORK/k.read")| qemu $(tr '\n' ' ' <"$WORK/q.read")"
echo "exec true, launch to exit (s, median): ktstr $(secs "$ke")  qemu-microvm $(secs "$qe")  ktstr/qemu $(ratio "$ke" "$qe")"
echo "  all runs (cs): ktstr $(tr '\n' ' ' <"$WORK/k.exec")| qemu $(tr '\n' ' ' <"$WORK/q.exec")"
rm -f "$WORK/disk.img"
exit $rc
