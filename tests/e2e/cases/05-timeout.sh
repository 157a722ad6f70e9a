#!/bin/sh
# Case 4b: a guest that never ends is stopped after --timeout with the
# timeout exit code, neither early nor much later.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
: "${E2E_HANG_TIMEOUT:=10}"
case_begin timeout "$1"
vm_run vm 240 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS_HANG" --topology 1n1l1c1t --memory 256M \
	--timeout "$E2E_HANG_TIMEOUT"
expect_rc vm "$E2E_RC_TIMEOUT"
expect_line vm '^ktstr: .*timeout' "$WORK/vm.err"
[ "$VM_CS" -ge $((E2E_HANG_TIMEOUT * 100)) ] ||
	fail "vm: ended after $VM_CS cs, before --timeout $E2E_HANG_TIMEOUT s"
# Allow for stopping the vCPUs and the report; under TCG this is slow too.
[ "$VM_SECS" -le $((E2E_HANG_TIMEOUT + 30)) ] ||
	fail "vm: ended after ${VM_SECS}s, more than 30 s after --timeout $E2E_HANG_TIMEOUT"
case_end
