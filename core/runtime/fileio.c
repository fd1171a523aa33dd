/* Whole-file reads, atomic writes (temporary file + fsync + rename), mkdir -p. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clcdd_internal.h"

clcdd_status clcdd_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return clcdd_fail(CLCDD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return clcdd_fail(CLCDD_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return clcdd_fail(CLCDD_ERR_IO, "%s: cannot determine size", path);
    }
    char *buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate %ld bytes", path, sz);
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)sz) {
        free(buf);
        return clcdd_fail(CLCDD_ERR_IO, "%s: short read (%zu of %ld bytes)", path, got, sz);
    }
    buf[sz] = '\0';
    *data = buf;
    *len = (size_t)sz;
    return CLCDD_OK;
}

clcdd_status clcdd_write_file_atomic(const char *path, const void *data, size_t len) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        clcdd_status s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot create temporary file %s: %s", path,
                                    tmp, strerror(errno));
        free(tmp);
        return s;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            clcdd_status s = clcdd_fail(CLCDD_ERR_IO, "%s: write failed: %s (nothing replaced)",
                                        path, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return s;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        clcdd_status s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot flush: %s (nothing replaced)", path,
                                    strerror(errno));
        unlink(tmp);
        free(tmp);
        return s;
    }
    if (rename(tmp, path) != 0) {
        clcdd_status s =
            clcdd_fail(CLCDD_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    return CLCDD_OK;
}

clcdd_status clcdd_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "bad directory path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return clcdd_fail(CLCDD_ERR_IO, "%s: cannot create directory: %s", buf,
                                  strerror(errno));
            buf[i] = c;
        }
    }
    return CLCDD_OK;
}
