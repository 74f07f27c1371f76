/* What a dropped file is (magic numbers), refusals, and the OS libosinfo
 * finds on an ISO made here with xorriso. */
#include "gui-test.h"

#include "nook-media.h"

static char *root;

static char *
write_file (const char *name,
            gsize       size,
            gsize       magic_offset,
            const char *magic,
            gsize       magic_len)
{
  char *path = g_build_filename (root, name, NULL);
  g_autofree guint8 *buf = g_malloc0 (size);

  if (magic)
    memcpy (buf + magic_offset, magic, magic_len);
  gui_test_write (path, buf, size);
  return path;
}

static NookMedia *
probe_ok (const char    *path,
          NookMediaKind  kind)
{
  g_autoptr(GError) error = NULL;
  NookMedia *m = nook_media_probe (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_assert_cmpint (nook_media_get_kind (m), ==, kind);
  return m;
}

static void
test_kinds (void)
{
  g_autofree char *iso = gui_test_make_iso (root, "plain.iso", "PLAIN");
  g_autofree char *mbr = write_file ("disk.img", 4096, 510, "\x55\xaa", 2);
  g_autofree char *gpt = write_file ("gpt.raw", 4096, 512, "EFI PART", 8);
  g_autofree char *qcow = write_file ("vm.qcow2", 4096, 0, "QFI\xfb", 4);
  g_autofree char *elf = write_file ("kernel.elf", 4096, 0, "\x7f" "ELF", 4);
  g_autofree char *bz = NULL;
  g_autoptr(NookMedia) m = NULL;
  char *p;

  if (!iso)
    return;
  m = probe_ok (iso, NOOK_MEDIA_KIND_INSTALLER);
  g_assert_cmpstr (nook_media_get_suggested_name (m), ==, "plain");
  g_clear_object (&m);

  m = probe_ok (mbr, NOOK_MEDIA_KIND_DISK);
  g_assert_cmpstr (nook_media_get_format (m), ==, "raw");
  g_assert_cmpstr (nook_media_get_suggested_name (m), ==, "disk");
  g_clear_object (&m);
  m = probe_ok (gpt, NOOK_MEDIA_KIND_DISK);
  g_clear_object (&m);
  m = probe_ok (qcow, NOOK_MEDIA_KIND_DISK);
  g_assert_cmpstr (nook_media_get_format (m), ==, "qcow2");
  g_clear_object (&m);
  m = probe_ok (elf, NOOK_MEDIA_KIND_KERNEL);
  g_clear_object (&m);

  /* A bzImage has the boot sector signature and "HdrS": a kernel, not a disk. */
  bz = write_file ("vmlinuz", 4096, 0x202, "HdrS", 4);
  p = g_build_filename (root, "vmlinuz", NULL);
  {
    g_autofree char *data = NULL;
    gsize len;

    g_file_get_contents (p, &data, &len, NULL);
    data[510] = 0x55;
    data[511] = (char) 0xaa;
    gui_test_write (p, data, len);
  }
  m = probe_ok (p, NOOK_MEDIA_KIND_KERNEL);
  g_assert_cmpstr (nook_media_get_suggested_name (m), ==, "vmlinuz");
  g_free (p);
}

static void
expect_refusal (const char     *path,
                NookMediaError  code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NookMedia) m = nook_media_probe (path, &error);

  g_assert_null (m);
  g_assert_error (error, NOOK_MEDIA_ERROR, (int) code);
  g_test_message ("%s", error->message);
}

static void
test_refusals (void)
{
  g_autofree char *text = g_build_filename (root, "notes.txt", NULL);
  g_autofree char *empty = g_build_filename (root, "empty.iso", NULL);
  g_autofree char *folder = g_build_filename (root, "a-folder.iso", NULL);
  g_autofree char *missing = g_build_filename (root, "missing.iso", NULL);

  gui_test_write (text, "hello, this is not a disk\n", 26);
  gui_test_write (empty, "", 0);
  g_mkdir (folder, 0755);
  expect_refusal (text, NOOK_MEDIA_ERROR_NOT_AN_IMAGE);
  expect_refusal (empty, NOOK_MEDIA_ERROR_NOT_AN_IMAGE);
  expect_refusal (folder, NOOK_MEDIA_ERROR_FOLDER);
  expect_refusal (missing, NOOK_MEDIA_ERROR_UNREADABLE);
  expect_refusal ("/proc/self/mem", NOOK_MEDIA_ERROR_UNREADABLE);
}

/* osinfo-db's Debian 11 netinst media match this volume id. */
#define DEBIAN_VOLID "Debian 11.7.0 amd64 n"

static void
test_osinfo_debian (void)
{
  g_autofree char *iso = gui_test_make_iso (root, "debian-11.7.0-amd64-netinst.iso", DEBIAN_VOLID);
  g_autoptr(NookMedia) m = NULL;
  g_autoptr(GError) error = NULL;

  if (!iso)
    return;
  m = probe_ok (iso, NOOK_MEDIA_KIND_INSTALLER);
  g_assert_true (nook_media_identify (m, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (nook_media_get_os_known (m));
  g_assert_cmpstr (nook_media_get_os_id (m), ==, "http://debian.org/debian/11");
  g_assert_cmpstr (nook_media_get_os_name (m), ==, "Debian 11");
  /* osinfo-db recommends 1 GiB of RAM and 20 GiB of storage for Debian 11. */
  g_assert_cmpuint (nook_media_get_memory (m), ==, 1024);
  g_assert_cmpuint (nook_media_get_disk_size (m), ==, G_GUINT64_CONSTANT (20) << 30);
  g_assert_cmpuint (nook_media_get_cpus (m), >=, 1);
  g_assert_cmpstr (nook_media_get_firmware (m), ==, "bios");
}

static void
test_osinfo_unknown (void)
{
  g_autofree char *iso = gui_test_make_iso (root, "mystery.iso", "NOTHING KNOWN 1");
  g_autoptr(NookMedia) m = NULL;
  g_autoptr(GError) error = NULL;

  if (!iso)
    return;
  m = probe_ok (iso, NOOK_MEDIA_KIND_INSTALLER);
  g_assert_true (nook_media_identify (m, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (nook_media_get_os_known (m));
  g_assert_null (nook_media_get_os_name (m));
  g_assert_cmpuint (nook_media_get_memory (m), ==, 2048);
  g_assert_cmpuint (nook_media_get_cpus (m), ==, 2);
  g_assert_cmpuint (nook_media_get_disk_size (m), ==, G_GUINT64_CONSTANT (20) << 30);
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_setup_xdg ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/kinds", test_kinds);
  g_test_add_func ("/media/refusals", test_refusals);
  g_test_add_func ("/media/osinfo-debian", test_osinfo_debian);
  g_test_add_func ("/media/osinfo-unknown", test_osinfo_unknown);
  return gui_test_run (root);
}
