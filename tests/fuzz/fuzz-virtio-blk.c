/* Fuzz target for virtio-blk request handling: a driver sets the device up
 * the regular way, then the input becomes guest memory (descriptors, rings,
 * headers, data) and the queue is notified; whatever the requests say, the
 * device must only touch the image within its size and guest RAM. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "virtio/blk.h"
#include "virtio-driver.h"

#define RAM_SIZE 0x10000
#define DESC  0x0000
#define AVAIL 0x1000
#define USED  0x2000
#define QSIZE 16

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
    vdrv_negotiate(&b->vpci);
    vdrv_queue(&b->vpci, 0, QSIZE, DESC, AVAIL, USED);
    vdrv_ready(&b->vpci);
    for (int i = 0; i < 4; i++)
        vdrv_notify(&b->vpci, 0);
    virtio_blk_free(b);
    gmem_free(mem);
    return 0;
}
