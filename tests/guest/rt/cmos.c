/* CMOS / RTC register access through the index/data ports 0x70/0x71. */
#include "rt.h"

/* Bit 7 of the index port is the NMI mask on real chipsets; it is left
 * clear so NMIs stay as they were. */
uint8_t rt_cmos_read(uint8_t reg)
{
    outb(0x70, reg & 0x7f);
    return inb(0x71);
}

void rt_cmos_write(uint8_t reg, uint8_t v)
{
    outb(0x70, reg & 0x7f);
    outb(0x71, v);
}
