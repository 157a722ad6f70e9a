#!/usr/bin/env bash
# Boot L1 (the nested-KVM outer VM, design/E2E.md) with the current ./ktstr,
# both L2 kernels and the L2 initramfs flavours inside, run one shell command
# line in it and print that command's output. Exits with the command's status.
#
#   tests/e2e/l1-run.sh 'ktstr vm --kernel /l2/6.1/vmlinuz --initramfs /l2/initramfs.cpio.gz --topology 1n1l1c1t'
#
# Inside L1: /dev/kvm (kvm-amd on TCG's SVM), ktstr on PATH, /l2/6.1/vmlinuz,
# /l2/7.2/vmlinuz, /l2/<label>/lib/modules/<abi>/ (virtio modules),
# /l2/initramfs.cpio.gz (prints E2E: topology lines, powers off),
# /l2/initramfs-panic.cpio.gz (init exits), /l2/initramfs-hang.cpio.gz (never
# ends), /e2e/lib.sh and /e2e/cases/ (the harness), busybox.
#
# Options: --timeout S  host-side limit for the whole L1 run (default 600)
#          --console    print L1's whole serial console, not just the command's output
#          --qemu       also put qemu-system-x86_64 (and microvm firmware) into L1
# Exit: the command's status; 125 if L1 could not run it (no KVM, L1 crashed,
# time limit), with one line saying why. Full console: build/e2e/l1-run.log
# (KTSTR_E2E_RUN_NAME changes the l1-run part of build/e2e/ file names).
set -euo pipefail
E2E_PROG=l1-run
E2E_DIE_CODE=125
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

limit=600
console=0
qemu=0
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout)
		limit=${2:?--timeout needs seconds}
		shift
		;;
	--console) console=1 ;;
	--qemu) qemu=1 ;;
	-h | --help) e2e_help ;;
	--)
		shift
		break
		;;
	-*) e2e_die "unknown option '$1' (try --help)" ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || e2e_die "no command given (try --help)"

e2e_require_tools qemu-system-x86_64 cpio gzip xz zstd timeout ldd
# run.sh names its files after itself (build/e2e/e2e.*).
name=${KTSTR_E2E_RUN_NAME:-l1-run}
mkdir -p "$E2E_BUILD"
# Two runs under one name would overwrite each other's files: take turns.
exec 8>"$E2E_BUILD/$name.lock"
if ! flock -n 8; then
	e2e_log "another l1-run named '$name' is running: waiting (set KTSTR_E2E_RUN_NAME to run beside it)"
	flock 8
fi
cmdfile=$E2E_BUILD/$name.cmd
printf '%s\n' "$*" >"$cmdfile"
cpio=$E2E_BUILD/$name.cpio
t0=$(date +%s)
e2e_build_l1 "$cpio" "$cmdfile" "$qemu"
e2e_log "L1 image built in $(($(date +%s) - t0))s ($(($(stat -c %s "$cpio") / 1048576)) MiB)"

log=$E2E_BUILD/$name.log
status_file=$E2E_BUILD/$name.status
rm -f "$status_file"
start=$(date +%s)
set +e
e2e_boot_l1 "$cpio" "$limit" | sed -u 's/\r$//' | tee "$log" | awk -v console=$console -v sf="$status_file" '
	# The command may leave its last line without a newline: the marker then
	# ends that line instead of starting its own.
	match($0, /KTSTR-L1-EXIT [0-9]+$/) {
		if (inside && !console && RSTART > 1) print substr($0, 1, RSTART - 1)
		print substr($0, RSTART + 14) > sf
		inside = 0
		if (!console) next
	}
	/^KTSTR-L1-NOKVM / { print "nokvm " substr($0, 16) > sf }
	console { print; fflush(); next }
	inside { print; fflush() }
	/^KTSTR-L1-READY/ { inside = 1 }'
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(($(date +%s) - start))

if [ ! -s "$status_file" ]; then
	if [ "$qrc" -eq 124 ]; then
		e2e_die "L1 hit the ${limit}s limit before the command finished (console: $log)"
	fi
	e2e_die "L1 ended without running the command to its end (qemu status $qrc; console: $log)"
fi
st=$(cat "$status_file")
case "$st" in
nokvm*) e2e_die "KVM unavailable in L1: ${st#nokvm } (console: $log)" ;;
esac
e2e_log "command exited $st (L1 wall time ${elapsed}s)"
exit "$st"
