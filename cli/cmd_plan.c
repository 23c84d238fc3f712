/* clscale plan: compute-optimal allocation from a saved fit. */
#define _GNU_SOURCE
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plan_usage(void)
{
    puts("usage: clscale plan FIT.json --compute C[,C...] [options]\n"
         "\n"
         "Compute-optimal allocation for each budget from a fit saved by\n"
         "'clscale fit --save'. Chinchilla under C = 6 N D uses the closed form\n"
         "N_opt = G (C/6)^a, D_opt = (C/6)^b / G; other laws or cost models are\n"
         "minimised numerically. Bands come from the fit's bootstrap refits.\n"
         "\n"
         "  --compute C[,C...]   compute budgets (required)\n"
         "  --cost-factor c0     cost model C = c0 * prod_k x_k^p_k (default 6 for fits\n"
         "                       with 2+ variables, C = 6 N D; 1 for one variable, x = C)\n"
         "  --cost-powers p,...  one power per variable (default 1 for each)\n"
         "  --json               print one JSON object on stdout\n"
         "  -h, --help           show this help");
}

static cJSON *pair(double lo, double hi)
{
    if (!isfinite(lo) || !isfinite(hi)) return cJSON_CreateNull();
    double v[2] = {lo, hi};
    return cJSON_CreateDoubleArray(v, 2);
}

int cmd_plan(int argc, char **argv)
{
    double *budgets = NULL, *powers = NULL, factor = NAN;
    int nb = 0, np = 0, json = 0, first = 0;
    const cli_option opts[] = {
        CLI_DOUBLE_LIST("compute", &budgets, &nb, 1e-300, INFINITY),
        CLI_DOUBLE("cost-factor", &factor, 1e-300, INFINITY),
        CLI_DOUBLE_LIST("cost-powers", &powers, &np, NAN, NAN),
        CLI_FLAG("json", &json),
        CLI_END};
    int prc = cli_parse_options("plan", opts, argc, argv, plan_usage, &first);
    if (prc) {
        free(budgets);
        free(powers);
        return prc == CLI_HELP ? CLI_OK : prc;
    }
    if (first != argc - 1) {
        free(budgets);
        free(powers);
        return cli_usage_error("plan", "expected exactly one FIT.json argument");
    }
    if (!budgets) {
        free(powers);
        return cli_usage_error("plan", "--compute is required");
    }
    cls_fit_result fit;
    cls_status st = cls_fit_load(argv[first], &fit);
    if (st) {
        free(budgets);
        free(powers);
        return cli_status_error(st, NULL);
    }
    int rc = CLI_OK, k = fit.nvars;
    if (isnan(factor)) factor = k >= 2 ? 6.0 : 1.0;
    if (powers && np != k) {
        rc = cli_usage_error("plan", "--cost-powers needs %d value%s for this %s fit, got %d", k,
                             k == 1 ? "" : "s", cls_fit_law_name(fit.law), np);
        goto out;
    }
    char names[CLS_FIT_MAX_VARS][8];
    for (int j = 0; j < k; j++) {
        if (fit.law == CLS_LAW_CHINCHILLA) strcpy(names[j], j == 0 ? "N" : "D");
        else if (k == 1) strcpy(names[j], "x");
        else snprintf(names[j], sizeof names[j], "x%d", j + 1);
    }
    cJSON *o = json ? cJSON_CreateObject() : NULL, *arr = json ? cJSON_CreateArray() : NULL;
    if (!json) {
        printf("%s fit, cost model C = %g", cls_fit_law_name(fit.law), factor);
        for (int j = 0; j < k; j++) printf(" * %s^%g", names[j], powers ? powers[j] : 1.0);
        printf("\n");
    }
    for (int i = 0; i < nb; i++) {
        cls_plan_point p;
        st = cls_fit_plan(&fit, budgets[i], factor, powers, &p);
        if (st) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            rc = cli_status_error(st, NULL);
            goto out;
        }
        if (json) {
            cJSON *e = cJSON_CreateObject(), *c80 = cJSON_CreateObject(), *c95 = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "compute", p.compute);
            for (int j = 0; j < k; j++) {
                cJSON_AddNumberToObject(e, names[j], p.x[j]);
                cJSON_AddItemToObject(c80, names[j], pair(p.x_ci80[j][0], p.x_ci80[j][1]));
                cJSON_AddItemToObject(c95, names[j], pair(p.x_ci95[j][0], p.x_ci95[j][1]));
            }
            cJSON_AddNumberToObject(e, "loss", p.loss);
            cJSON_AddItemToObject(c80, "loss", pair(p.loss_ci80[0], p.loss_ci80[1]));
            cJSON_AddItemToObject(c95, "loss", pair(p.loss_ci95[0], p.loss_ci95[1]));
            cJSON_AddItemToObject(e, "ci80", c80);
            cJSON_AddItemToObject(e, "ci95", c95);
            cJSON_AddItemToArray(arr, e);
        } else {
            printf("C = %.4g\n", p.compute);
            for (int j = 0; j <= k; j++) {
                double v = j < k ? p.x[j] : p.loss;
                const double *b95 = j < k ? p.x_ci95[j] : p.loss_ci95;
                const double *b80 = j < k ? p.x_ci80[j] : p.loss_ci80;
                printf("  %-5s %12.5g", j < k ? names[j] : "loss", v);
                if (isfinite(b95[0]))
                    printf("   80%% [%.5g, %.5g]   95%% [%.5g, %.5g]", b80[0], b80[1], b95[0], b95[1]);
                printf("\n");
            }
        }
    }
    if (json) {
        cJSON_AddStringToObject(o, "law", cls_fit_law_name(fit.law));
        cJSON_AddNumberToObject(o, "cost_factor", factor);
        cJSON_AddItemToObject(o, "plans", arr);
        cli_json_print(o);
    }
out:
    cls_fit_result_free(&fit);
    free(budgets);
    free(powers);
    return rc;
}
