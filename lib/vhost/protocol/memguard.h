/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guarding against a frontend that shrinks a file after sharing it
 * (memguard.c). A mapping of a frontend's file whose pages can disappear
 * (the file is not sealed against shrinking, or is on hugetlbfs) is
 * registered here with the device that owns it. The library's SIGBUS
 * handler looks the faulting address up in that table: a fault on a
 * registered mapping replaces the whole mapping with private anonymous
 * memory (the faulting access is then re-executed and reads zeros), marks
 * the range faulted and wakes the control loop through an eventfd; the
 * control context then closes the device (lifecycle.c). Any other SIGBUS
 * goes to the handler installed before ours, or kills the process as
 * SIG_DFL would. See doc/guide/security.md, "Guest memory that
 * disappears".
 *
 * The table is written only by the control context (under the control
 * lock, or by a single-threaded test); the signal handler reads it on any
 * thread, lock-free. Each entry's state word holds a generation, so a
 * handler can never claim an entry that was freed and reused while it
 * looked at it.
 */
#ifndef VHU_MEMGUARD_H
#define VHU_MEMGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a guarded mapping holds, for the report. */
enum vhu_guard_kind {
	VHU_GUARD_REGION,   /* a guest memory region (SET_MEM_TABLE, ADD_MEM_REG) */
	VHU_GUARD_LOG,      /* the dirty log (SET_LOG_BASE) */
};

/* A guarded mapping that faulted, as the control context is told of it. */
struct vhu_guard_fault {
	int owner;               /* the device id given to vhu_guard_add() */
	enum vhu_guard_kind kind;
	uint64_t gpa;            /* region: guest-physical start; log: 0 */
	uint64_t size;           /* region or log size in bytes */
};

/*
 * Register [start, start + len), a whole mapping of a frontend's file,
 * for owner (a device id). 0, or -ENOSPC when the table is full.
 * Control context.
 */
int vhu_guard_add(void *start, size_t len, int owner,
		  enum vhu_guard_kind kind, uint64_t gpa, uint64_t size);
/*
 * Forget the mapping that starts at start (no-op if none): call before
 * unmapping it. If a handler on another thread is replacing it right now,
 * waits for that (a few microseconds; the handler takes no lock).
 * Control context.
 */
void vhu_guard_remove(void *start);
/*
 * Install the SIGBUS handler (once; later calls only update notify_fd):
 * a fault on a guarded mapping writes 1 to notify_fd (an eventfd the
 * control loop watches). 0 or -errno.
 */
int vhu_guard_install(int notify_fd);
/* Stop writing to the eventfd and restore the handler found at install. */
void vhu_guard_uninstall(void);
/*
 * Take the next faulted mapping not yet taken: true and *out filled, or
 * false when there is none. The entry stays registered (and anonymous)
 * until vhu_guard_remove(). Control context.
 */
bool vhu_guard_take_fault(struct vhu_guard_fault *out);
/* Mappings registered now (tests). */
unsigned int vhu_guard_count(void);

#endif /* VHU_MEMGUARD_H */
