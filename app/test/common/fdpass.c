/* SPDX-License-Identifier: BSD-3-Clause */
/* SCM_RIGHTS for the test programs (see fdpass.h). */
#include <errno.h>
#include <string.h>

#include "fdpass.h"

int
fdpass_attach(struct msghdr *mh, void *control, size_t room,
	      const int *fds, int nfds)
{
	struct cmsghdr *c;

	if (nfds <= 0)
		return 0;
	if (CMSG_SPACE((size_t)nfds * sizeof(int)) > room)
		return -EINVAL;
	memset(control, 0, room);
	mh->msg_control = control;
	mh->msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	return 0;
}
