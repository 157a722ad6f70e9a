# shellcheck shell=bash
# Helpers shared by the host-side e2e scripts (fetch-kernels.sh, l1-run.sh, run.sh).
# Sourced, never run. Everything here runs on the host, not inside L1.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
export CACHE_DIR=${KTSTR_CACHE:-$HOME/.cache/ktstr}
export E2E_BUILD=${KTSTR_E2E_BUILD:-$REPO_DIR/build/e2e}
# The ktstr binary put into L1 (override to test another build).
KTSTR_BIN=${KTSTR_BIN:-$REPO_DIR/ktstr}

# The L1 CPU model: TCG with AMD SVM and nested paging. Richer models expose
# XSAVE/AVX that TCG cannot keep consistent for a nested guest (E2E.md).
L1_CPU=${KTSTR_L1_CPU:-qemu64,+svm,+npt,+nrip-save}
L1_MEM=${KTSTR_L1_MEM:-3072}
# One L1 CPU: with two, QEMU 7.2's multi-threaded TCG sometimes runs stale
# code after a CPU rewrote it (kernel text patching), which oopses the 8-vCPU
# L2 guests or L1 itself about every other boot (tests/e2e/README.md). One
# CPU means one TCG thread, and the cases run as fast.
L1_SMP=${KTSTR_L1_SMP:-1}
L1_ACCEL=${KTSTR_L1_ACCEL:-tcg}
# L1's own kernel (and so its KVM): the 6.1 or the 7.2 cloud kernel.
L1_KERNEL=${KTSTR_L1_KERNEL:-6.1}
# L1's console log level: 3 keeps KVM's chatter out; 5 adds the stack traces
# of soft lockups and warnings (diagnosis).
L1_LOGLEVEL=${KTSTR_L1_LOGLEVEL:-3}
# L1 keeps a periodic tick (no dynticks, no high-resolution one-shot timer).
# QEMU 7.2's emulated SVM now and then leaves L1's timer interrupt pending
# in the local APIC, never taken, while L1 runs an L2 vCPU; with a one-shot
# timer nothing raises it again and L1 stops for good (tests/e2e/README.md).
# A periodic timer fires again every tick: 0 stalls in 48 boot-heavy cases,
# against 4 in 37 with the one-shot default. KTSTR_L1_APPEND replaces these
# words ('' for the kernel's defaults).
L1_APPEND=${KTSTR_L1_APPEND-nohz=off highres=off}

e2e_log() { printf '%s: %s\n' "${E2E_PROG:-e2e}" "$*" >&2; }
e2e_die() {
	printf '%s: %s\n' "${E2E_PROG:-e2e}" "$*" >&2
	exit "${E2E_DIE_CODE:-1}"
}

# Print the calling script's header comment (its usage) and exit 0.
e2e_help() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
}

# A bzImage carries "HdrS" at offset 0x202 (x86 boot protocol); checking it
# catches truncated downloads and wrong paths before a VM is started.
e2e_is_bzimage() {
	[ -f "$1" ] && [ "$(dd if="$1" bs=1 skip=514 count=4 status=none 2>/dev/null)" = "HdrS" ]
}

# Fail with one line naming every host tool that is missing.
e2e_require_tools() {
	local missing=() t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing+=("$t")
	done
	[ ${#missing[@]} -eq 0 ] ||
		e2e_die "missing host tools: ${missing[*]} (run scripts/install-deps.sh)"
}

# Copy a module into dst, decompressed: busybox insmod reads plain ELF only.
e2e_copy_module() {
	local src=$1 dst=$2
	case "$src" in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -q -dc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) return 1 ;;
	esac
}

# Find a module by name (e.g. kvm-amd) under a modules tree; prints its path.
e2e_find_module() {
	local tree=$1 name=$2 f
	f=$(find "$tree" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \
		-o -name "$name.ko.gz" | head -n1)
	[ -n "$f" ] || return 1
	printf '%s\n' "$f"
}

# Copy an executable and every shared library ldd resolves for it into the
# root at $1, keeping absolute paths (the dynamic loader looks there).
e2e_copy_with_libs() {
	local root=$1 bin=$2 dst=${3:-$2} lib
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$bin" "$root$dst"
	while read -r lib; do
		[ -n "$lib" ] || continue
		mkdir -p "$root$(dirname "$lib")"
		[ -e "$root$lib" ] || cp -L "$lib" "$root$lib"
	done < <(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u)
}

# Pack a directory into a gzip-compressed newc archive (what the kernel unpacks).
e2e_pack_cpio() {
	local dir=$1 out=$2
	(cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
		gzip -1 >"$out.tmp" && mv "$out.tmp" "$out"
}

# ---- L1 image and boot --------------------------------------------------

# Set KTSTR_TEST_VMLINUZ{,_72} and KTSTR_E2E_KDIR_{61,72} (fetching on first use).
e2e_kernels() {
	local out
	out=$("$E2E_DIR/fetch-kernels.sh") || e2e_die "could not fetch the Debian kernels (see above)"
	eval "$out"
	export KTSTR_TEST_VMLINUZ KTSTR_TEST_VMLINUZ_72 KTSTR_TEST_MODULES_DIR KTSTR_E2E_KDIR_61 \
		KTSTR_E2E_KDIR_72
}

# Busybox plus one symlink per applet, at the paths busybox itself lists.
e2e_install_busybox() {
	local root=$1 bb applet
	# Both guests need the static build (package busybox-static): nothing else
	# of the host's userland is copied next to it.
	bb=$(command -v busybox) || e2e_die "missing busybox (package busybox-static)"
	ldd "$bb" >/dev/null 2>&1 && e2e_die "$bb is dynamically linked: install busybox-static"
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin"
	cp -L "$bb" "$root/bin/busybox"
	while read -r applet; do
		[ "$applet" = bin/busybox ] && continue
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done < <("$bb" --list-full)
}

# The L2 busybox initramfs of one flavour: /init is tests/e2e/l2/init-$1.
e2e_build_l2_initramfs() {
	local flavour=$1 out=$2 root
	root=$out.root
	rm -rf "$root"
	mkdir -p "$root"/{proc,sys,dev,tmp,run,root,etc}
	e2e_install_busybox "$root"
	install -m 0755 "$E2E_DIR/l2/init-$flavour" "$root/init"
	e2e_pack_cpio "$root" "$out"
	rm -rf "$root"
}

# The virtio modules an L2 kernel needs for our devices (its virtio drivers are
# modules), with the modules.* index files and the kernel config (ktstr packs
# modules compressed only if the config says the kernel can read them), under
# $2/lib/modules/<abi>/; prints <abi>.
e2e_copy_l2_modules() {
	local kroot=$1 dst=$2 mdir abi rel f
	mdir=$(find "$kroot" -maxdepth 4 -type d -path '*/lib/modules/*' | head -n1)
	[ -n "$mdir" ] || return 0
	abi=$(basename "$mdir")
	mkdir -p "$dst/lib/modules/$abi"
	cp "$mdir"/modules.* "$dst/lib/modules/$abi/" 2>/dev/null || true
	for f in "$mdir/config" "$kroot/boot/config-$abi"; do
		[ -f "$f" ] && cp "$f" "$dst/lib/modules/$abi/config" && break
	done
	while read -r f; do
		rel=${f#"$mdir"/}
		mkdir -p "$dst/lib/modules/$abi/$(dirname "$rel")"
		cp "$f" "$dst/lib/modules/$abi/$rel"
	done < <(find "$mdir/kernel" \( -path '*/drivers/virtio/*' -o -name 'virtio_blk.ko*' \
		-o -name 'virtio_net.ko*' -o -name 'net_failover.ko*' -o -name 'failover.ko*' \
		-o -name 'virtio_console.ko*' \) -type f)
	printf '%s\n' "$abi"
}

# Build L1's initramfs into $1: busybox, the kvm modules, ./ktstr with its
# libraries, both L2 kernels (+ their virtio modules), the L2 initramfs
# flavours, the case and bench scripts and /e2e/cmd (the command /init runs,
# read from file $2). $3 = 1 adds qemu-system-x86 (for the benchmarks).
# Uncompressed on purpose: the kernels inside are already compressed and
# gunzip under TCG would cost seconds on every boot.
e2e_build_l1() {
	local out=$1 cmdfile=$2 with_qemu=${3:-0} root m f label vmlinuz kroot abi
	[ -x "$KTSTR_BIN" ] || e2e_die "missing $KTSTR_BIN (run 'make ktstr' first)"
	e2e_kernels
	# Named after the output: l1-run.sh and run.sh may build at the same time.
	root=$out.root
	rm -rf "$root"
	mkdir -p "$root"/{proc,sys,dev,tmp,run,root,etc,lib/modules/e2e,e2e,l2}
	e2e_install_busybox "$root"
	install -m 0755 "$E2E_DIR/l1/init" "$root/init"
	e2e_l1_kernel
	for m in irqbypass kvm kvm-amd; do
		f=$(e2e_find_module "$L1_KDIR" "$m") || e2e_die "module $m not in $L1_KDIR"
		e2e_copy_module "$f" "$root/lib/modules/e2e/$m.ko"
	done
	e2e_copy_with_libs "$root" "$KTSTR_BIN" /usr/bin/ktstr
	for label in 6.1 7.2; do
		if [ "$label" = 6.1 ]; then
			vmlinuz=$KTSTR_TEST_VMLINUZ kroot=$KTSTR_E2E_KDIR_61
		else
			vmlinuz=$KTSTR_TEST_VMLINUZ_72 kroot=$KTSTR_E2E_KDIR_72
		fi
		mkdir -p "$root/l2/$label"
		cp -L "$vmlinuz" "$root/l2/$label/vmlinuz"
		abi=$(e2e_copy_l2_modules "$kroot" "$root/l2/$label")
		# Also where ktstr looks by default: /lib/modules/<release>.
		[ -n "$abi" ] && ln -s "/l2/$label/lib/modules/$abi" "$root/lib/modules/$abi"
	done
	for f in "$E2E_DIR"/l2/init-*; do
		f=${f##*/init-}
		if [ "$f" = report ]; then
			e2e_build_l2_initramfs "$f" "$root/l2/initramfs.cpio.gz"
		else
			e2e_build_l2_initramfs "$f" "$root/l2/initramfs-$f.cpio.gz"
		fi
	done
	cp "$E2E_DIR"/l1/*.sh "$E2E_DIR"/l1/*.awk "$root/e2e/"
	mkdir -p "$root/e2e/cases" "$root/e2e/bench"
	cp "$E2E_DIR"/cases/*.sh "$root/e2e/cases/" 2>/dev/null || true
	cp "$E2E_DIR"/bench/*.sh "$root/e2e/bench/" 2>/dev/null || true
	# Helper programs of the exec cases (pktloop, patgen, e2fsprogs), built here.
	"$E2E_DIR/tools/l1-tools.sh" "$root"
	cp "$cmdfile" "$root/e2e/cmd"
	[ "$with_qemu" = 1 ] && e2e_add_qemu "$root"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$root"
}

# qemu-system-x86_64 with its libraries and the firmware microvm and pc use.
e2e_add_qemu() {
	local root=$1 q
	q=$(command -v qemu-system-x86_64) || e2e_die "missing qemu-system-x86_64 (package qemu-system-x86)"
	e2e_copy_with_libs "$root" "$q" /usr/bin/qemu-system-x86_64
	mkdir -p "$root/usr/share/qemu" "$root/usr/share/seabios"
	cp -L /usr/share/qemu/{bios-microvm.bin,bios-256k.bin,kvmvapic.bin,linuxboot_dma.bin} \
		"$root/usr/share/qemu/" 2>/dev/null || true
	cp -L /usr/share/seabios/{bios-microvm.bin,bios-256k.bin} "$root/usr/share/seabios/" 2>/dev/null || true
}

# Set L1_VMLINUZ and L1_KDIR (its modules tree) from $L1_KERNEL.
e2e_l1_kernel() {
	if [ -z "${KTSTR_TEST_VMLINUZ_72:-}" ] || [ -z "${KTSTR_E2E_KDIR_72:-}" ]; then
		e2e_kernels
	fi
	case "$L1_KERNEL" in
	6.1) L1_VMLINUZ=$KTSTR_TEST_VMLINUZ L1_KDIR=$KTSTR_E2E_KDIR_61 ;;
	7.2) L1_VMLINUZ=$KTSTR_TEST_VMLINUZ_72 L1_KDIR=$KTSTR_E2E_KDIR_72 ;;
	*) e2e_die "KTSTR_L1_KERNEL must be 6.1 or 7.2, not '$L1_KERNEL'" ;;
	esac
}

# Set L1_CMD to the QEMU command line that boots L1 with initramfs $1;
# $2 (optional) is appended to L1's kernel command line (KEY=VALUE words
# there reach /init as environment variables).
e2e_l1_cmd() {
	e2e_l1_kernel
	L1_CMD=(qemu-system-x86_64 -accel "$L1_ACCEL" -cpu "$L1_CPU" -m "$L1_MEM" -smp "$L1_SMP"
		-nodefaults -no-user-config -display none -serial stdio -no-reboot
		-kernel "$L1_VMLINUZ" -initrd "$1"
		-append "console=ttyS0 quiet loglevel=$L1_LOGLEVEL panic=-1 rdinit=/init${L1_APPEND:+ $L1_APPEND}${2:+ $2}")
	# Diagnosis only, e.g. KTSTR_L1_QEMU_ARGS='-d cpu_reset,guest_errors -D /tmp/l1.qlog'.
	# shellcheck disable=SC2206 # a word list on purpose
	[ -z "${KTSTR_L1_QEMU_ARGS:-}" ] || L1_CMD+=($KTSTR_L1_QEMU_ARGS)
}

# Boot L1 with initramfs $1 under a host time limit of $2 seconds; QEMU's
# serial console goes to stdout. Returns QEMU's status (124: time limit).
# --foreground keeps QEMU in the terminal's process group, so Ctrl-C ends it.
e2e_boot_l1() {
	e2e_l1_cmd "$1"
	timeout --foreground -k 10 "$2" "${L1_CMD[@]}" </dev/null 2>&1
}
