/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The baton program: everything else lives in the library (system/vl.c). */
#include "util/osdep.h"

#include "system/system.h"

int main(int argc, char **argv)
{
    return baton_main(argc, argv);
}
