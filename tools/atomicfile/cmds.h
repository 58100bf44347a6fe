/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - the subcommands of the atomicfile tool.  Each takes the
 * arguments from the subcommand's name on (argv[0] is its name) and
 * returns the exit status.
 */
#ifndef AFILE_CLI_CMDS_H
#define AFILE_CLI_CMDS_H

int cmd_write(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_patch(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_mv(int argc, char **argv);
int cmd_lock(int argc, char **argv);
int cmd_clean(int argc, char **argv);
int cmd_txn(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

#endif /* AFILE_CLI_CMDS_H */
