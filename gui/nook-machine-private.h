/* What NookLibrary needs of NookMachine beyond its public API. */
#pragma once

#include "nook-machine.h"

G_BEGIN_DECLS

void nook_machine_set_location (NookMachine *self,
                                const char  *id,
                                const char  *dir);
void nook_machine_reconnect    (NookMachine *self);

G_END_DECLS
