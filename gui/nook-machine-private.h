/* What NookLibrary needs of NookMachine beyond its public API. */
#pragma once

#include "nook-machine.h"

G_BEGIN_DECLS

void nook_machine_set_location (NookMachine *self,
                                const char  *id,
                                const char  *dir);

G_END_DECLS
