/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SIGBUS guard (protocol/memguard.c) on its own: a fault on a
 * registered mapping is repaired and reported once, on any thread, even
 * on two threads at once; a fault anywhere else (an unregistered mapping,
 * a mapping registered once and since removed even if the address is
 * reused, a SIGBUS sent by kill()) reaches the handler installed before
 * vhu_init(), which this suite installs first and which jumps back into
 * the test, so the process stays alive by design; with no handler before
 * ours, a real fault still kills (in a child). Sealed files are not
 * registered, unsealed ones are, and unmapping forgets them.
 *
 * cmocka installs its own SIGBUS handler around each test; every test
 * here installs the test handler inside the test, before vhu_init(), so
 * the library chains to it, and vhu_fini() gives it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "memguard.h"
#include "vhu.h"

#define LEN (64u * 1024)

static sigjmp_buf jump;
static volatile sig_atomic_t test_calls;
static void *volatile test_addr;
static struct sigaction before;

/* The "application's" handler: note the fault and jump back. */
static void
test_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	test_calls++;
	test_addr = si->si_code > 0 ? si->si_addr : NULL;
	siglongjmp(jump, 1);
}

static void
install_test_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = test_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGBUS, &sa, &before), 0);
	test_calls = 0;
	test_addr = NULL;
}

static void
restore_handler(void)
{
	assert_int_equal(sigaction(SIGBUS, &before, NULL), 0);
}

/* A shared mapping of a fresh memfd whose file is then cut to nothing. */
static uint8_t *
map_cut(int *fd_out, void *at)
{
	int fd = memfd_create("memguard-test", MFD_CLOEXEC);
	uint8_t *p;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, LEN), 0);
	p = mmap(at, LEN, PROT_READ | PROT_WRITE,
		 MAP_SHARED | (at != NULL ? MAP_FIXED : 0), fd, 0);
	assert_true(p != MAP_FAILED);
	p[100] = 42;
	assert_int_equal(ftruncate(fd, 0), 0);
	*fd_out = fd;
	return p;
}

/* Read one byte of p; -1 if the test handler caught a fault instead. */
static int
touch(volatile uint8_t *p)
{
	if (sigsetjmp(jump, 1) != 0)
		return -1;
	return *p;
}

static bool
handler_is_ours(void)
{
	struct sigaction cur;

	assert_int_equal(sigaction(SIGBUS, NULL, &cur), 0);
	return !((cur.sa_flags & SA_SIGINFO) &&
		 cur.sa_sigaction == test_handler);
}

/* A fault outside guest memory reaches the handler installed before. */
static void
t_not_guest_memory_chains(void **state)
{
	uint8_t *p;
	int fd;

	(void)state;
	install_test_handler();
	assert_int_equal(vhu_init(0), 0);
	assert_true(handler_is_ours());
	p = map_cut(&fd, NULL);
	assert_int_equal(touch(p + 100), -1);
	assert_int_equal(test_calls, 1);
	assert_ptr_equal(test_addr, p + 100);
	/* and a SIGBUS sent by kill(), which has no address */
	if (sigsetjmp(jump, 1) == 0)
		raise(SIGBUS);
	assert_int_equal(test_calls, 2);
	assert_null(test_addr);
	vhu_fini();
	/* vhu_fini gave the test handler back */
	assert_false(handler_is_ours());
	munmap(p, LEN);
	close(fd);
	restore_handler();
}

/* A fault on a registered mapping is repaired and reported once. */
static void
t_guest_fault_repaired(void **state)
{
	struct vhu_guard_fault f;
	volatile uint8_t *p;
	int fd;

	(void)state;
	install_test_handler();
	assert_int_equal(vhu_init(0), 0);
	p = map_cut(&fd, NULL);
	assert_int_equal(vhu_guard_add((void *)p, LEN, 7, VHU_GUARD_REGION,
				       0x1000, LEN), 0);
	assert_false(vhu_guard_take_fault(&f));
	assert_int_equal(touch(p + 100), 0); /* zeros, no fault */
	p[LEN - 1] = 9;                      /* writes land privately */
	assert_int_equal(p[LEN - 1], 9);
	assert_int_equal(test_calls, 0);
	assert_true(vhu_guard_take_fault(&f));
	assert_int_equal(f.owner, 7);
	assert_int_equal(f.kind, VHU_GUARD_REGION);
	assert_int_equal(f.gpa, 0x1000);
	assert_int_equal(f.size, LEN);
	assert_false(vhu_guard_take_fault(&f)); /* once */
	vhu_guard_remove((void *)p);
	assert_int_equal(vhu_guard_count(), 0);
	munmap((void *)p, LEN);
	close(fd);
	vhu_fini();
	restore_handler();
}

/*
 * A mapping registered and then removed: a new file mapped at the very
 * same address that faults is not guest memory any more.
 */
static void
t_removed_entry_not_matched(void **state)
{
	struct vhu_guard_fault f;
	uint8_t *p, *q;
	int fd, fd2;

	(void)state;
	install_test_handler();
	assert_int_equal(vhu_init(0), 0);
	p = map_cut(&fd, NULL);
	assert_int_equal(vhu_guard_add(p, LEN, 3, VHU_GUARD_LOG, 0, LEN), 0);
	vhu_guard_remove(p);
	munmap(p, LEN);
	close(fd);
	q = map_cut(&fd2, p);
	assert_ptr_equal(q, p);
	assert_int_equal(touch(q + 100), -1);
	assert_int_equal(test_calls, 1);
	assert_false(vhu_guard_take_fault(&f));
	munmap(q, LEN);
	close(fd2);
	vhu_fini();
	restore_handler();
}

static _Atomic int go;

static void *
reader(void *arg)
{
	volatile uint8_t *p = arg;
	uintptr_t sum = 0;

	while (!atomic_load_explicit(&go, memory_order_acquire))
		;
	for (uint32_t i = 0; i < LEN; i += 4096)
		sum += p[i];
	return (void *)sum;
}

/* Two threads fault on one mapping at once: both go on, one report. */
static void
t_two_threads_one_mapping(void **state)
{
	struct vhu_guard_fault f;
	pthread_t th[2];
	uint8_t *p;
	void *ret;
	int fd;

	(void)state;
	install_test_handler();
	assert_int_equal(vhu_init(0), 0);
	p = map_cut(&fd, NULL);
	assert_int_equal(vhu_guard_add(p, LEN, 5, VHU_GUARD_REGION, 0, LEN),
			 0);
	atomic_store(&go, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, p), 0);
	atomic_store_explicit(&go, 1, memory_order_release);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret); /* all zeros */
	}
	assert_int_equal(test_calls, 0);
	assert_true(vhu_guard_take_fault(&f));
	assert_int_equal(f.owner, 5);
	assert_false(vhu_guard_take_fault(&f));
	vhu_guard_remove(p);
	munmap(p, LEN);
	close(fd);
	vhu_fini();
	restore_handler();
}

/* With SIG_DFL before us, a fault outside guest memory still kills. */
static void
t_real_fault_still_kills(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction dfl;
		uint8_t *p;
		int fd;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGBUS, &dfl, NULL);
		if (vhu_guard_install(-1) != 0)
			_exit(2);
		fd = memfd_create("memguard-child", 0);
		if (fd < 0 || ftruncate(fd, LEN) != 0)
			_exit(3);
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0) != 0)
			_exit(4);
		*(volatile uint8_t *)p = 1;
		_exit(0); /* survived: wrong */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGBUS);
}

/* Sealed files cannot fault and are not registered; unsealed ones are. */
static void
t_sealed_not_registered(void **state)
{
	struct vhu_msg_region in = { 0x100000, LEN, 0x7f0000000000ull, 0 };
	struct vhu_mem_region r;
	unsigned int n0 = vhu_guard_count();
	int fd;

	(void)state;
	fd = memfd_create("memguard-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, LEN), 0);
	assert_int_equal(vhu_mem_map_region(&r, &in, fd, false, 1), 0);
	assert_int_equal(vhu_guard_count(), n0 + 1);
	vhu_mem_unmap_region(&r);
	assert_int_equal(vhu_guard_count(), n0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(vhu_mem_map_region(&r, &in, fd, false, 1), 0);
	assert_int_equal(vhu_guard_count(), n0);
	vhu_mem_unmap_region(&r);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_not_guest_memory_chains),
		cmocka_unit_test(t_guest_fault_repaired),
		cmocka_unit_test(t_removed_entry_not_matched),
		cmocka_unit_test(t_two_threads_one_mapping),
		cmocka_unit_test(t_real_fault_still_kills),
		cmocka_unit_test(t_sealed_not_registered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
