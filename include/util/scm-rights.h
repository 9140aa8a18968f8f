/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Descriptors received with SCM_RIGHTS: the one walk over a recvmsg()'s
 * control messages that the chardev layer (QMP getfd) and the migration
 * stream share.
 */
#ifndef BATON_UTIL_SCM_RIGHTS_H
#define BATON_UTIL_SCM_RIGHTS_H

#include <sys/socket.h>

/*
 * Call FN(fd, OPAQUE) for every descriptor MSG carries, in order. FN owns
 * each fd (it keeps it or closes it).
 */
void scm_rights_foreach(struct msghdr *msg, void (*fn)(int fd, void *opaque),
                        void *opaque);

#endif
