/* Placeholder until its issue lands: replaced by the real command. */
#include "cli.h"

int cmd_spectrum(int argc, char **argv)
{
    (void)argc;
    return cli_error("'%s' is not available in this build yet", argv[0]);
}
