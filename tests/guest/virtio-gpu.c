/* virtio-gpu in 2D (1af4:1050, class 038000, found by its IDs) as a driver
 * without firmware sees it: the guest places the BARs when no firmware did,
 * finds the virtio structures through the capability list, takes
 * VERSION_1 and EDID, and sets up the control and cursor queues. It reads
 * the display info and the EDID, creates a 1024x768 B8G8R8X8 resource whose
 * backing is three entries of odd sizes over 3 MiB of its RAM, draws the
 * picture tests/guest/vga.c draws into it (pictures.py's vga-bars), and
 * transfers, scans out and flushes it; a 64x64 cursor goes through the
 * cursor queue. Then come hostile commands: unknown resources, ids 0 and
 * taken, an unknown format, a resource of 1 GiB, backing outside RAM or
 * past its end, absurd entry counts, rectangles outside the resource, a
 * scanout that does not exist, unknown and short commands. The guest prints
 * 'ready for screendump' and waits for a line on the serial port while the
 * runner takes a screendump from each VMM, then unrefs the shown resource,
 * resets the device and reads the display info again.
 *
 * Compared: the IDs and class, the capabilities, the offered features, the
 * configuration, the display info, what the EDID says, every response type
 * where the spec or both VMMs agree, fences echoed, the cursor commands
 * completed, the picture (by the runner). Where nook-vmm answers and QEMU
 * differs (QEMU takes backing outside RAM through a bounce buffer, answers
 * ERR_UNSPEC to absurd entry counts and OK_NODATA to a command cut short),
 * the answer is on a plain line the runner checks for nook-vmm. Lines are
 * copied with rep movsl: some hosts' /dev/kvm emulates this code an
 * instruction at a time. */
#include "rt/rt.h"
#include "rt/virtio.h"

#define VIRTIO_GPU_ID 0x1050

/* Where to put BARs that no firmware assigned (see virtio-hostile.c). */
#define BAR_POOL 0xc0000000u

#define F_EDID 1                    /* low word */

#define QSIZE 8
#define WAIT_MS 2000

#define CMD_GET_DISPLAY_INFO 0x0100
#define CMD_RESOURCE_CREATE_2D 0x0101
#define CMD_RESOURCE_UNREF 0x0102
#define CMD_SET_SCANOUT 0x0103
#define CMD_RESOURCE_FLUSH 0x0104
#define CMD_TRANSFER_TO_HOST_2D 0x0105
#define CMD_RESOURCE_ATTACH_BACKING 0x0106
#define CMD_GET_EDID 0x010a
#define CMD_UPDATE_CURSOR 0x0300
#define CMD_MOVE_CURSOR 0x0301

#define OK_NODATA 0x1100
#define OK_DISPLAY_INFO 0x1101
#define OK_EDID 0x1104
#define ERR_UNSPEC 0x1200
#define ERR_OUT_OF_MEMORY 0x1201
#define ERR_INVALID_SCANOUT_ID 0x1202
#define ERR_INVALID_RESOURCE_ID 0x1203
#define ERR_INVALID_PARAMETER 0x1205

#define FLAG_FENCE 1
#define FORMAT_B8G8R8A8 1
#define FORMAT_B8G8R8X8 2

#define WIDTH 1024
#define HEIGHT 768
#define STRIDE (WIDTH * 4)
/* The backings: RAM well above the image, below the runner's 128 MiB. */
#define FB 0x01000000u
#define CURSOR_FB 0x01400000u

struct queue {
    struct rt_virtq_desc desc[QSIZE] __attribute__((aligned(16)));
    RT_VIRTQ_AVAIL(QSIZE) avail __attribute__((aligned(8)));
    RT_VIRTQ_USED(QSIZE) used __attribute__((aligned(8)));
    uint16_t next_avail;
};

struct hdr {
    uint32_t type;
    uint32_t flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint32_t ring_idx;
};

struct rect {
    uint32_t x, y, w, h;
};

_Static_assert(sizeof(struct hdr) == 24, "hdr layout");

static struct queue queues[2] __attribute__((aligned(4096)));
static uint8_t cmdbuf[2048] __attribute__((aligned(64)));
static uint8_t respbuf[2048] __attribute__((aligned(64)));

static struct rt_virtio vio;
static uint64_t ram_end;
static uint32_t last_written;
static uint64_t next_fence = 1;

static uint32_t bar_line[WIDTH];
static uint32_t pattern[2 * WIDTH];

/* ---- the device ---- */

static void dev_reset(void)
{
    RT_CHECK(rt_virtio_reset(&vio), "the device does not reset");
}

static void setup_queue(uint16_t q)
{
    struct queue *v = &queues[q];

    memset(v, 0, sizeof(*v));
    RT_CHECK(rt_virtio_queue_read16(&vio, q, RT_VIRTIO_CC_QSIZE) >= QSIZE,
             "queue %u is smaller than %u", q, QSIZE);
    rt_virtio_queue_setup(&vio, q, QSIZE, v->desc, &v->avail, &v->used, RT_VIRTIO_NO_VECTOR);
}

/* Acknowledges, takes VERSION_1 and EDID, sets up both queues, DRIVER_OK. */
static void dev_setup(void)
{
    dev_reset();
    RT_CHECK(rt_virtio_negotiate(&vio, 1u << F_EDID, RT_VIRTIO_F_VERSION_1_HI),
             "FEATURES_OK refused");
    setup_queue(0);
    setup_queue(1);
    rt_virtio_driver_ok(&vio);
}

/* Sends len bytes of cmdbuf on queue q with resp_len bytes of respbuf to
 * answer in (none: 0), waits for the device to return the chain and
 * returns the response type (0 with no room for one). */
static uint32_t send(uint16_t q, uint32_t len, uint32_t resp_len)
{
    struct queue *v = &queues[q];
    uint16_t old = v->used.idx;
    unsigned ms = 0;

    memset(respbuf, 0, sizeof(respbuf));
    rt_virtq_set_desc(&v->desc[0], rt_gpa(cmdbuf), len, resp_len ? RT_VIRTQ_F_NEXT : 0, 1);
    rt_virtq_set_desc(&v->desc[1], rt_gpa(respbuf), resp_len, RT_VIRTQ_F_WRITE, 0);
    v->avail.ring[v->next_avail % QSIZE] = 0;
    rt_barrier();
    v->next_avail++;
    *(volatile uint16_t *)&v->avail.idx = v->next_avail;
    rt_virtio_notify(&vio, q);
    while (*(volatile uint16_t *)&v->used.idx == old && ms++ < WAIT_MS)
        rt_lapic_sleep_us(1000);
    RT_CHECK(*(volatile uint16_t *)&v->used.idx != old, "queue %u: the device did not answer", q);
    rt_barrier();
    last_written = v->used.ring[old % QSIZE].len;
    return resp_len ? ((struct hdr *)respbuf)->type : 0;
}

/* A control command: hdr then body; fenced when fence is set. */
static uint32_t ctrl(uint32_t type, const void *body, uint32_t body_len, bool fence)
{
    struct hdr h = { .type = type };

    if (fence) {
        h.flags = FLAG_FENCE;
        h.fence_id = next_fence;
    }
    memcpy(cmdbuf, &h, sizeof(h));
    memcpy(cmdbuf + sizeof(h), body, body_len);
    return send(0, sizeof(h) + body_len, sizeof(respbuf));
}

static const char *resp_name(uint32_t t)
{
    switch (t) {
    case OK_NODATA: return "OK_NODATA";
    case OK_DISPLAY_INFO: return "OK_DISPLAY_INFO";
    case OK_EDID: return "OK_EDID";
    case ERR_UNSPEC: return "ERR_UNSPEC";
    case ERR_OUT_OF_MEMORY: return "ERR_OUT_OF_MEMORY";
    case ERR_INVALID_SCANOUT_ID: return "ERR_INVALID_SCANOUT_ID";
    case ERR_INVALID_RESOURCE_ID: return "ERR_INVALID_RESOURCE_ID";
    case ERR_INVALID_PARAMETER: return "ERR_INVALID_PARAMETER";
    default: return "an unknown response";
    }
}

/* Prints what a command got as an agreement line and checks it. */
static void expect(const char *what, uint32_t got, uint32_t want)
{
    rt_printf("= %s: %s\n", what, resp_name(got));
    RT_CHECK(got == want, "%s: %s (%x), expected %s", what, resp_name(got), got, resp_name(want));
}

/* A fenced command's answer carries the fence. */
static void expect_fenced(const char *what, uint32_t got, uint32_t want)
{
    const struct hdr *h = (const struct hdr *)respbuf;
    bool echoed = (h->flags & FLAG_FENCE) && h->fence_id == next_fence;

    expect(what, got, want);
    rt_printf("= %s: fence %llu echoed: %s\n", what, next_fence, echoed ? "yes" : "no");
    RT_CHECK(echoed, "%s: fence not echoed (flags %x, fence %llu)", what, h->flags, h->fence_id);
    next_fence++;
}

static uint32_t create(uint32_t id, uint32_t format, uint32_t w, uint32_t h, bool fence)
{
    uint32_t b[4] = { id, format, w, h };

    return ctrl(CMD_RESOURCE_CREATE_2D, b, sizeof(b), fence);
}

static uint32_t resource_cmd(uint32_t type, uint32_t id)
{
    uint32_t b[2] = { id, 0 };

    return ctrl(type, b, sizeof(b), false);
}

/* entries: addresses and lengths, n of them (the count sent is count). */
static uint32_t attach(uint32_t id, const uint64_t *addr, const uint32_t *len, unsigned n, uint32_t count)
{
    struct hdr h = { .type = CMD_RESOURCE_ATTACH_BACKING };
    uint32_t b[2] = { id, count };
    uint8_t *p = cmdbuf;

    memcpy(p, &h, sizeof(h));
    memcpy(p + sizeof(h), b, sizeof(b));
    p += sizeof(h) + sizeof(b);
    for (unsigned i = 0; i < n; i++, p += 16) {
        uint32_t l[2] = { len[i], 0 };

        memcpy(p, &addr[i], 8);
        memcpy(p + 8, l, 8);
    }
    return send(0, (uint32_t)(p - cmdbuf), sizeof(respbuf));
}

static uint32_t transfer(uint32_t id, struct rect r, uint64_t offset, bool fence)
{
    uint8_t b[32];
    uint32_t tail[2] = { id, 0 };

    memcpy(b, &r, 16);
    memcpy(b + 16, &offset, 8);
    memcpy(b + 24, tail, 8);
    return ctrl(CMD_TRANSFER_TO_HOST_2D, b, sizeof(b), fence);
}

static uint32_t rect_cmd(uint32_t type, struct rect r, uint32_t a, uint32_t b2)
{
    uint32_t b[6] = { r.x, r.y, r.w, r.h, a, b2 };

    return ctrl(type, b, sizeof(b), false);
}

static uint32_t set_scanout(uint32_t scanout, uint32_t id, struct rect r)
{
    return rect_cmd(CMD_SET_SCANOUT, r, scanout, id);
}

static uint32_t flush(uint32_t id, struct rect r)
{
    return rect_cmd(CMD_RESOURCE_FLUSH, r, id, 0);
}

/* Cursor commands carry no room for an answer, as Linux sends them. */
static void cursor(uint32_t type, uint32_t x, uint32_t y, uint32_t id, uint32_t hx, uint32_t hy)
{
    struct hdr h = { .type = type };
    uint32_t b[8] = { 0, x, y, 0, id, hx, hy, 0 };

    memcpy(cmdbuf, &h, sizeof(h));
    memcpy(cmdbuf + sizeof(h), b, sizeof(b));
    send(1, sizeof(h) + sizeof(b), 0);
}

/* ---- the picture (tests/guest/vga.c and pictures.py's vga-bars) ---- */

static uint32_t pattern_at(uint32_t i)
{
    return ((i * 7) & 0xff) << 16 | ((i * i >> 6) & 0xff) << 8 | (((i >> 2) ^ (i * 5)) & 0xff);
}

static void copy_line(uint32_t y, const uint32_t *src)
{
    void *d = (void *)(uintptr_t)(FB + y * STRIDE);
    uint32_t n = WIDTH;

    __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
}

/* Eight colour bars over the top 256 lines; below, line y is the pattern
 * rotated left by 37 * y pixels. */
static void draw(void)
{
    static const uint32_t bars[8] = { 0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
                                      0xff00ff, 0xff0000, 0x0000ff, 0x000000 };

    for (uint32_t x = 0; x < WIDTH; x++) {
        bar_line[x] = bars[x / (WIDTH / 8)];
        pattern[x] = pattern[x + WIDTH] = pattern_at(x);
    }
    for (uint32_t y = 0; y < HEIGHT; y++)
        copy_line(y, y < 256 ? bar_line : pattern + (37 * y) % WIDTH);
}

/* ---- the parts of the test ---- */

static void display_info(const char *when)
{
    const uint32_t *p = (const uint32_t *)(respbuf + 24);
    unsigned others = 0;
    uint32_t t = ctrl(CMD_GET_DISPLAY_INFO, NULL, 0, false);

    rt_printf("= %s: GET_DISPLAY_INFO: %s, %u bytes\n", when, resp_name(t), last_written);
    RT_CHECK(t == OK_DISPLAY_INFO, "GET_DISPLAY_INFO: %s", resp_name(t));
    for (unsigned i = 1; i < 16; i++)
        others += p[6 * i + 4] != 0;
    rt_printf("= %s: scanout 0 %ux%u+%u+%u enabled %u, %u others enabled\n", when, p[2], p[3], p[0], p[1],
              p[4], others);
}

static void edid(void)
{
    static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
    const uint8_t *e = respbuf + 32;
    uint32_t size, t, get[2] = { 0, 0 };
    uint8_t sum = 0;
    char name[14] = { 0 };

    t = ctrl(CMD_GET_EDID, get, sizeof(get), false);
    expect("GET_EDID", t, OK_EDID);
    memcpy(&size, respbuf + 24, 4);
    for (unsigned i = 0; i < 128; i++)
        sum = (uint8_t)(sum + e[i]);
    /* The monitor name, in whichever descriptor has it. */
    for (unsigned d = 54; d < 126; d += 18) {
        if (e[d] == 0 && e[d + 1] == 0 && e[d + 3] == 0xfc) {
            for (unsigned i = 0; i < 13 && e[d + 5 + i] != '\n'; i++)
                name[i] = (char)e[d + 5 + i];
        }
    }
    rt_printf("edid: %u bytes, version %u.%u, monitor name '%s'\n", size, e[18], e[19], name);
    rt_printf("= edid: header %s, base block checksum %s, preferred %ux%u\n",
              memcmp(e, header, 8) ? "wrong" : "ok", sum ? "wrong" : "ok", e[56] | (e[58] >> 4) << 8,
              e[59] | (e[61] >> 4) << 8);
    RT_CHECK(size >= 128 && !sum && !memcmp(e, header, 8), "a broken EDID");
}

static void show_picture(void)
{
    const struct rect full = { 0, 0, WIDTH, HEIGHT };
    /* Three entries, their ends in the middle of lines. */
    const uint64_t addr[3] = { FB, FB + 1000000, FB + 2000000 };
    const uint32_t len[3] = { 1000000, 1000000, WIDTH * HEIGHT * 4 - 2000000 };

    expect_fenced("RESOURCE_CREATE_2D 1024x768 B8G8R8X8", create(1, FORMAT_B8G8R8X8, WIDTH, HEIGHT, true),
                  OK_NODATA);
    expect("RESOURCE_ATTACH_BACKING of 3 entries", attach(1, addr, len, 3, 3), OK_NODATA);
    draw();
    expect_fenced("TRANSFER_TO_HOST_2D of the picture", transfer(1, full, 0, true), OK_NODATA);
    expect("SET_SCANOUT", set_scanout(0, 1, full), OK_NODATA);
    expect("RESOURCE_FLUSH", flush(1, full), OK_NODATA);
}

static void show_cursor(void)
{
    const uint64_t addr = CURSOR_FB;
    const uint32_t len = 64 * 64 * 4;
    volatile uint32_t *c = (volatile uint32_t *)(uintptr_t)CURSOR_FB;
    uint16_t before = queues[1].used.idx;

    for (unsigned i = 0; i < 64 * 64; i++)
        c[i] = (i % 64 < 32) ? 0xff000000u : 0x80ffffffu;
    expect("RESOURCE_CREATE_2D 64x64 B8G8R8A8", create(3, FORMAT_B8G8R8A8, 64, 64, false), OK_NODATA);
    expect("RESOURCE_ATTACH_BACKING of the cursor", attach(3, &addr, &len, 1, 1), OK_NODATA);
    expect("TRANSFER_TO_HOST_2D of the cursor", transfer(3, (struct rect){ 0, 0, 64, 64 }, 0, false),
           OK_NODATA);
    cursor(CMD_UPDATE_CURSOR, 500, 400, 3, 1, 1);
    cursor(CMD_MOVE_CURSOR, 510, 410, 0, 0, 0);
    rt_printf("= cursor: %u commands completed, %u bytes written\n",
              (uint16_t)(queues[1].used.idx - before), last_written);
}

/* Attaches a backing that must be refused to a fresh resource, prints the
 * answer, and lets the resource go. */
static void hostile_backing(const char *what, const uint64_t *addr, const uint32_t *len, unsigned n,
                            uint32_t count)
{
    uint32_t t;

    expect("RESOURCE_CREATE_2D for a hostile backing", create(10, FORMAT_B8G8R8X8, 64, 64, false), OK_NODATA);
    t = attach(10, addr, len, n, count);
    rt_printf("%s: %s\n", what, resp_name(t));
    expect("RESOURCE_UNREF after it", resource_cmd(CMD_RESOURCE_UNREF, 10), OK_NODATA);
}

static void hostile(void)
{
    const uint64_t far = 0xfffff00000000000ull, past = ram_end, across = ram_end - 2048;
    const uint32_t len = 4096;

    expect("TRANSFER_TO_HOST_2D to unknown resource 77",
           transfer(77, (struct rect){ 0, 0, 1, 1 }, 0, false), ERR_INVALID_RESOURCE_ID);
    expect("RESOURCE_FLUSH of unknown resource 77", flush(77, (struct rect){ 0, 0, 1, 1 }),
           ERR_INVALID_RESOURCE_ID);
    expect("RESOURCE_UNREF of unknown resource 77", resource_cmd(CMD_RESOURCE_UNREF, 77),
           ERR_INVALID_RESOURCE_ID);
    expect("SET_SCANOUT to unknown resource 77", set_scanout(0, 77, (struct rect){ 0, 0, 1, 1 }),
           ERR_INVALID_RESOURCE_ID);
    expect_fenced("RESOURCE_CREATE_2D with id 0", create(0, FORMAT_B8G8R8X8, 64, 64, true),
                  ERR_INVALID_RESOURCE_ID);
    expect("RESOURCE_CREATE_2D with a taken id", create(1, FORMAT_B8G8R8X8, 64, 64, false),
           ERR_INVALID_RESOURCE_ID);
    expect("RESOURCE_CREATE_2D of format 999", create(2, 999, 64, 64, false), ERR_INVALID_PARAMETER);
    expect("RESOURCE_CREATE_2D of 16384x16384 (1 GiB)", create(2, FORMAT_B8G8R8X8, 16384, 16384, false),
           ERR_OUT_OF_MEMORY);

    expect("RESOURCE_CREATE_2D 64x64", create(2, FORMAT_B8G8R8X8, 64, 64, false), OK_NODATA);
    expect("TRANSFER_TO_HOST_2D without backing", transfer(2, (struct rect){ 0, 0, 1, 1 }, 0, false),
           ERR_UNSPEC);
    /* Each on a resource of its own: QEMU takes the first (it maps what
     * is not RAM through a bounce buffer) and answers ERR_UNSPEC to the
     * rest; nook-vmm refuses them all and says why (the runner checks). */
    hostile_backing("backing at fffff00000000000", &far, &len, 1, 1);
    hostile_backing("backing past the end of RAM", &past, &len, 1, 1);
    hostile_backing("backing across the end of RAM", &across, &len, 1, 1);
    hostile_backing("backing of 7fffffff entries", &past, &len, 0, 0x7fffffffu);
    expect("RESOURCE_ATTACH_BACKING of 3 entries, none sent", attach(2, &past, &len, 0, 3), ERR_UNSPEC);
    expect("TRANSFER_TO_HOST_2D after the refused backings",
           transfer(2, (struct rect){ 0, 0, 1, 1 }, 0, false), ERR_UNSPEC);

    expect("TRANSFER_TO_HOST_2D of 100x1+1000+0", transfer(1, (struct rect){ 1000, 0, 100, 1 }, 0, false),
           ERR_INVALID_PARAMETER);
    expect("TRANSFER_TO_HOST_2D of 2x1+ffffffff+0",
           transfer(1, (struct rect){ 0xffffffffu, 0, 2, 1 }, 0, false), ERR_INVALID_PARAMETER);
    expect("RESOURCE_FLUSH of 1024x769", flush(1, (struct rect){ 0, 0, WIDTH, HEIGHT + 1 }),
           ERR_INVALID_PARAMETER);
    expect("SET_SCANOUT of 1024x768+1+0", set_scanout(0, 1, (struct rect){ 1, 0, WIDTH, HEIGHT }),
           ERR_INVALID_PARAMETER);
    expect("SET_SCANOUT of scanout 5", set_scanout(5, 1, (struct rect){ 0, 0, WIDTH, HEIGHT }),
           ERR_INVALID_SCANOUT_ID);
    expect("command 0999", ctrl(0x0999, NULL, 0, false), ERR_UNSPEC);
    /* QEMU does nothing and answers OK_NODATA. */
    rt_printf("RESOURCE_CREATE_2D cut short: %s\n", resp_name(ctrl(CMD_RESOURCE_CREATE_2D, NULL, 0, false)));
    expect("RESOURCE_UNREF of the 64x64", resource_cmd(CMD_RESOURCE_UNREF, 2), OK_NODATA);
}

int main(void)
{
    uint64_t features;
    uint32_t lo, hi, events, scanouts;

    rt_serial_init();
    rt_pic_init();
    rt_ioapic_mask_all();
    rt_lapic_init(true);
    /* The end of the RAM that holds 1 MiB. */
    rt_fwcfg_e820_ram(&ram_end);
    RT_CHECK(ram_end, "no RAM at 1 MiB in etc/e820");
    rt_printf("ram at 1 MiB ends at %llx\n", ram_end);

    RT_CHECK(rt_virtio_find(&vio, VIRTIO_GPU_ID, BAR_POOL), "no virtio-gpu 1af4:1050 on bus 0");
    rt_printf("= virtio-gpu %04x:%04x class %06x\n", RT_VIRTIO_VENDOR, VIRTIO_GPU_ID,
              rt_pci_read32(0, vio.dev, 0, 0x08) >> 8);
    rt_printf("virtio-gpu at 00:%02x.0\n", vio.dev);
    rt_virtio_print_bars(&vio, false);
    rt_printf("= capabilities: common %s, notify %s, isr %s, device %s\n", vio.common ? "yes" : "no",
              vio.notify_base ? "yes" : "no", vio.isr ? "yes" : "no", vio.devcfg ? "yes" : "no");
    RT_CHECK(vio.common && vio.notify_base && vio.devcfg, "a virtio capability is missing");

    dev_reset();
    features = rt_virtio_device_features(&vio);
    lo = (uint32_t)features;
    hi = (uint32_t)(features >> 32);
    rt_printf("device features %08x%08x, %u queues\n", hi, lo,
              mmio_read16(vio.common + RT_VIRTIO_CC_NUM_QUEUES));
    rt_printf("= VERSION_1 offered: %s, EDID offered: %s, VIRGL offered: %s\n",
              (hi & RT_VIRTIO_F_VERSION_1_HI) ? "yes" : "no", (lo & (1u << F_EDID)) ? "yes" : "no",
              (lo & 1) ? "yes" : "no");
    RT_CHECK((hi & RT_VIRTIO_F_VERSION_1_HI) && (lo & (1u << F_EDID)), "VERSION_1 or EDID not offered");
    events = mmio_read32(vio.devcfg);
    scanouts = mmio_read32(vio.devcfg + 8);
    rt_printf("= config: num_scanouts %u, num_capsets %u\n", scanouts, mmio_read32(vio.devcfg + 12));
    rt_printf("config: events_read %x\n", events);

    dev_setup();
    display_info("start");
    edid();
    show_picture();
    show_cursor();
    hostile();
    /* The hostile commands left the picture alone: the runner sees it. */
    rt_printf("ready for screendump\n");
    while (!(inb(0x3fd) & 1))
        rt_pause();
    rt_printf("= screendump taken\n");

    expect("RESOURCE_UNREF of the shown resource", resource_cmd(CMD_RESOURCE_UNREF, 1), OK_NODATA);
    expect("RESOURCE_FLUSH of it", flush(1, (struct rect){ 0, 0, 1, 1 }), ERR_INVALID_RESOURCE_ID);
    dev_setup();
    display_info("after a reset");
    expect("RESOURCE_CREATE_2D with id 1 after a reset", create(1, FORMAT_B8G8R8X8, 64, 64, false), OK_NODATA);
    rt_printf("= the device works after all of it and the VMM still runs\n");
    rt_pass();
}
