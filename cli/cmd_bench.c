/* clscale bench <what>: dispatch to the benchmarks. */
#include "cli.h"
#include "cmd_loss_mpi.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: clscale bench <what> [options]\n\n"
          "benchmarks:\n"
          "  loss       tiled contrastive loss forward+backward against in-run sgemm and the GEMM peaks\n"
          "  gemm       this machine's GEMM peaks (oneDNN, OpenBLAS; fp32, bf16) and FMA-loop ceiling\n"
          "  train      training steps of an encoder (images/s, GFLOP/s, peak RSS)\n\n"
          "'clscale bench <what> --help' describes its options.\n", out);
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
#ifdef CLS_HAVE_MPI
    if (strcmp(what, "loss") == 0 && cli_mpi_launched()) return cmd_bench_loss_mpi(argc - 1, argv + 1);
#endif
    if (strcmp(what, "loss") == 0) return cmd_bench_loss(argc - 1, argv + 1);
    if (strcmp(what, "gemm") == 0) return cmd_bench_gemm(argc - 1, argv + 1);
    if (strcmp(what, "train") == 0) return cmd_bench_train(argc - 1, argv + 1);
    fprintf(stderr, "clscale: error: unknown benchmark '%s'\n\n", what);
    usage(stderr);
    return CLI_USAGE;
}
