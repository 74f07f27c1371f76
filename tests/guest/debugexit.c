/* Prints a line and leaves with a debug-exit value other than 0/1.
 * Compared: exit status (0x21 -> 67) and the printed line. */
#include "rt/rt.h"

int main(void)
{
    rt_serial_init();
    rt_printf("= debug exit 0x21\n");
    rt_puts("PASS\n");
    rt_exit(0x21);
}
