/* Fuzz target for the virtio-pci transport: any sequence of register reads
 * and writes in BAR 4 and the MSI-X BAR and PCI configuration writes, with a
 * device that serves its queues from guest memory the input also fills. */
#include <string.h>

#include "fuzz.h"
#include "virtio/virtio-pci.h"

#define RAM_SIZE 0x10000

static struct virtio_pci vp;
static struct virtq_req req;

static void dev_notify(void *opaque, unsigned q)
{
    for (int i = 0; i < 16 && virtio_pci_pop(&vp, q, &req) == 1; i++) {
        uint8_t buf[64];

        virtq_req_read(&vp.queues[q].vq, &req, 0, buf, sizeof(buf));
        virtio_pci_push(&vp, q, req.head, (uint32_t)virtq_req_write(&vp.queues[q].vq, &req, 0, buf, 64));
    }
}

static void dev_config_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
    memset(data, (int)off, size);
}

static const struct virtio_dev_ops ops = {
    .device_id = 2, .pci_class = 0x018000, .num_queues = 2, .queue_max = 64,
    .config_read = dev_config_read, .queue_notify = dev_notify,
};

static int msi(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    struct fuzz_input in = { data, size };
    struct gmem *mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    const uint8_t *fill;
    size_t n;

    if (!mem)
        return 0;
    memset(ram, 0, sizeof(ram));
    n = fi_bytes(&in, &fill, fi_u16(&in) & 0x3fff);
    memcpy(ram + 0x1000, fill, n);
    if (virtio_pci_init(&vp, &ops, NULL, mem, (struct msi_sink){ msi, NULL }, fuzz_irq(), "fuzz") == 0) {
        while (fi_more(&in)) {
            uint8_t op = fi_u8(&in);
            unsigned sz = fi_size(&in);
            uint16_t off = fi_u16(&in);
            uint64_t v = fi_u64(&in);
            uint8_t buf[8];

            switch (op & 3) {
            case 0:
                bus_put(buf, sz, v);
                virtio_pci_bar4_ops.write(&vp, off & 0x3fff, buf, sz);
                break;
            case 1:
                virtio_pci_bar4_ops.read(&vp, off & 0x3fff, buf, sz);
                break;
            case 2:
                bus_put(buf, sz, v);
                if (op & 4)
                    virtio_pci_msix_bar_ops.write(&vp, off & 0xfff, buf, sz);
                else
                    virtio_pci_msix_bar_ops.read(&vp, off & 0xfff, buf, sz);
                break;
            default: {
                /* A config-space write the way the PCI core makes it. */
                unsigned reg = off & 0xff;

                if (sz > 4)
                    sz = 4;
                for (unsigned i = 0; i < sz && reg + i < 256; i++) {
                    uint8_t m = vp.pci.wmask[reg + i];

                    vp.pci.cfg[reg + i] = (uint8_t)((vp.pci.cfg[reg + i] & ~m) | ((v >> (8 * i)) & m));
                }
                vp.pci.ops->config_written(&vp.pci, reg, sz);
                break;
            }
            }
        }
        virtio_pci_destroy(&vp);
    }
    gmem_free(mem);
    return 0;
}
