#!/bin/sh
# Run every case (/e2e/cases/*.sh) against each L2 kernel in $E2E_KERNELS
# (default "6.1 7.2"); $E2E_CASES, if set, is a list of substrings selecting
# cases by file name; the first $E2E_SKIP (case, kernel) pairs are skipped
# (run.sh restarts L1 after a case that wedged it). Ends with KTSTR-E2E-DONE.
i=0
for k in ${E2E_KERNELS:-6.1 7.2}; do
	for c in /e2e/cases/*.sh; do
		if [ -n "${E2E_CASES:-}" ]; then
			sel=0
			for p in $E2E_CASES; do
				case "${c##*/}" in *"$p"*) sel=1 ;; esac
			done
			[ $sel = 1 ] || continue
		fi
		i=$((i + 1))
		[ $i -gt "${E2E_SKIP:-0}" ] || continue
		sh "$c" "$k"
	done
done
echo "KTSTR-E2E-DONE"
