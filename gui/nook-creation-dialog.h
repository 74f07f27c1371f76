/* NookCreationDialog: a new machine from a file, prefilled from what the
 * file is and, for installer images, the OS libosinfo finds on it. */
#pragma once

#include <adwaita.h>

#include "nook-library.h"
#include "nook-media.h"

G_BEGIN_DECLS

#define NOOK_TYPE_CREATION_DIALOG (nook_creation_dialog_get_type ())
G_DECLARE_FINAL_TYPE (NookCreationDialog, nook_creation_dialog, NOOK, CREATION_DIALOG, AdwWindow)

NookCreationDialog *nook_creation_dialog_new (GtkWindow   *parent,
                                              NookLibrary *library,
                                              NookMedia   *media);

G_END_DECLS
