/* What the tests look at in NookDisplay. */
#pragma once

#include "nook-display.h"

G_BEGIN_DECLS

/* The picture as last drawn (NULL before the first frame). */
GdkTexture         *nook_display_get_texture        (NookDisplay *self);
GtkEventController *nook_display_get_key_controller (NookDisplay *self);
/* FALSE: memory textures even when GL is there. Before realizing. */
void                nook_display_set_gl_allowed     (NookDisplay *self,
                                                     gboolean     allowed);
gboolean            nook_display_get_uses_gl        (NookDisplay *self);
gboolean            nook_display_get_client_mouse   (NookDisplay *self);
gboolean            nook_display_get_inputs_ready   (NookDisplay *self);
/* The audio channels' links: open between OPENED and a close or an error. */
gboolean            nook_display_get_playback_open  (NookDisplay *self);
gboolean            nook_display_get_record_open    (NookDisplay *self);

G_END_DECLS
