/* Unit tests for split virtqueues against fake guest memory: good chains,
 * indirect tables, and each way a hostile driver can break the ring, which
 * must end in -EIO without touching anything outside guest RAM. */
#include "virtio/virtqueue.h"
#include "unit.h"

#define RAM_SIZE 0x10000
#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define DATA  0x4000

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct virtq q;
    struct virtq_req *req;
    uint16_t avail_idx;
};

static void put_desc(struct fixture *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    uint8_t *d = f->ram + table + 16u * i;

    memcpy(d, &addr, 8);
    memcpy(d + 8, &len, 4);
    memcpy(d + 12, &flags, 2);
    memcpy(d + 14, &next, 2);
}

static void offer(struct fixture *f, uint16_t head)
{
    memcpy(f->ram + AVAIL + 4 + 2 * (f->avail_idx % QSIZE), &head, 2);
    f->avail_idx++;
    memcpy(f->ram + AVAIL + 2, &f->avail_idx, 2);
}

static uint16_t used_idx(struct fixture *f)
{
    uint16_t v;

    memcpy(&v, f->ram + USED + 2, 2);
    return v;
}

static void setup(struct fixture *f, gconstpointer data)
{
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    f->req = g_new0(struct virtq_req, 1);
    f->avail_idx = 0;
    g_assert_cmpint(virtq_setup(&f->q, f->mem, QSIZE, DESC, AVAIL, USED, true, false), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    g_free(f->req);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void test_setup_checks(struct fixture *f, gconstpointer data)
{
    struct virtq q;

    g_assert_cmpint(virtq_setup(&q, f->mem, 6, DESC, AVAIL, USED, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, 0, DESC, AVAIL, USED, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, QSIZE, DESC + 8, AVAIL, USED, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, QSIZE, DESC, AVAIL + 1, USED, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, QSIZE, DESC, AVAIL, USED + 2, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, QSIZE, RAM_SIZE - 16, AVAIL, USED, false, false), ==, -EINVAL);
    g_assert_cmpint(virtq_setup(&q, f->mem, 4096, DESC, AVAIL, USED, false, false), ==, -EINVAL);
    g_assert_false(q.ready);
}

static void test_chain(struct fixture *f, gconstpointer data)
{
    uint8_t buf[16];

    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 0);
    memcpy(f->ram + DATA, "request", 8);
    put_desc(f, DESC, 3, DATA, 8, VIRTQ_DESC_F_NEXT, 5);
    put_desc(f, DESC, 5, DATA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
    offer(f, 3);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 1);
    g_assert_cmpuint(f->req->head, ==, 3);
    g_assert_cmpuint(f->req->nbufs, ==, 2);
    g_assert_cmpuint(f->req->out_len, ==, 8);
    g_assert_cmpuint(f->req->in_len, ==, 16);
    g_assert_cmpuint(virtq_req_read(&f->q, f->req, 0, buf, sizeof(buf)), ==, 8);
    g_assert_cmpstr((char *)buf, ==, "request");
    g_assert_cmpuint(virtq_req_write(&f->q, f->req, 4, "reply", 6), ==, 6);
    g_assert_cmpstr((char *)f->ram + DATA + 0x104, ==, "reply");
    /* Nothing is written beyond the device-writable buffer. */
    g_assert_cmpuint(virtq_req_write(&f->q, f->req, 10, "0123456789", 10), ==, 6);
    g_assert_cmpuint(f->ram[DATA + 0x110], ==, 0);
    g_assert_cmpint(virtq_push(&f->q, 3, 10), ==, 0);
    g_assert_cmpuint(used_idx(f), ==, 1);
    g_assert_cmpuint(f->ram[USED + 4], ==, 3);
    g_assert_cmpuint(f->ram[USED + 8], ==, 10);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 0);
    g_assert_cmpint(virtq_push(&f->q, QSIZE, 0), ==, -EINVAL);
}

static void expect_broken(struct fixture *f, uint16_t head)
{
    offer(f, head);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, -EIO);
}

static void test_loop(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 1);
    put_desc(f, DESC, 1, DATA, 4, VIRTQ_DESC_F_NEXT, 0);
    expect_broken(f, 0);
}

static void test_bad_head_and_next(struct fixture *f, gconstpointer data)
{
    expect_broken(f, QSIZE);
}

static void test_bad_next(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 200);
    expect_broken(f, 0);
}

static void test_outside_ram(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, 0, RAM_SIZE - 4, 8, 0, 0);
    expect_broken(f, 0);
}

static void test_huge_length(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, 0, DATA, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
    expect_broken(f, 0);
}

static void test_avail_jump(struct fixture *f, gconstpointer data)
{
    uint16_t idx = QSIZE + 1;

    memcpy(f->ram + AVAIL + 2, &idx, 2);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, -EIO);
}

static void test_write_before_read(struct fixture *f, gconstpointer data)
{
    put_desc(f, DESC, 0, DATA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    put_desc(f, DESC, 1, DATA, 4, 0, 0);
    expect_broken(f, 0);
}

static void test_indirect(struct fixture *f, gconstpointer data)
{
    const uint64_t table = DATA + 0x800;

    put_desc(f, table, 0, DATA, 4, VIRTQ_DESC_F_NEXT, 2);
    put_desc(f, table, 2, DATA + 0x10, 8, VIRTQ_DESC_F_WRITE, 0);
    put_desc(f, DESC, 0, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    offer(f, 0);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 1);
    g_assert_cmpuint(f->req->nbufs, ==, 2);
    g_assert_cmpuint(f->req->in_len, ==, 8);

    /* A table entry pointing past the table. */
    put_desc(f, table, 2, DATA + 0x10, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    expect_broken(f, 0);
}

static void test_indirect_abuse(struct fixture *f, gconstpointer data)
{
    const uint64_t table = DATA + 0x800;

    /* Nested indirect tables. */
    put_desc(f, table, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    put_desc(f, DESC, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    expect_broken(f, 0);
    /* A length that is not a whole number of descriptors. */
    put_desc(f, DESC, 1, table, 20, VIRTQ_DESC_F_INDIRECT, 0);
    expect_broken(f, 1);
    /* A table outside RAM. */
    put_desc(f, DESC, 2, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    expect_broken(f, 2);
    /* Indirect without the feature. */
    f->q.indirect = false;
    put_desc(f, table, 0, DATA, 4, 0, 0);
    put_desc(f, DESC, 3, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
    expect_broken(f, 3);
}

static void test_notify_flags(struct fixture *f, gconstpointer data)
{
    uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

    put_desc(f, DESC, 0, DATA, 4, 0, 0);
    offer(f, 0);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 1);
    virtq_push(&f->q, 0, 0);
    g_assert_true(virtq_should_notify(&f->q));
    memcpy(f->ram + AVAIL, &flags, 2);
    virtq_push(&f->q, 0, 0);
    g_assert_false(virtq_should_notify(&f->q));
}

static void test_notify_event_idx(struct fixture *f, gconstpointer data)
{
    uint16_t used_event;

    g_assert_cmpint(virtq_setup(&f->q, f->mem, QSIZE, DESC, AVAIL, USED, false, true), ==, 0);
    put_desc(f, DESC, 0, DATA, 4, 0, 0);
    /* The driver wants to hear when used index 3 is reached (after entry 2). */
    used_event = 2;
    memcpy(f->ram + AVAIL + 4 + 2 * QSIZE, &used_event, 2);
    virtq_push(&f->q, 0, 0);
    g_assert_true(virtq_should_notify(&f->q));      /* the first always */
    virtq_push(&f->q, 0, 0);
    g_assert_false(virtq_should_notify(&f->q));     /* used 2: not past 2 yet */
    virtq_push(&f->q, 0, 0);
    g_assert_true(virtq_should_notify(&f->q));      /* used 3 crossed event 2 */
    /* Popping publishes avail_event for the driver. */
    offer(f, 0);
    g_assert_cmpint(virtq_pop(&f->q, f->req), ==, 1);
    memcpy(&used_event, f->ram + USED + 4 + 8 * QSIZE, 2);
    g_assert_cmpuint(used_event, ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/virtqueue/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("setup-checks", test_setup_checks);
    ADD("chain", test_chain);
    ADD("loop", test_loop);
    ADD("bad-head", test_bad_head_and_next);
    ADD("bad-next", test_bad_next);
    ADD("outside-ram", test_outside_ram);
    ADD("huge-length", test_huge_length);
    ADD("avail-jump", test_avail_jump);
    ADD("write-before-read", test_write_before_read);
    ADD("indirect", test_indirect);
    ADD("indirect-abuse", test_indirect_abuse);
    ADD("notify-flags", test_notify_flags);
    ADD("notify-event-idx", test_notify_event_idx);
#undef ADD
    return g_test_run();
}
