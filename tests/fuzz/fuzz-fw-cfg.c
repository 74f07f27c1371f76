/* Fuzz target for fw_cfg: selector and data port accesses and DMA transfers.
 * The input doubles as guest memory, so that the DMA descriptors the guest
 * points at are fuzzed along with the accesses. */
#include <string.h>

#include "fw/fw_cfg.h"
#include "fuzz.h"

#define RAM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    static uint8_t big[5000];
    struct fw_cfg cfg;
    struct bus *pio;
    struct gmem *mem;
    uint8_t *ram;

    /* Exactly RAM_SIZE bytes, so that a stray access trips ASan. */
    ram = calloc(1, RAM_SIZE);
    if (!ram)
        return 0;
    memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);
    mem = gmem_new_from_buffer(ram, RAM_SIZE, 0);
    if (!mem) {
        free(ram);
        return 0;
    }
    fw_cfg_init(&cfg, mem);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    fw_cfg_add_u64(&cfg, FW_CFG_RAM_SIZE, RAM_SIZE);
    fw_cfg_add_u16(&cfg, FW_CFG_NB_CPUS, 2);
    fw_cfg_add_file(&cfg, "etc/small", "0123456789abcdef", 16);
    fw_cfg_add_file(&cfg, "etc/big", big, sizeof(big));
    fw_cfg_add_file(&cfg, "bootorder", "", 0);
    pio = bus_new("pio", 0x10000);
    if (!pio)
        goto out;
    bus_register(pio, FW_CFG_IO_BASE, 2, &fw_cfg_io_bus_ops, &cfg, "fw_cfg");
    bus_register(pio, FW_CFG_DMA_BASE, 8, &fw_cfg_dma_bus_ops, &cfg, "fw_cfg-dma");

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in);
        uint8_t buf[8];

        switch (op & 7) {
        case 0: {
            /* Mostly keys that exist, sometimes any 16-bit key. */
            uint16_t key = (op & 0x80) ? fi_u16(&in) : fi_u8(&in) % 0x28;

            bus_put(buf, 2, key);
            bus_write(pio, FW_CFG_IO_BASE, buf, 2);
            break;
        }
        case 1:
        case 2: {
            unsigned n = fi_size(&in);

            bus_read(pio, FW_CFG_IO_BASE + (fi_u8(&in) & 15), buf, n);
            break;
        }
        case 3: {
            /* The descriptor address, usually inside RAM, written big-endian
             * as one quadword or as two dwords, high half first. */
            uint64_t gpa = (op & 0x80) ? fi_u64(&in) : fi_u16(&in);

            if (op & 0x40) {
                bus_put(buf, 8, __builtin_bswap64(gpa));
                bus_write(pio, FW_CFG_DMA_BASE, buf, 8);
            } else {
                bus_put(buf, 4, __builtin_bswap32((uint32_t)(gpa >> 32)));
                bus_write(pio, FW_CFG_DMA_BASE, buf, 4);
                bus_put(buf, 4, __builtin_bswap32((uint32_t)gpa));
                bus_write(pio, FW_CFG_DMA_BASE + 4, buf, 4);
            }
            break;
        }
        case 4: {
            /* Any access anywhere near the two registers. */
            uint64_t addr = FW_CFG_IO_BASE + (fi_u8(&in) & 15);
            unsigned n = fi_size(&in);

            for (unsigned i = 0; i < n; i++)
                buf[i] = fi_u8(&in);
            bus_write(pio, addr, buf, n);
            break;
        }
        case 5:
            fw_cfg_reset(&cfg);
            break;
        default:
            break;
        }
    }
    bus_free(pio);
out:
    fw_cfg_destroy(&cfg);
    gmem_free(mem);
    free(ram);
    return 0;
}
