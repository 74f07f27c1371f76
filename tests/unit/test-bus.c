/* Unit tests for the PIO/MMIO bus: range bookkeeping, offset dispatch, and
 * dispatch racing with registration from other threads. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "unit.h"

struct rec_dev {
    unsigned reads, writes;
    uint64_t last_offset;
    unsigned last_size;
    uint8_t last_data[8];
};

static void rec_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct rec_dev *d = opaque;

    d->reads++;
    d->last_offset = offset;
    d->last_size = size;
    /* Answer with the offset so that the caller can see which byte it hit. */
    bus_put(data, size, 0xa0 + offset);
}

static void rec_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct rec_dev *d = opaque;

    d->writes++;
    d->last_offset = offset;
    d->last_size = size;
    memcpy(d->last_data, data, size > 8 ? 8 : size);
}

static const struct bus_ops rec_ops = { .read = rec_read, .write = rec_write };

static void test_dispatch_offsets(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct rec_dev a = { 0 }, b = { 0 };
    uint8_t data[8];

    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "a"), ==, 0);
    g_assert_cmpint(bus_register(bus, 0x3f8, 8, &rec_ops, &b, "b"), ==, 0);
    g_assert_cmpuint(bus_count(bus), ==, 2);

    g_assert_true(bus_read(bus, 0x105, data, 2));
    g_assert_cmpuint(a.reads, ==, 1);
    g_assert_cmpuint(a.last_offset, ==, 5);
    g_assert_cmpuint(a.last_size, ==, 2);
    g_assert_cmpuint(bus_get(data, 2), ==, 0xa5);
    g_assert_cmpuint(b.reads, ==, 0);

    bus_put(data, 4, 0x11223344);
    g_assert_true(bus_write(bus, 0x3fc, data, 4));
    g_assert_cmpuint(b.writes, ==, 1);
    g_assert_cmpuint(b.last_offset, ==, 4);
    g_assert_cmpuint(b.last_size, ==, 4);
    g_assert_cmpmem(b.last_data, 4, data, 4);

    /* The first and the last byte of a range belong to it. */
    g_assert_true(bus_read(bus, 0x100, data, 1));
    g_assert_cmpuint(a.last_offset, ==, 0);
    g_assert_true(bus_read(bus, 0x10f, data, 1));
    g_assert_cmpuint(a.last_offset, ==, 0xf);

    /* Nothing at all below, between and above. */
    g_assert_false(bus_read(bus, 0xff, data, 1));
    g_assert_false(bus_read(bus, 0x110, data, 1));
    g_assert_false(bus_write(bus, 0x200, data, 1));
    g_assert_false(bus_read(bus, 0x400, data, 1));
    g_assert_cmpuint(a.reads, ==, 3);
    g_assert_cmpuint(b.reads, ==, 0);
    bus_free(bus);
}

static void test_overlap_rejected(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct rec_dev a = { 0 };

    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "a"), ==, 0);
    /* Same range, inside, around, overlapping either end. */
    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0x104, 0x2, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0x80, 0x100, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0xf0, 0x11, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0x10f, 0x10, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpuint(bus_count(bus), ==, 1);

    /* Neighbours touching either end are fine. */
    g_assert_cmpint(bus_register(bus, 0xf0, 0x10, &rec_ops, &a, "below"), ==, 0);
    g_assert_cmpint(bus_register(bus, 0x110, 0x10, &rec_ops, &a, "above"), ==, 0);
    /* A range spanning a gap between two others still overlaps both. */
    g_assert_cmpint(bus_register(bus, 0x200, 0x10, &rec_ops, &a, "far"), ==, 0);
    g_assert_cmpint(bus_register(bus, 0x11f, 0xe2, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0x120, 0xe1, &rec_ops, &a, "x"), ==, -EEXIST);
    g_assert_cmpint(bus_register(bus, 0x120, 0xe0, &rec_ops, &a, "gap"), ==, 0);
    g_assert_cmpuint(bus_count(bus), ==, 5);
    bus_free(bus);
}

static void test_bad_ranges(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct bus *big = bus_new("big", UINT64_MAX);
    struct rec_dev a = { 0 };

    g_assert_cmpint(bus_register(bus, 0x100, 0, &rec_ops, &a, "empty"), ==, -EINVAL);
    g_assert_cmpint(bus_register(bus, 0xfff0, 0x20, &rec_ops, &a, "past-limit"), ==, -EINVAL);
    g_assert_cmpint(bus_register(bus, 0x100, 4, NULL, &a, "no-ops"), ==, -EINVAL);
    g_assert_cmpint(bus_register(big, UINT64_MAX - 1, 4, &rec_ops, &a, "wraps"), ==, -EINVAL);
    g_assert_cmpint(bus_register(big, 0x1000, UINT64_MAX, &rec_ops, &a, "wraps"), ==, -EINVAL);
    g_assert_cmpuint(bus_count(bus), ==, 0);
    g_assert_cmpuint(bus_count(big), ==, 0);
    /* Up to the limit exactly is allowed. */
    g_assert_cmpint(bus_register(bus, 0xfff0, 0x10, &rec_ops, &a, "top"), ==, 0);
    bus_free(big);
    bus_free(bus);
}

static void test_straddle_not_dispatched(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct rec_dev a = { 0 }, b = { 0 };
    uint8_t data[8];

    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "a"), ==, 0);
    g_assert_cmpint(bus_register(bus, 0x110, 0x10, &rec_ops, &b, "b"), ==, 0);
    g_assert_true(bus_read(bus, 0x10c, data, 4));
    g_assert_false(bus_read(bus, 0x10d, data, 4));
    g_assert_false(bus_write(bus, 0x10f, data, 2));
    g_assert_false(bus_read(bus, 0xfe, data, 4));
    g_assert_false(bus_read(bus, 0x11c, data, 8));
    g_assert_false(bus_read(bus, 0x100, data, 0));
    g_assert_cmpuint(a.reads, ==, 1);
    g_assert_cmpuint(a.writes + b.reads + b.writes, ==, 0);
    bus_free(bus);
}

static void test_unregister(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct rec_dev a = { 0 };
    uint8_t data[1];

    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &a, "a"), ==, 0);
    g_assert_cmpint(bus_unregister(bus, 0x104), ==, -ENOENT);
    g_assert_cmpint(bus_unregister(bus, 0x200), ==, -ENOENT);
    g_assert_true(bus_read(bus, 0x100, data, 1));
    g_assert_cmpint(bus_unregister(bus, 0x100), ==, 0);
    g_assert_cmpuint(bus_count(bus), ==, 0);
    g_assert_false(bus_read(bus, 0x100, data, 1));
    g_assert_cmpint(bus_unregister(bus, 0x100), ==, -ENOENT);
    /* The space is free again, for a different shape. */
    g_assert_cmpint(bus_register(bus, 0xf8, 0x10, &rec_ops, &a, "a2"), ==, 0);
    g_assert_true(bus_read(bus, 0x100, data, 1));
    g_assert_cmpuint(a.last_offset, ==, 8);
    g_assert_cmpuint(a.reads, ==, 2);
    bus_free(bus);
}

static void test_missing_read_handler(void)
{
    static const struct bus_ops write_only = { .write = rec_write };
    struct bus *bus = bus_new("test", 0x10000);
    struct rec_dev a = { 0 };
    uint8_t data[4] = { 0 };

    g_assert_cmpint(bus_register(bus, 0x80, 4, &write_only, &a, "wo"), ==, 0);
    g_assert_true(bus_read(bus, 0x80, data, 4));
    g_assert_cmpuint(bus_get(data, 4), ==, 0xffffffff);
    g_assert_true(bus_write(bus, 0x81, data, 1));
    g_assert_cmpuint(a.writes, ==, 1);
    g_assert_cmpuint(a.last_offset, ==, 1);
    bus_free(bus);
}

/* A handler that removes its own range, as a PCI BAR move would. */
struct self_remover {
    struct bus *bus;
    uint64_t base;
    unsigned calls;
};

static void self_remove_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct self_remover *s = opaque;

    s->calls++;
    g_assert_cmpint(bus_unregister(s->bus, s->base), ==, 0);
    g_assert_cmpint(bus_register(s->bus, s->base + 0x1000, 0x10, &rec_ops, NULL, "moved"), ==, 0);
}

static const struct bus_ops self_remove_ops = { .write = self_remove_write };

static void test_handler_changes_map(void)
{
    struct bus *bus = bus_new("test", 0x10000);
    struct self_remover s = { bus, 0x200, 0 };
    struct rec_dev unused = { 0 };
    uint8_t data[1] = { 1 };

    g_assert_cmpint(bus_register(bus, 0x200, 0x10, &self_remove_ops, &s, "bar"), ==, 0);
    g_assert_cmpint(bus_register(bus, 0x100, 0x10, &rec_ops, &unused, "other"), ==, 0);
    g_assert_true(bus_write(bus, 0x204, data, 1));
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_false(bus_write(bus, 0x204, data, 1));
    g_assert_cmpuint(s.calls, ==, 1);
    g_assert_cmpuint(bus_count(bus), ==, 2);
    bus_free(bus);
}

/* Several vCPU-like threads dispatch while another thread keeps moving a
 * range around; every access to the fixed range must land, and the handler
 * counts must match what the dispatchers saw succeed. */
#define RACE_READERS 4
#define RACE_WRITER_ROUNDS 20000

struct race {
    struct bus *bus;
    atomic_uint fixed_hits, moving_hits, writer_rounds;
    atomic_bool stop;
};

struct race_reader {
    struct race *race;
    unsigned reads, fixed_ok, moving_ok, wrong;
};

static void race_fixed_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct race *r = opaque;

    atomic_fetch_add(&r->fixed_hits, 1);
    bus_put(data, size, 0x1000 + offset);
}

static void race_moving_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct race *r = opaque;

    atomic_fetch_add(&r->moving_hits, 1);
    bus_put(data, size, 0x2000 + offset);
}

static const struct bus_ops race_fixed_ops = { .read = race_fixed_read };
static const struct bus_ops race_moving_ops = { .read = race_moving_read };

static void *race_reader_thread(void *opaque)
{
    struct race_reader *rd = opaque;
    uint8_t data[4];

    for (unsigned i = 0; !atomic_load(&rd->race->stop); i++) {
        rd->reads++;
        if (bus_read(rd->race->bus, 0x10 + 2 * (i & 1), data, 2)) {
            rd->fixed_ok++;
            if (bus_get(data, 2) != 0x1000 + 2 * (i & 1))
                rd->wrong++;
        }
        if (bus_read(rd->race->bus, 0x800 + (i & 7), data, 4)) {
            rd->moving_ok++;
            if (bus_get(data, 4) != 0x2000 + (i & 7))
                rd->wrong++;
        }
    }
    return NULL;
}

static void *race_writer_thread(void *opaque)
{
    struct race *r = opaque;

    /* On a loaded machine the readers may not run while the moving range is
     * there at all: the writer goes on until one of them has seen it (or a
     * hundred times the rounds, when the check below fails), stopping at a
     * multiple of 32 rounds, where the fillers are all there or all gone. */
    for (unsigned n = 0; n < RACE_WRITER_ROUNDS || n % 32 ||
                         (atomic_load(&r->moving_hits) == 0 && n < 100 * RACE_WRITER_ROUNDS); n++) {
        uint64_t filler = 0x4000 + 0x10 * (n % 32);

        /* The moving range comes and goes; fillers grow and shrink the table
         * so that its snapshots keep being replaced at different sizes. */
        g_assert_cmpint(bus_register(r->bus, 0x800, 0x10, &race_moving_ops, r, "moving"), ==, 0);
        if (n % 16 == 0)
            sched_yield();
        if (n % 64 < 32)
            g_assert_cmpint(bus_register(r->bus, filler, 0x10, &race_moving_ops, r, "filler"), ==, 0);
        else
            g_assert_cmpint(bus_unregister(r->bus, filler), ==, 0);
        g_assert_cmpint(bus_unregister(r->bus, 0x800), ==, 0);
        atomic_fetch_add(&r->writer_rounds, 1);
    }
    return NULL;
}

static void test_concurrent_dispatch(void)
{
    struct race race = { .bus = bus_new("race", 0x10000) };
    struct race_reader readers[RACE_READERS];
    pthread_t rt[RACE_READERS], wt;
    unsigned fixed = 0, moving = 0;

    atomic_init(&race.fixed_hits, 0);
    atomic_init(&race.moving_hits, 0);
    atomic_init(&race.writer_rounds, 0);
    atomic_init(&race.stop, false);
    g_assert_cmpint(bus_register(race.bus, 0x10, 4, &race_fixed_ops, &race, "fixed"), ==, 0);
    for (unsigned i = 0; i < RACE_READERS; i++) {
        readers[i] = (struct race_reader){ .race = &race };
        g_assert_cmpint(pthread_create(&rt[i], NULL, race_reader_thread, &readers[i]), ==, 0);
    }
    /* The readers run for as long as the writer does, and then some. */
    g_assert_cmpint(pthread_create(&wt, NULL, race_writer_thread, &race), ==, 0);
    pthread_join(wt, NULL);
    atomic_store(&race.stop, true);
    for (unsigned i = 0; i < RACE_READERS; i++) {
        pthread_join(rt[i], NULL);
        g_assert_cmpuint(readers[i].fixed_ok, ==, readers[i].reads);
        g_assert_cmpuint(readers[i].wrong, ==, 0);
        fixed += readers[i].fixed_ok;
        moving += readers[i].moving_ok;
    }
    g_test_message("%u fixed and %u moving reads over %u writer rounds", fixed, moving,
                   atomic_load(&race.writer_rounds));
    g_assert_cmpuint(atomic_load(&race.writer_rounds), >=, RACE_WRITER_ROUNDS);
    g_assert_cmpuint(atomic_load(&race.fixed_hits), ==, fixed);
    g_assert_cmpuint(atomic_load(&race.moving_hits), ==, moving);
    g_assert_cmpuint(moving, >, 0);
    /* The writer left the fixed range and half of its fillers. */
    g_assert_cmpuint(bus_count(race.bus), ==, 1 + 32 * ((atomic_load(&race.writer_rounds) / 32) % 2));
    bus_free(race.bus);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bus/dispatch-offsets", test_dispatch_offsets);
    g_test_add_func("/bus/overlap-rejected", test_overlap_rejected);
    g_test_add_func("/bus/bad-ranges", test_bad_ranges);
    g_test_add_func("/bus/straddle-not-dispatched", test_straddle_not_dispatched);
    g_test_add_func("/bus/unregister", test_unregister);
    g_test_add_func("/bus/missing-read-handler", test_missing_read_handler);
    g_test_add_func("/bus/handler-changes-map", test_handler_changes_map);
    g_test_add_func("/bus/concurrent-dispatch", test_concurrent_dispatch);
    return g_test_run();
}
