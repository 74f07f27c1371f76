/* NookMachineSettings: a machine's memory, processors, firmware, disk,
 * CD-ROM and display. */
#pragma once

#include <adwaita.h>

#include "nook-machine.h"

G_BEGIN_DECLS

#define NOOK_TYPE_MACHINE_SETTINGS (nook_machine_settings_get_type ())
G_DECLARE_FINAL_TYPE (NookMachineSettings, nook_machine_settings, NOOK, MACHINE_SETTINGS, AdwPreferencesWindow)

NookMachineSettings *nook_machine_settings_new (GtkWindow   *parent,
                                                NookMachine *machine);

G_END_DECLS
