/* Sparse raw disk images (the file takes no space until the guest writes)
 * and the sizes of an existing image. */
#include "nook-disk.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <sys/stat.h>
#include <unistd.h>

/**
 * nook_disk_create_sparse:
 * @path: a file that must not exist yet
 * @size: bytes, a multiple of 512
 *
 * Creates a raw image of @size bytes with ftruncate and syncs it. On
 * failure (ENOSPC, EFBIG, EDQUOT...) the file is removed again.
 */
gboolean
nook_disk_create_sparse (const char  *path,
                         guint64      size,
                         GError     **error)
{
  g_autofree char *human = NULL;
  int fd;
  int saved;

  if (size == 0 || size % 512 != 0 || size > (guint64) G_MAXINT64)
    {
      g_autofree char *bytes = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("A disk of %s bytes is not possible: use a whole number of 512-byte sectors"), bytes);
      return FALSE;
    }
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Cannot create the disk image %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  if (ftruncate (fd, (off_t) size) < 0 || fsync (fd) < 0)
    {
      saved = errno;
      goto remove_file;
    }
  if (close (fd) < 0)
    {
      saved = errno;
      unlink (path);
      goto set_error;
    }
  return TRUE;

remove_file:
  close (fd);
  unlink (path);
set_error:
  human = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               _("Cannot make the disk image %s %s large: %s"), path, human, g_strerror (saved));
  return FALSE;
}

/* The qcow2 header keeps the guest-visible size, big-endian, at byte 24. */
#define QCOW2_SIZE_OFFSET 24

static gboolean
read_qcow2_size (int      fd,
                 guint64 *size)
{
  guint64 be;

  if (pread (fd, &be, sizeof be, QCOW2_SIZE_OFFSET) != (ssize_t) sizeof be)
    return FALSE;
  *size = GUINT64_FROM_BE (be);
  return TRUE;
}

/**
 * nook_disk_get_size:
 * @format: "raw" or "qcow2"
 * @virtual_size: (out): what the guest sees, in bytes
 * @allocated: (out): what the image takes on the host's disk, in bytes;
 *   less than @virtual_size for sparse or qcow2 images
 */
gboolean
nook_disk_get_size (const char  *path,
                    const char  *format,
                    guint64     *virtual_size,
                    guint64     *allocated,
                    GError     **error)
{
  struct stat st;
  int fd;
  int saved;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      saved = errno;
      goto close_fd;
    }
  *allocated = (guint64) st.st_blocks * 512;
  *virtual_size = (guint64) st.st_size;
  if (g_strcmp0 (format, "qcow2") == 0 && !read_qcow2_size (fd, virtual_size))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s has no readable qcow2 header"), path);
      return FALSE;
    }
  close (fd);
  return TRUE;

close_fd:
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               _("Cannot read %s: %s"), path, g_strerror (saved));
  return FALSE;
}
