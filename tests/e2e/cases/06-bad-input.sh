#!/bin/sh
# Case 5: bad input is refused before any VM runs: exit 2 and a one-line
# "ktstr: ..." message each, no crash.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin bad-input "$1"
ok="--initramfs $L2_INITRAMFS --memory 256M"
# shellcheck disable=SC2086 # $ok is a word list
{
	expect_usage_error no-kernel-option --topology 1n1l1c1t $ok
	expect_usage_error missing-kernel --kernel /nonexistent/vmlinuz --topology 1n1l1c1t $ok
	expect_usage_error not-bzimage --kernel /e2e/lib.sh --topology 1n1l1c1t $ok
	expect_usage_error not-bzimage-cpio --kernel "$L2_INITRAMFS" --topology 1n1l1c1t $ok
	expect_usage_error topo-0n --kernel "$KERNEL" --topology 0n1l1c1t $ok
	expect_usage_error topo-0c --kernel "$KERNEL" --topology 1n1l0c1t $ok
	expect_usage_error topo-garbage --kernel "$KERNEL" --topology 'x7#garbage' $ok
	expect_usage_error memory-1K --kernel "$KERNEL" --topology 1n1l1c1t --initramfs "$L2_INITRAMFS" \
		--memory 1K
}
# Only the failing sub-checks' logs are worth showing.
DETAIL=""
for f in "$WORK"/*.log; do
	t=${f##*/}
	t=${t%.log}
	case "$FAILS" in *"$t:"*) show "$WORK/$t.cmd"; show "$f" ;; esac
done
case_end
