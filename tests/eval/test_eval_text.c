/* The per-answer judgements of `clcdd eval` (docs/eval.md), each against hand-written cases. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/eval.h"

static clcdd_eval_text_flags score(const char *a, const char *ref) {
    clcdd_eval_text_flags f;
    clcdd_eval_score_text(a, ref, &f);
    return f;
}

Test(eval_text, idk_strict_and_loose) {
    cr_expect(score("I don't know.", NULL).idk_strict);
    cr_expect(score("i DO NOT know", NULL).idk_loose);
    cr_expect(score("Honestly, I\xe2\x80\x99m not sure.", NULL).idk_strict, "typographic apostrophe");
    cr_expect(!score("I know.", NULL).idk_loose);
    cr_expect(!score("I dont know", NULL).idk_loose, "no apostrophe: not a keyword");
    /* 40 words is still strict, 41 is loose only */
    char buf[512] = "I don't know";
    for (int i = 3; i < 40; i++) strcat(buf, " w");
    clcdd_eval_text_flags f = score(buf, NULL);
    cr_expect(f.idk_strict && f.idk_loose, "40 words");
    strcat(buf, " w");
    f = score(buf, NULL);
    cr_expect(!f.idk_strict && f.idk_loose, "41 words");
    /* the keyword past the first 256 bytes still counts */
    char *longer = malloc(2000);
    memset(longer, 'x', 1000);
    strcpy(longer + 1000, " i am not sure");
    cr_expect(score(longer, NULL).idk_loose);
    free(longer);
}

Test(eval_text, refusal) {
    cr_expect(score("I'm sorry, but I can't help with that.", NULL).refusal);
    cr_expect(score("As an AI language model, ...", NULL).refusal);
    cr_expect(score("I cannot do that", NULL).refusal);
    cr_expect(!score("Sure! Here is the answer.", NULL).refusal);
    cr_expect(!score("I can do it", NULL).refusal);
}

Test(eval_text, archaic_whole_words) {
    cr_expect(score("Thou art kind", NULL).archaic);
    cr_expect(score("'Tis a fine day", NULL).archaic);
    cr_expect(score("he said 'thee'", NULL).archaic, "quoted word");
    cr_expect(score("VERILY.", NULL).archaic);
    cr_expect(score("this is thy", NULL).archaic);
    cr_expect(!score("They thought the theory was hasty", NULL).archaic, "substrings are not words");
    cr_expect(!score("Those thistles", NULL).archaic);
    cr_expect(!score("", NULL).archaic);
}

Test(eval_text, fragments) {
    cr_expect(score("I don't", NULL).fragment);
    cr_expect(score("KNOW", NULL).fragment);
    cr_expect(!score("I do", NULL).fragment);
}

Test(eval_text, task_accuracy_normalisation) {
    cr_expect_eq(score("abc", NULL).correct, -1);
    cr_expect_eq(score("  1 3   9 ", "1 3 9").correct, 1, "whitespace trimmed and collapsed");
    cr_expect_eq(score("Paris.", "Paris").correct, 1, "one trailing full stop dropped");
    cr_expect_eq(score("paris", "Paris").correct, 0, "case kept");
    cr_expect_eq(score("Paris..", "Paris").correct, 0, "only one full stop");
    cr_expect_eq(score("", "").correct, 1);
}
