/* clcdd status codes, error detail and logging.
 *
 * Every fallible library function returns a clcdd_status. On failure the library also records a
 * detail message for the calling thread (clcdd_last_error) that names the file, tensor, line or
 * device involved and says what to do. The library never prints to stdout and never exits; log
 * output goes to a callback the application installs (default: nothing below WARN, to stderr). */
#ifndef CLCDD_STATUS_H
#define CLCDD_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CLCDD_API __attribute__((visibility("default")))
#else
#define CLCDD_API
#endif

typedef enum clcdd_status {
    CLCDD_OK = 0,
    CLCDD_ERR_INVALID_ARGUMENT = 1, /* a caller passed a bad value */
    CLCDD_ERR_IO = 2,               /* a file could not be opened, read or written */
    CLCDD_ERR_FORMAT = 3,           /* a file's content is malformed or inconsistent */
    CLCDD_ERR_UNSUPPORTED = 4,      /* valid input this build or device cannot handle */
    CLCDD_ERR_OUT_OF_MEMORY = 5,    /* host allocation failed */
    CLCDD_ERR_DEVICE_MEMORY = 6,    /* device allocation failed or exceeds the device's limits */
    CLCDD_ERR_NO_PLATFORM = 7,      /* no OpenCL platform / ICD installed */
    CLCDD_ERR_NO_DEVICE = 8,        /* no device matches the selection */
    CLCDD_ERR_OPENCL = 9,           /* an OpenCL call failed */
    CLCDD_ERR_BUILD = 10,           /* a kernel failed to compile; the message has the build log */
    CLCDD_ERR_CHECK_FAILED = 11,    /* a numerical self-check disagreed with its reference */
    CLCDD_ERR_PLUGIN = 12,          /* a plugin could not be loaded or was rejected */
    CLCDD_ERR_NOT_FOUND = 13,       /* a named thing (tensor, key, kernel) does not exist */
    CLCDD_ERR_INTERNAL = 14         /* a bug in clcdd: please report it */
} clcdd_status;

/* Short fixed name of a status ("format error"). Never NULL. */
CLCDD_API const char *clcdd_status_string(clcdd_status status);

/* Detail message of the last failure on this thread ("" if none). Valid until the next failing
 * call on the same thread. */
CLCDD_API const char *clcdd_last_error(void);

/* Forget the last failure on this thread. */
CLCDD_API void clcdd_clear_error(void);

typedef enum clcdd_log_level {
    CLCDD_LOG_DEBUG = 0,
    CLCDD_LOG_INFO = 1,
    CLCDD_LOG_WARN = 2,
    CLCDD_LOG_ERROR = 3
} clcdd_log_level;

typedef void (*clcdd_log_fn)(clcdd_log_level level, const char *message, void *user);

/* Install a log callback (NULL restores the default: WARN and above to stderr). Messages below
 * min_level are not formatted at all. Not thread-safe against concurrent logging; set it once. */
CLCDD_API void clcdd_set_log_callback(clcdd_log_fn fn, void *user, clcdd_log_level min_level);

/* Library version "MAJOR.MINOR.PATCH". */
CLCDD_API const char *clcdd_version(void);

#ifdef __cplusplus
}
#endif
#endif
