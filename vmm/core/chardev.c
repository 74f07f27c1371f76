/* Serial backends on the GLib main loop. Output is gathered into lines: the
 * vCPU thread that transmits writes a line when it ends (or the buffer
 * fills), and the main loop writes what is left of a line a few
 * milliseconds later, so that a prompt or an echoed key still shows at once.
 * A write per character would cost the guest a system call per character,
 * and a reader at the end of a pipe or a terminal a wakeup per character.
 * Input is read on the main thread and fed to the UART only as fast as the
 * guest drains its FIFO, so nothing typed is lost. */
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
#include <sys/eventfd.h>
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
#define OUT_MAX 4096
/* How long the end of an unfinished line may wait. */
#define OUT_DELAY_MS 5

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

    pthread_mutex_t out_lock;       /* out, olen, flush_asked */
    uint8_t out[OUT_MAX];
    size_t olen;
    bool flush_asked;               /* the main loop will write what is left */
    int flush_fd;                   /* owned eventfd: asks the main loop */
    guint flush_watch, flush_timer;
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

static void emit(struct chardev *chr, const uint8_t *buf, size_t len);

/* Called with out_lock held. */
static void flush_locked(struct chardev *chr)
{
    if (chr->olen)
        emit(chr, chr->out, chr->olen);
    chr->olen = 0;
}

static void tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct chardev *chr = opaque;
    bool ask = false;

    pthread_mutex_lock(&chr->out_lock);
    for (size_t i = 0; i < len; i++) {
        chr->out[chr->olen++] = buf[i];
        if (buf[i] == '\n' || chr->olen == OUT_MAX)
            flush_locked(chr);
    }
    if (chr->olen && !chr->flush_asked && chr->flush_fd >= 0) {
        chr->flush_asked = ask = true;
    }
    pthread_mutex_unlock(&chr->out_lock);
    if (ask && write(chr->flush_fd, &(uint64_t){ 1 }, 8) < 0 && errno != EAGAIN)
        log_warn("serial: cannot wake the main loop: %s", strerror(errno));
}

static gboolean on_flush_timer(gpointer data)
{
    struct chardev *chr = data;

    pthread_mutex_lock(&chr->out_lock);
    flush_locked(chr);
    chr->flush_asked = false;
    chr->flush_timer = 0;
    pthread_mutex_unlock(&chr->out_lock);
    return G_SOURCE_REMOVE;
}

static gboolean on_flush_asked(gint fd, GIOCondition cond, gpointer data)
{
    struct chardev *chr = data;
    uint64_t n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return G_SOURCE_CONTINUE;
    if (!chr->flush_timer)
        chr->flush_timer = g_timeout_add(OUT_DELAY_MS, on_flush_timer, chr);
    return G_SOURCE_CONTINUE;
}

static void emit(struct chardev *chr, const uint8_t *buf, size_t len)
{
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
    /* Bound under a temporary name and renamed once it listens, so that a
     * client that connects as soon as the path exists is never refused. */
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d", path, (int)getpid()) >=
        sizeof(sa.sun_path))
        strcpy(sa.sun_path, path);
    unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
        (strcmp(sa.sun_path, path) != 0 && rename(sa.sun_path, path) < 0)) {
        snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
        if (strcmp(sa.sun_path, path) != 0)
            unlink(sa.sun_path);
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
    pthread_mutex_init(&chr->out_lock, NULL);
    chr->flush_fd = -1;

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
    if (chr->kind != CHR_NONE) {
        chr->flush_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (chr->flush_fd < 0) {
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
            goto fail;
        }
        serial_set_tx(serial, tx, chr);
    }
    serial_set_rx_ready(serial, rx_ready, chr);
    return chr;

fail:
    if (chr->listen_fd >= 0)
        close(chr->listen_fd);
    if (chr->own_fd >= 0)
        close(chr->own_fd);
    if (chr->path) {
        unlink(chr->path);
        free(chr->path);
    }
    pthread_mutex_destroy(&chr->out_lock);
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
    if (chr->flush_fd >= 0)
        chr->flush_watch = g_unix_fd_add(chr->flush_fd, G_IO_IN, on_flush_asked, chr);
}

void chardev_free(struct chardev *chr)
{
    if (!chr)
        return;
    serial_set_tx(chr->serial, NULL, NULL);
    serial_set_rx_ready(chr->serial, NULL, NULL);
    /* Whatever the guest sent last goes out before the port closes. */
    pthread_mutex_lock(&chr->out_lock);
    flush_locked(chr);
    pthread_mutex_unlock(&chr->out_lock);
    if (chr->flush_watch)
        g_source_remove(chr->flush_watch);
    if (chr->flush_timer)
        g_source_remove(chr->flush_timer);
    if (chr->flush_fd >= 0)
        close(chr->flush_fd);
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
    pthread_mutex_destroy(&chr->out_lock);
    free(chr);
}
