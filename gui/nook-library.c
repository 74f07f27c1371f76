/* NookLibrary: loads every machine folder, creates new machines so that a
 * failure leaves nothing behind, and deletes stopped ones. */
#include "nook-library.h"

#include "nook-disk.h"
#include "nook-machine-private.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <time.h>

#define NEW_DISK_NAME "disk0.img"

struct _NookLibrary
{
  GObject parent_instance;

  /* owned */
  char *dir;
  GListStore *machines;
};

G_DEFINE_FINAL_TYPE (NookLibrary, nook_library, G_TYPE_OBJECT)

static void
nook_library_finalize (GObject *object)
{
  NookLibrary *self = NOOK_LIBRARY (object);

  g_free (self->dir);
  g_object_unref (self->machines);
  G_OBJECT_CLASS (nook_library_parent_class)->finalize (object);
}

static void
nook_library_class_init (NookLibraryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = nook_library_finalize;
}

static void
nook_library_init (NookLibrary *self)
{
  self->machines = g_list_store_new (NOOK_TYPE_MACHINE);
}

NookLibrary *
nook_library_new (const char *dir)
{
  NookLibrary *self = g_object_new (NOOK_TYPE_LIBRARY, NULL);

  self->dir = g_strdup (dir);
  return self;
}

char *
nook_library_default_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "nook", "machines", NULL);
}

const char *
nook_library_get_dir (NookLibrary *self)
{
  g_return_val_if_fail (NOOK_IS_LIBRARY (self), NULL);
  return self->dir;
}

GListModel *
nook_library_get_model (NookLibrary *self)
{
  g_return_val_if_fail (NOOK_IS_LIBRARY (self), NULL);
  return G_LIST_MODEL (self->machines);
}

static int
compare_names (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  NookMachine *ma = (NookMachine *) a;
  NookMachine *mb = (NookMachine *) b;
  g_autofree char *ka = g_utf8_collate_key (nook_machine_get_name (ma), -1);
  g_autofree char *kb = g_utf8_collate_key (nook_machine_get_name (mb), -1);
  int r = strcmp (ka, kb);

  return r ? r : strcmp (nook_machine_get_id (ma), nook_machine_get_id (mb));
}

static int
compare_elements (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  return compare_names (*(NookMachine * const *) a, *(NookMachine * const *) b, user_data);
}

static gboolean remove_tree (const char *path, GError **error);

/* A creation takes seconds; one whose folder has not changed for an hour
 * was cut short, and nothing of it is the user's. The age keeps a folder
 * another instance of the app is filling right now. */
#define ABANDONED_AFTER_S (60 * 60)

static void
remove_if_abandoned (const char *path,
                     const char *entry)
{
  g_autoptr(GError) error = NULL;
  GStatBuf st;

  if (!g_str_has_prefix (entry, ".new-") || g_lstat (path, &st) < 0 || !S_ISDIR (st.st_mode))
    return;
  if (time (NULL) - st.st_mtime < ABANDONED_AFTER_S)
    return;
  if (!remove_tree (path, &error))
    g_warning ("%s", error->message);
}

/**
 * nook_library_load:
 *
 * Reads every machine folder (a folder with machine.ini). A machine whose
 * file is broken is listed as broken; folders starting with '.' (a machine
 * being created) are skipped, and a ".new-" folder an hour old, left by a
 * creation that never finished (the app was killed), is removed. A missing
 * library folder is an empty library.
 * Machines whose nook-vmm still runs are adopted (nook_machine_reconnect()).
 */
gboolean
nook_library_load (NookLibrary  *self,
                   GError      **error)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);
  const char *entry;

  g_return_val_if_fail (NOOK_IS_LIBRARY (self), FALSE);

  dir = g_dir_open (self->dir, 0, &local);
  if (!dir)
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_list_store_remove_all (self->machines);
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  while ((entry = g_dir_read_name (dir)))
    {
      g_autofree char *path = NULL;
      g_autofree char *ini = NULL;

      path = g_build_filename (self->dir, entry, NULL);
      if (entry[0] == '.')
        {
          remove_if_abandoned (path, entry);
          continue;
        }
      ini = g_build_filename (path, "machine.ini", NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_DIR) || !g_file_test (ini, G_FILE_TEST_EXISTS))
        continue;
      g_ptr_array_add (found, nook_machine_load (path));
    }
  g_ptr_array_sort_with_data (found, compare_elements, NULL);
  /* A machine whose nook-vmm outlived an earlier run of the app is
   * running, not stopped. */
  for (guint i = 0; i < found->len; i++)
    nook_machine_reconnect (g_ptr_array_index (found, i));
  g_list_store_splice (self->machines, 0, g_list_model_get_n_items (G_LIST_MODEL (self->machines)),
                       found->pdata, found->len);
  return TRUE;
}

NookMachine *
nook_library_find (NookLibrary *self,
                   const char  *id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->machines));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(NookMachine) m = g_list_model_get_item (G_LIST_MODEL (self->machines), i);

      if (g_strcmp0 (nook_machine_get_id (m), id) == 0)
        return m;
    }
  return NULL;
}

/* A folder name from a machine name: lower-case letters, digits and '-',
 * which nook-vmm also takes as --name. */
static char *
make_id (const char *name)
{
  g_autofree char *ascii = g_str_to_ascii (name, "C");
  GString *s = g_string_new (NULL);

  for (const char *p = ascii; *p && s->len < 40; p++)
    {
      if (g_ascii_isalnum (*p))
        g_string_append_c (s, g_ascii_tolower (*p));
      else if (s->len > 0 && s->str[s->len - 1] != '-')
        g_string_append_c (s, '-');
    }
  while (s->len > 0 && s->str[s->len - 1] == '-')
    g_string_truncate (s, s->len - 1);
  if (s->len == 0)
    g_string_append (s, "machine");
  return g_string_free (s, FALSE);
}

static gboolean
remove_tree (const char  *path,
             GError     **error)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir && (entry = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        {
          if (!remove_tree (child, error))
            return FALSE;
        }
      else if (g_unlink (child) < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       _("Cannot remove %s: %s"), child, g_strerror (saved));
          return FALSE;
        }
    }
  if (g_rmdir (path) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot remove %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/**
 * nook_library_create_machine:
 * @draft: a machine from nook_machine_new_draft() with its settings
 * @new_disk_size: bytes of a new sparse disk0.img, or 0 for none
 *
 * Builds the machine in a hidden folder (machine.ini and the new disk),
 * then renames it into place. On any failure the hidden folder goes away
 * with everything in it.
 *
 * Returns: (transfer none): @draft, now part of the library
 */
NookMachine *
nook_library_create_machine (NookLibrary  *self,
                             NookMachine  *draft,
                             guint64       new_disk_size,
                             GError      **error)
{
  g_autofree char *tmpl = NULL;
  g_autofree char *base = NULL;
  g_autofree char *id = NULL;
  g_autofree char *final = NULL;
  g_autoptr(GError) cleanup_error = NULL;
  char *tmp;

  g_return_val_if_fail (NOOK_IS_LIBRARY (self), NULL);
  g_return_val_if_fail (NOOK_IS_MACHINE (draft), NULL);
  g_return_val_if_fail (nook_machine_get_dir (draft) == NULL, NULL);

  if (g_mkdir_with_parents (self->dir, 0755) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot create the machine library %s: %s"), self->dir, g_strerror (saved));
      return NULL;
    }

  tmpl = g_build_filename (self->dir, ".new-XXXXXX", NULL);
  tmp = g_mkdtemp_full (tmpl, 0755);
  if (!tmp)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot create a folder in %s: %s"), self->dir, g_strerror (saved));
      return NULL;
    }

  base = make_id (nook_machine_get_name (draft));
  id = g_strdup (base);
  for (guint n = 2; ; n++)
    {
      g_free (final);
      final = g_build_filename (self->dir, id, NULL);
      if (!g_file_test (final, G_FILE_TEST_EXISTS) && !nook_library_find (self, id))
        break;
      g_free (id);
      id = g_strdup_printf ("%s-%u", base, n);
    }

  nook_machine_set_location (draft, id, tmp);
  if (new_disk_size > 0)
    {
      g_autofree char *disk = g_build_filename (tmp, NEW_DISK_NAME, NULL);

      if (!nook_disk_create_sparse (disk, new_disk_size, error))
        goto remove_tmp;
      nook_machine_set_disk (draft, NEW_DISK_NAME, "raw", FALSE);
    }
  if (!nook_machine_save (draft, error))
    goto remove_tmp;
  /* renameat2(RENAME_NOREPLACE) is not in every libc; rename() onto an
   * existing non-empty folder fails anyway, and the name was free above. */
  if (g_rename (tmp, final) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot move the new machine into %s: %s"), final, g_strerror (saved));
      goto remove_tmp;
    }
  nook_machine_set_location (draft, id, final);
  g_list_store_insert_sorted (self->machines, draft, (GCompareDataFunc) compare_names, NULL);
  return draft;

remove_tmp:
  nook_machine_set_location (draft, NULL, NULL);
  if (!remove_tree (tmp, &cleanup_error))
    g_warning ("%s", cleanup_error->message);
  return NULL;
}

/**
 * nook_library_delete_machine:
 *
 * Removes a stopped machine's folder (machine.ini, the disks made for it,
 * its logs). Images that live elsewhere (an ISO, a disk the user brought)
 * are left alone. A running machine is refused.
 */
gboolean
nook_library_delete_machine (NookLibrary  *self,
                             NookMachine  *machine,
                             GError      **error)
{
  guint pos;

  g_return_val_if_fail (NOOK_IS_LIBRARY (self), FALSE);
  g_return_val_if_fail (NOOK_IS_MACHINE (machine), FALSE);

  if (nook_machine_is_active (machine))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   _("“%s” is running: power it off before deleting it"), nook_machine_get_name (machine));
      return FALSE;
    }
  if (!g_list_store_find (self->machines, machine, &pos))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("“%s” is not in the library"),
                   nook_machine_get_name (machine));
      return FALSE;
    }
  if (!remove_tree (nook_machine_get_dir (machine), error))
    return FALSE;
  g_list_store_remove (self->machines, pos);
  return TRUE;
}
