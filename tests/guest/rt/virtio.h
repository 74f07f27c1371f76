/* A minimal virtio 1.x PCI driver core for the guest tests: finding the
 * device, its BARs and capabilities, reset, feature negotiation and queues. */
#ifndef NOOK_GUEST_RT_VIRTIO_H
#define NOOK_GUEST_RT_VIRTIO_H

#include "rt.h"

#define RT_VIRTIO_VENDOR 0x1af4

/* Common configuration (4.1.4.3). */
#define RT_VIRTIO_CC_DFSELECT 0x00
#define RT_VIRTIO_CC_DF 0x04
#define RT_VIRTIO_CC_GFSELECT 0x08
#define RT_VIRTIO_CC_GF 0x0c
#define RT_VIRTIO_CC_MSIX_CONFIG 0x10
#define RT_VIRTIO_CC_NUM_QUEUES 0x12
#define RT_VIRTIO_CC_STATUS 0x14
#define RT_VIRTIO_CC_QSELECT 0x16
#define RT_VIRTIO_CC_QSIZE 0x18
#define RT_VIRTIO_CC_QMSIX 0x1a
#define RT_VIRTIO_CC_QENABLE 0x1c
#define RT_VIRTIO_CC_QNOTIFY_OFF 0x1e
#define RT_VIRTIO_CC_QDESC 0x20
#define RT_VIRTIO_CC_QDRIVER 0x28
#define RT_VIRTIO_CC_QDEVICE 0x30

/* device_status bits. */
#define RT_VIRTIO_S_ACK 0x01
#define RT_VIRTIO_S_DRIVER 0x02
#define RT_VIRTIO_S_DRIVER_OK 0x04
#define RT_VIRTIO_S_FEATURES_OK 0x08
#define RT_VIRTIO_S_NEEDS_RESET 0x40

/* VIRTIO_F_VERSION_1, bit 32: a bit of the high feature word. */
#define RT_VIRTIO_F_VERSION_1_HI (1u << 0)

#define RT_VIRTIO_NO_VECTOR 0xffff

/* Queues rt_virtio_queue_setup keeps a notification address for. */
#define RT_VIRTIO_QUEUES 4

/* Split virtqueues (2.7): descriptor flags, the descriptor, and the driver
 * and device areas of a queue of n entries. */
#define RT_VIRTQ_F_NEXT 1
#define RT_VIRTQ_F_WRITE 2
#define RT_VIRTQ_F_INDIRECT 4

struct rt_virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct rt_virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

#define RT_VIRTQ_AVAIL(n)                                                      \
    struct {                                                                   \
        uint16_t flags;                                                        \
        uint16_t idx;                                                          \
        uint16_t ring[n];                                                      \
        uint16_t used_event;                                                   \
    }

#define RT_VIRTQ_USED(n)                                                       \
    struct {                                                                   \
        uint16_t flags;                                                        \
        uint16_t idx;                                                          \
        struct rt_virtq_used_elem ring[n];                                     \
        uint16_t avail_event;                                                  \
    }

static inline void rt_virtq_set_desc(struct rt_virtq_desc *d, uint64_t addr, uint32_t len,
                                     uint16_t flags, uint16_t next)
{
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

/* ---- MMIO of the widths the common configuration uses ---- */

static inline uint8_t mmio_read8(uintptr_t a)
{
    return *(volatile uint8_t *)a;
}

static inline uint16_t mmio_read16(uintptr_t a)
{
    return *(volatile uint16_t *)a;
}

static inline void mmio_write8(uintptr_t a, uint8_t v)
{
    *(volatile uint8_t *)a = v;
}

static inline void mmio_write16(uintptr_t a, uint16_t v)
{
    *(volatile uint16_t *)a = v;
}

/* As two 32-bit writes, low half first: what the common configuration's
 * 64-bit fields take from a 32-bit driver. */
static inline void mmio_write64(uintptr_t a, uint64_t v)
{
    mmio_write32(a, (uint32_t)v);
    mmio_write32(a + 4, (uint32_t)(v >> 32));
}

/* Guest physical address of p: the guests run with paging off. */
static inline uint64_t rt_gpa(const volatile void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* ---- the device ---- */

/* A memory BAR as rt_virtio_find left it. */
struct rt_virtio_bar {
    uint64_t addr;
    uint64_t was;      /* before rt_virtio_find: 0 when unassigned */
    uint32_t size;     /* 0: an I/O BAR, unimplemented, or a 64-bit BAR's high half */
    bool placed;       /* moved into the pool by rt_virtio_find */
};

/* A virtio vendor capability (the first of its type), in list order. */
struct rt_virtio_cap {
    uint8_t pos;
    uint8_t type;
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
};

struct rt_virtio {
    uint8_t dev;                       /* bus 0, function 0 */
    /* Where each structure is; 0 when the device has no such capability. */
    uintptr_t common, notify_base, isr, devcfg;
    uint32_t notify_mult;
    uint8_t msix_cap;                  /* 0: no MSI-X */
    uintptr_t msix_table;
    struct rt_virtio_bar bar[6];
    struct rt_virtio_cap cap[4];
    unsigned ncaps;
    uintptr_t notify[RT_VIRTIO_QUEUES]; /* set by rt_virtio_queue_setup */
};

/* Finds 1af4:device_id on bus 0; gives each memory BAR that is unassigned
 * (or out of reach of 32-bit code) an address from bar_pool up, turns on
 * memory decoding and bus mastering, and walks the capabilities. Prints
 * nothing; false if there is no such device, and fails the test if its
 * capability list is missing or names a structure it cannot reach. */
bool rt_virtio_find(struct rt_virtio *v, uint16_t device_id, uint32_t bar_pool);
/* Prints a line per memory BAR: where rt_virtio_find placed it (and, with
 * previous, what it held before) or where it found it. */
void rt_virtio_print_bars(const struct rt_virtio *v, bool previous);

static inline uint8_t rt_virtio_status(const struct rt_virtio *v)
{
    return mmio_read8(v->common + RT_VIRTIO_CC_STATUS);
}

static inline void rt_virtio_set_status(const struct rt_virtio *v, uint8_t s)
{
    mmio_write8(v->common + RT_VIRTIO_CC_STATUS, s);
}

static inline void rt_virtio_driver_ok(const struct rt_virtio *v)
{
    rt_virtio_set_status(v, rt_virtio_status(v) | RT_VIRTIO_S_DRIVER_OK);
}

/* Writes 0 to device_status and waits (up to a second, with the LAPIC
 * timer) for it to read 0 (4.1.4.3.2); whether it did. */
bool rt_virtio_reset(const struct rt_virtio *v);
/* The 64 feature bits the device offers. */
uint64_t rt_virtio_device_features(const struct rt_virtio *v);
/* From a reset: ACKNOWLEDGE, DRIVER, the driver's feature words, then
 * FEATURES_OK; whether the device kept FEATURES_OK. */
bool rt_virtio_negotiate(const struct rt_virtio *v, uint32_t lo, uint32_t hi);
/* Selects queue q and reads its register at off (RT_VIRTIO_CC_Q...). */
uint16_t rt_virtio_queue_read16(const struct rt_virtio *v, uint16_t q, uint16_t off);
/* Gives queue q (below RT_VIRTIO_QUEUES) its size, rings and MSI-X vector,
 * notes its notification address, and enables it. */
void rt_virtio_queue_setup(struct rt_virtio *v, uint16_t q, uint16_t size,
                           const volatile void *desc, const volatile void *avail,
                           const volatile void *used, uint16_t msix_vector);

/* Notifies queue q once what the driver wrote is in memory. */
static inline void rt_virtio_notify(const struct rt_virtio *v, uint16_t q)
{
    rt_barrier();
    mmio_write16(v->notify[q], q);
}

#endif
