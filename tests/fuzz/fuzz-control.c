/* Fuzz target for the control protocol: the input is fed to a session in
 * chunks of varying size, and every line the session writes back must be one
 * JSON object, with no more replies than lines sent. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/control.h"
#include "fuzz.h"

static bool cmd_query(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    json_builder_set_member_name(ret, "running");
    json_builder_add_boolean_value(ret, TRUE);
    return true;
}

static bool cmd_echo(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    if (args && json_object_has_member(args, "value")) {
        json_builder_set_member_name(ret, "value");
        json_builder_add_value(ret, json_node_copy(json_object_get_member(args, "value")));
    }
    return true;
}

static bool cmd_fail(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_WRONG_STATE, "not now");
    return false;
}

static const struct control_cmd commands[] = {
    { "query-status", cmd_query },
    { "echo", cmd_echo },
    { "fail", cmd_fail },
    { NULL, NULL },
};

/* Checks and consumes the output; returns how many lines it held. */
static size_t drain(struct control_session *s)
{
    GString *out = control_session_output(s);
    const char *p = out->str, *end = out->str + out->len;
    size_t lines = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        JsonParser *parser;

        if (!nl || nl == p || p[0] != '{' || nl[-1] != '}')
            abort();
        parser = json_parser_new();
        if (!json_parser_load_from_data(parser, p, nl - p, NULL) ||
            !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
            abort();
        g_object_unref(parser);
        lines++;
        p = nl + 1;
    }
    g_string_truncate(out, 0);
    return lines;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* GLib's slice allocator hides leaks from LeakSanitizer and makes mallocs and
 * frees of an input never pair up, after which libFuzzer scans for leaks on
 * every input. GLib reads G_SLICE before this runs, hence the re-exec. The
 * warm-up does GLib's one-time setup outside any input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char warm_up[] =
        "{\"execute\":\"query-status\",\"id\":1}\n{\"execute\":\"echo\",\"arguments\":"
        "{\"value\":[1.5,\"x\",null,{}]}}\n{\"execute\":\"fail\"}\n{\"execute\":\"nope\"}\n[\n";
    const char *slice = getenv("G_SLICE");
    struct control_session *s;

    if (!slice || strcmp(slice, "always-malloc") != 0) {
        setenv("G_SLICE", "always-malloc", 1);
        execv("/proc/self/exe", *argv);
        abort();
    }
    s = control_session_new(commands, NULL);
    control_session_input(s, warm_up, sizeof(warm_up) - 1);
    drain(s);
    control_session_free(s);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct control_session *s;
    uint32_t rng;
    size_t off = 1, newlines = 0, replies;

    if (size < 1)
        return 0;
    /* The first byte seeds the chunk sizes; the rest is the byte stream. */
    rng = data[0] * 2654435761u + 1;
    s = control_session_new(commands, NULL);
    replies = drain(s);
    if (replies != 1)
        abort();
    while (off < size) {
        size_t n;

        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        n = (rng & 3) == 0 ? size - off : 1 + rng % 97;
        if (n > size - off)
            n = size - off;
        control_session_input(s, (const char *)data + off, n);
        for (size_t i = 0; i < n; i++)
            newlines += data[off + i] == '\n';
        replies += drain(s);
        /* One reply at most per line, plus the greeting. */
        if (replies > newlines + 1)
            abort();
        off += n;
    }
    control_session_free(s);
    return 0;
}
