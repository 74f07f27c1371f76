/* What the tests look at in NookCreationDialog. */
#pragma once

#include "nook-creation-dialog.h"

G_BEGIN_DECLS

gboolean     nook_creation_dialog_is_identifying  (NookCreationDialog  *self);
const char  *nook_creation_dialog_get_name        (NookCreationDialog  *self);
const char  *nook_creation_dialog_get_os_text     (NookCreationDialog  *self);
gboolean     nook_creation_dialog_get_note_shown  (NookCreationDialog  *self);
guint        nook_creation_dialog_get_memory      (NookCreationDialog  *self);
NookMachine *nook_creation_dialog_create          (NookCreationDialog  *self,
                                                   GError             **error);

G_END_DECLS
