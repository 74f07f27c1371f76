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
/* nook-vmm --check-accel runs (at first, and after Check Again). */
gboolean    nook_window_is_checking_accel (NookWindow *self);
/* The banner saying machines cannot run here, and its two lines. */
gboolean    nook_window_get_accel_banner_shown (NookWindow *self);
const char *nook_window_get_accel_problem (NookWindow *self);
const char *nook_window_get_accel_remedy (NookWindow *self);

G_END_DECLS
