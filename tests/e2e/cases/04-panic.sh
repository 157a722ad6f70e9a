#!/bin/sh
# Case 4a: init exits, the guest kernel panics ("Attempted to kill init!").
# ktstr vm ends with the panic exit code and shows the panic line.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin panic "$1"
vm_run vm 240 --kernel "$KERNEL" --initramfs "$L2_INITRAMFS_PANIC" --topology 1n1l1c1t --memory 256M
expect_rc vm "$E2E_RC_PANIC"
expect_line vm 'Kernel panic'
case_end
