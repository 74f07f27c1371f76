/* Asks nook-vmm --check-accel whether virtual machines can run here: the
 * accelerator is nook-vmm's business (design.md), so is the diagnosis. */
#include "nook-accel.h"

#include "nook-machine.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

void
nook_accel_status_free (NookAccelStatus *status)
{
  if (!status)
    return;
  g_free (status->code);
  g_free (status->device);
  g_free (status->problem);
  g_free (status->remedy);
  g_free (status);
}

static char *
dup_member (JsonObject *obj,
            const char *name)
{
  const char *s = json_object_get_string_member_with_default (obj, name, NULL);

  return s && *s ? g_strdup (s) : NULL;
}

/* What nook-vmm --check-accel printed, or NULL with @error set when that
 * is not its answer. */
static NookAccelStatus *
nook_accel_status_parse (const char  *json,
                         GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(NookAccelStatus) status = NULL;
  JsonObject *obj;
  JsonNode *ok;

  if (!json_parser_load_from_data (parser, json, -1, error))
    return NULL;
  obj = JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))
          ? json_node_get_object (json_parser_get_root (parser)) : NULL;
  ok = obj ? json_object_get_member (obj, "ok") : NULL;
  if (!ok || !JSON_NODE_HOLDS_VALUE (ok) || json_node_get_value_type (ok) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The answer has no “ok”"));
      return NULL;
    }
  status = g_new0 (NookAccelStatus, 1);
  status->ok = json_node_get_boolean (ok);
  status->code = dup_member (obj, "code");
  status->device = dup_member (obj, "device");
  if (!status->ok)
    {
      status->problem = dup_member (obj, "problem");
      status->remedy = dup_member (obj, "remedy");
      if (!status->problem)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("The answer names no problem"));
          return NULL;
        }
    }
  return g_steal_pointer (&status);
}

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  NookAccelStatus *status;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, &err, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  status = out ? nook_accel_status_parse (out, &error) : NULL;
  if (!status)
    {
      /* An older nook-vmm, or one that cannot run: what it said. */
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, _("nook-vmm could not say: %s"),
                               err && *g_strstrip (err) ? err : error ? error->message : _("no answer"));
      return;
    }
  g_task_return_pointer (task, status, (GDestroyNotify) nook_accel_status_free);
}

/**
 * nook_accel_check:
 *
 * Runs nook-vmm --check-accel (the nook-vmm machines start with) without
 * waiting for it; nook_accel_check_finish() gives its answer.
 */
void
nook_accel_check (GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *vmm = nook_find_vmm ();
  g_autoptr(GSubprocess) subprocess = NULL;
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, nook_accel_check);
  subprocess = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                                 vmm, "--check-accel", NULL);
  if (!subprocess)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot run %s: %s"), vmm, error->message);
      return;
    }
  g_subprocess_communicate_utf8_async (subprocess, NULL, cancellable, on_communicated, g_steal_pointer (&task));
}

NookAccelStatus *
nook_accel_check_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
