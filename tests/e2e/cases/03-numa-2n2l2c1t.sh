#!/bin/sh
# Case 3: 2n2l2c1t (2 NUMA nodes, 1 LLC of 2 cores each, 4 CPUs). Each node
# has the right CPUs and a share of the memory, the SLIT says 10/20, one
# package per node, and the sched domains are MC(node) < NUMA(all).
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin numa-2n2l2c1t "$1"
vm_run vm 300 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS" --topology 2n2l2c1t --memory 512M \
	--timeout "$E2E_BOOT_TIMEOUT"
expect_rc vm 0
check_report vm 2n2l2c1t
case_end
