#include <criterion/criterion.h>
Test(gemm_tune, placeholder) {}
