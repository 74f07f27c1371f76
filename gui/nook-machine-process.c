/* NookMachineProcess: spawns nook-vmm so that it outlives the app, or
 * adopts one an earlier run of the app left running; follows its control
 * socket and notices when it exits. */
#include "nook-machine-process.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONNECT_INTERVAL_MS 50
#define CONNECT_TIMEOUT_MS  15000
#define ANSWER_TIMEOUT_MS   10000
#define DRAIN_TIMEOUT_MS    1000
#define GONE_INTERVAL_MS    50
#define GONE_TIMEOUT_MS     3000
#define LOG_TAIL_LINES      20
#define LOG_ROTATE_BYTES    (1024 * 1024)
/* Starts each run's part of the log; the tail shown is the last run's. */
#define LOG_RUN_MARKER      "== nook-vmm started "
/* nook-vmm's exit status for a machine it refused to start (its
 * VM_EXIT_CONFIG_ERROR); its last line on stderr says why. */
#define VMM_EXIT_REFUSED    2
/* How nook-vmm's own lines on stderr start. */
#define VMM_LINE_PREFIX     "nook-vmm: "

struct _NookMachineProcess
{
  GObject parent_instance;

  /* owned */
  char **argv;
  char *control_path;
  char *log_path;
  GSubprocess *subprocess;     /* NULL when adopted */
  GCancellable *cancellable;
  GSocketConnection *connection;
  GDataInputStream *input;
  GHashTable *pending;          /* id -> GTask */
  char *pid_string;             /* adopted: from the pid file, checked; else NULL */
  guint connect_source;
  guint answer_source;
  guint drain_source;
  guint gone_source;
  gint64 connect_deadline;
  gint64 gone_deadline;
  gint64 next_id;
  GPid pid;                     /* adopted: 0 when unknown */
  gboolean adopted;
  gboolean greeted;
  gboolean answered;            /* query-status replied after the greeting */
  gboolean stop_requested;      /* quit, powerdown or a signal went to it */
  gboolean shutdown_seen;       /* the "shutdown" event with its exit status */
  int shutdown_status;
  gboolean exit_pending;        /* waitpid() said, replies still to read */
  NookProcessExit exit_how;
  char *exit_message;
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

static void     try_connect (NookMachineProcess  *self);
static GSocket *connect_now (const char          *path,
                             GError             **error);

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

  /* Only the watch ends here: nook-vmm runs on without the app. */
  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->connect_source, g_source_remove);
  g_clear_handle_id (&self->answer_source, g_source_remove);
  g_clear_handle_id (&self->drain_source, g_source_remove);
  g_clear_handle_id (&self->gone_source, g_source_remove);
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
  g_free (self->pid_string);
  g_free (self->exit_message);
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
  /* how (a NookProcessExit), message (NULL after a clean exit) */
  signals[SIGNAL_EXITED] =
    g_signal_new ("exited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
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

/* The last lines of a log file from its last run (after the last line
 * open_log() started a run with), for messages; NULL when that part is
 * empty or the file cannot be read. */
char *
nook_read_log_tail (const char *path,
                    guint       lines)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  gsize first = 0;
  gsize start;
  guint seen = 0;

  if (!g_file_get_contents (path, &text, &len, NULL) || len == 0)
    return NULL;
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    len--;
  for (const char *m = g_strstr_len (text, (gssize) len, LOG_RUN_MARKER); m;
       m = g_strstr_len (m + 1, (gssize) (len - (gsize) (m + 1 - text)), LOG_RUN_MARKER))
    if (m == text || m[-1] == '\n')
      {
        const char *nl = memchr (m, '\n', len - (gsize) (m - text));

        first = nl ? (gsize) (nl + 1 - text) : len;
      }
  if (len <= first)
    return NULL;
  for (start = len; start > first; start--)
    if (text[start - 1] == '\n' && ++seen == lines)
      break;
  return g_utf8_make_valid (text + start, (gssize) (len - start));
}

/* Why nook-vmm refused to start: its last error line in the log's last
 * run (what it printed on stderr before it exited), without its "nook-vmm: "
 * and "error: "; NULL when there is none. */
static char *
read_refusal (const char *log_path)
{
  g_autofree char *tail = nook_read_log_tail (log_path, LOG_TAIL_LINES);
  g_auto(GStrv) lines = tail ? g_strsplit (tail, "\n", -1) : NULL;
  guint n = lines ? g_strv_length (lines) : 0;

  for (guint i = n; i-- > 0;)
    {
      const char *l = lines[i];

      if (!g_str_has_prefix (l, VMM_LINE_PREFIX))
        continue;
      l += strlen (VMM_LINE_PREFIX);
      if (g_str_has_prefix (l, "warning: ") || g_str_has_prefix (l, "info: ") || g_str_has_prefix (l, "debug: "))
        continue;
      if (g_str_has_prefix (l, "error: "))
        l += strlen ("error: ");
      if (*l)
        return g_strstrip (g_strdup (l));
    }
  return NULL;
}

/* Emits "exited" once. A refused start is told with nook-vmm's own reason
 * (the log is a click away), else like a crash: @message and the end of
 * the log. A clean exit has no message. */
static void
report_exit (NookMachineProcess *self,
             NookProcessExit     how,
             char               *message)
{
  g_autoptr(NookMachineProcess) alive = NULL;
  g_autofree char *text = message;
  g_autofree char *reason = NULL;
  g_autofree char *tail = NULL;

  if (self->exited)
    return;
  /* A handler may drop the last reference to us. */
  alive = g_object_ref (self);
  self->exited = TRUE;
  g_clear_handle_id (&self->connect_source, g_source_remove);
  g_clear_handle_id (&self->answer_source, g_source_remove);
  g_clear_handle_id (&self->drain_source, g_source_remove);
  g_clear_handle_id (&self->gone_source, g_source_remove);
  disconnect (self);

  reason = how == NOOK_PROCESS_EXIT_FAILED_TO_START ? read_refusal (self->log_path) : NULL;
  if (reason)
    {
      g_free (text);
      text = g_steal_pointer (&reason);
    }
  else if (how != NOOK_PROCESS_EXIT_CLEAN)
    {
      tail = nook_read_log_tail (self->log_path, LOG_TAIL_LINES);
    }
  if (tail)
    {
      char *full = g_strdup_printf (_("%s\n\nThe last lines of %s:\n%s"), text, self->log_path, tail);

      g_free (text);
      text = full;
    }
  g_signal_emit (self, signals[SIGNAL_EXITED], 0, (int) how, text);
}

/* What an exit status of nook-vmm means, and the message for it (NULL for
 * a clean exit). */
static NookProcessExit
judge_status (int    status,
              char **message)
{
  if (status == 0)
    {
      *message = NULL;
      return NOOK_PROCESS_EXIT_CLEAN;
    }
  if (status == VMM_EXIT_REFUSED)
    {
      *message = g_strdup (_("nook-vmm refused to start this machine."));
      return NOOK_PROCESS_EXIT_FAILED_TO_START;
    }
  *message = g_strdup_printf (_("nook-vmm stopped with exit status %d."), status);
  return NOOK_PROCESS_EXIT_CRASHED;
}

static void
report_pending_exit (NookMachineProcess *self)
{
  self->drain_source = 0;
  report_exit (self, self->exit_how, g_steal_pointer (&self->exit_message));
}

static void
on_exited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  NookMachineProcess *self;
  GSubprocess *subprocess = G_SUBPROCESS (source);
  g_autoptr(GError) error = NULL;
  NookProcessExit how;
  char *message;

  /* Cancelled by dispose: the app no longer watches this nook-vmm. */
  if (!g_subprocess_wait_finish (subprocess, result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  if (g_subprocess_get_if_signaled (subprocess))
    {
      int sig = g_subprocess_get_term_sig (subprocess);

      message = g_strdup_printf (_("nook-vmm was killed by signal %d (%s)."), sig, g_strsignal (sig));
      how = NOOK_PROCESS_EXIT_CRASHED;
    }
  else
    {
      how = judge_status (g_subprocess_get_exit_status (subprocess), &message);
    }
  if (!self->connection)
    {
      report_exit (self, how, message);
      return;
    }
  /* The child watch can come before the last lines on the socket (the
   * reply to quit, the shutdown event): those are read to the end first. */
  self->exit_pending = TRUE;
  self->exit_how = how;
  self->exit_message = message;
  self->drain_source = g_timeout_add_once (DRAIN_TIMEOUT_MS, (GSourceOnceFunc) report_pending_exit, self);
}

/* An adopted nook-vmm is not our child, so there is no waitpid() status.
 * Just before it exits, nook-vmm sends every client a "shutdown"
 * state-changed event carrying its exit status; that status is judged as a
 * child's would be. An end of the connection without that event means
 * nook-vmm never reached its exit path (a signal, a crash): a stop if a quit
 * or power-off had been asked of it through this connection (force off may
 * end in a signal), otherwise a crash, told with the end of its log, whose
 * last lines are all there is to say why. */
static void
adopted_gone (NookMachineProcess *self)
{
  char *message;

  if (self->shutdown_seen)
    {
      NookProcessExit how = judge_status (self->shutdown_status, &message);

      report_exit (self, how, message);
    }
  else if (self->stop_requested)
    report_exit (self, NOOK_PROCESS_EXIT_CLEAN, NULL);
  else
    report_exit (self, NOOK_PROCESS_EXIT_CRASHED, g_strdup (_("nook-vmm went away without saying why.")));
}

/* The end of the connection comes as nook-vmm's descriptors close, which
 * may be before its control socket stops listening (a killed nook-vmm's
 * descriptors close one by one, some slowly): it is gone, and a new one can
 * be started, once the socket no longer accepts, or after GONE_TIMEOUT_MS. */
static void
check_gone (gpointer user_data)
{
  NookMachineProcess *self = user_data;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;

  self->gone_source = 0;
  socket = connect_now (self->control_path, &error);
  if (socket && g_get_monotonic_time () < self->gone_deadline)
    {
      self->gone_source = g_timeout_add_once (GONE_INTERVAL_MS, check_gone, self);
      return;
    }
  adopted_gone (self);
}

static void
emit_state (NookMachineProcess *self,
            JsonObject         *data)
{
  const char *state = json_object_get_string_member_with_default (data, "state", NULL);
  const char *reason = json_object_get_string_member_with_default (data, "reason", NULL);

  if (g_strcmp0 (state, "shutdown") == 0 && json_object_has_member (data, "status"))
    {
      self->shutdown_seen = TRUE;
      self->shutdown_status = (int) json_object_get_int_member_with_default (data, "status", 1);
    }
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

      if (!JSON_NODE_HOLDS_OBJECT (g) ||
          g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (g), "protocol", NULL),
                     "nook-control") != 0)
        return;
      self->greeted = TRUE;
      if (json_object_get_int_member_with_default (json_node_get_object (g), "version", 0) != 1)
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
      /* EOF or a broken connection: for a child the exit watch reports
       * the rest; an adopted nook-vmm is gone. */
      if (error)
        g_debug ("control connection: %s", error->message);
      disconnect (self);
      if (self->adopted)
        {
          self->gone_deadline = g_get_monotonic_time () + GONE_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
          check_gone (self);
        }
      else if (self->exit_pending)
        report_exit (self, self->exit_how, g_steal_pointer (&self->exit_message));
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
  if (!ret || !JSON_NODE_HOLDS_OBJECT (ret) || !self->greeted)
    return;
  self->answered = TRUE;
  g_clear_handle_id (&self->answer_source, g_source_remove);
  emit_state (self, json_node_get_object (ret));
}

/* Reads replies and events from @connection and asks for the state. */
static void
attach (NookMachineProcess *self,
        GSocketConnection  *connection)
{
  self->connection = connection;
  self->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (self->input, G_DATA_STREAM_NEWLINE_TYPE_LF);
  read_next (self);
  g_signal_emit (self, signals[SIGNAL_CONNECTED], 0);
  nook_machine_process_execute (self, "query-status", NULL, self->cancellable, on_status, NULL);
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
  attach (self, connection);
}

static void
try_connect (NookMachineProcess *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (self->control_path);

  self->connect_source = 0;
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), self->cancellable, on_connect, self);
}

/* The log, opened for appending after a line that starts this run's part;
 * a log grown past LOG_ROTATE_BYTES is kept as .old first. -1 with @error
 * set when it cannot be opened. */
static int
open_log (const char  *path,
          GError     **error)
{
  g_autofree char *marker = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  GStatBuf st;
  int fd;
  int saved;

  if (g_stat (path, &st) == 0 && st.st_size > LOG_ROTATE_BYTES)
    {
      g_autofree char *old = g_strconcat (path, ".old", NULL);

      if (g_rename (path, old) < 0)
        g_debug ("cannot keep %s as %s: %s", path, old, g_strerror (errno));
    }
  fd = g_open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot open the log %s: %s"), path, g_strerror (saved));
      return -1;
    }
  marker = g_strdup_printf ("%s%s ==\n", LOG_RUN_MARKER, stamp);
  if (write (fd, marker, strlen (marker)) < 0)
    g_debug ("cannot write to %s: %s", path, g_strerror (errno));
  return fd;
}

/* In the child before exec: a session of its own, so that neither the
 * app's end nor its terminal's signals reach nook-vmm. */
static void
child_setup (gpointer user_data)
{
  setsid ();
}

/**
 * nook_machine_process_start:
 *
 * Spawns nook-vmm detached from the app: in a session of its own, stdin
 * from /dev/null, stdout and stderr appended to the log. Nothing of it
 * depends on the app staying alive.
 */
gboolean
nook_machine_process_start (NookMachineProcess  *self,
                            GError             **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  int out;
  int err;

  g_return_val_if_fail (NOOK_IS_MACHINE_PROCESS (self), FALSE);
  g_return_val_if_fail (self->subprocess == NULL && !self->adopted, FALSE);

  out = open_log (self->log_path, error);
  if (out < 0)
    return FALSE;
  err = fcntl (out, F_DUPFD_CLOEXEC, 3);
  if (err < 0)
    {
      int saved = errno;

      close (out);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s", g_strerror (saved));
      return FALSE;
    }
  /* stdin is /dev/null unless a flag asks otherwise. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_take_stdout_fd (launcher, out);
  g_subprocess_launcher_take_stderr_fd (launcher, err);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  self->subprocess = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, error);
  if (!self->subprocess)
    return FALSE;
  g_subprocess_wait_async (self->subprocess, self->cancellable, on_exited, self);
  self->connect_deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  self->connect_source = g_timeout_add_once (CONNECT_INTERVAL_MS, (GSourceOnceFunc) try_connect, self);
  return TRUE;
}

static void
on_no_answer (gpointer user_data)
{
  NookMachineProcess *self = user_data;

  self->answer_source = 0;
  if (self->answered)
    return;
  report_exit (self, NOOK_PROCESS_EXIT_CRASHED,
               g_strdup_printf (_("nook-vmm does not answer on %s."), self->control_path));
}

/* Whether @pid is a nook-vmm serving @control_path, from its command line:
 * a pid file may outlive its process and the number be reused. */
gboolean
nook_vmm_pid_matches (GPid        pid,
                      const char *control_path)
{
  g_autofree char *path = NULL;
  g_autofree char *cmdline = NULL;
  gsize len = 0;

  if (pid <= 0)
    return FALSE;
  path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  if (!g_file_get_contents (path, &cmdline, &len, NULL))
    return FALSE;
  for (gsize i = 0; i < len; i += strlen (cmdline + i) + 1)
    {
      const char *arg = cmdline + i;

      if (g_str_equal (arg, control_path) ||
          (g_str_has_prefix (arg, "--control=") && g_str_equal (arg + strlen ("--control="), control_path)))
        return TRUE;
    }
  return FALSE;
}

/* A connected socket, without waiting: a unix socket connects at once or
 * fails at once, and non-blocking a full backlog is an error, not a wait. */
static GSocket *
connect_now (const char  *path,
             GError     **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (!socket)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  address = g_unix_socket_address_new (path);
  if (!g_socket_connect (socket, address, NULL, error))
    return NULL;
  g_socket_set_blocking (socket, TRUE);
  return g_steal_pointer (&socket);
}

/* Whether @path is a unix socket file nobody listens on: what a process
 * that died without removing it leaves. */
gboolean
nook_socket_is_stale (const char *path)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;

  socket = connect_now (path, &error);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/**
 * nook_machine_process_adopt:
 * @pid: the pid the app recorded when it spawned this nook-vmm, or 0
 *
 * Takes over a nook-vmm that an earlier run of the app started. The
 * control socket must accept a connection; it is alive once its greeting
 * and its answer to query-status arrive (as "state-changed"), and if they
 * do not within ANSWER_TIMEOUT_MS the process reports "exited" as a crash.
 * A socket file nobody listens on fails with %G_IO_ERROR_CONNECTION_REFUSED
 * (a nook-vmm that died without removing it), a missing one with
 * %G_IO_ERROR_NOT_FOUND. @pid is only used (for SIGTERM and SIGKILL) while
 * its command line names @control_path.
 */
NookMachineProcess *
nook_machine_process_adopt (const char  *control_path,
                            const char  *log_path,
                            GPid         pid,
                            GError     **error)
{
  g_autoptr(NookMachineProcess) self = NULL;
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (control_path != NULL, NULL);
  g_return_val_if_fail (log_path != NULL, NULL);

  socket = connect_now (control_path, error);
  if (!socket)
    return NULL;

  self = g_object_new (NOOK_TYPE_MACHINE_PROCESS, NULL);
  self->argv = g_new0 (char *, 1);
  self->control_path = g_strdup (control_path);
  self->log_path = g_strdup (log_path);
  self->adopted = TRUE;
  if (nook_vmm_pid_matches (pid, control_path))
    {
      self->pid = pid;
      self->pid_string = g_strdup_printf ("%d", (int) pid);
    }
  attach (self, g_socket_connection_factory_create_connection (socket));
  self->answer_source = g_timeout_add_once (ANSWER_TIMEOUT_MS, on_no_answer, self);
  return g_steal_pointer (&self);
}

gboolean
nook_machine_process_is_adopted (NookMachineProcess *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_PROCESS (self), FALSE);

  return self->adopted;
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

  if (self->exited)
    return NULL;
  if (self->adopted)
    return self->pid_string;
  return self->subprocess ? g_subprocess_get_identifier (self->subprocess) : NULL;
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
  if (g_str_equal (command, "quit") || g_str_equal (command, "powerdown"))
    self->stop_requested = TRUE;
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

/* An adopted nook-vmm is signalled by pid only while that pid is still it. */
static void
signal_adopted (NookMachineProcess *self,
                int                 sig)
{
  if (nook_vmm_pid_matches (self->pid, self->control_path) && kill (self->pid, sig) < 0)
    g_debug ("cannot signal nook-vmm %d: %s", (int) self->pid, g_strerror (errno));
}

/* SIGTERM: nook-vmm quits as for the quit command. */
void
nook_machine_process_terminate (NookMachineProcess *self)
{
  g_return_if_fail (NOOK_IS_MACHINE_PROCESS (self));

  if (self->exited)
    return;
  self->stop_requested = TRUE;
  if (self->adopted)
    signal_adopted (self, SIGTERM);
  else if (self->subprocess)
    g_subprocess_send_signal (self->subprocess, SIGTERM);
}

void
nook_machine_process_kill (NookMachineProcess *self)
{
  g_return_if_fail (NOOK_IS_MACHINE_PROCESS (self));

  if (self->exited)
    return;
  self->stop_requested = TRUE;
  if (self->adopted)
    signal_adopted (self, SIGKILL);
  else if (self->subprocess)
    g_subprocess_force_exit (self->subprocess);
}
