/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Process start-up: command-line parsing and machine creation (system/vl.c).
 */
#ifndef BATON_SYSTEM_SYSTEM_H
#define BATON_SYSTEM_SYSTEM_H

/* Parse ARGV, build the machine, run the main loop; returns the exit status. */
int baton_main(int argc, char **argv);

#endif
