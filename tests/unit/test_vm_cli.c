// SPDX-License-Identifier: MIT
/*
 * `ktstr vm` option parsing and bad-input handling. Every path here runs
 * without /dev/kvm except exec_missing_disk_exits_125, which skips without it.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd_vm.h"
#include "link/run.h"
#include "vmm/memmap.h"

/*
 * Build a writable argv ("vm", args..., NULL) from string literals: getopt
 * permutes the pointer array, never the strings.
 */
static char **make_argv(int *argc, const char *first, va_list ap)
{
	static char *argv[32];
	int n = 0;

	argv[n++] = (char *)"vm";
	for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	argv[n] = NULL;
	*argc = n;
	return argv;
}

static int parse_args(struct vm_cli_opts *o, char *err, size_t errlen, const char *first, ...)
{
	va_list ap;
	int argc;

	va_start(ap, first);
	char **argv = make_argv(&argc, first, ap);
	va_end(ap);
	return vm_cli_parse(argc, argv, o, err, errlen);
}

static int run_args(const char *first, ...)
{
	va_list ap;
	int argc;

	va_start(ap, first);
	char **argv = make_argv(&argc, first, ap);
	va_end(ap);
	return cli_cmd_vm.run(argc, argv);
}

#define PARSE(o, err, ...) parse_args(o, err, sizeof(err), __VA_ARGS__, NULL)
#define RUN(...)	   run_args(__VA_ARGS__, NULL)

TestSuite(vm_cli);

Test(vm_cli, minimal_command_line_takes_the_defaults)
{
	struct vm_cli_opts o;
	char err[256] = "";

	cr_assert_eq(PARSE(&o, err, "--kernel", "/boot/vmlinuz"), 0, "%s", err);
	cr_assert_str_eq(o.kernel, "/boot/vmlinuz");
	cr_assert_null(o.initramfs);
	cr_assert_eq(o.topo.nodes, 1);
	cr_assert_eq(o.topo.llcs, 1);
	cr_assert_eq(o.topo.cores, 1);
	cr_assert_eq(o.topo.threads, 1);
	cr_assert_eq(o.memory, 0, "0 = computed default");
	cr_assert_eq(o.timeout_s, 0);
	cr_assert_not(o.verbose);
}

Test(vm_cli, every_option_is_parsed)
{
	struct vm_cli_opts o;
	char err[256] = "";

	cr_assert_eq(PARSE(&o, err, "-k", "K", "--initramfs", "I", "--topology", "2n4l2c2t",
			   "--memory", "2G", "--cmdline", "quiet", "--timeout", "30", "--verbose",
			   "--no-default-cmdline"),
		     0, "%s", err);
	cr_assert_str_eq(o.kernel, "K");
	cr_assert_str_eq(o.initramfs, "I");
	cr_assert_eq(o.topo.nodes, 2);
	cr_assert_eq(o.topo.llcs, 4);
	cr_assert_eq(o.topo.cores, 2);
	cr_assert_eq(o.topo.threads, 2);
	cr_assert_eq(o.memory, 2ull << 30);
	cr_assert_str_eq(o.cmdline_extra, "quiet");
	cr_assert_eq(o.timeout_s, 30);
	cr_assert(o.verbose);
	cr_assert(o.no_default_cmdline);
}

Test(vm_cli, memory_accepts_binary_suffixes)
{
	struct vm_cli_opts o;
	char err[256] = "";

	cr_assert_eq(PARSE(&o, err, "-k", "K", "-m", "512M"), 0, "%s", err);
	cr_assert_eq(o.memory, 512ull << 20);
	cr_assert_eq(PARSE(&o, err, "-k", "K", "--memory=2G"), 0, "%s", err);
	cr_assert_eq(o.memory, 2ull << 30);
}

static void assert_rejected(int r, const char *err, const char *needle)
{
	cr_assert_eq(r, -EINVAL);
	cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
	cr_assert_null(strchr(err, '\n'), "one line: '%s'", err);
}

Test(vm_cli, missing_kernel_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "--topology", "1n1l1c1t"), err, "--kernel");
}

Test(vm_cli, zero_nodes_topology_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--topology", "0n1l1c1t"), err, "0n1l1c1t");
}

Test(vm_cli, zero_cores_topology_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--topology", "1n1l0c1t"), err, "1n1l0c1t");
}

Test(vm_cli, garbage_topology_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--topology", "garbage"), err, "garbage");
	assert_rejected(PARSE(&o, err, "-k", "K", "-t", ""), err, "topology");
}

Test(vm_cli, tiny_or_garbage_memory_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--memory", "1K"), err, "1K");
	assert_rejected(PARSE(&o, err, "-k", "K", "--memory", "lots"), err, "lots");
	assert_rejected(PARSE(&o, err, "-k", "K", "--memory", "-5G"), err, "-5G");
}

Test(vm_cli, bad_timeout_is_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--timeout", "soon"), err, "soon");
	assert_rejected(PARSE(&o, err, "-k", "K", "--timeout", "-1"), err, "-1");
	assert_rejected(PARSE(&o, err, "-k", "K", "--timeout", "1.5"), err, "1.5");
}

Test(vm_cli, unknown_options_and_stray_arguments_are_refused)
{
	struct vm_cli_opts o;
	char err[256] = "";

	assert_rejected(PARSE(&o, err, "-k", "K", "--frobnicate"), err, "--frobnicate");
	assert_rejected(PARSE(&o, err, "-k", "K", "extra"), err, "extra");
	assert_rejected(PARSE(&o, err, "--kernel"), err, "--kernel");
}

Test(vm_cli, help_needs_no_other_option)
{
	struct vm_cli_opts o;
	char err[256] = "";

	cr_assert_eq(PARSE(&o, err, "--help"), 0);
	cr_assert(o.help);
}

Test(vm_cli, cmdline_is_appended_to_the_default_or_replaces_it)
{
	struct vm_cli_opts o = {0};
	char *s = vm_cli_cmdline(&o);
	cr_assert_str_eq(s, VM_DEFAULT_CMDLINE);
	cr_assert(strstr(s, "console=ttyS0"));
	free(s);

	o.cmdline_extra = "quiet rdinit=/bin/sh";
	s = vm_cli_cmdline(&o);
	cr_assert_str_eq(s, VM_DEFAULT_CMDLINE " quiet rdinit=/bin/sh");
	free(s);

	o.no_default_cmdline = true;
	s = vm_cli_cmdline(&o);
	cr_assert_str_eq(s, "quiet rdinit=/bin/sh");
	free(s);

	o.cmdline_extra = NULL;
	s = vm_cli_cmdline(&o);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(vm_cli, every_outcome_has_its_own_exit_code)
{
	cr_assert_eq(vm_cli_exit_code(VM_POWEROFF), 0);
	cr_assert_eq(vm_cli_exit_code(VM_REBOOT), 0);
	const enum vm_outcome bad[] = {VM_PANIC, VM_TIMEOUT, VM_CRASH, VM_INTERRUPTED,
				       VM_HOST_ERROR};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int c = vm_cli_exit_code(bad[i]);
		cr_assert_neq(c, 0);
		cr_assert_neq(c, EXIT_USAGE, "2 is reserved for bad input");
		for (size_t j = 0; j < i; j++)
			cr_assert_neq(c, vm_cli_exit_code(bad[j]));
	}
}

/*
 * ---- the command itself: bad input ends before KVM with one line, and exit 2
 * (plain `ktstr vm`) or 125 (--exec, guest-protocol §4.6 rule 1) ----
 */

static void assert_one_stderr_line_containing(const char *needle)
{
	char buf[1024] = "";
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert(strstr(buf, needle), "stderr '%s' lacks '%s'", buf, needle);
	cr_assert(strncmp(buf, "ktstr: ", 7) == 0, "%s", buf);
	/* The message line, plus at most the "Try --help" hint of a usage error. */
	unsigned lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	cr_assert_leq(lines, 2, "%s", buf);
}

Test(vm_cli, nonexistent_kernel_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "/nonexistent/vmlinuz"), EXIT_USAGE);
	assert_one_stderr_line_containing("/nonexistent/vmlinuz");
}

Test(vm_cli, file_that_is_not_a_bzimage_exits_2, .init = cr_redirect_stderr)
{
	char path[] = "/tmp/ktstr-test-notbz-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char junk[8192];
	memset(junk, 'x', sizeof(junk));
	cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	int r = RUN("--kernel", path);
	unlink(path);
	cr_assert_eq(r, EXIT_USAGE);
	assert_one_stderr_line_containing("bzImage");
}

Test(vm_cli, empty_kernel_file_exits_2, .init = cr_redirect_stderr)
{
	char path[] = "/tmp/ktstr-test-empty-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	int r = RUN("--kernel", path);
	unlink(path);
	cr_assert_eq(r, EXIT_USAGE);
	assert_one_stderr_line_containing(path);
}

Test(vm_cli, bad_topology_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "/bin/sh", "--topology", "1n1l0c1t"), EXIT_USAGE);
	assert_one_stderr_line_containing("1n1l0c1t");
}

Test(vm_cli, tiny_memory_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "/bin/sh", "--memory", "1K"), EXIT_USAGE);
	assert_one_stderr_line_containing("1K");
}

Test(vm_cli, plain_vm_bad_option_still_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--frobnicate"), EXIT_USAGE);
	assert_one_stderr_line_containing("--frobnicate");
}

Test(vm_cli, plain_vm_device_option_without_exec_still_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--disk", "x.img"), EXIT_USAGE);
	assert_one_stderr_line_containing("need --exec");
}

Test(vm_cli, exec_bad_option_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--exec", "true", "--frobnicate"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--frobnicate");
}

/* The parser stops at the first error, before it has seen the --exec. */
Test(vm_cli, exec_bad_option_before_exec_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--frobnicate", "--kernel", "K", "--exec=true"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--frobnicate");
}

Test(vm_cli, exec_short_option_bad_timeout_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--timeout", "soon", "-e", "true"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("soon");
}

Test(vm_cli, exec_argv_bad_option_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--frobnicate", "--exec-argv", "--", "true"),
		     RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--frobnicate");
}

Test(vm_cli, exec_without_its_command_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--exec"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--exec");
}

Test(vm_cli, exec_with_an_empty_command_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--exec", ""), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--exec needs a command");
}

Test(vm_cli, exec_with_initramfs_exits_125, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--initramfs", "I", "--exec", "true"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("--initramfs");
}

/* "--exec" as another option's value, or as an argument after "--", is no --exec. */
Test(vm_cli, exec_as_a_value_or_after_double_dash_still_exits_2, .init = cr_redirect_stderr)
{
	cr_assert_eq(RUN("--kernel", "K", "--cmdline", "--exec", "--frobnicate"), EXIT_USAGE);
	cr_assert_eq(RUN("--kernel", "K", "--frobnicate", "--", "--exec", "true"), EXIT_USAGE);
}

Test(vm_cli, exec_kernel_not_a_bzimage_exits_125, .init = cr_redirect_stderr)
{
	if (access("/bin/busybox", X_OK))
		cr_skip_test("/bin/busybox not installed");
	cr_assert_eq(RUN("--kernel", "/bin/sh", "--exec", "true"), RUN_EXIT_HOST);
	assert_one_stderr_line_containing("bzImage");
}

/* A real kernel and its modules, for the --exec paths that get past reading its release. */
static const char *exec_kernel_or_skip(const char **modules)
{
	const char *k = getenv("KTSTR_TEST_VMLINUZ");

	*modules = getenv("KTSTR_TEST_MODULES_DIR");
	if (!k || !*k || !*modules || !**modules)
		cr_skip_test("KTSTR_TEST_VMLINUZ or KTSTR_TEST_MODULES_DIR not set");
	if (access("/bin/busybox", X_OK))
		cr_skip_test("/bin/busybox not installed");
	return k;
}

Test(vm_cli, exec_missing_include_exits_125, .init = cr_redirect_stderr)
{
	const char *m, *k = exec_kernel_or_skip(&m);

	cr_assert_eq(RUN("--kernel", k, "--modules", m, "--include", "/nonexistent/tool", "--exec",
			 "true"),
		     RUN_EXIT_HOST);
	assert_one_stderr_line_containing("/nonexistent/tool");
}

/* The disks are opened once the VM exists, so this one needs a working KVM. */
Test(vm_cli, exec_missing_disk_exits_125, .init = cr_redirect_stderr)
{
	const char *m, *k = exec_kernel_or_skip(&m);
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vmfd = kvm >= 0 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;

	if (vmfd >= 0)
		close(vmfd);
	if (kvm >= 0)
		close(kvm);
	if (vmfd < 0)
		cr_skip_test("no usable /dev/kvm");
	cr_assert_eq(RUN("--kernel", k, "--modules", m, "--disk", "/nonexistent/disk.img", "--exec",
			 "true"),
		     RUN_EXIT_HOST);
	assert_one_stderr_line_containing("/nonexistent/disk.img");
}

Test(vm_cli, help_lists_options_and_exit_codes, .init = cr_redirect_stdout)
{
	cr_assert_eq(RUN("--help"), 0);
	fflush(stdout);
	char buf[8192] = "";
	FILE *f = cr_get_redirected_stdout();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	const char *must[] = {
		"--kernel",  "--initramfs",	"--topology", "--memory", "--cmdline", "--timeout",
		"--verbose", "Exit status",	"  2 ",	      "  3 ",	  "  4 ",      "  5 ",
		"130",	     VM_DEFAULT_CMDLINE};
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		cr_assert(strstr(buf, must[i]), "help lacks '%s'", must[i]);
}

Test(vm_cli, help_puts_exec_bad_input_under_125, .init = cr_redirect_stdout)
{
	cr_assert_eq(RUN("--help"), 0);
	fflush(stdout);
	char buf[8192] = "";
	FILE *f = cr_get_redirected_stdout();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	const char *exec = strstr(buf, "Exit status with --exec");
	cr_assert(exec, "help lacks the --exec exit codes");
	cr_assert(strstr(exec, "125 host-side"), "%s", exec);
	cr_assert(strstr(exec, "bad usage or input included"), "%s", exec);
	cr_assert_null(strstr(exec, "2 bad usage"), "%s", exec);
}
