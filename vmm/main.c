/* nook-vmm: runs one virtual machine. */
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../display/module.h"
#include "core/accel.h"
#include "core/audio.h"
#include "core/control.h"
#include "core/keymap.h"
#include "core/options.h"
#include "machine.h"


struct app {
    struct machine *machine;
    struct control_server *control;
    /* The display modules' functions: nook-display-spice.so's once
     * --display spice opened it, nook-display-sdl.so's once --display sdl
     * or open-window did (display_module_load); NULL before. */
    struct display_backend display;
    struct spice_display *spice;
    struct sdl_display *sdl;            /* --display sdl's window, or open-window's */
    /* Set by open-window's window on the SDL thread when its user closed it;
     * the main loop frees it (see reap_window). */
    atomic_bool window_closed;
    GMainLoop *loop;
    char *name;
    bool has_cdrom;
    /* The image last put in the drive, NULL: none. Whether the guest can
     * read it (it may have opened the tray) is the drive's to say. */
    char *cdrom;
    int status;
    /* The sound card's host end (--audio); NULL without a sound card. */
    struct audio_backend *audio;
};

static void app_quit(void *opaque)
{
    struct app *app = opaque;

    vm_request_exit(app->machine->vm, VM_EXIT_POWEROFF, "quit");
}

/* The SDL window's requests, from its thread: both calls are thread-safe. */
static void sdl_power_button(void *opaque)
{
    struct app *app = opaque;

    machine_power_button(app->machine);
}

static const struct sdl_display_ops sdl_ops = { .power_button = sdl_power_button, .quit = app_quit };

static gboolean on_window_closed_idle(gpointer data);

/* open-window's window was closed by its user. Freeing it joins this very
 * thread, so that is left to the main loop. */
static void sdl_window_closed(void *opaque)
{
    struct app *app = opaque;

    atomic_store(&app->window_closed, true);
    g_idle_add(on_window_closed_idle, app);
}

static const struct sdl_display_ops sdl_window_ops = { .closed = sdl_window_closed };

/* Opens nook-display-KIND.so (nook-audio-pulse.so for "pulse") the first
 * time it is wanted; 0 or -errno with the reason in err
 * (display_module_load). */
static int load_display(struct app *app, const char *kind, char *err, size_t errlen)
{
    bool loaded = strcmp(kind, "sdl") == 0     ? app->display.sdl_new != NULL
                  : strcmp(kind, "pulse") == 0 ? app->display.pulse_new != NULL
                                               : app->display.spice_new != NULL;

    return loaded ? 0 : display_module_load(kind, &app->display, err, errlen);
}

/* Sends a state-changed (or reset) event to every control client; status is
 * included when it is not negative. */
static void broadcast_state(struct app *app, const char *event, const char *state,
                            const char *reason, int status)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) data = NULL;
    g_autofree char *line = NULL;

    if (!app->control)
        return;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, state);
    if (reason) {
        json_builder_set_member_name(b, "reason");
        json_builder_add_string_value(b, reason);
    }
    if (status >= 0) {
        json_builder_set_member_name(b, "status");
        json_builder_add_int_value(b, status);
    }
    json_builder_end_object(b);
    data = json_builder_get_root(b);
    line = control_format_event(event, data);
    control_server_broadcast(app->control, line);
}

static void on_vm_event(void *opaque, const char *event, const char *state, const char *reason)
{
    broadcast_state(opaque, event, state, reason, -1);
}

/* Frees the SDL window and tells the control clients. reason: "user" (its
 * close button) or "close-window". */
static void close_window(struct app *app, const char *reason)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) data = NULL;
    g_autofree char *line = NULL;

    app->display.sdl_free(app->sdl);
    app->sdl = NULL;
    /* The thread that could set it is gone: a note it left is answered. */
    atomic_store(&app->window_closed, false);
    if (!app->control)
        return;
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, reason);
    json_builder_end_object(b);
    data = json_builder_get_root(b);
    line = control_format_event("window-closed", data);
    control_server_broadcast(app->control, line);
}

/* A window its user closed is freed by whichever comes first on the main
 * loop: the idle its close queued, or a command that asks about windows.
 * The others find the note taken. */
static void reap_window(struct app *app)
{
    if (atomic_exchange(&app->window_closed, false) && app->sdl)
        close_window(app, "user");
}

static gboolean on_window_closed_idle(gpointer data)
{
    reap_window(data);
    return G_SOURCE_REMOVE;
}

static gboolean on_wake(gint fd, GIOCondition cond, gpointer data)
{
    struct app *app = data;
    struct vm *vm = app->machine->vm;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));

    (void)r;
    if (vm_exit_requested(vm)) {
        g_main_loop_quit(app->loop);
        return G_SOURCE_CONTINUE;
    }
    if (atomic_load(&vm->reset_requested)) {
        if (app->machine->cfg.no_reboot) {
            log_info("the guest asked for a reset (%s); exiting as --no-reboot says", vm->reset_reason);
            vm_request_exit(vm, VM_EXIT_POWEROFF, "reset-with-no-reboot");
            g_main_loop_quit(app->loop);
            return G_SOURCE_CONTINUE;
        }
        log_info("the guest asked for a reset (%s)", vm->reset_reason);
        vm_reset(vm);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data)
{
    app_quit(data);
    return G_SOURCE_CONTINUE;
}

/* ---- control commands ---- */

static bool cmd_query_status(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    struct vm *vm = app->machine->vm;

    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, vm_state_name(vm->state));
    json_builder_set_member_name(b, "running");
    json_builder_add_boolean_value(b, vm->state == VM_STATE_RUNNING);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, app->name);
    json_builder_set_member_name(b, "cpus");
    json_builder_add_int_value(b, vm->ncpus);
    json_builder_set_member_name(b, "memory");
    json_builder_add_int_value(b, (gint64)app->machine->cfg.ram_size);
    reap_window(app);
    json_builder_set_member_name(b, "window");
    json_builder_add_boolean_value(b, app->sdl != NULL);
    if (app->has_cdrom) {
        json_builder_set_member_name(b, "cdrom");
        if (app->cdrom && machine_cdrom_loaded(app->machine))
            json_builder_add_string_value(b, app->cdrom);
        else
            json_builder_add_null_value(b);
    }
    json_builder_set_member_name(b, "audio");
    if (app->audio) {
        struct machine_audio_status st;

        machine_audio_status(app->machine, &st);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "card");
        json_builder_add_string_value(b, "hda");
        json_builder_set_member_name(b, "backend");
        json_builder_add_string_value(b, app->audio->name);
        json_builder_set_member_name(b, "connected");
        json_builder_add_boolean_value(b, atomic_load(&app->audio->connected));
        json_builder_set_member_name(b, "playing");
        json_builder_add_boolean_value(b, st.playing);
        json_builder_set_member_name(b, "recording");
        json_builder_add_boolean_value(b, st.recording);
        json_builder_set_member_name(b, "muted");
        json_builder_add_boolean_value(b, st.muted);
        json_builder_set_member_name(b, "frames-played");
        json_builder_add_int_value(b, (gint64)st.frames_out);
        json_builder_set_member_name(b, "frames-recorded");
        json_builder_add_int_value(b, (gint64)st.frames_in);
        json_builder_set_member_name(b, "underruns");
        json_builder_add_int_value(b, (gint64)st.underruns);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }
    return true;
}

/* {"mute": true|false}: the host's mute of the guest's sound output, over
 * whatever the guest's own mixer says. */
static bool cmd_set_audio_mute(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    JsonNode *n = args ? json_object_get_member(args, "mute") : NULL;

    if (!n || json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT,
                    "'mute' must be true or false");
        return false;
    }
    if (!app->audio) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_WRONG_STATE, "the VM has no sound card");
        return false;
    }
    machine_audio_mute(app->machine, json_node_get_boolean(n));
    return true;
}

static bool cmd_query_version(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    json_builder_set_member_name(b, "vmm");
    json_builder_add_string_value(b, NOOK_VERSION);
    json_builder_set_member_name(b, "protocol");
    json_builder_add_int_value(b, CONTROL_PROTOCOL_VERSION);
    return true;
}

static bool cmd_pause(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;

    vm_pause(app->machine->vm);
    return true;
}

static bool cmd_resume(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;

    vm_resume(app->machine->vm);
    return true;
}

static bool cmd_reset(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    int r;

    app->machine->vm->reset_reason = "control";
    r = vm_reset(app->machine->vm);
    if (r < 0) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "reset failed: %s", g_strerror(-r));
        return false;
    }
    return true;
}

static bool cmd_powerdown(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;

    if (app->machine->vm->state != VM_STATE_RUNNING) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_WRONG_STATE,
                    "the VM is %s: the guest cannot see the power button", vm_state_name(app->machine->vm->state));
        return false;
    }
    machine_power_button(app->machine);
    return true;
}

static bool cmd_quit(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    app_quit(opaque);
    return true;
}

static bool cmd_screendump(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    JsonNode *file = args ? json_object_get_member(args, "file") : NULL;
    char err[512];

    if (!file || !JSON_NODE_HOLDS_VALUE(file) || json_node_get_value_type(file) != G_TYPE_STRING ||
        !*json_node_get_string(file)) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT,
                    "'file' must be the path of the PNG file to write");
        return false;
    }
    if (machine_screendump(app->machine, json_node_get_string(file), err, sizeof(err)) < 0) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "%s", err);
        return false;
    }
    return true;
}

/* send-key {"keys": "ctrl-alt-delete"}: presses the keys in order and lets
 * go of them the other way round. */
static bool cmd_send_key(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    JsonNode *keys = args ? json_object_get_member(args, "keys") : NULL;
    unsigned codes[16], n = 0;
    g_auto(GStrv) names = NULL;

    if (!keys || !JSON_NODE_HOLDS_VALUE(keys) || json_node_get_value_type(keys) != G_TYPE_STRING) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT,
                    "'keys' must be key names joined by '-', such as \"ctrl-alt-delete\"");
        return false;
    }
    names = g_strsplit(json_node_get_string(keys), "-", -1);
    for (unsigned i = 0; names[i]; i++) {
        unsigned code = keymap_name_to_linux(names[i]);

        if (!code) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT, "unknown key name '%s'", names[i]);
            return false;
        }
        if (n == G_N_ELEMENTS(codes)) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT, "at most %u keys at once",
                        (unsigned)G_N_ELEMENTS(codes));
            return false;
        }
        codes[n++] = code;
    }
    if (!n) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT, "'keys' names no key");
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        input_key(&app->machine->input, codes[i], true);
    for (unsigned i = n; i-- > 0;)
        input_key(&app->machine->input, codes[i], false);
    return true;
}

static bool int_member(JsonObject *args, const char *name, gint64 lo, gint64 hi, gint64 def,
                       gint64 *out, GError **error)
{
    JsonNode *n = args ? json_object_get_member(args, name) : NULL;

    if (!n) {
        *out = def;
        if (def >= lo)
            return true;
    } else if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64) {
        *out = json_node_get_int(n);
        if (*out >= lo && *out <= hi)
            return true;
    }
    g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT,
                "'%s' must be a whole number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, name, lo, hi);
    return false;
}

/* send-pointer {"x", "y"} (0-32767 across the screen) or {"dx", "dy"}, with
 * "buttons" (bit 0 left, 1 right, 2 middle) and "wheel". */
static bool cmd_send_pointer(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    bool absolute = args && (json_object_has_member(args, "x") || json_object_has_member(args, "y"));
    gint64 x, y, buttons, wheel;

    if (!int_member(args, "buttons", 0, 31, 0, &buttons, error) ||
        !int_member(args, "wheel", -127, 127, 0, &wheel, error))
        return false;
    if (absolute) {
        if (!int_member(args, "x", 0, INPUT_ABS_MAX, -1, &x, error) ||
            !int_member(args, "y", 0, INPUT_ABS_MAX, -1, &y, error))
            return false;
        if (!input_absolute(&app->machine->input)) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_WRONG_STATE,
                        "the guest uses no absolute pointer now: send dx and dy");
            return false;
        }
        input_abs(&app->machine->input, (unsigned)x, (unsigned)y, (int)wheel, (unsigned)buttons);
    } else {
        if (!int_member(args, "dx", -4096, 4096, 0, &x, error) ||
            !int_member(args, "dy", -4096, 4096, 0, &y, error))
            return false;
        input_rel(&app->machine->input, (int)x, (int)y, (int)wheel, (unsigned)buttons);
    }
    return true;
}

/* resize-display {"width", "height"}: what a window resized to that size
 * would ask of the graphics card. */
static bool cmd_resize_display(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    struct console *con = machine_console(app->machine);
    gint64 w, h;
    int r;

    if (!int_member(args, "width", 320, 16384, -1, &w, error) ||
        !int_member(args, "height", 200, 16384, -1, &h, error))
        return false;
    if (!con) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "the VM has no display (it runs with --vga none)");
        return false;
    }
    r = console_request_size(con, (unsigned)w, (unsigned)h);
    if (r < 0) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "the graphics card cannot change size: %s",
                    r == -ENOTSUP ? "it does not take size requests" : g_strerror(-r));
        return false;
    }
    return true;
}

/* open-window: the machine's screen in an SDL window of its own, beside
 * any other display. Closing it closes only the window. */
static bool cmd_open_window(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    struct console *con = machine_console(app->machine);
    char err[512];

    reap_window(app);
    if (!app->sdl) {
        if (!con) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC,
                        "the VM has no display (it runs with --vga none)");
            return false;
        }
        if (load_display(app, "sdl", err, sizeof(err)) < 0) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "%s", err);
            return false;
        }
        app->sdl = app->display.sdl_new(app->name, con, &app->machine->input, &sdl_window_ops, app,
                                         err, sizeof(err));
        if (!app->sdl) {
            g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_GENERIC, "%s", err);
            return false;
        }
    }
    json_builder_set_member_name(b, "open");
    json_builder_add_boolean_value(b, true);
    return true;
}

static bool cmd_close_window(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;

    reap_window(app);
    if (app->sdl)
        close_window(app, "close-window");
    json_builder_set_member_name(b, "open");
    json_builder_add_boolean_value(b, false);
    return true;
}

static void add_target(JsonBuilder *b, const char *member, const char *name)
{
    json_builder_set_member_name(b, member);
    if (name)
        json_builder_add_string_value(b, name);
    else
        json_builder_add_null_value(b);
}

static bool cmd_query_input(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct input *in = &((struct app *)opaque)->machine->input;

    add_target(b, "keyboard", input_target(in, INPUT_CAP_KEYBOARD));
    add_target(b, "mouse", input_target(in, INPUT_CAP_REL));
    add_target(b, "tablet", input_target(in, INPUT_CAP_ABS));
    json_builder_set_member_name(b, "absolute");
    json_builder_add_boolean_value(b, input_absolute(in));
    return true;
}

/* force: whether a tray the guest has locked is opened anyway. */
static bool force_member(JsonObject *args, bool *force, GError **error)
{
    JsonNode *n = args ? json_object_get_member(args, "force") : NULL;

    *force = false;
    if (!n)
        return true;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT, "'force' must be true or false");
        return false;
    }
    *force = json_node_get_boolean(n);
    return true;
}

/* Notes which disc the drive holds after a change that worked. */
static bool cdrom_result(struct app *app, const char *path, int r, const char *err, GError **error)
{
    if (r == 0) {
        g_free(app->cdrom);
        app->cdrom = g_strdup(path);
        return true;
    }
    g_set_error(error, CONTROL_ERROR,
                r == -EBUSY ? CONTROL_ERROR_WRONG_STATE : r == -ENODEV ? CONTROL_ERROR_GENERIC
                                                                       : CONTROL_ERROR_INVALID_ARGUMENT,
                "%s", err);
    return false;
}

/* change-cdrom {"file", "force"}: another disc in the CD-ROM drive; the
 * guest sees a media change. */
static bool cmd_change_cdrom(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    JsonNode *file = args ? json_object_get_member(args, "file") : NULL;
    bool force;
    char err[512];

    if (!file || !JSON_NODE_HOLDS_VALUE(file) || json_node_get_value_type(file) != G_TYPE_STRING ||
        !*json_node_get_string(file)) {
        g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT,
                    "'file' must be the path of an ISO image");
        return false;
    }
    if (!force_member(args, &force, error))
        return false;
    return cdrom_result(app, json_node_get_string(file),
                        machine_change_cdrom(app->machine, json_node_get_string(file), force, err, sizeof(err)),
                        err, error);
}

static bool cmd_eject_cdrom(void *opaque, JsonObject *args, JsonBuilder *b, GError **error)
{
    struct app *app = opaque;
    bool force;
    char err[512];

    if (!force_member(args, &force, error))
        return false;
    return cdrom_result(app, NULL, machine_change_cdrom(app->machine, NULL, force, err, sizeof(err)), err, error);
}

static const struct control_cmd commands[] = {
    { "query-status", cmd_query_status },
    { "query-version", cmd_query_version },
    { "pause", cmd_pause },
    { "resume", cmd_resume },
    { "reset", cmd_reset },
    { "powerdown", cmd_powerdown },
    { "quit", cmd_quit },
    { "screendump", cmd_screendump },
    { "send-key", cmd_send_key },
    { "send-pointer", cmd_send_pointer },
    { "query-input", cmd_query_input },
    { "resize-display", cmd_resize_display },
    { "open-window", cmd_open_window },
    { "close-window", cmd_close_window },
    { "change-cdrom", cmd_change_cdrom },
    { "eject-cdrom", cmd_eject_cdrom },
    { "set-audio-mute", cmd_set_audio_mute },
    { NULL, NULL },
};

/* ---- options ---- */

static char *opt_memory = "512M", *opt_kernel, *opt_initrd, *opt_append, *opt_firmware;
static char *opt_serial = "stdio", *opt_display = "none", *opt_control, *opt_name;
static char *opt_accel = "kvm", *opt_debugcon, *opt_vga, *opt_spice;
static char **opt_disks, *opt_input, *opt_cdrom, *opt_sound, *opt_audio;
static int opt_cpus = 1;
static gboolean opt_no_reboot, opt_verbose, opt_version, opt_sync_teardown, opt_check_accel;

static const GOptionEntry entries[] = {
    { "memory", 'm', 0, G_OPTION_ARG_STRING, &opt_memory, "Guest RAM (default 512M)", "SIZE" },
    { "cpus", 'c', 0, G_OPTION_ARG_INT, &opt_cpus, "Number of vCPUs, 1 to 64 (default 1)", "N" },
    { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &opt_kernel, "Boot this PVH ELF or bzImage directly", "FILE" },
    { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &opt_initrd, "Initial ramdisk for --kernel", "FILE" },
    { "append", 0, 0, G_OPTION_ARG_STRING, &opt_append, "Kernel command line", "STR" },
    { "firmware", 0, 0, G_OPTION_ARG_FILENAME, &opt_firmware, "BIOS image (default " NOOK_SEABIOS ")", "FILE" },
    { "disk", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_disks,
      "A virtio-blk disk: FILE[,format=raw][,readonly] (repeatable)", "SPEC" },
    { "cdrom", 0, 0, G_OPTION_ARG_FILENAME, &opt_cdrom,
      "A DVD-ROM drive on an AHCI controller holding this ISO image, or none for an empty drive", "FILE" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &opt_serial, "COM1: stdio, none, file:PATH or unix:PATH", "SPEC" },
    { "display", 0, 0, G_OPTION_ARG_STRING, &opt_display, "Display: none, sdl (a window) or spice", "KIND" },
    { "spice", 0, 0, G_OPTION_ARG_STRING, &opt_spice,
      "SPICE listener: unix:PATH (default $XDG_RUNTIME_DIR/nook/NAME/spice.sock) or "
      "tcp:ADDR:PORT,password-file=FILE[,tls-port=N,x509-dir=DIR]; implies --display spice", "SPEC" },
    { "vga", 0, 0, G_OPTION_ARG_STRING, &opt_vga,
      "Graphics card: std, virtio (virtio-gpu) or none (default std with firmware, none with --kernel)",
      "KIND" },
    { "input", 0, 0, G_OPTION_ARG_STRING, &opt_input,
      "Keyboard and pointer: ps2, or virtio (a virtio keyboard and tablet as well; the default with a graphics card)", "KIND" },
    { "control", 0, 0, G_OPTION_ARG_FILENAME, &opt_control,
      "Control socket (default $XDG_RUNTIME_DIR/nook/NAME/control.sock), or none", "PATH" },
    { "sound", 0, 0, G_OPTION_ARG_STRING, &opt_sound,
      "Sound card: hda (Intel HD Audio) or none (default: hda with a graphics card)", "KIND" },
    { "audio", 0, 0, G_OPTION_ARG_STRING, &opt_audio,
      "Where the sound card plays and records: pulse, spice, wav:OUT.wav[,in=IN.wav] or none "
      "(default: spice with --display spice, else pulse when a server answers, else none)", "SPEC" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "VM name (default vm-PID)", "NAME" },
    { "accel", 0, 0, G_OPTION_ARG_STRING, &opt_accel, "Accelerator: kvm or nookhv", "KIND" },
    { "check-accel", 0, 0, G_OPTION_ARG_NONE, &opt_check_accel,
      "Say whether the accelerator can run a VM, and if not why and what to do, as one JSON object "
      "{\"ok\", \"code\", \"device\", \"problem\", \"remedy\"}; exit 0 if it can, 1 if not", NULL },
    { "no-reboot", 0, 0, G_OPTION_ARG_NONE, &opt_no_reboot, "Exit instead of resetting", NULL },
    { "sync-teardown", 0, 0, G_OPTION_ARG_NONE, &opt_sync_teardown,
      "Destroy the VM in this process before exiting", NULL },
    { "debugcon", 0, 0, G_OPTION_ARG_FILENAME, &opt_debugcon, "Write firmware debug output (port 0x402) here", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Log more", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version", NULL },
    { NULL }
};

static int config_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int config_error(const char *fmt, ...)
{
    va_list ap;

    fputs("nook-vmm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return VM_EXIT_CONFIG_ERROR;
}

/* --check-accel's answer, for the app's banner and for people. */
static int check_accel(const char *path)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    g_autofree char *text = NULL;
    struct accel_report r;
    bool ok = accel_check(path, &r);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "ok");
    json_builder_add_boolean_value(b, ok);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, r.code);
    json_builder_set_member_name(b, "device");
    json_builder_add_string_value(b, path);
    json_builder_set_member_name(b, "problem");
    if (ok)
        json_builder_add_null_value(b);
    else
        json_builder_add_string_value(b, r.problem);
    json_builder_set_member_name(b, "remedy");
    if (ok)
        json_builder_add_null_value(b);
    else
        json_builder_add_string_value(b, r.remedy);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    text = json_to_string(root, FALSE);
    printf("%s\n", text);
    return ok ? 0 : 1;
}

/* The sound card's backend from --audio (audio.h); NULL with the reason in
 * err. Without --audio: spice with the SPICE display, else PulseAudio when a
 * server answers now, else none with one warning. */
static struct audio_backend *open_audio(struct app *app, const char *spec, const char *display,
                                        char *err, size_t errlen)
{
    struct audio_backend *b;
    char why[256];

    if (!spec) {
        if (strcmp(display, "spice") == 0)
            return open_audio(app, "spice", display, err, errlen);
        if (load_display(app, "pulse", why, sizeof(why)) < 0)
            b = NULL;
        else
            b = app->display.pulse_new(app->name, true, why, sizeof(why));
        if (b)
            return b;
        b = audio_none_new(err, errlen);
        if (b) {
            g_autofree char *warning = g_strdup_printf(
                "the guest's sound goes nowhere: %s (--audio none says so and silences this, "
                "--audio pulse waits for a server)", why);

            audio_clock_warn_on_start(b, warning);
        }
        return b;
    }
    if (strcmp(spec, "none") == 0)
        return audio_none_new(err, errlen);
    if (strcmp(spec, "spice") == 0) {
        if (strcmp(display, "spice") != 0) {
            snprintf(err, errlen, "--audio spice needs --display spice");
            return NULL;
        }
        return audio_clock_new("spice", err, errlen);
    }
    if (strcmp(spec, "pulse") == 0) {
        if (load_display(app, "pulse", why, sizeof(why)) < 0) {
            snprintf(err, errlen, "--audio pulse: %s", why);
            return NULL;
        }
        b = app->display.pulse_new(app->name, false, why, sizeof(why));
        if (!b)
            snprintf(err, errlen, "--audio pulse: %s", why);
        return b;
    }
    if (strncmp(spec, "wav:", 4) == 0) {
        b = audio_wav_new(spec + 4, why, sizeof(why));
        if (!b)
            snprintf(err, errlen, "--audio %s: %s", spec, why);
        return b;
    }
    snprintf(err, errlen, "--audio %s: expected pulse, spice, wav:OUT.wav[,in=IN.wav] or none", spec);
    return NULL;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 64 || s[0] == '.')
        return false;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("- run one Nook virtual machine");
    g_autoptr(GError) error = NULL;
    struct machine_config cfg = { 0 };
    struct app app = { .status = VM_EXIT_POWEROFF };
    g_autofree char *control_path = NULL;
    uint64_t host_ram;
    enum accel_kind accel;
    char err[512];
    guint wake_watch, sigint, sigterm, sighup;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Exit status: 0 after power-off or quit, 2 for a bad configuration, 4 when the\n"
        "guest hit an error KVM cannot handle, and (v << 1) | 1 when the guest wrote v\n"
        "to the debug-exit port 0xf4. --check-accel exits 0 or 1.\n"
        "\n"
        "NOOK_ACCEL_DEVICE, when set, is the device opened instead of /dev/kvm or /dev/nookhv.\n"
        "NOOK_MODULE_DIR, when set, is the only folder --display sdl|spice and open-window\n"
        "look in for nook-display-sdl.so and nook-display-spice.so.\n");
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return config_error("%s (see --help)", error->message);
    if (opt_version) {
        printf("nook-vmm %s\n", NOOK_VERSION);
        return 0;
    }
    if (argc > 1)
        return config_error("unexpected argument '%s' (see --help)", argv[1]);
    if (!accel_kind_parse(opt_accel, &accel))
        return config_error("--accel %s: expected kvm or nookhv", opt_accel);
    if (opt_check_accel)
        return check_accel(accel_device_path(accel));
    if (opt_verbose)
        log_set_level(LOG_DEBUG);

    if (!parse_size(opt_memory, &cfg.ram_size, err, sizeof(err)))
        return config_error("--memory: %s", err);
    if (cfg.ram_size == 0)
        return config_error("--memory must be more than 0");
    if (cfg.ram_size < (2u << 20))
        return config_error("--memory %s is too small: a PC needs at least 2 MiB", opt_memory);
    cfg.ram_size = (cfg.ram_size + 0xfff) & ~0xfffull;
    host_ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (cfg.ram_size > host_ram)
        return config_error("--memory %s is more than this host has (%llu MiB)", opt_memory,
                            (unsigned long long)(host_ram >> 20));
    if (opt_cpus < 1 || opt_cpus > VM_MAX_CPUS)
        return config_error("--cpus %d: must be between 1 and %d", opt_cpus, VM_MAX_CPUS);
    cfg.ncpus = (unsigned)opt_cpus;
    if (opt_spice && strcmp(opt_display, "none") == 0)
        opt_display = "spice";
    if (strcmp(opt_display, "none") != 0 && strcmp(opt_display, "spice") != 0 &&
        strcmp(opt_display, "sdl") != 0)
        return config_error("--display %s: expected none, sdl or spice", opt_display);
    if (opt_spice && strcmp(opt_display, "spice") != 0)
        return config_error("--spice needs --display spice");
    if (!opt_vga)
        cfg.vga = opt_kernel ? MACHINE_VGA_NONE : MACHINE_VGA_STD;
    else if (strcmp(opt_vga, "std") == 0)
        cfg.vga = MACHINE_VGA_STD;
    else if (strcmp(opt_vga, "virtio") == 0)
        cfg.vga = MACHINE_VGA_VIRTIO;
    else if (strcmp(opt_vga, "none") == 0)
        cfg.vga = MACHINE_VGA_NONE;
    else
        return config_error("--vga %s: expected std, virtio or none", opt_vga);
    if (!opt_input)
        cfg.virtio_input = opt_vga ? strcmp(opt_vga, "none") != 0 : !opt_kernel;
    else if (strcmp(opt_input, "virtio") == 0 || strcmp(opt_input, "ps2") == 0)
        cfg.virtio_input = strcmp(opt_input, "virtio") == 0;
    else
        return config_error("--input %s: expected ps2 or virtio", opt_input);
    cfg.accel_path = accel_device_path(accel);
    if ((opt_initrd || opt_append) && !opt_kernel)
        return config_error("--initrd and --append need --kernel");
    if (opt_kernel && opt_firmware)
        return config_error("--kernel and --firmware cannot be used together");
    cfg.kernel = opt_kernel;
    cfg.initrd = opt_initrd;
    cfg.append = opt_append;
    cfg.firmware = opt_firmware ? opt_firmware : NOOK_SEABIOS;
    cfg.serial = opt_serial;
    cfg.debugcon = opt_debugcon;
    cfg.no_reboot = opt_no_reboot;
    cfg.disks = (const char *const *)opt_disks;
    cfg.cdrom = opt_cdrom;
    app.has_cdrom = opt_cdrom != NULL;
    app.cdrom = opt_cdrom && strcmp(opt_cdrom, "none") != 0 ? g_strdup(opt_cdrom) : NULL;
    app.name = opt_name ? g_strdup(opt_name) : g_strdup_printf("vm-%d", (int)getpid());
    if (!valid_name(app.name))
        return config_error("--name '%s': use letters, digits, '-', '_' and '.'", app.name);

    if (!opt_sound)
        cfg.sound = cfg.vga != MACHINE_VGA_NONE;
    else if (strcmp(opt_sound, "hda") == 0 || strcmp(opt_sound, "none") == 0)
        cfg.sound = strcmp(opt_sound, "hda") == 0;
    else
        return config_error("--sound %s: expected hda or none", opt_sound);
    if (opt_audio && !cfg.sound)
        return config_error("--audio needs a sound card (--sound hda)");
    if (cfg.sound) {
        app.audio = open_audio(&app, opt_audio, opt_display, err, sizeof(err));
        if (!app.audio)
            return config_error("%s", err);
        cfg.audio = app.audio;
    }

    /* Guest exits must not be killed by a client that closed its socket. */
    signal(SIGPIPE, SIG_IGN);

    app.machine = machine_new(&cfg, app_quit, &app, err, sizeof(err));
    if (!app.machine)
        return config_error("%s", err);

    if (!opt_control)
        control_path = g_build_filename(g_get_user_runtime_dir(), "nook", app.name, "control.sock", NULL);
    else if (strcmp(opt_control, "none") != 0)
        control_path = g_strdup(opt_control);
    if (control_path) {
        app.control = control_server_new(control_path, commands, &app, err, sizeof(err));
        if (!app.control) {
            machine_free(app.machine);
            return config_error("%s", err);
        }
    }

    if (strcmp(opt_display, "spice") == 0) {
        g_autofree char *spec = NULL;

        if (!machine_console(app.machine)) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("--display spice: the VM has no graphics card (--vga none)");
        }
        if (load_display(&app, "spice", err, sizeof(err)) < 0) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("--display spice: %s", err);
        }
        spec = opt_spice ? g_strdup(opt_spice)
                         : g_strdup_printf("unix:%s/nook/%s/spice.sock", g_get_user_runtime_dir(), app.name);
        app.spice = app.display.spice_new(spec, app.name, machine_console(app.machine), &app.machine->input,
                                          app.audio && strcmp(app.audio->name, "spice") == 0
                                              ? app.audio : NULL,
                                          err, sizeof(err));
        if (!app.spice) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("%s", err);
        }
        if (app.display.spice_socket(app.spice))
            log_info("SPICE display on %s", app.display.spice_socket(app.spice));
    }
    if (strcmp(opt_display, "sdl") == 0) {
        if (!machine_console(app.machine)) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("--display sdl: the VM has no graphics card (--vga none)");
        }
        if (load_display(&app, "sdl", err, sizeof(err)) < 0) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("--display sdl: %s", err);
        }
        app.sdl = app.display.sdl_new(app.name, machine_console(app.machine), &app.machine->input,
                                      &sdl_ops, &app, err, sizeof(err));
        if (!app.sdl) {
            control_server_free(app.control);
            machine_free(app.machine);
            return config_error("--display sdl: %s", err);
        }
    }

    /* Everything that needs privileges is open; nothing exec'd later may
     * gain more. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        log_warn("cannot set no_new_privs: %s", g_strerror(errno));

    app.loop = g_main_loop_new(NULL, FALSE);
    app.machine->vm->event_fn = on_vm_event;
    app.machine->vm->event_opaque = &app;
    wake_watch = g_unix_fd_add(app.machine->vm->wake_fd, G_IO_IN, on_wake, &app);
    sigint = g_unix_signal_add(SIGINT, on_signal, &app);
    sigterm = g_unix_signal_add(SIGTERM, on_signal, &app);
    sighup = g_unix_signal_add(SIGHUP, on_signal, &app);

    if (chardev_is_interactive(app.machine->com1_chr))
        fprintf(stderr, "nook-vmm: %s running; control socket %s; press Ctrl-a x to quit\r\n",
                app.name, control_path ? control_path : "(none)");

    if (machine_start(app.machine) < 0) {
        log_error("cannot start the virtual CPUs");
        vm_request_exit(app.machine->vm, VM_EXIT_GUEST_ERROR, "start-failed");
    } else if (!vm_exit_requested(app.machine->vm)) {
        g_main_loop_run(app.loop);
    }

    vm_stop(app.machine->vm);
    app.status = atomic_load(&app.machine->vm->exit_status);
    if (app.status < 0)
        app.status = VM_EXIT_POWEROFF;
    if (app.control) {
        broadcast_state(&app, "state-changed", "shutdown",
                        app.machine->vm->exit_reason ? app.machine->vm->exit_reason : "quit", app.status);
        control_server_flush(app.control);
        control_server_free(app.control);
    }
    if (app.spice)
        app.display.spice_free(app.spice);
    if (app.sdl)
        app.display.sdl_free(app.sdl);
    if (!opt_sync_teardown)
        vm_detach_teardown(app.machine->vm);
    g_source_remove(wake_watch);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    g_source_remove(sighup);
    machine_free(app.machine);
    audio_backend_free(app.audio);
    g_main_loop_unref(app.loop);
    g_free(app.cdrom);
    g_free(app.name);
    fflush(stdout);
    return app.status;
}
