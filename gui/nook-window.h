/* NookWindow: the machine library window. */
#pragma once

#include <adwaita.h>

#include "nook-library.h"

G_BEGIN_DECLS

#define NOOK_TYPE_WINDOW (nook_window_get_type ())
G_DECLARE_FINAL_TYPE (NookWindow, nook_window, NOOK, WINDOW, AdwApplicationWindow)

NookWindow *nook_window_new        (GtkApplication *application,
                                    NookLibrary    *library);
GtkWindow  *nook_window_open_file  (NookWindow     *self,
                                    GFile          *file);
void        nook_window_show_message (NookWindow   *self,
                                      const char   *message);
void        nook_window_show_machine (NookWindow   *self,
                                      NookMachine  *machine);

G_END_DECLS
