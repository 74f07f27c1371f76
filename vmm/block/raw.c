/* Raw images on a host file: positioned reads and writes, fdatasync for
 * flushes, hole punching for discard. */
#include "raw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

int blk_open_raw(struct blk_backend *b, const char *path, bool readonly, char *err, size_t errlen)
{
    struct stat st;

    b->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (b->fd < 0) {
        snprintf(err, errlen, "cannot open disk image '%s': %s", path, strerror(errno));
        return -errno;
    }
    if (fstat(b->fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        snprintf(err, errlen, "disk image '%s' is not a file or block device", path);
        close(b->fd);
        return -EINVAL;
    }
    b->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : (uint64_t)lseek(b->fd, 0, SEEK_END);
    if (b->size % 512) {
        snprintf(err, errlen, "disk image '%s' is %llu bytes, not a whole number of 512-byte sectors",
                 path, (unsigned long long)b->size);
        close(b->fd);
        return -EINVAL;
    }
    b->readonly = readonly;
    return 0;
}

void blk_close(struct blk_backend *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}

static bool in_range(const struct blk_backend *b, uint64_t off, uint64_t len)
{
    return off <= b->size && len <= b->size - off;
}

static uint64_t iov_bytes(const struct iovec *iov, int iovcnt)
{
    uint64_t n = 0;

    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* Steps past n bytes that were transferred. */
static void iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (*iovcnt && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*iovcnt)--;
    }
    if (*iovcnt && n) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static int rw_vec(struct blk_backend *b, struct iovec *iov, int iovcnt, uint64_t off, bool write)
{
    if (write && b->readonly)
        return -EROFS;
    if (iovcnt < 0 || iovcnt > IOV_MAX || !in_range(b, off, iov_bytes(iov, iovcnt)))
        return -EINVAL;
    while (iovcnt) {
        ssize_t n = write ? pwritev(b->fd, iov, iovcnt, (off_t)off) : preadv(b->fd, iov, iovcnt, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            if (write)
                return -EIO;
            /* A file that shrank under us reads as zeros. */
            for (int i = 0; i < iovcnt; i++)
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            return 0;
        }
        off += (uint64_t)n;
        iov_advance(&iov, &iovcnt, (size_t)n);
    }
    return 0;
}

int blk_preadv(struct blk_backend *b, struct iovec *iov, int iovcnt, uint64_t off)
{
    return rw_vec(b, iov, iovcnt, off, false);
}

int blk_pwritev(struct blk_backend *b, struct iovec *iov, int iovcnt, uint64_t off)
{
    return rw_vec(b, iov, iovcnt, off, true);
}

int blk_pread(struct blk_backend *b, void *buf, size_t len, uint64_t off)
{
    if (!in_range(b, off, len))
        return -EINVAL;
    while (len) {
        ssize_t n = pread(b->fd, buf, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            memset(buf, 0, len);    /* a file that shrank under us */
            return 0;
        }
        buf = (uint8_t *)buf + n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int blk_pwrite(struct blk_backend *b, const void *buf, size_t len, uint64_t off)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, off, len))
        return -EINVAL;
    while (len) {
        ssize_t n = pwrite(b->fd, buf, len, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        buf = (const uint8_t *)buf + n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int blk_flush(struct blk_backend *b)
{
    if (b->readonly)
        return 0;
    return fdatasync(b->fd) < 0 ? -errno : 0;
}

int blk_write_zeroes(struct blk_backend *b, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];

    if (b->readonly)
        return -EROFS;
    if (!in_range(b, off, len))
        return -EINVAL;
    if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    while (len) {
        size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
        int r = blk_pwrite(b, zeros, n, off);

        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

int blk_discard(struct blk_backend *b, uint64_t off, uint64_t len)
{
    if (b->readonly)
        return -EROFS;
    if (!in_range(b, off, len))
        return -EINVAL;
    if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    /* Discard is a hint; a file system without holes keeps the data. */
    return errno == EOPNOTSUPP ? 0 : -errno;
}
