/* Key code tables. Sources of the facts: the PC AT keyboard scancode sets 1
 * and 2, the USB HID usage tables (keyboard page 7) and Linux's
 * input-event-codes.h. */
#include "keymap.h"

#include <string.h>
#include <strings.h>

/* Set 1 make codes by key code, 0xe0-prefixed ones with 0x100. Codes 1 to
 * 83 are their own set 1 make code, which is where Linux's numbering came
 * from; the rest are listed. */
static const struct {
    unsigned short code, set1;
} set1_extra[] = {
    { 86, 0x56 },  { 87, 0x57 },  { 88, 0x58 },                     /* 102nd, F11, F12 */
    { 89, 0x73 },  { 92, 0x79 },  { 93, 0x70 },  { 94, 0x7b },      /* RO, henkan, kana, muhenkan */
    { 117, 0x59 }, { 121, 0x7e }, { 124, 0x7d },                    /* KP=, KP comma, yen */
    { 96, 0x11c }, { 97, 0x11d }, { 98, 0x135 }, { 99, 0x137 },     /* KP enter, rctrl, KP/, sysrq */
    { 100, 0x138 }, { 102, 0x147 }, { 103, 0x148 }, { 104, 0x149 }, /* ralt, home, up, pgup */
    { 105, 0x14b }, { 106, 0x14d }, { 107, 0x14f }, { 108, 0x150 }, /* left, right, end, down */
    { 109, 0x151 }, { 110, 0x152 }, { 111, 0x153 },                /* pgdn, insert, delete */
    { 113, 0x120 }, { 114, 0x12e }, { 115, 0x130 }, { 116, 0x15e }, /* mute, vol-, vol+, power */
    { 119, 0x145 },                                                 /* pause (e1 1d 45) */
    { 125, 0x15b }, { 126, 0x15c }, { 127, 0x15d },                 /* lmeta, rmeta, compose */
    { 142, 0x15f }, { 143, 0x163 },                                 /* sleep, wakeup */
    { 183, 0x64 }, { 184, 0x65 }, { 185, 0x66 }, { 186, 0x67 },     /* F13-F16 */
    { 187, 0x68 }, { 188, 0x69 }, { 189, 0x6a }, { 190, 0x6b },     /* F17-F20 */
    { 191, 0x6c }, { 192, 0x6d }, { 193, 0x6e }, { 194, 0x76 },     /* F21-F24 */
};

unsigned keymap_linux_to_set1(unsigned code)
{
    if (code >= 1 && code <= 83)
        return code;
    for (size_t i = 0; i < sizeof(set1_extra) / sizeof(set1_extra[0]); i++)
        if (set1_extra[i].code == code)
            return set1_extra[i].set1;
    return 0;
}

unsigned keymap_set1_to_linux(unsigned set1)
{
    if (set1 >= 1 && set1 <= 83)
        return set1;
    for (size_t i = 0; i < sizeof(set1_extra) / sizeof(set1_extra[0]); i++)
        if (set1_extra[i].set1 == set1)
            return set1_extra[i].code;
    return 0;
}

/* The translation an i8042 applies to set 2 bytes: index set 2, value set
 * 1. It is one to one over 0x01-0x7f. */
static const uint8_t set2_to_set1[128] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};

uint8_t keymap_set2_to_set1(uint8_t set2)
{
    if (set2 == 0x83)           /* F7, the one make code above 0x7f */
        return 0x41;
    return set2 < 128 ? set2_to_set1[set2] : 0xff;
}

static uint8_t set1_to_set2(uint8_t set1)
{
    if (set1 == 0x41)
        return 0x83;
    for (unsigned i = 1; i < 128; i++)
        if (set2_to_set1[i] == set1)
            return (uint8_t)i;
    return 0;
}

size_t keymap_linux_to_set2(unsigned code, int down, uint8_t out[8])
{
    static const uint8_t pause[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
    unsigned s1 = keymap_linux_to_set1(code);
    size_t n = 0;
    uint8_t b;

    if (!s1)
        return 0;
    if (s1 == 0x145) {          /* Pause: all on the way down, nothing up */
        if (!down)
            return 0;
        memcpy(out, pause, sizeof(pause));
        return sizeof(pause);
    }
    b = set1_to_set2((uint8_t)s1);
    if (!b)
        return 0;
    if (s1 == 0x137) {          /* Print Screen comes with a fake left shift */
        if (down) {
            out[n++] = 0xe0, out[n++] = 0x12, out[n++] = 0xe0, out[n++] = b;
        } else {
            out[n++] = 0xe0, out[n++] = 0xf0, out[n++] = b;
            out[n++] = 0xe0, out[n++] = 0xf0, out[n++] = 0x12;
        }
        return n;
    }
    if (s1 & 0x100)
        out[n++] = 0xe0;
    if (!down)
        out[n++] = 0xf0;
    out[n++] = b;
    return n;
}

/* HID usages 0x04-0x73 by position, then the ones further up. */
static const uint8_t hid_low[0x74] = {
    [0x04] = 30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, /* a-p */
    [0x14] = 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,                         /* q-z */
    [0x1e] = 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,                                 /* 1-0 */
    [0x28] = 28, 1, 14, 15, 57, 12, 13, 26, 27, 43, 43, 39, 40, 41, 51, 52, 53, 58,
    [0x3a] = 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88,                 /* F1-F12 */
    [0x46] = 99, 70, 119, 110, 102, 104, 111, 107, 109, 106, 105, 108, 103,
    [0x53] = 69, 98, 55, 74, 78, 96, 79, 80, 81, 75, 76, 77, 71, 72, 73, 82, 83,
    [0x64] = 86, 127, 116, 117, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194,
};

static const struct {
    unsigned short usage, code;
} hid_high[] = {
    { 0x7f, 113 }, { 0x80, 115 }, { 0x81, 114 }, { 0x85, 121 }, { 0x87, 89 }, { 0x88, 93 },
    { 0x89, 124 }, { 0x8a, 92 },  { 0x8b, 94 },  { 0x90, 122 }, { 0x91, 123 },
    { 0xe0, 29 },  { 0xe1, 42 },  { 0xe2, 56 },  { 0xe3, 125 }, { 0xe4, 97 },  { 0xe5, 54 },
    { 0xe6, 100 }, { 0xe7, 126 },
};

unsigned keymap_hid_to_linux(unsigned usage)
{
    if (usage < sizeof(hid_low))
        return hid_low[usage];
    for (size_t i = 0; i < sizeof(hid_high) / sizeof(hid_high[0]); i++)
        if (hid_high[i].usage == usage)
            return hid_high[i].code;
    return 0;
}

static const struct {
    const char *name;
    unsigned short code;
} names[] = {
    { "esc", 1 }, { "minus", 12 }, { "equal", 13 }, { "backspace", 14 }, { "tab", 15 },
    { "bracket_left", 26 }, { "bracket_right", 27 }, { "ret", 28 }, { "enter", 28 },
    { "ctrl", 29 }, { "semicolon", 39 }, { "apostrophe", 40 }, { "grave_accent", 41 },
    { "shift", 42 }, { "backslash", 43 }, { "comma", 51 }, { "dot", 52 }, { "slash", 53 },
    { "shift_r", 54 }, { "kp_multiply", 55 }, { "asterisk", 55 }, { "alt", 56 },
    { "spc", 57 }, { "space", 57 }, { "caps_lock", 58 }, { "num_lock", 69 },
    { "scroll_lock", 70 }, { "kp_7", 71 }, { "kp_8", 72 }, { "kp_9", 73 },
    { "kp_subtract", 74 }, { "kp_4", 75 }, { "kp_5", 76 }, { "kp_6", 77 }, { "kp_add", 78 },
    { "kp_1", 79 }, { "kp_2", 80 }, { "kp_3", 81 }, { "kp_0", 82 }, { "kp_decimal", 83 },
    { "less", 86 }, { "f11", 87 }, { "f12", 88 }, { "kp_enter", 96 }, { "ctrl_r", 97 },
    { "kp_divide", 98 }, { "sysrq", 99 }, { "print", 99 }, { "alt_r", 100 }, { "home", 102 },
    { "up", 103 }, { "pgup", 104 }, { "left", 105 }, { "right", 106 }, { "end", 107 },
    { "down", 108 }, { "pgdn", 109 }, { "insert", 110 }, { "delete", 111 }, { "mute", 113 },
    { "volumedown", 114 }, { "volumeup", 115 }, { "power", 116 }, { "kp_equals", 117 },
    { "pause", 119 }, { "meta_l", 125 }, { "meta_r", 126 }, { "menu", 127 },
};

unsigned keymap_name_to_linux(const char *name)
{
    static const char letters[] = "qwertyuiop\0\0\0\0asdfghjkl\0\0\0\0\0zxcvbnm";

    if (!name || !*name)
        return 0;
    if (!name[1]) {
        if (name[0] >= '1' && name[0] <= '9')
            return (unsigned)(name[0] - '1') + 2;
        if (name[0] == '0')
            return 11;
        for (unsigned i = 0; i < sizeof(letters) - 1; i++)
            if (letters[i] && letters[i] == (name[0] | 0x20))
                return 16 + i;
        return 0;
    }
    if ((name[0] == 'f' || name[0] == 'F') && name[1] >= '1' && name[1] <= '9') {
        unsigned n = (unsigned)(name[1] - '0');

        if (name[2] >= '0' && name[2] <= '9' && !name[3])
            n = n * 10 + (unsigned)(name[2] - '0');
        else if (name[2])
            n = 0;
        if (n >= 1 && n <= 10)
            return 58 + n;
        if (n >= 13 && n <= 24)
            return 170 + n;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(names[i].name, name) == 0)
            return names[i].code;
    return 0;
}
