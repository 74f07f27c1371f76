/* Serial backends: what the guest transmits reaches the file a line at a
 * time, the end of an unfinished line follows within milliseconds through
 * the main loop, and nothing is lost when the port closes. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "core/chardev.h"
#include "hw/serial.h"
#include "unit.h"

struct fixture {
    char *dir, *path;
    struct serial *uart;
    struct chardev *chr;
};

static void setup(struct fixture *f, gconstpointer data)
{
    char err[256] = "";
    g_autofree char *spec = NULL;

    f->dir = g_dir_make_tmp("nook-chardev-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "out.txt", NULL);
    spec = g_strdup_printf("file:%s", f->path);
    f->uart = serial_new((struct irq_line){ 0 });
    f->chr = chardev_new(spec, f->uart, NULL, NULL, err, sizeof(err));
    g_assert_nonnull(f->chr);
    chardev_start(f->chr);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    chardev_free(f->chr);
    serial_free(f->uart);
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

/* The guest writes to the transmit holding register, one byte at a time. */
static void send(struct fixture *f, const char *s)
{
    for (; *s; s++)
        dev_write(&serial_bus_ops, f->uart, 0, 1, (uint8_t)*s);
}

static char *contents(struct fixture *f)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(f->path, &text, NULL, NULL));
    return text;
}

static void test_lines(struct fixture *f, gconstpointer data)
{
    g_autofree char *a = NULL, *b = NULL, *c = NULL;
    gint64 deadline;

    /* A whole line is written by the transmitting thread itself. */
    send(f, "hello, world\n");
    a = contents(f);
    g_assert_cmpstr(a, ==, "hello, world\n");

    /* A prompt without a newline waits for the main loop, briefly. */
    send(f, "login: ");
    b = contents(f);
    g_assert_cmpstr(b, ==, "hello, world\n");
    deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        g_autofree char *now = NULL;

        g_main_context_iteration(NULL, FALSE);
        now = contents(f);
        if (strcmp(now, "hello, world\nlogin: ") == 0)
            break;
        g_usleep(1000);
    }
    c = contents(f);
    g_assert_cmpstr(c, ==, "hello, world\nlogin: ");
}

static void test_long_output(struct fixture *f, gconstpointer data)
{
    g_autofree char *big = g_malloc(10001), *got = NULL;

    /* More than the buffer without a newline: nothing is dropped. */
    for (int i = 0; i < 10000; i++)
        big[i] = (char)('a' + i % 26);
    big[10000] = 0;
    send(f, big);
    send(f, "tail");
    chardev_free(f->chr);
    f->chr = NULL;
    got = contents(f);
    g_assert_cmpuint(strlen(got), ==, 10004);
    g_assert_true(strncmp(got, big, 10000) == 0);
    g_assert_cmpstr(got + 10000, ==, "tail");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/chardev/lines", struct fixture, NULL, setup, test_lines, teardown);
    g_test_add("/chardev/long-output", struct fixture, NULL, setup, test_long_output, teardown);
    return g_test_run();
}
