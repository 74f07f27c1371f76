/* fw_cfg: QEMU's firmware configuration interface (selector/data ports and
 * DMA), so that unmodified SeaBIOS and OVMF builds boot. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/gmem.h"

#define FW_CFG_IO_BASE    0x510     /* selector (2 bytes), data at +1 */
#define FW_CFG_DMA_BASE   0x514     /* 8 bytes, big-endian address */

#define FW_CFG_SIGNATURE  0x0000
#define FW_CFG_ID         0x0001
#define FW_CFG_UUID       0x0002
#define FW_CFG_RAM_SIZE   0x0003
#define FW_CFG_NOGRAPHIC  0x0004
#define FW_CFG_NB_CPUS    0x0005
#define FW_CFG_BOOT_MENU  0x000e
#define FW_CFG_MAX_CPUS   0x000f
#define FW_CFG_FILE_DIR   0x0019
#define FW_CFG_FILE_FIRST 0x0020
#define FW_CFG_MAX_FILES  64

#define FW_CFG_DMA_ERROR  0x01
#define FW_CFG_DMA_READ   0x02
#define FW_CFG_DMA_SKIP   0x04
#define FW_CFG_DMA_SELECT 0x08
#define FW_CFG_DMA_WRITE  0x10

struct fw_cfg_item {
    uint8_t *data;      /* owned */
    uint32_t len;
};

struct fw_cfg {
    pthread_mutex_t lock;
    const struct gmem *mem;     /* borrowed */
    struct fw_cfg_item items[FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES];
    char names[FW_CFG_MAX_FILES][56];
    unsigned nfiles;
    uint16_t selector;
    uint32_t offset;
    uint8_t dma_addr[8];        /* big-endian, as the guest wrote it */
};

void fw_cfg_init(struct fw_cfg *f, const struct gmem *mem);
void fw_cfg_destroy(struct fw_cfg *f);
void fw_cfg_reset(struct fw_cfg *f);
/* Copies data in. 0, -EINVAL for a bad key or name, -ENOSPC when full. */
int fw_cfg_add_bytes(struct fw_cfg *f, uint16_t key, const void *data, uint32_t len);
int fw_cfg_add_u16(struct fw_cfg *f, uint16_t key, uint16_t v);
int fw_cfg_add_u32(struct fw_cfg *f, uint16_t key, uint32_t v);
int fw_cfg_add_u64(struct fw_cfg *f, uint16_t key, uint64_t v);
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, uint32_t len);

extern const struct bus_ops fw_cfg_io_bus_ops;
extern const struct bus_ops fw_cfg_dma_bus_ops;
