/* nook-vmm's loader for the display modules: see module.h.
 *
 * A module is opened with RTLD_NOW, so that a symbol it needs and nook-vmm
 * does not export fails here, with its name, and not as a crash at the
 * first call; and RTLD_LOCAL, so that what one module brings cannot stand
 * in for another's. Once it has been accepted it stays: SDL and
 * spice-server leave threads, atexit handlers and TLS behind them. */
#include "module.h"

#include <errno.h>
#include <gmodule.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What a module's file needs to be built, for the message when it is not
 * there. */
static const char *module_needs(const char *kind)
{
    if (strcmp(kind, "sdl") == 0)
        return "SDL2 (Debian: libsdl2-dev)";
    if (strcmp(kind, "spice") == 0)
        return "spice-server (Debian: libspice-server-dev)";
    if (strcmp(kind, "pulse") == 0)
        return "libpulse (Debian: libpulse-dev)";
    return NULL;
}

/* The folders to look in, in order (module.h), as a NULL-terminated vector
 * of absolute paths. */
static char **module_dirs(void)
{
    const char *env = g_getenv("NOOK_MODULE_DIR");
    GPtrArray *dirs = g_ptr_array_new();

    if (env && *env) {
        g_ptr_array_add(dirs, g_canonicalize_filename(env, NULL));
    } else {
        g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);

        if (exe) {
            g_autofree char *bindir = g_path_get_dirname(exe);
            g_autofree char *display = g_build_filename(bindir, "..", "display", NULL);
            g_autofree char *audio = g_build_filename(bindir, "..", "audio", NULL);

            g_ptr_array_add(dirs, g_canonicalize_filename(display, NULL));
            g_ptr_array_add(dirs, g_canonicalize_filename(audio, NULL));
        }
        g_ptr_array_add(dirs, g_strdup(NOOK_MODULEDIR));
    }
    g_ptr_array_add(dirs, NULL);
    return (char **)g_ptr_array_free(dirs, FALSE);
}

/* Copies the members of kind from got into b; false when the module left
 * one of them out (it is another kind's module under this name). */
static bool take_members(const char *kind, const struct display_backend *got, struct display_backend *b)
{
    if (strcmp(kind, "sdl") == 0) {
        if (!got->sdl_new || !got->sdl_free)
            return false;
        b->sdl_new = got->sdl_new;
        b->sdl_free = got->sdl_free;
        return true;
    }
    if (strcmp(kind, "pulse") == 0) {
        if (!got->pulse_new)
            return false;
        b->pulse_new = got->pulse_new;
        return true;
    }
    if (!got->spice_new || !got->spice_free || !got->spice_socket)
        return false;
    b->spice_new = got->spice_new;
    b->spice_free = got->spice_free;
    b->spice_socket = got->spice_socket;
    return true;
}

int display_module_load(const char *kind, struct display_backend *b, char *err, size_t errlen)
{
    const char *needs = module_needs(kind);
    g_autofree char *file = g_strdup_printf(strcmp(kind, "pulse") == 0 ? "nook-audio-%s.so"
                                                                       : "nook-display-%s.so", kind);
    g_auto(GStrv) dirs = module_dirs();
    g_autofree char *path = NULL;
    struct display_backend got = { 0 };
    display_module_init_fn init;
    GModule *mod;
    unsigned abi;

    if (!needs) {
        snprintf(err, errlen, "there is no display module '%s'", kind);
        return -EINVAL;
    }
    for (unsigned i = 0; dirs[i] && !path; i++) {
        g_autofree char *candidate = g_build_filename(dirs[i], file, NULL);

        if (g_file_test(candidate, G_FILE_TEST_EXISTS))
            path = g_steal_pointer(&candidate);
    }
    if (!path) {
        g_autofree char *looked = g_strjoinv(" or ", dirs);

        snprintf(err, errlen,
                 "%s is not in %s: nook builds it in display/ when %s is installed, and "
                 "'meson install' puts it in %s%s", file, looked, needs, NOOK_MODULEDIR,
                 g_getenv("NOOK_MODULE_DIR") ? "" : " (NOOK_MODULE_DIR names another folder)");
        return -ENOENT;
    }

    /* The first file found decides: a broken module in the build tree is
     * reported, not passed over for an installed one of another build. */
    mod = g_module_open(path, G_MODULE_BIND_LOCAL);
    if (!mod) {
        snprintf(err, errlen, "cannot open %s: %s", path, g_module_error());
        return -EINVAL;
    }
    if (!g_module_symbol(mod, DISPLAY_MODULE_ENTRY, (gpointer *)&init) || !init) {
        snprintf(err, errlen, "%s is not a nook display module: it has no %s()", path, DISPLAY_MODULE_ENTRY);
        goto close;
    }
    abi = init(DISPLAY_MODULE_ABI, &got);
    if (abi != DISPLAY_MODULE_ABI) {
        snprintf(err, errlen,
                 "%s comes from another build of nook (display module ABI %u; this nook-vmm's is %u): "
                 "build nook-vmm and its modules from one tree", path, abi, DISPLAY_MODULE_ABI);
        goto close;
    }
    if (!take_members(kind, &got, b)) {
        snprintf(err, errlen, "%s does not provide what nook-vmm needs of %s", path, kind);
        goto close;
    }
    g_module_make_resident(mod);
    return 0;

close:
    g_module_close(mod);
    return -EINVAL;
}
