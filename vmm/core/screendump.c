/* PNG screendumps through libpng. */
#include "screendump.h"
#include "console.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpng reports errors by longjmp; everything that must be undone lives
 * outside the function that calls setjmp. */
static int write_png(FILE *f, const uint8_t *rgb, unsigned width, unsigned height, char *err,
                     size_t errlen)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;

    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(err, errlen, "out of memory for the PNG encoder");
        return -ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        snprintf(err, errlen, "cannot write the PNG data: %s", strerror(errno ? errno : EIO));
        return -EIO;
    }
    png_init_io(png, f);
    /* Screens compress well at a low level; high levels cost a lot of time
     * for a few percent. */
    png_set_compression_level(png, 3);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (unsigned y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int screendump_png(struct console *c, const char *path, char *err, size_t errlen)
{
    unsigned width, height;
    uint8_t *rgb;
    FILE *f;
    int r;

    console_refresh(c, false);
    rgb = console_snapshot_rgb(c, &width, &height);
    if (!rgb) {
        r = -errno;
        snprintf(err, errlen, r == -ENODATA ? "the display shows no picture yet" : "out of memory");
        return r;
    }
    f = fopen(path, "wbe");
    if (!f) {
        r = -errno;
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        free(rgb);
        return r;
    }
    errno = 0;
    r = write_png(f, rgb, width, height, err, errlen);
    free(rgb);
    if (fclose(f) != 0 && r == 0) {
        r = -errno;
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    }
    if (r < 0)
        unlink(path);
    return r;
}
