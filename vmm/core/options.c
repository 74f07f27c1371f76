/* Command-line value parsing. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool parse_size(const char *text, uint64_t *out, char *err, size_t errlen)
{
    char *end;
    unsigned long long v;
    unsigned shift = 20;    /* a bare number is MiB, as in other VMMs */

    if (!text || !isdigit((unsigned char)text[0])) {
        snprintf(err, errlen, "'%s' is not a size (try 512M or 4G)", text ? text : "");
        return false;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno) {
        snprintf(err, errlen, "'%s' is too large", text);
        return false;
    }
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'B': shift = 0; break;
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default:
            snprintf(err, errlen, "'%s' has an unknown unit (use K, M, G or T)", text);
            return false;
        }
        end++;
        if (shift && (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0))
            end += strlen(end);
        if (*end) {
            snprintf(err, errlen, "'%s' is not a size (try 512M or 4G)", text);
            return false;
        }
    }
    if (v > (UINT64_MAX >> shift)) {
        snprintf(err, errlen, "'%s' is too large", text);
        return false;
    }
    *out = (uint64_t)v << shift;
    return true;
}
