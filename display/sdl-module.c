/* nook-display-sdl.so's entry point: the SDL2 window's functions for
 * nook-vmm (module.h). */
#include "module.h"

unsigned nook_display_module_init(unsigned abi, struct display_backend *b)
{
    if (abi == DISPLAY_MODULE_ABI) {
        b->sdl_new = sdl_display_new;
        b->sdl_free = sdl_display_free;
    }
    return DISPLAY_MODULE_ABI;
}
