/* Unit tests for the key code tables: Linux codes to and from scan code set
 * 1, set 2 sequences and their i8042 translation (checked against the
 * i8042's own translation too), USB HID usages, and key names. */
#include "core/keymap.h"
#include "hw/i8042.h"
#include "unit.h"

/* Linux key codes (input-event-codes.h) spelled out, so that the tables are
 * checked against the header's numbers rather than against themselves. */
enum {
    KEY_ESC = 1, KEY_1 = 2, KEY_0 = 11, KEY_BACKSPACE = 14, KEY_TAB = 15, KEY_ENTER = 28,
    KEY_LEFTCTRL = 29, KEY_A = 30, KEY_LEFTSHIFT = 42, KEY_RIGHTSHIFT = 54, KEY_KPASTERISK = 55,
    KEY_LEFTALT = 56, KEY_SPACE = 57, KEY_F1 = 59, KEY_F10 = 68, KEY_F11 = 87, KEY_F12 = 88,
    KEY_KPENTER = 96, KEY_RIGHTCTRL = 97, KEY_KPSLASH = 98, KEY_SYSRQ = 99, KEY_RIGHTALT = 100,
    KEY_HOME = 102, KEY_UP = 103, KEY_PAGEUP = 104, KEY_LEFT = 105, KEY_RIGHT = 106, KEY_END = 107,
    KEY_DOWN = 108, KEY_PAGEDOWN = 109, KEY_INSERT = 110, KEY_DELETE = 111, KEY_PAUSE = 119,
    KEY_LEFTMETA = 125, KEY_RIGHTMETA = 126, KEY_COMPOSE = 127, KEY_F13 = 183, KEY_F24 = 194,
};

/* a..z in Linux's numbering, which follows the PC keyboard's rows. */
static const unsigned letters[26] = {
    30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,
};

static void test_set1_round_trip(void)
{
    unsigned n = 0;

    for (unsigned code = 0; code <= KEYMAP_MAX_CODE + 1; code++) {
        unsigned s1 = keymap_linux_to_set1(code);

        if (!s1)
            continue;
        n++;
        g_assert_cmphex(s1 & ~0x17fu, ==, 0);
        if (keymap_set1_to_linux(s1) != code)
            g_error("key %u -> set 1 %03x -> key %u", code, s1, keymap_set1_to_linux(s1));
    }
    /* The 83 keys of the AT keyboard and the extended ones after them. */
    g_assert_cmpuint(n, >=, 83 + 40);
    g_assert_cmpuint(keymap_linux_to_set1(0), ==, 0);
    g_assert_cmpuint(keymap_linux_to_set1(KEYMAP_MAX_CODE + 1), ==, 0);
    g_assert_cmpuint(keymap_set1_to_linux(0), ==, 0);
    g_assert_cmpuint(keymap_set1_to_linux(0x1ff), ==, 0);
}

static void test_set1_values(void)
{
    static const struct { unsigned code, set1; } cases[] = {
        { KEY_ESC, 0x01 }, { KEY_A, 0x1e }, { KEY_ENTER, 0x1c }, { KEY_LEFTCTRL, 0x1d },
        { KEY_F11, 0x57 }, { KEY_F12, 0x58 }, { KEY_KPENTER, 0x11c }, { KEY_RIGHTCTRL, 0x11d },
        { KEY_KPSLASH, 0x135 }, { KEY_RIGHTALT, 0x138 }, { KEY_HOME, 0x147 }, { KEY_UP, 0x148 },
        { KEY_PAGEUP, 0x149 }, { KEY_LEFT, 0x14b }, { KEY_RIGHT, 0x14d }, { KEY_END, 0x14f },
        { KEY_DOWN, 0x150 }, { KEY_PAGEDOWN, 0x151 }, { KEY_INSERT, 0x152 }, { KEY_DELETE, 0x153 },
        { KEY_LEFTMETA, 0x15b }, { KEY_RIGHTMETA, 0x15c }, { KEY_COMPOSE, 0x15d },
        { KEY_KPASTERISK, 0x37 }, { KEY_SYSRQ, 0x137 }, { KEY_PAUSE, 0x145 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++)
        g_assert_cmphex(keymap_linux_to_set1(cases[i].code), ==, cases[i].set1);
}

/* Every key's set 2 sequence, taken apart: an optional e0, f0 on the way
 * up, then the make byte, which the controller's translation turns into the
 * key's set 1 byte. */
static void test_set2_translates_to_set1(void)
{
    for (unsigned code = 1; code <= KEYMAP_MAX_CODE; code++) {
        unsigned s1 = keymap_linux_to_set1(code);
        uint8_t make[8], brk[8];
        size_t nm, nb, i = 0;

        if (!s1 || s1 == 0x145 || s1 == 0x137)
            continue;       /* Pause and Print Screen have their own test */
        nm = keymap_linux_to_set2(code, 1, make);
        nb = keymap_linux_to_set2(code, 0, brk);
        g_assert_cmpuint(nm, ==, (s1 & 0x100) ? 2 : 1);
        g_assert_cmpuint(nb, ==, nm + 1);
        if (s1 & 0x100) {
            g_assert_cmphex(make[0], ==, 0xe0);
            g_assert_cmphex(brk[0], ==, 0xe0);
            i = 1;
        }
        g_assert_cmphex(brk[i], ==, 0xf0);
        g_assert_cmphex(brk[i + 1], ==, make[i]);
        if (keymap_set2_to_set1(make[i]) != (s1 & 0xff))
            g_error("key %u: set 2 %02x translates to %02x, set 1 is %02x", code, make[i],
                    keymap_set2_to_set1(make[i]), s1 & 0xff);
    }
}

static void test_pause_print_screen(void)
{
    static const uint8_t pause[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
    static const uint8_t prt_down[] = { 0xe0, 0x12, 0xe0, 0x7c };
    static const uint8_t prt_up[] = { 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 };
    uint8_t out[8];

    g_assert_cmpuint(keymap_linux_to_set2(KEY_PAUSE, 1, out), ==, sizeof(pause));
    g_assert_cmpmem(out, sizeof(pause), pause, sizeof(pause));
    g_assert_cmpuint(keymap_linux_to_set2(KEY_PAUSE, 0, out), ==, 0);
    g_assert_cmpuint(keymap_linux_to_set2(KEY_SYSRQ, 1, out), ==, sizeof(prt_down));
    g_assert_cmpmem(out, sizeof(prt_down), prt_down, sizeof(prt_down));
    g_assert_cmpuint(keymap_linux_to_set2(KEY_SYSRQ, 0, out), ==, sizeof(prt_up));
    g_assert_cmpmem(out, sizeof(prt_up), prt_up, sizeof(prt_up));
    g_assert_cmpuint(keymap_linux_to_set2(0, 1, out), ==, 0);
    g_assert_cmpuint(keymap_linux_to_set2(KEYMAP_MAX_CODE + 1, 1, out), ==, 0);
}

/* The translation is one to one over 01-7f (and 83, F7, maps to 41). */
static void test_set2_table(void)
{
    bool seen[128] = { false };

    for (unsigned b = 1; b < 0x80; b++) {
        uint8_t s1 = keymap_set2_to_set1((uint8_t)b);

        g_assert_cmphex(s1, <, 0x80);
        if (seen[s1])
            g_error("set 2 %02x translates to %02x, as an earlier byte does", b, s1);
        seen[s1] = true;
    }
    g_assert_cmphex(keymap_set2_to_set1(0x83), ==, 0x41);
    g_assert_cmphex(keymap_set2_to_set1(0x00), ==, 0xff);
    g_assert_cmphex(keymap_set2_to_set1(0x84), ==, 0xff);
    g_assert_cmphex(keymap_set2_to_set1(0xff), ==, 0xff);
}

static void noop_irq(void *opaque, unsigned gsi, int level)
{
}

/* The i8042 keeps its own translation table: both must agree. */
static void test_set2_matches_i8042(void)
{
    struct i8042 k;

    i8042_init(&k, (struct irq_line){ .set = noop_irq }, (struct irq_line){ .set = noop_irq },
               (struct power){ 0 });
    for (unsigned b = 1; b <= 0x83; b++) {
        uint8_t in = (uint8_t)b, got;

        if (b >= 0x80 && b < 0x83)
            continue;
        i8042_key(&k, &in, 1);
        got = (uint8_t)dev_inb(&i8042_bus_ops, &k, 0);
        g_assert_cmphex(dev_inb(&i8042_bus_ops, &k, 4) & 1, ==, 0);
        if (got != keymap_set2_to_set1(in))
            g_error("set 2 %02x: the i8042 gives %02x, keymap %02x", b, got, keymap_set2_to_set1(in));
    }
    pthread_mutex_destroy(&k.lock);
}

static void test_hid(void)
{
    static const struct { unsigned usage, code; } cases[] = {
        { 0x28, KEY_ENTER }, { 0x29, KEY_ESC }, { 0x2a, KEY_BACKSPACE }, { 0x2b, KEY_TAB },
        { 0x2c, KEY_SPACE }, { 0x3a, KEY_F1 }, { 0x43, KEY_F10 }, { 0x44, KEY_F11 }, { 0x45, KEY_F12 },
        { 0x4c, KEY_DELETE }, { 0x4f, KEY_RIGHT }, { 0x50, KEY_LEFT }, { 0x51, KEY_DOWN },
        { 0x52, KEY_UP }, { 0x4a, KEY_HOME }, { 0x4d, KEY_END }, { 0x49, KEY_INSERT },
        { 0x4b, KEY_PAGEUP }, { 0x4e, KEY_PAGEDOWN }, { 0x58, KEY_KPENTER }, { 0x54, KEY_KPSLASH },
        { 0x55, KEY_KPASTERISK }, { 0x48, KEY_PAUSE }, { 0x46, KEY_SYSRQ }, { 0x65, KEY_COMPOSE },
        { 0x68, KEY_F13 }, { 0x73, KEY_F24 },
        { 0xe0, KEY_LEFTCTRL }, { 0xe1, KEY_LEFTSHIFT }, { 0xe2, KEY_LEFTALT }, { 0xe3, KEY_LEFTMETA },
        { 0xe4, KEY_RIGHTCTRL }, { 0xe5, KEY_RIGHTSHIFT }, { 0xe6, KEY_RIGHTALT },
        { 0xe7, KEY_RIGHTMETA },
    };

    for (unsigned i = 0; i < 26; i++)
        g_assert_cmpuint(keymap_hid_to_linux(0x04 + i), ==, letters[i]);
    for (unsigned i = 0; i < 9; i++)
        g_assert_cmpuint(keymap_hid_to_linux(0x1e + i), ==, KEY_1 + i);
    g_assert_cmpuint(keymap_hid_to_linux(0x27), ==, KEY_0);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++)
        if (keymap_hid_to_linux(cases[i].usage) != cases[i].code)
            g_error("HID usage %02x: key %u, wanted %u", cases[i].usage,
                    keymap_hid_to_linux(cases[i].usage), cases[i].code);
    /* No event, error roll-over, POST fail, undefined; past the table. */
    for (unsigned u = 0; u < 4; u++)
        g_assert_cmpuint(keymap_hid_to_linux(u), ==, 0);
    g_assert_cmpuint(keymap_hid_to_linux(0xe8), ==, 0);
    g_assert_cmpuint(keymap_hid_to_linux(0xffff), ==, 0);
    g_assert_cmpuint(keymap_hid_to_linux(~0u), ==, 0);
    /* Whatever a HID keyboard can send, a PS/2 keyboard can say too, but
     * for Hangul and Hanja (usages 90 and 91), which send one byte and no
     * break code, and are not in the set 1 table. */
    for (unsigned u = 0; u < 0x100; u++) {
        unsigned code = keymap_hid_to_linux(u);

        if (code && !keymap_linux_to_set1(code) && u != 0x90 && u != 0x91)
            g_error("HID usage %02x is key %u, which has no set 1 code", u, code);
    }
}

static void test_names(void)
{
    static const struct { const char *name; unsigned code; } cases[] = {
        { "a", KEY_A }, { "A", KEY_A }, { "z", 44 }, { "q", 16 }, { "m", 50 }, { "1", KEY_1 },
        { "9", 10 }, { "0", KEY_0 }, { "f1", KEY_F1 }, { "F10", KEY_F10 }, { "f11", KEY_F11 },
        { "f12", KEY_F12 }, { "f13", KEY_F13 }, { "f24", KEY_F24 }, { "esc", KEY_ESC },
        { "ret", KEY_ENTER }, { "enter", KEY_ENTER }, { "ctrl", KEY_LEFTCTRL },
        { "ctrl_r", KEY_RIGHTCTRL }, { "alt", KEY_LEFTALT }, { "alt_r", KEY_RIGHTALT },
        { "shift", KEY_LEFTSHIFT }, { "shift_r", KEY_RIGHTSHIFT }, { "delete", KEY_DELETE },
        { "DELETE", KEY_DELETE }, { "up", KEY_UP }, { "down", KEY_DOWN }, { "left", KEY_LEFT },
        { "right", KEY_RIGHT }, { "kp_enter", KEY_KPENTER }, { "spc", KEY_SPACE },
        { "tab", KEY_TAB }, { "backspace", KEY_BACKSPACE }, { "pause", KEY_PAUSE },
        { "sysrq", KEY_SYSRQ }, { "meta_l", KEY_LEFTMETA }, { "menu", KEY_COMPOSE },
    };
    static const char *const unknown[] = {
        "", "f0", "f25", "f1x", "f100", "ab", "-", "!", "ctrl-alt", "nosuchkey", "é",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        if (keymap_name_to_linux(cases[i].name) != cases[i].code)
            g_error("'%s' is key %u, wanted %u", cases[i].name, keymap_name_to_linux(cases[i].name),
                    cases[i].code);
        g_assert_cmpuint(keymap_linux_to_set1(cases[i].code), !=, 0);
    }
    for (unsigned i = 0; i < 26; i++) {
        char name[2] = { (char)('a' + i), 0 };

        g_assert_cmpuint(keymap_name_to_linux(name), ==, letters[i]);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(unknown); i++)
        if (keymap_name_to_linux(unknown[i]))
            g_error("'%s' names key %u", unknown[i], keymap_name_to_linux(unknown[i]));
    g_assert_cmpuint(keymap_name_to_linux(NULL), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keymap/set1-round-trip", test_set1_round_trip);
    g_test_add_func("/keymap/set1-values", test_set1_values);
    g_test_add_func("/keymap/set2-translates-to-set1", test_set2_translates_to_set1);
    g_test_add_func("/keymap/pause-print-screen", test_pause_print_screen);
    g_test_add_func("/keymap/set2-table", test_set2_table);
    g_test_add_func("/keymap/set2-matches-i8042", test_set2_matches_i8042);
    g_test_add_func("/keymap/hid", test_hid);
    g_test_add_func("/keymap/names", test_names);
    return g_test_run();
}
