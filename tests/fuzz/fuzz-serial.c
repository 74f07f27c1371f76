/* Fuzz target for the 16550A: guest register reads and writes of any width
 * mixed with host input, with a backend that refills the FIFO from its
 * rx_ready callback as the real one does. */
#include <string.h>

#include "hw/serial.h"
#include "fuzz.h"

#define COM1 0x3f8

static struct serial *uart;
static const uint8_t *backlog;
static size_t backlog_len;
static size_t tx_bytes;

static void on_tx(void *opaque, const uint8_t *buf, size_t len)
{
    tx_bytes += len;
}

static void on_rx_ready(void *opaque)
{
    size_t n = serial_receive(uart, backlog, backlog_len);

    backlog += n;
    backlog_len -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    struct bus *pio;

    uart = serial_new(fuzz_irq());
    if (!uart)
        return 0;
    serial_set_tx(uart, on_tx, NULL);
    serial_set_rx_ready(uart, on_rx_ready, NULL);
    pio = bus_new("pio", 0x10000);
    if (!pio) {
        serial_free(uart);
        return 0;
    }
    bus_register(pio, COM1, 8, &serial_bus_ops, uart, "com1");
    backlog = NULL;
    backlog_len = 0;

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in);
        uint64_t port = COM1 + ((op >> 3) & 7);
        uint8_t buf[8];

        switch (op & 7) {
        case 0:
        case 1:
            bus_read(pio, port, buf, 1);
            break;
        case 2:
        case 3:
            buf[0] = fi_u8(&in);
            bus_write(pio, port, buf, 1);
            break;
        case 4:
            bus_read(pio, port, buf, fi_size(&in));
            break;
        case 5: {
            unsigned n = fi_size(&in);

            for (unsigned i = 0; i < n; i++)
                buf[i] = fi_u8(&in);
            bus_write(pio, port, buf, n);
            break;
        }
        case 6: {
            /* Bytes the FIFO refuses wait in the backlog for rx_ready. */
            const uint8_t *p;
            size_t n = fi_bytes(&in, &p, fi_u8(&in) & 31), took;

            took = serial_receive(uart, p, n);
            if (took > n)
                abort();
            backlog = p + took;
            backlog_len = n - took;
            break;
        }
        default:
            if (op & 0x80)
                serial_reset(uart);
            break;
        }
    }
    bus_free(pio);
    serial_free(uart);
    uart = NULL;
    return 0;
}
