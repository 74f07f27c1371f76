/* NookMachineProcess: spawns nook-vmm, follows its control socket and
 * notices when it exits. */
#include "nook-machine-process.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>
#include <signal.h>

#define CONNECT_INTERVAL_MS 50
#define CONNECT_TIMEOUT_MS  15000
#define LOG_TAIL_LINES      20

struct _NookMachineProcess
{
  GObject parent_instance;

  /* owned */
  char **argv;
  char *control_path;
  char *log_path;
  GSubprocess *subprocess;
  GCancellable *cancellable;
  GSocketConnection *connection;
  GDataInputStream *input;
  GHashTable *pending;          /* id -> GTask */
  guint connect_source;
  gint64 connect_deadline;
  gint64 next_id;
  gboolean exited;
};

G_DEFINE_FINAL_TYPE (NookMachineProcess, nook_machine_process, G_TYPE_OBJECT)

enum {
  SIGNAL_CONNECTED,
  SIGNAL_STATE_CHANGED,
  SIGNAL_EXITED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void try_connect (NookMachineProcess *self);

static void
fail_pending (NookMachineProcess *self,
              const char         *why)
{
  GHashTableIter iter;
  gpointer task;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &task))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s", why);
      g_hash_table_iter_remove (&iter);
    }
}

static void
disconnect (NookMachineProcess *self)
{
  if (self->connection)
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
  g_clear_object (&self->input);
  g_clear_object (&self->connection);
  fail_pending (self, _("The connection to the virtual machine closed"));
}

static void
nook_machine_process_dispose (GObject *object)
{
  NookMachineProcess *self = NOOK_MACHINE_PROCESS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->connect_source, g_source_remove);
  disconnect (self);
  G_OBJECT_CLASS (nook_machine_process_parent_class)->dispose (object);
}

static void
nook_machine_process_finalize (GObject *object)
{
  NookMachineProcess *self = NOOK_MACHINE_PROCESS (object);

  g_strfreev (self->argv);
  g_free (self->control_path);
  g_free (self->log_path);
  g_clear_object (&self->subprocess);
  g_clear_object (&self->cancellable);
  g_hash_table_unref (self->pending);
  G_OBJECT_CLASS (nook_machine_process_parent_class)->finalize (object);
}

static void
nook_machine_process_class_init (NookMachineProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nook_machine_process_dispose;
  object_class->finalize = nook_machine_process_finalize;

  signals[SIGNAL_CONNECTED] =
    g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* state, reason: what nook-vmm's state-changed event or query-status says */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /* crashed, message (NULL after a clean exit) */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_STRING);
}

static void
nook_machine_process_init (NookMachineProcess *self)
{
  self->cancellable = g_cancellable_new ();
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->next_id = 1;
}

NookMachineProcess *
nook_machine_process_new (const char * const *argv,
                          const char         *control_path,
                          const char         *log_path)
{
  NookMachineProcess *self;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);
  g_return_val_if_fail (control_path != NULL, NULL);
  g_return_val_if_fail (log_path != NULL, NULL);

  self = g_object_new (NOOK_TYPE_MACHINE_PROCESS, NULL);
  self->argv = g_strdupv ((char **) argv);
  self->control_path = g_strdup (control_path);
  self->log_path = g_strdup (log_path);
  return self;
}

/* The last lines of a log file, for messages; NULL when it is empty or
 * cannot be read. */
char *
nook_read_log_tail (const char *path,
                    guint       lines)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  gsize start;
  guint seen = 0;

  if (!g_file_get_contents (path, &text, &len, NULL) || len == 0)
    return NULL;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  if (len == 0)
    return NULL;
  for (start = len; start > 0; start--)
    if (text[start - 1] == '\n' && ++seen == lines)
      break;
  return g_utf8_make_valid (text + start, (gssize) (len - start));
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(NookMachineProcess) self = user_data;
  GSubprocess *subprocess = G_SUBPROCESS (source);
  g_autofree char *message = NULL;
  g_autofree char *tail = NULL;
  gboolean crashed;

  g_subprocess_wait_finish (subprocess, result, NULL);
  self->exited = TRUE;
  g_clear_handle_id (&self->connect_source, g_source_remove);
  disconnect (self);

  if (g_subprocess_get_if_signaled (subprocess))
    {
      int sig = g_subprocess_get_term_sig (subprocess);

      crashed = TRUE;
      message = g_strdup_printf (_("nook-vmm was killed by signal %d (%s)."), sig, g_strsignal (sig));
    }
  else
    {
      int status = g_subprocess_get_exit_status (subprocess);

      crashed = status != 0;
      if (status == 2)
        message = g_strdup (_("nook-vmm refused to start this machine."));
      else if (crashed)
        message = g_strdup_printf (_("nook-vmm stopped with exit status %d."), status);
    }

  if (crashed)
    {
      tail = nook_read_log_tail (self->log_path, LOG_TAIL_LINES);
      if (tail)
        {
          char *full = g_strdup_printf (_("%s\n\nThe last lines of %s:\n%s"), message, self->log_path, tail);

          g_free (message);
          message = full;
        }
    }
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, crashed, message);
}

static void
emit_state (NookMachineProcess *self,
            JsonObject         *data)
{
  const char *state = json_object_get_string_member_with_default (data, "state", NULL);
  const char *reason = json_object_get_string_member_with_default (data, "reason", NULL);

  if (state)
    g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, state, reason);
}

static void
handle_line (NookMachineProcess *self,
             const char         *line)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj;

  if (!json_parser_load_from_data (parser, line, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_debug ("ignoring a line from nook-vmm that is not a JSON object: %s", line);
      return;
    }
  obj = json_node_get_object (json_parser_get_root (parser));

  if (json_object_has_member (obj, "event"))
    {
      const char *event = json_object_get_string_member_with_default (obj, "event", "");
      JsonNode *data = json_object_get_member (obj, "data");

      if (g_str_equal (event, "state-changed") && data && JSON_NODE_HOLDS_OBJECT (data))
        emit_state (self, json_node_get_object (data));
      return;
    }

  if (json_object_has_member (obj, "return") || json_object_has_member (obj, "error"))
    {
      JsonNode *id_node = json_object_get_member (obj, "id");
      gint64 id;
      GTask *task;

      if (!id_node || !JSON_NODE_HOLDS_VALUE (id_node) || json_node_get_value_type (id_node) != G_TYPE_INT64)
        return;
      id = json_node_get_int (id_node);
      task = g_hash_table_lookup (self->pending, &id);
      if (!task)
        return;
      g_object_ref (task);
      g_hash_table_remove (self->pending, &id);
      if (json_object_has_member (obj, "error"))
        {
          JsonNode *err = json_object_get_member (obj, "error");
          const char *desc = NULL;

          if (JSON_NODE_HOLDS_OBJECT (err))
            desc = json_object_get_string_member_with_default (json_node_get_object (err), "desc", NULL);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                                   desc ? desc : _("The virtual machine refused the command"));
        }
      else
        {
          g_task_return_pointer (task, json_node_copy (json_object_get_member (obj, "return")),
                                 (GDestroyNotify) json_node_unref);
        }
      g_object_unref (task);
      return;
    }
  /* The greeting: nothing to do beyond knowing the protocol. */
  if (json_object_has_member (obj, "greeting"))
    {
      JsonNode *g = json_object_get_member (obj, "greeting");

      if (JSON_NODE_HOLDS_OBJECT (g) &&
          json_object_get_int_member_with_default (json_node_get_object (g), "version", 0) != 1)
        g_warning ("nook-vmm speaks control protocol version %" G_GINT64_FORMAT ", not 1",
                   json_object_get_int_member_with_default (json_node_get_object (g), "version", 0));
    }
}

static void read_next (NookMachineProcess *self);

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  NookMachineProcess *self;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  if (!line)
    {
      /* EOF or a broken connection: the exit watch reports the rest. */
      if (error)
        g_debug ("control connection: %s", error->message);
      disconnect (self);
      return;
    }
  handle_line (self, line);
  if (self->input)
    read_next (self);
}

static void
read_next (NookMachineProcess *self)
{
  g_data_input_stream_read_line_async (self->input, G_PRIORITY_DEFAULT, self->cancellable, on_line, self);
}

static void
on_status (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  NookMachineProcess *self = NOOK_MACHINE_PROCESS (source);
  g_autoptr(JsonNode) ret = NULL;

  ret = nook_machine_process_execute_finish (self, result, NULL);
  if (ret && JSON_NODE_HOLDS_OBJECT (ret))
    emit_state (self, json_node_get_object (ret));
}

static void
on_connect (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;
  NookMachineProcess *self;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  if (!connection)
    {
      if (self->exited)
        return;
      if (g_get_monotonic_time () > self->connect_deadline)
        {
          g_warning ("nook-vmm did not open %s in time: %s", self->control_path, error->message);
          nook_machine_process_kill (self);
          return;
        }
      self->connect_source = g_timeout_add_once (CONNECT_INTERVAL_MS, (GSourceOnceFunc) try_connect, self);
      return;
    }
  self->connection = connection;
  self->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (self->input, G_DATA_STREAM_NEWLINE_TYPE_LF);
  read_next (self);
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
  nook_machine_process_execute (self, "query-status", NULL, self->cancellable, on_status, NULL);
}

static void
try_connect (NookMachineProcess *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (self->control_path);

  self->connect_source = 0;
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), self->cancellable, on_connect, self);
}

gboolean
nook_machine_process_start (NookMachineProcess  *self,
                            GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  g_return_val_if_fail (NOOK_IS_MACHINE_PROCESS (self), FALSE);
  g_return_val_if_fail (self->subprocess == NULL, FALSE);

  /* nook-vmm's stdout and stderr go to the log shown when it crashes. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, self->log_path);
  self->subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, error);
  if (!self->subprocess)
    return FALSE;
  g_subprocess_wait_async (self->subprocess, NULL, on_exited, g_object_ref (self));
  self->connect_deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  self->connect_source = g_timeout_add_once (CONNECT_INTERVAL_MS, (GSourceOnceFunc) try_connect, self);
  return TRUE;
}

gboolean
nook_machine_process_is_connected (NookMachineProcess *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_PROCESS (self), FALSE);

  return self->connection != NULL;
}

const char *
nook_machine_process_get_identifier (NookMachineProcess *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_PROCESS (self), NULL);

  return self->subprocess && !self->exited ? g_subprocess_get_identifier (self->subprocess) : NULL;
}

void
nook_machine_process_execute (NookMachineProcess  *self,
                              const char          *command,
                              JsonNode            *arguments,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  GOutputStream *out;
  gint64 id;

  g_return_if_fail (NOOK_IS_MACHINE_PROCESS (self));
  g_return_if_fail (command != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nook_machine_process_execute);
  if (!self->connection)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               _("The virtual machine is not ready for commands yet"));
      return;
    }

  id = self->next_id++;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "execute");
  json_builder_add_string_value (builder, command);
  if (arguments)
    {
      json_builder_set_member_name (builder, "arguments");
      json_builder_add_value (builder, json_node_copy (arguments));
    }
  json_builder_set_member_name (builder, "id");
  json_builder_add_int_value (builder, id);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  line = json_to_string (root, FALSE);

  /* Lines are short and the socket is local: a blocking write is fine. */
  out = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  if (!g_output_stream_write_all (out, line, strlen (line), NULL, NULL, &error) ||
      !g_output_stream_write_all (out, "\n", 1, NULL, NULL, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_hash_table_insert (self->pending, g_memdup2 (&id, sizeof id), g_steal_pointer (&task));
}

JsonNode *
nook_machine_process_execute_finish (NookMachineProcess  *self,
                                     GAsyncResult        *result,
                                     GError             **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* SIGTERM: nook-vmm quits as for the quit command. */
void
nook_machine_process_terminate (NookMachineProcess *self)
{
  g_return_if_fail (NOOK_IS_MACHINE_PROCESS (self));

  if (self->subprocess && !self->exited)
    g_subprocess_send_signal (self->subprocess, SIGTERM);
}

void
nook_machine_process_kill (NookMachineProcess *self)
{
  g_return_if_fail (NOOK_IS_MACHINE_PROCESS (self));

  if (self->subprocess && !self->exited)
    g_subprocess_force_exit (self->subprocess);
}
