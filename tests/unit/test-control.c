/* Unit tests for control protocol sessions, driven through
 * control_session_input/output with a command table of our own; no socket. */
#include "core/control.h"
#include "unit.h"

struct fixture {
    struct control_session *s;
    unsigned calls;
};

static bool cmd_query_status(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    struct fixture *f = opaque;

    f->calls++;
    json_builder_set_member_name(ret, "running");
    json_builder_add_boolean_value(ret, TRUE);
    return true;
}

static bool cmd_echo(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    struct fixture *f = opaque;

    f->calls++;
    json_builder_set_member_name(ret, "had-arguments");
    json_builder_add_boolean_value(ret, args != NULL);
    if (args && json_object_has_member(args, "value")) {
        json_builder_set_member_name(ret, "value");
        json_builder_add_value(ret, json_node_copy(json_object_get_member(args, "value")));
    }
    return true;
}

static bool cmd_fail(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_WRONG_STATE, "the machine is not running");
    return false;
}

static bool cmd_fail_bad_arg(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    g_set_error(error, CONTROL_ERROR, CONTROL_ERROR_INVALID_ARGUMENT, "'size' is missing");
    return false;
}

static bool cmd_fail_silently(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error)
{
    return false;
}

static const struct control_cmd commands[] = {
    { "query-status", cmd_query_status },
    { "echo", cmd_echo },
    { "fail", cmd_fail },
    { "fail-bad-arg", cmd_fail_bad_arg },
    { "fail-silently", cmd_fail_silently },
    { NULL, NULL },
};

static void setup(struct fixture *f, gconstpointer data)
{
    f->calls = 0;
    f->s = control_session_new(commands, f);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    control_session_free(f->s);
}

/* Parses and removes every complete output line; each must be one JSON
 * object on one line. */
static GPtrArray *take(struct fixture *f)
{
    GString *out = control_session_output(f->s);
    GPtrArray *lines = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);
    const char *p = out->str;

    while (*p) {
        const char *nl = strchr(p, '\n');
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GError) error = NULL;

        g_assert_nonnull(nl);
        if (!json_parser_load_from_data(parser, p, nl - p, &error))
            g_error("reply is not JSON (%s): %.*s", error->message, (int)(nl - p), p);
        g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
        g_ptr_array_add(lines, json_node_copy(json_parser_get_root(parser)));
        p = nl + 1;
    }
    g_string_truncate(out, 0);
    return lines;
}

static void drop_greeting(struct fixture *f)
{
    g_autoptr(GPtrArray) lines = take(f);

    g_assert_cmpuint(lines->len, ==, 1);
}

static void feed(struct fixture *f, const char *text)
{
    control_session_input(f->s, text, strlen(text));
}

/* Sends text and expects exactly one reply, which it returns. */
static JsonObject *ask(struct fixture *f, const char *text, JsonNode **keep)
{
    g_autoptr(GPtrArray) lines = NULL;

    feed(f, text);
    lines = take(f);
    if (lines->len != 1)
        g_error("expected one reply to %.60s, got %u", text, lines->len);
    *keep = json_node_ref(g_ptr_array_index(lines, 0));
    return json_node_get_object(*keep);
}

static void assert_error(JsonObject *reply, const char *klass)
{
    JsonObject *e;

    g_assert_false(json_object_has_member(reply, "return"));
    g_assert_true(json_object_has_member(reply, "error"));
    e = json_object_get_object_member(reply, "error");
    g_assert_cmpstr(json_object_get_string_member(e, "class"), ==, klass);
    g_assert_cmpuint(strlen(json_object_get_string_member(e, "desc")), >, 0);
}

static void expect_error(struct fixture *f, const char *text, const char *klass)
{
    g_autoptr(JsonNode) keep = NULL;

    assert_error(ask(f, text, &keep), klass);
}

static const char *error_desc(JsonObject *reply)
{
    return json_object_get_string_member(json_object_get_object_member(reply, "error"), "desc");
}

static void test_greeting(struct fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) lines = take(f);
    JsonObject *g;

    /* Before any input: one line, and it is the greeting. */
    g_assert_cmpuint(lines->len, ==, 1);
    g = json_node_get_object(g_ptr_array_index(lines, 0));
    g_assert_true(json_object_has_member(g, "greeting"));
    g = json_object_get_object_member(g, "greeting");
    g_assert_cmpstr(json_object_get_string_member(g, "protocol"), ==, "nook-control");
    g_assert_cmpint(json_object_get_int_member(g, "version"), ==, CONTROL_PROTOCOL_VERSION);
    g_assert_cmpint(CONTROL_PROTOCOL_VERSION, >=, 1);
    g_assert_cmpstr(json_object_get_string_member(g, "vmm"), ==, NOOK_VERSION);
    g_assert_false(control_session_wants_close(f->s));
}

static void test_query(struct fixture *f, gconstpointer data)
{
    g_autoptr(JsonNode) keep = NULL;
    JsonObject *r;

    drop_greeting(f);
    r = ask(f, "{\"execute\":\"query-status\"}\n", &keep);
    g_assert_false(json_object_has_member(r, "error"));
    g_assert_false(json_object_has_member(r, "id"));
    g_assert_true(json_object_get_boolean_member(json_object_get_object_member(r, "return"),
                                                 "running"));
    g_assert_cmpuint(f->calls, ==, 1);
}

static void test_arguments(struct fixture *f, gconstpointer data)
{
    g_autoptr(JsonNode) k1 = NULL, k2 = NULL;
    g_autofree char *value = NULL;
    JsonObject *ret;

    drop_greeting(f);
    ret = json_object_get_object_member(
        ask(f, "{\"arguments\":{\"value\":[1,\"two\",{\"three\":3}]},\"execute\":\"echo\"}\n", &k1),
        "return");
    g_assert_true(json_object_get_boolean_member(ret, "had-arguments"));
    value = json_to_string(json_object_get_member(ret, "value"), FALSE);
    g_assert_cmpstr(value, ==, "[1,\"two\",{\"three\":3}]");
    ret = json_object_get_object_member(ask(f, "{\"execute\":\"echo\"}\n", &k2), "return");
    g_assert_false(json_object_get_boolean_member(ret, "had-arguments"));
}

static void test_id_echoed(struct fixture *f, gconstpointer data)
{
    static const char *const ids[] = {
        "7", "-12", "1.5", "\"abc\"", "\"\"", "null", "true", "false", "[]", "[1,[2,[3]]]",
        "{\"a\":{\"b\":[null,\"x\"]}}", "\"\\u00e9\\n\"", "9223372036854775807",
    };

    drop_greeting(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        g_autoptr(JsonNode) want = json_from_string(ids[i], NULL);
        g_autoptr(JsonNode) k1 = NULL, k2 = NULL, k3 = NULL;
        g_autofree char *ok = g_strdup_printf("{\"execute\":\"query-status\",\"id\":%s}\n", ids[i]);
        g_autofree char *bad = g_strdup_printf("{\"id\":%s,\"execute\":\"nope\"}\n", ids[i]);
        g_autofree char *fail = g_strdup_printf("{\"execute\":\"fail\",\"id\":%s}\n", ids[i]);
        JsonObject *r;

        g_assert_nonnull(want);
        r = ask(f, ok, &k1);
        g_assert_true(json_object_has_member(r, "id"));
        g_assert_true(json_node_equal(json_object_get_member(r, "id"), want));
        r = ask(f, bad, &k2);
        g_assert_true(json_node_equal(json_object_get_member(r, "id"), want));
        r = ask(f, fail, &k3);
        g_assert_true(json_node_equal(json_object_get_member(r, "id"), want));
    }
}

static void test_unknown_command(struct fixture *f, gconstpointer data)
{
    g_autoptr(JsonNode) keep = NULL;
    JsonObject *r;

    drop_greeting(f);
    r = ask(f, "{\"execute\":\"launch-missiles\"}\n", &keep);
    assert_error(r, "CommandNotFound");
    g_assert_nonnull(strstr(error_desc(r), "launch-missiles"));
    /* Prefixes and case variants are not commands either. */
    expect_error(f, "{\"execute\":\"query\"}\n", "CommandNotFound");
    expect_error(f, "{\"execute\":\"Query-Status\"}\n", "CommandNotFound");
    expect_error(f, "{\"execute\":\"\"}\n", "CommandNotFound");
    g_assert_cmpuint(f->calls, ==, 0);
}

static void test_parse_errors(struct fixture *f, gconstpointer data)
{
    static const char *const bad[] = {
        "{\"execute\":\n", "nul\n", "{\"a\":1}}\n", "{\n",
        "}\n", "{\"execute\":\"query-status\",}\n", "\"unterminated\n", "\xff\xfe{}\n",
        "{\"execute\":\"\xc3\x28\"}\n",
        /* Escapes json-glib takes but JSON has not, and a lone surrogate:
         * each would become a string that is not UTF-8. */
        "{\"execute\":\"echo\",\"arguments\":{\"value\":\"a\\777b\"}}\n",
        "{\"execute\":\"echo\",\"arguments\":{\"value\":\"\\x41\"}}\n",
        "{\"execute{\\\"]\\77777\\\\\\\\]\"}\n",
        "{\"execute\":\"echo\",\"arguments\":{\"value\":\"a\\ud800b\"}}\n",
        "{\"execute\":\"query-status\",\"id\":[\"\\udfff\"]}\n",
    };

    drop_greeting(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++)
        expect_error(f, bad[i], "ParseError");
    g_assert_cmpuint(f->calls, ==, 0);
}

static void test_number_range(struct fixture *f, gconstpointer data)
{
    /* Numbers json-glib would write back as "inf.0" or "1e-08.0"; take()
     * checks that every reply, these included, parses. */
    static const char *const unwritable[] = { "-1.5e888", "1e999", "1e-8", "2e17", "1e20" };
    static const char *const fine[] = { "1.5e-8", "0.1", "-0.0", "1e-400", "123456.75", "1.5e300" };

    drop_greeting(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(unwritable); i++) {
        g_autofree char *in_id = g_strdup_printf("{\"execute\":\"query-status\",\"id\":%s}\n",
                                                 unwritable[i]);
        g_autofree char *nested = g_strdup_printf(
            "{\"execute\":\"echo\",\"arguments\":{\"value\":[1,{\"x\":%s}]}}\n", unwritable[i]);

        expect_error(f, in_id, "ParseError");
        expect_error(f, nested, "ParseError");
    }
    g_assert_cmpuint(f->calls, ==, 0);

    for (unsigned i = 0; i < G_N_ELEMENTS(fine); i++) {
        g_autofree char *req = g_strdup_printf(
            "{\"execute\":\"echo\",\"arguments\":{\"value\":%s},\"id\":%s}\n", fine[i], fine[i]);
        g_autoptr(JsonNode) keep = NULL;
        g_autoptr(JsonNode) want = json_from_string(fine[i], NULL);
        JsonObject *r = ask(f, req, &keep);

        g_assert_true(json_object_has_member(r, "return"));
        g_assert_cmpfloat(json_object_get_double_member(r, "id"), ==, json_node_get_double(want));
    }
}

static void test_string_escapes(struct fixture *f, gconstpointer data)
{
    g_autoptr(JsonNode) keep = NULL;
    JsonObject *r;

    /* Every escape JSON has comes back as the character it names. */
    drop_greeting(f);
    r = ask(f, "{\"execute\":\"echo\",\"arguments\":{\"value\":"
               "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}}\n", &keep);
    g_assert_true(json_object_has_member(r, "return"));
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(r, "return"), "value"),
                    ==, "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
}

static void test_invalid_requests(struct fixture *f, gconstpointer data)
{
    drop_greeting(f);
    expect_error(f, "[1,2]\n", "InvalidRequest");
    expect_error(f, "[{\"execute\":\"query-status\"}]\n", "InvalidRequest");
    expect_error(f, "{}\n", "InvalidRequest");
    expect_error(f, "{\"command\":\"query-status\"}\n", "InvalidRequest");
    expect_error(f, "{\"execute\":42}\n", "InvalidRequest");
    expect_error(f, "{\"execute\":null}\n", "InvalidRequest");
    expect_error(f, "{\"execute\":{\"name\":\"query-status\"}}\n", "InvalidRequest");
    expect_error(f, "{\"execute\":[\"query-status\"]}\n", "InvalidRequest");
    g_assert_cmpuint(f->calls, ==, 0);
}

static void test_scalar_root(struct fixture *f, gconstpointer data)
{
    static const char *const roots[] = { "42\n", "\"query-status\"\n", "null\n", "true\n" };

    /* Valid JSON, but a bare value is no request. */
    drop_greeting(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(roots); i++)
        expect_error(f, roots[i], "InvalidRequest");
}

static void test_bad_arguments(struct fixture *f, gconstpointer data)
{
    drop_greeting(f);
    expect_error(f, "{\"execute\":\"echo\",\"arguments\":[1]}\n", "InvalidArgument");
    expect_error(f, "{\"execute\":\"echo\",\"arguments\":\"x\"}\n", "InvalidArgument");
    expect_error(f, "{\"execute\":\"echo\",\"arguments\":null}\n", "InvalidArgument");
    expect_error(f, "{\"execute\":\"echo\",\"arguments\":3}\n", "InvalidArgument");
    g_assert_cmpuint(f->calls, ==, 0);
}

static void test_command_errors(struct fixture *f, gconstpointer data)
{
    g_autoptr(JsonNode) k1 = NULL, k2 = NULL, k3 = NULL;
    JsonObject *r;

    drop_greeting(f);
    r = ask(f, "{\"execute\":\"fail\"}\n", &k1);
    assert_error(r, "WrongState");
    g_assert_cmpstr(error_desc(r), ==, "the machine is not running");
    expect_error(f, "{\"execute\":\"fail-bad-arg\"}\n", "InvalidArgument");
    r = ask(f, "{\"execute\":\"fail-silently\"}\n", &k2);
    assert_error(r, "GenericError");
    /* A failed command leaves the session usable. */
    r = ask(f, "{\"execute\":\"query-status\"}\n", &k3);
    g_assert_true(json_object_has_member(r, "return"));
}

/* A request padded with spaces inside the object to exactly len bytes,
 * newline not counted. */
static char *padded_request(size_t len, const char *id)
{
    g_autofree char *head = g_strdup_printf("{\"execute\":\"query-status\",\"id\":\"%s\"", id);
    GString *s = g_string_new(head);

    g_assert_cmpuint(len, >, s->len + 1);
    while (s->len < len - 1)
        g_string_append_c(s, ' ');
    g_string_append(s, "}\n");
    return g_string_free(s, FALSE);
}

static void test_too_long(struct fixture *f, gconstpointer data)
{
    g_autofree char *max = padded_request(CONTROL_MAX_LINE, "max");
    g_autofree char *over = padded_request(CONTROL_MAX_LINE + 1, "over");
    g_autofree char *huge = padded_request(3 * CONTROL_MAX_LINE, "huge");
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(JsonNode) keep = NULL;
    JsonObject *r;

    drop_greeting(f);
    r = ask(f, max, &keep);
    g_assert_cmpstr(json_object_get_string_member(r, "id"), ==, "max");
    expect_error(f, over, "TooLong");

    /* Too long in one call, with a good request right behind it. */
    {
        g_autofree char *both = g_strconcat(over, "{\"execute\":\"query-status\",\"id\":1}\n",
                                            NULL);

        feed(f, both);
        lines = take(f);
        g_assert_cmpuint(lines->len, ==, 2);
        assert_error(json_node_get_object(g_ptr_array_index(lines, 0)), "TooLong");
        r = json_node_get_object(g_ptr_array_index(lines, 1));
        g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 1);
        g_clear_pointer(&lines, g_ptr_array_unref);
    }

    /* Too long across many calls: one error, then the next line works. */
    for (size_t off = 0; off < strlen(huge); off += 1000)
        control_session_input(f->s, huge + off, MIN(1000, strlen(huge) - off));
    lines = take(f);
    g_assert_cmpuint(lines->len, ==, 1);
    assert_error(json_node_get_object(g_ptr_array_index(lines, 0)), "TooLong");
    g_clear_pointer(&lines, g_ptr_array_unref);
    feed(f, "{\"execute\":\"query-status\",\"id\":2}\n");
    lines = take(f);
    g_assert_cmpuint(lines->len, ==, 1);
    g_assert_cmpint(json_object_get_int_member(json_node_get_object(g_ptr_array_index(lines, 0)),
                                               "id"), ==, 2);
    g_assert_cmpuint(f->calls, ==, 3);
}

static void test_split_input(struct fixture *f, gconstpointer data)
{
    const char *req = "{\"execute\":\"query-status\",\"id\":\"split\"}\n"
                      "{\"execute\":\"echo\",\"id\":\"second\"}\n";
    size_t len = strlen(req), first_end = strchr(req, '\n') - req;
    g_autoptr(GPtrArray) lines = NULL;

    drop_greeting(f);
    /* One byte at a time: nothing until the newline, then the reply. */
    for (size_t i = 0; i < len; i++) {
        control_session_input(f->s, req + i, 1);
        if (i < first_end)
            g_assert_cmpuint(control_session_output(f->s)->len, ==, 0);
    }
    lines = take(f);
    g_assert_cmpuint(lines->len, ==, 2);
    g_clear_pointer(&lines, g_ptr_array_unref);

    /* Every split point into two calls gives the same two replies. */
    for (size_t cut = 0; cut <= len; cut++) {
        control_session_input(f->s, req, cut);
        control_session_input(f->s, req + cut, len - cut);
        lines = take(f);
        g_assert_cmpuint(lines->len, ==, 2);
        g_assert_cmpstr(json_object_get_string_member(
            json_node_get_object(g_ptr_array_index(lines, 0)), "id"), ==, "split");
        g_assert_cmpstr(json_object_get_string_member(
            json_node_get_object(g_ptr_array_index(lines, 1)), "id"), ==, "second");
        g_clear_pointer(&lines, g_ptr_array_unref);
    }
}

static char *nested(unsigned depth, const char *open, const char *close)
{
    GString *s = g_string_new("{\"execute\":\"echo\",\"arguments\":{\"value\":");

    for (unsigned i = 0; i < depth; i++)
        g_string_append(s, open);
    for (unsigned i = 0; i < depth; i++)
        g_string_append(s, close);
    g_string_append(s, "}}\n");
    return g_string_free(s, FALSE);
}

static void test_deep_nesting(struct fixture *f, gconstpointer data)
{
    /* The request object and "arguments" are two levels of the limit. */
    g_autofree char *ok = nested(CONTROL_MAX_DEPTH - 2, "[", "]");
    g_autofree char *deep = nested(CONTROL_MAX_DEPTH - 1, "[", "]");
    g_autofree char *objects = nested(1000, "{\"a\":", "}");
    g_autofree char *very = nested(30000, "[", "]");
    g_autoptr(JsonNode) keep = NULL;
    g_autoptr(GString) in_string = g_string_new("{\"execute\":\"echo\",\"arguments\":{\"value\":\"");
    GString *unbalanced = g_string_new(NULL);
    JsonObject *r;

    drop_greeting(f);
    r = ask(f, ok, &keep);
    g_assert_true(json_object_has_member(r, "return"));
    expect_error(f, deep, "ParseError");
    expect_error(f, objects, "ParseError");
    expect_error(f, very, "ParseError");

    /* Brackets inside strings, escaped quotes included, are not nesting. */
    for (unsigned i = 0; i < 100; i++)
        g_string_append(in_string, "[{\\\"");
    g_string_append(in_string, "\"}}\n");
    g_clear_pointer(&keep, json_node_unref);
    r = ask(f, in_string->str, &keep);
    g_assert_true(json_object_has_member(r, "return"));

    /* Closers first do not buy room for openers later. */
    for (unsigned i = 0; i < 20000; i++)
        g_string_append_c(unbalanced, ']');
    for (unsigned i = 0; i < 20000; i++)
        g_string_append_c(unbalanced, '[');
    g_string_append_c(unbalanced, '\n');
    expect_error(f, unbalanced->str, "ParseError");
    g_string_free(unbalanced, TRUE);
}

static void test_one_value_per_line(struct fixture *f, gconstpointer data)
{
    static const char *const extra[] = {
        "{\"execute\":\"query-status\"} {\"execute\":\"query-status\"}\n",
        "{\"execute\":\"query-status\"}[]\n", "{} {}\n", "[1] [2]\n", "\"str1\"{}\n",
        "1 [2]\n", "{\"execute\":\"query-status\"}]\n", "{\"execute\":\"query-status\"} x\n",
    };
    /* json-glib takes these, and with them would see brackets this count
     * does not; none of them is JSON. */
    static const char *const lenient[] = {
        "/* hello */ {\"execute\":\"query-status\"}\n", "{\"execute\":\"query-status\"} /* c */\n",
        "/( c *x\"}/[1] [2]\n", "{'execute':'query-status'}\n",
        "{'\"':[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n",
    };
    g_autoptr(JsonNode) keep = NULL;
    JsonObject *r;

    /* json-glib leaks the first value when a second follows, so a line holds
     * one request and nothing else. */
    drop_greeting(f);
    for (unsigned i = 0; i < G_N_ELEMENTS(extra); i++)
        expect_error(f, extra[i], "ParseError");
    for (unsigned i = 0; i < G_N_ELEMENTS(lenient); i++)
        expect_error(f, lenient[i], "ParseError");
    g_assert_cmpuint(f->calls, ==, 0);

    /* Inside strings all of these are plain characters. */
    r = ask(f, "{\"execute\":\"echo\",\"arguments\":{\"value\":\"/* ' ] } [ { */\"},\"id\":1} \n",
            &keep);
    g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 1);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(r, "return"),
                                                  "value"), ==, "/* ' ] } [ { */");
}

static void test_nul_byte(struct fixture *f, gconstpointer data)
{
    static const char req[] = "{\"execute\":\"query-status\"}\0\n{\"execute\":\"query-status\",\"id\":3}\n";
    g_autoptr(GPtrArray) lines = NULL;
    JsonObject *r;

    drop_greeting(f);
    control_session_input(f->s, req, sizeof(req) - 1);
    lines = take(f);
    g_assert_cmpuint(lines->len, ==, 2);
    r = json_node_get_object(g_ptr_array_index(lines, 0));
    assert_error(r, "ParseError");
    g_assert_nonnull(strstr(error_desc(r), "NUL"));
    r = json_node_get_object(g_ptr_array_index(lines, 1));
    g_assert_cmpint(json_object_get_int_member(r, "id"), ==, 3);
    g_assert_cmpuint(f->calls, ==, 1);
}

static void test_pipelined(struct fixture *f, gconstpointer data)
{
    static const int want_ids[] = { 1, 2, 3, 0, 5 };
    g_autoptr(GPtrArray) lines = NULL;

    drop_greeting(f);
    feed(f, "{\"execute\":\"query-status\",\"id\":1}\n"
            "{\"execute\":\"nope\",\"id\":2}\n"
            "\n"
            "  \r\n"
            "{\"execute\":\"echo\",\"id\":3}\r\n"
            "garbage\n"
            "{\"execute\":\"query-status\",\"id\":5}\n"
            "{\"execute\":\"query-status\",\"id\":6}");
    lines = take(f);
    /* Blank lines get no reply; the unterminated last one waits. */
    g_assert_cmpuint(lines->len, ==, 5);
    for (unsigned i = 0; i < lines->len; i++) {
        JsonObject *r = json_node_get_object(g_ptr_array_index(lines, i));

        if (i == 3) {
            assert_error(r, "ParseError");
            continue;
        }
        g_assert_cmpint(json_object_get_int_member(r, "id"), ==, want_ids[i]);
    }
    g_clear_pointer(&lines, g_ptr_array_unref);
    feed(f, "\n");
    lines = take(f);
    g_assert_cmpuint(lines->len, ==, 1);
    g_assert_cmpint(json_object_get_int_member(json_node_get_object(g_ptr_array_index(lines, 0)),
                                               "id"), ==, 6);
}

static void test_event_format(void)
{
    g_autoptr(JsonNode) data = json_from_string("{\"status\":0}", NULL);
    g_autofree char *line = control_format_event("SHUTDOWN", data);
    g_autofree char *bare = control_format_event("RESET", NULL);
    g_autoptr(JsonNode) node = NULL;
    JsonObject *o, *ts;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    g_assert_true(g_str_has_suffix(line, "}\n"));
    g_assert_true(strchr(line, '\n') == line + strlen(line) - 1);
    node = json_from_string(line, NULL);
    o = json_node_get_object(node);
    g_assert_cmpstr(json_object_get_string_member(o, "event"), ==, "SHUTDOWN");
    g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "data"), "status"),
                    ==, 0);
    ts = json_object_get_object_member(o, "timestamp");
    g_assert_cmpint(json_object_get_int_member(ts, "seconds"), >=, now - 5);
    g_assert_cmpint(json_object_get_int_member(ts, "seconds"), <=, now + 5);
    g_assert_cmpint(json_object_get_int_member(ts, "microseconds"), <, G_USEC_PER_SEC);
    g_clear_pointer(&node, json_node_unref);
    node = json_from_string(bare, NULL);
    g_assert_false(json_object_has_member(json_node_get_object(node), "data"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/control/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("greeting", test_greeting);
    ADD("query", test_query);
    ADD("arguments", test_arguments);
    ADD("id-echoed", test_id_echoed);
    ADD("unknown-command", test_unknown_command);
    ADD("parse-errors", test_parse_errors);
    ADD("number-range", test_number_range);
    ADD("string-escapes", test_string_escapes);
    ADD("invalid-requests", test_invalid_requests);
    ADD("scalar-root", test_scalar_root);
    ADD("bad-arguments", test_bad_arguments);
    ADD("command-errors", test_command_errors);
    ADD("too-long", test_too_long);
    ADD("split-input", test_split_input);
    ADD("deep-nesting", test_deep_nesting);
    ADD("one-value-per-line", test_one_value_per_line);
    ADD("nul-byte", test_nul_byte);
    ADD("pipelined", test_pipelined);
#undef ADD
    g_test_add_func("/control/event-format", test_event_format);
    return g_test_run();
}
