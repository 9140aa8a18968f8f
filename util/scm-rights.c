/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Walking SCM_RIGHTS control messages (include/util/scm-rights.h). */
#include "util/osdep.h"

#include "util/scm-rights.h"

void scm_rights_foreach(struct msghdr *msg, void (*fn)(int fd, void *opaque),
                        void *opaque)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            /* CMSG_DATA need not be int-aligned. */
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fn(fd, opaque);
        }
    }
}
