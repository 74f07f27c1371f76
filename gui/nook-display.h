/* NookDisplay: a running machine's screen, keyboard and pointer, over the
 * machine's SPICE server (spice-client-glib). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define NOOK_TYPE_DISPLAY (nook_display_get_type ())
G_DECLARE_FINAL_TYPE (NookDisplay, nook_display, NOOK, DISPLAY, GtkWidget)

GtkWidget *nook_display_new            (void);
void       nook_display_open           (NookDisplay   *self,
                                        const char    *spice_path);
void       nook_display_close          (NookDisplay   *self);
gboolean   nook_display_get_connected  (NookDisplay   *self);
gboolean   nook_display_get_grabbed    (NookDisplay   *self);
gboolean   nook_display_get_microphone (NookDisplay   *self);
void       nook_display_set_microphone (NookDisplay   *self,
                                        gboolean       microphone);
void       nook_display_release_grab   (NookDisplay   *self);
gboolean   nook_display_send_keys      (NookDisplay   *self,
                                        const guint   *scancodes,
                                        guint          n_scancodes);

G_END_DECLS
