#!/bin/sh
# Case 4a: init exits, the guest kernel panics ("Attempted to kill init!").
# ktstr vm ends with the panic exit code and shows the panic line on stderr.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin panic "$1"
vm_run vm 240 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS_PANIC" --topology 1n1l1c1t --memory 256M \
	--timeout "$E2E_BOOT_TIMEOUT"
expect_rc vm "$E2E_RC_PANIC"
# The host side names the panic in its one-line reason; the init exited 7.
expect_line vm '^ktstr: .*Kernel panic - not syncing: Attempted to kill init!.*0x00000700' "$WORK/vm.err"
case_end
