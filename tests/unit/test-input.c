/* Unit tests for the input router: each event goes to the newest device of
 * its kind that the guest drives, falls back when that one is inactive,
 * release_keys lets go of exactly what is down, absolute positions are
 * clamped and dropped without a tablet. */
#include "core/input.h"
#include "unit.h"

#include <errno.h>

#define MAX_EVENTS 64

struct event {
    char kind;                  /* 'k', 'r' or 'a' */
    unsigned code;
    bool down;
    int x, y, wheel;
    unsigned buttons;
};

struct fake {
    bool active;
    struct event ev[MAX_EVENTS];
    unsigned n;
};

static struct event *record(struct fake *f, char kind)
{
    g_assert_cmpuint(f->n, <, MAX_EVENTS);
    f->ev[f->n] = (struct event){ .kind = kind };
    return &f->ev[f->n++];
}

static void fake_key(void *opaque, unsigned code, bool down)
{
    struct event *e = record(opaque, 'k');

    e->code = code;
    e->down = down;
}

static void fake_rel(void *opaque, int dx, int dy, int wheel, unsigned buttons)
{
    struct event *e = record(opaque, 'r');

    *e = (struct event){ 'r', 0, false, dx, dy, wheel, buttons };
}

static void fake_abs(void *opaque, unsigned x, unsigned y, int wheel, unsigned buttons)
{
    struct event *e = record(opaque, 'a');

    *e = (struct event){ 'a', 0, false, (int)x, (int)y, wheel, buttons };
}

static bool fake_active(void *opaque)
{
    return ((struct fake *)opaque)->active;
}

static const struct input_device_ops always_ops = { .key = fake_key, .rel = fake_rel, .abs = fake_abs };
static const struct input_device_ops switch_ops = { .key = fake_key, .rel = fake_rel, .abs = fake_abs,
                                                    .active = fake_active };

static void assert_key(const struct fake *f, unsigned i, unsigned code, bool down)
{
    g_assert_cmpuint(i, <, f->n);
    g_assert_cmpint(f->ev[i].kind, ==, 'k');
    g_assert_cmpuint(f->ev[i].code, ==, code);
    g_assert_cmpint(f->ev[i].down, ==, down);
}

static void test_newest_active(void)
{
    struct input in;
    struct fake ps2 = { 0 }, virtio = { 0 };

    input_init(&in);
    g_assert_null(input_target(&in, INPUT_CAP_KEYBOARD));
    input_key(&in, 30, true);   /* nowhere to go: dropped */
    g_assert_cmpuint(in.events, ==, 0);

    g_assert_cmpint(input_add_device(&in, "ps2", INPUT_CAP_KEYBOARD, &always_ops, &ps2), ==, 0);
    g_assert_cmpint(input_add_device(&in, "virtio", INPUT_CAP_KEYBOARD, &switch_ops, &virtio), ==, 0);
    /* The guest has no virtio driver yet: PS/2 gets the keys. */
    g_assert_cmpstr(input_target(&in, INPUT_CAP_KEYBOARD), ==, "ps2");
    input_key(&in, 30, false);
    input_key(&in, 31, true);
    g_assert_cmpuint(ps2.n, ==, 2);
    g_assert_cmpuint(virtio.n, ==, 0);
    assert_key(&ps2, 0, 30, false);
    assert_key(&ps2, 1, 31, true);

    /* A driver started: the newer device takes over. */
    virtio.active = true;
    g_assert_cmpstr(input_target(&in, INPUT_CAP_KEYBOARD), ==, "virtio");
    input_key(&in, 31, false);
    g_assert_cmpuint(ps2.n, ==, 2);
    g_assert_cmpuint(virtio.n, ==, 1);
    assert_key(&virtio, 0, 31, false);

    /* And stopped again (a reset): back to PS/2. */
    virtio.active = false;
    input_key(&in, 32, true);
    g_assert_cmpuint(ps2.n, ==, 3);
    assert_key(&ps2, 2, 32, true);
    g_assert_cmpuint(in.events, ==, 4);

    /* Keys never reach a device without the capability. */
    g_assert_null(input_target(&in, INPUT_CAP_REL));
    input_rel(&in, 1, 1, 0, 0);
    g_assert_cmpuint(ps2.n + virtio.n, ==, 4);
    input_destroy(&in);
}

static void test_kinds_apart(void)
{
    struct input in;
    struct fake kbd = { 0 }, mouse = { 0 }, tablet = { .active = false };

    input_init(&in);
    input_add_device(&in, "kbd", INPUT_CAP_KEYBOARD, &always_ops, &kbd);
    input_add_device(&in, "mouse", INPUT_CAP_REL, &always_ops, &mouse);
    input_add_device(&in, "tablet", INPUT_CAP_ABS, &switch_ops, &tablet);

    input_rel(&in, -5, 7, -1, INPUT_BUTTON_LEFT | INPUT_BUTTON_SIDE);
    g_assert_cmpuint(mouse.n, ==, 1);
    g_assert_cmpint(mouse.ev[0].kind, ==, 'r');
    g_assert_cmpint(mouse.ev[0].x, ==, -5);
    g_assert_cmpint(mouse.ev[0].y, ==, 7);
    g_assert_cmpint(mouse.ev[0].wheel, ==, -1);
    g_assert_cmpuint(mouse.ev[0].buttons, ==, INPUT_BUTTON_LEFT | INPUT_BUTTON_SIDE);
    g_assert_cmpuint(in.buttons, ==, INPUT_BUTTON_LEFT | INPUT_BUTTON_SIDE);
    g_assert_cmpuint(kbd.n + tablet.n, ==, 0);

    /* The tablet's driver is not running: absolute events are dropped,
     * and front ends are told to send relative ones. */
    g_assert_false(input_absolute(&in));
    input_abs(&in, 100, 200, 0, 0);
    g_assert_cmpuint(tablet.n + mouse.n, ==, 1);
    g_assert_cmpuint(in.events, ==, 1);

    tablet.active = true;
    g_assert_true(input_absolute(&in));
    g_assert_cmpstr(input_target(&in, INPUT_CAP_ABS), ==, "tablet");
    input_abs(&in, 100, 200, 2, INPUT_BUTTON_RIGHT);
    g_assert_cmpuint(tablet.n, ==, 1);
    g_assert_cmpint(tablet.ev[0].kind, ==, 'a');
    g_assert_cmpint(tablet.ev[0].x, ==, 100);
    g_assert_cmpint(tablet.ev[0].y, ==, 200);
    g_assert_cmpint(tablet.ev[0].wheel, ==, 2);
    g_assert_cmpuint(tablet.ev[0].buttons, ==, INPUT_BUTTON_RIGHT);
    input_destroy(&in);
}

static void test_abs_clamp(void)
{
    struct input in;
    struct fake tablet = { 0 };

    input_init(&in);
    input_add_device(&in, "tablet", INPUT_CAP_ABS, &always_ops, &tablet);
    input_abs(&in, INPUT_ABS_MAX, INPUT_ABS_MAX, 0, 0);
    input_abs(&in, INPUT_ABS_MAX + 1, 40000, 0, 0);
    input_abs(&in, ~0u, 0, 0, 0);
    g_assert_cmpuint(tablet.n, ==, 3);
    for (unsigned i = 0; i < 3; i++)
        g_assert_cmpint(tablet.ev[i].x, ==, INPUT_ABS_MAX);
    g_assert_cmpint(tablet.ev[1].y, ==, INPUT_ABS_MAX);
    g_assert_cmpint(tablet.ev[2].y, ==, 0);
    input_destroy(&in);
}

static void test_release_keys(void)
{
    struct input in;
    struct fake kbd = { 0 };

    input_init(&in);
    input_add_device(&in, "kbd", INPUT_CAP_KEYBOARD, &always_ops, &kbd);
    input_key(&in, 29, true);
    input_key(&in, 255, true);
    input_key(&in, 30, true);
    input_key(&in, 1, true);
    input_key(&in, 30, false);
    kbd.n = 0;
    input_release_keys(&in);
    /* Exactly the keys still down, each let go once. */
    g_assert_cmpuint(kbd.n, ==, 3);
    assert_key(&kbd, 0, 1, false);
    assert_key(&kbd, 1, 29, false);
    assert_key(&kbd, 2, 255, false);
    kbd.n = 0;
    input_release_keys(&in);
    g_assert_cmpuint(kbd.n, ==, 0);

    /* Codes outside 1..255 are nobody's. */
    input_key(&in, 0, true);
    input_key(&in, 256, true);
    input_key(&in, ~0u, true);
    g_assert_cmpuint(kbd.n, ==, 0);
    input_release_keys(&in);
    g_assert_cmpuint(kbd.n, ==, 0);
    input_destroy(&in);
}

/* Keys pressed while one device had them are released on whichever device
 * has them when release_keys runs: the router keeps one set of keys. */
static void test_release_after_switch(void)
{
    struct input in;
    struct fake ps2 = { 0 }, virtio = { 0 };

    input_init(&in);
    input_add_device(&in, "ps2", INPUT_CAP_KEYBOARD, &always_ops, &ps2);
    input_add_device(&in, "virtio", INPUT_CAP_KEYBOARD, &switch_ops, &virtio);
    input_key(&in, 42, true);
    virtio.active = true;
    input_release_keys(&in);
    g_assert_cmpuint(ps2.n, ==, 1);
    g_assert_cmpuint(virtio.n, ==, 1);
    assert_key(&virtio, 0, 42, false);
    input_destroy(&in);
}

static void test_full(void)
{
    struct input in;
    struct fake f = { 0 };

    input_init(&in);
    for (unsigned i = 0; i < INPUT_MAX_DEVICES; i++)
        g_assert_cmpint(input_add_device(&in, "kbd", INPUT_CAP_KEYBOARD, &always_ops, &f), ==, 0);
    g_assert_cmpint(input_add_device(&in, "kbd", INPUT_CAP_KEYBOARD, &always_ops, &f), ==, -ENOSPC);
    input_key(&in, 2, true);
    g_assert_cmpuint(f.n, ==, 1);
    input_destroy(&in);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/input/newest-active", test_newest_active);
    g_test_add_func("/input/kinds-apart", test_kinds_apart);
    g_test_add_func("/input/abs-clamp", test_abs_clamp);
    g_test_add_func("/input/release-keys", test_release_keys);
    g_test_add_func("/input/release-after-switch", test_release_after_switch);
    g_test_add_func("/input/full", test_full);
    return g_test_run();
}
