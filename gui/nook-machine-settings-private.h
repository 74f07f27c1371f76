/* What the tests reach in NookMachineSettings: the file choosers' results
 * and the last message shown. */
#pragma once

#include "nook-machine-settings.h"

G_BEGIN_DECLS

gboolean    nook_machine_settings_set_disk_file    (NookMachineSettings *self,
                                                    GFile               *file);
gboolean    nook_machine_settings_set_cdrom_file   (NookMachineSettings *self,
                                                    GFile               *file);
const char *nook_machine_settings_get_last_message (NookMachineSettings *self);

G_END_DECLS
