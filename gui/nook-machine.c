/* NookMachine: machine.ini (read, checked, written atomically) and the state
 * of the machine's nook-vmm. */
#include "nook-machine-private.h"
#include "nook-machine-process.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/un.h>
#include <unistd.h>

#define GROUP_MACHINE "machine"
#define GROUP_DISK    "disk0"
#define GROUP_CDROM   "cdrom"
#define GROUP_KERNEL  "kernel"
#define GROUP_SOUND   "sound"

#define MEMORY_MIN 16
#define MEMORY_MAX (1024 * 1024)
#define CPUS_MAX   64

/* In the runtime folder: the pid of the nook-vmm the app spawned. */
#define PID_FILE "nook-vmm.pid"

struct _NookMachine
{
  GObject parent_instance;

  /* owned */
  char *id;
  char *dir;
  GKeyFile *keyfile;            /* as read, so that unknown keys and comments survive a save */
  char *name;
  char *os_id;
  char *os_name;
  guint memory;                 /* MiB */
  guint cpus;
  char *firmware;
  char *display;
  char *disk_path;
  char *disk_format;
  gboolean disk_readonly;
  char *cdrom;
  char *kernel;
  char *initrd;
  char *append;
  char *sound;                  /* the sound card: hda or none */
  gboolean microphone;          /* the guest may hear the host's microphone */
  NookMachineState state;
  char *message;
  char *log_path;
  NookMachineProcess *process;
  /* What the running nook-vmm's query-status said last. */
  gboolean has_audio;
  gboolean audio_muted;
};

G_DEFINE_FINAL_TYPE (NookMachine, nook_machine, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (NookMachineState, nook_machine_state,
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_STOPPED, "stopped"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_STARTING, "starting"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_RUNNING, "running"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_PAUSED, "paused"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_STOPPING, "stopping"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_CRASHED, "crashed"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_FAILED_TO_START, "failed-to-start"),
  G_DEFINE_ENUM_VALUE (NOOK_MACHINE_STATE_BROKEN, "broken"))

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_OS_NAME,
  PROP_MEMORY,
  PROP_CPUS,
  PROP_STATE,
  PROP_MESSAGE,
  PROP_MICROPHONE,
  PROP_HAS_AUDIO,
  PROP_AUDIO_MUTED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
nook_machine_dispose (GObject *object)
{
  NookMachine *self = NOOK_MACHINE (object);

  /* A running nook-vmm outlives the window: only our watch of it ends. */
  g_clear_object (&self->process);
  G_OBJECT_CLASS (nook_machine_parent_class)->dispose (object);
}

static void
nook_machine_finalize (GObject *object)
{
  NookMachine *self = NOOK_MACHINE (object);

  g_free (self->id);
  g_free (self->dir);
  g_key_file_unref (self->keyfile);
  g_free (self->name);
  g_free (self->os_id);
  g_free (self->os_name);
  g_free (self->firmware);
  g_free (self->display);
  g_free (self->disk_path);
  g_free (self->disk_format);
  g_free (self->cdrom);
  g_free (self->kernel);
  g_free (self->initrd);
  g_free (self->append);
  g_free (self->sound);
  g_free (self->message);
  g_free (self->log_path);
  G_OBJECT_CLASS (nook_machine_parent_class)->finalize (object);
}

static void
nook_machine_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  NookMachine *self = NOOK_MACHINE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_OS_NAME:
      g_value_set_string (value, self->os_name);
      break;
    case PROP_MEMORY:
      g_value_set_uint (value, self->memory);
      break;
    case PROP_CPUS:
      g_value_set_uint (value, self->cpus);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_MESSAGE:
      g_value_set_string (value, self->message);
      break;
    case PROP_MICROPHONE:
      g_value_set_boolean (value, self->microphone);
      break;
    case PROP_HAS_AUDIO:
      g_value_set_boolean (value, self->has_audio);
      break;
    case PROP_AUDIO_MUTED:
      g_value_set_boolean (value, self->audio_muted);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nook_machine_class_init (NookMachineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nook_machine_dispose;
  object_class->finalize = nook_machine_finalize;
  object_class->get_property = nook_machine_get_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OS_NAME] =
    g_param_spec_string ("os-name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MEMORY] =
    g_param_spec_uint ("memory", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CPUS] =
    g_param_spec_uint ("cpus", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, NOOK_TYPE_MACHINE_STATE, NOOK_MACHINE_STATE_STOPPED,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MESSAGE] =
    g_param_spec_string ("message", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE] =
    g_param_spec_boolean ("microphone", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Whether the running nook-vmm has a sound card, and whether its output
   * is muted on the host side (query-status's "audio"). */
  properties[PROP_HAS_AUDIO] =
    g_param_spec_boolean ("has-audio", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_AUDIO_MUTED] =
    g_param_spec_boolean ("audio-muted", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
nook_machine_init (NookMachine *self)
{
  self->keyfile = g_key_file_new ();
  self->memory = 2048;
  self->cpus = 2;
  self->firmware = g_strdup ("bios");
  self->display = g_strdup ("spice");
  self->disk_format = g_strdup ("raw");
  self->sound = g_strdup ("hda");
}

static gboolean
set_string (char       **field,
            const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value && *value ? value : NULL);
  return TRUE;
}

static void
set_state (NookMachine      *self,
           NookMachineState  state,
           const char       *message)
{
  gboolean changed_message = set_string (&self->message, message);

  if (self->state != state)
    {
      self->state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    }
  if (changed_message)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MESSAGE]);
}

/* ---- machine.ini ---- */

/* The first line GKeyFile would refuse, with why; 0 when every line is a
 * comment, a [group] or a key=value pair. */
static guint
find_bad_line (const char  *text,
               const char **why)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];

      while (*l == ' ' || *l == '\t')
        l++;
      if (*l == '\0' || *l == '\r' || *l == '#')
        continue;
      if (*l == '[')
        {
          if (!strchr (l, ']'))
            {
              *why = _("a group name is missing its closing ‘]’");
              return i + 1;
            }
          continue;
        }
      if (!strchr (l, '=') || *l == '=')
        {
          *why = _("this line is not a [group], a key=value pair or a comment");
          return i + 1;
        }
    }
  return 0;
}

/* The line of machine.ini where group/key is, for messages; 0 if unknown. */
static guint
find_key_line (const char *text,
               const char *group,
               const char *key)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_group = FALSE;
  gsize key_len = strlen (key);

  for (guint i = 0; lines[i]; i++)
    {
      const char *l = g_strchug (lines[i]);

      if (*l == '[')
        {
          const char *end = strchr (l, ']');

          in_group = end && (gsize) (end - l - 1) == strlen (group) && strncmp (l + 1, group, strlen (group)) == 0;
          continue;
        }
      if (in_group && strncmp (l, key, key_len) == 0 && (l[key_len] == '=' || l[key_len] == ' '))
        return i + 1;
    }
  return 0;
}

/* Sets a "path:line: problem" message and returns FALSE. */
static gboolean
broken_at (GError     **error,
           const char  *path,
           const char  *text,
           const char  *group,
           const char  *key,
           const char  *fmt,
           ...) G_GNUC_PRINTF (6, 7);

static gboolean
broken_at (GError     **error,
           const char  *path,
           const char  *text,
           const char  *group,
           const char  *key,
           const char  *fmt,
           ...)
{
  g_autofree char *why = NULL;
  guint line = key ? find_key_line (text, group, key) : 0;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (line)
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s:%u: %s", path, line, why);
  else
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s: %s", path, why);
  return FALSE;
}

static gboolean
get_uint (GKeyFile    *kf,
          const char  *path,
          const char  *text,
          const char  *group,
          const char  *key,
          guint        lo,
          guint        hi,
          guint       *out,
          GError     **error)
{
  g_autoptr(GError) local = NULL;
  gint64 v;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return TRUE;
  v = g_key_file_get_int64 (kf, group, key, &local);
  if (local || v < lo || v > hi)
    return broken_at (error, path, text, group, key, _("‘%s’ must be a whole number from %u to %u"), key, lo, hi);
  *out = (guint) v;
  return TRUE;
}

static gboolean
get_choice (GKeyFile    *kf,
            const char  *path,
            const char  *text,
            const char  *group,
            const char  *key,
            const char  *const *choices,
            char       **out,
            GError     **error)
{
  g_autofree char *v = g_key_file_get_string (kf, group, key, NULL);

  if (!v)
    return TRUE;
  if (!g_strv_contains (choices, v))
    {
      g_autofree char *list = g_strjoinv (", ", (char **) choices);

      return broken_at (error, path, text, group, key, _("‘%s’ must be one of %s, not ‘%s’"), key, list, v);
    }
  g_free (*out);
  *out = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
parse (NookMachine  *self,
       const char   *path,
       GError      **error)
{
  static const char *const firmwares[] = { "bios", "uefi", NULL };
  static const char *const displays[] = { "spice", "sdl", "none", NULL };
  static const char *const formats[] = { "raw", "qcow2", NULL };
  static const char *const sounds[] = { "hda", "none", NULL };
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  const char *why = NULL;
  guint bad;
  GKeyFile *kf = self->keyfile;

  if (!g_file_get_contents (path, &text, NULL, &local))
    {
      g_set_error (error, local->domain, local->code, "%s", local->message);
      return FALSE;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_UNKNOWN_ENCODING, _("%s: the file is not UTF-8 text"), path);
      return FALSE;
    }
  bad = find_bad_line (text, &why);
  if (bad)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s:%u: %s", path, bad, why);
      return FALSE;
    }
  if (!g_key_file_load_from_data (kf, text, (gsize) -1, G_KEY_FILE_KEEP_COMMENTS, &local))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE, "%s: %s", path, local->message);
      return FALSE;
    }
  if (!g_key_file_has_group (kf, GROUP_MACHINE))
    return broken_at (error, path, text, NULL, NULL, _("there is no [%s] group"), GROUP_MACHINE);

  g_free (self->name);
  self->name = g_key_file_get_string (kf, GROUP_MACHINE, "name", NULL);
  if (!self->name || !*self->name)
    return broken_at (error, path, text, GROUP_MACHINE, "name", _("the machine has no name"));
  self->os_id = g_key_file_get_string (kf, GROUP_MACHINE, "os-id", NULL);
  self->os_name = g_key_file_get_string (kf, GROUP_MACHINE, "os-name", NULL);
  if (!get_uint (kf, path, text, GROUP_MACHINE, "memory", MEMORY_MIN, MEMORY_MAX, &self->memory, error) ||
      !get_uint (kf, path, text, GROUP_MACHINE, "cpus", 1, CPUS_MAX, &self->cpus, error) ||
      !get_choice (kf, path, text, GROUP_MACHINE, "firmware", firmwares, &self->firmware, error) ||
      !get_choice (kf, path, text, GROUP_MACHINE, "display", displays, &self->display, error))
    return FALSE;

  if (g_key_file_has_group (kf, GROUP_DISK))
    {
      self->disk_path = g_key_file_get_string (kf, GROUP_DISK, "path", NULL);
      if (!self->disk_path || !*self->disk_path)
        return broken_at (error, path, text, GROUP_DISK, "path", _("[%s] has no path"), GROUP_DISK);
      if (!get_choice (kf, path, text, GROUP_DISK, "format", formats, &self->disk_format, error))
        return FALSE;
      if (g_key_file_has_key (kf, GROUP_DISK, "readonly", NULL))
        {
          self->disk_readonly = g_key_file_get_boolean (kf, GROUP_DISK, "readonly", &local);
          if (local)
            return broken_at (error, path, text, GROUP_DISK, "readonly", _("‘readonly’ must be true or false"));
        }
    }
  if (g_key_file_has_group (kf, GROUP_CDROM))
    self->cdrom = g_key_file_get_string (kf, GROUP_CDROM, "path", NULL);
  if (g_key_file_has_group (kf, GROUP_KERNEL))
    {
      self->kernel = g_key_file_get_string (kf, GROUP_KERNEL, "path", NULL);
      if (!self->kernel || !*self->kernel)
        return broken_at (error, path, text, GROUP_KERNEL, "path", _("[%s] has no path"), GROUP_KERNEL);
      self->initrd = g_key_file_get_string (kf, GROUP_KERNEL, "initrd", NULL);
      self->append = g_key_file_get_string (kf, GROUP_KERNEL, "append", NULL);
    }
  if (!get_choice (kf, path, text, GROUP_SOUND, "card", sounds, &self->sound, error))
    return FALSE;
  if (g_key_file_has_key (kf, GROUP_SOUND, "microphone", NULL))
    {
      self->microphone = g_key_file_get_boolean (kf, GROUP_SOUND, "microphone", &local);
      if (local)
        return broken_at (error, path, text, GROUP_SOUND, "microphone", _("‘microphone’ must be true or false"));
    }
  return TRUE;
}

/**
 * nook_machine_load:
 * @dir: a machine folder holding machine.ini
 *
 * Always returns a machine: one whose machine.ini cannot be read or is wrong
 * is in the %NOOK_MACHINE_STATE_BROKEN state with the file, the line and the
 * problem as its message, and is never written.
 */
NookMachine *
nook_machine_load (const char *dir)
{
  NookMachine *self = g_object_new (NOOK_TYPE_MACHINE, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  self->dir = g_strdup (dir);
  self->id = g_path_get_basename (dir);
  self->log_path = g_build_filename (dir, "nook-vmm.log", NULL);
  path = nook_machine_get_ini_path (self);
  if (!parse (self, path, &error))
    {
      self->state = NOOK_MACHINE_STATE_BROKEN;
      self->message = g_strdup (error->message);
      if (!self->name || !*self->name)
        {
          g_free (self->name);
          self->name = g_strdup (self->id);
        }
    }
  return self;
}

NookMachine *
nook_machine_new_draft (const char *name)
{
  NookMachine *self = g_object_new (NOOK_TYPE_MACHINE, NULL);

  self->name = g_strdup (name);
  return self;
}

void
nook_machine_set_location (NookMachine *self,
                           const char  *id,
                           const char  *dir)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  set_string (&self->id, id);
  set_string (&self->dir, dir);
  g_clear_pointer (&self->log_path, g_free);
  if (dir)
    self->log_path = g_build_filename (dir, "nook-vmm.log", NULL);
}

static void
put_string (GKeyFile   *kf,
            const char *group,
            const char *key,
            const char *value)
{
  if (value)
    g_key_file_set_string (kf, group, key, value);
  else
    g_key_file_remove_key (kf, group, key, NULL);
}

/* fsync of the folder, so that the rename reaches the disk too. */
static gboolean
sync_dir (const char  *dir,
          GError     **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0 || fsync (fd) < 0)
    {
      saved = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot sync %s: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/**
 * nook_machine_save:
 *
 * Writes machine.ini atomically: a temporary file beside it, fsync, rename
 * over the old one, fsync of the folder. A broken machine is never written.
 */
gboolean
nook_machine_save (NookMachine  *self,
                   GError      **error)
{
  GKeyFile *kf;
  g_autofree char *data = NULL;
  g_autofree char *path = NULL;
  gsize len;

  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);

  if (self->state == NOOK_MACHINE_STATE_BROKEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The machine’s settings are broken and are left as they are: %s"), self->message);
      return FALSE;
    }
  if (!self->dir)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("The machine has no folder yet"));
      return FALSE;
    }

  kf = self->keyfile;
  g_key_file_set_string (kf, GROUP_MACHINE, "name", self->name ? self->name : self->id);
  put_string (kf, GROUP_MACHINE, "os-id", self->os_id);
  put_string (kf, GROUP_MACHINE, "os-name", self->os_name);
  g_key_file_set_uint64 (kf, GROUP_MACHINE, "memory", self->memory);
  g_key_file_set_uint64 (kf, GROUP_MACHINE, "cpus", self->cpus);
  g_key_file_set_string (kf, GROUP_MACHINE, "firmware", self->firmware);
  g_key_file_set_string (kf, GROUP_MACHINE, "display", self->display);
  if (self->disk_path)
    {
      g_key_file_set_string (kf, GROUP_DISK, "path", self->disk_path);
      g_key_file_set_string (kf, GROUP_DISK, "format", self->disk_format);
      g_key_file_set_boolean (kf, GROUP_DISK, "readonly", self->disk_readonly);
    }
  else
    g_key_file_remove_group (kf, GROUP_DISK, NULL);
  if (self->cdrom)
    g_key_file_set_string (kf, GROUP_CDROM, "path", self->cdrom);
  else
    g_key_file_remove_group (kf, GROUP_CDROM, NULL);
  if (self->kernel)
    {
      g_key_file_set_string (kf, GROUP_KERNEL, "path", self->kernel);
      put_string (kf, GROUP_KERNEL, "initrd", self->initrd);
      put_string (kf, GROUP_KERNEL, "append", self->append);
    }
  else
    g_key_file_remove_group (kf, GROUP_KERNEL, NULL);
  g_key_file_set_string (kf, GROUP_SOUND, "card", self->sound);
  g_key_file_set_boolean (kf, GROUP_SOUND, "microphone", self->microphone);

  data = g_key_file_to_data (kf, &len, NULL);
  path = nook_machine_get_ini_path (self);
  if (!g_file_set_contents_full (path, data, (gssize) len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error))
    return FALSE;
  return sync_dir (self->dir, error);
}

/* ---- accessors ---- */

const char *
nook_machine_get_id (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->id;
}

const char *
nook_machine_get_dir (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->dir;
}

char *
nook_machine_get_ini_path (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->dir ? g_build_filename (self->dir, "machine.ini", NULL) : NULL;
}

/* Paths in machine.ini may be relative to the machine's folder. */
char *
nook_machine_resolve_path (NookMachine *self,
                           const char  *path)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);

  if (!path)
    return NULL;
  if (g_path_is_absolute (path) || !self->dir)
    return g_strdup (path);
  return g_build_filename (self->dir, path, NULL);
}

const char *
nook_machine_get_name (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->name;
}

void
nook_machine_set_name (NookMachine *self,
                       const char  *name)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));
  g_return_if_fail (name != NULL && *name != '\0');

  if (set_string (&self->name, name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

const char *
nook_machine_get_os_id (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->os_id;
}

const char *
nook_machine_get_os_name (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->os_name;
}

void
nook_machine_set_os (NookMachine *self,
                     const char  *os_id,
                     const char  *os_name)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  set_string (&self->os_id, os_id);
  if (set_string (&self->os_name, os_name))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OS_NAME]);
}

guint
nook_machine_get_memory (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), 0);
  return self->memory;
}

void
nook_machine_set_memory (NookMachine *self,
                         guint        mib)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  mib = CLAMP (mib, MEMORY_MIN, MEMORY_MAX);
  if (self->memory == mib)
    return;
  self->memory = mib;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MEMORY]);
}

guint
nook_machine_get_cpus (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), 0);
  return self->cpus;
}

void
nook_machine_set_cpus (NookMachine *self,
                       guint        cpus)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  cpus = CLAMP (cpus, 1, CPUS_MAX);
  if (self->cpus == cpus)
    return;
  self->cpus = cpus;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CPUS]);
}

const char *
nook_machine_get_firmware (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->firmware;
}

void
nook_machine_set_firmware (NookMachine *self,
                           const char  *firmware)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));
  g_return_if_fail (g_strcmp0 (firmware, "bios") == 0 || g_strcmp0 (firmware, "uefi") == 0);

  set_string (&self->firmware, firmware);
}

const char *
nook_machine_get_display (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->display;
}

void
nook_machine_set_display (NookMachine *self,
                          const char  *display)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));
  g_return_if_fail (g_strcmp0 (display, "spice") == 0 || g_strcmp0 (display, "sdl") == 0 ||
                    g_strcmp0 (display, "none") == 0);

  set_string (&self->display, display);
}

const char *
nook_machine_get_disk_path (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->disk_path;
}

const char *
nook_machine_get_disk_format (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->disk_format;
}

gboolean
nook_machine_get_disk_readonly (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);
  return self->disk_readonly;
}

void
nook_machine_set_disk (NookMachine *self,
                       const char  *path,
                       const char  *format,
                       gboolean     readonly)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  set_string (&self->disk_path, path);
  set_string (&self->disk_format, format ? format : "raw");
  self->disk_readonly = readonly;
}

const char *
nook_machine_get_cdrom (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->cdrom;
}

void
nook_machine_set_cdrom (NookMachine *self,
                        const char  *path)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));
  set_string (&self->cdrom, path);
}

const char *
nook_machine_get_kernel (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->kernel;
}

const char *
nook_machine_get_initrd (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->initrd;
}

const char *
nook_machine_get_append (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->append;
}

void
nook_machine_set_kernel (NookMachine *self,
                         const char  *kernel,
                         const char  *initrd,
                         const char  *append)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  set_string (&self->kernel, kernel);
  set_string (&self->initrd, initrd);
  set_string (&self->append, append);
}

const char *
nook_machine_get_sound (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->sound;
}

void
nook_machine_set_sound (NookMachine *self,
                        const char  *sound)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));
  g_return_if_fail (g_strcmp0 (sound, "hda") == 0 || g_strcmp0 (sound, "none") == 0);

  set_string (&self->sound, sound);
}

gboolean
nook_machine_get_microphone (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);
  return self->microphone;
}

/* Only the setting: the display connects or drops the microphone. */
void
nook_machine_set_microphone (NookMachine *self,
                             gboolean     microphone)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  microphone = !!microphone;
  if (self->microphone == microphone)
    return;
  self->microphone = microphone;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE]);
}

gboolean
nook_machine_get_has_audio (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);
  return self->has_audio;
}

gboolean
nook_machine_get_audio_muted (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);
  return self->audio_muted;
}

NookMachineState
nook_machine_get_state (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NOOK_MACHINE_STATE_BROKEN);
  return self->state;
}

const char *
nook_machine_get_message (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->message;
}

const char *
nook_machine_get_log_path (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return self->log_path;
}

/* Whether a nook-vmm runs for this machine (starting, running, paused or
 * shutting down). */
gboolean
nook_machine_is_active (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);

  return self->state == NOOK_MACHINE_STATE_STARTING || self->state == NOOK_MACHINE_STATE_RUNNING ||
         self->state == NOOK_MACHINE_STATE_PAUSED || self->state == NOOK_MACHINE_STATE_STOPPING;
}

const char *
nook_machine_state_to_string (NookMachineState state)
{
  switch (state)
    {
    case NOOK_MACHINE_STATE_STOPPED:
      return C_("machine state", "Stopped");
    case NOOK_MACHINE_STATE_STARTING:
      return C_("machine state", "Starting");
    case NOOK_MACHINE_STATE_RUNNING:
      return C_("machine state", "Running");
    case NOOK_MACHINE_STATE_PAUSED:
      return C_("machine state", "Paused");
    case NOOK_MACHINE_STATE_STOPPING:
      return C_("machine state", "Shutting down");
    case NOOK_MACHINE_STATE_CRASHED:
      return C_("machine state", "Crashed");
    case NOOK_MACHINE_STATE_FAILED_TO_START:
      return C_("machine state", "Could not start");
    case NOOK_MACHINE_STATE_BROKEN:
      return C_("machine state", "Broken");
    default:
      return "";
    }
}

/* ---- nook-vmm ---- */

/* NOOK_VMM, then the build tree (gui/nook beside vmm/nook-vmm), then the
 * folder of this program, then PATH, then the install prefix. */
char *
nook_find_vmm (void)
{
  const char *env = g_getenv ("NOOK_VMM");
  g_autofree char *self_exe = NULL;
  char *found;

  if (env && *env)
    return g_strdup (env);
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe)
    {
      g_autofree char *dir = g_path_get_dirname (self_exe);
      const char *candidates[] = { "../vmm/nook-vmm", "../../vmm/nook-vmm", "nook-vmm" };

      for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
        {
          g_autofree char *p = g_build_filename (dir, candidates[i], NULL);

          if (g_file_test (p, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test (p, G_FILE_TEST_IS_DIR))
            return g_canonicalize_filename (p, NULL);
        }
    }
  found = g_find_program_in_path ("nook-vmm");
  if (found)
    return found;
  return g_build_filename (NOOK_BINDIR, "nook-vmm", NULL);
}

char *
nook_machine_get_runtime_dir (NookMachine *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  return g_build_filename (g_get_user_runtime_dir (), "nook", self->id, NULL);
}

char *
nook_machine_get_spice_path (NookMachine *self)
{
  g_autofree char *rt = nook_machine_get_runtime_dir (self);

  return g_build_filename (rt, "spice.sock", NULL);
}

/* Where the library row has nook-vmm write its screen. */
char *
nook_machine_get_thumbnail_path (NookMachine *self)
{
  g_autofree char *rt = nook_machine_get_runtime_dir (self);

  return g_build_filename (rt, "thumbnail.png", NULL);
}

static char *
runtime_file (NookMachine *self,
              const char  *name)
{
  g_autofree char *rt = nook_machine_get_runtime_dir (self);

  return g_build_filename (rt, name, NULL);
}

/* UEFI firmware: NOOK_OVMF, then where Debian's ovmf package puts it; NULL
 * when there is none. */
const char *
nook_find_ovmf (void)
{
  static const char *const candidates[] = {
    "/usr/share/OVMF/OVMF_CODE.fd",
    "/usr/share/ovmf/OVMF.fd",
  };
  const char *env = g_getenv ("NOOK_OVMF");

  if (env && *env)
    return g_file_test (env, G_FILE_TEST_IS_REGULAR) ? env : NULL;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_EXISTS))
      return candidates[i];
  return NULL;
}

static gboolean
check_socket_path (const char  *path,
                   GError     **error)
{
  struct sockaddr_un sa;

  if (strlen (path) < sizeof sa.sun_path)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
               _("The socket path %s is too long for a unix socket"), path);
  return FALSE;
}

/* A --disk spec: nook-vmm splits it at commas. */
static char *
disk_spec (const char  *path,
           const char  *format,
           gboolean     readonly,
           GError     **error)
{
  if (strchr (path, ','))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
                   _("The image %s has a comma in its path, which nook-vmm cannot take"), path);
      return NULL;
    }
  return g_strdup_printf ("%s,format=%s%s", path, format, readonly ? ",readonly" : "");
}

static void
builder_take (GStrvBuilder *b,
              char         *s)
{
  g_strv_builder_add (b, s);
  g_free (s);
}

/**
 * nook_machine_build_argv:
 * @vmm: the nook-vmm program
 *
 * The nook-vmm command line for this machine, from its machine.ini.
 */
char **
nook_machine_build_argv (NookMachine  *self,
                         const char   *vmm,
                         GError      **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *rt = NULL;
  g_autofree char *control = NULL;
  g_autofree char *spice = NULL;
  g_autofree char *serial = NULL;

  g_return_val_if_fail (NOOK_IS_MACHINE (self), NULL);
  g_return_val_if_fail (self->dir != NULL, NULL);

  if (self->state == NOOK_MACHINE_STATE_BROKEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", self->message);
      return NULL;
    }

  rt = nook_machine_get_runtime_dir (self);
  control = g_build_filename (rt, "control.sock", NULL);
  spice = g_build_filename (rt, "spice.sock", NULL);
  if (!check_socket_path (control, error) || !check_socket_path (spice, error))
    return NULL;
  serial = g_build_filename (self->dir, "serial.log", NULL);

  g_strv_builder_add (b, vmm);
  g_strv_builder_add_many (b, "--name", self->id, "--control", control, NULL);
  builder_take (b, g_strdup_printf ("--memory=%uM", self->memory));
  builder_take (b, g_strdup_printf ("--cpus=%u", self->cpus));
  builder_take (b, g_strdup_printf ("--serial=file:%s", serial));
  builder_take (b, g_strdup_printf ("--display=%s", self->display));
  if (g_str_equal (self->display, "spice"))
    builder_take (b, g_strdup_printf ("--spice=unix:%s", spice));

  if (self->kernel)
    {
      g_strv_builder_add (b, "--kernel");
      builder_take (b, nook_machine_resolve_path (self, self->kernel));
      if (self->initrd)
        {
          g_strv_builder_add (b, "--initrd");
          builder_take (b, nook_machine_resolve_path (self, self->initrd));
        }
      if (self->append)
        g_strv_builder_add_many (b, "--append", self->append, NULL);
      /* A direct boot still gets a graphics card when it is to be seen. */
      if (!g_str_equal (self->display, "none"))
        g_strv_builder_add (b, "--vga=std");
    }
  else if (g_str_equal (self->firmware, "uefi"))
    {
      const char *ovmf = nook_find_ovmf ();

      if (!ovmf)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       _("This machine needs UEFI firmware: install the ovmf package"));
          return NULL;
        }
      builder_take (b, g_strdup_printf ("--firmware=%s", ovmf));
    }

  /* The installer image goes in the DVD-ROM drive, which SeaBIOS boots
   * from (El Torito) while the machine's own disk is still blank. */
  if (self->cdrom)
    {
      g_autofree char *p = nook_machine_resolve_path (self, self->cdrom);

      builder_take (b, g_strdup_printf ("--cdrom=%s", p));
    }
  if (self->disk_path)
    {
      g_autofree char *p = nook_machine_resolve_path (self, self->disk_path);
      char *spec = disk_spec (p, self->disk_format, self->disk_readonly, error);

      if (!spec)
        return NULL;
      g_strv_builder_add (b, "--disk");
      builder_take (b, spec);
    }
  /* nook-vmm gives a machine with a screen Intel HD Audio by itself. */
  if (g_str_equal (self->sound, "none"))
    g_strv_builder_add (b, "--sound=none");
  return g_strv_builder_end (b);
}

static NookMachineState
state_from_vmm (const char *state)
{
  if (g_str_equal (state, "running"))
    return NOOK_MACHINE_STATE_RUNNING;
  if (g_str_equal (state, "paused"))
    return NOOK_MACHINE_STATE_PAUSED;
  if (g_str_equal (state, "shutdown"))
    return NOOK_MACHINE_STATE_STOPPING;
  return NOOK_MACHINE_STATE_STARTING;
}

static void
set_audio (NookMachine *self,
           gboolean     has_audio,
           gboolean     muted)
{
  g_object_freeze_notify (G_OBJECT (self));
  if (self->has_audio != has_audio)
    {
      self->has_audio = has_audio;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_AUDIO]);
    }
  if (self->audio_muted != muted)
    {
      self->audio_muted = muted;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUDIO_MUTED]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* query-status's "audio": null (or missing, from a nook-vmm without sound)
 * when the machine has no sound card. */
static void
take_audio_status (NookMachine *self,
                   JsonNode    *status)
{
  JsonObject *obj = status && JSON_NODE_HOLDS_OBJECT (status) ? json_node_get_object (status) : NULL;
  JsonNode *audio = obj ? json_object_get_member (obj, "audio") : NULL;

  if (!audio || !JSON_NODE_HOLDS_OBJECT (audio))
    {
      set_audio (self, FALSE, FALSE);
      return;
    }
  set_audio (self, TRUE, json_object_get_boolean_member_with_default (json_node_get_object (audio), "muted", FALSE));
}

static void
on_audio_status (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NookMachine) self = user_data;
  g_autoptr(JsonNode) ret = NULL;
  g_autoptr(GError) error = NULL;

  ret = nook_machine_process_execute_finish (NOOK_MACHINE_PROCESS (source), result, &error);
  /* A process that is no longer the machine's says nothing about it. */
  if (!ret || self->process != NOOK_MACHINE_PROCESS (source))
    {
      if (error)
        g_debug ("query-status: %s", error->message);
      return;
    }
  take_audio_status (self, ret);
}

static void
on_process_state (NookMachine        *self,
                  const char         *state,
                  const char         *reason,
                  NookMachineProcess *process)
{
  set_state (self, state_from_vmm (state), NULL);
  /* The sound card is known once nook-vmm answers; nothing tells of mute
   * changes from other clients, so each state change reads it anew. */
  if (nook_machine_process_is_connected (process))
    nook_machine_process_execute (process, "query-status", NULL, NULL, on_audio_status, g_object_ref (self));
}

/* Removes what a nook-vmm that is gone, and the app for it, left in the
 * runtime folder. The sockets go only when nothing listens on them: a
 * nook-vmm that stopped answering may still hold them. */
static void
clean_runtime_dir (NookMachine *self)
{
  static const char *const files[] = { PID_FILE, "thumbnail.png" };
  static const char *const sockets[] = { "control.sock", "spice.sock" };
  g_autofree char *rt = nook_machine_get_runtime_dir (self);

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (rt, files[i], NULL);

      g_unlink (path);
    }
  for (guint i = 0; i < G_N_ELEMENTS (sockets); i++)
    {
      g_autofree char *path = g_build_filename (rt, sockets[i], NULL);

      if (nook_socket_is_stale (path))
        g_unlink (path);
    }
  g_rmdir (rt);
}

static void
on_process_exited (NookMachine *self,
                   int          how,
                   const char  *message)
{
  /* Dropped after the state changes, which may start a new process. */
  NookMachineProcess *process = g_steal_pointer (&self->process);
  NookMachineState state = NOOK_MACHINE_STATE_STOPPED;

  if (how == NOOK_PROCESS_EXIT_CRASHED)
    state = NOOK_MACHINE_STATE_CRASHED;
  else if (how == NOOK_PROCESS_EXIT_FAILED_TO_START)
    state = NOOK_MACHINE_STATE_FAILED_TO_START;
  clean_runtime_dir (self);
  set_audio (self, FALSE, FALSE);
  set_state (self, state, message);
  g_object_unref (process);
}

/* Follows @process, which it takes. */
static void
watch (NookMachine        *self,
       NookMachineProcess *process)
{
  g_signal_connect_object (process, "state-changed", G_CALLBACK (on_process_state), self, G_CONNECT_SWAPPED);
  set_audio (self, FALSE, FALSE);
  g_signal_connect_object (process, "exited", G_CALLBACK (on_process_exited), self, G_CONNECT_SWAPPED);
  self->process = process;
  set_state (self, NOOK_MACHINE_STATE_STARTING, NULL);
}

/* The pid the app recorded when it spawned the machine's nook-vmm; 0 when
 * there is none. */
static GPid
read_pid_file (NookMachine *self)
{
  g_autofree char *path = runtime_file (self, PID_FILE);
  g_autofree char *text = NULL;
  gint64 pid;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  pid = g_ascii_strtoll (text, NULL, 10);
  return pid > 0 && pid <= G_MAXINT ? (GPid) pid : 0;
}

/**
 * nook_machine_reconnect:
 *
 * Adopts the nook-vmm an earlier run of the app left running for this
 * machine: starting until its control socket has greeted and answered
 * query-status, then running or paused, and from then on like a machine the
 * app started. A control socket nobody listens on is what a nook-vmm that
 * died left: it is removed and the machine stays stopped.
 */
void
nook_machine_reconnect (NookMachine *self)
{
  g_autofree char *control = NULL;
  g_autoptr(GError) error = NULL;
  NookMachineProcess *process;

  g_return_if_fail (NOOK_IS_MACHINE (self));

  if (self->process || !self->id || self->state == NOOK_MACHINE_STATE_BROKEN)
    return;
  control = runtime_file (self, "control.sock");
  process = nook_machine_process_adopt (control, self->log_path, read_pid_file (self), &error);
  if (!process)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        clean_runtime_dir (self);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_debug ("%s: %s", control, error->message);
      return;
    }
  watch (self, process);
}

/**
 * nook_machine_start:
 *
 * Spawns nook-vmm for the machine, detached so that it outlives the app
 * (see nook_machine_reconnect()). The state goes to starting, then follows
 * the VM; a nook-vmm that refuses the machine (no KVM, a setting this host
 * cannot give) leaves it failed-to-start with nook-vmm's reason as the
 * message, and one that dies leaves it crashed with the end of its log.
 */
gboolean
nook_machine_start (NookMachine  *self,
                    GError      **error)
{
  g_autofree char *vmm = NULL;
  g_autofree char *rt = NULL;
  g_autofree char *control = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(NookMachineProcess) process = NULL;
  g_autofree char *pid_file = NULL;
  g_autofree char *pid_text = NULL;
  g_autoptr(GError) pid_error = NULL;

  g_return_val_if_fail (NOOK_IS_MACHINE (self), FALSE);

  if (nook_machine_is_active (self))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, _("“%s” is already running"), self->name);
      return FALSE;
    }
  vmm = nook_find_vmm ();
  argv = nook_machine_build_argv (self, vmm, error);
  if (!argv)
    return FALSE;
  rt = nook_machine_get_runtime_dir (self);
  control = g_build_filename (rt, "control.sock", NULL);
  if (g_mkdir_with_parents (rt, 0700) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), _("Cannot create %s: %s"), rt, g_strerror (saved));
      return FALSE;
    }

  process = nook_machine_process_new ((const char * const *) argv, control, self->log_path);
  if (!nook_machine_process_start (process, error))
    return FALSE;
  /* For a later run of the app, which signals nook-vmm by it (force off)
   * only after the control socket answered and the pid's command line
   * names that socket. */
  pid_file = g_build_filename (rt, PID_FILE, NULL);
  pid_text = g_strdup_printf ("%s\n", nook_machine_process_get_identifier (process));
  if (!g_file_set_contents_full (pid_file, pid_text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &pid_error))
    g_debug ("%s", pid_error->message);
  watch (self, g_steal_pointer (&process));
  return TRUE;
}

static void
on_executed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = nook_machine_process_execute_finish (NOOK_MACHINE_PROCESS (source), result, &error);
  if (!ret)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * nook_machine_execute:
 * @command: a control command without arguments: pause, resume, reset,
 *   powerdown or quit
 *
 * Sends @command to the machine's nook-vmm. "quit" also works before the
 * control socket is up (nook-vmm takes SIGTERM as quit).
 */
/* Sends @command, with @arguments if not NULL, to the machine's nook-vmm. */
static void
execute_with_arguments (NookMachine         *self,
                        const char          *command,
                        JsonNode            *arguments,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, nook_machine_execute);
  if (!self->process)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("“%s” is not running"), self->name);
      return;
    }
  if (g_str_equal (command, "quit") && !nook_machine_process_is_connected (self->process))
    {
      nook_machine_process_terminate (self->process);
      g_task_return_boolean (task, TRUE);
      return;
    }
  nook_machine_process_execute (self->process, command, arguments, cancellable, on_executed,
                                g_steal_pointer (&task));
}

void
nook_machine_execute (NookMachine         *self,
                      const char          *command,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_return_if_fail (NOOK_IS_MACHINE (self));

  execute_with_arguments (self, command, NULL, cancellable, callback, user_data);
}

/**
 * nook_machine_change_disc:
 *
 * Puts the machine's CD-ROM image (nook_machine_get_cdrom(), or none) in
 * the running nook-vmm's DVD-ROM drive, as a person swaps discs: the guest
 * sees a media change. Fails (finish with nook_machine_execute_finish())
 * when the machine is not running or the guest has locked the tray; the
 * image is then used from the next start.
 */
void
nook_machine_change_disc (NookMachine         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(JsonBuilder) b = NULL;
  g_autoptr(JsonNode) args = NULL;

  g_return_if_fail (NOOK_IS_MACHINE (self));

  if (self->cdrom)
    {
      g_autofree char *path = nook_machine_resolve_path (self, self->cdrom);

      b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, path);
      json_builder_end_object (b);
      args = json_builder_get_root (b);
    }
  execute_with_arguments (self, self->cdrom ? "change-cdrom" : "eject-cdrom", args,
                          cancellable, callback, user_data);
}

gboolean
nook_machine_execute_finish (NookMachine   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_mute_status (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NookMachine *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = nook_machine_process_execute_finish (NOOK_MACHINE_PROCESS (source), result, &error);
  if (!ret)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (self->process == NOOK_MACHINE_PROCESS (source))
    take_audio_status (self, ret);
  g_task_return_boolean (task, TRUE);
}

static void
on_mute_set (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) ret = NULL;

  ret = nook_machine_process_execute_finish (NOOK_MACHINE_PROCESS (source), result, &error);
  if (!ret)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  nook_machine_process_execute (NOOK_MACHINE_PROCESS (source), "query-status", NULL,
                                g_task_get_cancellable (task), on_mute_status, g_object_ref (task));
}

/**
 * nook_machine_set_audio_muted:
 *
 * Mutes or unmutes the guest's sound on the host side (nook-vmm's
 * set-audio-mute), for whichever client plays it; the "audio-muted"
 * property follows nook-vmm's query-status before the call finishes
 * (with nook_machine_execute_finish()).
 */
void
nook_machine_set_audio_muted (NookMachine         *self,
                              gboolean             muted,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) args = NULL;

  g_return_if_fail (NOOK_IS_MACHINE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nook_machine_set_audio_muted);
  if (!self->process || !nook_machine_process_is_connected (self->process))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("“%s” is not running"), self->name);
      return;
    }
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "mute");
  json_builder_add_boolean_value (builder, muted);
  json_builder_end_object (builder);
  args = json_builder_get_root (builder);
  nook_machine_process_execute (self->process, "set-audio-mute", args, cancellable, on_mute_set,
                                g_steal_pointer (&task));
}

/**
 * nook_machine_screendump:
 * @path: the PNG file nook-vmm writes
 *
 * Has the machine's nook-vmm write what its screen shows to @path; the
 * file is complete when the call finishes.
 */
void
nook_machine_screendump (NookMachine         *self,
                         const char          *path,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) args = NULL;

  g_return_if_fail (NOOK_IS_MACHINE (self));
  g_return_if_fail (path != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, nook_machine_screendump);
  if (!self->process || !nook_machine_process_is_connected (self->process))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, _("“%s” is not running"), self->name);
      return;
    }
  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "file");
  json_builder_add_string_value (builder, path);
  json_builder_end_object (builder);
  args = json_builder_get_root (builder);
  nook_machine_process_execute (self->process, "screendump", args, cancellable, on_executed, g_steal_pointer (&task));
}

gboolean
nook_machine_screendump_finish (NookMachine   *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
