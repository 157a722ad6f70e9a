#!/bin/sh
# `ktstr shell`: an interactive busybox shell on the guest console (hvc0).
# Keystrokes come from a pipe here: ktstr forwards them once the guest shell
# has printed its banner, the shell runs them, and its exit status becomes
# ktstr's. $((6*7)) is expanded by the guest shell, so "hi-from-42" can only
# come from it (the tty's echo of the input line shows the unexpanded text).
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-shell "$1"
echo "printf 'echo hi-from-\$((6*7))\\nexit 5\\n' | ktstr shell --kernel $KERNEL --memory 256M --scale 20" >"$WORK/shell.cmd"
# shellcheck disable=SC2016 # expanded by the guest shell, not here
printf 'echo hi-from-$((6*7))\nexit 5\n' |
	timeout -s KILL 200 ktstr shell --kernel "$KERNEL" --memory 256M --scale 20 \
		>"$WORK/shell.out" 2>"$WORK/shell.err"
rc=$?
cat "$WORK/shell.out" "$WORK/shell.err" | tr -d '\r' >"$WORK/shell.log"
show "$WORK/shell.cmd"
show "$WORK/shell.log"
[ "$rc" -eq 5 ] || fail "shell: exit $rc, expected 5 (the shell's exit status)"
grep -q '^hi-from-42$' "$WORK/shell.log" || fail "shell: no 'hi-from-42' line from the guest shell"
case_end
