/* NookLibrary: the machines in $XDG_DATA_HOME/nook/machines, as a list
 * model of NookMachine. */
#pragma once

#include <gio/gio.h>

#include "nook-machine.h"

G_BEGIN_DECLS

#define NOOK_TYPE_LIBRARY (nook_library_get_type ())
G_DECLARE_FINAL_TYPE (NookLibrary, nook_library, NOOK, LIBRARY, GObject)

NookLibrary *nook_library_new             (const char   *dir);
char        *nook_library_default_dir     (void);
const char  *nook_library_get_dir         (NookLibrary  *self);
GListModel  *nook_library_get_model       (NookLibrary  *self);
gboolean     nook_library_load            (NookLibrary  *self,
                                           GError      **error);
NookMachine *nook_library_find            (NookLibrary  *self,
                                           const char   *id);
NookMachine *nook_library_create_machine  (NookLibrary  *self,
                                           NookMachine  *draft,
                                           guint64       new_disk_size,
                                           GError      **error);
gboolean     nook_library_delete_machine  (NookLibrary  *self,
                                           NookMachine  *machine,
                                           GError      **error);

G_END_DECLS
