#!/bin/sh
# Case 13: `ktstr vm --exec` when the guest goes wrong (issue 7): a kernel
# crash from the command (sysrq c) ends ktstr with 121 and the report shows
# the panic; a command that outlives --timeout 5 ends it with 124, neither
# before 5 s nor long after.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-fault "$1"
# shellcheck source=tests/e2e/tools/exec-lib.sh
. /e2e/tools/exec-lib.sh

# shellcheck disable=SC2086 # EXEC_BASE is a word list
vm_run crash 300 $EXEC_BASE --exec 'echo c > /proc/sysrq-trigger; sleep 60'
expect_rc crash 121
expect_line crash 'Kernel panic' "$WORK/crash.err"
expect_line crash '^ktstr: FAIL \(121\)' "$WORK/crash.err"

# shellcheck disable=SC2086
vm_run timeout 300 $EXEC_BASE --timeout 5 --exec 'echo sleeping; sleep 1000'
expect_rc timeout 124
expect_line timeout '^ktstr: FAIL \(124\)' "$WORK/timeout.err"
expect_line timeout '^sleeping$' "$WORK/timeout.out"
# The 5 s count from the command's start, after the guest boot (10-30 s here).
[ "$VM_SECS" -ge 5 ] || fail "timeout: ended after ${VM_SECS}s, before --timeout 5"
[ "$VM_SECS" -le 150 ] || fail "timeout: ended after ${VM_SECS}s (boot + 5 s + shutdown > 150 s)"
echo "exec-fault@$KLABEL: --timeout 5 run took ${VM_SECS}s in all"
case_end
