#!/bin/sh
# Case 1: the smallest VM (1 node, 1 LLC, 1 core, 1 thread) boots the L2
# kernel to init, init prints its report and powers off -> exit 0. On 7.2
# also: sched_ext present (state "disabled") and BTF in /sys/kernel/btf.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin boot-1n1l1c1t "$1"
vm_run vm 240 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS" --topology 1n1l1c1t --memory 256M \
	--timeout "$E2E_BOOT_TIMEOUT"
expect_rc vm 0
expect_line vm '^E2E:BEGIN'
check_report vm 1n1l1c1t
# The 7.2 kernel is there for sched_ext: it must have it, and BTF.
if [ "$KLABEL" = 7.2 ]; then
	expect_line vm '^E2E:scx disabled$'
	expect_line vm '^E2E:btf yes$'
fi
case_end
