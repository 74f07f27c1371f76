/* Raw disk images: the block backend a virtio-blk device reads and writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct blk_backend {
    int fd;             /* owned */
    uint64_t size;      /* bytes */
    bool readonly;
};

/* 0, or -errno with a one-line reason in err. */
int blk_open_raw(struct blk_backend *b, const char *path, bool readonly, char *err, size_t errlen);
void blk_close(struct blk_backend *b);
/* Whole transfers or -errno; never past the end of the image. */
int blk_pread(struct blk_backend *b, void *buf, size_t len, uint64_t off);
int blk_pwrite(struct blk_backend *b, const void *buf, size_t len, uint64_t off);
/* The same for a scatter list (at most IOV_MAX entries, which it may
 * change while it works): one system call for a whole request. */
int blk_preadv(struct blk_backend *b, struct iovec *iov, int iovcnt, uint64_t off);
int blk_pwritev(struct blk_backend *b, struct iovec *iov, int iovcnt, uint64_t off);
/* Reaches the disk before it returns (fdatasync). */
int blk_flush(struct blk_backend *b);
/* Frees the range where the file system can, else writes zeros. */
int blk_discard(struct blk_backend *b, uint64_t off, uint64_t len);
int blk_write_zeroes(struct blk_backend *b, uint64_t off, uint64_t len);
