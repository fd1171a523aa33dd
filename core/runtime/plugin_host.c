/* The plugin host: search path, dlopen, ABI checks, registry, selection by probe.
 *
 * Every accepted descriptor is copied into the registry: the first min(struct_size,
 * sizeof(clcdd_plugin)) bytes of the plugin's descriptor over a zeroed clcdd_plugin. So a plugin
 * built against an older minor has NULL in the fields it does not know (= unsupported), and one
 * built against a newer minor has its extra fields ignored. Handles stay open until destroy. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clcdd/plugins.h"
#include "clcdd_internal.h"
#include "plugin_host_internal.h"

#ifndef CLCDD_PLUGIN_INSTALL_DIR
#define CLCDD_PLUGIN_INSTALL_DIR "/usr/local/lib/clcdd/plugins"
#endif

#define MAX_STATIC 32
#define BUILT_IN "(built in)"

typedef struct loaded {
    clcdd_plugin desc;  /* the host's copy (see above) */
    char *path;
    void *handle;       /* dlopen handle or NULL */
} loaded;

typedef struct rejected {
    char *path;
    char *reason;
} rejected;

struct clcdd_plugin_registry {
    loaded *p;
    size_t n, cap;
    rejected *r;
    size_t nr, capr;
    char **dirs;
    size_t nd, capd;
};

static pthread_mutex_t static_lock = PTHREAD_MUTEX_INITIALIZER;
static const clcdd_plugin *static_plugins[MAX_STATIC];
static size_t n_static;

clcdd_status clcdd_plugins_register_static(const clcdd_plugin *plugin) {
    if (!plugin) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "register_static: NULL plugin");
    clcdd_status st = CLCDD_OK;
    pthread_mutex_lock(&static_lock);
    size_t i;
    for (i = 0; i < n_static && static_plugins[i] != plugin; i++) {
    }
    if (i == n_static) {
        if (n_static == MAX_STATIC)
            st = clcdd_fail(CLCDD_ERR_UNSUPPORTED, "register_static: more than %d plugins",
                            MAX_STATIC);
        else
            static_plugins[n_static++] = plugin;
    }
    pthread_mutex_unlock(&static_lock);
    return st;
}

static char *dupstr(const char *s) {
    return strdup(s ? s : "");
}

/* Grow an array of `elem` bytes to hold one more; 0 on failure. */
static int grow(void **arr, size_t n, size_t *cap, size_t elem) {
    if (n < *cap) return 1;
    size_t c = *cap ? 2 * *cap : 8;
    void *a = realloc(*arr, c * elem);
    if (!a) return 0;
    *arr = a;
    *cap = c;
    return 1;
}

static void add_rejected(clcdd_plugin_registry *reg, const char *path, const char *fmt, ...)
    CLCDD_PRINTF(3, 4);
static void add_rejected(clcdd_plugin_registry *reg, const char *path, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clcdd_log(CLCDD_LOG_INFO, "plugin %s rejected: %s", path, msg);
    if (!grow((void **)&reg->r, reg->nr, &reg->capr, sizeof *reg->r)) return;
    rejected *r = &reg->r[reg->nr];
    r->path = dupstr(path);
    r->reason = dupstr(msg);
    if (!r->path || !r->reason) {
        free(r->path);
        free(r->reason);
        return;
    }
    reg->nr++;
}

int clcdd_plugin_check_descriptor(const clcdd_plugin *p, char *why, size_t cap) {
    if (!p) {
        snprintf(why, cap, "the entry function returned NULL");
        return 1;
    }
    if (p->abi_major != CLCDD_PLUGIN_ABI_MAJOR) {
        snprintf(why, cap, "plugin ABI %u.%u, this clcdd speaks ABI %d.x: rebuild the plugin "
                 "against this clcdd's headers", p->abi_major, p->abi_minor, CLCDD_PLUGIN_ABI_MAJOR);
        return 1;
    }
    if (p->struct_size < CLCDD_PLUGIN_SIZE_1_0) {
        snprintf(why, cap, "descriptor struct_size %u is smaller than ABI 1.0's %zu bytes",
                 p->struct_size, (size_t)CLCDD_PLUGIN_SIZE_1_0);
        return 1;
    }
    if (!p->name || !p->name[0]) {
        snprintf(why, cap, "descriptor has no name");
        return 1;
    }
    if (!p->architectures || !p->architectures[0]) {
        snprintf(why, cap, "plugin '%s' lists no architectures", p->name);
        return 1;
    }
    const char *missing = !p->probe ? "probe" : !p->read_hparams ? "read_hparams"
                          : !p->map_tensor ? "map_tensor" : NULL;
    if (missing) {
        snprintf(why, cap, "plugin '%s' lacks the required function %s", p->name, missing);
        return 1;
    }
    return 0;
}

/* Checks, copies and appends; on refusal records (path, reason) and returns CLCDD_ERR_PLUGIN. */
static clcdd_status accept(clcdd_plugin_registry *reg, const clcdd_plugin *p, const char *path,
                           void *handle) {
    char why[512];
    if (clcdd_plugin_check_descriptor(p, why, sizeof why)) {
        add_rejected(reg, path, "%s", why);
        return clcdd_fail(CLCDD_ERR_PLUGIN, "%s: %s", path, why);
    }
    for (size_t i = 0; i < reg->n; i++)
        if (!strcmp(reg->p[i].desc.name, p->name)) {
            add_rejected(reg, path, "duplicate: plugin '%s' is already loaded from %s (the first "
                         "one found is used)", p->name, reg->p[i].path);
            return clcdd_fail(CLCDD_ERR_PLUGIN, "%s: plugin '%s' is already loaded from %s", path,
                              p->name, reg->p[i].path);
        }
    if (!grow((void **)&reg->p, reg->n, &reg->cap, sizeof *reg->p))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "plugin registry: out of memory");
    loaded *l = &reg->p[reg->n];
    memset(l, 0, sizeof *l);
    size_t n = p->struct_size < sizeof(clcdd_plugin) ? p->struct_size : sizeof(clcdd_plugin);
    memcpy(&l->desc, p, n);
    if (!l->desc.version) l->desc.version = "?";
    if (!(l->path = dupstr(path)))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "plugin registry: out of memory");
    l->handle = handle;
    reg->n++;
    clcdd_log(CLCDD_LOG_DEBUG, "plugin '%s' %s (ABI %u.%u) from %s", p->name, l->desc.version,
              p->abi_major, p->abi_minor, path);
    return CLCDD_OK;
}

clcdd_status clcdd_plugin_registry_add(clcdd_plugin_registry *reg, const clcdd_plugin *plugin,
                                       const char *origin) {
    if (!reg) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: NULL registry");
    return accept(reg, plugin, origin ? origin : BUILT_IN, NULL);
}

clcdd_status clcdd_plugin_registry_add_file(clcdd_plugin_registry *reg, const char *path) {
    if (!reg || !path)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: NULL argument");
    for (size_t i = 0; i < reg->n; i++) /* the same file twice: nothing to do */
        if (!strcmp(reg->p[i].path, path)) return CLCDD_OK;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        add_rejected(reg, path, "dlopen failed: %s", e ? e : "unknown error");
        return clcdd_fail(CLCDD_ERR_PLUGIN, "%s: dlopen failed: %s", path, e ? e : "unknown error");
    }
    dlerror();
    void *sym = dlsym(h, CLCDD_PLUGIN_ENTRY_SYMBOL);
    const char *e = dlerror();
    if (!sym || e) {
        char msg[768];
        snprintf(msg, sizeof msg, "no entry symbol %s (not a clcdd plugin, or built for another "
                 "ABI major): %s", CLCDD_PLUGIN_ENTRY_SYMBOL, e ? e : "symbol is NULL");
        dlclose(h);
        add_rejected(reg, path, "%s", msg);
        return clcdd_fail(CLCDD_ERR_PLUGIN, "%s: %s", path, msg);
    }
    clcdd_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer, as POSIX allows */
    const clcdd_plugin *p = entry();
    clcdd_status st = accept(reg, p, path, h);
    if (st != CLCDD_OK) dlclose(h);
    return st;
}

static int has_plugin_name(const char *f) {
    size_t n = strlen(f);
    return n > strlen("libclcdd-") + 3 && !strncmp(f, "libclcdd-", 9) && !strcmp(f + n - 3, ".so");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Remember a searched directory; 0 if it was searched before (same real path). */
static int note_dir(clcdd_plugin_registry *reg, const char *dir) {
    char real[PATH_MAX];
    const char *key = realpath(dir, real) ? real : dir;
    for (size_t i = 0; i < reg->nd; i++)
        if (!strcmp(reg->dirs[i], key)) return 0;
    if (!grow((void **)&reg->dirs, reg->nd, &reg->capd, sizeof *reg->dirs)) return 0;
    if (!(reg->dirs[reg->nd] = dupstr(key))) return 0;
    reg->nd++;
    return 1;
}

clcdd_status clcdd_plugin_registry_add_dir(clcdd_plugin_registry *reg, const char *dir) {
    if (!reg || !dir)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: NULL argument");
    if (!note_dir(reg, dir)) return CLCDD_OK;
    DIR *d = opendir(dir);
    if (!d) return CLCDD_OK; /* a missing directory on the search path is normal */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_plugin_name(e->d_name)) continue;
        if (!grow((void **)&names, n, &cap, sizeof *names)) break;
        if (!(names[n] = dupstr(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str); /* deterministic order; qsort needs non-NULL */
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path) {
            snprintf(path, len, "%s/%s", dir, names[i]);
            (void)clcdd_plugin_registry_add_file(reg, path); /* refusals are recorded */
            free(path);
        }
        free(names[i]);
    }
    free(names);
    clcdd_clear_error();
    return CLCDD_OK;
}

/* The executable's directory, its ../plugins and every ../plugins/<sub>. */
static void add_exe_dirs(clcdd_plugin_registry *reg) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    clcdd_plugin_registry_add_dir(reg, exe);
    char up[PATH_MAX + 16];
    snprintf(up, sizeof up, "%s/../plugins", exe);
    if (!is_dir(up)) return;
    clcdd_plugin_registry_add_dir(reg, up);
    DIR *d = opendir(up);
    if (!d) return;
    char **subs = NULL;
    size_t ns = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!grow((void **)&subs, ns, &cap, sizeof *subs)) break;
        if (!(subs[ns] = dupstr(e->d_name))) break;
        ns++;
    }
    closedir(d);
    if (ns) qsort(subs, ns, sizeof *subs, cmp_str);
    for (size_t i = 0; i < ns; i++) {
        char sub[2 * PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", up, subs[i]);
        if (is_dir(sub)) clcdd_plugin_registry_add_dir(reg, sub);
        free(subs[i]);
    }
    free(subs);
}

static void search(clcdd_plugin_registry *reg) {
    const char *env = getenv("CLCDD_PLUGIN_PATH");
    if (env && *env) {
        char *copy = dupstr(env);
        if (copy) {
            char *save = NULL;
            for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
                if (*tok) clcdd_plugin_registry_add_dir(reg, tok);
            free(copy);
        }
    }
    clcdd_plugin_registry_add_dir(reg, CLCDD_PLUGIN_INSTALL_DIR);
    add_exe_dirs(reg);
}

clcdd_status clcdd_plugin_registry_create(unsigned flags, clcdd_plugin_registry **out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: NULL output");
    clcdd_plugin_registry *reg = calloc(1, sizeof *reg);
    if (!reg) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "plugin registry: out of memory");
    if (flags & CLCDD_PLUGINS_STATIC) {
        const clcdd_plugin *list[MAX_STATIC];
        pthread_mutex_lock(&static_lock);
        size_t n = n_static;
        memcpy(list, static_plugins, n * sizeof *list);
        pthread_mutex_unlock(&static_lock);
        for (size_t i = 0; i < n; i++) (void)accept(reg, list[i], BUILT_IN, NULL);
    }
    if (flags & CLCDD_PLUGINS_SEARCH) search(reg);
    clcdd_clear_error();
    *out = reg;
    return CLCDD_OK;
}

void clcdd_plugin_registry_destroy(clcdd_plugin_registry *reg) {
    if (!reg) return;
    for (size_t i = 0; i < reg->n; i++) {
        if (reg->p[i].handle) dlclose(reg->p[i].handle);
        free(reg->p[i].path);
    }
    for (size_t i = 0; i < reg->nr; i++) {
        free(reg->r[i].path);
        free(reg->r[i].reason);
    }
    for (size_t i = 0; i < reg->nd; i++) free(reg->dirs[i]);
    free(reg->p);
    free(reg->r);
    free(reg->dirs);
    free(reg);
}

size_t clcdd_plugin_registry_count(const clcdd_plugin_registry *reg) {
    return reg ? reg->n : 0;
}

clcdd_status clcdd_plugin_registry_get(const clcdd_plugin_registry *reg, size_t i,
                                       clcdd_plugin_info *out) {
    if (!reg || !out || i >= reg->n)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: index %zu out of range", i);
    const loaded *l = &reg->p[i];
    out->name = l->desc.name;
    out->version = l->desc.version;
    out->path = l->path;
    out->architectures = l->desc.architectures;
    out->abi_major = l->desc.abi_major;
    out->abi_minor = l->desc.abi_minor;
    out->struct_size = l->desc.struct_size;
    out->plugin = &l->desc;
    return CLCDD_OK;
}

const clcdd_plugin *clcdd_plugin_registry_find(const clcdd_plugin_registry *reg, const char *name) {
    for (size_t i = 0; reg && name && i < reg->n; i++)
        if (!strcmp(reg->p[i].desc.name, name)) return &reg->p[i].desc;
    return NULL;
}

size_t clcdd_plugin_registry_rejected_count(const clcdd_plugin_registry *reg) {
    return reg ? reg->nr : 0;
}

clcdd_status clcdd_plugin_registry_rejected(const clcdd_plugin_registry *reg, size_t i,
                                            const char **path, const char **reason) {
    if (!reg || i >= reg->nr)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin registry: index %zu out of range", i);
    if (path) *path = reg->r[i].path;
    if (reason) *reason = reg->r[i].reason;
    return CLCDD_OK;
}

size_t clcdd_plugin_registry_searched_count(const clcdd_plugin_registry *reg) {
    return reg ? reg->nd : 0;
}

const char *clcdd_plugin_registry_searched(const clcdd_plugin_registry *reg, size_t i) {
    return reg && i < reg->nd ? reg->dirs[i] : NULL;
}

/* The checkpoint's own name for its architecture, for messages. */
static const char *arch_of(const clcdd_config_view *cfg) {
    const char *s = NULL;
    if (cfg->format == CLCDD_SOURCE_GGUF) {
        if (cfg->get_string(cfg->self, "general.architecture", &s)) return s;
        return "(no general.architecture)";
    }
    if (cfg->get_string(cfg->self, "architectures.0", &s)) return s;
    if (cfg->get_string(cfg->self, "model_type", &s)) return s;
    return "(no architectures or model_type)";
}

clcdd_status clcdd_plugin_registry_select(const clcdd_plugin_registry *reg,
                                          const clcdd_config_view *cfg, const char *source,
                                          const clcdd_plugin **out) {
    if (!reg || !cfg || !out || !cfg->get_int || !cfg->get_float || !cfg->get_bool ||
        !cfg->get_string || !cfg->get_int_array)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "plugin selection: NULL or incomplete argument");
    if (!source) source = "checkpoint";
    *out = NULL;
    int best = 0;
    for (size_t i = 0; i < reg->n; i++) {
        int s = reg->p[i].desc.probe(cfg);
        if (s > best) {
            best = s;
            *out = &reg->p[i].desc;
        }
    }
    if (*out) return CLCDD_OK;
    /* Refuse with everything we do support. */
    char list[2048] = "";
    size_t len = 0;
    for (size_t i = 0; i < reg->n; i++)
        for (const char *const *a = reg->p[i].desc.architectures; *a; a++) {
            int w = snprintf(list + len, sizeof list - len, "%s%s (%s)", len ? ", " : "", *a,
                             reg->p[i].desc.name);
            if (w < 0 || (size_t)w >= sizeof list - len) break;
            len += (size_t)w;
        }
    if (!reg->n)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: architecture '%s': no model-family plugins "
                          "are loaded (see `clcdd plugins`; set CLCDD_PLUGIN_PATH)", source,
                          arch_of(cfg));
    return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: unsupported architecture '%s'; supported: %s",
                      source, arch_of(cfg), list);
}

static clcdd_status check_hparams(const clcdd_hparams *hp, const char *source, const char *plugin) {
    const char *bad = !hp->vocab_size ? "vocab_size" : !hp->hidden_size ? "hidden_size"
                      : !hp->intermediate_size ? "intermediate_size" : !hp->n_layers ? "n_layers"
                      : !hp->n_heads ? "n_heads" : !hp->n_kv_heads ? "n_kv_heads"
                      : !hp->head_dim ? "head_dim" : NULL;
    if (bad)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: plugin '%s' left %s at 0", source, plugin, bad);
    if (hp->n_heads % hp->n_kv_heads)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %u attention heads are not a multiple of %u "
                          "key/value heads", source, hp->n_heads, hp->n_kv_heads);
    if (hp->head_dim % 2)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: head_dim %u is odd (RoPE needs pairs)", source,
                          hp->head_dim);
    if (!(hp->rms_eps > 0) || !(hp->rope_theta > 0))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: rms_eps and rope_theta must be positive", source);
    if (hp->n_eos > CLCDD_MAX_EOS)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: plugin '%s' set n_eos %u > %d", source, plugin,
                          hp->n_eos, CLCDD_MAX_EOS);
    return CLCDD_OK;
}

clcdd_status clcdd_plugin_registry_read_hparams(const clcdd_plugin_registry *reg,
                                                const clcdd_config_view *cfg, const char *source,
                                                const clcdd_plugin **plugin, clcdd_hparams *hp) {
    if (!hp) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "read_hparams: NULL output");
    if (!source) source = "checkpoint";
    const clcdd_plugin *p;
    clcdd_status st = clcdd_plugin_registry_select(reg, cfg, source, &p);
    if (st != CLCDD_OK) return st;
    memset(hp, 0, sizeof *hp);
    char err[512] = "";
    if (p->read_hparams(cfg, hp, err, sizeof err) != 0) {
        err[sizeof err - 1] = 0;
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s", source, err[0] ? err : "plugin refused it");
    }
    hp->family[sizeof hp->family - 1] = 0;
    hp->architecture[sizeof hp->architecture - 1] = 0;
    hp->default_system[sizeof hp->default_system - 1] = 0;
    if ((st = check_hparams(hp, source, p->name)) != CLCDD_OK) return st;
    if (plugin) *plugin = p;
    return CLCDD_OK;
}

clcdd_status clcdd_plugin_render_chat(const clcdd_plugin *plugin, const clcdd_hparams *hp,
                                      const clcdd_chat_message *messages, size_t n_messages,
                                      int add_generation_prompt, char **out) {
    if (!plugin || !hp || !out || (n_messages && !messages))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "render_chat: NULL argument");
    *out = NULL;
    if (!plugin->chat_template)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "plugin '%s' has no chat templates", plugin->name);
    long n = plugin->chat_template(hp, messages, n_messages, add_generation_prompt, NULL, 0);
    if (n == CLCDD_CHAT_ERR_ROLES)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s chat template: this sequence of roles is "
                          "not allowed (the template needs alternating user/assistant turns, "
                          "possibly after one system message)", hp->architecture);
    if (n == CLCDD_CHAT_ERR_NO_TEMPLATE)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: the model has no chat template (use a plain "
                          "prompt)", hp->architecture);
    if (n < 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s chat template: invalid conversation "
                          "(roles must be system, user or assistant)", hp->architecture);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "render_chat: out of memory");
    long m = plugin->chat_template(hp, messages, n_messages, add_generation_prompt, buf,
                                   (size_t)n + 1);
    if (m != n) {
        free(buf);
        return clcdd_fail(CLCDD_ERR_PLUGIN, "plugin '%s': chat_template gave %ld then %ld bytes",
                          plugin->name, n, m);
    }
    *out = buf;
    return CLCDD_OK;
}
