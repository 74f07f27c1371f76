/* NookMachineRow: one machine in the library: name, OS, state and its
 * actions. */
#pragma once

#include <adwaita.h>

#include "nook-machine.h"

G_BEGIN_DECLS

#define NOOK_TYPE_MACHINE_ROW (nook_machine_row_get_type ())
G_DECLARE_FINAL_TYPE (NookMachineRow, nook_machine_row, NOOK, MACHINE_ROW, AdwBin)

GtkWidget   *nook_machine_row_new         (NookMachine    *machine);
NookMachine *nook_machine_row_get_machine (NookMachineRow *self);

G_END_DECLS
