#!/bin/sh
# Case 2: 1n2l2c2t (8 CPUs: 2 LLCs x 2 cores x 2 threads). In the guest the
# thread siblings, core ids, L3 groups (cache/index3/shared_cpu_list) and
# the sched domains SMT(2) < MC(4) < PKG/DIE(8) match the request.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin topo-1n2l2c2t "$1"
vm_run vm 300 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS" --topology 1n2l2c2t --memory 512M \
	--timeout "$E2E_BOOT_TIMEOUT"
expect_rc vm 0
check_report vm 1n2l2c2t
case_end
