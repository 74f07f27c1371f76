/* What the tests look at in NookWindow. */
#pragma once

#include "nook-window.h"

G_BEGIN_DECLS

const char *nook_window_get_last_message  (NookWindow *self);
const char *nook_window_get_visible_page  (NookWindow *self);
GtkDropTarget *nook_window_get_drop_target (NookWindow *self);
GtkWindow  *nook_window_get_last_dialog   (NookWindow *self);

G_END_DECLS
