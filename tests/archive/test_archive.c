/* The carrier archive: exact round trips (small random models, a multi-megabyte matrix that forces
 * chunking), prompt add/replace/find, writer atomicity, and a malformed-archive corpus (truncation
 * at every offset and every record boundary, flipped bytes, crafted bad records) where each file
 * must be refused with the expected status and a message naming the problem. This suite also runs
 * under ASan+UBSan with leak checking.
 * Set CLCDD_DUMP_ARCHIVE_DIR to also write the valid and crafted archives there (fuzz seeds). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "archive_util.h"
#include "clcdd/status.h"

static void dump(const char *id, const void *data, size_t n) {
    const char *dir = getenv("CLCDD_DUMP_ARCHIVE_DIR");
    if (!dir || !*dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.carrier", dir, id);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void add_prompts(clcdd_carrier *c, uint64_t seed) {
    uint64_t s = seed;
    float *p = rand_floats(&s, 5 * c->hidden_size);
    cr_assert_eq(clcdd_carrier_set_prompt(c, "eraser-a", 5, c->hidden_size, p,
                                          "{\"steps\":2000}", "{\"kl\":0.5}"), CLCDD_OK, "%s",
                 clcdd_last_error());
    cr_assert_eq(clcdd_carrier_set_prompt(c, "eraser-b", 2, c->hidden_size, p, NULL, NULL), CLCDD_OK);
    free(p);
}

/* Write c to a fresh directory and read it back; returns the file bytes through data/n. */
static clcdd_carrier *write_read(const clcdd_carrier *c, const char *id, unsigned char **data, size_t *n) {
    const char *dir = tmpdir_new();
    cr_assert(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/a.carrier", dir);
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_carrier *back = NULL;
    cr_assert_eq(clcdd_carrier_read(path, &back), CLCDD_OK, "%s", clcdd_last_error());
    size_t len = 0;
    unsigned char *bytes = slurp(path, &len);
    dump(id, bytes, len);
    if (data) *data = bytes, *n = len;
    else free(bytes);
    unlink(path);
    rmdir(dir);
    return back;
}

Test(archive, roundtrip_random) {
    for (uint64_t seed = 1; seed <= 6; seed++) {
        uint64_t s = seed * 7919;
        uint32_t hd = 2 + rng_below(&s, 4) * 2, Hkv = 1 + rng_below(&s, 2);
        uint32_t H = Hkv * (1 + rng_below(&s, 3)), d = 4 + rng_below(&s, 13);
        uint32_t f = 3 + rng_below(&s, 20), L = 1 + rng_below(&s, 3);
        clcdd_carrier *c = make_carrier(seed, d, f, L, H, Hkv, hd);
        if (seed % 2) add_prompts(c, seed);
        if (seed == 3) {
            free(c->train_json);
            c->train_json = NULL;
        }
        char id[32];
        snprintf(id, sizeof id, "valid_%llu", (unsigned long long)seed);
        clcdd_carrier *back = write_read(c, id, NULL, NULL);
        const char *diff = carrier_diff(c, back);
        cr_assert_null(diff, "seed %llu: %s differs", (unsigned long long)seed, diff);
        cr_assert_eq(back->version, CLCDD_CARRIER_VERSION);
        clcdd_carrier_free(c);
        clcdd_carrier_free(back);
    }
}

Test(archive, roundtrip_large_chunked) {
    /* gate is f x d = 1536 x 512 floats = 3 MiB: three full chunks */
    clcdd_carrier *c = make_carrier(99, 8, 16, 1, 2, 1, 4);
    clcdd_carrier_free(c);
    c = calloc(1, sizeof *c);
    uint64_t s = 5;
    strcpy(c->family, "qwen");
    c->vocab_size = 1000, c->hidden_size = 512, c->intermediate_size = 1536, c->n_layers = 1;
    c->n_heads = 8, c->n_kv_heads = 2, c->head_dim = 64;
    c->n_mask = 4 * 512 + 1536 + 8 * 64 + 2 * 2 * 64;
    c->theta = rand_floats(&s, c->n_mask);
    c->mask = malloc(c->n_mask);
    for (uint64_t i = 0; i < c->n_mask; i++) c->mask[i] = c->theta[i] > 0;
    c->n_matrices = 1;
    c->matrices = calloc(1, sizeof *c->matrices);
    clcdd_carrier_matrix *m = &c->matrices[0];
    m->layer = 0, m->role = CLCDD_ROLE_GATE;
    m->rows = rand_subset(&s, 1536, 100, &m->n_rows);
    m->cols = rand_subset(&s, 512, 100, &m->n_cols);
    m->delta = rand_floats(&s, (size_t)m->n_rows * m->n_cols);
    m->bias_delta = rand_floats(&s, m->n_rows);
    unsigned char *bytes;
    size_t n;
    clcdd_carrier *back = write_read(c, "large", &bytes, &n);
    cr_assert_null(carrier_diff(c, back), "%s differs", carrier_diff(c, back));
    /* the delta really is split into 1 MiB chunks: 3 MiB -> array of 3 bins */
    size_t raw_n = ZSTD_getFrameContentSize(bytes, n) == ZSTD_CONTENTSIZE_UNKNOWN ? 8u << 20 : 0;
    unsigned char *raw = malloc(raw_n);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {bytes, n, 0};
    ZSTD_outBuffer out = {raw, raw_n, 0};
    cr_assert_eq(ZSTD_decompressStream(dc, &out, &in), 0);
    ZSTD_freeDCtx(dc);
    const unsigned char key[] = {0xa5, 'd', 'e', 'l', 't', 'a', 0x93, 0xc6, 0x00, 0x10, 0x00, 0x00};
    int found = 0;
    for (size_t i = 0; i + sizeof key <= out.pos && !found; i++) found = !memcmp(raw + i, key, sizeof key);
    cr_assert(found, "delta is not 3 chunks of 1 MiB");
    free(raw);
    free(bytes);
    clcdd_carrier_free(c);
    clcdd_carrier_free(back);
}

Test(archive, prompts_set_replace_find) {
    clcdd_carrier *c = make_carrier(3, 8, 16, 1, 2, 1, 4);
    cr_assert_eq(clcdd_carrier_find_prompt(c, "x"), -1);
    float p[3 * 8], q[1 * 8];
    for (int i = 0; i < 24; i++) p[i] = (float)i;
    for (int i = 0; i < 8; i++) q[i] = -(float)i;
    cr_assert_eq(clcdd_carrier_set_prompt(c, "x", 3, 8, p, "{\"a\":1}", NULL), CLCDD_OK);
    cr_assert_eq(clcdd_carrier_set_prompt(c, "y", 1, 8, q, NULL, "{}"), CLCDD_OK);
    cr_assert_eq(clcdd_carrier_find_prompt(c, "x"), 0);
    cr_assert_eq(clcdd_carrier_find_prompt(c, "y"), 1);
    cr_assert_eq(clcdd_carrier_set_prompt(c, "x", 1, 8, q, NULL, "{\"m\":2}"), CLCDD_OK);
    cr_assert_eq(c->n_prompts, 2);
    cr_assert_eq(clcdd_carrier_find_prompt(c, "x"), 0);
    cr_assert_eq(c->prompts[0].rows, 1);
    cr_assert_null(c->prompts[0].settings_json);
    cr_assert_str_eq(c->prompts[0].metrics_json, "{\"m\":2}");
    cr_assert(memcmp(c->prompts[0].data, q, sizeof q) == 0);
    /* refused: wrong dim, no rows, name too long, invalid UTF-8 */
    cr_assert_eq(clcdd_carrier_set_prompt(c, "z", 1, 7, q, NULL, NULL), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(clcdd_last_error(), "hidden_size"), "%s", clcdd_last_error());
    cr_assert_eq(clcdd_carrier_set_prompt(c, "z", 0, 8, q, NULL, NULL), CLCDD_ERR_INVALID_ARGUMENT);
    char longname[80];
    memset(longname, 'n', 79);
    longname[79] = 0;
    cr_assert_eq(clcdd_carrier_set_prompt(c, longname, 1, 8, q, NULL, NULL), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(clcdd_carrier_set_prompt(c, "bad\xff", 1, 8, q, NULL, NULL), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(c->n_prompts, 2);
    clcdd_carrier *back = write_read(c, "prompts", NULL, NULL);
    cr_assert_null(carrier_diff(c, back));
    cr_assert_eq(clcdd_carrier_find_prompt(back, "y"), 1);
    clcdd_carrier_free(c);
    clcdd_carrier_free(back);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

Test(archive, writer_atomic) {
    const char *tdir = tmpdir_new();
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s", tdir);
    snprintf(path, sizeof path, "%s/a.carrier", dir);
    clcdd_carrier *c = make_carrier(11, 8, 16, 2, 2, 1, 4);
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_OK, "%s", clcdd_last_error());
    size_t n0 = 0;
    unsigned char *before = slurp(path, &n0);
    /* an invalid carrier is refused before anything is written */
    c->matrices[1].rows[0] = 1000;
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(clcdd_last_error(), "rows"), "%s", clcdd_last_error());
    c->matrices[1].rows[0] = 0;
    /* a path inside a directory that does not exist */
    char missing[800];
    snprintf(missing, sizeof missing, "%s/no/such/dir/a.carrier", dir);
    cr_assert_eq(clcdd_carrier_write(missing, c), CLCDD_ERR_IO);
    cr_assert(strstr(clcdd_last_error(), "no/such/dir"), "%s", clcdd_last_error());
    /* A read-only directory: root ignores permissions, so this part only runs as another user. */
    if (geteuid() != 0) {
        add_prompts(c, 4);
        cr_assert_eq(chmod(dir, 0555), 0);
        cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_IO);
        cr_assert(strstr(clcdd_last_error(), "temporary file"), "%s", clcdd_last_error());
        chmod(dir, 0755);
    }
    size_t n1 = 0;
    unsigned char *after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "the existing archive was changed");
    cr_assert_eq(count_entries(dir), 1, "a temporary file was left behind");
    /* a successful write replaces the file and leaves no temporary behind */
    add_prompts(c, 5);
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(count_entries(dir), 1);
    clcdd_carrier *back = NULL;
    cr_assert_eq(clcdd_carrier_read(path, &back), CLCDD_OK);
    cr_assert_null(carrier_diff(c, back));
    clcdd_carrier_free(back);
    free(before);
    free(after);
    clcdd_carrier_free(c);
    unlink(path);
    rmdir(dir);
}

/* ---- truncation and flipped bytes of a real archive ---- */

static unsigned char *small_archive(size_t *n, clcdd_carrier **keep) {
    clcdd_carrier *c = make_carrier(21, 6, 10, 2, 2, 1, 2);
    add_prompts(c, 21);
    unsigned char *bytes;
    clcdd_carrier *back = write_read(c, "small", &bytes, n);
    clcdd_carrier_free(back);
    if (keep) *keep = c;
    else clcdd_carrier_free(c);
    return bytes;
}

Test(archive_bad, truncated_every_offset) {
    size_t n;
    unsigned char *b = small_archive(&n, NULL);
    for (size_t k = 0; k < n; k++) {
        clcdd_carrier *out = (clcdd_carrier *)1;
        clcdd_status st = clcdd_carrier_read_memory(b, k, "cut.carrier", &out);
        cr_assert_eq(st, CLCDD_ERR_FORMAT, "cut at %zu of %zu: status %d", k, n, st);
        cr_assert_null(out);
        cr_assert(strstr(clcdd_last_error(), "cut.carrier"), "%s", clcdd_last_error());
    }
    free(b);
}

Test(archive_bad, truncated_at_record_boundaries) {
    size_t n;
    unsigned char *b = small_archive(&n, NULL);
    size_t raw_n = 1u << 20;
    unsigned char *raw = malloc(raw_n);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {b, n, 0};
    ZSTD_outBuffer out = {raw, raw_n, 0};
    cr_assert_eq(ZSTD_decompressStream(dc, &out, &in), 0);
    ZSTD_freeDCtx(dc);
    /* record boundaries, found with msgpack-c on trusted data */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0, prev = 0;
    int records = 0;
    while (msgpack_unpack_next(&u, (const char *)raw, out.pos, &off) == MSGPACK_UNPACK_SUCCESS) {
        records++;
        if (off == out.pos) break; /* the full archive */
        size_t zn;
        unsigned char *z = zpack(raw, off, 0, &zn);
        clcdd_carrier *c = NULL;
        cr_assert_eq(clcdd_carrier_read_memory(z, zn, "cut.carrier", &c), CLCDD_ERR_FORMAT);
        cr_assert(strstr(clcdd_last_error(), "end record"), "boundary %zu: %s", off,
                  clcdd_last_error());
        free(z);
        /* and mid-record: half-way into the next record */
        if (off > prev + 1) {
            z = zpack(raw, (prev + off) / 2, 0, &zn);
            cr_assert_eq(clcdd_carrier_read_memory(z, zn, "cut.carrier", &c), CLCDD_ERR_FORMAT);
            free(z);
        }
        prev = off;
    }
    msgpack_unpacked_destroy(&u);
    cr_assert_gt(records, 10);
    free(raw);
    free(b);
}

Test(archive_bad, flipped_bytes) {
    size_t n;
    clcdd_carrier *orig;
    unsigned char *b = small_archive(&n, &orig);
    int decoded_same = 0;
    for (size_t k = 0; k < n; k++) {
        for (int bit = 0; bit < 8; bit += 3) {
            b[k] ^= (unsigned char)(1u << bit);
            clcdd_carrier *out = NULL;
            clcdd_status st = clcdd_carrier_read_memory(b, n, "flip.carrier", &out);
            b[k] ^= (unsigned char)(1u << bit);
            /* Some bits do not change what decodes (a larger window size, an entropy table entry
             * no symbol uses): then the content, verified by the frame checksum, is the same. */
            if (st == CLCDD_OK) {
                cr_assert_null(carrier_diff(orig, out), "flip byte %zu bit %d decoded differently",
                               k, bit);
                clcdd_carrier_free(out);
                decoded_same++;
                continue;
            }
            cr_assert_eq(st, CLCDD_ERR_FORMAT, "flip byte %zu bit %d: status %d", k, bit, st);
            cr_assert(strstr(clcdd_last_error(), "zstd"), "flip byte %zu bit %d: %s", k, bit,
                      clcdd_last_error());
        }
    }
    cr_assert_lt(decoded_same, (int)n / 8, "too many flips went unnoticed");
    clcdd_carrier_free(orig);
    free(b);
}

/* ---- crafted records ---- */

typedef struct B {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t records, nm, nn, np, train;
} B;

enum { D = 8, F = 16, L = 2, H = 2, HKV = 1, HD = 4, NMASK = L * (4 * D + F + H * HD + 2 * HKV * HD) };

static uint32_t g_ff = F; /* intermediate_size the header declares */
static void b_header_x(B *b, const char *magic, uint64_t version, uint64_t minor, const char *family,
                       uint32_t d, uint32_t hkv, int extra) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 14 + extra);
    mp_ks(pk, "magic", magic);
    mp_ku(pk, "version", version);
    mp_ku(pk, "minor", minor);
    mp_ks(pk, "family", family);
    mp_ks(pk, "architecture", "LlamaForCausalLM");
    mp_ku(pk, "vocab_size", 50);
    mp_ku(pk, "hidden_size", d);
    mp_ku(pk, "intermediate_size", g_ff);
    mp_ku(pk, "n_layers", L);
    mp_ku(pk, "n_heads", H);
    mp_ku(pk, "n_kv_heads", hkv);
    mp_ku(pk, "head_dim", HD);
    mp_ks(pk, "base_fingerprint", "00ff");
    mp_ks(pk, "sft_fingerprint", "ff00");
    if (extra) mp_ku(pk, "future_field", 7);
}
static void b_header(B *b) { b_header_x(b, "clcdd-carrier", 1, 0, "llama", D, HKV, 0); }
static void b_masks_x(B *b, uint64_t n, uint64_t n_theta, unsigned char pad) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 4);
    mp_ks(pk, "t", "masks");
    mp_ku(pk, "n", n);
    mp_s(pk, "theta");
    mp_chunks(pk, NULL, n_theta, 4, 1u << 20);
    mp_s(pk, "mask");
    size_t nb = (n + 7) / 8;
    unsigned char *bits = calloc(1, nb + 1);
    bits[nb ? nb - 1 : 0] |= pad;
    mp_chunks(pk, bits, nb, 1, 1u << 20);
    free(bits);
    b->records++;
}
static void b_masks(B *b) { b_masks_x(b, NMASK, NMASK, 0); }
static void b_matrix(B *b, uint32_t layer, uint32_t role, uint32_t nr, const uint32_t *rows, uint32_t nc,
                     const uint32_t *cols, long delta_adj, int bias) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 9);
    mp_ks(pk, "t", "matrix");
    mp_ku(pk, "layer", layer);
    mp_ku(pk, "role", role);
    mp_ku(pk, "n_rows", nr);
    mp_ku(pk, "n_cols", nc);
    mp_s(pk, "rows");
    mp_chunks(pk, rows, nr, 4, 1u << 20);
    mp_s(pk, "cols");
    mp_chunks(pk, cols, nc, 4, 1u << 20);
    mp_s(pk, "delta");
    mp_chunks(pk, NULL, (size_t)((long)nr * nc + delta_adj), 4, 1u << 20);
    mp_s(pk, "bias");
    if (bias) mp_chunks(pk, NULL, nr, 4, 1u << 20);
    else msgpack_pack_nil(pk);
    b->records++, b->nm++;
}
static const uint32_t R2[] = {1, 5}, C3[] = {0, 2, 7};
static void b_matrix_ok(B *b, uint32_t layer) { b_matrix(b, layer, CLCDD_ROLE_Q, 2, R2, 3, C3, 0, 1); }
static void b_norm(B *b, uint32_t layer, uint32_t role, uint32_t n) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 5);
    mp_ks(pk, "t", "norm");
    mp_ku(pk, "layer", layer);
    mp_ku(pk, "role", role);
    mp_ku(pk, "n", n);
    mp_s(pk, "w");
    mp_chunks(pk, NULL, n, 4, 1u << 20);
    b->records++, b->nn++;
}
static void b_train(B *b, const char *json) {
    msgpack_pack_map(&b->pk, 2);
    mp_ks(&b->pk, "t", "train");
    mp_ks(&b->pk, "json", json);
    b->records++, b->train++;
}
static void b_prompt(B *b, const char *name, uint32_t rows, uint32_t dim) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 7);
    mp_ks(pk, "t", "prompt");
    mp_ks(pk, "name", name);
    mp_ku(pk, "rows", rows);
    mp_ku(pk, "dim", dim);
    mp_s(pk, "data");
    mp_chunks(pk, NULL, (size_t)rows * dim, 4, 1u << 20);
    mp_ks(pk, "settings", "{}");
    mp_s(pk, "metrics");
    msgpack_pack_nil(pk);
    b->records++, b->np++;
}
static void b_end_x(B *b, uint64_t records, uint64_t nm) {
    msgpack_packer *pk = &b->pk;
    msgpack_pack_map(pk, 6);
    mp_ks(pk, "t", "end");
    mp_ku(pk, "records", records);
    mp_ku(pk, "n_matrices", nm);
    mp_ku(pk, "n_norms", b->nn);
    mp_ku(pk, "n_prompts", b->np);
    mp_ku(pk, "has_train", b->train);
}
static void b_end(B *b) { b_end_x(b, b->records + 1, b->nm); }
static void b_start(B *b) { b_header(b), b_masks(b); }
static void b_ok_body(B *b) {
    b_start(b);
    b_matrix_ok(b, 0);
    b_norm(b, 1, CLCDD_ROLE_K_NORM, HD);
    b_train(b, "{}");
    b_prompt(b, "p", 2, D);
}

/* post-processing of the compressed bytes */
enum { P_NONE, P_NO_CHECKSUM, P_TRAILING_BYTE, P_TWO_FRAMES, P_RAW };

typedef struct crafted {
    const char *id;
    void (*build)(B *b);
    int post;
    clcdd_status expect;
    const char *needle;
} crafted;

#define CASE(name, ...) static void name(B *b) { __VA_ARGS__; }
CASE(c_valid, b_ok_body(b); b_end(b))
CASE(c_valid_minimal, b_start(b); b_end(b))
CASE(c_newer_minor_extra_keys, b_header_x(b, "clcdd-carrier", 1, 3, "llama", D, HKV, 1); b_masks(b);
     b_end(b))
CASE(c_bad_magic, b_header_x(b, "clcdd-carrieR", 1, 0, "llama", D, HKV, 0); b_masks(b); b_end(b))
CASE(c_newer_version, b_header_x(b, "clcdd-carrier", 2, 0, "llama", D, HKV, 0); b_masks(b); b_end(b))
CASE(c_version_zero, b_header_x(b, "clcdd-carrier", 0, 0, "llama", D, HKV, 0); b_masks(b); b_end(b))
CASE(c_extra_key_same_minor, b_header_x(b, "clcdd-carrier", 1, 0, "llama", D, HKV, 1); b_masks(b);
     b_end(b))
CASE(c_family_not_utf8, b_header_x(b, "clcdd-carrier", 1, 0, "ll\xc0\xafma", D, HKV, 0); b_masks(b);
     b_end(b))
CASE(c_family_too_long, b_header_x(b, "clcdd-carrier", 1, 0, "a-family-name-longer-than-31-bytes",
                                   D, HKV, 0); b_masks(b); b_end(b))
CASE(c_hidden_zero, b_header_x(b, "clcdd-carrier", 1, 0, "llama", 0, HKV, 0); b_end(b))
CASE(c_hidden_absurd, b_header_x(b, "clcdd-carrier", 1, 0, "llama", 4000000000u, HKV, 0); b_end(b))
CASE(c_kv_not_dividing, b_header_x(b, "clcdd-carrier", 1, 0, "llama", D, 3, 0); b_end(b))
CASE(c_n_mask_mismatch, b_header(b); b_masks_x(b, NMASK - 1, NMASK - 1, 0); b_end(b))
CASE(c_theta_short, b_header(b); b_masks_x(b, NMASK, NMASK - 3, 0); b_end(b))
CASE(c_theta_long, b_header(b); b_masks_x(b, NMASK, NMASK + 1, 0); b_end(b))
/* f = 17: n_mask = 2 * (32 + 17 + 8 + 8) = 130, so the last bitset byte has 6 padding bits */
CASE(c_mask_padding, g_ff = 17; b_header(b); g_ff = F; b_masks_x(b, 130, 130, 0x80); b_end(b))
CASE(c_masks_missing, b_header(b); b_matrix_ok(b, 0); b_end(b))
CASE(c_masks_twice, b_start(b); b_masks(b); b_end(b))
CASE(c_rows_out_of_range, static const uint32_t r[] = {1, 8}; b_start(b);
     b_matrix(b, 0, CLCDD_ROLE_Q, 2, r, 3, C3, 0, 0); b_end(b))
CASE(c_rows_unsorted, static const uint32_t r[] = {5, 1}; b_start(b);
     b_matrix(b, 0, CLCDD_ROLE_Q, 2, r, 3, C3, 0, 0); b_end(b))
CASE(c_rows_duplicate, static const uint32_t r[] = {5, 5}; b_start(b);
     b_matrix(b, 0, CLCDD_ROLE_Q, 2, r, 3, C3, 0, 0); b_end(b))
CASE(c_cols_out_of_range, static const uint32_t cc[] = {0, 16}; b_start(b);
     b_matrix(b, 0, CLCDD_ROLE_DOWN, 2, R2, 2, cc, 0, 0); b_end(b))
CASE(c_n_rows_too_many, static uint32_t r[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}; b_start(b);
     b_matrix(b, 0, CLCDD_ROLE_K, 9, r, 3, C3, 0, 0); b_end(b))
CASE(c_delta_short, b_start(b); b_matrix(b, 0, CLCDD_ROLE_Q, 2, R2, 3, C3, -1, 0); b_end(b))
CASE(c_delta_long, b_start(b); b_matrix(b, 0, CLCDD_ROLE_Q, 2, R2, 3, C3, 1, 0); b_end(b))
CASE(c_matrix_duplicate, b_start(b); b_matrix_ok(b, 1); b_matrix_ok(b, 1); b_end(b))
CASE(c_matrix_bad_role, b_start(b); b_matrix(b, 0, CLCDD_ROLE_ATTN_NORM, 2, R2, 3, C3, 0, 0); b_end(b))
CASE(c_matrix_bad_layer, b_start(b); b_matrix(b, L, CLCDD_ROLE_Q, 2, R2, 3, C3, 0, 0); b_end(b))
CASE(c_norm_wrong_length, b_start(b); b_norm(b, 0, CLCDD_ROLE_ATTN_NORM, D - 1); b_end(b))
CASE(c_norm_bad_role, b_start(b); b_norm(b, 0, CLCDD_ROLE_Q, D); b_end(b))
CASE(c_final_norm_layer, b_start(b); b_norm(b, 1, CLCDD_ROLE_FINAL_NORM, D); b_end(b))
CASE(c_norm_duplicate, b_start(b); b_norm(b, 0, CLCDD_ROLE_FFN_NORM, D);
     b_norm(b, 0, CLCDD_ROLE_FFN_NORM, D); b_end(b))
CASE(c_out_of_order, b_start(b); b_norm(b, 0, CLCDD_ROLE_FFN_NORM, D); b_matrix_ok(b, 0); b_end(b))
CASE(c_train_twice, b_start(b); b_train(b, "{}"); b_train(b, "{}"); b_end(b))
CASE(c_train_not_utf8, b_start(b); b_train(b, "{\"a\":\"\xed\xa0\x80\"}"); b_end(b))
CASE(c_prompt_dim, b_start(b); b_prompt(b, "p", 2, D + 1); b_end(b))
CASE(c_prompt_no_rows, b_start(b); b_prompt(b, "p", 0, D); b_end(b))
CASE(c_prompt_too_many_rows, b_start(b); b_prompt(b, "p", 4097, D); b_end(b))
CASE(c_prompt_duplicate, b_start(b); b_prompt(b, "p", 1, D); b_prompt(b, "p", 1, D); b_end(b))
CASE(c_prompt_name_long, b_start(b);
     b_prompt(b, "a-prompt-name-that-is-much-longer-than-sixty-three-bytes-in-total-xx", 1, D); b_end(b))
CASE(c_unknown_type, b_start(b); msgpack_pack_map(&b->pk, 1); mp_ks(&b->pk, "t", "bogus"); b_end(b))
CASE(c_not_a_map, b_start(b); msgpack_pack_array(&b->pk, 0); b_end(b))
CASE(c_key_order, b_start(b); msgpack_pack_map(&b->pk, 2); mp_ks(&b->pk, "t", "train");
     mp_ks(&b->pk, "jsn", "{}"); b_end(b))
CASE(c_missing_end, b_ok_body(b))
CASE(c_end_count_mismatch, b_ok_body(b); b_end_x(b, b->records + 1, b->nm + 1))
CASE(c_end_records_mismatch, b_ok_body(b); b_end_x(b, b->records, b->nm))
CASE(c_trailing_record, b_ok_body(b); b_end(b); b_train(b, "{}"))
CASE(c_trailing_nil, b_ok_body(b); b_end(b); msgpack_pack_nil(&b->pk))
CASE(c_huge_chunk_count, b_start(b); msgpack_pack_map(&b->pk, 9); mp_ks(&b->pk, "t", "matrix");
     mp_ku(&b->pk, "layer", 0); mp_ku(&b->pk, "role", CLCDD_ROLE_GATE); mp_ku(&b->pk, "n_rows", F);
     mp_ku(&b->pk, "n_cols", D); mp_s(&b->pk, "rows"); msgpack_pack_array(&b->pk, 0xffffffffu))
CASE(c_huge_chunk, b_header(b); msgpack_pack_map(&b->pk, 4); mp_ks(&b->pk, "t", "masks");
     mp_ku(&b->pk, "n", NMASK); mp_s(&b->pk, "theta"); msgpack_pack_array(&b->pk, 1);
     msgpack_pack_bin(&b->pk, 0xfffffff0u))
CASE(c_huge_string, b_start(b); msgpack_pack_map(&b->pk, 2); mp_ks(&b->pk, "t", "train");
     mp_s(&b->pk, "json"); msgpack_pack_str(&b->pk, 0xfffffff0u))
CASE(c_first_not_map, msgpack_pack_array(&b->pk, 3))

static const crafted cases[] = {
    {"valid", c_valid, P_NONE, CLCDD_OK, NULL},
    {"valid_minimal", c_valid_minimal, P_NONE, CLCDD_OK, NULL},
    {"newer_minor_extra_keys", c_newer_minor_extra_keys, P_NONE, CLCDD_OK, NULL},
    {"not_zstd", c_valid, P_RAW, CLCDD_ERR_FORMAT, "zstd magic"},
    {"no_checksum", c_valid, P_NO_CHECKSUM, CLCDD_ERR_FORMAT, "checksum"},
    {"trailing_byte_after_frame", c_valid, P_TRAILING_BYTE, CLCDD_ERR_FORMAT, "trailing bytes"},
    {"two_frames", c_valid, P_TWO_FRAMES, CLCDD_ERR_FORMAT, "trailing bytes"},
    {"bad_magic", c_bad_magic, P_NONE, CLCDD_ERR_FORMAT, "'magic'"},
    {"newer_version", c_newer_version, P_NONE, CLCDD_ERR_UNSUPPORTED, "upgrade clcdd"},
    {"version_zero", c_version_zero, P_NONE, CLCDD_ERR_FORMAT, "'version'"},
    {"extra_key_same_minor", c_extra_key_same_minor, P_NONE, CLCDD_ERR_FORMAT, "unknown keys"},
    {"family_not_utf8", c_family_not_utf8, P_NONE, CLCDD_ERR_FORMAT, "'family': string is not valid UTF-8"},
    {"family_too_long", c_family_too_long, P_NONE, CLCDD_ERR_FORMAT, "'family': string of 34 bytes"},
    {"hidden_zero", c_hidden_zero, P_NONE, CLCDD_ERR_FORMAT, "'hidden_size'"},
    {"hidden_absurd", c_hidden_absurd, P_NONE, CLCDD_ERR_FORMAT, "'hidden_size'"},
    {"kv_not_dividing", c_kv_not_dividing, P_NONE, CLCDD_ERR_FORMAT, "'n_kv_heads'"},
    {"n_mask_mismatch", c_n_mask_mismatch, P_NONE, CLCDD_ERR_FORMAT, "dimensions imply 128"},
    {"theta_short", c_theta_short, P_NONE, CLCDD_ERR_FORMAT, "'theta': chunks hold 125 of the 128"},
    {"theta_long", c_theta_long, P_NONE, CLCDD_ERR_FORMAT, "'theta': chunks hold more"},
    {"mask_padding", c_mask_padding, P_NONE, CLCDD_ERR_FORMAT, "padding bits"},
    {"masks_missing", c_masks_missing, P_NONE, CLCDD_ERR_FORMAT, "masks record must follow"},
    {"masks_twice", c_masks_twice, P_NONE, CLCDD_ERR_FORMAT, "masks record after a masks record"},
    {"rows_out_of_range", c_rows_out_of_range, P_NONE, CLCDD_ERR_FORMAT, "'rows': index [1] = 8 is out of range"},
    {"rows_unsorted", c_rows_unsorted, P_NONE, CLCDD_ERR_FORMAT, "'rows': index [1] = 1 is below"},
    {"rows_duplicate", c_rows_duplicate, P_NONE, CLCDD_ERR_FORMAT, "'rows': index [1] = 5 duplicates"},
    {"cols_out_of_range", c_cols_out_of_range, P_NONE, CLCDD_ERR_FORMAT, "'cols': index [1] = 16"},
    {"n_rows_too_many", c_n_rows_too_many, P_NONE, CLCDD_ERR_FORMAT, "'n_rows': 9 is out of range"},
    {"delta_short", c_delta_short, P_NONE, CLCDD_ERR_FORMAT, "'delta': chunks hold 5 of the 6"},
    {"delta_long", c_delta_long, P_NONE, CLCDD_ERR_FORMAT, "'delta': chunks hold more"},
    {"matrix_duplicate", c_matrix_duplicate, P_NONE, CLCDD_ERR_FORMAT, "(duplicate)"},
    {"matrix_bad_role", c_matrix_bad_role, P_NONE, CLCDD_ERR_FORMAT, "not a masked projection"},
    {"matrix_bad_layer", c_matrix_bad_layer, P_NONE, CLCDD_ERR_FORMAT, "'layer': 2 is out of range"},
    {"norm_wrong_length", c_norm_wrong_length, P_NONE, CLCDD_ERR_FORMAT, "'n': 7 weights"},
    {"norm_bad_role", c_norm_bad_role, P_NONE, CLCDD_ERR_FORMAT, "is not a norm"},
    {"final_norm_layer", c_final_norm_layer, P_NONE, CLCDD_ERR_FORMAT, "final_norm"},
    {"norm_duplicate", c_norm_duplicate, P_NONE, CLCDD_ERR_FORMAT, "(duplicate)"},
    {"out_of_order", c_out_of_order, P_NONE, CLCDD_ERR_FORMAT, "matrix record after a norm record"},
    {"train_twice", c_train_twice, P_NONE, CLCDD_ERR_FORMAT, "train record after a train record"},
    {"train_not_utf8", c_train_not_utf8, P_NONE, CLCDD_ERR_FORMAT, "'json': string is not valid UTF-8"},
    {"prompt_dim", c_prompt_dim, P_NONE, CLCDD_ERR_FORMAT, "'dim': 9 but the model's hidden_size is 8"},
    {"prompt_no_rows", c_prompt_no_rows, P_NONE, CLCDD_ERR_FORMAT, "'rows'"},
    {"prompt_too_many_rows", c_prompt_too_many_rows, P_NONE, CLCDD_ERR_FORMAT, "'rows': 4097"},
    {"prompt_duplicate", c_prompt_duplicate, P_NONE, CLCDD_ERR_FORMAT, "a second prompt called 'p'"},
    {"prompt_name_long", c_prompt_name_long, P_NONE, CLCDD_ERR_FORMAT, "'name': string of"},
    {"unknown_type", c_unknown_type, P_NONE, CLCDD_ERR_FORMAT, "unknown record type 'bogus'"},
    {"not_a_map", c_not_a_map, P_NONE, CLCDD_ERR_FORMAT, "expected a map, found array"},
    {"key_order", c_key_order, P_NONE, CLCDD_ERR_FORMAT, "key 'json' expected"},
    {"missing_end", c_missing_end, P_NONE, CLCDD_ERR_FORMAT, "before its end record"},
    {"end_count_mismatch", c_end_count_mismatch, P_NONE, CLCDD_ERR_FORMAT, "'n_matrices': the end record says 2"},
    {"end_records_mismatch", c_end_records_mismatch, P_NONE, CLCDD_ERR_FORMAT, "'records'"},
    {"trailing_record", c_trailing_record, P_NONE, CLCDD_ERR_FORMAT, "after the end record"},
    {"trailing_nil", c_trailing_nil, P_NONE, CLCDD_ERR_FORMAT, "after the end record"},
    {"huge_chunk_count", c_huge_chunk_count, P_NONE, CLCDD_ERR_FORMAT, "truncated"},
    {"huge_chunk", c_huge_chunk, P_NONE, CLCDD_ERR_FORMAT, "'theta': chunk 0 has 4294967280 bytes"},
    {"huge_string", c_huge_string, P_NONE, CLCDD_ERR_FORMAT, "'json': string of 4294967280 bytes"},
    {"first_not_map", c_first_not_map, P_NONE, CLCDD_ERR_FORMAT, "not a clcdd carrier archive"},
};

Test(archive_bad, corpus) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const crafted *k = &cases[i];
        B b = {0};
        msgpack_sbuffer_init(&b.sb);
        msgpack_packer_init(&b.pk, &b.sb, msgpack_sbuffer_write);
        k->build(&b);
        size_t n;
        unsigned char *file;
        if (k->post == P_RAW) {
            n = b.sb.size;
            file = malloc(n);
            memcpy(file, b.sb.data, n);
        } else {
            file = zpack(b.sb.data, b.sb.size, k->post == P_NO_CHECKSUM, &n);
            cr_assert(!ZSTD_isError(n));
            if (k->post == P_TRAILING_BYTE) file[n++] = 0;
            if (k->post == P_TWO_FRAMES) {
                file = realloc(file, 2 * n);
                memcpy(file + n, file, n);
                n *= 2;
            }
        }
        msgpack_sbuffer_destroy(&b.sb);
        char name[128];
        snprintf(name, sizeof name, "bad_%s.carrier", k->id);
        dump(name, file, n);
        clcdd_clear_error();
        clcdd_carrier *out = NULL;
        clcdd_status st = clcdd_carrier_read_memory(file, n, name, &out);
        cr_expect_eq(st, k->expect, "%s: status %d (%s), expected %d", k->id, st, clcdd_last_error(),
                     k->expect);
        if (k->expect == CLCDD_OK) {
            cr_expect_not_null(out, "%s", k->id);
        } else {
            cr_expect_null(out, "%s", k->id);
            cr_expect(strstr(clcdd_last_error(), name), "%s: message does not name the file: %s",
                      k->id, clcdd_last_error());
            cr_expect(strstr(clcdd_last_error(), k->needle), "%s: message lacks \"%s\": %s", k->id,
                      k->needle, clcdd_last_error());
        }
        clcdd_carrier_free(out);
        free(file);
    }
}

Test(archive_bad, writer_refuses_invalid) {
    clcdd_carrier *c = make_carrier(8, 8, 16, 2, 2, 1, 4);
    const char *dir = tmpdir_new();
    char path[600];
    snprintf(path, sizeof path, "%s/x.carrier", dir);
    c->n_mask++;
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(clcdd_last_error(), "n_mask"), "%s", clcdd_last_error());
    c->n_mask--;
    uint32_t t = c->matrices[2].cols[0];
    c->matrices[2].cols[0] = c->matrices[2].cols[1];
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(clcdd_last_error(), "cols"), "%s", clcdd_last_error());
    c->matrices[2].cols[0] = t;
    c->norms[0].n--;
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_INVALID_ARGUMENT);
    c->norms[0].n++;
    c->mask[3] = 2;
    cr_assert_eq(clcdd_carrier_write(path, c), CLCDD_ERR_INVALID_ARGUMENT);
    c->mask[3] = 1;
    cr_assert_eq(access(path, F_OK), -1, "nothing must be written");
    cr_assert_eq(count_entries(dir), 0);
    clcdd_carrier_free(c);
    rmdir(dir);
}
