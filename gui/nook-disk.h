/* Disk images: the ones the app creates for new machines, and how much of
 * the host's disk an image takes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nook_disk_create_sparse (const char  *path,
                                  guint64      size,
                                  GError     **error);
gboolean nook_disk_get_size      (const char  *path,
                                  const char  *format,
                                  guint64     *virtual_size,
                                  guint64     *allocated,
                                  GError     **error);

G_END_DECLS
