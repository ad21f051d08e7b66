/* Command-line tools: keygen, staff add, import. Each returns the exit code. */
#ifndef KIOSKD_CLI_H
#define KIOSKD_CLI_H

#include "daemon/kioskd.h"

int cli_keygen(struct kioskd *k, int argc, char **argv);
int cli_staff(struct kioskd *k, int argc, char **argv);
int cli_import(struct kioskd *k, int argc, char **argv);

#endif
