/* What the tests look at in NookWindow. */
#pragma once

#include "nook-machine-view.h"
#include "nook-window.h"

G_BEGIN_DECLS

const char *nook_window_get_last_message  (NookWindow *self);
const char *nook_window_get_visible_page  (NookWindow *self);
GtkDropTarget *nook_window_get_drop_target (NookWindow *self);
GtkWindow  *nook_window_get_last_dialog   (NookWindow *self);
NookMachineView *nook_window_get_machine_view (NookWindow *self);
/* "library" or "machine" */
const char *nook_window_get_visible_top_page (NookWindow *self);

G_END_DECLS
