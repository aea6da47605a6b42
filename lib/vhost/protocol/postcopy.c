/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Postcopy: the userfaultfd, its registrations and the replies the
 * frontend needs to serve our faults (see postcopy.h).
 *
 * The order of a postcopy migration, as QEMU drives it on the destination:
 * POSTCOPY_ADVISE (during precopy; QEMU sends one per vhost device, i.e.
 * per queue pair: each gets a fresh fd and the newest one is registered,
 * which is the one QEMU asks of its first device last), POSTCOPY_LISTEN
 * (postcopy starts: every mapping is registered), then SET_MEM_TABLE or
 * ADD_MEM_REG as the device starts, answered with our mapping bases and
 * confirmed by the frontend, then POSTCOPY_END (every page arrived).
 * A request out of that order is refused; the migration then fails on the
 * frontend's side and the guest keeps running at the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "postcopy.h"
#include "mem.h"
#include "vhu_log.h"

static int
open_userfaultfd(const char *name)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		VHU_LOG(ERR, "%s: POSTCOPY_ADVISE: userfaultfd: %s (postcopy needs it; as non-root, vm.unprivileged_userfaultfd=1)",
			name, strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		VHU_LOG(ERR, "%s: POSTCOPY_ADVISE: UFFDIO_API: %s", name,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
vhu_postcopy_close(struct vhu_dev *dev)
{
	if (dev->postcopy_ufd >= 0)
		close(dev->postcopy_ufd);
	dev->postcopy_ufd = -1;
	dev->postcopy_listening = false;
	dev->postcopy_unconfirmed = false;
}

int
vhu_postcopy_register(struct vhu_dev *dev, const struct vhu_mem_region *r)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)r->map_addr, .len = r->map_len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (ioctl(dev->postcopy_ufd, UFFDIO_REGISTER, &reg) < 0) {
		int err = errno; /* the log may change errno */

		VHU_LOG(ERR, "%s: postcopy: cannot register region gpa 0x%" PRIx64
			" with the userfaultfd: %s", dev->name, r->gpa,
			strerror(err));
		return -err;
	}
	/* mapped without access until now (see vhu_mem_map_region) */
	return vhu_mem_region_open(r);
}

static void
unregister_all(struct vhu_dev *dev)
{
	for (uint32_t i = 0; i < dev->mem.nregions; i++) {
		const struct vhu_mem_region *r = &dev->mem.r[i];
		struct uffdio_range range = {
			.start = (uintptr_t)r->map_addr, .len = r->map_len,
		};

		if (ioctl(dev->postcopy_ufd, UFFDIO_UNREGISTER, &range) < 0)
			VHU_LOG(ERR, "%s: postcopy: unregister gpa 0x%" PRIx64
				": %s", dev->name, r->gpa, strerror(errno));
	}
}

/*
 * The reply carries the fd and no payload. On failure the reply goes out
 * without an fd: QEMU then fails the migration instead of waiting forever.
 */
enum vhu_msg_result
vhu_handle_postcopy_advise(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			   const union vhu_msg_payload *p, int *fds, int nfds)
{
	int fd;

	(void)p;
	(void)fds;
	(void)nfds;
	if (dev->postcopy_listening) {
		VHU_LOG(ERR, "%s: POSTCOPY_ADVISE while postcopy runs: refused",
			dev->name);
		fd = -1;
	} else {
		fd = open_userfaultfd(dev->name);
	}
	if (fd >= 0) {
		if (dev->postcopy_ufd >= 0)
			close(dev->postcopy_ufd);
		dev->postcopy_ufd = fd;
		VHU_LOG(INFO, "%s: postcopy advised: userfaultfd handed over",
			dev->name);
	}
	if (vhu_msg_reply_fds(dev, hdr->request, NULL, 0, &fd,
			      fd >= 0 ? 1 : 0) < 0)
		return VHU_MSG_CLOSE;
	return VHU_MSG_REPLIED;
}

enum vhu_msg_result
vhu_handle_postcopy_listen(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			   const union vhu_msg_payload *p, int *fds, int nfds)
{
	(void)hdr;
	(void)p;
	(void)fds;
	(void)nfds;
	if (dev->postcopy_ufd < 0) {
		VHU_LOG(ERR, "%s: POSTCOPY_LISTEN without POSTCOPY_ADVISE: refused",
			dev->name);
		return VHU_MSG_FAILED;
	}
	if (dev->postcopy_listening)
		return VHU_MSG_OK; /* one per queue pair's vhost device */
	for (uint32_t i = 0; i < dev->mem.nregions; i++)
		if (vhu_postcopy_register(dev, &dev->mem.r[i]) < 0)
			return VHU_MSG_FAILED;
	dev->postcopy_listening = true;
	VHU_LOG(INFO, "%s: postcopy listening: %u regions fault to the frontend",
		dev->name, dev->mem.nregions);
	return VHU_MSG_OK;
}

enum vhu_msg_result
vhu_handle_postcopy_end(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			const union vhu_msg_payload *p, int *fds, int nfds)
{
	uint64_t status = 0;

	(void)p;
	(void)fds;
	(void)nfds;
	if (dev->postcopy_ufd >= 0) {
		bool unconfirmed = dev->postcopy_unconfirmed;

		if (dev->postcopy_listening)
			unregister_all(dev);
		vhu_postcopy_close(dev);
		/* QEMU 7.2 may send END before confirming our last bases */
		dev->postcopy_unconfirmed = unconfirmed;
		VHU_LOG(INFO, "%s: postcopy ended", dev->name);
	}
	return vhu_msg_reply(dev, hdr->request, &status, sizeof(status)) < 0 ?
	       VHU_MSG_CLOSE : VHU_MSG_REPLIED;
}

bool
vhu_postcopy_is_confirmation(const struct vhu_dev *dev,
			     const struct vhu_msg_hdr *hdr, int nfds)
{
	if (!(dev->postcopy_listening || dev->postcopy_unconfirmed) ||
	    hdr->size != sizeof(uint64_t) || nfds != 0)
		return false;
	switch (hdr->request) {
	case VHU_REQ_NONE:
	case VHU_REQ_SET_MEM_TABLE:
	case VHU_REQ_ADD_MEM_REG:
	case VHU_REQ_REM_MEM_REG:
		return true;
	default:
		return false;
	}
}

/* Our mapping of the region starting at gpa, or 0. */
static uint64_t
base_of(const struct vhu_dev *dev, uint64_t gpa)
{
	for (uint32_t i = 0; i < dev->mem.nregions; i++)
		if (dev->mem.r[i].gpa == gpa)
			return (uint64_t)(uintptr_t)dev->mem.r[i].hva;
	return 0;
}

enum vhu_msg_result
vhu_postcopy_reply_table(struct vhu_dev *dev, const struct vhu_msg_hdr *hdr,
			 const union vhu_msg_payload *p)
{
	union vhu_msg_payload r;

	/* the same payload, each user address replaced by ours */
	memcpy(&r, p, hdr->size);
	if (hdr->request == VHU_REQ_ADD_MEM_REG) {
		r.reg.r.uaddr = base_of(dev, p->reg.r.gpa);
	} else {
		for (uint32_t i = 0; i < p->mem.nregions; i++)
			r.mem.r[i].uaddr = base_of(dev, p->mem.r[i].gpa);
	}
	if (vhu_msg_reply(dev, hdr->request, &r, hdr->size) < 0)
		return VHU_MSG_CLOSE;
	/* QEMU confirms once after its last memory request of a round */
	dev->postcopy_unconfirmed = true;
	return VHU_MSG_REPLIED;
}
