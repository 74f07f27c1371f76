/* What the tests look at in NookMachineRow. */
#pragma once

#include "nook-machine-row.h"

G_BEGIN_DECLS

/* Shows the machine's screen while it runs; hidden otherwise. */
GtkPicture *nook_machine_row_get_screen_picture  (NookMachineRow *self);
/* Pictures of the screen shown so far. */
guint       nook_machine_row_get_thumbnail_count (NookMachineRow *self);
/* A refresh of the picture is due or under way. */
gboolean    nook_machine_row_get_refreshing      (NookMachineRow *self);

G_END_DECLS
