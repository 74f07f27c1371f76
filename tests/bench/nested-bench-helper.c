/* Static helper of nested-bench.py, for both of its guests (L1 and L2).
 *
 *   run LOG MARKER TIMEOUT -- VMM ARGS...   (in L1)
 *       Starts the VMM with its standard output (the L2 serial console) on a
 *       pipe, copies that to LOG (stderr to LOG.err; LOG.t has each line
 *       stamped with the milliseconds since the start at which it came in,
 *       carriage returns left out), and prints one line:
 *       milliseconds from the VMM's start to the first console line that
 *       begins with MARKER, and to the VMM's exit, its exit status and the
 *       console bytes before the marker; and, taken when the marker came,
 *       the VMM's resident and huge-page memory and its VM's counters from
 *       KVM's debugfs (if mounted). Kills the VMM (status 137) after
 *       TIMEOUT seconds. Exits 1 when the marker never came.
 *   fill FILE MIB                           (in L1)
 *       Writes a raw disk image of MIB MiB of data (no holes, no zero
 *       blocks); the first 8 bytes of every 4 KiB are their own offset.
 *   read DEVICE MIB [BLOCK_KIB]              (in L2)
 *       Reads MIB MiB from DEVICE with O_DIRECT in blocks of BLOCK_KIB
 *       (default 1024), checks the offsets fill wrote, prints the time and
 *       MiB/s as measured with CLOCK_MONOTONIC.
 *   exitport iopl|ioperm VALUE              (in L2)
 *       Writes VALUE to the debug-exit port 0xf4 after getting access to it
 *       with iopl(3) or with ioperm(); prints what failed if it returns.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* KVM's counters for the VM of process pid, as " kvm_NAME=VALUE" fields.
 * Its debugfs directory is named PID-FD; the counters are sums over its
 * vCPUs (exits by kind, page faults, TLB flushes, emulated instructions)
 * and how the guest's memory is mapped (pages_4k, pages_2m). */
static void kvm_stats(pid_t pid, char *out, size_t len)
{
    static const char *const names[] = {
        "exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "irq_window_exits",
        "request_irq_exits", "signal_exits", "pf_taken", "pf_fixed", "pf_emulate",
        "pf_spurious", "pf_guest", "tlb_flush", "invlpg", "insn_emulation",
        "irq_injections", "hypercalls", "pages_4k", "pages_2m", "pages_1g",
    };
    char prefix[32], path[512], val[64];
    struct dirent *e;
    DIR *d = opendir("/sys/kernel/debug/kvm");
    size_t used = 0;

    out[0] = 0;
    if (!d)
        return;
    snprintf(prefix, sizeof prefix, "%d-", (int)pid);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            snprintf(path, sizeof path, "/sys/kernel/debug/kvm/%s/%s", e->d_name, names[i]);
            int fd = open(path, O_RDONLY);
            ssize_t n = fd < 0 ? -1 : read(fd, val, sizeof val - 1);
            if (fd >= 0)
                close(fd);
            if (n <= 0)
                continue;
            val[n] = 0;
            val[strcspn(val, "\n")] = 0;
            used += snprintf(out + used, used < len ? len - used : 0, " kvm_%s=%s", names[i], val);
        }
        break;
    }
    closedir(d);
}

/* The VMM's resident memory and how much of it is in huge pages, in KiB. */
static void memory_stats(pid_t pid, char *out, size_t len)
{
    char path[64], line[256];
    long rss = -1, thp = -1;

    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "Rss: %ld", &rss);
            sscanf(line, "AnonHugePages: %ld", &thp);
        }
        fclose(f);
    }
    snprintf(out, len, " rss_kib=%ld thp_kib=%ld", rss, thp);
}

static int cmd_run(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: run LOG MARKER TIMEOUT -- VMM ARGS...\n");
        return 2;
    }
    const char *logpath = argv[1], *marker = argv[2];
    double timeout_ms = atof(argv[3]) * 1000;
    size_t mlen = strlen(marker);
    char errpath[4096], tpath[4096];
    int pipefd[2];

    snprintf(errpath, sizeof errpath, "%s.err", logpath);
    snprintf(tpath, sizeof tpath, "%s.t", logpath);
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FILE *tlog = fopen(tpath, "w");
    int nullfd = open("/dev/null", O_RDONLY);
    if (logfd < 0 || errfd < 0 || !tlog || nullfd < 0 || pipe(pipefd) < 0) {
        perror("run: setup");
        return 2;
    }

    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("run: fork");
        return 2;
    }
    if (pid == 0) {
        dup2(nullfd, 0);
        dup2(pipefd[1], 1);
        dup2(errfd, 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[5], argv + 5);
        fprintf(stderr, "exec %s: %s\n", argv[5], strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

    /* The start of the current console line, to compare with the marker;
     * carriage returns are dropped (the guest's tty sends CR LF). */
    char line[256];
    size_t linelen = 0;
    long bytes = 0, bytes_before = -1;
    double t_marker = -1, t_exit = -1;
    char stats[2048] = "", mem[128] = "";
    int status = -1, killed = 0, eof = 0, tline_start = 1;
    char buf[65536];

    for (;;) {
        if (t_exit < 0) {
            int st;
            pid_t r = waitpid(pid, &st, WNOHANG);
            if (r == pid) {
                t_exit = now_ms() - t0;
                status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        }
        /* Once the VMM has gone, take what is left in the pipe and stop:
         * a process it left behind may keep the pipe open. */
        int last = t_exit >= 0;
        ssize_t n, got = 0;
        while ((n = read(pipefd[0], buf, sizeof buf)) > 0) {
            double t = now_ms() - t0;
            write_all(logfd, buf, (size_t)n);
            for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c != '\r') {
                    if (tline_start)
                        fprintf(tlog, "[%9.1f] ", t);
                    fputc(c, tlog);
                    tline_start = c == '\n';
                }
                if (t_marker < 0 && c != '\r' && c != '\n' && linelen < sizeof line)
                    line[linelen++] = c;
                if (t_marker < 0 && linelen == mlen && memcmp(line, marker, mlen) == 0) {
                    t_marker = t;
                    bytes_before = bytes + i + 1 - (long)mlen;
                    linelen = sizeof line; /* matched; ignore the rest of the line */
                }
                if (c == '\n')
                    linelen = 0;
            }
            bytes += n;
            got += n;
        }
        if (n == 0)
            eof = 1;
        if (t_marker >= 0 && !mem[0] && t_exit < 0) {
            memory_stats(pid, mem, sizeof mem);
            kvm_stats(pid, stats, sizeof stats);
        }
        if (last)
            break;
        if (now_ms() - t0 > timeout_ms && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        if (eof) {
            sleep_ms(5);
        } else if (got) {
            /* Let output gather for a moment: waking up for every character
             * the guest prints would cost L1 more than the VMM's own work.
             * A marker in the middle of a burst is late by at most this. */
            sleep_ms(2);
        } else {
            /* Quiet: the first byte is read as soon as it comes. Short
             * timeouts once the marker is in, to see the exit in time. */
            struct pollfd pfd = { pipefd[0], POLLIN, 0 };
            poll(&pfd, 1, t_marker < 0 ? 50 : 5);
        }
    }
    fclose(tlog);
    printf("marker_ms=%.1f exit_ms=%.1f status=%d bytes_before_marker=%ld bytes=%ld%s%s%s\n",
           t_marker, t_exit, status, bytes_before, bytes, killed ? " killed=1" : "", mem, stats);
    fflush(stdout);
    return t_marker >= 0 ? 0 : 1;
}

/* xorshift64: cheap data that neither compresses nor deduplicates. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmd_fill(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fill FILE MIB\n");
        return 2;
    }
    long mib = atol(argv[2]);
    size_t len = 1 << 20;
    uint64_t *buf = malloc(len), seed = 0x9e3779b97f4a7c15ull;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!buf || fd < 0) {
        perror("fill");
        return 2;
    }
    for (size_t i = 0; i < len / 8; i++)
        buf[i] = next_random(&seed);
    for (long m = 0; m < mib; m++) {
        for (size_t s = 0; s < len; s += 4096) {
            buf[s / 8] = (uint64_t)m * len + s;
            buf[s / 8 + 1] ^= (uint64_t)m;
        }
        if (write_all(fd, (const char *)buf, len) < 0) {
            perror("fill: write");
            return 2;
        }
    }
    if (close(fd) < 0) {
        perror("fill: close");
        return 2;
    }
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: read DEVICE MIB [BLOCK_KIB]\n");
        return 2;
    }
    long long total = atoll(argv[2]) << 20;
    size_t bs = (argc == 4 ? (size_t)atol(argv[3]) : 1024) << 10;
    void *buf;
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0 || posix_memalign(&buf, 4096, bs) != 0) {
        fprintf(stderr, "read: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    long long done = 0, bad = 0;
    double t0 = now_ms();
    while (done < total) {
        size_t want = total - done < (long long)bs ? (size_t)(total - done) : bs;
        ssize_t n = pread(fd, buf, want, done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || n % 4096) {
            fprintf(stderr, "read: %s at %lld: %s\n", argv[1], done,
                    n < 0 ? strerror(errno) : "short read");
            return 1;
        }
        for (ssize_t s = 0; s < n; s += 4096)
            bad += ((uint64_t *)buf)[s / 8] != (uint64_t)(done + s);
        done += n;
    }
    double ms = now_ms() - t0;
    printf("BENCH-L2-READ bytes=%lld ms=%.1f mib_s=%.1f bad_sectors=%lld\n",
           done, ms, done / 1048576.0 / (ms / 1000), bad);
    fflush(stdout);
    return bad ? 1 : 0;
}

static int cmd_exitport(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: exitport iopl|ioperm VALUE\n");
        return 2;
    }
    int r = strcmp(argv[1], "iopl") == 0 ? iopl(3) : ioperm(0xf4, 4, 1);
    if (r < 0) {
        printf("BENCH-L2-EXITPORT %s failed: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fflush(stdout);
    tcdrain(STDOUT_FILENO);
    outb((unsigned char)atoi(argv[2]), 0xf4);
    printf("BENCH-L2-EXITPORT %s: the write to port 0xf4 did not end the machine\n", argv[1]);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        if (strcmp(argv[1], "run") == 0)
            return cmd_run(argc - 1, argv + 1);
        if (strcmp(argv[1], "fill") == 0)
            return cmd_fill(argc - 1, argv + 1);
        if (strcmp(argv[1], "read") == 0)
            return cmd_read(argc - 1, argv + 1);
        if (strcmp(argv[1], "exitport") == 0)
            return cmd_exitport(argc - 1, argv + 1);
    }
    fprintf(stderr, "usage: nested-bench-helper run|fill|read|exitport ...\n");
    return 2;
}
