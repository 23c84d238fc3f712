/* clscale: command dispatch. Each subcommand lives in cli/cmd_<name>.c. */
#include "cli.h"

#include "clscale/gemm.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    cli_command_fn run;
    const char *summary;
} command_entry;

static const command_entry commands[] = {
    {"loss", cmd_loss, "exact tiled contrastive loss and gradients of two embedding files"},
    {"bench", cmd_bench, "benchmarks against in-run baselines (bench loss)"},
    {"spectrum", cmd_spectrum, "label-free quality of embeddings: alpha, RankMe, effective rank"},
    {"eval", cmd_eval, "evaluate representations: linear probe, k-NN, spectrum (and pixel baseline)"},
    {"fit", cmd_fit, "fit a scaling law to a CSV with bootstrap intervals"},
    {"plan", cmd_plan, "compute-optimal allocation from a saved fit"},
    {"sim", cmd_sim, "theory simulators (sim lcl | sim dynamics | sim featlearn)"},
    {"train", cmd_train, "contrastive training of an encoder on Fashion-MNIST (gradient caching)"},
    {"embed", cmd_embed, "representations of a training run's checkpoint as .npy"},
    {"lab", cmd_lab, "sweep, fit, check and report scaling laws of trained models"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: clscale <command> [options]\n\n"
                 "clscale %s: contrastive representation learning at scale.\n\ncommands:\n",
            cls_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'clscale <command> --help' describes a command's options.\n"
                 "'clscale --version' prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("clscale %s\n", cls_version());
        printf("gemm backend: %s\n", cls_gemm_backend());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "clscale: error: unknown command '%s'\n\n", name);
    usage(stderr);
    return CLI_USAGE;
}
