/* Training is bit-reproducible on one device: two runs of the demo world's pre-training recipe
 * (a few steps) from the same seed produce byte-identical checkpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/demo.h"
#include "harness/harness.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len);
    cr_assert(fread(b, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

Test(determinism, pretrain_twice_bit_identical) {
    char a[] = "/tmp/clcdd-det-a-XXXXXX", b[] = "/tmp/clcdd-det-b-XXXXXX";
    cr_assert(mkdtemp(a) && mkdtemp(b));
    float la = 0, lb = 0;
    TH_OK(clcdd_demo_pretrain(th_ctx(), 3, a, NULL, NULL, &la));
    TH_OK(clcdd_demo_pretrain(th_ctx(), 3, b, NULL, NULL, &lb));
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    size_t na, nb;
    char *xa = slurp(pa, &na), *xb = slurp(pb, &nb);
    cr_expect(na == nb && memcmp(xa, xb, na) == 0, "the two runs differ");
    cr_expect(la == lb && la > 0, "losses %g vs %g", la, lb);
    free(xa), free(xb);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", a, b);
    cr_expect(system(cmd) == 0);
}
