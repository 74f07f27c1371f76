/* EDID base blocks: structure, checksum, the preferred mode decoded back
 * from the detailed timing, the name, and clamping. */
#include <glib.h>
#include <string.h>

#include "hw/edid.h"

static void decode_preferred(const uint8_t *e, unsigned *w, unsigned *h, double *hz)
{
    const uint8_t *d = e + 54;
    unsigned clock = d[0] | d[1] << 8;
    unsigned hblank = d[3] | (d[4] & 0xf) << 8, vblank = d[6] | (d[7] & 0xf) << 8;

    *w = d[2] | (d[4] >> 4) << 8;
    *h = d[5] | (d[7] >> 4) << 8;
    *hz = clock * 10000.0 / ((*w + hblank) * (*h + vblank));
}

static void check_block(const uint8_t *e)
{
    static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
    uint8_t sum = 0;

    g_assert_cmpmem(e, 8, header, 8);
    for (unsigned i = 0; i < EDID_BLOCK; i++)
        sum = (uint8_t)(sum + e[i]);
    g_assert_cmphex(sum, ==, 0);
    g_assert_cmpuint(e[18], ==, 1);
    g_assert_cmpuint(e[19], ==, 4);
    g_assert_cmpuint(e[126], ==, 0);        /* no extensions */
    g_assert_cmphex(e[24] & 0x02, ==, 0x02); /* the first timing is the native one */
    /* Descriptors 2-4 are display descriptors (first three bytes zero). */
    for (unsigned i = 72; i < 126; i += 18)
        g_assert_cmphex(e[i] | e[i + 1] | e[i + 2], ==, 0);
}

static void test_sizes(void)
{
    static const unsigned sizes[][2] = { { 1024, 768 }, { 1280, 800 }, { 1920, 1080 }, { 3840, 2160 },
                                         { 641, 481 }, { 4095, 4095 } };
    uint8_t e[EDID_BLOCK];

    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        unsigned w, h;
        double hz;

        g_assert_cmpuint(edid_generate(e, sizeof(e), sizes[i][0], sizes[i][1], "Nook"), ==, EDID_BLOCK);
        check_block(e);
        decode_preferred(e, &w, &h, &hz);
        g_assert_cmpuint(w, ==, sizes[i][0]);
        g_assert_cmpuint(h, ==, sizes[i][1]);
        /* 60 Hz while the pixel clock fits its 16 bits. */
        if (w <= 3840) {
            g_assert_cmpfloat(hz, >, 59.5);
            g_assert_cmpfloat(hz, <, 60.5);
        }
    }
}

static void test_clamp(void)
{
    uint8_t e[EDID_BLOCK];
    unsigned w, h;
    double hz;

    edid_generate(e, sizeof(e), 20000, 10, "x");
    check_block(e);
    decode_preferred(e, &w, &h, &hz);
    g_assert_cmpuint(w, ==, EDID_MAX_SIZE);
    g_assert_cmpuint(h, ==, 480);
    g_assert_cmpuint(edid_generate(e, EDID_BLOCK - 1, 1024, 768, "x"), ==, 0);
    g_assert_cmpuint(edid_generate(NULL, EDID_BLOCK, 1024, 768, "x"), ==, 0);
}

static void test_name(void)
{
    uint8_t e[EDID_BLOCK];

    edid_generate(e, sizeof(e), 1024, 768, "Nook");
    g_assert_cmphex(e[72 + 3], ==, 0xfc);
    g_assert_cmpmem(e + 72 + 5, 13, "Nook\n        ", 13);
    edid_generate(e, sizeof(e), 1024, 768, "A name longer than thirteen");
    g_assert_cmpmem(e + 72 + 5, 13, "A name longer", 13);
    check_block(e);
    /* Range limits follow. */
    g_assert_cmphex(e[90 + 3], ==, 0xfd);
    /* Manufacturer NOK. */
    g_assert_cmphex(e[8] << 8 | e[9], ==, (14u << 10) | (15u << 5) | 11u);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/edid/sizes", test_sizes);
    g_test_add_func("/edid/clamp", test_clamp);
    g_test_add_func("/edid/name", test_name);
    return g_test_run();
}
