#include <stdio.h>
#include <string.h>
#include "clcdd/status.h"
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("clcdd %s\n", clcdd_version());
        return 0;
    }
    fprintf(stderr, "usage: clcdd --version\n");
    return 2;
}
