/* NookMachineView: a running machine's screen in the window, with its
 * header bar (back, pause and resume, mute and microphone, Ctrl+Alt+Del,
 * fullscreen). */
#pragma once

#include <adwaita.h>

#include "nook-display.h"
#include "nook-machine.h"

G_BEGIN_DECLS

#define NOOK_TYPE_MACHINE_VIEW (nook_machine_view_get_type ())
G_DECLARE_FINAL_TYPE (NookMachineView, nook_machine_view, NOOK, MACHINE_VIEW, AdwBin)

void         nook_machine_view_set_machine (NookMachineView *self,
                                            NookMachine     *machine);
NookMachine *nook_machine_view_get_machine (NookMachineView *self);
NookDisplay *nook_machine_view_get_display (NookMachineView *self);
const char  *nook_machine_view_get_page    (NookMachineView *self);

G_END_DECLS
