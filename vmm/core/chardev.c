/* Serial backends on the GLib main loop. Output is written on the vCPU thread
 * that transmits; input is read on the main thread and fed to the UART only
 * as fast as the guest drains its FIFO, so nothing typed is lost. */
#include "chardev.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

enum chr_kind { CHR_NONE, CHR_STDIO, CHR_FILE, CHR_UNIX };

#define ESCAPE_CHAR 0x01    /* Ctrl-a */
/* Output of a unix-socket port while no client is connected is kept, up to
 * this much (the newest), and handed to the next client: connecting late
 * still shows the boot messages. */
#define BACKLOG_MAX (64 * 1024)

struct chardev {
    enum chr_kind kind;
    struct serial *serial;      /* borrowed */
    int in_fd;                  /* stdin or the client; -1 when none */
    atomic_int out_fd;          /* stdout, the file or the client */
    int own_fd;                 /* the file: owned */
    int listen_fd;              /* owned */
    char *path;                 /* owned: socket path to unlink */
    guint in_watch, listen_watch;
    uint8_t pending[4096];
    size_t plen;
    bool escape;
    bool raw;
    struct termios saved;
    void (*quit)(void *);
    void *quit_opaque;
    pthread_mutex_t backlog_lock;   /* backlog, and out_fd changes for unix */
    GByteArray *backlog;            /* owned; unix only */
};

static void write_all(struct chardev *chr, int fd, const uint8_t *buf, size_t len)
{
    while (fd >= 0 && len) {
        ssize_t n = chr->kind == CHR_UNIX ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;      /* a gone reader must not stop the guest */
        buf += n;
        len -= (size_t)n;
    }
}

static void tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct chardev *chr = opaque;
    int fd;

    if (chr->kind != CHR_UNIX) {
        write_all(chr, atomic_load(&chr->out_fd), buf, len);
        return;
    }
    pthread_mutex_lock(&chr->backlog_lock);
    fd = atomic_load(&chr->out_fd);
    if (fd >= 0) {
        write_all(chr, fd, buf, len);
    } else {
        g_byte_array_append(chr->backlog, buf, (guint)len);
        if (chr->backlog->len > BACKLOG_MAX)
            g_byte_array_remove_range(chr->backlog, 0, chr->backlog->len - BACKLOG_MAX);
    }
    pthread_mutex_unlock(&chr->backlog_lock);
}

static gboolean on_input(gint fd, GIOCondition cond, gpointer data);

static void add_input_watch(struct chardev *chr)
{
    if (!chr->in_watch && chr->in_fd >= 0)
        chr->in_watch = g_unix_fd_add(chr->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_input, chr);
}

/* Hands pending bytes to the UART; stops reading while some are left. */
static void feed(struct chardev *chr)
{
    size_t n = serial_receive(chr->serial, chr->pending, chr->plen);

    memmove(chr->pending, chr->pending + n, chr->plen - n);
    chr->plen -= n;
    if (chr->plen == 0)
        add_input_watch(chr);
}

static gboolean feed_idle(gpointer data)
{
    feed(data);
    return G_SOURCE_REMOVE;
}

static void rx_ready(void *opaque)
{
    g_main_context_invoke(NULL, feed_idle, opaque);
}

static void drop_client(struct chardev *chr)
{
    if (chr->kind == CHR_UNIX && chr->in_fd >= 0) {
        pthread_mutex_lock(&chr->backlog_lock);
        atomic_store(&chr->out_fd, -1);
        pthread_mutex_unlock(&chr->backlog_lock);
        close(chr->in_fd);
        chr->in_fd = -1;
    }
}

static gboolean on_input(gint fd, GIOCondition cond, gpointer data)
{
    struct chardev *chr = data;
    uint8_t buf[sizeof(chr->pending)];
    ssize_t n = read(fd, buf, sizeof(buf) - chr->plen);

    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return G_SOURCE_CONTINUE;
        chr->in_watch = 0;
        drop_client(chr);
        return G_SOURCE_REMOVE;
    }
    for (ssize_t i = 0; i < n; i++) {
        uint8_t c = buf[i];

        if (chr->raw && chr->escape) {
            chr->escape = false;
            if (c == 'x' || c == 'X') {
                if (chr->quit)
                    chr->quit(chr->quit_opaque);
                continue;
            }
            if (c == 'h' || c == '?') {
                fprintf(stderr, "\r\nC-a x    quit nook-vmm\r\nC-a C-a  send C-a to the guest\r\n");
                continue;
            }
            if (c != ESCAPE_CHAR)
                continue;
        } else if (chr->raw && c == ESCAPE_CHAR) {
            chr->escape = true;
            continue;
        }
        chr->pending[chr->plen++] = c;
    }
    feed(chr);
    if (chr->plen) {
        chr->in_watch = 0;
        return G_SOURCE_REMOVE;     /* resumed by rx_ready */
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct chardev *chr = data;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (c < 0)
        return G_SOURCE_CONTINUE;
    if (chr->in_fd >= 0) {
        /* One terminal at a time; a second one is told so. */
        static const char busy[] = "nook-vmm: this serial port already has a client\n";
        ssize_t r = send(c, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
        (void)r;
        close(c);
        return G_SOURCE_CONTINUE;
    }
    chr->in_fd = c;
    pthread_mutex_lock(&chr->backlog_lock);
    write_all(chr, c, chr->backlog->data, chr->backlog->len);
    g_byte_array_set_size(chr->backlog, 0);
    atomic_store(&chr->out_fd, c);
    pthread_mutex_unlock(&chr->backlog_lock);
    add_input_watch(chr);
    return G_SOURCE_CONTINUE;
}

static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
        snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct chardev *chardev_new(const char *spec, struct serial *serial, void (*quit)(void *),
                            void *quit_opaque, char *err, size_t errlen)
{
    struct chardev *chr = calloc(1, sizeof(*chr));

    if (!chr) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    chr->serial = serial;
    chr->in_fd = chr->own_fd = chr->listen_fd = -1;
    atomic_init(&chr->out_fd, -1);
    chr->quit = quit;
    chr->quit_opaque = quit_opaque;
    pthread_mutex_init(&chr->backlog_lock, NULL);
    chr->backlog = g_byte_array_new();

    if (strcmp(spec, "none") == 0) {
        chr->kind = CHR_NONE;
    } else if (strcmp(spec, "stdio") == 0) {
        chr->kind = CHR_STDIO;
        chr->in_fd = STDIN_FILENO;
        atomic_store(&chr->out_fd, STDOUT_FILENO);
    } else if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
        chr->kind = CHR_FILE;
        chr->own_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (chr->own_fd < 0) {
            snprintf(err, errlen, "cannot open serial output file '%s': %s", spec + 5, strerror(errno));
            goto fail;
        }
        atomic_store(&chr->out_fd, chr->own_fd);
    } else if (strncmp(spec, "unix:", 5) == 0 && spec[5]) {
        chr->kind = CHR_UNIX;
        chr->listen_fd = listen_unix(spec + 5, err, errlen);
        if (chr->listen_fd < 0)
            goto fail;
        chr->path = strdup(spec + 5);
    } else {
        snprintf(err, errlen, "bad --serial '%s': expected stdio, none, file:PATH or unix:PATH", spec);
        goto fail;
    }
    serial_set_tx(serial, tx, chr);
    serial_set_rx_ready(serial, rx_ready, chr);
    return chr;

fail:
    g_byte_array_unref(chr->backlog);
    pthread_mutex_destroy(&chr->backlog_lock);
    free(chr);
    return NULL;
}

bool chardev_is_interactive(const struct chardev *chr)
{
    return chr->kind == CHR_STDIO && isatty(STDIN_FILENO);
}

void chardev_start(struct chardev *chr)
{
    if (chr->kind == CHR_STDIO && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &chr->saved) == 0) {
        struct termios t = chr->saved;

        /* Raw input so that Esc, arrows and Ctrl-c reach the guest. */
        cfmakeraw(&t);
        t.c_oflag |= OPOST | ONLCR;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
            chr->raw = true;
    }
    if (chr->kind == CHR_STDIO)
        g_unix_set_fd_nonblocking(STDIN_FILENO, FALSE, NULL);
    add_input_watch(chr);
    if (chr->listen_fd >= 0)
        chr->listen_watch = g_unix_fd_add(chr->listen_fd, G_IO_IN, on_accept, chr);
}

void chardev_free(struct chardev *chr)
{
    if (!chr)
        return;
    serial_set_tx(chr->serial, NULL, NULL);
    serial_set_rx_ready(chr->serial, NULL, NULL);
    if (chr->in_watch)
        g_source_remove(chr->in_watch);
    if (chr->listen_watch)
        g_source_remove(chr->listen_watch);
    if (chr->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &chr->saved);
    drop_client(chr);
    if (chr->listen_fd >= 0)
        close(chr->listen_fd);
    if (chr->path) {
        unlink(chr->path);
        free(chr->path);
    }
    if (chr->own_fd >= 0)
        close(chr->own_fd);
    g_byte_array_unref(chr->backlog);
    pthread_mutex_destroy(&chr->backlog_lock);
    free(chr);
}
