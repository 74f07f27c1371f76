/* Fuzz target for virtio-input: the input is guest memory (both queues'
 * rings and descriptors) plus a script of configuration-space questions and
 * host events; whatever the guest wrote, the device may only write the
 * driver's event buffers and must keep whole reports. */
#include <string.h>

#include "fuzz.h"
#include "virtio/input.h"
#include "virtio-driver.h"

#define RAM_SIZE 0x8000
#define QSIZE 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    size_t n = size < RAM_SIZE ? size : RAM_SIZE;
    struct gmem *mem;
    struct virtio_input *d;

    memset(ram, 0, sizeof(ram));
    memcpy(ram, data, n);
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    d = virtio_input_new(size ? data[0] % 3 : 0, mem, (struct msi_sink){ 0 }, fuzz_irq());
    if (!d)
        abort();
    vdrv_negotiate(&d->vpci);
    vdrv_queue(&d->vpci, 0, QSIZE, 0x0000, 0x1000, 0x2000);
    vdrv_queue(&d->vpci, 1, QSIZE, 0x3000, 0x4000, 0x5000);
    vdrv_ready(&d->vpci);
    /* What follows guest memory drives the device: questions, events and
     * notifications. */
    for (size_t i = n; i + 4 <= size; i += 4) {
        const uint8_t *c = data + i;

        switch (c[0] & 3) {
        case 0:
            vdrv_write(&d->vpci, VIRTIO_PCI_DEVICE_OFF, 1, c[1]);
            vdrv_write(&d->vpci, VIRTIO_PCI_DEVICE_OFF + 1, 1, c[2]);
            vdrv_read(&d->vpci, VIRTIO_PCI_DEVICE_OFF + (c[3] % 160), 4);
            break;
        case 1:
            virtio_input_send(d, c[1] & 0x1f, (uint16_t)(c[2] | (c[3] & 3) << 8), c[3]);
            break;
        case 2:
            virtio_input_send(d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
            break;
        case 3:
            vdrv_notify(&d->vpci, c[1] & 1);
            break;
        }
    }
    for (int q = 0; q < 2; q++)
        vdrv_notify(&d->vpci, q);
    virtio_input_free(d);
    gmem_free(mem);
    return 0;
}
