/* include/clcdd/export.h: the LCDD checkpoint (clcdd_carrier_export_hf) plus each eraser prompt
 * as a safetensors tensor and as a PEFT prompt-tuning adapter directory. No device work beyond
 * the checkpoint: the prompts are host arrays in the archive. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "clcdd/export.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/safetensors.h"
#include "clcdd/train.h"
#include "clcdd_internal.h"

/* How clcdd uses the rows (ALGORITHMS.md §4); PEFT prompt tuning does the same. */
static const char placement[] =
    "prepend: the T rows come before the embedded chat-formatted prompt (before BOS and the "
    "template's tokens) at positions 0..T-1; the prompt's tokens continue at position T; "
    "attention covers the rows";

void clcdd_export_options_default(clcdd_export_options *o) { memset(o, 0, sizeof *o); }

void clcdd_export_safe_name(const char *name, char out[64]) {
    size_t k = 0;
    for (const char *p = name ? name : ""; *p && k < 63; p++, k++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || (ch == '.' && k > 0);
        out[k] = ok ? ch : '_';
    }
    if (k == 0) out[k++] = '_';
    out[k] = 0;
}

static char *join(const char *dir, const char *a, const char *b) {
    size_t n = strlen(dir) + strlen(a) + (b ? strlen(b) : 0) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s%s", dir, a, b ? b : "");
    return s;
}

static clcdd_status adapter_config(const clcdd_carrier *c, const clcdd_carrier_prompt *p,
                                   const char *base_model, char **out) {
    json_t *o = json_object();
    if (!o) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "adapter_config.json");
    /* the fields PEFT's PromptTuningConfig (PromptLearningConfig + PeftConfig) defines */
    json_object_set_new(o, "auto_mapping", json_null());
    json_object_set_new(o, "base_model_name_or_path", json_string(base_model));
    json_object_set_new(o, "inference_mode", json_true());
    json_object_set_new(o, "modules_to_save", json_null());
    json_object_set_new(o, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(o, "num_layers", json_integer(c->n_layers));
    json_object_set_new(o, "num_transformer_submodules", json_integer(1));
    json_object_set_new(o, "num_virtual_tokens", json_integer(p->rows));
    json_object_set_new(o, "peft_type", json_string("PROMPT_TUNING"));
    json_object_set_new(o, "prompt_tuning_init", json_string("RANDOM"));
    json_object_set_new(o, "prompt_tuning_init_text", json_null());
    json_object_set_new(o, "revision", json_null());
    json_object_set_new(o, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(o, "token_dim", json_integer(p->dim));
    json_object_set_new(o, "tokenizer_kwargs", json_null());
    json_object_set_new(o, "tokenizer_name_or_path", json_null());
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "adapter_config.json");
    *out = text;
    return CLCDD_OK;
}

clcdd_status clcdd_eraser_export(const clcdd_carrier *c, uint32_t index, const char *out_dir,
                                 const char *base_model) {
    if (!c || !out_dir || !base_model || index >= c->n_prompts)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_eraser_export: NULL argument or prompt "
                          "index %u of %u", index, c ? c->n_prompts : 0);
    const clcdd_carrier_prompt *p = &c->prompts[index];
    if (!p->data || !p->rows || !p->dim)
        return clcdd_fail(CLCDD_ERR_FORMAT, "eraser prompt '%s' is empty", p->name);
    char safe[64];
    clcdd_export_safe_name(p->name, safe);
    char *file = join(out_dir, "eraser-", safe), *pdir = join(out_dir, "peft-", safe);
    char *st_path = file ? malloc(strlen(file) + 16) : NULL;
    char *cfg_path = pdir ? join(pdir, "adapter_config.json", NULL) : NULL;
    char *ad_path = pdir ? join(pdir, "adapter_model.safetensors", NULL) : NULL;
    char *cfg = NULL;
    clcdd_status st = CLCDD_OK;
    if (!file || !pdir || !st_path || !cfg_path || !ad_path) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "exporting eraser prompt '%s'", p->name);
        goto done;
    }
    snprintf(st_path, strlen(file) + 16, "%s.safetensors", file);
    if ((st = clcdd_mkdirs(out_dir)) || (st = clcdd_mkdirs(pdir))) goto done;
    uint64_t shape[2] = {p->rows, p->dim};
    char rows[24], dim[24];
    snprintf(rows, sizeof rows, "%u", p->rows);
    snprintf(dim, sizeof dim, "%u", p->dim);
    const char *meta[] = {"format", "pt",
                          "name", p->name,
                          "placement", placement,
                          "rows", rows,
                          "dim", dim,
                          "settings", p->settings_json ? p->settings_json : "",
                          "metrics", p->metrics_json ? p->metrics_json : "",
                          "base_fingerprint", c->base_fingerprint,
                          "sft_fingerprint", c->sft_fingerprint};
    clcdd_st_write_tensor t = {"prompt", CLCDD_DTYPE_F32, 2, shape, p->data};
    if ((st = clcdd_safetensors_write(st_path, &t, 1, meta, sizeof meta / sizeof meta[0] / 2)))
        goto done;
    /* PEFT stores a prompt-tuning adapter as one tensor, prompt_embeddings
     * [num_virtual_tokens * num_transformer_submodules, token_dim] */
    const char *ameta[] = {"format", "pt"};
    clcdd_st_write_tensor a = {"prompt_embeddings", CLCDD_DTYPE_F32, 2, shape, p->data};
    if ((st = clcdd_safetensors_write(ad_path, &a, 1, ameta, 1))) goto done;
    if ((st = adapter_config(c, p, base_model, &cfg))) goto done;
    st = clcdd_write_file_atomic(cfg_path, cfg, strlen(cfg));
done:
    if (st != CLCDD_OK) st = clcdd_fail_context(st, "exporting eraser prompt '%s' to %s", p->name, out_dir);
    free(cfg), free(file), free(pdir), free(st_path), free(cfg_path), free(ad_path);
    return st;
}

clcdd_status clcdd_export_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *base,
                              const char *carrier_path, const char *out_dir,
                              const clcdd_export_options *o, clcdd_export_result *res) {
    clcdd_export_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    clcdd_export_options def;
    if (!o) clcdd_export_options_default(&def), o = &def;
    if (!carrier_path || !out_dir || (!o->no_model && (!ctx || !reg || !base)))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_export_run: missing argument (the "
                          "checkpoint needs a context, a plugin registry and the base model)");
    clcdd_carrier *c = NULL;
    clcdd_status st = clcdd_carrier_read(carrier_path, &c);
    if (st != CLCDD_OK) return st;
    long only = -1;
    if (o->erase && (only = clcdd_carrier_find_prompt(c, o->erase)) < 0) {
        char names[512] = "";
        size_t k = 0;
        for (uint32_t i = 0; i < c->n_prompts && k + 70 < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", c->prompts[i].name);
        st = clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s has no eraser prompt '%s'; available: %s", carrier_path,
                        o->erase, c->n_prompts ? names : "none (train one with `clcdd erase`)");
        goto done;
    }
    if (!o->no_model) {
        if ((st = clcdd_carrier_export_hf(ctx, reg, base, carrier_path, out_dir))) goto done;
        res->model_written = 1;
    } else if ((st = clcdd_mkdirs(out_dir))) {
        goto done;
    }
    char *abs = NULL;
    const char *bm = o->base_model;
    if (!bm) {
        abs = realpath(out_dir, NULL);
        bm = abs ? abs : out_dir;
    }
    for (uint32_t i = 0; i < c->n_prompts && st == CLCDD_OK; i++) {
        if (only >= 0 && (long)i != only) continue;
        st = clcdd_eraser_export(c, i, out_dir, bm);
        if (st == CLCDD_OK) res->prompts++;
    }
    free(abs);
done:
    clcdd_carrier_free(c);
    return st;
}
