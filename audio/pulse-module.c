/* nook-audio-pulse.so's entry point: the PulseAudio backend for nook-vmm
 * (display/module.h). */
#include "../display/module.h"
#include "pulse.h"

unsigned nook_display_module_init(unsigned abi, struct display_backend *b)
{
    if (abi == DISPLAY_MODULE_ABI)
        b->pulse_new = pulse_audio_new;
    return DISPLAY_MODULE_ABI;
}
