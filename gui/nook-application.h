/* NookApplication: the Nook app (org.nook.Nook). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define NOOK_APP_ID "org.nook.Nook"

#define NOOK_TYPE_APPLICATION (nook_application_get_type ())
G_DECLARE_FINAL_TYPE (NookApplication, nook_application, NOOK, APPLICATION, AdwApplication)

NookApplication *nook_application_new (void);

G_END_DECLS
