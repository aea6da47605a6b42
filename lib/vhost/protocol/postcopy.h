/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Postcopy live migration on the destination (protocol feature PAGEFAULT):
 * the guest runs, and the backend serves its queues, before all of its
 * memory has arrived. The backend opens a userfaultfd (POSTCOPY_ADVISE),
 * hands it to the frontend, registers every guest memory mapping with it
 * once postcopy starts (POSTCOPY_LISTEN, and each region mapped after),
 * and answers the memory requests of that phase with its mapping bases,
 * which the frontend needs to resolve the faults it reads from the fd.
 * A data-path lcore that touches a page not yet received sleeps in the
 * page fault until the frontend has placed the page and woken it; it
 * never sees a page half written. POSTCOPY_END unregisters and closes.
 * See doc/guide/qemu.md ("Postcopy") for what that costs.
 */
#ifndef VHU_POSTCOPY_H
#define VHU_POSTCOPY_H

#include <stdbool.h>

#include "dev.h"
#include "msg.h"

/* Request handlers (rules in handlers.c). */
enum vhu_msg_result vhu_handle_postcopy_advise(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);
enum vhu_msg_result vhu_handle_postcopy_listen(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);
enum vhu_msg_result vhu_handle_postcopy_end(struct vhu_dev *dev,
		const struct vhu_msg_hdr *hdr, const union vhu_msg_payload *p,
		int *fds, int nfds);

/*
 * After the bases reply, QEMU confirms with a u64 0 in a message named
 * after its last memory request (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG,
 * or none). True when hdr/nfds is that confirmation: it carries nothing
 * to act on and is taken without a reply. QEMU 7.2 sends POSTCOPY_END from
 * its migration thread, which can overtake the confirmation of the last
 * bases it asked for: a confirmation still owed is taken after END too.
 */
bool vhu_postcopy_is_confirmation(const struct vhu_dev *dev,
				  const struct vhu_msg_hdr *hdr, int nfds);

/*
 * While listening: register region r with the userfaultfd, then make it
 * accessible (a region mapped while listening is mapped without access,
 * so that nothing populates it before it is registered: see
 * vhu_mem_map_region). Returns 0 or -errno (logged).
 */
int vhu_postcopy_register(struct vhu_dev *dev, const struct vhu_mem_region *r);

/*
 * While listening, a memory request is answered with where each region is
 * mapped here: SET_MEM_TABLE's payload with every region's user address
 * replaced by the backend's mapping of it, ADD_MEM_REG's likewise.
 */
enum vhu_msg_result vhu_postcopy_reply_table(struct vhu_dev *dev,
					     const struct vhu_msg_hdr *hdr,
					     const union vhu_msg_payload *p);

/* Forget postcopy: close the userfaultfd (connection closed or reset). */
void vhu_postcopy_close(struct vhu_dev *dev);

#endif /* VHU_POSTCOPY_H */
