#!/bin/sh
# Boot-to-init benchmark, run inside L1 by `make bench-e2e`
# (tests/e2e/run.sh --bench -> /e2e/run-bench.sh -> this file).
#
# Boots the same L2 kernel and the same tiny initramfs with `ktstr vm` and
# with `qemu-system-x86_64 -accel kvm -M microvm`, 1 and 4 vCPUs, and prints
# per configuration the median (the lower one for an even count) over BENCH_REPS runs of
#   wall  host time from launching the VMM to the init's marker line
#   guest guest uptime when init ran (kernel boot alone)
# plus ktstr's own VMM setup time (process start -> first KVM_RUN) and the
# ktstr/QEMU wall-time ratio. Absolute times mean little under nested TCG;
# the ratio between the two VMMs run side by side is the figure.
#
# Environment: BENCH_KERNEL (default /l2/6.1/vmlinuz), BENCH_REPS (default 2),
#              BENCH_CPUS (default "1 4"), BENCH_TIMEOUT per boot (default 300 s)
# Exit: 0 when every boot reached init; 1 otherwise (the figures still print).

KERNEL=${BENCH_KERNEL:-/l2/6.1/vmlinuz}
REPS=${BENCH_REPS:-2}
CPUS=${BENCH_CPUS:-1 4}
LIMIT=${BENCH_TIMEOUT:-300}
MEM=256
CMDLINE="console=ttyS0,115200 panic=-1 nokaslr quiet"
WORK=/tmp/bench-boot
# busybox sh answers `command -v busybox` with the applet name, not a path.
BB=/bin/busybox
rc=0

die() {
	echo "bench-boot: $*"
	exit 1
}

[ -e /dev/kvm ] || die "no /dev/kvm in L1"
[ -r "$KERNEL" ] || die "no kernel $KERNEL"
command -v ktstr >/dev/null || die "no ktstr on PATH"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 in L1 (run.sh --bench puts it there)"

# A minimal initramfs: busybox and an /init that prints a marker with the
# guest's uptime, then powers off. Both VMMs boot exactly this.
rm -rf "$WORK"
mkdir -p "$WORK/root/bin" "$WORK/root/proc" "$WORK/root/dev"
cp "$BB" "$WORK/root/bin/busybox" || die "cannot copy busybox"
cat >"$WORK/root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle </proc/uptime
echo "BENCH:INIT $up"
/bin/busybox poweroff -f
EOF
chmod 755 "$WORK/root/init"
(cd "$WORK/root" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1 >"$WORK/init.cpio.gz") ||
	die "cannot build the initramfs"

# Host uptime in hundredths of a second (the finest clock busybox sh has).
now_cs() {
	read -r u _ </proc/uptime
	echo "${u%.*}${u#*.}" | sed 's/^0*//; s/^$/0/'
}

# boot_once NAME LOG CMD...: run CMD in the background with stdout to LOG,
# wait for the marker; prints "wall_cs guest_s" or "fail".
boot_once() {
	log=$2
	shift 2
	# Empty the log before the launch: the redirection below happens in the
	# child, and the poll must never see the previous run's marker.
	: >"$log"
	: >"$log.err"
	t0=$(now_cs)
	"$@" >>"$log" 2>>"$log.err" </dev/null &
	pid=$!
	deadline=$((t0 + LIMIT * 100))
	while :; do
		if grep -q '^BENCH:INIT [0-9]' "$log" 2>/dev/null; then
			t1=$(now_cs)
			break
		fi
		if ! kill -0 "$pid" 2>/dev/null || [ "$(now_cs)" -gt "$deadline" ]; then
			t1=
			break
		fi
		usleep 20000
	done
	# Let the guest power off on its own; force it if it does not.
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		usleep 50000
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	guest=$(sed -n 's/^BENCH:INIT \([0-9][0-9.]*\).*/\1/p' "$log" | head -1)
	if [ -z "$t1" ] || [ -z "$guest" ]; then
		echo fail
		return
	fi
	echo "$((t1 - t0)) $guest"
}

# median of numbers on stdin
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
}

cs_to_s() {
	awk -v c="$1" 'BEGIN { if (c == "-") print "-"; else printf "%.2f", c / 100 }'
}

echo "kernel $KERNEL, ${MEM} MiB, $REPS runs per configuration, cmdline: $CMDLINE"
printf '%-6s %-7s %10s %10s %12s\n' vcpus vmm wall_s guest_s setup_ms
for n in $CPUS; do
	: >"$WORK/k.wall"
	: >"$WORK/k.guest"
	: >"$WORK/k.setup"
	: >"$WORK/q.wall"
	: >"$WORK/q.guest"
	r=0
	while [ $r -lt "$REPS" ]; do
		r=$((r + 1))
		# Alternate the order so neither VMM always runs on a warmer L1.
		for vmm in ktstr qemu ; do
			if [ $vmm = ktstr ]; then
				out=$(boot_once ktstr "$WORK/k.log" ktstr vm --kernel "$KERNEL" \
					--initramfs "$WORK/init.cpio.gz" --topology "1n1l${n}c1t" \
					--memory ${MEM}M --no-default-cmdline --cmdline "$CMDLINE" \
					--timeout "$LIMIT" --verbose)
				p=k
				sed -n 's/.*VMM setup \([0-9.]*\) ms.*/\1/p' "$WORK/k.log.err" >>"$WORK/k.setup"
			else
				out=$(boot_once qemu "$WORK/q.log" qemu-system-x86_64 -M microvm -accel kvm \
					-cpu host -m ${MEM} -smp "$n" -nodefaults -no-user-config \
					-display none -serial stdio -no-reboot -kernel "$KERNEL" \
					-initrd "$WORK/init.cpio.gz" -append "$CMDLINE")
				p=q
			fi
			if [ "$out" = fail ]; then
				echo "  $vmm, $n vCPUs, run $r: no init marker (see below)"
				tail -5 "$WORK/$p.log" "$WORK/$p.log.err" 2>/dev/null | sed 's/^/    /'
				rc=1
				continue
			fi
			echo "${out% *}" >>"$WORK/$p.wall"
			echo "${out#* }" >>"$WORK/$p.guest"
		done
	done
	kw=$(median <"$WORK/k.wall")
	qw=$(median <"$WORK/q.wall")
	printf '%-6s %-7s %10s %10s %12s\n' "$n" ktstr "$(cs_to_s "$kw")" \
		"$(median <"$WORK/k.guest")" "$(median <"$WORK/k.setup")"
	printf '%-6s %-7s %10s %10s %12s\n' "$n" qemu "$(cs_to_s "$qw")" "$(median <"$WORK/q.guest")" -
	if [ "$kw" != - ] && [ "$qw" != - ]; then
		echo "$n vCPUs: ktstr/qemu boot-to-init wall-time ratio $(awk -v a="$kw" -v b="$qw" \
			'BEGIN { printf "%.2f", a / b }')"
	fi
done
exit $rc
