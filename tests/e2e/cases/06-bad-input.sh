#!/bin/sh
# Case 5: bad input is refused before any VM runs: exit 2 and a one-line
# "ktstr: ..." message each, no crash.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin bad-input "$1"
ok="--initramfs $L2_INITRAMFS --memory 256M"
# shellcheck disable=SC2086 # $ok is a word list
{
	expect_input_error no-kernel-option "$E2E_RC_USAGE" --topology 1n1l1c1t $ok
	expect_input_error missing-kernel "$E2E_RC_USAGE" --kernel /nonexistent/vmlinuz --topology 1n1l1c1t $ok
	expect_input_error not-bzimage "$E2E_RC_USAGE" --kernel /e2e/lib.sh --topology 1n1l1c1t $ok
	expect_input_error not-bzimage-cpio "$E2E_RC_USAGE" --kernel "$L2_INITRAMFS" --topology 1n1l1c1t $ok
	expect_input_error topo-0n "$E2E_RC_USAGE" --kernel "$KERNEL" --topology 0n1l1c1t $ok
	expect_input_error topo-0c "$E2E_RC_USAGE" --kernel "$KERNEL" --topology 1n1l0c1t $ok
	expect_input_error topo-garbage "$E2E_RC_USAGE" --kernel "$KERNEL" --topology 'x7#garbage' $ok
	expect_input_error memory-1K "$E2E_RC_USAGE" --kernel "$KERNEL" --topology 1n1l1c1t \
		--initramfs "$L2_INITRAMFS" --memory 1K
}
# Only the failing sub-checks' logs are worth showing.
DETAIL=""
for f in "$WORK"/*.log; do
	t=${f##*/}
	t=${t%.log}
	case "$FAILS" in *"$t:"*) show "$WORK/$t.cmd"; show "$f" ;; esac
done
case_end
