/* Fuzz target for split virtqueues: the input is guest memory holding the
 * descriptor table, the rings and any indirect tables (with a few header
 * bytes choosing the queue size and features); the device pops, reads,
 * writes and pushes until the ring is empty or broken. */
#include <string.h>

#include "core/gmem.h"
#include "fuzz.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE 0x8000
#define DESC  0x0000
#define AVAIL 0x1000
#define USED  0x2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    static struct virtq_req req;
    struct fuzz_input in = { data, size };
    uint8_t sel = fi_u8(&in);
    uint16_t qsize = (uint16_t)(1u << (sel % 9));     /* 1 .. 256 */
    struct gmem *mem;
    struct virtq q;
    uint8_t scratch[512];

    memset(ram, 0, sizeof(ram));
    memcpy(ram, in.p, in.n < sizeof(ram) ? in.n : sizeof(ram));
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    if (!mem)
        return 0;
    if (virtq_setup(&q, mem, qsize, DESC, AVAIL, USED, sel & 0x40, sel & 0x80) == 0) {
        for (int i = 0; i < 64; i++) {
            int r = virtq_pop(&q, &req);

            if (r <= 0)
                break;
            /* Whatever the chain said, copies stay in the buffers it named,
             * which were checked to be RAM. */
            if (req.nbufs == 0 || req.nbufs > VIRTQ_MAX_SEGS)
                abort();
            virtq_req_read(&q, &req, 0, scratch, sizeof(scratch));
            virtq_req_write(&q, &req, (uint64_t)i, scratch, sizeof(scratch));
            virtq_push(&q, req.head, (uint32_t)req.in_len);
            virtq_should_notify(&q);
        }
    }
    gmem_free(mem);
    return 0;
}
