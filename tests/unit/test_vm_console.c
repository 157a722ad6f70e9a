// SPDX-License-Identifier: MIT
/* Console sink of the VM: line assembly, "\r\n" folding, panic detection. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vm_console.h"

static int fds[2];
static struct vm_console con;
static enum vm_console_mark marks[8];
static unsigned nmarks;

static void on_mark(void *opaque, enum vm_console_mark m)
{
	(void)opaque;
	if (nmarks < 8)
		marks[nmarks++] = m;
}

static void setup(void)
{
	cr_assert_eq(pipe2(fds, O_NONBLOCK), 0);
	nmarks = 0;
	vm_console_init(&con, fds[1], true, on_mark, NULL);
}

static void teardown(void)
{
	vm_console_destroy(&con);
	close(fds[0]);
	close(fds[1]);
}

TestSuite(vm_console, .init = setup, .fini = teardown);

static void feed(const char *s)
{
	while (*s)
		vm_console_putc(&con, (uint8_t)*s++);
}

static const char *drain(void)
{
	static char buf[4096];
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

Test(vm_console, lines_are_written_with_carriage_returns_folded)
{
	feed("Linux version 6.1\r\nsecond\r\n");
	cr_assert_str_eq(drain(), "Linux version 6.1\nsecond\n");
	cr_assert_eq(con.bytes, 27);
	cr_assert_neq(con.first_byte_ns, 0);
}

Test(vm_console, partial_line_is_written_by_flush_and_not_repeated)
{
	feed("/ # ");
	cr_assert_str_eq(drain(), "");
	vm_console_flush(&con);
	cr_assert_str_eq(drain(), "/ # ");
	feed("ls\r");
	vm_console_flush(&con);
	cr_assert_str_eq(drain(), "ls", "a trailing CR waits for its LF");
	feed("\n");
	cr_assert_str_eq(drain(), "\n");
}

Test(vm_console, panic_line_is_recorded_without_the_timestamp)
{
	feed("[    2.000000] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n");
	cr_assert(con.panicked);
	cr_assert_str_eq(con.panic_line,
			 "Kernel panic - not syncing: VFS: Unable to mount root fs");
	cr_assert_eq(nmarks, 1);
	cr_assert_eq(marks[0], VM_MARK_PANIC);
	/* Only the first panic is kept. */
	feed("Kernel panic - not syncing: second\n");
	cr_assert(strstr(con.panic_line, "VFS"));
}

Test(vm_console, panic_end_marker_and_restart_are_reported)
{
	feed("[    2.1] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---\n");
	feed("[    3.0] reboot: Restarting system\n");
	cr_assert_eq(nmarks, 2);
	cr_assert_eq(marks[0], VM_MARK_PANIC_END);
	cr_assert_eq(marks[1], VM_MARK_RESTART);
	cr_assert(con.restarting);
}

Test(vm_console, classify_ignores_ordinary_lines)
{
	cr_assert_eq(vm_console_classify("Run /init as init process"), VM_MARK_NONE);
	cr_assert_eq(vm_console_classify("panic=-1"), VM_MARK_NONE);
	cr_assert_eq(vm_console_classify(""), VM_MARK_NONE);
}

Test(vm_console, overlong_lines_are_split_not_overflowed)
{
	for (unsigned i = 0; i < 3 * VM_CONSOLE_LINE; i++)
		vm_console_putc(&con, 'a');
	feed("\n");
	size_t total = 0;
	for (;;) {
		const char *s = drain();
		if (!*s)
			break;
		total += strlen(s);
	}
	cr_assert_eq(total, 3 * VM_CONSOLE_LINE + 1);
}

Test(vm_console, unscanned_console_never_reports_marks)
{
	struct vm_console c2;
	vm_console_init(&c2, -1, false, on_mark, NULL);
	const char *s = "Kernel panic - not syncing: x\n";
	while (*s)
		vm_console_putc(&c2, (uint8_t)*s++);
	cr_assert_not(c2.panicked);
	cr_assert_eq(nmarks, 0);
	vm_console_destroy(&c2);
}

Test(vm_console, finish_terminates_a_partial_line_once)
{
	feed("login: ");
	vm_console_finish(&con);
	cr_assert_str_eq(drain(), "login: \n");
	vm_console_finish(&con);
	cr_assert_str_eq(drain(), "", "nothing pending: nothing written");
	feed("done\n");
	vm_console_finish(&con);
	cr_assert_str_eq(drain(), "done\n");
}
