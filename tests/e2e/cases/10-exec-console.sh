#!/bin/sh
# Case 10: `ktstr vm --exec` over virtio-console (issue 7). One boot checks:
# the three port names in sysfs; 10 MiB of random stdout arrive intact over
# port 1 (md5 printed by the guest on stderr vs md5 of what ktstr wrote);
# stdout and stderr stay separate and exact, an unterminated last line
# included; the command's exit status (7) becomes ktstr's. A second boot: a
# command killed by SIGKILL ends ktstr with 128+9.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-console "$1"
# shellcheck source=tests/e2e/tools/exec-lib.sh
. /e2e/tools/exec-lib.sh
MB10=10485760

# vm_run mirrors ktstr's output to L1's console as it comes (capped): 10 MiB
# of random bytes are of no use there, hence the redirection (vm_run still
# runs in this shell, so VM_RC and the failures are kept).
# shellcheck disable=SC2086 # EXEC_BASE is a word list
vm_run io 300 $EXEC_BASE --exec "
	for f in /sys/class/virtio-ports/*/name; do echo \"port-name \$(cat \$f)\" >&2; done
	echo 'stderr line' >&2
	head -c $MB10 /dev/urandom | tee /tmp/f
	echo \"md5 \$(md5sum </tmp/f)\" >&2
	printf 'no newline'
	printf 'err no newline' >&2
	exit 7" >/dev/null
expect_rc io 7
out=$WORK/io.out
err=$WORK/io.err
# The port names, in any order: exactly the three of the spec.
names=$(sed -n 's/^port-name //p' "$err" | sort | tr '\n' ' ')
[ "$names" = "ktstr-bulk ktstr-console ktstr-stats " ] ||
	fail "io: virtio-ports names are '$names', expected ktstr-console, ktstr-bulk, ktstr-stats"
size=$(wc -c <"$out")
[ "$size" -eq $((MB10 + 10)) ] || fail "io: stdout has $size bytes, expected $((MB10 + 10))"
want=$(sed -n 's/^md5 \([0-9a-f]*\).*/\1/p' "$err")
got=$(head -c $MB10 "$out" | md5sum | cut -d' ' -f1)
if [ -z "$want" ] || [ "$want" != "$got" ]; then
	fail "io: the 10 MiB stdout has md5 $got on the host, the guest printed '$want'"
fi
[ "$(tail -c +$((MB10 + 1)) "$out")" = "no newline" ] ||
	fail "io: stdout does not end with exactly 'no newline' ($(tail -c 20 "$out" | od -c | head -n 2 | tr -s ' \n' ' '))"
# stderr: exactly what the command wrote there, nothing of stdout.
{
	sed -n '/^port-name /p' "$err"
	echo 'stderr line'
	echo "md5 $want  -"
	printf 'err no newline'
} >"$WORK/io.err.want"
cmp -s "$err" "$WORK/io.err.want" ||
	fail "io: stderr differs from what the command wrote ($(cmp "$err" "$WORK/io.err.want" 2>&1 | head -n 1))"
echo "exec-console@$KLABEL: 10 MiB stdout in ${VM_SECS}s (whole run), md5 $got"
# Keep the 10 MiB file out of the failure report.
DETAIL=$(echo "$DETAIL" | sed "s| $VM_OUT:[0-9]*| $err:20|")

# shellcheck disable=SC2086
vm_run kill 300 $EXEC_BASE --exec 'echo before-kill; kill -KILL $$; echo after-kill'
expect_rc kill 137
[ "$(cat "$WORK/kill.out")" = before-kill ] ||
	fail "kill: stdout is '$(head -c 200 "$WORK/kill.out")', expected 'before-kill'"
case_end
