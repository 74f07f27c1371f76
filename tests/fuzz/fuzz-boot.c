/* Fuzz target for the kernel loaders: the input is the kernel file (and, by
 * its last byte's choice, half of it also the initrd), loaded into 4 MiB of
 * guest RAM. */
#include <string.h>

#include "arch/x86/boot.h"
#include "fuzz.h"

#define RAM_SIZE (4u << 20)

static uint8_t *ram;
static struct gmem *mem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct boot_info info = { 0 };
    const uint8_t *initrd = NULL;
    size_t initrd_len = 0;
    uint8_t flags;
    char err[256] = "";
    int r;

    /* The loader never reads guest RAM, so it is set up once and reused. */
    if (!mem) {
        ram = malloc(RAM_SIZE);
        mem = ram ? gmem_new_from_buffer(ram, RAM_SIZE, 0) : NULL;
        if (!mem)
            abort();
    }
    flags = size ? data[size - 1] : 0;
    if (flags & 1) {
        initrd = data + size / 2;
        initrd_len = size - size / 2;
    }
    r = boot_load_kernel(mem, data, size, initrd, initrd_len,
                         (flags & 2) ? "console=ttyS0 root=/dev/vda" : NULL, &info, err, sizeof(err));
    if (r < 0) {
        /* Every refusal says why. */
        if (!err[0] || !memchr(err, '\0', sizeof(err)))
            abort();
    } else if (r != 0 || (info.kind != BOOT_PVH && info.kind != BOOT_BZIMAGE) ||
               !gmem_is_ram(mem, info.boot_params, 4096)) {
        abort();
    }
    return 0;
}
