/* The control protocol: newline-delimited JSON over a unix socket. A client
 * gets a greeting, sends {"execute": NAME, "arguments": {...}, "id": ANY},
 * and gets {"return": ...} or {"error": {"class", "desc"}} with the same id.
 * Events ({"event", "data", "timestamp"}) may arrive at any time. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stddef.h>

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_MAX_LINE (64 * 1024)
#define CONTROL_MAX_DEPTH 32

GQuark control_error_quark(void);
#define CONTROL_ERROR control_error_quark()

enum control_error_code {
    CONTROL_ERROR_GENERIC,          /* "GenericError" */
    CONTROL_ERROR_INVALID_ARGUMENT, /* "InvalidArgument" */
    CONTROL_ERROR_WRONG_STATE,      /* "WrongState" */
};

/* A command fills ret (a JSON object is open on it) or sets error. */
typedef bool (*control_cmd_fn)(void *opaque, JsonObject *args, JsonBuilder *ret, GError **error);

struct control_cmd {
    const char *name;
    control_cmd_fn fn;
};

struct control_session;

/* cmds ends with a { NULL, NULL } entry and outlives the session. */
struct control_session *control_session_new(const struct control_cmd *cmds, void *opaque);
void control_session_free(struct control_session *s);
/* Feeds bytes from the client; replies are appended to the output. */
void control_session_input(struct control_session *s, const char *buf, size_t len);
GString *control_session_output(struct control_session *s);
bool control_session_wants_close(const struct control_session *s);

/* Formats one event line (with the trailing newline); data may be NULL. */
char *control_format_event(const char *event, JsonNode *data);

/* The socket server on the default GLib main context. */
struct control_server;

struct control_server *control_server_new(const char *path, const struct control_cmd *cmds,
                                          void *opaque, char *err, size_t errlen);
void control_server_free(struct control_server *srv);
void control_server_broadcast(struct control_server *srv, const char *line);
/* Flushes pending replies (blocking briefly), e.g. before the process exits. */
void control_server_flush(struct control_server *srv);
