/* Parsing of command-line values shared by nook-vmm and nookctl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "512M", "4G", "1024K", "2T", "123" (MiB); 0 with a reason in err when the
 * text is not a size. */
bool parse_size(const char *text, uint64_t *out, char *err, size_t errlen);
