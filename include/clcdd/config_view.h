/* Config views: a checkpoint's settings as the model-family plugins read them
 * (clcdd_config_view in clcdd/plugin.h says which keys exist).
 *
 * - HF: a Hugging Face model directory: config.json (required), generation_config.json,
 *   tokenizer_config.json and chat_template.jinja (optional).
 * - Table: an in-memory key/value view. The GGUF reader fills one from a file's metadata
 *   (format CLCDD_SOURCE_GGUF); tests use it to describe a GGUF without a file. */
#ifndef CLCDD_CONFIG_VIEW_H
#define CLCDD_CONFIG_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/plugin.h"
#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* `path` is the model directory or its config.json. */
CLCDD_API clcdd_status clcdd_config_view_open_hf(const char *path, clcdd_config_view **out);

/* GGUF: a table view (format CLCDD_SOURCE_GGUF) holding every metadata key of the file: scalars,
 * strings and integer arrays copied; arrays of other element types (tokens, merges, scores) by
 * length. The view does not keep the file open. */
CLCDD_API clcdd_status clcdd_config_view_open_gguf(const char *path, clcdd_config_view **out);
/* The same from an open GGUF (not kept); `name` is used in messages (NULL: "(table)"). */
struct clcdd_gguf;
CLCDD_API clcdd_status clcdd_config_view_from_gguf(const struct clcdd_gguf *g, const char *name,
                                                   clcdd_config_view **out);

/* An empty table view of the given format. */
CLCDD_API clcdd_status clcdd_config_view_create_table(clcdd_source_format format,
                                                      clcdd_config_view **out);
/* Setters for table views (setting a key again replaces it). Strings and arrays are copied.
 * set_array_length records an array of another element type (e.g. strings) by length only. */
CLCDD_API clcdd_status clcdd_config_view_set_int(clcdd_config_view *v, const char *key, int64_t x);
CLCDD_API clcdd_status clcdd_config_view_set_float(clcdd_config_view *v, const char *key, double x);
CLCDD_API clcdd_status clcdd_config_view_set_bool(clcdd_config_view *v, const char *key, int x);
CLCDD_API clcdd_status clcdd_config_view_set_string(clcdd_config_view *v, const char *key,
                                                    const char *s, size_t len);
CLCDD_API clcdd_status clcdd_config_view_set_int_array(clcdd_config_view *v, const char *key,
                                                       const int64_t *x, size_t n);
CLCDD_API clcdd_status clcdd_config_view_set_array_length(clcdd_config_view *v, const char *key,
                                                          size_t n);

/* A short name for messages: the directory, or "(table)". */
CLCDD_API const char *clcdd_config_view_name(const clcdd_config_view *v);

/* Frees a view made by any of the functions above (NULL is fine). */
CLCDD_API void clcdd_config_view_close(clcdd_config_view *v);

#ifdef __cplusplus
}
#endif
#endif
