/* Guest physical memory: RAM regions in one anonymous mapping, and the only
 * way device models reach guest memory (every access is range checked). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 4

struct gmem_region {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;       /* borrowed from gmem's mapping */
    uint64_t fd_offset;
};

struct gmem {
    int fd;             /* -1: no file backs guest RAM (yet) */
    bool owned;         /* base is our mapping, unmapped by gmem_free */
    uint8_t *base;      /* the whole of guest RAM */
    uint64_t size;
    unsigned nregions;
    struct gmem_region regions[GMEM_MAX_REGIONS];
};

/* Creates RAM of ram_size bytes laid out below lowmem_limit and from 4 GiB. */
struct gmem *gmem_new(uint64_t ram_size, uint64_t lowmem_limit);
/* Wraps memory the caller owns as one region at gpa (tests, fuzzers). */
struct gmem *gmem_new_from_buffer(void *buf, uint64_t size, uint64_t gpa);
void gmem_free(struct gmem *mem);

/* 0, or -EFAULT when any byte of [gpa, gpa + len) is not RAM. */
int gmem_read(const struct gmem *mem, uint64_t gpa, void *buf, size_t len);
int gmem_write(const struct gmem *mem, uint64_t gpa, const void *buf, size_t len);
/* Host pointer to [gpa, gpa + len) when it lies in one region, else NULL. */
void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len);
bool gmem_is_ram(const struct gmem *mem, uint64_t gpa, uint64_t len);

uint64_t gmem_lowmem_end(const struct gmem *mem);
uint64_t gmem_highmem_size(const struct gmem *mem);
