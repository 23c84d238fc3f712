/* clscale sim <model>: dispatch to the theory simulators. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: clscale sim <model> [options]\n\n"
          "models:\n"
          "  lcl        sketched linear contrastive learning: exact risk decomposition\n"
          "  dynamics   online SGD of a nonlinear contrastive model against its ODE limit\n"
          "  featlearn  feature learning and scaling exponents (lazy against rich)\n\n"
          "'clscale sim <model> --help' describes a model's options.\n", out);
}

int cmd_sim(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *model = argv[1];
    if (strcmp(model, "--help") == 0 || strcmp(model, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(model, "lcl") == 0) return cmd_sim_lcl(argc - 1, argv + 1);
    if (strcmp(model, "dynamics") == 0) return cmd_sim_dynamics(argc - 1, argv + 1);
    if (strcmp(model, "featlearn") == 0) return cmd_sim_featlearn(argc - 1, argv + 1);
    fprintf(stderr, "clscale: error: unknown model '%s'\n\n", model);
    usage(stderr);
    return CLI_USAGE;
}
