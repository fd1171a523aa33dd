/* JSONL chat datasets: both line shapes, loss flags, truncation, and file:line errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/status.h"
#include "dataset_jsonl.h"

static clcdd_tokenizer *tok;

static void setup(void) {
    cr_assert_eq(clcdd_tokenizer_load(CLCDD_TEST_DATA "/fixtures/tokenizer/tiny64.tokenizer.json", &tok),
                 CLCDD_OK, "%s", clcdd_last_error());
}
static void teardown(void) { clcdd_tokenizer_destroy(tok); }

/* "<|role|>content" per message, then "<|assistant|>" as the generation prompt. */
static clcdd_status render(void *user, const clcdd_chat_message *m, size_t n, int gen, char **out) {
    (void)user;
    size_t len = 32;
    for (size_t i = 0; i < n; i++) len += strlen(m[i].role) + strlen(m[i].content) + 8;
    *out = calloc(1, len);
    for (size_t i = 0; i < n; i++) strcat(strcat(strcat(strcat(*out, "<|"), m[i].role), "|>"), m[i].content);
    if (gen) strcat(*out, "<|assistant|>");
    return CLCDD_OK;
}

static clcdd_status parse(const char *text, size_t max_len, int all, clcdd_dataset *d, clcdd_jsonl_stats *s) {
    clcdd_jsonl_config c = {tok, render, NULL, 2, max_len, all};
    clcdd_dataset_init(d);
    return clcdd_dataset_parse_jsonl(text, strlen(text), "t.jsonl", &c, d, s);
}

TestSuite(dataset_jsonl, .init = setup, .fini = teardown);

Test(dataset_jsonl, prompt_response_and_messages) {
    clcdd_dataset d;
    clcdd_jsonl_stats s;
    const char *text = "{\"prompt\": \"ab\", \"response\": \"cd\"}\n\n  \r\n"
                       "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"cd\"}]}\r\n";
    cr_assert_eq(parse(text, 0, 0, &d, &s), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(d.n, 2);
    cr_assert_eq(s.lines, 2);
    for (size_t i = 0; i < 2; i++) {
        const clcdd_example *e = &d.items[i];
        cr_assert_eq(e->ids[e->len - 1], 2, "EOS appended");
        /* response "cd" = ▁ c d (3 tokens) + EOS carry the loss; the prompt does not */
        size_t n_loss = 0;
        for (size_t t = 0; t < e->len; t++) n_loss += e->loss[t];
        cr_assert_eq(n_loss, 4);
        cr_assert(e->loss[e->len - 1] && e->loss[e->len - 4] && !e->loss[e->len - 5]);
    }
    clcdd_dataset_free(&d);
    cr_assert_eq(parse(text, 0, 1, &d, &s), CLCDD_OK);
    cr_assert_eq(s.loss_tokens, s.tokens - 2, "all tokens but the first of each example");
    clcdd_dataset_free(&d);
}

Test(dataset_jsonl, truncation) {
    clcdd_dataset d;
    clcdd_jsonl_stats s;
    cr_assert_eq(parse("{\"prompt\": \"a\", \"response\": \"bcdefgh\"}\n{\"prompt\": \"abcdefghijkl\", \"response\": \"b\"}\n",
                       28, 0, &d, &s), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(d.items[0].len, 28);
    cr_assert_eq(s.truncated, 2);
    cr_assert_eq(s.dropped, 1, "the second response is cut off completely");
    cr_assert_eq(d.n, 1);
    clcdd_dataset_free(&d);
}

static void expect_error(const char *text, const char *needle) {
    clcdd_dataset d;
    cr_assert_eq(parse(text, 0, 0, &d, NULL), CLCDD_ERR_FORMAT, "accepted: %s", text);
    cr_assert(strstr(clcdd_last_error(), needle), "'%s' lacks '%s'", clcdd_last_error(), needle);
    clcdd_dataset_free(&d);
}

Test(dataset_jsonl, errors_name_file_and_line) {
    const char *ok = "{\"prompt\": \"a\", \"response\": \"b\"}\n\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s{\"prompt\": \"a\", \"response\": \n", ok);
    expect_error(buf, "t.jsonl:3: malformed JSON");
    snprintf(buf, sizeof buf, "%s{\"prompt\": \"a\"}\n", ok);
    expect_error(buf, "t.jsonl:3: missing field \"response\"");
    snprintf(buf, sizeof buf, "%s{\"prompt\": \"a\", \"response\": \"\"}\n", ok);
    expect_error(buf, "t.jsonl:3: empty response");
    snprintf(buf, sizeof buf, "%s{\"prompt\": 5, \"response\": \"b\"}\n", ok);
    expect_error(buf, "t.jsonl:3: field \"prompt\" must be a string");
    snprintf(buf, sizeof buf, "%s{\"messages\": [{\"role\": \"user\", \"content\": [1]}, {\"role\": \"assistant\", \"content\": \"b\"}]}\n", ok);
    expect_error(buf, "t.jsonl:3: messages[0]");
    snprintf(buf, sizeof buf, "%s{\"messages\": [{\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]}\n", ok);
    expect_error(buf, "t.jsonl:3: the last message has role \"user\"");
    expect_error("\n\n", "no examples");
}
