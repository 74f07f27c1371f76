/* Control protocol sessions and the unix-socket server. A session never
 * trusts its input: over-long lines, bad JSON, deep nesting, wrong types and
 * unknown commands all get an error reply and the session carries on. */
#include "control.h"
#include "log.h"

#include <errno.h>
#include <glib-unix.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

G_DEFINE_QUARK(nook-control-error-quark, control_error)

struct control_session {
    const struct control_cmd *cmds;
    void *opaque;
    GString *in;
    GString *out;
    bool discarding;        /* inside a line that was too long */
    bool close;
};

struct control_session *control_session_new(const struct control_cmd *cmds, void *opaque)
{
    struct control_session *s = g_new0(struct control_session, 1);
    g_autofree char *greeting = NULL;

    s->cmds = cmds;
    s->opaque = opaque;
    s->in = g_string_new(NULL);
    s->out = g_string_new(NULL);
    greeting = g_strdup_printf("{\"greeting\":{\"protocol\":\"nook-control\",\"version\":%d,"
                               "\"vmm\":\"%s\"}}\n", CONTROL_PROTOCOL_VERSION, NOOK_VERSION);
    g_string_append(s->out, greeting);
    return s;
}

void control_session_free(struct control_session *s)
{
    if (!s)
        return;
    g_string_free(s->in, TRUE);
    g_string_free(s->out, TRUE);
    g_free(s);
}

GString *control_session_output(struct control_session *s)
{
    return s->out;
}

bool control_session_wants_close(const struct control_session *s)
{
    return s->close;
}

static void append_node(GString *out, JsonNode *root)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    /* Requests are checked, but a reply must stay readable whatever a
     * command put in it: bytes that are not UTF-8 can only be inside
     * strings, where U+FFFD replaces them. */
    if (!g_utf8_validate(text, -1, NULL)) {
        char *valid = g_utf8_make_valid(text, -1);

        g_free(text);
        text = valid;
    }
    g_string_append(out, text);
    g_string_append_c(out, '\n');
}

static void reply_error(struct control_session *s, JsonNode *id, const char *klass, const char *desc)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "error");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "class");
    json_builder_add_string_value(b, klass);
    json_builder_set_member_name(b, "desc");
    json_builder_add_string_value(b, desc);
    json_builder_end_object(b);
    if (id) {
        json_builder_set_member_name(b, "id");
        json_builder_add_value(b, json_node_copy(id));
    }
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    append_node(s->out, root);
}

static const char *error_class(const GError *e)
{
    if (e->domain == CONTROL_ERROR) {
        switch (e->code) {
        case CONTROL_ERROR_INVALID_ARGUMENT: return "InvalidArgument";
        case CONTROL_ERROR_WRONG_STATE: return "WrongState";
        default: break;
        }
    }
    return "GenericError";
}

/* json-glib's parser recurses, and (1.6 at least) leaks the value it parsed
 * when another one follows it on the line; both are refused before it sees
 * them. Its scanner also takes comments and single-quoted strings, which
 * would hide brackets from this count, so those (not JSON) are refused too.
 * Returns why, or NULL to leave the line to the parser. */
static const char *structure_problem(const char *line, size_t len)
{
    int depth = 0;
    bool in_str = false, esc = false, seen = false, done = false;

    for (size_t i = 0; i < len; i++) {
        char c = line[i];

        if (in_str) {
            if (esc) {
                /* json-glib also takes octal and \x escapes, which can make
                 * a string that is not UTF-8. */
                if (!strchr("\"\\/bfnrtu", c))
                    return "a string holds an escape that is not JSON";
                esc = false;
            } else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '/' || c == '\'')
            return "comments and single quotes are not JSON";
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (done || ((c == '[' || c == '{') && depth == 0 && seen))
            return "there is more on the line after the request";
        if (c == '[' || c == '{') {
            if (++depth > CONTROL_MAX_DEPTH)
                return "the request is nested too deeply";
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                return NULL;    /* the parser stops at it */
            done = --depth == 0;
        } else if (c == '"') {
            in_str = true;
        }
        seen = true;
    }
    return NULL;
}

/* json-glib reads 1e999 as an infinity, and (up to 1.6 at least) writes some
 * doubles in forms that are not JSON ("inf.0", "1e-08.0"); a \u escape can
 * name half a surrogate pair, which it decodes to bytes that are not UTF-8.
 * Such a value echoed in an id or by a command would make the reply
 * unreadable, so a request holding one is refused. Depth is already bounded. */
static const char *value_problem(JsonNode *node)
{
    const char *problem = NULL;

    if (JSON_NODE_HOLDS_OBJECT(node)) {
        JsonObject *o = json_node_get_object(node);
        GList *names = json_object_get_members(o);

        for (GList *l = names; l && !problem; l = l->next) {
            if (!g_utf8_validate(l->data, -1, NULL))
                problem = "a member name in the request is not valid UTF-8";
            else
                problem = value_problem(json_object_get_member(o, l->data));
        }
        g_list_free(names);
    } else if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *a = json_node_get_array(node);

        for (guint i = 0; i < json_array_get_length(a) && !problem; i++)
            problem = value_problem(json_array_get_element(a, i));
    } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
        if (!g_utf8_validate(json_node_get_string(node), -1, NULL))
            problem = "a string in the request is not valid UTF-8";
    } else if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_DOUBLE) {
        g_autofree char *text = NULL;
        g_autoptr(JsonNode) back = NULL;

        if (!isfinite(json_node_get_double(node)))
            return "a number in the request cannot be represented";
        text = json_to_string(node, FALSE);
        back = json_from_string(text, NULL);
        if (!back)
            problem = "a number in the request cannot be represented";
    }
    return problem;
}

static void handle_line(struct control_session *s, const char *line, size_t len)
{
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonBuilder) b = NULL;
    g_autoptr(JsonNode) reply = NULL;
    JsonNode *root, *id = NULL, *cmd_node, *args_node;
    JsonObject *req, *args = NULL;
    const struct control_cmd *cmd;
    const char *name, *problem;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;     /* blank lines are allowed between requests */
    if (!g_utf8_validate(line, (gssize)len, NULL)) {
        reply_error(s, NULL, "ParseError", "the request is not valid UTF-8");
        return;
    }
    problem = structure_problem(line, len);
    if (problem) {
        reply_error(s, NULL, "ParseError", problem);
        return;
    }
    parser = json_parser_new();
    if (!json_parser_load_from_data(parser, line, (gssize)len, &error)) {
        g_autofree char *desc = g_strdup_printf("invalid JSON: %s", error->message);

        reply_error(s, NULL, "ParseError", desc);
        return;
    }
    root = json_parser_get_root(parser);
    problem = root ? value_problem(root) : NULL;
    if (problem) {
        reply_error(s, NULL, "ParseError", problem);
        return;
    }
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        reply_error(s, NULL, "InvalidRequest", "a request must be a JSON object");
        return;
    }
    req = json_node_get_object(root);
    id = json_object_get_member(req, "id");
    cmd_node = json_object_get_member(req, "execute");
    if (!cmd_node || !JSON_NODE_HOLDS_VALUE(cmd_node) ||
        json_node_get_value_type(cmd_node) != G_TYPE_STRING) {
        reply_error(s, id, "InvalidRequest", "'execute' must be a string naming a command");
        return;
    }
    name = json_node_get_string(cmd_node);
    args_node = json_object_get_member(req, "arguments");
    if (args_node) {
        if (!JSON_NODE_HOLDS_OBJECT(args_node)) {
            reply_error(s, id, "InvalidArgument", "'arguments' must be an object");
            return;
        }
        args = json_node_get_object(args_node);
    }
    for (cmd = s->cmds; cmd->name; cmd++)
        if (strcmp(cmd->name, name) == 0)
            break;
    if (!cmd->name) {
        g_autofree char *desc = g_strdup_printf("unknown command '%s'", name);

        reply_error(s, id, "CommandNotFound", desc);
        return;
    }
    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "return");
    json_builder_begin_object(b);
    if (!cmd->fn(s->opaque, args, b, &error)) {
        reply_error(s, id, error ? error_class(error) : "GenericError",
                    error ? error->message : "the command failed");
        return;
    }
    json_builder_end_object(b);
    if (id) {
        json_builder_set_member_name(b, "id");
        json_builder_add_value(b, json_node_copy(id));
    }
    json_builder_end_object(b);
    reply = json_builder_get_root(b);
    append_node(s->out, reply);
}

void control_session_input(struct control_session *s, const char *buf, size_t len)
{
    while (len) {
        const char *nl = memchr(buf, '\n', len);
        size_t chunk = nl ? (size_t)(nl - buf) : len;

        if (s->discarding) {
            if (nl)
                s->discarding = false;
        } else if (s->in->len + chunk > CONTROL_MAX_LINE) {
            g_string_truncate(s->in, 0);
            reply_error(s, NULL, "TooLong", "request line longer than 65536 bytes; ignored");
            s->discarding = !nl;
        } else {
            g_string_append_len(s->in, buf, (gssize)chunk);
            if (nl) {
                /* NUL bytes inside a line make it invalid UTF-8 for json-glib. */
                if (memchr(s->in->str, '\0', s->in->len))
                    reply_error(s, NULL, "ParseError", "the request contains a NUL byte");
                else
                    handle_line(s, s->in->str, s->in->len);
                g_string_truncate(s->in, 0);
            }
        }
        if (!nl)
            break;
        len -= chunk + 1;
        buf = nl + 1;
    }
}

char *control_format_event(const char *event, JsonNode *data)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(JsonNode) root = NULL;
    gint64 now = g_get_real_time();
    GString *out = g_string_new(NULL);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "event");
    json_builder_add_string_value(b, event);
    if (data) {
        json_builder_set_member_name(b, "data");
        json_builder_add_value(b, json_node_copy(data));
    }
    json_builder_set_member_name(b, "timestamp");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "seconds");
    json_builder_add_int_value(b, now / G_USEC_PER_SEC);
    json_builder_set_member_name(b, "microseconds");
    json_builder_add_int_value(b, now % G_USEC_PER_SEC);
    json_builder_end_object(b);
    json_builder_end_object(b);
    root = json_builder_get_root(b);
    append_node(out, root);
    return g_string_free(out, FALSE);
}

/* ---- server ---- */

#define MAX_CLIENTS 16
#define MAX_PENDING_OUT (1024 * 1024)

struct control_client {
    struct control_server *srv;
    int fd;
    guint in_watch, out_watch;
    struct control_session *session;
};

struct control_server {
    int fd;
    char *path;
    guint watch;
    const struct control_cmd *cmds;
    void *opaque;
    GPtrArray *clients;
};

static void client_free(struct control_client *c)
{
    if (c->in_watch)
        g_source_remove(c->in_watch);
    if (c->out_watch)
        g_source_remove(c->out_watch);
    close(c->fd);
    control_session_free(c->session);
    g_free(c);
}

static void client_drop(struct control_client *c)
{
    g_ptr_array_remove(c->srv->clients, c);
}

static gboolean on_client_out(gint fd, GIOCondition cond, gpointer data);

/* Sends what it can; the rest waits for the socket to drain. */
static bool client_flush(struct control_client *c)
{
    GString *out = control_session_output(c->session);

    while (out->len) {
        ssize_t n = send(c->fd, out->str, out->len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (out->len > MAX_PENDING_OUT)
                return false;   /* a client that never reads is dropped */
            if (!c->out_watch)
                c->out_watch = g_unix_fd_add(c->fd, G_IO_OUT, on_client_out, c);
            return true;
        }
        if (n <= 0)
            return false;
        g_string_erase(out, 0, n);
    }
    return true;
}

static gboolean on_client_out(gint fd, GIOCondition cond, gpointer data)
{
    struct control_client *c = data;

    c->out_watch = 0;
    if (!client_flush(c)) {
        client_drop(c);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_REMOVE;
}

static gboolean on_client_in(gint fd, GIOCondition cond, gpointer data)
{
    struct control_client *c = data;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->in_watch = 0;
        client_drop(c);
        return G_SOURCE_REMOVE;
    }
    control_session_input(c->session, buf, (size_t)n);
    if (!client_flush(c)) {
        c->in_watch = 0;
        client_drop(c);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct control_server *srv = data;
    struct control_client *c;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    if (srv->clients->len >= MAX_CLIENTS) {
        static const char busy[] =
            "{\"error\":{\"class\":\"TooManyClients\",\"desc\":\"too many control clients\"}}\n";
        ssize_t r = send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);

        (void)r;
        close(cfd);
        return G_SOURCE_CONTINUE;
    }
    c = g_new0(struct control_client, 1);
    c->srv = srv;
    c->fd = cfd;
    c->session = control_session_new(srv->cmds, srv->opaque);
    c->in_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_in, c);
    g_ptr_array_add(srv->clients, c);
    if (!client_flush(c))
        client_drop(c);
    return G_SOURCE_CONTINUE;
}

struct control_server *control_server_new(const char *path, const struct control_cmd *cmds,
                                          void *opaque, char *err, size_t errlen)
{
    struct control_server *srv;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_autofree char *dir = g_path_get_dirname(path);
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket path '%s' is too long", path);
        return NULL;
    }
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
        return NULL;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* A stale socket from a VM that is gone may be replaced; a live one not. */
        int probe;
        bool live;

        if (errno != EADDRINUSE)
            goto fail;
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live) {
            snprintf(err, errlen, "control socket '%s' belongs to a running VM", path);
            close(fd);
            return NULL;
        }
        unlink(path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            goto fail;
    }
    chmod(path, 0600);
    if (listen(fd, 8) < 0)
        goto fail;

    srv = g_new0(struct control_server, 1);
    srv->fd = fd;
    srv->path = g_strdup(path);
    srv->cmds = cmds;
    srv->opaque = opaque;
    srv->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    srv->watch = g_unix_fd_add(fd, G_IO_IN, on_accept, srv);
    return srv;

fail:
    snprintf(err, errlen, "cannot listen on control socket '%s': %s", path, strerror(errno));
    close(fd);
    return NULL;
}

void control_server_broadcast(struct control_server *srv, const char *line)
{
    for (guint i = 0; i < srv->clients->len;) {
        struct control_client *c = g_ptr_array_index(srv->clients, i);

        g_string_append(control_session_output(c->session), line);
        /* This may run inside the client's own input handler, so a broken
         * client is shut down here and freed by that handler on EOF. */
        if (!client_flush(c))
            shutdown(c->fd, SHUT_RDWR);
        i++;
    }
}

void control_server_flush(struct control_server *srv)
{
    for (guint i = 0; i < srv->clients->len; i++) {
        struct control_client *c = g_ptr_array_index(srv->clients, i);
        GString *out = control_session_output(c->session);
        int tries = 100;

        while (out->len && tries--) {
            if (!client_flush(c))
                break;
            if (out->len)
                g_usleep(1000);
        }
    }
}

void control_server_free(struct control_server *srv)
{
    if (!srv)
        return;
    g_source_remove(srv->watch);
    g_ptr_array_free(srv->clients, TRUE);
    close(srv->fd);
    unlink(srv->path);
    g_free(srv->path);
    g_free(srv);
}
