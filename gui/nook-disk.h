/* Disk images the app creates for new machines. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean nook_disk_create_sparse (const char  *path,
                                  guint64      size,
                                  GError     **error);

G_END_DECLS
