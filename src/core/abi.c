/* ABI introspection for bindings (include/clscale/abi.h): one table row per
 * member of every public struct a binding passes by pointer. A member added
 * to one of these structs must get a row here (tests/python/test_py_abi.py
 * parses the headers and fails when a member is missing). */
#include <string.h>

#include "internal.h"
#include "clscale/train.h"

typedef struct {
    const char *name;
    size_t offset;
} abi_field;

typedef struct {
    const char *name;
    size_t size;
    const abi_field *fields;
    int nfields;
} abi_type;

#define F(T, m) {#m, offsetof(T, m)}
#define TYPE(T, table) TYPE_NAMED(#T, T, table)
#define TYPE_NAMED(name, T, table) {name, sizeof(T), table, (int)(sizeof(table) / sizeof(table[0]))}
#define STR(x) STR_(x)
#define STR_(x) #x

static const abi_field loss_options[] = {
    F(cls_loss_options, kind), F(cls_loss_options, logit_scale), F(cls_loss_options, bias),
    F(cls_loss_options, normalize), F(cls_loss_options, reduction),
    F(cls_loss_options, label_smoothing), F(cls_loss_options, tile), F(cls_loss_options, threads),
    F(cls_loss_options, precision)};
static const abi_field loss_result[] = {
    F(cls_loss_result, loss), F(cls_loss_result, grad_logit_scale), F(cls_loss_result, grad_bias)};

static const abi_field spectrum_options[] = {
    F(cls_spectrum_options, center), F(cls_spectrum_options, rankme_center),
    F(cls_spectrum_options, method), F(cls_spectrum_options, fit_lo),
    F(cls_spectrum_options, fit_hi), F(cls_spectrum_options, weights),
    F(cls_spectrum_options, bootstrap), F(cls_spectrum_options, seed),
    F(cls_spectrum_options, threads), F(cls_spectrum_options, chunk_rows),
    F(cls_spectrum_options, oversample), F(cls_spectrum_options, power_iters),
    F(cls_spectrum_options, rank)};
static const abi_field spectrum_eig[] = {
    F(cls_spectrum_eig, n), F(cls_spectrum_eig, d), F(cls_spectrum_eig, centered),
    F(cls_spectrum_eig, method), F(cls_spectrum_eig, count), F(cls_spectrum_eig, full_count),
    F(cls_spectrum_eig, values), F(cls_spectrum_eig, total), F(cls_spectrum_eig, total_sq),
    F(cls_spectrum_eig, zero_variance_columns), F(cls_spectrum_eig, first_zero_variance_column)};
static const abi_field spectrum_result[] = {
    F(cls_spectrum_result, n), F(cls_spectrum_result, d), F(cls_spectrum_result, method),
    F(cls_spectrum_result, centered), F(cls_spectrum_result, eig),
    F(cls_spectrum_result, fit_lo), F(cls_spectrum_result, fit_hi),
    F(cls_spectrum_result, alpha), F(cls_spectrum_result, intercept), F(cls_spectrum_result, r2),
    F(cls_spectrum_result, bootstrap), F(cls_spectrum_result, alpha_ci95),
    F(cls_spectrum_result, rankme), F(cls_spectrum_result, effective_rank),
    F(cls_spectrum_result, effective_rank_eig), F(cls_spectrum_result, participation_ratio),
    F(cls_spectrum_result, warnings), F(cls_spectrum_result, n_warnings),
    F(cls_spectrum_result, warning_text)};

static const abi_field fit_options[] = {
    F(cls_fit_options, law), F(cls_fit_options, nvars), F(cls_fit_options, frontier_binned),
    F(cls_fit_options, bins), F(cls_fit_options, bootstrap),
    F(cls_fit_options, boot_random_starts), F(cls_fit_options, seed),
    F(cls_fit_options, threads), F(cls_fit_options, huber_delta),
    F(cls_fit_options, max_iterations), F(cls_fit_options, grid_stride)};
static const abi_field fit_result[] = {
    F(cls_fit_result, law), F(cls_fit_result, nvars), F(cls_fit_result, frontier_binned),
    F(cls_fit_result, bins), F(cls_fit_result, nparams), F(cls_fit_result, param_names),
    F(cls_fit_result, params), F(cls_fit_result, nraw), F(cls_fit_result, raw),
    F(cls_fit_result, nderived), F(cls_fit_result, derived_names), F(cls_fit_result, derived),
    F(cls_fit_result, ci80), F(cls_fit_result, ci95), F(cls_fit_result, objective),
    F(cls_fit_result, n_points), F(cls_fit_result, n_starts),
    F(cls_fit_result, starts_converged_fraction), F(cls_fit_result, bootstrap),
    F(cls_fit_result, bootstrap_failed), F(cls_fit_result, boot_raw),
    F(cls_fit_result, warning_flags), F(cls_fit_result, nwarnings), F(cls_fit_result, warnings)};
static const abi_field plan_point[] = {
    F(cls_plan_point, compute), F(cls_plan_point, nvars), F(cls_plan_point, x),
    F(cls_plan_point, loss), F(cls_plan_point, x_ci80), F(cls_plan_point, x_ci95),
    F(cls_plan_point, loss_ci80), F(cls_plan_point, loss_ci95)};

static const abi_field lcl_data[] = {
    F(cls_lcl_data, d), F(cls_lcl_data, a), F(cls_lcl_data, a2), F(cls_lcl_data, b),
    F(cls_lcl_data, rho0)};
static const abi_field lcl_schedule[] = {
    F(cls_lcl_schedule, nseg), F(cls_lcl_schedule, steps), F(cls_lcl_schedule, lr),
    F(cls_lcl_schedule, infinite)};
static const abi_field lcl_config[] = {
    F(cls_lcl_config, mode), F(cls_lcl_config, N), F(cls_lcl_config, schedule),
    F(cls_lcl_config, draws), F(cls_lcl_config, monte_carlo), F(cls_lcl_config, sampler),
    F(cls_lcl_config, seed), F(cls_lcl_config, threads)};
static const abi_field lcl_result[] = {
    F(cls_lcl_result, R_star), F(cls_lcl_result, approx), F(cls_lcl_result, bias),
    F(cls_lcl_result, variance), F(cls_lcl_result, cross), F(cls_lcl_result, excess),
    F(cls_lcl_result, risk), F(cls_lcl_result, bias_se), F(cls_lcl_result, variance_se),
    F(cls_lcl_result, cross_se), F(cls_lcl_result, excess_se), F(cls_lcl_result, t),
    F(cls_lcl_result, lr), F(cls_lcl_result, D_M), F(cls_lcl_result, lr_bound),
    F(cls_lcl_result, draws), F(cls_lcl_result, mc_excess), F(cls_lcl_result, mc_se),
    F(cls_lcl_result, mc_runs), F(cls_lcl_result, sampler_used), F(cls_lcl_result, nwarnings),
    F(cls_lcl_result, warnings)};

static const abi_field lcl_sweep_config[] = {
    F(cls_lcl_sweep_config, sweep), F(cls_lcl_sweep_config, data), F(cls_lcl_sweep_config, M),
    F(cls_lcl_sweep_config, N), F(cls_lcl_sweep_config, ngrid), F(cls_lcl_sweep_config, grid),
    F(cls_lcl_sweep_config, nt), F(cls_lcl_sweep_config, t_grid), F(cls_lcl_sweep_config, lr),
    F(cls_lcl_sweep_config, draws), F(cls_lcl_sweep_config, seed),
    F(cls_lcl_sweep_config, data_seed), F(cls_lcl_sweep_config, threads)};
static const abi_field lcl_sweep_result[] = {
    F(cls_lcl_sweep_result, sweep), F(cls_lcl_sweep_result, npoints),
    F(cls_lcl_sweep_result, ncols), F(cls_lcl_sweep_result, colnames),
    F(cls_lcl_sweep_result, table), F(cls_lcl_sweep_result, xcol), F(cls_lcl_sweep_result, ycol),
    F(cls_lcl_sweep_result, predcol), F(cls_lcl_sweep_result, slope),
    F(cls_lcl_sweep_result, intercept), F(cls_lcl_sweep_result, used),
    F(cls_lcl_sweep_result, predicted_slope), F(cls_lcl_sweep_result, predicted_effective),
    F(cls_lcl_sweep_result, predicted_text), F(cls_lcl_sweep_result, x_label),
    F(cls_lcl_sweep_result, y_label), F(cls_lcl_sweep_result, x_opt),
    F(cls_lcl_sweep_result, x_opt_predicted), F(cls_lcl_sweep_result, M),
    F(cls_lcl_sweep_result, d), F(cls_lcl_sweep_result, N), F(cls_lcl_sweep_result, lr),
    F(cls_lcl_sweep_result, nwarnings), F(cls_lcl_sweep_result, warnings)};

#define DYN_LAW cls_dynamics_law
#define DYN_MODEL cls_dynamics_model
#define DYN_THRESHOLD cls_dynamics_threshold
static const abi_field dyn_law[] = {F(DYN_LAW, n), F(DYN_LAW, value), F(DYN_LAW, prob)};
static const abi_field dyn_model[] = {
    F(DYN_MODEL, K), F(DYN_MODEL, p), F(DYN_MODEL, tau), F(DYN_MODEL, mu),
    F(DYN_MODEL, eps), F(DYN_MODEL, rho), F(DYN_MODEL, lambda), F(DYN_MODEL, law)};
static const abi_field dyn_threshold[] = {
    F(DYN_THRESHOLD, r_u), F(DYN_THRESHOLD, S1), F(DYN_THRESHOLD, D0), F(DYN_THRESHOLD, m2_c),
    F(DYN_THRESHOLD, growth_rate)};

static const abi_field featlearn_config[] = {
    F(cls_featlearn_config, alpha), F(cls_featlearn_config, beta), F(cls_featlearn_config, N),
    F(cls_featlearn_config, M), F(cls_featlearn_config, gamma), F(cls_featlearn_config, eta),
    F(cls_featlearn_config, batch), F(cls_featlearn_config, steps),
    F(cls_featlearn_config, seeds), F(cls_featlearn_config, seed),
    F(cls_featlearn_config, checkpoints_per_decade), F(cls_featlearn_config, threads),
    F(cls_featlearn_config, engine)};
static const abi_field featlearn_window[] = {
    F(cls_featlearn_window, lo), F(cls_featlearn_window, hi), F(cls_featlearn_window, slope),
    F(cls_featlearn_window, points)};
static const abi_field featlearn_result[] = {
    F(cls_featlearn_result, config), F(cls_featlearn_result, n), F(cls_featlearn_result, step),
    F(cls_featlearn_result, eta_t), F(cls_featlearn_result, loss),
    F(cls_featlearn_result, loss_draws), F(cls_featlearn_result, loss0),
    F(cls_featlearn_result, loss_increases), F(cls_featlearn_result, n_windows),
    F(cls_featlearn_result, windows), F(cls_featlearn_result, seconds)};
static const abi_field featlearn_prediction[] = {
    F(cls_featlearn_prediction, regime), F(cls_featlearn_prediction, regime_name),
    F(cls_featlearn_prediction, time_lazy), F(cls_featlearn_prediction, time_rich),
    F(cls_featlearn_prediction, width), F(cls_featlearn_prediction, c_lazy),
    F(cls_featlearn_prediction, n_lazy), F(cls_featlearn_prediction, t_lazy),
    F(cls_featlearn_prediction, c_rich), F(cls_featlearn_prediction, n_rich),
    F(cls_featlearn_prediction, t_rich)};

/* eval, train and the theory entry points the Python bindings call (clscale.eval, train, embed,
 * featlearn_bottleneck/frontier, dynamics_fixed_points). */
static const abi_field probe_options[] = {
    F(cls_probe_options, threads), F(cls_probe_options, seed), F(cls_probe_options, grid_lo),
    F(cls_probe_options, grid_hi), F(cls_probe_options, grid_n), F(cls_probe_options, holdout),
    F(cls_probe_options, max_iter), F(cls_probe_options, tol), F(cls_probe_options, chunk),
    F(cls_probe_options, confusion)};
static const abi_field probe_result[] = {
    F(cls_probe_result, accuracy), F(cls_probe_result, l2), F(cls_probe_result, C),
    F(cls_probe_result, grid_n), F(cls_probe_result, grid), F(cls_probe_result, grid_accuracy),
    F(cls_probe_result, n_classes), F(cls_probe_result, classes), F(cls_probe_result, per_class),
    F(cls_probe_result, confusion), F(cls_probe_result, predictions), F(cls_probe_result, dim),
    F(cls_probe_result, coef), F(cls_probe_result, intercept), F(cls_probe_result, mean),
    F(cls_probe_result, scale), F(cls_probe_result, objective), F(cls_probe_result, iterations),
    F(cls_probe_result, evaluations)};
static const abi_field knn_options[] = {
    F(cls_knn_options, k), F(cls_knn_options, weighted), F(cls_knn_options, temperature),
    F(cls_knn_options, threads), F(cls_knn_options, chunk)};
static const abi_field knn_result[] = {
    F(cls_knn_result, accuracy), F(cls_knn_result, k), F(cls_knn_result, n_classes),
    F(cls_knn_result, predictions)};
static const abi_field augment_options[] = {
    F(cls_augment_options, crop_area_min), F(cls_augment_options, crop_area_max),
    F(cls_augment_options, aspect_min), F(cls_augment_options, aspect_max),
    F(cls_augment_options, flip_prob), F(cls_augment_options, brightness),
    F(cls_augment_options, contrast), F(cls_augment_options, noise_std),
    F(cls_augment_options, erase_prob)};
static const abi_field train_config[] = {
    F(cls_train_config, data), F(cls_train_config, model), F(cls_train_config, width),
    F(cls_train_config, loss), F(cls_train_config, temperature),
    F(cls_train_config, learn_temperature), F(cls_train_config, batch), F(cls_train_config, chunk),
    F(cls_train_config, memory_budget), F(cls_train_config, optimizer), F(cls_train_config, lr),
    F(cls_train_config, lr_scaling), F(cls_train_config, weight_decay),
    F(cls_train_config, warmup_epochs), F(cls_train_config, epochs), F(cls_train_config, steps),
    F(cls_train_config, train_subset), F(cls_train_config, seed), F(cls_train_config, threads),
    F(cls_train_config, log_every), F(cls_train_config, checkpoint_every),
    F(cls_train_config, progress), F(cls_train_config, progress_user), F(cls_train_config, pairs_a),
    F(cls_train_config, pairs_b), F(cls_train_config, proj_dim), F(cls_train_config, augment),
    F(cls_train_config, owned_strings_), F(cls_train_config, precision)};
static const abi_field train_progress[] = {
    F(cls_train_progress, step), F(cls_train_progress, total_steps), F(cls_train_progress, epoch),
    F(cls_train_progress, loss), F(cls_train_progress, lr), F(cls_train_progress, temperature),
    F(cls_train_progress, samples_per_s), F(cls_train_progress, seconds)};
static const abi_field train_result[] = {
    F(cls_train_result, steps), F(cls_train_result, samples_seen), F(cls_train_result, params),
    F(cls_train_result, peak_rss_bytes), F(cls_train_result, epochs),
    F(cls_train_result, final_loss), F(cls_train_result, samples_per_s),
    F(cls_train_result, seconds), F(cls_train_result, flops_per_image),
    F(cls_train_result, train_flops), F(cls_train_result, chunk), F(cls_train_result, start_step),
    F(cls_train_result, stopped_early)};
static const abi_field featlearn_bottleneck[] = {
    F(cls_featlearn_bottleneck_result, n), F(cls_featlearn_bottleneck_result, N),
    F(cls_featlearn_bottleneck_result, measured), F(cls_featlearn_bottleneck_result, measured_sd),
    F(cls_featlearn_bottleneck_result, equivalent), F(cls_featlearn_bottleneck_result, kappa),
    F(cls_featlearn_bottleneck_result, slope_measured),
    F(cls_featlearn_bottleneck_result, slope_equivalent),
    F(cls_featlearn_bottleneck_result, slope_predicted),
    F(cls_featlearn_bottleneck_result, seconds)};
static const abi_field featlearn_frontier[] = {
    F(cls_featlearn_frontier_result, nC), F(cls_featlearn_frontier_result, C),
    F(cls_featlearn_frontier_result, loss), F(cls_featlearn_frontier_result, N_best),
    F(cls_featlearn_frontier_result, n_widths), F(cls_featlearn_frontier_result, N),
    F(cls_featlearn_frontier_result, loss_increases), F(cls_featlearn_frontier_result, exponent),
    F(cls_featlearn_frontier_result, N_exponent), F(cls_featlearn_frontier_result, fit_points),
    F(cls_featlearn_frontier_result, exponent_predicted), F(cls_featlearn_frontier_result, seconds)};
static const abi_field dyn_fixed_point[] = {
    F(cls_dynamics_fixed_point, q), F(cls_dynamics_fixed_point, r),
    F(cls_dynamics_fixed_point, eig_re), F(cls_dynamics_fixed_point, eig_im),
    F(cls_dynamics_fixed_point, jacobian), F(cls_dynamics_fixed_point, stable),
    F(cls_dynamics_fixed_point, found)};
static const abi_field model_config[] = {
    F(cls_model_config, kind), F(cls_model_config, width), F(cls_model_config, height),
    F(cls_model_config, image_w), F(cls_model_config, in_dim), F(cls_model_config, proj_dim),
    F(cls_model_config, seed)};
static const abi_field optim_options[] = {
    F(cls_optim_options, kind), F(cls_optim_options, momentum), F(cls_optim_options, nesterov),
    F(cls_optim_options, beta1), F(cls_optim_options, beta2), F(cls_optim_options, eps),
    F(cls_optim_options, weight_decay), F(cls_optim_options, trust), F(cls_optim_options, threads)};

static const abi_type types[] = {
    TYPE(cls_loss_options, loss_options),
    TYPE(cls_loss_result, loss_result),
    TYPE(cls_spectrum_options, spectrum_options),
    TYPE(cls_spectrum_eig, spectrum_eig),
    TYPE(cls_spectrum_result, spectrum_result),
    TYPE(cls_fit_options, fit_options),
    TYPE(cls_fit_result, fit_result),
    TYPE(cls_plan_point, plan_point),
    TYPE(cls_lcl_data, lcl_data),
    TYPE(cls_lcl_schedule, lcl_schedule),
    TYPE(cls_lcl_config, lcl_config),
    TYPE(cls_lcl_result, lcl_result),
    TYPE(cls_lcl_sweep_config, lcl_sweep_config),
    TYPE(cls_lcl_sweep_result, lcl_sweep_result),
    TYPE_NAMED(STR(DYN_LAW), DYN_LAW, dyn_law),
    TYPE_NAMED(STR(DYN_MODEL), DYN_MODEL, dyn_model),
    TYPE_NAMED(STR(DYN_THRESHOLD), DYN_THRESHOLD, dyn_threshold),
    TYPE(cls_featlearn_config, featlearn_config),
    TYPE(cls_featlearn_window, featlearn_window),
    TYPE(cls_featlearn_result, featlearn_result),
    TYPE(cls_featlearn_prediction, featlearn_prediction),
    TYPE(cls_probe_options, probe_options),
    TYPE(cls_probe_result, probe_result),
    TYPE(cls_knn_options, knn_options),
    TYPE(cls_knn_result, knn_result),
    TYPE(cls_augment_options, augment_options),
    TYPE(cls_train_config, train_config),
    TYPE(cls_train_progress, train_progress),
    TYPE(cls_train_result, train_result),
    TYPE(cls_featlearn_bottleneck_result, featlearn_bottleneck),
    TYPE(cls_featlearn_frontier_result, featlearn_frontier),
    TYPE(cls_dynamics_fixed_point, dyn_fixed_point),
    TYPE(cls_model_config, model_config),
    TYPE(cls_optim_options, optim_options),
};

#define C(name) {#name, (int64_t)(name)}
static const struct {
    const char *name;
    int64_t value;
} constants[] = {
    C(CLS_LOSS_CLIP), C(CLS_LOSS_INFONCE), C(CLS_LOSS_NTXENT), C(CLS_LOSS_SIGLIP),
    C(CLS_REDUCE_MEAN), C(CLS_REDUCE_SUM),
    C(CLS_SPECTRUM_AUTO), C(CLS_SPECTRUM_EXACT), C(CLS_SPECTRUM_RANDOMIZED),
    C(CLS_SPECTRUM_WEIGHTS_INV), C(CLS_SPECTRUM_WEIGHTS_NONE),
    C(CLS_SPECTRUM_MAX_WARNINGS), C(CLS_SPECTRUM_WARNING_LEN),
    C(CLS_LAW_POWER), C(CLS_LAW_SATURATING), C(CLS_LAW_CHINCHILLA), C(CLS_LAW_ADDITIVE),
    C(CLS_FIT_MAX_VARS), C(CLS_FIT_MAX_PARAMS), C(CLS_FIT_MAX_DERIVED), C(CLS_FIT_MAX_QUANT),
    C(CLS_FIT_MAX_WARNINGS), C(CLS_FIT_NAME_LEN),
    C(CLS_LCL_MODE_P), C(CLS_LCL_MODE_E),
    C(CLS_LCL_SAMPLER_AUTO), C(CLS_LCL_SAMPLER_WISHART), C(CLS_LCL_SAMPLER_EXPLICIT),
    C(CLS_LCL_SAMPLER_FULL), C(CLS_LCL_MAX_WARNINGS), C(CLS_LCL_SWEEP_MAXCOLS),
    C(CLS_DYNAMICS_LAW_MAX), C(CLS_DYNAMICS_MAX_K), C(CLS_DYNAMICS_MAX_P),
    C(CLS_DYNAMICS_NODES_DEFAULT),
    C(CLS_FEATLEARN_AUTO), C(CLS_FEATLEARN_FUNCTION), C(CLS_FEATLEARN_WIDTH),
    C(CLS_FEATLEARN_REFERENCE), C(CLS_FEATLEARN_MAX_WIDTHS),
    C(CLS_SPLIT_TRAIN), C(CLS_SPLIT_TEST),
};

static const abi_type *find_type(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, name) == 0) return &types[i];
    return NULL;
}

size_t cls_abi_sizeof(const char *type_name)
{
    const abi_type *t = find_type(type_name);
    return t ? t->size : 0;
}

size_t cls_abi_offsetof(const char *type_name, const char *field)
{
    const abi_type *t = find_type(type_name);
    if (!t || !field) return (size_t)-1;
    for (int i = 0; i < t->nfields; i++)
        if (strcmp(t->fields[i].name, field) == 0) return t->fields[i].offset;
    return (size_t)-1;
}

int cls_abi_field_count(const char *type_name)
{
    const abi_type *t = find_type(type_name);
    return t ? t->nfields : -1;
}

const char *cls_abi_field_name(const char *type_name, int index)
{
    const abi_type *t = find_type(type_name);
    if (!t || index < 0 || index >= t->nfields) return NULL;
    return t->fields[index].name;
}

cls_status cls_abi_constant(const char *name, int64_t *value)
{
    if (!name || !value) return cls_set_error(CLS_E_INVALID_ARG, "cls_abi_constant: NULL argument");
    for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
        if (strcmp(constants[i].name, name) == 0) {
            *value = constants[i].value;
            return CLS_OK;
        }
    return cls_set_error(CLS_E_INVALID_ARG, "cls_abi_constant: unknown name '%s'", name);
}
