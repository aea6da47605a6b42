/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one atomic style of vhu: C11 <stdatomic.h>, every access with an
 * explicit memory order (atomic_load_explicit, atomic_store_explicit,
 * atomic_fetch_*_explicit, atomic_thread_fence, atomic_signal_fence).
 * No GCC __atomic builtins, no rte_atomic / rte_smp_*: DPDK 22.11 has no
 * rte_stdatomic.h, and one form is easier to review than three.
 *
 * Two kinds of objects:
 *  - Objects only vhu owns and only ever accesses atomically are declared
 *    _Atomic (vq->access, the IOTLB send_busy flag, the PMD's dp_dev).
 *  - Objects that cannot be: guest memory (split ring avail/used idx and
 *    flags, used_event / avail_event, packed descriptor flags, the event
 *    suppression areas), the frontend's dirty-log bitmap, public structs
 *    (struct vhu_vring_stats in vhu.h), and library fields that are
 *    written plainly while the queue or device is held and read
 *    concurrently elsewhere (vq->broken, vq->kickfd, dev->vqs). They stay
 *    plain integers or pointers; each concurrent access goes through one
 *    of the vhu_atomic_*() accessors below, which casts the address to the
 *    _Atomic type of the same size and makes the C11 call with the memory
 *    order the caller names.
 *
 * Why the cast is sound here: C11 lets _Atomic T differ from T in size
 * and alignment, but GCC and clang give the lock-free integer and pointer
 * types the same size, alignment and representation, and implement the
 * C11 calls on them with the very instructions of the __atomic builtins
 * on T (the view adds nothing: no lock, no padding). The static_asserts
 * below make a compiler or target where that does not hold fail to build
 * instead of miscompiling. Guest memory is never accessed through a wider
 * or narrower type than the field's own.
 *
 * Ring memory pointers are volatile in places (the guest writes it behind
 * our back); the accessors take volatile pointers so either kind can be
 * passed, which changes no generated code for atomic accesses.
 */
#ifndef VHU_ATOMIC_H
#define VHU_ATOMIC_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VHU_ATOMIC_SAME_AS(T) \
	static_assert(sizeof(_Atomic(T)) == sizeof(T) && \
		      _Alignof(_Atomic(T)) == _Alignof(T), \
		      "_Atomic " #T " is not laid out as " #T)

VHU_ATOMIC_SAME_AS(bool);
VHU_ATOMIC_SAME_AS(uint8_t);
VHU_ATOMIC_SAME_AS(uint16_t);
VHU_ATOMIC_SAME_AS(uint32_t);
VHU_ATOMIC_SAME_AS(int);
VHU_ATOMIC_SAME_AS(uint64_t);
VHU_ATOMIC_SAME_AS(void *);
static_assert(ATOMIC_BOOL_LOCK_FREE == 2 && ATOMIC_CHAR_LOCK_FREE == 2 &&
	      ATOMIC_SHORT_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2 &&
	      ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2,
	      "vhu needs lock-free atomics for its shared fields");

/*
 * Accessors for plain objects: the memory order is the caller's, explicit
 * at every call site. Each body is the C11 call on the _Atomic view.
 * Functions rather than macros on purpose: GCC's atomic_*_explicit are
 * statement expressions with an address-taken temporary, which, expanded
 * in a large hot function, perturbs its early optimisation and register
 * allocation (packed.c's dequeue changed although its atomic instructions
 * did not); inside a small inline function the temporary is gone before
 * the body is inlined, and the generated code is that of the builtins.
 * Always inlined so that, once optimised, the memory order is a constant
 * at the C11 call; at -O0 GCC takes the non-constant order as seq_cst,
 * which is correct, only slower.
 */
#define VHU_ATOMIC_INLINE static inline __attribute__((always_inline))

#define VHU_ATOMIC_LOAD_STORE(name, T) \
VHU_ATOMIC_INLINE T \
vhu_atomic_load_##name(const volatile T *p, memory_order mo) \
{ \
	return atomic_load_explicit((const volatile _Atomic T *)p, mo); \
} \
VHU_ATOMIC_INLINE void \
vhu_atomic_store_##name(volatile T *p, T v, memory_order mo) \
{ \
	atomic_store_explicit((volatile _Atomic T *)p, v, mo); \
}

VHU_ATOMIC_LOAD_STORE(bool, bool)
VHU_ATOMIC_LOAD_STORE(u16, uint16_t)
VHU_ATOMIC_LOAD_STORE(u32, uint32_t)
VHU_ATOMIC_LOAD_STORE(int, int)
VHU_ATOMIC_LOAD_STORE(u64, uint64_t)

/* Dirty-log bitmap: the frontend clears bits while we set others. */
VHU_ATOMIC_INLINE void
vhu_atomic_fetch_or_u8(volatile uint8_t *p, uint8_t v, memory_order mo)
{
	atomic_fetch_or_explicit((volatile _Atomic uint8_t *)p, v, mo);
}

VHU_ATOMIC_INLINE void
vhu_atomic_fetch_add_u64(volatile uint64_t *p, uint64_t v, memory_order mo)
{
	atomic_fetch_add_explicit((volatile _Atomic uint64_t *)p, v, mo);
}

/*
 * Plain object pointers (p is the pointer's address, e.g.
 * &dev->vqs.vq[i]): a macro, since C has no generic pointer-to-pointer
 * type; covered by the void * assert above.
 */
#define vhu_atomic_load_ptr(p, mo) \
	atomic_load_explicit((__typeof__(*(p)) _Atomic *)(p), (mo))
#define vhu_atomic_store_ptr(p, v, mo) \
	atomic_store_explicit((__typeof__(*(p)) _Atomic *)(p), (v), (mo))

#endif /* VHU_ATOMIC_H */
