#!/bin/sh
# Case 14: `ktstr vm --exec` refuses bad input before booting (issue 7): a
# missing --disk file, a missing --include file and an --include whose shared
# library cannot be found each give exit 125 (with --exec, bad input is a
# host-side failure: specs/guest-protocol.md §4.6 rule 1, so it cannot pass
# for the command's own status 2) and one "ktstr: ..." line naming the file,
# no crash. No VM boots, so both kernel labels run it cheaply.
# shellcheck source=tests/e2e/l1/lib.sh
. /e2e/lib.sh
case_begin exec-bad-input "$1"
# shellcheck source=tests/e2e/tools/exec-lib.sh
. /e2e/tools/exec-lib.sh

# shellcheck disable=SC2086 # EXEC_BASE is a word list
{
	expect_input_error missing-disk "$E2E_RC_EXEC_HOST" $EXEC_BASE --disk /nonexistent/disk.img --exec true &&
		expect_line missing-disk '/nonexistent/disk\.img' "$WORK/missing-disk.err"
	expect_input_error missing-include "$E2E_RC_EXEC_HOST" $EXEC_BASE --include /nonexistent/tool --exec true &&
		expect_line missing-include '/nonexistent/tool' "$WORK/missing-include.err"
	# needslib links against libktstr-e2e-absent.so, which exists nowhere in L1.
	expect_input_error missing-lib "$E2E_RC_EXEC_HOST" $EXEC_BASE --include $T/needslib --exec true &&
		expect_line missing-lib 'libktstr-e2e-absent\.so' "$WORK/missing-lib.err"
}
case_end
