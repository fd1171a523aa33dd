/* OpenCL error names and the check macro every OpenCL call goes through. */
#ifndef CLCDD_CL_CHECK_H
#define CLCDD_CL_CHECK_H

#include "clcdd/runtime.h"
#include "clcdd_internal.h"

const char *clcdd_cl_error_name(cl_int err);

/* Map an OpenCL error to a clcdd status (allocation failures become CLCDD_ERR_DEVICE_MEMORY). */
clcdd_status clcdd_cl_status(cl_int err);

/* Record "<formatted what>: CL_ERROR_NAME (code)" and return the mapped status. */
clcdd_status clcdd_cl_fail(cl_int err, const char *fmt, ...) CLCDD_PRINTF(2, 3);

/* CL_TRY(call, "what was being done", ...): return from the enclosing function on failure. */
#define CL_TRY(call, ...)                                                                       \
    do {                                                                                        \
        cl_int cl_try_err_ = (call);                                                            \
        if (cl_try_err_ != CL_SUCCESS) return clcdd_cl_fail(cl_try_err_, __VA_ARGS__);          \
    } while (0)

/* TRY(expr): propagate a clcdd_status. */
#define TRY(expr)                                                                               \
    do {                                                                                        \
        clcdd_status try_st_ = (expr);                                                          \
        if (try_st_ != CLCDD_OK) return try_st_;                                                \
    } while (0)

#endif
