/* Unit tests for command-line value parsing (memory sizes). */
#include "core/options.h"
#include "unit.h"

static void test_sizes(void)
{
    static const struct { const char *text; uint64_t want; } cases[] = {
        { "512M", 512ull << 20 },
        { "4G", 4ull << 30 },
        { "1024K", 1024ull << 10 },
        { "2T", 2ull << 40 },
        { "123", 123ull << 20 },        /* a bare number is MiB */
        { "1GiB", 1ull << 30 },
        { "1gib", 1ull << 30 },
        { "8MB", 8ull << 20 },
        { "64k", 64ull << 10 },
        { "4096B", 4096 },
        { "0", 0 },
        { "0G", 0 },
        { "16777215T", 16777215ull << 40 },   /* the largest whole number of TiB */
        { "17592186044415M", 17592186044415ull << 20 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        char err[128] = "";
        uint64_t v = 0xdeadbeef;

        if (!parse_size(cases[i].text, &v, err, sizeof(err)))
            g_error("parse_size(\"%s\") failed: %s", cases[i].text, err);
        g_assert_cmpuint(v, ==, cases[i].want);
    }
}

static void test_errors(void)
{
    static const char *const bad[] = {
        "", "abc", "12Q", "-1", "+1", " 1", "1 G", "1.5G", "G", "4GX", "4GiBB", "4iB", "4BiB",
        "18446744073709551616",         /* 2^64 */
        "99999999999999999999999",
        "16777216T",                    /* 2^64 bytes */
        "17592186044416M",
        "18446744073709551615K",
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        char err[128] = "";
        uint64_t v = 0xdeadbeef;

        if (parse_size(bad[i], &v, err, sizeof(err)))
            g_error("parse_size(\"%s\") accepted it as %" G_GUINT64_FORMAT, bad[i], v);
        g_assert_cmpuint(strlen(err), >, 0);
        g_assert_cmpuint(v, ==, 0xdeadbeef);
    }
}

static void test_error_messages(void)
{
    char err[128];
    uint64_t v;

    g_assert_false(parse_size("12Q", &v, err, sizeof(err)));
    g_assert_nonnull(strstr(err, "unit"));
    g_assert_nonnull(strstr(err, "12Q"));
    g_assert_false(parse_size("16777216T", &v, err, sizeof(err)));
    g_assert_nonnull(strstr(err, "too large"));
    g_assert_false(parse_size("99999999999999999999999", &v, err, sizeof(err)));
    g_assert_nonnull(strstr(err, "too large"));
    g_assert_false(parse_size(NULL, &v, err, sizeof(err)));
    g_assert_cmpuint(strlen(err), >, 0);
    /* A short buffer gets a truncated message, not an overflow. */
    g_assert_false(parse_size("abc", &v, err, 4));
    g_assert_cmpuint(strlen(err), ==, 3);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options/sizes", test_sizes);
    g_test_add_func("/options/errors", test_errors);
    g_test_add_func("/options/error-messages", test_error_messages);
    return g_test_run();
}
