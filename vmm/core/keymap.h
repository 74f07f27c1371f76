/* Key codes: Linux input key codes (linux/input-event-codes.h, KEY_*) are
 * what travels from a front end to the guest; these tables turn the codes
 * front ends and keyboards speak into them and back. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The largest key code the tables know (KEY_F24 is 194). */
#define KEYMAP_MAX_CODE 255

/* A PC scancode of set 1: the byte of the make code, with 0x100 set when it
 * follows an 0xe0 prefix. 0: the key has none. Pause (e1 1d 45) is 0x145. */
unsigned keymap_linux_to_set1(unsigned code);
/* The key code of a set 1 make code (0xe0 prefix as 0x100), 0 if unknown. */
unsigned keymap_set1_to_linux(unsigned set1);
/* The bytes a set 2 keyboard sends for code going down (down != 0) or up:
 * at most 8 bytes into out. Returns how many, 0 for a key set 2 lacks. */
size_t keymap_linux_to_set2(unsigned code, int down, uint8_t out[8]);
/* What an i8042 controller that translates (the PC default) makes of a set
 * 2 make code: the set 1 make code. 0xff for codes it cannot translate. */
uint8_t keymap_set2_to_set1(uint8_t set2);
/* A USB HID keyboard usage (page 7; SDL's scancodes use the same numbers)
 * to a key code, 0 if none. */
unsigned keymap_hid_to_linux(unsigned usage);
/* Key names for users and scripts ("a", "ctrl", "alt", "delete", "f1",
 * "ret", ...), QEMU's sendkey names where there is one; 0 if unknown. */
unsigned keymap_name_to_linux(const char *name);
