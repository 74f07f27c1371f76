/* nook-display-spice.so's entry point: the SPICE display's functions for
 * nook-vmm (module.h). */
#include "module.h"

unsigned nook_display_module_init(unsigned abi, struct display_backend *b)
{
    if (abi == DISPLAY_MODULE_ABI) {
        b->spice_new = spice_display_new;
        b->spice_free = spice_display_free;
        b->spice_socket = spice_display_socket;
    }
    return DISPLAY_MODULE_ABI;
}
