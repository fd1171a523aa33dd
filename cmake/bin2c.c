/* Build-time tool: write a binary file as a C array.
 *   bin2c INPUT OUTPUT SYMBOL  ->  const unsigned char SYMBOL[]; const unsigned long SYMBOL_len; */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bin2c INPUT OUTPUT SYMBOL\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    FILE *out = fopen(argv[2], "w");
    if (!out) {
        perror(argv[2]);
        fclose(in);
        return 1;
    }
    fprintf(out, "/* Generated from %s by cmake/bin2c.c. Do not edit. */\n", argv[1]);
    fprintf(out, "const unsigned char %s[] = {\n", argv[3]);
    unsigned long n = 0;
    int c;
    while ((c = fgetc(in)) != EOF) {
        fprintf(out, "%u,%s", (unsigned)c, (++n % 24) ? "" : "\n");
    }
    fprintf(out, "0};\nconst unsigned long %s_len = %lu;\n", argv[3], n);
    int bad = ferror(in) || fclose(out) != 0;
    fclose(in);
    return bad ? 1 : 0;
}
