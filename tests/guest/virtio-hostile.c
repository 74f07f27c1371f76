/* A hostile virtio 1.x driver against a virtio-blk PCI device (1af4:1042,
 * found by its IDs): the runner gives both VMMs a disk image whose 32-bit
 * words read (sector << 16) | word index. The guest assigns the BARs itself
 * when no firmware did (under PVH direct boot on nook-vmm), finds the common,
 * notify, ISR and device configurations through the capability list, reads
 * sector 1 the right way (the baseline), and then, each time from a device
 * reset, breaks one rule: notifies before DRIVER_OK, chains descriptors in a
 * loop, points a buffer outside RAM or across its end, gives absurd lengths
 * (0xffffffff, a zero-length buffer), enables a queue whose size is not a
 * power of 2, and builds indirect tables that loop, are absurdly long or not
 * a whole number of descriptors. After each, it resets the device and reads
 * a sector the right way again. The MSI-X enable bit and one vector survive
 * or not across a device reset (informational).
 *
 * Compared: the device's IDs, its four virtio capabilities and MSI-X, that
 * it offers VERSION_1, its capacity; that every reset reads back 0 in
 * device_status and queue_enable and a power of 2 in queue_size; that sane
 * reads complete with status 0, the head's id and the known data; what the
 * spec requires of any device in each hostile case: it never writes to a
 * descriptor table, the available ring or a device-readable buffer, it sends
 * a configuration change notification (ISR bit 1, MSI-X being off) when it
 * sets DEVICE_NEEDS_RESET after DRIVER_OK, a read queued before DRIVER_OK has
 * completed once DRIVER_OK is set and the queue notified again, and the
 * device works after a reset. What each VMM does with the hostile request
 * itself (completes it, ignores it, sets DEVICE_NEEDS_RESET, consumes it
 * before DRIVER_OK) is printed on plain "case ..." lines: the spec leaves it
 * open (DEVICE_NEEDS_RESET is a SHOULD) or QEMU departs from it; the runner
 * checks nook-vmm's lines and its log of each problem. */
#include "rt/rt.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_BLK_MODERN 0x1042

/* Where to put BARs that no firmware assigned: the PCI hole above ECAM,
 * far below where SeaBIOS packs its BARs (from the top of the hole). */
#define BAR_POOL 0xc0000000u

#define PCI_COMMAND 0x04
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Common configuration (4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_QSELECT 0x16
#define CC_QSIZE 0x18
#define CC_QMSIX 0x1a
#define CC_QENABLE 0x1c
#define CC_QNOTIFY_OFF 0x1e
#define CC_QDESC 0x20
#define CC_QDRIVER 0x28
#define CC_QDEVICE 0x30

#define S_ACK 0x01
#define S_DRIVER 0x02
#define S_DRIVER_OK 0x04
#define S_FEATURES_OK 0x08
#define S_NEEDS_RESET 0x40

#define F_INDIRECT_DESC 28          /* low word */
#define F_VERSION_1 0               /* high word (bit 32) */

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

#define BLK_T_IN 0
#define NO_VECTOR 0xffff

#define QSIZE 8
#define SECTOR 512
#define DISK_SECTORS 2048           /* the runner's 1 MiB image */

/* Waits for the device to act on a notification. A right request must
 * complete within DONE_WAIT_MS; a hostile one gets HOSTILE_WAIT_MS to be
 * completed or to set NEEDS_RESET (the wait ends at either); a request the
 * device must not consume yet gets IGNORED_WAIT_MS to show it does not. */
#define DONE_WAIT_MS 2000
#define HOSTILE_WAIT_MS 1000
#define IGNORED_WAIT_MS 200

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vavail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[QSIZE];
    uint16_t used_event;
};

struct vused {
    uint16_t flags;
    uint16_t idx;
    struct {
        uint32_t id;
        uint32_t len;
    } ring[QSIZE];
    uint16_t avail_event;
};

struct blk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

static struct vdesc desc[QSIZE] __attribute__((aligned(4096)));
static struct vavail avail __attribute__((aligned(4096)));
static struct vused used __attribute__((aligned(4096)));
static struct vdesc ind[4] __attribute__((aligned(64)));
static struct blk_hdr hdr __attribute__((aligned(64)));
static uint8_t data[SECTOR] __attribute__((aligned(4096)));
static uint8_t status __attribute__((aligned(64)));

/* What the driver owns, copied before a notification. */
static struct {
    struct vdesc desc[QSIZE];
    struct vavail avail;
    struct vdesc ind[4];
    struct blk_hdr hdr;
} snap;

static uint8_t pdev;
static uintptr_t common, notify_base, isr_reg, devcfg;
static uint32_t notify_mult;
static uintptr_t notify_addr;
static uint16_t qsize;              /* what the driver set */
static uint16_t avail_shadow;
static uint32_t features_lo, features_hi;
static bool indirect;
static uint8_t msix_cap;
static uintptr_t msix_table;
static uint64_t ram_end;

/* ---- MMIO of the widths the common configuration uses ---- */

static uint8_t rd8(uintptr_t a)
{
    return *(volatile uint8_t *)a;
}

static uint16_t rd16(uintptr_t a)
{
    return *(volatile uint16_t *)a;
}

static void wr8(uintptr_t a, uint8_t v)
{
    *(volatile uint8_t *)a = v;
}

static void wr16(uintptr_t a, uint16_t v)
{
    *(volatile uint16_t *)a = v;
}

static void wr64(uintptr_t a, uint64_t v)
{
    mmio_write32(a, (uint32_t)v);
    mmio_write32(a + 4, (uint32_t)(v >> 32));
}

static uint8_t dev_status(void)
{
    return rd8(common + CC_STATUS);
}

/* The used ring's entries are read after its index. */
static uint16_t used_idx(void)
{
    uint16_t v = *(volatile uint16_t *)&used.idx;
    rt_barrier();
    return v;
}

static uint8_t status_byte(void)
{
    return *(volatile uint8_t *)&status;
}

static uint64_t gpa(const volatile void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* ---- PCI: find the device, place its BARs, walk its capabilities ---- */

static bool find_device(void)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = rt_pci_read32(0, dev, 0, 0x00);
        if ((id & 0xffff) == VIRTIO_VENDOR && (id >> 16) == VIRTIO_BLK_MODERN) {
            pdev = dev;
            return true;
        }
    }
    return false;
}

static uint64_t bar_addr(unsigned i)
{
    uint32_t lo = rt_pci_read32(0, pdev, 0, (uint16_t)(0x10 + 4 * i));
    if (lo & 1)
        return 0;
    uint64_t a = lo & ~0xfu;
    if ((lo & 6) == 4 && i < 5)
        a |= (uint64_t)rt_pci_read32(0, pdev, 0, (uint16_t)(0x14 + 4 * i)) << 32;
    return a;
}

/* Gives every memory BAR that is unassigned (or out of reach of 32-bit code)
 * an address in the pool, sized with decoding off; then enables memory
 * decoding and bus mastering. */
static void place_bars(void)
{
    uint32_t cmd = rt_pci_read32(0, pdev, 0, PCI_COMMAND) & 0xffff;
    uint32_t next = BAR_POOL;

    rt_pci_write32(0, pdev, 0, PCI_COMMAND, cmd & ~(uint32_t)PCI_CMD_MEM);
    for (unsigned i = 0; i < 6; i++) {
        uint16_t off = (uint16_t)(0x10 + 4 * i);
        uint32_t lo = rt_pci_read32(0, pdev, 0, off);
        bool wide = (lo & 7) == 4;
        if (lo & 1)
            continue;
        uint32_t hi = wide ? rt_pci_read32(0, pdev, 0, (uint16_t)(off + 4)) : 0;
        rt_pci_write32(0, pdev, 0, off, 0xffffffffu);
        uint32_t mask = rt_pci_read32(0, pdev, 0, off) & ~0xfu;
        rt_pci_write32(0, pdev, 0, off, lo);
        if (!mask) {
            if (wide)
                i++;
            continue;
        }
        uint32_t size = ~mask + 1;
        uint64_t base = (lo & ~0xfu) | (uint64_t)hi << 32;
        if (base == 0 || hi != 0) {
            next = (next + size - 1) & ~(size - 1);
            rt_pci_write32(0, pdev, 0, off, next | (lo & 0xf));
            if (wide)
                rt_pci_write32(0, pdev, 0, (uint16_t)(off + 4), 0);
            rt_printf("bar%u: assigned %08x size %x (was %llx)\n", i, next, size, base);
            next += size;
        } else {
            rt_printf("bar%u: at %llx size %x\n", i, base, size);
        }
        if (wide)
            i++;
    }
    rt_pci_write32(0, pdev, 0, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
}

static void find_caps(void)
{
    uint8_t ptr = (uint8_t)(rt_pci_read32(0, pdev, 0, 0x34) & 0xfc);
    bool have[5] = { false };

    RT_CHECK(rt_pci_read32(0, pdev, 0, PCI_COMMAND) & (1u << 20), "no capability list");
    for (unsigned n = 0; ptr && n < 48; n++) {
        uint32_t w0 = rt_pci_read32(0, pdev, 0, ptr);
        uint8_t id = (uint8_t)w0, type = (uint8_t)(w0 >> 24);
        if (id == PCI_CAP_MSIX) {
            msix_cap = ptr;
            uint32_t t = rt_pci_read32(0, pdev, 0, (uint16_t)(ptr + 4));
            msix_table = (uintptr_t)bar_addr(t & 7) + (t & ~7u);
        }
        if (id == PCI_CAP_VENDOR && type >= CAP_COMMON && type <= CAP_DEVICE && !have[type]) {
            uint8_t bar = (uint8_t)rt_pci_read32(0, pdev, 0, (uint16_t)(ptr + 4));
            uint32_t off = rt_pci_read32(0, pdev, 0, (uint16_t)(ptr + 8));
            uint32_t len = rt_pci_read32(0, pdev, 0, (uint16_t)(ptr + 12));
            uint64_t base = bar < 6 ? bar_addr(bar) : 0;
            RT_CHECK(base && base + off + len <= 0x100000000ull,
                     "virtio cap type %u in bar %u (%llx) off %x len %x is unusable", type,
                     bar, base, off, len);
            uintptr_t a = (uintptr_t)(base + off);
            rt_printf("cap %02x: virtio type %u bar %u offset %x length %x\n", ptr, type, bar,
                      off, len);
            if (type == CAP_COMMON)
                common = a;
            else if (type == CAP_NOTIFY) {
                notify_base = a;
                notify_mult = rt_pci_read32(0, pdev, 0, (uint16_t)(ptr + 16));
            } else if (type == CAP_ISR)
                isr_reg = a;
            else
                devcfg = a;
            have[type] = true;
        }
        ptr = (uint8_t)((w0 >> 8) & 0xfc);
    }
    rt_printf("= capabilities: common %s, notify %s, isr %s, device %s, msi-x %s\n",
              common ? "yes" : "no", notify_base ? "yes" : "no", isr_reg ? "yes" : "no",
              devcfg ? "yes" : "no", msix_cap ? "yes" : "no");
    RT_CHECK(common && notify_base && isr_reg && devcfg, "a virtio capability is missing");
}

/* End of the RAM that holds 1 MiB, from fw_cfg's etc/e820: the machine's
 * RAM, not what firmware reserved at its top. */
static uint64_t find_ram_end(void)
{
    struct rt_fwcfg_file f;
    RT_CHECK(rt_fwcfg_find("etc/e820", &f), "etc/e820 not in fw_cfg");
    uint64_t end = 0;
    rt_fwcfg_select(f.select);
    for (uint32_t off = 0; off + 20 <= f.size; off += 20) {
        struct {
            uint64_t addr, size;
            uint32_t type;
        } __attribute__((packed)) e;
        rt_fwcfg_read(&e, sizeof(e));
        if (e.type == 1 && e.addr <= 0x100000 && e.addr + e.size > 0x100000)
            end = e.addr + e.size;
    }
    RT_CHECK(end, "no RAM at 1 MiB in etc/e820");
    return end;
}

/* ---- device bring-up ---- */

static uint16_t queue_reg(uint16_t off)
{
    wr16(common + CC_QSELECT, 0);
    return rd16(common + off);
}

/* Writes 0 to device_status and waits for it to read 0 (4.1.4.3.2). Also
 * returns whether queue 0 reads queue_enable 0 and a power-of-2 size. */
static bool dev_reset(uint16_t *max)
{
    wr8(common + CC_STATUS, 0);
    unsigned ms = 0;
    while (dev_status() != 0 && ms++ < 1000)
        rt_lapic_sleep_us(1000);
    uint16_t size = queue_reg(CC_QSIZE);
    if (max)
        *max = size;
    return dev_status() == 0 && queue_reg(CC_QENABLE) == 0 && size && !(size & (size - 1));
}

static void clear_rings(void)
{
    memset(desc, 0, sizeof(desc));
    memset(&avail, 0, sizeof(avail));
    memset(&used, 0, sizeof(used));
    memset(ind, 0, sizeof(ind));
    avail_shadow = 0;
}

/* Acknowledges, negotiates VERSION_1 and INDIRECT_DESC (if offered), and
 * sets up queue 0 with size qs; DRIVER_OK only if driver_ok. Returns false if
 * the device refused something a right driver asks for. */
static bool dev_setup(uint16_t qs, bool enable, bool driver_ok)
{
    uint8_t s = S_ACK;
    wr8(common + CC_STATUS, s);
    s |= S_DRIVER;
    wr8(common + CC_STATUS, s);
    mmio_write32(common + CC_GFSELECT, 0);
    mmio_write32(common + CC_GF, indirect ? 1u << F_INDIRECT_DESC : 0);
    mmio_write32(common + CC_GFSELECT, 1);
    mmio_write32(common + CC_GF, 1u << F_VERSION_1);
    s |= S_FEATURES_OK;
    wr8(common + CC_STATUS, s);
    if (!(dev_status() & S_FEATURES_OK))
        return false;
    clear_rings();
    wr16(common + CC_QSELECT, 0);
    wr16(common + CC_QSIZE, qs);
    wr16(common + CC_QMSIX, NO_VECTOR);
    wr64(common + CC_QDESC, gpa(desc));
    wr64(common + CC_QDRIVER, gpa(&avail));
    wr64(common + CC_QDEVICE, gpa(&used));
    qsize = qs;
    notify_addr = notify_base + notify_mult * rd16(common + CC_QNOTIFY_OFF);
    if (enable)
        wr16(common + CC_QENABLE, 1);
    if (driver_ok)
        wr8(common + CC_STATUS, s | S_DRIVER_OK);
    return true;
}

static void set_driver_ok(void)
{
    wr8(common + CC_STATUS, dev_status() | S_DRIVER_OK);
}

/* ---- requests ---- */

static void set_desc(struct vdesc *d, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    d->addr = addr;
    d->len = len;
    d->flags = flags;
    d->next = next;
}

/* The right read: header, one sector, status byte, in descriptors 0..2. */
static void sane_read(uint64_t sector)
{
    hdr = (struct blk_hdr){ BLK_T_IN, 0, sector };
    memset(data, 0xa5, sizeof(data));
    status = 0xff;
    set_desc(&desc[0], gpa(&hdr), sizeof(hdr), D_NEXT, 1);
    set_desc(&desc[1], gpa(data), SECTOR, D_WRITE | D_NEXT, 2);
    set_desc(&desc[2], gpa(&status), 1, D_WRITE, 0);
}

static void take_snapshot(void)
{
    rt_barrier();
    memcpy(snap.desc, desc, sizeof(desc));
    memcpy(&snap.avail, &avail, sizeof(avail));
    memcpy(snap.ind, ind, sizeof(ind));
    snap.hdr = hdr;
}

static bool snapshot_same(void)
{
    rt_barrier();
    return !memcmp(snap.desc, desc, sizeof(desc)) && !memcmp(&snap.avail, &avail, sizeof(avail)) &&
           !memcmp(snap.ind, ind, sizeof(ind)) && !memcmp(&snap.hdr, &hdr, sizeof(hdr));
}

static void notify(void)
{
    rt_barrier();
    wr16(notify_addr, 0);
}

/* Publishes head in the available ring, then notifies. */
static void submit(uint16_t head)
{
    avail.ring[avail_shadow % qsize] = head;
    rt_barrier();
    avail_shadow++;
    *(volatile uint16_t *)&avail.idx = avail_shadow;
    take_snapshot();
    notify();
}

/* Waits until the used index moves from old or (if stop_on_reset) the
 * device sets NEEDS_RESET, for at most ms. */
static bool wait_used(uint16_t old, unsigned ms, bool stop_on_reset)
{
    for (unsigned i = 0; i <= ms; i++) {
        if (used_idx() != old)
            return true;
        if (stop_on_reset && (dev_status() & S_NEEDS_RESET))
            return false;
        if (i < ms)
            rt_lapic_sleep_us(1000);
    }
    return used_idx() != old;
}

static bool data_ok(uint64_t sector)
{
    rt_barrier();
    const uint32_t *w = (const uint32_t *)data;
    for (uint32_t i = 0; i < SECTOR / 4; i++) {
        if (w[i] != ((uint32_t)sector << 16 | i))
            return false;
    }
    return true;
}

/* Reads sector with the right chain on a live queue; true if it completed
 * with status 0, the head's id and the sector's data. */
static bool read_and_check(uint64_t sector, bool print)
{
    uint16_t old = used_idx();
    sane_read(sector);
    submit(0);
    bool done = wait_used(old, DONE_WAIT_MS, true);
    uint32_t id = used.ring[old % qsize].id, len = used.ring[old % qsize].len;
    bool ok = done && status_byte() == 0 && id == 0 && data_ok(sector);
    if (print || !ok)
        rt_printf("read of sector %llu: %s, status %02x, used id %u len %u, device_status %02x\n",
                  sector, done ? "completed" : "not completed", status_byte(), id, len,
                  dev_status());
    return ok;
}

/* ---- hostile cases ---- */

struct outcome {
    bool completed;
    bool needs_reset;
    bool driver_ok;
    uint8_t blk_status;
    uint8_t dev_status;
    uint8_t isr;
    bool untouched;
};

static unsigned case_sector = 100;

/* After a hostile case: a reset, then the right read must work. */
static void recover(const char *tag)
{
    uint16_t max;
    bool reset_ok = dev_reset(&max);
    rt_printf("= case %s: after reset device_status 0, queue_enable 0, queue_size a power "
              "of 2: %s\n", tag, reset_ok ? "yes" : "no");
    RT_CHECK(reset_ok, "case %s: reset left device_status %02x, queue_size %u", tag,
             dev_status(), max);
    RT_CHECK(dev_setup(QSIZE, true, true), "case %s: FEATURES_OK refused after reset", tag);
    uint64_t sector = case_sector;
    case_sector += 97;
    bool ok = read_and_check(sector, false);
    rt_printf("= case %s: right read after reset: %s\n", tag, ok ? "ok" : "failed");
    RT_CHECK(ok, "case %s: the device did not recover after a reset", tag);
}

/* Notifies the hostile request at head and records what the device did. */
static struct outcome provoke(const char *tag, uint16_t head)
{
    struct outcome o = { 0 };
    uint16_t old = used_idx();

    submit(head);
    o.completed = wait_used(old, HOSTILE_WAIT_MS, true);
    o.blk_status = status_byte();
    o.dev_status = dev_status();
    o.needs_reset = o.dev_status & S_NEEDS_RESET;
    o.driver_ok = o.dev_status & S_DRIVER_OK;
    /* The notification follows NEEDS_RESET, maybe a moment later; reading
     * the ISR acknowledges it, so the bits seen are gathered. */
    o.isr = rd8(isr_reg);
    for (unsigned ms = 0; o.needs_reset && o.driver_ok && !(o.isr & 2) && ms < HOSTILE_WAIT_MS;
         ms++) {
        rt_lapic_sleep_us(1000);
        o.isr |= rd8(isr_reg);
    }
    o.untouched = snapshot_same();

    if (o.completed)
        rt_printf("case %s: completed, status %02x%s\n", tag, o.blk_status,
                  o.needs_reset ? ", NEEDS_RESET" : "");
    else
        rt_printf("case %s: not completed%s\n", tag, o.needs_reset ? ", NEEDS_RESET" : "");
    rt_printf("case %s: device_status %02x isr %02x used idx %u\n", tag, o.dev_status, o.isr,
              used_idx());

    rt_printf("= case %s: descriptors, available ring and readable buffers untouched: %s\n",
              tag, o.untouched ? "yes" : "no");
    RT_CHECK(o.untouched, "case %s: the device wrote to driver-owned memory", tag);
    bool notified = !(o.needs_reset && o.driver_ok) || (o.isr & 2);
    rt_printf("= case %s: configuration change notified with NEEDS_RESET: %s\n", tag,
              notified ? "yes" : "no");
    RT_CHECK(notified, "case %s: NEEDS_RESET without a configuration change (isr %02x)", tag,
             o.isr);
    return o;
}

static void start_case(const char *tag)
{
    RT_CHECK(dev_reset(NULL), "case %s: reset failed", tag);
    RT_CHECK(dev_setup(QSIZE, true, true), "case %s: FEATURES_OK refused", tag);
}

static void case_before_driver_ok(void)
{
    const char *tag = "2 notify before DRIVER_OK";
    RT_CHECK(dev_reset(NULL), "case %s: reset failed", tag);
    RT_CHECK(dev_setup(QSIZE, true, false), "case %s: FEATURES_OK refused", tag);
    sane_read(2);
    submit(0);
    bool consumed = wait_used(0, IGNORED_WAIT_MS, true) || status_byte() != 0xff;
    rt_printf("case %s: consumed %s\n", tag, consumed ? "yes" : "no");
    rt_printf("case %s: device_status %02x used idx %u\n", tag, dev_status(), used_idx());
    bool untouched = snapshot_same();
    rt_printf("= case %s: descriptors, available ring and readable buffers untouched: %s\n",
              tag, untouched ? "yes" : "no");
    RT_CHECK(untouched, "case %s: the device wrote to driver-owned memory", tag);
    /* Now the driver is ready: the same request, notified again. */
    set_driver_ok();
    notify();
    bool done = wait_used(0, DONE_WAIT_MS, true);
    bool ok = done && status_byte() == 0 && used.ring[0].id == 0 && data_ok(2);
    rt_printf("= case %s: after DRIVER_OK and a notification the read has completed: %s\n",
              tag, ok ? "yes" : "no");
    RT_CHECK(ok, "case %s: read not completed after DRIVER_OK (status %02x, device_status "
             "%02x)", tag, status_byte(), dev_status());
    recover("2");
}

static void case_loop(void)
{
    const char *tag = "3 looped chain";
    start_case(tag);
    sane_read(3);
    /* Both device-readable, so that only the loop is wrong: 0 -> 1 -> 0. */
    set_desc(&desc[1], gpa(data), SECTOR, D_NEXT, 0);
    provoke(tag, 0);
    recover("3");
}

static void case_buffer_at(const char *tag, const char *rtag, uint64_t addr, uint32_t len)
{
    start_case(tag);
    sane_read(4);
    set_desc(&desc[1], addr, len, D_WRITE | D_NEXT, 2);
    provoke(tag, 0);
    recover(rtag);
}

static void case_zero_length(void)
{
    const char *tag = "5b zero-length buffer";
    start_case(tag);
    sane_read(5);
    set_desc(&desc[2], gpa(data) + SECTOR / 2, 0, D_WRITE | D_NEXT, 3);
    set_desc(&desc[3], gpa(&status), 1, D_WRITE, 0);
    struct outcome o = provoke(tag, 0);
    if (o.completed)
        rt_printf("case %s: data %s\n", tag, data_ok(5) ? "ok" : "wrong");
    recover("5b");
}

static void case_queue_size(void)
{
    const char *tag = "6 queue size 6";
    RT_CHECK(dev_reset(NULL), "case %s: reset failed", tag);
    RT_CHECK(dev_setup(6, true, false), "case %s: FEATURES_OK refused", tag);
    uint16_t size = queue_reg(CC_QSIZE), enabled = queue_reg(CC_QENABLE);
    uint8_t s = dev_status();
    rt_printf("case %s: queue_size reads %u, queue_enable %u%s\n", tag, size, enabled,
              (s & S_NEEDS_RESET) ? ", NEEDS_RESET" : "");
    rt_printf("case %s: device_status %02x\n", tag, s);
    if (enabled && !(s & S_NEEDS_RESET)) {
        /* Accepted: see whether a queue of 6 works. */
        set_driver_ok();
        bool ok = read_and_check(6, false);
        rt_printf("case %s: a right read on it %s\n", tag, ok ? "works" : "fails");
    }
    recover("6");
}

static void case_indirect(const char *tag, const char *rtag, uint32_t table_len, bool loop)
{
    start_case(tag);
    hdr = (struct blk_hdr){ BLK_T_IN, 0, 7 };
    memset(data, 0xa5, sizeof(data));
    status = 0xff;
    set_desc(&ind[0], gpa(&hdr), sizeof(hdr), D_NEXT, 1);
    if (loop) {
        /* Device-readable throughout, so that only the loop is wrong:
         * 0 -> 1 -> 2 -> 0 in a table of 3. */
        set_desc(&ind[1], gpa(data), SECTOR, D_NEXT, 2);
        set_desc(&ind[2], gpa(data), SECTOR, D_NEXT, 0);
    } else {
        set_desc(&ind[1], gpa(data), SECTOR, D_WRITE | D_NEXT, 2);
        set_desc(&ind[2], gpa(&status), 1, D_WRITE, 0);
    }
    set_desc(&desc[0], gpa(ind), table_len, D_INDIRECT, 0);
    provoke(tag, 0);
    recover(rtag);
}

/* A device reset is not a PCI reset: the MSI-X capability's enable and
 * function mask bits and the vector table survive it (compared). */
static void msix_across_reset(void)
{
    if (!msix_cap || !msix_table)
        return;
    uint32_t w = rt_pci_read32(0, pdev, 0, msix_cap);
    /* Function mask on: nothing is delivered while we look. */
    rt_pci_write32(0, pdev, 0, msix_cap, w | (3u << 30));
    mmio_write32(msix_table + 0, 0xfee00000u);
    mmio_write32(msix_table + 4, 0);
    mmio_write32(msix_table + 8, 0x41);
    RT_CHECK(dev_reset(NULL), "reset with MSI-X enabled failed");
    uint32_t after = rt_pci_read32(0, pdev, 0, msix_cap);
    uint32_t addr = mmio_read32(msix_table + 0), vdata = mmio_read32(msix_table + 8);
    rt_printf("= msi-x across a device reset: enable %u, function mask %u, vector 0 %08x/%x\n",
              (after >> 31) & 1, (after >> 30) & 1, addr, vdata);
    /* Back to INTx and the ISR for the cases. */
    rt_pci_write32(0, pdev, 0, msix_cap, rt_pci_read32(0, pdev, 0, msix_cap) & ~(3u << 30));
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_ioapic_mask_all();
    rt_lapic_init(true);

    ram_end = find_ram_end();
    rt_printf("ram at 1 MiB ends at %llx\n", ram_end);

    RT_CHECK(find_device(), "no virtio-blk 1af4:1042 on bus 0");
    rt_printf("= virtio-blk %04x:%04x found\n", VIRTIO_VENDOR, VIRTIO_BLK_MODERN);
    rt_printf("virtio-blk at 00:%02x.0\n", pdev);
    place_bars();
    find_caps();
    rt_printf("notify multiplier %u\n", notify_mult);

    uint16_t max;
    RT_CHECK(dev_reset(&max), "first reset failed: device_status %02x", dev_status());
    rt_printf("queue 0 size %u, %u queues\n", max, rd16(common + CC_NUM_QUEUES));
    mmio_write32(common + CC_DFSELECT, 0);
    features_lo = mmio_read32(common + CC_DF);
    mmio_write32(common + CC_DFSELECT, 1);
    features_hi = mmio_read32(common + CC_DF);
    indirect = features_lo & (1u << F_INDIRECT_DESC);
    rt_printf("device features %08x%08x\n", features_hi, features_lo);
    rt_printf("= VERSION_1 offered: %s\n", (features_hi & 1) ? "yes" : "no");
    RT_CHECK(features_hi & 1, "VIRTIO_F_VERSION_1 not offered");
    uint64_t capacity = mmio_read32(devcfg) | (uint64_t)mmio_read32(devcfg + 4) << 32;
    rt_printf("= capacity %llu sectors\n", capacity);
    RT_CHECK(capacity == DISK_SECTORS, "capacity %llu, expected the runner's %u", capacity,
             DISK_SECTORS);

    /* 1: the baseline. */
    RT_CHECK(dev_setup(QSIZE, true, true), "FEATURES_OK refused");
    bool ok = read_and_check(1, true);
    rt_printf("= case 1 right read of sector 1: %s\n", ok ? "ok" : "failed");
    RT_CHECK(ok, "the right read failed: the driver is wrong");
    ok = read_and_check(DISK_SECTORS - 1, false);
    rt_printf("= case 1 right read of the last sector: %s\n", ok ? "ok" : "failed");
    RT_CHECK(ok, "the right read of the last sector failed");

    msix_across_reset();

    case_before_driver_ok();
    case_loop();
    case_buffer_at("4a buffer at fffff00000000000", "4a", 0xfffff00000000000ull, SECTOR);
    case_buffer_at("4b buffer past the end of RAM", "4b", ram_end, SECTOR);
    case_buffer_at("4c buffer across the end of RAM", "4c", ram_end - SECTOR / 2, SECTOR);
    case_buffer_at("5a data length ffffffff", "5a", gpa(data), 0xffffffffu);
    case_zero_length();
    case_queue_size();
    if (indirect) {
        case_indirect("7a indirect loop", "7a", 3 * sizeof(struct vdesc), true);
        case_indirect("7b indirect length fffffff0", "7b", 0xfffffff0u, false);
        case_indirect("7c indirect length 40", "7c", 40, false);
    } else {
        rt_printf("case 7: VIRTIO_F_INDIRECT_DESC not offered\n");
    }

    rt_printf("= all cases done: the device recovered after each and the VMM still runs\n");
    rt_pass();
}
