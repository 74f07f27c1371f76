/* 8254 PIT channel 0 as a periodic interrupt source. */
#include "rt.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43

void rt_pit_periodic(unsigned hz)
{
    uint32_t div = (RT_PIT_HZ + hz / 2) / hz;
    if (div > 0xffff)
        div = 0xffff;
    outb(PIT_CMD, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(PIT_CH0, (uint8_t)div);
    outb(PIT_CH0, (uint8_t)(div >> 8));
}
