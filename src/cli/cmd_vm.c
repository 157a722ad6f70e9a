// SPDX-License-Identifier: MIT
/* `ktstr vm`: placeholder until the VMM lands (issue: the VMM). */
#include <stdio.h>

#include "cli/cli.h"

static void vm_usage(void)
{
	printf("Usage: ktstr vm --kernel PATH [options]\n"
	       "Boot a Linux kernel in the ktstr VMM.\n");
}

static int vm_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ktstr: 'vm' is not available in this build yet\n");
	return 1;
}

const struct cli_cmd cli_cmd_vm = {
	.name = "vm",
	.summary = "boot a kernel with a chosen CPU topology",
	.run = vm_run,
	.usage = vm_usage,
};
