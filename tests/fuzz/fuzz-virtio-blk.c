/* Fuzz target for virtio-blk request handling: a driver sets the device up
 * the regular way, then the input becomes guest memory (descriptors, rings,
 * headers, data) and the queue is notified; whatever the requests say, the
 * device must only touch the image within its size and guest RAM. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "virtio/blk.h"

#define RAM_SIZE 0x10000
#define DESC  0x0000
#define AVAIL 0x1000
#define USED  0x2000
#define QSIZE 16

static void wr(struct virtio_blk *b, uint64_t off, unsigned size, uint64_t v)
{
    uint8_t d[8];

    bus_put(d, size, v);
    virtio_pci_bar4_ops.write(&b->vpci, off, d, size);
}

static uint32_t rd(struct virtio_blk *b, uint64_t off)
{
    uint8_t d[4];

    virtio_pci_bar4_ops.read(&b->vpci, off, d, 4);
    return (uint32_t)bus_get(d, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    static char path[64];
    struct gmem *mem;
    struct virtio_blk *b;
    char err[256];

    if (!path[0]) {
        int fd;

        strcpy(path, "/tmp/nook-fuzz-blk-XXXXXX");
        fd = mkstemp(path);
        if (fd < 0 || ftruncate(fd, 64 * 512) < 0)
            abort();
        close(fd);
    }
    memset(ram, 0, sizeof(ram));
    memcpy(ram, data, size < sizeof(ram) ? size : sizeof(ram));
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    b = virtio_blk_new(path, size > 0 && (data[0] & 1), 1, mem, (struct msi_sink){ 0 }, fuzz_irq(),
                       err, sizeof(err));
    if (!b)
        abort();
    wr(b, 0x14, 1, 3);
    wr(b, 0x08, 4, 0);
    wr(b, 0x0c, 4, rd(b, 0x04));
    wr(b, 0x08, 4, 1);
    wr(b, 0x0c, 4, 1);
    wr(b, 0x14, 1, 11);
    wr(b, 0x18, 2, QSIZE);
    wr(b, 0x20, 4, DESC);
    wr(b, 0x28, 4, AVAIL);
    wr(b, 0x30, 4, USED);
    wr(b, 0x1c, 2, 1);
    wr(b, 0x14, 1, 15);
    for (int i = 0; i < 4; i++)
        wr(b, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    virtio_blk_free(b);
    gmem_free(mem);
    return 0;
}
