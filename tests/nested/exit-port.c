/* exit-port: ends the virtual machine it runs in through nook-vmm's
 * debug-exit port (0xf4), so that a Linux guest reports a status no
 * power-off or reset can be mistaken for, with or without ACPI.
 * Usage: exit-port [VALUE]   (nook-vmm then exits with (VALUE << 1) | 1) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int value = argc > 1 ? atoi(argv[1]) : 0;

    /* ioperm() would do for one port, but iopl() needs no bitmap in the TSS
     * and works the same on every kernel configuration. */
    if (iopl(3) < 0) {
        perror("exit-port: iopl");
        return 2;
    }
    /* What the caller printed last may still wait in the console's buffer
     * for the UART; the machine must not end before it has gone out. */
    tcdrain(STDOUT_FILENO);
    tcdrain(STDERR_FILENO);
    outb((unsigned char)value, 0xf4);
    /* Still here: nothing listens on the port. */
    fprintf(stderr, "exit-port: the write to port 0xf4 did not end the machine\n");
    return 1;
}
