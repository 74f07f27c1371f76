/* nookctl: talks to a running nook-vmm over its control socket. */
#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define EXIT_ERROR_REPLY 1
#define EXIT_USAGE 2

static char *opt_control, *opt_name;
static gboolean opt_json;

static const GOptionEntry entries[] = {
    { "control", 0, 0, G_OPTION_ARG_FILENAME, &opt_control, "Control socket of the VM", "PATH" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &opt_name, "Name of the VM (finds its socket)", "NAME" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "Print replies as JSON", NULL },
    { NULL }
};

static int die(int status, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("nookctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static char *runtime_root(void)
{
    return g_build_filename(g_get_user_runtime_dir(), "nook", NULL);
}

/* With no --name, the only running VM is meant. */
static char *find_socket(char **why)
{
    g_autofree char *root = runtime_root();
    g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
    const char *entry;
    char *found = NULL;
    int n = 0;

    if (opt_control)
        return g_strdup(opt_control);
    if (opt_name)
        return g_build_filename(root, opt_name, "control.sock", NULL);
    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(root, entry, "control.sock", NULL);

        if (g_file_test(p, G_FILE_TEST_EXISTS)) {
            n++;
            g_free(found);
            found = g_steal_pointer(&p);
        }
    }
    if (n == 1)
        return found;
    g_free(found);
    *why = g_strdup(n == 0 ? "no running VM found (use --name or --control)"
                           : "several VMs are running: say which with --name");
    return NULL;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Reads one line; NULL at EOF. */
static char *read_line(int fd, GString *buf)
{
    for (;;) {
        char *nl = memchr(buf->str, '\n', buf->len);
        char chunk[4096];
        ssize_t n;

        if (nl) {
            char *line = g_strndup(buf->str, (gsize)(nl - buf->str));

            g_string_erase(buf, 0, nl - buf->str + 1);
            return line;
        }
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        g_string_append_len(buf, chunk, n);
    }
}

static JsonNode *parse(const char *line)
{
    g_autoptr(JsonParser) p = json_parser_new();

    if (!json_parser_load_from_data(p, line, -1, NULL))
        return NULL;
    return json_node_copy(json_parser_get_root(p));
}

static void print_return(JsonNode *ret)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    if (!opt_json && JSON_NODE_HOLDS_OBJECT(ret)) {
        JsonObject *o = json_node_get_object(ret);
        g_autoptr(GList) members = json_object_get_members(o);

        for (GList *l = members; l; l = l->next) {
            JsonNode *v = json_object_get_member(o, l->data);

            if (JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING) {
                printf("%s: %s\n", (char *)l->data, json_node_get_string(v));
            } else {
                g_autoptr(JsonGenerator) g = json_generator_new();
                g_autofree char *s = NULL;

                json_generator_set_root(g, v);
                s = json_generator_to_data(g, NULL);
                printf("%s: %s\n", (char *)l->data, s);
            }
        }
        return;
    }
    json_generator_set_root(gen, ret);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

/* Arguments after the command are KEY=VALUE; values that parse as JSON
 * (numbers, true, false) are sent as such, others as strings. */
static char *build_request(const char *cmd, char **args, int nargs)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "execute");
    json_builder_add_string_value(b, cmd);
    json_builder_set_member_name(b, "id");
    json_builder_add_int_value(b, 1);
    if (nargs > 0) {
        json_builder_set_member_name(b, "arguments");
        json_builder_begin_object(b);
        for (int i = 0; i < nargs; i++) {
            const char *eq = strchr(args[i], '=');
            g_autofree char *key = NULL;
            JsonNode *v;

            if (!eq)
                return NULL;
            key = g_strndup(args[i], (gsize)(eq - args[i]));
            json_builder_set_member_name(b, key);
            v = parse(eq + 1);
            if (v && JSON_NODE_HOLDS_VALUE(v))
                json_builder_add_value(b, v);
            else {
                if (v)
                    json_node_unref(v);
                json_builder_add_string_value(b, eq + 1);
            }
        }
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    return json_generator_to_data(gen, NULL);
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [KEY=VALUE...]");
    g_autoptr(GError) error = NULL;
    g_autofree char *path = NULL, *why = NULL, *req = NULL, *line = NULL, *file_arg = NULL;
    g_autoptr(GString) buf = g_string_new(NULL);
    const char *cmd;
    bool events;
    int fd;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx,
        "Commands: status, pause, resume, reset, quit, version, events (follow events),\n"
        "screendump FILE (the screen as PNG), send-key KEYS (such as ctrl-alt-delete),\n"
        "change-cdrom FILE [force=true], eject-cdrom [force=true], mute, unmute,\n"
        "or any control-protocol command name (send-pointer x=N y=N, query-input, ...)\n"
        "such as query-status.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return die(EXIT_USAGE, "%s (see --help)", error->message);
    if (argc < 2)
        return die(EXIT_USAGE, "no command given (see --help)");
    cmd = argv[1];
    if (strcmp(cmd, "status") == 0)
        cmd = "query-status";
    else if (strcmp(cmd, "version") == 0)
        cmd = "query-version";
    events = strcmp(cmd, "events") == 0;
    /* screendump FILE: the path is the VMM's to open, so it goes absolute. */
    if (strcmp(cmd, "screendump") == 0 && argc == 3 && !strchr(argv[2], '=')) {
        g_autofree char *abs = g_canonicalize_filename(argv[2], NULL);

        file_arg = g_strconcat("file=", abs, NULL);
        argv[2] = file_arg;
    }
    if (strcmp(cmd, "change-cdrom") == 0 && argc >= 3 && !strchr(argv[2], '=')) {
        g_autofree char *abs = g_canonicalize_filename(argv[2], NULL);

        file_arg = g_strconcat("file=", abs, NULL);
        argv[2] = file_arg;
    }
    /* mute and unmute: the guest's sound output, on this host. */
    if ((strcmp(cmd, "mute") == 0 || strcmp(cmd, "unmute") == 0) && argc == 2) {
        static char *mute_argv[4];

        mute_argv[0] = argv[0];
        mute_argv[1] = "set-audio-mute";
        mute_argv[2] = strcmp(cmd, "mute") == 0 ? "mute=true" : "mute=false";
        argv = mute_argv;
        argc = 3;
        cmd = argv[1];
    }
    if (strcmp(cmd, "send-key") == 0 && argc == 3 && !strchr(argv[2], '=')) {
        file_arg = g_strconcat("keys=", argv[2], NULL);
        argv[2] = file_arg;
    }

    path = find_socket(&why);
    if (!path)
        return die(EXIT_USAGE, "%s", why);
    fd = connect_to(path);
    if (fd < 0)
        return die(EXIT_USAGE, "cannot connect to '%s': %s", path, g_strerror(errno));

    line = read_line(fd, buf);
    if (!line || !strstr(line, "\"greeting\""))
        return die(EXIT_USAGE, "'%s' did not greet like a nook-vmm control socket", path);
    g_clear_pointer(&line, g_free);

    if (events) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        while ((line = read_line(fd, buf))) {
            printf("%s\n", line);
            g_clear_pointer(&line, g_free);
        }
        return 0;
    }

    req = build_request(cmd, argv + 2, argc - 2);
    if (!req)
        return die(EXIT_USAGE, "arguments must be KEY=VALUE");
    g_autofree char *msg = g_strconcat(req, "\n", NULL);
    if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
        return die(EXIT_USAGE, "cannot send to '%s': %s", path, g_strerror(errno));

    /* Skip events until the reply to our request arrives. */
    while ((line = read_line(fd, buf))) {
        g_autoptr(JsonNode) node = parse(line);
        JsonObject *o;

        g_clear_pointer(&line, g_free);
        if (!node || !JSON_NODE_HOLDS_OBJECT(node))
            return die(EXIT_USAGE, "unreadable reply from nook-vmm");
        o = json_node_get_object(node);
        if (json_object_has_member(o, "event"))
            continue;
        if (json_object_has_member(o, "error")) {
            JsonObject *e = json_object_get_object_member(o, "error");
            const char *desc = e ? json_object_get_string_member_with_default(e, "desc", "?") : "?";
            return die(EXIT_ERROR_REPLY, "%s", desc);
        }
        if (json_object_has_member(o, "return")) {
            print_return(json_object_get_member(o, "return"));
            return 0;
        }
    }
    return die(EXIT_USAGE, "nook-vmm closed the connection without replying");
}
