/* Carrier archive round trip: LCDD on the fixture model, export, write, read back, apply to the
 * base: the result equals the trained LCDD model bit for bit (every parameter). An archive applied
 * to another base is refused by fingerprint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "algo/carrier.h"
#include "fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"

Test(carrier, export_write_read_apply_is_bit_identical) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    strcpy(hp.architecture, "LlamaForCausalLM");
    hp.vocab_size = 40, hp.hidden_size = 16, hp.intermediate_size = 24, hp.n_layers = 2;
    hp.n_heads = 4, hp.n_kv_heads = 2, hp.head_dim = 4, hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f;
    hp.bos_id = hp.pad_id = -1;
    clcdd_model base, sft, applied;
    fx_load_model(ctx, FX "/base", &hp, &base);
    fx_load_model(ctx, FX "/sft", &hp, &sft);
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    int32_t tok[8] = {1, 5, 9, 13, 17, 21, 25, 29};
    for (int i = 0; i < 8; i++) {
        tok[0] = i;
        TH_OK(clcdd_dataset_add(&d, tok, NULL, 8));
    }
    clcdd_lcdd_config c;
    clcdd_lcdd_config_default(&c, 4);
    c.train.micro_batch = 4, c.train.accum = 2, c.T_w = 1, c.lambda_init = 2.0f;
    c.theta_mean = 0.05f, c.theta_std = 0.2f; /* many channels off after a few steps */
    clcdd_lcdd l;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, 8, &l));
    for (int s = 0; s < 4; s++) TH_OK(clcdd_lcdd_step(&l, &d, NULL));
    TH_OK(clcdd_lcdd_build_effective(&l));
    clcdd_carrier *car = NULL;
    TH_OK(clcdd_lcdd_export(&l, "sft", "{\"steps\": 4}", &car));
    size_t on = 0;
    for (size_t i = 0; i < car->n_mask; i++) on += car->mask[i];
    cr_expect(on > 0 && on < car->n_mask, "the test needs some channels on and some off (%zu/%llu)",
              on, (unsigned long long)car->n_mask);
    char path[] = "/tmp/clcdd-carrier-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    TH_OK(clcdd_carrier_write(path, car));
    clcdd_carrier *back = NULL;
    TH_OK(clcdd_carrier_read(path, &back));
    unlink(path);
    TH_OK(clcdd_model_create(ctx, &hp, &applied));
    TH_OK(clcdd_carrier_apply(ctx, &base, back, &applied));
    size_t diff = 0;
    for (size_t i = 0; i < applied.params.n_slots; i++) {
        clcdd_tensor a = clcdd_arena_view(&applied.params, i), b = clcdd_arena_view(&l.weff.params, i);
        float *x = th_download(&a), *y = th_download(&b);
        size_t n = (size_t)clcdd_tensor_numel(&a);
        if (memcmp(x, y, n * 4) != 0) {
            diff++;
            cr_log_error("%s differs", applied.params.slots[i].name);
        }
        free(x), free(y);
    }
    cr_expect(diff == 0, "%zu tensors differ from the trained LCDD model", diff);
    /* Another base: refused with a message naming the fingerprints. */
    clcdd_tensor q;
    TH_OK(clcdd_model_tensor(&sft, CLCDD_ROLE_Q, 0, &q));
    cr_expect(clcdd_carrier_apply(ctx, &sft, back, &applied) == CLCDD_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(clcdd_last_error(), "another base model") != NULL, "%s", clcdd_last_error());
    clcdd_carrier_free(car);
    clcdd_carrier_free(back);
    clcdd_lcdd_destroy(&l);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&applied);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&sft);
}
