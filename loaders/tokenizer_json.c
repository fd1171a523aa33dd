/* tokenizer.json (HF tokenizers) -> clcdd_tokenizer. Model BPE only; every normalizer,
 * pre-tokenizer, post-processor and decoder type we do not implement is refused by name. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

#define OOM() clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory")

static const char *type_of(json_t *o) {
    json_t *t = json_object_get(o, "type");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

static int get_bool(json_t *o, const char *key, int dflt) {
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static char *dup_str(json_t *v, size_t *len) {
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, json_string_value(v), n);
    s[n] = 0;
    *len = n;
    return s;
}

/* {"String": s} or {"Regex": r}: returns the JSON string and whether it is a regex. */
static json_t *pattern_of(json_t *o, int *is_regex) {
    json_t *p = json_object_get(o, "pattern");
    json_t *s = json_object_get(p, "String"), *r = json_object_get(p, "Regex");
    if (json_is_string(s)) { *is_regex = 0; return s; }
    if (json_is_string(r)) { *is_regex = 1; return r; }
    return NULL;
}

/* ---------------- normalizers ---------------- */

static clcdd_status add_norm(clcdd_tokenizer *tok, json_t *o, const char *name) {
    const char *t = type_of(o);
    if (!t) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: normalizer without a \"type\"", name);
    if (strcmp(t, "Sequence") == 0) {
        json_t *arr = json_object_get(o, "normalizers");
        if (!json_is_array(arr)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Sequence normalizer without \"normalizers\"", name);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) {
            clcdd_status st = add_norm(tok, x, name);
            if (st != CLCDD_OK) return st;
        }
        return CLCDD_OK;
    }
    tk_norm nm;
    memset(&nm, 0, sizeof nm);
    if (strcmp(t, "NFC") == 0) nm.kind = TK_NORM_NFC;
    else if (strcmp(t, "NFD") == 0) nm.kind = TK_NORM_NFD;
    else if (strcmp(t, "NFKC") == 0) nm.kind = TK_NORM_NFKC;
    else if (strcmp(t, "NFKD") == 0) nm.kind = TK_NORM_NFKD;
    else if (strcmp(t, "Prepend") == 0) {
        json_t *p = json_object_get(o, "prepend");
        if (!json_is_string(p)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Prepend normalizer without \"prepend\"", name);
        nm.kind = TK_NORM_PREPEND;
        if (!(nm.a = dup_str(p, &nm.a_len))) return OOM();
    } else if (strcmp(t, "Replace") == 0) {
        int is_regex = 0;
        json_t *p = pattern_of(o, &is_regex), *c = json_object_get(o, "content");
        if (!p || !json_is_string(c)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Replace normalizer needs \"pattern\" and \"content\"", name);
        if (is_regex) return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: Replace normalizer with a Regex pattern is not supported", name);
        nm.kind = TK_NORM_REPLACE;
        if (!(nm.a = dup_str(p, &nm.a_len)) || !(nm.b = dup_str(c, &nm.b_len))) { free(nm.a); return OOM(); }
    } else {
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: normalizer type \"%s\" is not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence)",
                          name, t);
    }
    tk_norm *v = realloc(tok->norms, (tok->n_norms + 1) * sizeof *v);
    if (!v) { free(nm.a); free(nm.b); return OOM(); }
    tok->norms = v;
    v[tok->n_norms++] = nm;
    return CLCDD_OK;
}

/* ---------------- pre-tokenizers ---------------- */

static clcdd_status parse_prepend(json_t *o, tk_prepend *out, const char *what, const char *name) {
    json_t *ps = json_object_get(o, "prepend_scheme");
    if (json_is_string(ps)) {
        const char *s = json_string_value(ps);
        if (strcmp(s, "always") == 0) *out = TK_PREPEND_ALWAYS;
        else if (strcmp(s, "first") == 0) *out = TK_PREPEND_FIRST;
        else if (strcmp(s, "never") == 0) *out = TK_PREPEND_NEVER;
        else return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s prepend_scheme \"%s\" is unknown", name, what, s);
        return CLCDD_OK;
    }
    *out = get_bool(o, "add_prefix_space", 1) ? TK_PREPEND_ALWAYS : TK_PREPEND_NEVER;
    return CLCDD_OK;
}

static clcdd_status parse_replacement(json_t *o, char repl[4], size_t *len, const char *what, const char *name) {
    json_t *r = json_object_get(o, "replacement");
    uint32_t cp;
    size_t n = json_is_string(r) ? json_string_length(r) : 0;
    if (!n || n > 4 || tk_utf8_next(json_string_value(r), n, &cp) != n)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s needs a one-character \"replacement\"", name, what);
    memcpy(repl, json_string_value(r), n);
    *len = n;
    return CLCDD_OK;
}

static clcdd_status add_pre(clcdd_tokenizer *tok, json_t *o, const char *name) {
    const char *t = type_of(o);
    if (!t) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: pre_tokenizer without a \"type\"", name);
    if (strcmp(t, "Sequence") == 0) {
        json_t *arr = json_object_get(o, "pretokenizers");
        if (!json_is_array(arr)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Sequence pre_tokenizer without \"pretokenizers\"", name);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) {
            clcdd_status st = add_pre(tok, x, name);
            if (st != CLCDD_OK) return st;
        }
        return CLCDD_OK;
    }
    tk_pre pr;
    memset(&pr, 0, sizeof pr);
    clcdd_status st = CLCDD_OK;
    if (strcmp(t, "Split") == 0) {
        int is_regex = 0;
        json_t *p = pattern_of(o, &is_regex), *b = json_object_get(o, "behavior");
        if (!p || !json_is_string(b)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Split pre_tokenizer needs \"pattern\" and \"behavior\"", name);
        const char *bs = json_string_value(b);
        if (strcmp(bs, "Isolated") == 0) pr.behavior = TK_SPLIT_ISOLATED;
        else if (strcmp(bs, "Removed") == 0) pr.behavior = TK_SPLIT_REMOVED;
        else if (strcmp(bs, "MergedWithPrevious") == 0) pr.behavior = TK_SPLIT_MERGED_PREV;
        else if (strcmp(bs, "MergedWithNext") == 0) pr.behavior = TK_SPLIT_MERGED_NEXT;
        else if (strcmp(bs, "Contiguous") == 0) pr.behavior = TK_SPLIT_CONTIGUOUS;
        else return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: Split behavior \"%s\" is not supported", name, bs);
        pr.kind = TK_PRE_SPLIT;
        pr.invert = get_bool(o, "invert", 0);
        if (is_regex) st = tk_regex_compile(json_string_value(p), json_string_length(p), name, &pr.re);
        else if (json_string_length(p) == 0) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Split with an empty pattern", name);
        else if (!(pr.literal = dup_str(p, &pr.literal_len))) return OOM();
    } else if (strcmp(t, "ByteLevel") == 0) {
        pr.kind = TK_PRE_BYTELEVEL;
        pr.add_prefix_space = get_bool(o, "add_prefix_space", 1);
        pr.use_regex = get_bool(o, "use_regex", 1);
    } else if (strcmp(t, "Digits") == 0) {
        pr.kind = TK_PRE_DIGITS;
        pr.individual_digits = get_bool(o, "individual_digits", 0);
    } else if (strcmp(t, "Metaspace") == 0) {
        pr.kind = TK_PRE_METASPACE;
        pr.split = get_bool(o, "split", 1);
        if ((st = parse_replacement(o, pr.repl, &pr.repl_len, "Metaspace", name)) == CLCDD_OK)
            st = parse_prepend(o, &pr.prepend, "Metaspace", name);
    } else {
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: pre_tokenizer type \"%s\" is not supported (supported: Split, ByteLevel, Digits, Metaspace, Sequence)",
                          name, t);
    }
    if (st != CLCDD_OK) {
        if (pr.re) pcre2_code_free(pr.re);
        return st;
    }
    tk_pre *v = realloc(tok->pres, (tok->n_pres + 1) * sizeof *v);
    if (!v) {
        if (pr.re) pcre2_code_free(pr.re);
        free(pr.literal);
        return OOM();
    }
    tok->pres = v;
    v[tok->n_pres++] = pr;
    return CLCDD_OK;
}

/* ---------------- decoders ---------------- */

static clcdd_status add_dec(clcdd_tokenizer *tok, json_t *o, const char *name) {
    const char *t = type_of(o);
    if (!t) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: decoder without a \"type\"", name);
    if (strcmp(t, "Sequence") == 0) {
        json_t *arr = json_object_get(o, "decoders");
        if (!json_is_array(arr)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Sequence decoder without \"decoders\"", name);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) {
            clcdd_status st = add_dec(tok, x, name);
            if (st != CLCDD_OK) return st;
        }
        return CLCDD_OK;
    }
    tk_dec d;
    memset(&d, 0, sizeof d);
    if (strcmp(t, "ByteLevel") == 0) d.kind = TK_DEC_BYTELEVEL;
    else if (strcmp(t, "ByteFallback") == 0) d.kind = TK_DEC_BYTEFALLBACK;
    else if (strcmp(t, "Fuse") == 0) d.kind = TK_DEC_FUSE;
    else if (strcmp(t, "Replace") == 0) {
        int is_regex = 0;
        json_t *p = pattern_of(o, &is_regex), *c = json_object_get(o, "content");
        if (!p || !json_is_string(c)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Replace decoder needs \"pattern\" and \"content\"", name);
        if (is_regex) return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: Replace decoder with a Regex pattern is not supported", name);
        d.kind = TK_DEC_REPLACE;
        if (!(d.a = dup_str(p, &d.a_len)) || !(d.b = dup_str(c, &d.b_len))) { free(d.a); return OOM(); }
    } else if (strcmp(t, "Strip") == 0) {
        json_t *c = json_object_get(o, "content"), *s = json_object_get(o, "start"), *e = json_object_get(o, "stop");
        if (!json_is_string(c) || !json_is_integer(s) || !json_is_integer(e) || json_integer_value(s) < 0 ||
            json_integer_value(e) < 0 || json_integer_value(s) > 1000 || json_integer_value(e) > 1000)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Strip decoder needs \"content\", \"start\", \"stop\"", name);
        d.kind = TK_DEC_STRIP;
        d.start = (int)json_integer_value(s);
        d.stop = (int)json_integer_value(e);
        if (!(d.a = dup_str(c, &d.a_len))) return OOM();
    } else if (strcmp(t, "Metaspace") == 0) {
        char repl[4];
        size_t rl;
        clcdd_status st = parse_replacement(o, repl, &rl, "Metaspace decoder", name);
        if (st == CLCDD_OK) st = parse_prepend(o, &d.prepend, "Metaspace decoder", name);
        if (st != CLCDD_OK) return st;
        d.kind = TK_DEC_METASPACE;
        if (!(d.a = malloc(rl + 1))) return OOM();
        memcpy(d.a, repl, rl);
        d.a[rl] = 0;
        d.a_len = rl;
    } else {
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: decoder type \"%s\" is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)",
                          name, t);
    }
    tk_dec *v = realloc(tok->decs, (tok->n_decs + 1) * sizeof *v);
    if (!v) { free(d.a); free(d.b); return OOM(); }
    tok->decs = v;
    v[tok->n_decs++] = d;
    return CLCDD_OK;
}

/* ---------------- post-processor ---------------- */

static int ids_append(int32_t **v, size_t *n, int32_t id) {
    int32_t *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) return 0;
    p[(*n)++] = id;
    *v = p;
    return 1;
}

static clcdd_status add_post(clcdd_tokenizer *tok, json_t *o, const char *name) {
    const char *t = type_of(o);
    if (!t) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: post_processor without a \"type\"", name);
    if (strcmp(t, "Sequence") == 0) {
        json_t *arr = json_object_get(o, "processors");
        if (!json_is_array(arr)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: Sequence post_processor without \"processors\"", name);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) {
            clcdd_status st = add_post(tok, x, name);
            if (st != CLCDD_OK) return st;
        }
        return CLCDD_OK;
    }
    if (strcmp(t, "ByteLevel") == 0) return CLCDD_OK; /* only adjusts offsets */
    if (strcmp(t, "TemplateProcessing") != 0)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: post_processor type \"%s\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)",
                          name, t);
    json_t *single = json_object_get(o, "single"), *specials = json_object_get(o, "special_tokens");
    if (!json_is_array(single)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: TemplateProcessing without \"single\"", name);
    int seen_a = 0;
    size_t i;
    json_t *x;
    json_array_foreach(single, i, x) {
        json_t *sp = json_object_get(x, "SpecialToken"), *sq = json_object_get(x, "Sequence");
        if (sq) {
            if (seen_a) return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: TemplateProcessing with two sequences in \"single\"", name);
            seen_a = 1;
            continue;
        }
        json_t *idv = json_object_get(sp, "id");
        if (!json_is_string(idv)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: TemplateProcessing item %zu is malformed", name, i);
        json_t *ids = json_object_get(json_object_get(specials, json_string_value(idv)), "ids");
        if (!json_is_array(ids))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: TemplateProcessing special token \"%s\" has no \"ids\"", name,
                              json_string_value(idv));
        size_t j;
        json_t *y;
        json_array_foreach(ids, j, y) {
            json_int_t id = json_integer_value(y);
            if (!json_is_integer(y) || id < 0 || (size_t)id >= tok->vocab.n)
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s: TemplateProcessing id for \"%s\" out of range", name,
                                  json_string_value(idv));
            if (!(seen_a ? ids_append(&tok->suffix_ids, &tok->n_suffix, (int32_t)id)
                         : ids_append(&tok->prefix_ids, &tok->n_prefix, (int32_t)id)))
                return OOM();
        }
    }
    return CLCDD_OK;
}

/* ---------------- model ---------------- */

static clcdd_status load_merges(clcdd_tokenizer *tok, json_t *merges, const char *name) {
    size_t n = json_array_size(merges);
    if (!tk_merges_init(&tok->merges, n)) return OOM();
    tk_buf cat = {0};
    size_t i;
    json_t *m;
    clcdd_status st = CLCDD_OK;
    json_array_foreach(merges, i, m) {
        const char *a, *b;
        size_t al, bl;
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *sp = memchr(s, ' ', json_string_length(m));
            if (!sp || memchr(sp + 1, ' ', json_string_length(m) - (size_t)(sp + 1 - s))) {
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: merge %zu \"%s\" is not two tokens separated by one space", name, i, s);
                break;
            }
            a = s; al = (size_t)(sp - s); b = sp + 1; bl = json_string_length(m) - al - 1;
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0)); al = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1)); bl = json_string_length(json_array_get(m, 1));
        } else {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: merge %zu is neither \"a b\" nor [a, b]", name, i);
            break;
        }
        int32_t ia = tk_vocab_find(&tok->vocab, a, al), ib = tk_vocab_find(&tok->vocab, b, bl);
        size_t skip = tok->cont_prefix_len && bl >= tok->cont_prefix_len &&
                              memcmp(b, tok->cont_prefix, tok->cont_prefix_len) == 0 ? tok->cont_prefix_len : 0;
        cat.n = 0;
        if (!tk_buf_put(&cat, a, al) || !tk_buf_put(&cat, b + skip, bl - skip)) { st = OOM(); break; }
        int32_t im = tk_vocab_find(&tok->vocab, cat.p, cat.n);
        if (ia < 0 || ib < 0 || im < 0) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: merge %zu (\"%.*s\" + \"%.*s\") uses a token missing from the vocab",
                            name, i, (int)al, a, (int)bl, b);
            break;
        }
        if (!tk_merges_add(&tok->merges, ia, ib, (uint32_t)i, im)) { st = OOM(); break; }
    }
    tk_buf_free(&cat);
    return st;
}

static clcdd_status opt_string(json_t *model, const char *key, char **out, size_t *len, const char *name) {
    json_t *v = json_object_get(model, key);
    if (!v || json_is_null(v)) return CLCDD_OK;
    if (!json_is_string(v)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: model.%s is not a string", name, key);
    if (json_string_length(v) == 0) return CLCDD_OK;
    return (*out = dup_str(v, len)) ? CLCDD_OK : OOM();
}

static clcdd_status load_model(clcdd_tokenizer *tok, json_t *root, const char *name) {
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: no \"model\" object", name);
    const char *t = type_of(model);
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (t ? strcmp(t, "BPE") != 0 : !json_is_array(merges))
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (only BPE)", name, t ? t : "?");
    if (!json_is_object(vocab) || !json_is_array(merges))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: BPE model needs \"vocab\" (object) and \"merges\" (array)", name);
    json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0.0)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: BPE dropout is not supported (encoding would be random)", name);

    /* size: one past the largest id in vocab and added_tokens */
    json_int_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 30))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: vocab entry \"%s\" has an invalid id", name, key);
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    json_t *added = json_object_get(root, "added_tokens");
    size_t i;
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 30))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: added_tokens[%zu] has an invalid id", name, i);
        if (json_integer_value(id) > max_id) max_id = json_integer_value(id);
    }
    size_t n = (size_t)(max_id + 1);
    if (!tk_vocab_init(&tok->vocab, n) || !(tok->in_model = calloc(n ? n : 1, 1))) return OOM();
    json_object_foreach(vocab, key, v) {
        /* keys with embedded NULs are not representable in jansson's object API; reject them */
        int r = tk_vocab_set(&tok->vocab, (int32_t)json_integer_value(v), key, strlen(key));
        if (r == 0) return OOM();
        if (r < 0) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: vocab id %lld is used twice", name, (long long)json_integer_value(v));
        tok->in_model[json_integer_value(v)] = 1;
    }
    if (!tk_vocab_build_index(&tok->vocab)) return OOM();
    clcdd_status st;
    if ((st = opt_string(model, "continuing_subword_prefix", &tok->cont_prefix, &tok->cont_prefix_len, name)) ||
        (st = opt_string(model, "end_of_word_suffix", &tok->eow_suffix, &tok->eow_suffix_len, name)))
        return st;
    tok->mode = TK_MODE_RANKS;
    if ((st = load_merges(tok, merges, name)) != CLCDD_OK) return st;
    tok->byte_fallback = get_bool(model, "byte_fallback", 0);
    tok->fuse_unk = get_bool(model, "fuse_unk", 0);
    tok->ignore_merges = get_bool(model, "ignore_merges", 0);
    tok->unk_id = -1;
    json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) tok->unk_id = tk_vocab_find(&tok->vocab, json_string_value(unk), json_string_length(unk));

    json_array_foreach(added, i, v) {
        json_t *c = json_object_get(v, "content");
        if (!json_is_string(c)) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: added_tokens[%zu] has no \"content\"", name, i);
        int special = get_bool(v, "special", 0);
        /* as the reference's AddedVocabulary: content already in the model vocab keeps the model id */
        int32_t id = tk_vocab_find(&tok->vocab, json_string_value(c), json_string_length(c));
        if (id < 0 || !tok->in_model[id]) id = (int32_t)json_integer_value(json_object_get(v, "id"));
        st = tk_add_added(tok, id, json_string_value(c),
                          json_string_length(c), special, get_bool(v, "lstrip", 0), get_bool(v, "rstrip", 0),
                          get_bool(v, "normalized", !special), get_bool(v, "single_word", 0), name);
        if (st != CLCDD_OK) return st;
    }
    return CLCDD_OK;
}

clcdd_status clcdd_tokenizer_load_json(const char *json, size_t len, const char *name, clcdd_tokenizer **out) {
    if (!json || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_load_json: NULL argument");
    if (!name) name = "tokenizer.json";
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: line %d column %d: %s", name, err.line, err.column, err.text);
    clcdd_tokenizer *tok = calloc(1, sizeof *tok);
    clcdd_status st = CLCDD_OK;
    if (!tok) { st = OOM(); goto done; }
    tok->bos_id = tok->eos_id = tok->unk_id = -1;
    if (!json_is_object(root)) { st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: top level is not an object", name); goto done; }
    if ((st = load_model(tok, root, name)) != CLCDD_OK) goto done;
    json_t *x;
    if ((x = json_object_get(root, "normalizer")) && !json_is_null(x) && (st = add_norm(tok, x, name)) != CLCDD_OK) goto done;
    if ((x = json_object_get(root, "pre_tokenizer")) && !json_is_null(x) && (st = add_pre(tok, x, name)) != CLCDD_OK) goto done;
    if ((x = json_object_get(root, "post_processor")) && !json_is_null(x) && (st = add_post(tok, x, name)) != CLCDD_OK) goto done;
    if ((x = json_object_get(root, "decoder")) && !json_is_null(x)) {
        tok->has_decoder = 1;
        if ((st = add_dec(tok, x, name)) != CLCDD_OK) goto done;
    }
    if ((st = tk_finalize(tok, name)) != CLCDD_OK) goto done;
    if (tok->n_prefix) tok->bos_id = tok->prefix_ids[0];
    if (tok->n_suffix) tok->eos_id = tok->suffix_ids[tok->n_suffix - 1];
done:
    json_decref(root);
    if (st != CLCDD_OK) {
        clcdd_tokenizer_destroy(tok);
        return st;
    }
    *out = tok;
    return CLCDD_OK;
}

clcdd_status clcdd_tokenizer_load(const char *path, clcdd_tokenizer **out) {
    if (!path || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_load: NULL argument");
    struct stat sb;
    char *full = NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        size_t n = strlen(path);
        full = malloc(n + 20);
        if (!full) return OOM();
        memcpy(full, path, n);
        strcpy(full + n, "/tokenizer.json");
        path = full;
    }
    char *data = NULL;
    size_t len = 0;
    clcdd_status st = clcdd_read_file(path, &data, &len);
    if (st == CLCDD_OK) st = clcdd_tokenizer_load_json(data, len, path, out);
    free(data);
    free(full);
    return st;
}
