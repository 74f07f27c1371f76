/* Serial console on the 16550 at 0x3f8, a small printf, and the debug-exit
 * helpers every guest ends with. */
#include "rt.h"

#define COM1 0x3f8
#define UART_LSR_THRE 0x20

/* Bounds the wait for THRE so a UART that never reports an empty
 * transmitter slows the test down instead of hanging it. */
#define THRE_POLL_LIMIT 100000

static bool serial_ready;

void rt_serial_init(void)
{
    outb(COM1 + 1, 0x00);       /* IER: no interrupts */
    outb(COM1 + 3, 0x80);       /* LCR: DLAB */
    outb(COM1 + 0, 0x01);       /* DLL: 115200 baud */
    outb(COM1 + 1, 0x00);       /* DLM */
    outb(COM1 + 3, 0x03);       /* LCR: 8N1 */
    outb(COM1 + 2, 0x07);       /* FCR: FIFOs on and cleared */
    outb(COM1 + 4, 0x03);       /* MCR: DTR, RTS; OUT2 off keeps IRQ4 quiet */
    serial_ready = true;
}

void rt_putc(char c)
{
    if (!serial_ready)
        return;
    for (int i = 0; i < THRE_POLL_LIMIT; i++) {
        if (inb(COM1 + 5) & UART_LSR_THRE)
            break;
    }
    outb(COM1, (uint8_t)c);
}

void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

struct fmt_sink {
    void (*put)(struct fmt_sink *s, char c);
    char *buf;
    size_t size;
    size_t len;
};

static void sink_serial(struct fmt_sink *s, char c)
{
    rt_putc(c);
    s->len++;
}

static void sink_buffer(struct fmt_sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

/* Division by 10 without libgcc's __udivdi3, which 32-bit code would
 * otherwise need for 64-bit operands. */
static uint64_t divmod10(uint64_t n, unsigned *rem)
{
    uint64_t q = (n >> 1) + (n >> 2);
    q += q >> 4;
    q += q >> 8;
    q += q >> 16;
    q += q >> 32;
    q >>= 3;
    uint64_t r = n - ((q << 3) + (q << 1));
    while (r > 9) {
        q++;
        r -= 10;
    }
    *rem = (unsigned)r;
    return q;
}

static void put_number(struct fmt_sink *s, uint64_t v, bool neg, unsigned base,
                       bool upper, int width, bool zero, bool left)
{
    char tmp[24];
    int n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    do {
        if (base == 16) {
            tmp[n++] = digits[v & 15];
            v >>= 4;
        } else {
            unsigned r;
            v = divmod10(v, &r);
            tmp[n++] = digits[r];
        }
    } while (v);

    int len = n + (neg ? 1 : 0);
    int pad = width > len ? width - len : 0;

    if (!left && !zero) {
        while (pad-- > 0)
            s->put(s, ' ');
    }
    if (neg)
        s->put(s, '-');
    if (!left && zero) {
        while (pad-- > 0)
            s->put(s, '0');
    }
    while (n)
        s->put(s, tmp[--n]);
    if (left) {
        while (pad-- > 0)
            s->put(s, ' ');
    }
}

static void fmt_core(struct fmt_sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            s->put(s, *fmt);
            continue;
        }
        fmt++;
        bool zero = false, left = false;
        for (;; fmt++) {
            if (*fmt == '0')
                zero = true;
            else if (*fmt == '-')
                left = true;
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int longs = 0;
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        if (*fmt == 'z')
            fmt++;

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longs >= 2 ? va_arg(ap, long long)
                        : longs ? va_arg(ap, long) : va_arg(ap, int);
            bool neg = v < 0;
            put_number(s, neg ? (uint64_t)-v : (uint64_t)v, neg, 10, false, width,
                       zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs >= 2 ? va_arg(ap, unsigned long long)
                         : longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_number(s, v, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, zero,
                       left);
            break;
        }
        case 'p':
            put_number(s, (uintptr_t)va_arg(ap, void *), false, 16, false, 8, true,
                       false);
            break;
        case 'c':
            s->put(s, (char)va_arg(ap, int));
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = (int)strlen(str);
            int pad = width > len ? width - len : 0;
            if (!left) {
                while (pad-- > 0)
                    s->put(s, ' ');
            }
            while (*str)
                s->put(s, *str++);
            if (left) {
                while (pad-- > 0)
                    s->put(s, ' ');
            }
            break;
        }
        case '%':
            s->put(s, '%');
            break;
        case '\0':
            return;
        default:
            s->put(s, '%');
            s->put(s, *fmt);
            break;
        }
    }
}

int rt_vprintf(const char *fmt, va_list ap)
{
    struct fmt_sink s = { .put = sink_serial };
    fmt_core(&s, fmt, ap);
    return (int)s.len;
}

int rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = rt_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct fmt_sink s = { .put = sink_buffer, .buf = buf, .size = size };
    va_list ap;
    va_start(ap, fmt);
    fmt_core(&s, fmt, ap);
    va_end(ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return (int)s.len;
}

void rt_exit(uint32_t v)
{
    outl(RT_DEBUG_EXIT_PORT, v);
    /* Only reached without a debug-exit device. cli/hlt fault at CPL3, so
     * spin there instead. */
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    for (;;) {
        if ((cs & 3) == 0)
            __asm__ volatile("cli; hlt");
        else
            rt_pause();
    }
}

void rt_fail(const char *fmt, ...)
{
    va_list ap;
    rt_puts("FAIL ");
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
    rt_putc('\n');
    rt_exit(1);
}

void rt_pass(void)
{
    rt_puts("PASS\n");
    rt_exit(0);
}
