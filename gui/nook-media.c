/* NookMedia: recognises images by their magic numbers and asks libosinfo
 * (with osinfo-db's database) which operating system an ISO holds. */
#include "nook-media.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <osinfo/osinfo.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MEMORY    2048            /* MiB */
#define DEFAULT_CPUS      2
#define DEFAULT_DISK_SIZE (G_GUINT64_CONSTANT (20) << 30)
#define KERNEL_MEMORY     1024

struct _NookMedia
{
  GObject parent_instance;

  /* owned */
  char *path;
  char *format;
  char *suggested_name;
  char *os_id;
  char *os_name;
  char *firmware;
  NookMediaKind kind;
  gboolean os_known;
  guint memory;
  guint cpus;
  guint64 disk_size;
};

G_DEFINE_FINAL_TYPE (NookMedia, nook_media, G_TYPE_OBJECT)
G_DEFINE_QUARK (nook-media-error-quark, nook_media_error)

static void
nook_media_finalize (GObject *object)
{
  NookMedia *self = NOOK_MEDIA (object);

  g_free (self->path);
  g_free (self->format);
  g_free (self->suggested_name);
  g_free (self->os_id);
  g_free (self->os_name);
  g_free (self->firmware);
  G_OBJECT_CLASS (nook_media_parent_class)->finalize (object);
}

static void
nook_media_class_init (NookMediaClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nook_media_finalize;
}

static void
nook_media_init (NookMedia *self)
{
  self->memory = DEFAULT_MEMORY;
  self->cpus = DEFAULT_CPUS;
  self->disk_size = DEFAULT_DISK_SIZE;
  self->firmware = g_strdup ("bios");
  self->format = g_strdup ("raw");
}

/* Offsets of the magic numbers this looks for. */
#define ISO9660_OFFSET 0x8001   /* "CD001" in the primary volume descriptor */
#define HEADER_SIZE    (ISO9660_OFFSET + 5)

static gboolean
has_magic (const guint8 *buf,
           gsize         len,
           gsize         offset,
           const char   *magic,
           gsize         magic_len)
{
  return len >= offset + magic_len && memcmp (buf + offset, magic, magic_len) == 0;
}

static gboolean
classify (NookMedia    *self,
          const guint8 *buf,
          gsize         len)
{
  if (has_magic (buf, len, ISO9660_OFFSET, "CD001", 5))
    {
      self->kind = NOOK_MEDIA_KIND_INSTALLER;
      return TRUE;
    }
  if (has_magic (buf, len, 0, "QFI\xfb", 4))
    {
      self->kind = NOOK_MEDIA_KIND_DISK;
      g_free (self->format);
      self->format = g_strdup ("qcow2");
      return TRUE;
    }
  /* A bzImage carries a boot sector signature too: look for it first. */
  if (has_magic (buf, len, 0x202, "HdrS", 4) || has_magic (buf, len, 0, "\x7f" "ELF", 4))
    {
      self->kind = NOOK_MEDIA_KIND_KERNEL;
      self->memory = KERNEL_MEMORY;
      self->cpus = 1;
      return TRUE;
    }
  if (has_magic (buf, len, 512, "EFI PART", 8) || has_magic (buf, len, 510, "\x55\xaa", 2))
    {
      self->kind = NOOK_MEDIA_KIND_DISK;
      return TRUE;
    }
  return FALSE;
}

static char *
suggest_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *display = g_filename_display_name (base);
  char *dot = strrchr (display, '.');

  if (dot && dot != display)
    *dot = '\0';
  return g_strdup (display);
}

/**
 * nook_media_probe:
 * @path: a file the user gave
 *
 * Reads the first 32 KiB of @path and tells an ISO 9660 image, a disk image
 * (qcow2, GPT, MBR) and a kernel (bzImage, ELF) apart. Folders, files that
 * cannot be read and anything else are refused with a NOOK_MEDIA_ERROR.
 */
NookMedia *
nook_media_probe (const char  *path,
                  GError     **error)
{
  g_autoptr(NookMedia) self = NULL;
  g_autofree char *display = g_filename_display_name (path);
  guint8 buf[HEADER_SIZE];
  gsize len = 0;
  struct stat st;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved = errno;

      if (saved == EISDIR || (stat (path, &st) == 0 && S_ISDIR (st.st_mode)))
        g_set_error (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_FOLDER,
                     _("%s is a folder: drop an installer image, a disk image or a kernel"), display);
      else
        g_set_error (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_UNREADABLE,
                     _("Cannot read %s: %s"), display, g_strerror (saved));
      return NULL;
    }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      close (fd);
      g_set_error (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_FOLDER,
                   _("%s is a folder: drop an installer image, a disk image or a kernel"), display);
      return NULL;
    }
  while (len < sizeof buf)
    {
      ssize_t n = read (fd, buf + len, sizeof buf - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          g_set_error (error, NOOK_MEDIA_ERROR, saved == EISDIR ? NOOK_MEDIA_ERROR_FOLDER : NOOK_MEDIA_ERROR_UNREADABLE,
                       saved == EISDIR ? _("%s is a folder: drop an installer image, a disk image or a kernel")
                                       : _("Cannot read %s: %s"), display, g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fd);

  self = g_object_new (NOOK_TYPE_MEDIA, NULL);
  self->path = g_strdup (path);
  if (!classify (self, buf, len))
    {
      g_set_error (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_NOT_AN_IMAGE,
                   _("%s is not an installer image, a disk image or a kernel that Nook knows"), display);
      return NULL;
    }
  self->suggested_name = suggest_name (path);
  return g_steal_pointer (&self);
}

/* ---- libosinfo ---- */

/* The database is read once per process; identification is serialised
 * because libosinfo's objects are not thread-safe. */
static GMutex osinfo_lock;

static OsinfoDb *
get_db (GError **error)
{
  static OsinfoLoader *loader;
  static GError *load_error;

  if (!loader)
    {
      loader = osinfo_loader_new ();
      osinfo_loader_process_default_path (loader, &load_error);
    }
  if (load_error)
    {
      g_set_error (error, load_error->domain, load_error->code,
                   _("Cannot read the operating system database (osinfo-db): %s"), load_error->message);
      return NULL;
    }
  return osinfo_loader_get_db (loader);
}

static OsinfoResources *
pick_resources (OsinfoResourcesList *list)
{
  OsinfoResources *all = NULL;
  gint n;

  if (!list)
    return NULL;
  n = osinfo_list_get_length (OSINFO_LIST (list));
  for (gint i = 0; i < n; i++)
    {
      OsinfoResources *r = OSINFO_RESOURCES (osinfo_list_get_nth (OSINFO_LIST (list), i));
      const char *arch = osinfo_resources_get_architecture (r);

      if (g_strcmp0 (arch, "x86_64") == 0)
        return r;
      if (g_strcmp0 (arch, "all") == 0)
        all = r;
    }
  return all;
}

static void
apply_resources (NookMedia *self,
                 OsinfoOs  *os)
{
  g_autoptr(OsinfoResourcesList) rec = osinfo_os_get_recommended_resources (os);
  g_autoptr(OsinfoResourcesList) min = osinfo_os_get_minimum_resources (os);
  OsinfoResources *r = pick_resources (rec);
  OsinfoResources *m = pick_resources (min);
  gint64 ram = r ? osinfo_resources_get_ram (r) : -1;
  gint64 storage = r ? osinfo_resources_get_storage (r) : -1;
  gint cpus = r ? osinfo_resources_get_n_cpus (r) : -1;

  if (ram <= 0 && m)
    ram = osinfo_resources_get_ram (m);
  if (storage <= 0 && m)
    storage = osinfo_resources_get_storage (m);
  if (cpus <= 0 && m)
    cpus = osinfo_resources_get_n_cpus (m);
  if (ram > 0)
    self->memory = (guint) MAX (ram >> 20, 256);
  if (storage > 0)
    self->disk_size = (guint64) storage & ~G_GUINT64_CONSTANT (511);
  /* osinfo-db rarely names a CPU count; two cores suit most desktops. */
  self->cpus = cpus > 0 ? (guint) MAX (cpus, DEFAULT_CPUS) : DEFAULT_CPUS;
}

static void
apply_firmware (NookMedia *self,
                OsinfoOs  *os)
{
  g_autoptr(OsinfoFirmwareList) list = osinfo_os_get_firmware_list (os, NULL);
  gboolean efi = FALSE, bios = TRUE;
  gint n = list ? osinfo_list_get_length (OSINFO_LIST (list)) : 0;

  for (gint i = 0; i < n; i++)
    {
      OsinfoFirmware *fw = OSINFO_FIRMWARE (osinfo_list_get_nth (OSINFO_LIST (list), i));
      const char *arch = osinfo_firmware_get_architecture (fw);
      const char *type = osinfo_firmware_get_firmware_type (fw);

      if (g_strcmp0 (arch, "x86_64") != 0)
        continue;
      if (g_strcmp0 (type, "efi") == 0)
        efi = osinfo_firmware_is_supported (fw);
      else if (g_strcmp0 (type, "bios") == 0)
        bios = osinfo_firmware_is_supported (fw);
    }
  g_free (self->firmware);
  self->firmware = g_strdup (efi && !bios ? "uefi" : "bios");
}

/**
 * nook_media_identify:
 *
 * For an installer image: the OS libosinfo finds on it and what it
 * recommends. An image libosinfo does not know is not an error: the media
 * keeps the defaults and nook_media_get_os_known() says FALSE. Blocks (the
 * database takes a moment to load) and iterates the thread-default main
 * context: GTK code uses nook_media_identify_async().
 */
gboolean
nook_media_identify (NookMedia     *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(OsinfoMedia) media = NULL;
  g_autoptr(GError) local = NULL;
  OsinfoDb *db;
  OsinfoOs *os;

  g_return_val_if_fail (NOOK_IS_MEDIA (self), FALSE);

  if (self->kind != NOOK_MEDIA_KIND_INSTALLER)
    return TRUE;
  locker = g_mutex_locker_new (&osinfo_lock);
  db = get_db (error);
  if (!db)
    return FALSE;
  media = osinfo_media_create_from_location (self->path, cancellable, &local);
  if (!media)
    {
      /* Not a bootable ISO libosinfo can read: an unknown OS. */
      g_debug ("libosinfo cannot read %s: %s", self->path, local->message);
      return !g_cancellable_set_error_if_cancelled (cancellable, error);
    }
  if (!osinfo_db_identify_media (db, media))
    return TRUE;
  os = osinfo_media_get_os (media);
  if (!os)
    return TRUE;
  self->os_known = TRUE;
  self->os_id = g_strdup (osinfo_entity_get_id (OSINFO_ENTITY (os)));
  self->os_name = g_strdup (osinfo_product_get_name (OSINFO_PRODUCT (os)));
  apply_resources (self, os);
  apply_firmware (self, os);
  g_object_unref (os);
  return TRUE;
}

static void
identify_thread (GTask        *task,
                 gpointer      source,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  GError *error = NULL;
  gboolean ok;

  /* libosinfo's synchronous media reader runs a main loop on the thread's
   * default context: without a context of our own it would dispatch the
   * GTK main context's sources in this thread. */
  g_main_context_push_thread_default (context);
  ok = nook_media_identify (source, cancellable, &error);
  g_main_context_pop_thread_default (context);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
nook_media_identify_async (NookMedia           *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, nook_media_identify_async);
  g_task_run_in_thread (task, identify_thread);
}

gboolean
nook_media_identify_finish (NookMedia     *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

const char *
nook_media_get_path (NookMedia *self)
{
  return self->path;
}

NookMediaKind
nook_media_get_kind (NookMedia *self)
{
  return self->kind;
}

const char *
nook_media_get_kind_label (NookMedia *self)
{
  switch (self->kind)
    {
    case NOOK_MEDIA_KIND_INSTALLER:
      return _("Installer image: a CD-ROM and a new disk");
    case NOOK_MEDIA_KIND_DISK:
      return _("Disk image: the machine starts from it");
    case NOOK_MEDIA_KIND_KERNEL:
      return _("Linux kernel: started directly");
    default:
      return "";
    }
}

const char *
nook_media_get_format (NookMedia *self)
{
  return self->format;
}

const char *
nook_media_get_suggested_name (NookMedia *self)
{
  return self->suggested_name;
}

gboolean
nook_media_get_os_known (NookMedia *self)
{
  return self->os_known;
}

const char *
nook_media_get_os_id (NookMedia *self)
{
  return self->os_id;
}

const char *
nook_media_get_os_name (NookMedia *self)
{
  return self->os_name;
}

guint
nook_media_get_memory (NookMedia *self)
{
  return self->memory;
}

guint
nook_media_get_cpus (NookMedia *self)
{
  return self->cpus;
}

guint64
nook_media_get_disk_size (NookMedia *self)
{
  return self->disk_size;
}

const char *
nook_media_get_firmware (NookMedia *self)
{
  return self->firmware;
}
