/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest-memory fault guard: a process-wide table of the mappings of
 * frontend files that can shrink under us, and the SIGBUS handler that
 * turns a fault on one of them into a closed connection instead of a dead
 * process (memguard.h; design and limits in doc/guide/security.md).
 *
 * Entry states, in the low two bits of the state word (the rest is a
 * generation, bumped each time the entry is reused):
 *   FREE   -> LIVE    vhu_guard_add(), control context
 *   LIVE   -> FIXING  the handler claims it (CAS), on the faulting thread
 *   FIXING -> FIXED   the handler replaced the mapping
 *   FIXING -> LIVE    the handler could not (mmap failed): SIGBUS kills
 *   LIVE, FIXED -> FREE  vhu_guard_remove(), control context, before munmap;
 *                        it waits while an entry is FIXING
 * A handler reads an entry's address range between two loads of the state
 * word and uses it only if the word did not change, and claims it with a
 * CAS on that same word (generation included): an entry freed and reused
 * while a handler looked at it can never be claimed with stale bounds.
 *
 * Only async-signal-safe work in the handler: atomics, mmap() (a plain
 * system call on Linux), write() to an eventfd, sigaction(), raise().
 * No lock, no allocation, no log.
 */
#include <errno.h>
#include <assert.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_pause.h>

#include "memguard.h"
#include "msg.h"
#include "vhu_config.h"
#include "vhu_log.h"

/*
 * Every device's worst case at once: all memory slots, a SET_MEM_TABLE
 * being built next to them, the dirty log and its replacement.
 */
#define GUARD_CAP (VHU_MAX_DEVICES * \
		   (VHU_MAX_MEM_SLOTS + VHU_MEM_TABLE_MAX + 2))

#define ST_FREE 0u
#define ST_LIVE 1u
#define ST_FIXING 2u
#define ST_FIXED 3u
#define ST_MASK 3u
#define GEN_ONE 4u

struct guard_entry {
	_Atomic uint32_t state;     /* generation | ST_* */
	int owner;                  /* control context only, as below */
	/* read by the handler: relaxed, validated by the state word */
	_Atomic uintptr_t start;
	_Atomic size_t len;
	/* control context only */
	uint64_t gpa, size;
	uint32_t fault_seq;         /* handler, before FIXED: order of faults */
	uint8_t kind;               /* enum vhu_guard_kind */
	bool taken;                 /* a FIXED entry handed to the reporter */
};
static_assert(sizeof(struct guard_entry) <= 48, "guard entry grew");

static struct guard_entry tab[GUARD_CAP];
/* entries [0, used) have been used at least once; never shrinks */
static _Atomic uint32_t used;
static _Atomic int notify_fd = -1;
static _Atomic uint32_t faults;  /* numbers the faults, oldest reported first */
static struct sigaction prev;   /* written before ours is installed */
static bool installed;

static inline uint32_t
st_of(uint32_t s)
{
	return s & ST_MASK;
}

static inline uint32_t
with_st(uint32_t s, uint32_t st)
{
	return (s & ~ST_MASK) | st;
}

int
vhu_guard_add(void *start, size_t len, int owner, enum vhu_guard_kind kind,
	      uint64_t gpa, uint64_t size)
{
	uint32_t n = atomic_load_explicit(&used, memory_order_relaxed);
	struct guard_entry *e;
	uint32_t i, s;

	for (i = 0; i < n; i++)
		if (st_of(atomic_load_explicit(&tab[i].state,
					       memory_order_relaxed)) == ST_FREE)
			break;
	if (i == GUARD_CAP)
		return -ENOSPC;
	e = &tab[i];
	s = atomic_load_explicit(&e->state, memory_order_relaxed);
	/* R8: the entry's FREE before its new bounds (seqlock writer) */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&e->start, (uintptr_t)start,
			      memory_order_relaxed);
	atomic_store_explicit(&e->len, len, memory_order_relaxed);
	e->owner = owner;
	e->taken = false;
	e->kind = (uint8_t)kind;
	e->gpa = gpa;
	e->size = size;
	/* R8: the bounds before the entry is LIVE, new generation */
	atomic_store_explicit(&e->state, with_st(s + GEN_ONE, ST_LIVE),
			      memory_order_release);
	if (i == n)
		/* R8: the LIVE entry before the count that covers it */
		atomic_store_explicit(&used, n + 1, memory_order_release);
	return 0;
}

void
vhu_guard_remove(void *start)
{
	uint32_t n = atomic_load_explicit(&used, memory_order_relaxed);

	for (uint32_t i = 0; i < n; i++) {
		struct guard_entry *e = &tab[i];
		uint32_t s;

		if (st_of(atomic_load_explicit(&e->state,
					       memory_order_relaxed)) == ST_FREE ||
		    atomic_load_explicit(&e->start, memory_order_relaxed) !=
		    (uintptr_t)start)
			continue;
		for (;;) {
			/* A9: a handler's mmap is done before we munmap */
			s = atomic_load_explicit(&e->state,
						 memory_order_acquire);
			if (st_of(s) == ST_FIXING) {
				rte_pause();
				continue;
			}
			if (atomic_compare_exchange_weak_explicit(&e->state, &s,
					with_st(s, ST_FREE),
					memory_order_acq_rel,
					memory_order_relaxed))
				return;
		}
	}
}

bool
vhu_guard_take_fault(struct vhu_guard_fault *out)
{
	uint32_t n = atomic_load_explicit(&used, memory_order_relaxed);
	struct guard_entry *first = NULL;

	for (uint32_t i = 0; i < n; i++) {
		struct guard_entry *e = &tab[i];

		/* A9: the handler's replacement (and fault_seq) is complete */
		if (st_of(atomic_load_explicit(&e->state,
					       memory_order_acquire)) != ST_FIXED ||
		    e->taken)
			continue;
		/* the oldest fault first (wrap-safe while < 2^31 apart) */
		if (first == NULL ||
		    (int32_t)(e->fault_seq - first->fault_seq) < 0)
			first = e;
	}
	if (first == NULL)
		return false;
	first->taken = true;
	out->owner = first->owner;
	out->kind = (enum vhu_guard_kind)first->kind;
	out->gpa = first->gpa;
	out->size = first->size;
	return true;
}

unsigned int
vhu_guard_count(void)
{
	uint32_t n = atomic_load_explicit(&used, memory_order_relaxed);
	unsigned int live = 0;

	for (uint32_t i = 0; i < n; i++)
		live += st_of(atomic_load_explicit(&tab[i].state,
						   memory_order_relaxed)) !=
			ST_FREE;
	return live;
}

/* Replace a claimed entry's mapping; the claim is released either way. */
static bool
replace(struct guard_entry *e, uint32_t claimed, uintptr_t start, size_t len)
{
	uint64_t one = 1;
	int fd;

	/*
	 * The whole mapping, so the replacement is aligned as the original
	 * was (a hugetlbfs mapping can only be replaced in huge pages).
	 * Reads now see zeros, writes land in private pages.
	 */
	if (mmap((void *)start, len, PROT_READ | PROT_WRITE,
		 MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0) == MAP_FAILED) {
		/* R9: back to LIVE; the fault goes on to kill */
		atomic_store_explicit(&e->state, with_st(claimed, ST_LIVE),
				      memory_order_release);
		return false;
	}
	e->fault_seq = atomic_fetch_add_explicit(&faults, 1,
						 memory_order_relaxed);
	/* R9: the new mapping (and fault_seq) before anyone sees FIXED */
	atomic_store_explicit(&e->state, with_st(claimed, ST_FIXED),
			      memory_order_release);
	fd = atomic_load_explicit(&notify_fd, memory_order_relaxed);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the loop wakes anyway */
	}
	return true;
}

/*
 * Is a fault at a on a guarded mapping? Then make the access safe to
 * re-execute and return true.
 */
static bool
guard_fault(uintptr_t a)
{
	/* A8: pairs with R8 (entries counted are initialised) */
	uint32_t n = atomic_load_explicit(&used, memory_order_acquire);

	for (uint32_t i = 0; i < n; i++) {
		struct guard_entry *e = &tab[i];

		for (;;) {
			uintptr_t start;
			size_t len;
			/* A8: the state before the bounds (seqlock reader) */
			uint32_t s = atomic_load_explicit(&e->state,
							  memory_order_acquire);

			if (st_of(s) == ST_FREE)
				break;
			start = atomic_load_explicit(&e->start,
						     memory_order_relaxed);
			len = atomic_load_explicit(&e->len,
						   memory_order_relaxed);
			/* A8: the bounds before the state is read again */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&e->state,
						 memory_order_relaxed) != s)
				continue; /* changed meanwhile: look again */
			if (a - start >= len)
				break;
			if (st_of(s) == ST_FIXED)
				return true; /* replaced since we faulted */
			if (st_of(s) == ST_FIXING) {
				/* another thread is replacing it: wait */
				while (atomic_load_explicit(&e->state,
						memory_order_acquire) == s)
					rte_pause();
				return true;
			}
			if (atomic_compare_exchange_strong_explicit(&e->state,
					&s, with_st(s, ST_FIXING),
					memory_order_acq_rel,
					memory_order_relaxed))
				return replace(e, s, start, len);
		}
	}
	return false;
}

/* Not ours: what would have happened without us. */
static void
chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl;

	if (prev.sa_flags & SA_SIGINFO) {
		prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
		prev.sa_handler(sig);
		return;
	}
	if (prev.sa_handler == SIG_IGN && si->si_code <= 0)
		return; /* sent by kill(), and ignored before us */
	/*
	 * SIG_DFL (a fault cannot be ignored): restore it; the faulting
	 * access runs again on return and the kernel kills the process with
	 * the usual core dump. A signal sent by kill() is sent again.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	/* BUS_ADRERR: a page past the end of its file (or none to give) */
	if (si->si_code == BUS_ADRERR &&
	    guard_fault((uintptr_t)si->si_addr)) {
		errno = saved;
		return;
	}
	chain(sig, si, uc);
	errno = saved;
}

int
vhu_guard_install(int fd)
{
	struct sigaction sa;

	atomic_store_explicit(&notify_fd, fd, memory_order_relaxed);
	if (installed)
		return 0;
	/* prev first: our handler may run as soon as it is installed */
	if (sigaction(SIGBUS, NULL, &prev) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	installed = true;
	/* a sanitizer may keep its own (ASAN_OPTIONS=allow_user_segv_handler=0) */
	if (sigaction(SIGBUS, NULL, &sa) == 0 &&
	    !((sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == on_sigbus))
		VHU_LOG(WARNING, "SIGBUS handler not installed: a frontend that shrinks a guest memory file will kill the process");
	return 0;
}

void
vhu_guard_uninstall(void)
{
	struct sigaction cur;

	atomic_store_explicit(&notify_fd, -1, memory_order_relaxed);
	if (!installed)
		return;
	installed = false;
	/* someone installed another handler after us: leave theirs */
	if (sigaction(SIGBUS, NULL, &cur) == 0 &&
	    (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)
		sigaction(SIGBUS, &prev, NULL);
	else
		VHU_LOG(WARNING, "SIGBUS handler replaced after vhu_init: left in place");
}
