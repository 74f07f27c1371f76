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
#include "rt/virtio.h"

#define VIRTIO_BLK_MODERN 0x1042

/* Where to put BARs that no firmware assigned: the PCI hole above ECAM,
 * far below where SeaBIOS packs its BARs (from the top of the hole). */
#define BAR_POOL 0xc0000000u

#define F_INDIRECT_DESC 28          /* low word */

#define BLK_T_IN 0

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

struct blk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

static struct rt_virtq_desc desc[QSIZE] __attribute__((aligned(4096)));
static RT_VIRTQ_AVAIL(QSIZE) avail __attribute__((aligned(4096)));
static RT_VIRTQ_USED(QSIZE) used __attribute__((aligned(4096)));
static struct rt_virtq_desc ind[4] __attribute__((aligned(64)));
static struct blk_hdr hdr __attribute__((aligned(64)));
static uint8_t data[SECTOR] __attribute__((aligned(4096)));
static uint8_t status __attribute__((aligned(64)));

/* What the driver owns, copied before a notification. */
static struct {
    struct rt_virtq_desc desc[QSIZE];
    RT_VIRTQ_AVAIL(QSIZE) avail;
    struct rt_virtq_desc ind[4];
    struct blk_hdr hdr;
} snap;

static struct rt_virtio vio;
static uint16_t qsize;              /* what the driver set */
static uint16_t avail_shadow;
static uint32_t features_lo, features_hi;
static bool indirect;
static uint64_t ram_end;

static uint8_t dev_status(void)
{
    return rt_virtio_status(&vio);
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

/* ---- PCI: the device, its BARs and capabilities as rt_virtio_find saw them ---- */

static void print_caps(void)
{
    for (unsigned i = 0; i < vio.ncaps; i++) {
        const struct rt_virtio_cap *c = &vio.cap[i];
        rt_printf("cap %02x: virtio type %u bar %u offset %x length %x\n", c->pos, c->type,
                  c->bar, c->offset, c->length);
    }
    rt_printf("= capabilities: common %s, notify %s, isr %s, device %s, msi-x %s\n",
              vio.common ? "yes" : "no", vio.notify_base ? "yes" : "no", vio.isr ? "yes" : "no",
              vio.devcfg ? "yes" : "no", vio.msix_cap ? "yes" : "no");
    RT_CHECK(vio.common && vio.notify_base && vio.isr && vio.devcfg,
             "a virtio capability is missing");
}

/* ---- device bring-up ---- */

static uint16_t queue_reg(uint16_t off)
{
    return rt_virtio_queue_read16(&vio, 0, off);
}

/* Resets the device (4.1.4.3.2). Also returns whether queue 0 reads
 * queue_enable 0 and a power-of-2 size. */
static bool dev_reset(uint16_t *max)
{
    bool reset = rt_virtio_reset(&vio);
    uint16_t size = queue_reg(RT_VIRTIO_CC_QSIZE);
    if (max)
        *max = size;
    return reset && queue_reg(RT_VIRTIO_CC_QENABLE) == 0 && size && !(size & (size - 1));
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
 * sets up and enables queue 0 with size qs; DRIVER_OK only if driver_ok.
 * Returns false if the device refused something a right driver asks for. */
static bool dev_setup(uint16_t qs, bool driver_ok)
{
    if (!rt_virtio_negotiate(&vio, indirect ? 1u << F_INDIRECT_DESC : 0,
                             RT_VIRTIO_F_VERSION_1_HI))
        return false;
    clear_rings();
    rt_virtio_queue_setup(&vio, 0, qs, desc, &avail, &used, RT_VIRTIO_NO_VECTOR);
    qsize = qs;
    if (driver_ok)
        rt_virtio_driver_ok(&vio);
    return true;
}

/* ---- requests ---- */

/* The right read: header, one sector, status byte, in descriptors 0..2. */
static void sane_read(uint64_t sector)
{
    hdr = (struct blk_hdr){ BLK_T_IN, 0, sector };
    memset(data, 0xa5, sizeof(data));
    status = 0xff;
    rt_virtq_set_desc(&desc[0], rt_gpa(&hdr), sizeof(hdr), RT_VIRTQ_F_NEXT, 1);
    rt_virtq_set_desc(&desc[1], rt_gpa(data), SECTOR, RT_VIRTQ_F_WRITE | RT_VIRTQ_F_NEXT, 2);
    rt_virtq_set_desc(&desc[2], rt_gpa(&status), 1, RT_VIRTQ_F_WRITE, 0);
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
    rt_virtio_notify(&vio, 0);
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
        if (stop_on_reset && (dev_status() & RT_VIRTIO_S_NEEDS_RESET))
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
    RT_CHECK(dev_setup(QSIZE, true), "case %s: FEATURES_OK refused after reset", tag);
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
    o.needs_reset = o.dev_status & RT_VIRTIO_S_NEEDS_RESET;
    o.driver_ok = o.dev_status & RT_VIRTIO_S_DRIVER_OK;
    /* The notification follows NEEDS_RESET, maybe a moment later; reading
     * the ISR acknowledges it, so the bits seen are gathered. */
    o.isr = mmio_read8(vio.isr);
    for (unsigned ms = 0; o.needs_reset && o.driver_ok && !(o.isr & 2) && ms < HOSTILE_WAIT_MS;
         ms++) {
        rt_lapic_sleep_us(1000);
        o.isr |= mmio_read8(vio.isr);
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
    RT_CHECK(dev_setup(QSIZE, true), "case %s: FEATURES_OK refused", tag);
}

static void case_before_driver_ok(void)
{
    const char *tag = "2 notify before DRIVER_OK";
    RT_CHECK(dev_reset(NULL), "case %s: reset failed", tag);
    RT_CHECK(dev_setup(QSIZE, false), "case %s: FEATURES_OK refused", tag);
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
    rt_virtio_driver_ok(&vio);
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
    rt_virtq_set_desc(&desc[1], rt_gpa(data), SECTOR, RT_VIRTQ_F_NEXT, 0);
    provoke(tag, 0);
    recover("3");
}

static void case_buffer_at(const char *tag, const char *rtag, uint64_t addr, uint32_t len)
{
    start_case(tag);
    sane_read(4);
    rt_virtq_set_desc(&desc[1], addr, len, RT_VIRTQ_F_WRITE | RT_VIRTQ_F_NEXT, 2);
    provoke(tag, 0);
    recover(rtag);
}

static void case_zero_length(void)
{
    const char *tag = "5b zero-length buffer";
    start_case(tag);
    sane_read(5);
    rt_virtq_set_desc(&desc[2], rt_gpa(data) + SECTOR / 2, 0, RT_VIRTQ_F_WRITE | RT_VIRTQ_F_NEXT,
                      3);
    rt_virtq_set_desc(&desc[3], rt_gpa(&status), 1, RT_VIRTQ_F_WRITE, 0);
    struct outcome o = provoke(tag, 0);
    if (o.completed)
        rt_printf("case %s: data %s\n", tag, data_ok(5) ? "ok" : "wrong");
    recover("5b");
}

static void case_queue_size(void)
{
    const char *tag = "6 queue size 6";
    RT_CHECK(dev_reset(NULL), "case %s: reset failed", tag);
    RT_CHECK(dev_setup(6, false), "case %s: FEATURES_OK refused", tag);
    uint16_t size = queue_reg(RT_VIRTIO_CC_QSIZE), enabled = queue_reg(RT_VIRTIO_CC_QENABLE);
    uint8_t s = dev_status();
    rt_printf("case %s: queue_size reads %u, queue_enable %u%s\n", tag, size, enabled,
              (s & RT_VIRTIO_S_NEEDS_RESET) ? ", NEEDS_RESET" : "");
    rt_printf("case %s: device_status %02x\n", tag, s);
    if (enabled && !(s & RT_VIRTIO_S_NEEDS_RESET)) {
        /* Accepted: see whether a queue of 6 works. */
        rt_virtio_driver_ok(&vio);
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
    rt_virtq_set_desc(&ind[0], rt_gpa(&hdr), sizeof(hdr), RT_VIRTQ_F_NEXT, 1);
    if (loop) {
        /* Device-readable throughout, so that only the loop is wrong:
         * 0 -> 1 -> 2 -> 0 in a table of 3. */
        rt_virtq_set_desc(&ind[1], rt_gpa(data), SECTOR, RT_VIRTQ_F_NEXT, 2);
        rt_virtq_set_desc(&ind[2], rt_gpa(data), SECTOR, RT_VIRTQ_F_NEXT, 0);
    } else {
        rt_virtq_set_desc(&ind[1], rt_gpa(data), SECTOR, RT_VIRTQ_F_WRITE | RT_VIRTQ_F_NEXT, 2);
        rt_virtq_set_desc(&ind[2], rt_gpa(&status), 1, RT_VIRTQ_F_WRITE, 0);
    }
    rt_virtq_set_desc(&desc[0], rt_gpa(ind), table_len, RT_VIRTQ_F_INDIRECT, 0);
    provoke(tag, 0);
    recover(rtag);
}

/* A device reset is not a PCI reset: the MSI-X capability's enable and
 * function mask bits and the vector table survive it (compared). */
static void msix_across_reset(void)
{
    if (!vio.msix_cap || !vio.msix_table)
        return;
    uint32_t w = rt_pci_read32(0, vio.dev, 0, vio.msix_cap);
    /* Function mask on: nothing is delivered while we look. */
    rt_pci_write32(0, vio.dev, 0, vio.msix_cap, w | (3u << 30));
    mmio_write32(vio.msix_table + 0, 0xfee00000u);
    mmio_write32(vio.msix_table + 4, 0);
    mmio_write32(vio.msix_table + 8, 0x41);
    RT_CHECK(dev_reset(NULL), "reset with MSI-X enabled failed");
    uint32_t after = rt_pci_read32(0, vio.dev, 0, vio.msix_cap);
    uint32_t addr = mmio_read32(vio.msix_table + 0), vdata = mmio_read32(vio.msix_table + 8);
    rt_printf("= msi-x across a device reset: enable %u, function mask %u, vector 0 %08x/%x\n",
              (after >> 31) & 1, (after >> 30) & 1, addr, vdata);
    /* Back to INTx and the ISR for the cases. */
    rt_pci_write32(0, vio.dev, 0, vio.msix_cap,
                   rt_pci_read32(0, vio.dev, 0, vio.msix_cap) & ~(3u << 30));
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_ioapic_mask_all();
    rt_lapic_init(true);

    /* The end of the RAM that holds 1 MiB. */
    rt_fwcfg_e820_ram(&ram_end);
    RT_CHECK(ram_end, "no RAM at 1 MiB in etc/e820");
    rt_printf("ram at 1 MiB ends at %llx\n", ram_end);

    RT_CHECK(rt_virtio_find(&vio, VIRTIO_BLK_MODERN, BAR_POOL), "no virtio-blk 1af4:1042 on bus 0");
    rt_printf("= virtio-blk %04x:%04x found\n", RT_VIRTIO_VENDOR, VIRTIO_BLK_MODERN);
    rt_printf("virtio-blk at 00:%02x.0\n", vio.dev);
    rt_virtio_print_bars(&vio, true);
    print_caps();
    rt_printf("notify multiplier %u\n", vio.notify_mult);

    uint16_t max;
    RT_CHECK(dev_reset(&max), "first reset failed: device_status %02x", dev_status());
    rt_printf("queue 0 size %u, %u queues\n", max,
              mmio_read16(vio.common + RT_VIRTIO_CC_NUM_QUEUES));
    uint64_t features = rt_virtio_device_features(&vio);
    features_lo = (uint32_t)features;
    features_hi = (uint32_t)(features >> 32);
    indirect = features_lo & (1u << F_INDIRECT_DESC);
    rt_printf("device features %08x%08x\n", features_hi, features_lo);
    rt_printf("= VERSION_1 offered: %s\n", (features_hi & RT_VIRTIO_F_VERSION_1_HI) ? "yes" : "no");
    RT_CHECK(features_hi & RT_VIRTIO_F_VERSION_1_HI, "VIRTIO_F_VERSION_1 not offered");
    uint64_t capacity = mmio_read32(vio.devcfg) | (uint64_t)mmio_read32(vio.devcfg + 4) << 32;
    rt_printf("= capacity %llu sectors\n", capacity);
    RT_CHECK(capacity == DISK_SECTORS, "capacity %llu, expected the runner's %u", capacity,
             DISK_SECTORS);

    /* 1: the baseline. */
    RT_CHECK(dev_setup(QSIZE, true), "FEATURES_OK refused");
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
    case_buffer_at("5a data length ffffffff", "5a", rt_gpa(data), 0xffffffffu);
    case_zero_length();
    case_queue_size();
    if (indirect) {
        case_indirect("7a indirect loop", "7a", 3 * sizeof(struct rt_virtq_desc), true);
        case_indirect("7b indirect length fffffff0", "7b", 0xfffffff0u, false);
        case_indirect("7c indirect length 40", "7c", 40, false);
    } else {
        rt_printf("case 7: VIRTIO_F_INDIRECT_DESC not offered\n");
    }

    rt_printf("= all cases done: the device recovered after each and the VMM still runs\n");
    rt_pass();
}
