/* Helpers shared by the file-format readers in loaders/. Not installed. */
#ifndef CLCDD_LOADERS_INTERNAL_H
#define CLCDD_LOADERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd_internal.h"

/* A read-only view of a whole file: memory-mapped, or borrowed from a caller's buffer. */
typedef struct clcdd_mapped_file {
    const unsigned char *data; /* NULL when size == 0 */
    uint64_t size;
    int owned; /* 1: munmap on close */
} clcdd_mapped_file;

/* mmap `path` read-only (PROT_READ, MAP_PRIVATE). An empty file maps to data == NULL, size 0. */
clcdd_status clcdd_map_file(const char *path, clcdd_mapped_file *out);
void clcdd_unmap_file(clcdd_mapped_file *f);

static inline uint16_t clcdd_rd_u16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t clcdd_rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t clcdd_rd_u64(const unsigned char *p) {
    return (uint64_t)clcdd_rd_u32(p) | ((uint64_t)clcdd_rd_u32(p + 4) << 32);
}

/* 1 if [s, s+n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int clcdd_utf8_valid(const unsigned char *s, size_t n);

/* Directory part of `path` ("." if none), malloc'd. NULL on allocation failure. */
char *clcdd_path_dirname(const char *path);
/* dir + "/" + name, malloc'd. NULL on allocation failure. */
char *clcdd_path_join(const char *dir, const char *name);

/* json_loadb / json_load_file that read integer literals wider than 64 bits as reals instead of
 * failing (HF tokenizer configs carry model_max_length = int(1e30)); json_lenient.c. */
#include <jansson.h>
json_t *clcdd_json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err);
json_t *clcdd_json_load_file_lenient(const char *path, size_t flags, json_error_t *err);

#endif
