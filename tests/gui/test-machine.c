/* machine.ini: round trip, atomic writes, broken files reported and left
 * alone, and the nook-vmm command line made from it. */
#include "gui-test.h"

#include "nook-machine-private.h"

#include <sys/stat.h>

static char *root;

static char *
new_machine_dir (const char *id)
{
  char *dir = g_build_filename (root, "machines", id, NULL);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

static void
test_round_trip (void)
{
  g_autofree char *dir = new_machine_dir ("round-trip");
  g_autoptr(NookMachine) m = nook_machine_new_draft ("Debian Test");
  g_autoptr(NookMachine) back = NULL;
  g_autoptr(GError) error = NULL;

  nook_machine_set_location (m, "round-trip", dir);
  nook_machine_set_os (m, "http://debian.org/debian/11", "Debian 11");
  nook_machine_set_memory (m, 1536);
  nook_machine_set_cpus (m, 3);
  nook_machine_set_firmware (m, "uefi");
  nook_machine_set_display (m, "sdl");
  nook_machine_set_disk (m, "disk0.img", "qcow2", TRUE);
  nook_machine_set_cdrom (m, "/srv/iso/debian.iso");
  nook_machine_set_kernel (m, "vmlinuz", "initrd.img", "console=ttyS0 quiet");
  g_assert_true (nook_machine_save (m, &error));
  g_assert_no_error (error);

  back = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (back), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_null (nook_machine_get_message (back));
  g_assert_cmpstr (nook_machine_get_id (back), ==, "round-trip");
  g_assert_cmpstr (nook_machine_get_name (back), ==, "Debian Test");
  g_assert_cmpstr (nook_machine_get_os_id (back), ==, "http://debian.org/debian/11");
  g_assert_cmpstr (nook_machine_get_os_name (back), ==, "Debian 11");
  g_assert_cmpuint (nook_machine_get_memory (back), ==, 1536);
  g_assert_cmpuint (nook_machine_get_cpus (back), ==, 3);
  g_assert_cmpstr (nook_machine_get_firmware (back), ==, "uefi");
  g_assert_cmpstr (nook_machine_get_display (back), ==, "sdl");
  g_assert_cmpstr (nook_machine_get_disk_path (back), ==, "disk0.img");
  g_assert_cmpstr (nook_machine_get_disk_format (back), ==, "qcow2");
  g_assert_true (nook_machine_get_disk_readonly (back));
  g_assert_cmpstr (nook_machine_get_cdrom (back), ==, "/srv/iso/debian.iso");
  g_assert_cmpstr (nook_machine_get_kernel (back), ==, "vmlinuz");
  g_assert_cmpstr (nook_machine_get_initrd (back), ==, "initrd.img");
  g_assert_cmpstr (nook_machine_get_append (back), ==, "console=ttyS0 quiet");
}

/* Keys and comments Nook does not know survive a save. */
static void
test_unknown_keys_kept (void)
{
  g_autofree char *dir = new_machine_dir ("unknown-keys");
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);
  g_autofree char *text = NULL;
  g_autoptr(NookMachine) m = NULL;
  g_autoptr(GError) error = NULL;
  const char *orig = "# my notes\n[machine]\nname=Old\nmemory=512\nfuture-key=42\n\n[extra]\nx=y\n";

  gui_test_write (ini, orig, strlen (orig));
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  nook_machine_set_name (m, "New");
  g_assert_true (nook_machine_save (m, &error));
  g_assert_no_error (error);
  g_file_get_contents (ini, &text, NULL, NULL);
  g_assert_nonnull (strstr (text, "# my notes"));
  g_assert_nonnull (strstr (text, "future-key=42"));
  g_assert_nonnull (strstr (text, "[extra]"));
  g_assert_nonnull (strstr (text, "name=New"));
  g_assert_nonnull (strstr (text, "memory=512"));
}

/* A save replaces the file by rename (a new inode), leaves no temporary
 * file, and a save that cannot be written leaves the old file whole. */
static void
test_atomic_write (void)
{
  g_autofree char *dir = new_machine_dir ("atomic");
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *listing = NULL;
  g_autoptr(NookMachine) m = nook_machine_new_draft ("Atomic");
  g_autoptr(GError) error = NULL;
  struct stat st1, st2;

  nook_machine_set_location (m, "atomic", dir);
  g_assert_true (nook_machine_save (m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (ini, &st1), ==, 0);
  nook_machine_set_memory (m, 4096);
  g_assert_true (nook_machine_save (m, &error));
  g_assert_cmpint (g_stat (ini, &st2), ==, 0);
  g_assert_cmpuint (st1.st_ino, !=, st2.st_ino);
  listing = gui_test_list_dir (dir);
  g_assert_cmpstr (listing, ==, "machine.ini");

  /* Writes beyond 16 bytes fail with EFBIG: the old file must stay. */
  g_file_get_contents (ini, &before, NULL, NULL);
  nook_machine_set_name (m, "A much longer name that cannot be written");
  gui_test_limit_files (16);
  g_assert_false (nook_machine_save (m, &error));
  gui_test_unlimit_files ();
  g_assert_nonnull (error);
  g_test_message ("save under RLIMIT_FSIZE: %s", error->message);
  g_file_get_contents (ini, &after, NULL, NULL);
  g_assert_cmpstr (before, ==, after);
  g_free (listing);
  listing = gui_test_list_dir (dir);
  g_assert_cmpstr (listing, ==, "machine.ini");
}

static void
check_broken (const char *id,
              const char *text,
              const char *expect_line)
{
  g_autofree char *dir = new_machine_dir (id);
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);
  g_autofree char *after = NULL;
  g_autoptr(NookMachine) m = NULL;
  g_autoptr(GError) error = NULL;

  gui_test_write (ini, text, strlen (text));
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_BROKEN);
  g_test_message ("%s", nook_machine_get_message (m));
  g_assert_true (g_str_has_prefix (nook_machine_get_message (m), ini));
  if (expect_line)
    g_assert_nonnull (strstr (nook_machine_get_message (m), expect_line));
  g_assert_nonnull (nook_machine_get_name (m));

  /* Never written over, never started. */
  nook_machine_set_memory (m, 1024);
  g_assert_false (nook_machine_save (m, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (nook_machine_start (m, &error));
  g_assert_nonnull (error);
  g_file_get_contents (ini, &after, NULL, NULL);
  g_assert_cmpstr (after, ==, text);
}

static void
test_broken (void)
{
  check_broken ("bad-line", "[machine]\nname=X\nthis is not a key\nmemory=512\n", ":3:");
  check_broken ("bad-group", "[machine\nname=X\n", ":1:");
  check_broken ("bad-memory", "[machine]\nname=X\n\nmemory=lots\n", ":4:");
  check_broken ("bad-cpus", "[machine]\nname=X\ncpus=0\n", ":3:");
  check_broken ("bad-firmware", "[machine]\nname=X\nfirmware=coreboot\n", ":3:");
  check_broken ("no-machine", "[disk0]\npath=a.img\n", NULL);
  check_broken ("no-name", "[machine]\nmemory=512\n", NULL);
  check_broken ("bad-readonly", "[machine]\nname=X\n[disk0]\npath=a.img\nreadonly=maybe\n", ":5:");
  check_broken ("not-utf8", "[machine]\nname=\xff\xfe\n", NULL);
}

static gboolean
strv_has_seq (char **argv,
              const char *a,
              const char *b)
{
  for (guint i = 0; argv[i] && argv[i + 1]; i++)
    if (g_str_equal (argv[i], a) && g_str_equal (argv[i + 1], b))
      return TRUE;
  return FALSE;
}

static void
test_argv (void)
{
  g_autofree char *dir = new_machine_dir ("argv");
  g_autoptr(NookMachine) m = nook_machine_new_draft ("Argv");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  g_autofree char *disk = g_build_filename (dir, "disk0.img", NULL);
  g_autofree char *disk_spec = g_strdup_printf ("%s,format=raw", disk);
  g_autofree char *serial = g_strdup_printf ("--serial=file:%s/serial.log", dir);
  g_autofree char *spice = g_strdup_printf ("--spice=unix:%s/nook/argv/spice.sock", g_get_user_runtime_dir ());
  g_autofree char *control = g_build_filename (g_get_user_runtime_dir (), "nook", "argv", "control.sock", NULL);
  g_autofree char *joined = NULL;

  nook_machine_set_location (m, "argv", dir);
  nook_machine_set_memory (m, 768);
  nook_machine_set_cpus (m, 2);
  nook_machine_set_cdrom (m, "/srv/debian.iso");
  nook_machine_set_disk (m, "disk0.img", "raw", FALSE);
  argv = nook_machine_build_argv (m, "/usr/bin/nook-vmm", &error);
  g_assert_no_error (error);
  joined = g_strjoinv (" ", argv);
  g_test_message ("%s", joined);
  g_assert_cmpstr (argv[0], ==, "/usr/bin/nook-vmm");
  g_assert_true (strv_has_seq (argv, "--name", "argv"));
  g_assert_true (strv_has_seq (argv, "--control", control));
  g_assert_true (g_strv_contains ((const char * const *) argv, "--memory=768M"));
  g_assert_true (g_strv_contains ((const char * const *) argv, "--cpus=2"));
  g_assert_true (g_strv_contains ((const char * const *) argv, "--display=spice"));
  g_assert_true (g_strv_contains ((const char * const *) argv, spice));
  g_assert_true (g_strv_contains ((const char * const *) argv, serial));
  /* The installer in the DVD-ROM drive, the disk on virtio-blk. */
  g_assert_true (g_strv_contains ((const char * const *) argv, "--cdrom=/srv/debian.iso"));
  g_assert_null (strstr (joined, "--disk /srv/debian.iso"));
  g_assert_true (strv_has_seq (argv, "--disk", disk_spec));
  g_assert_null (strstr (joined, "--firmware"));

  /* --cdrom takes the path whole, commas and all; --disk cannot. */
  g_clear_pointer (&argv, g_strfreev);
  nook_machine_set_cdrom (m, "/srv/a,b.iso");
  argv = nook_machine_build_argv (m, "/usr/bin/nook-vmm", &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_contains ((const char * const *) argv, "--cdrom=/srv/a,b.iso"));
  g_clear_pointer (&argv, g_strfreev);
  nook_machine_set_disk (m, "/srv/c,d.img", "raw", FALSE);
  argv = nook_machine_build_argv (m, "/usr/bin/nook-vmm", &error);
  g_assert_null (argv);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME);
  g_clear_error (&error);

  /* Direct boot. */
  nook_machine_set_cdrom (m, NULL);
  nook_machine_set_disk (m, NULL, NULL, FALSE);
  nook_machine_set_kernel (m, "/boot/vmlinuz", NULL, "console=ttyS0");
  argv = nook_machine_build_argv (m, "nook-vmm", &error);
  g_assert_no_error (error);
  g_assert_true (strv_has_seq (argv, "--kernel", "/boot/vmlinuz"));
  g_assert_true (strv_has_seq (argv, "--append", "console=ttyS0"));
}

/* [sound]: the card and the microphone round-trip through machine.ini with
 * the file's other keys and comments, the card reaches nook-vmm's command
 * line only when it is not nook-vmm's default, and wrong values are
 * reported with their line. */
static void
test_sound (void)
{
  g_autofree char *dir = new_machine_dir ("sound");
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);
  g_autofree char *text = NULL;
  g_autoptr(NookMachine) m = NULL;
  g_autoptr(NookMachine) back = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) argv = NULL;
  const char *orig = "# kept\n[machine]\nname=Loud\nmemory=256\nfuture-key=1\n\n"
                     "[disk0]\npath=disk0.img\nformat=qcow2\n\n[sound]\nvolume-hint=7\n";

  gui_test_write (ini, orig, strlen (orig));
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  /* The defaults: Intel HD Audio, the microphone off. */
  g_assert_cmpstr (nook_machine_get_sound (m), ==, "hda");
  g_assert_false (nook_machine_get_microphone (m));
  argv = nook_machine_build_argv (m, "nook-vmm", &error);
  g_assert_no_error (error);
  for (guint i = 0; argv[i]; i++)
    g_assert_false (g_str_has_prefix (argv[i], "--sound"));
  g_clear_pointer (&argv, g_strfreev);

  nook_machine_set_microphone (m, TRUE);
  nook_machine_set_sound (m, "none");
  g_assert_true (nook_machine_save (m, &error));
  g_assert_no_error (error);
  g_file_get_contents (ini, &text, NULL, NULL);
  g_test_message ("%s", text);
  g_assert_nonnull (strstr (text, "# kept"));
  g_assert_nonnull (strstr (text, "future-key=1"));
  g_assert_nonnull (strstr (text, "volume-hint=7"));
  g_assert_nonnull (strstr (text, "microphone=true"));
  g_assert_nonnull (strstr (text, "card=none"));

  back = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (back), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_true (nook_machine_get_microphone (back));
  g_assert_cmpstr (nook_machine_get_sound (back), ==, "none");
  g_assert_cmpuint (nook_machine_get_memory (back), ==, 256);
  g_assert_cmpstr (nook_machine_get_disk_format (back), ==, "qcow2");
  argv = nook_machine_build_argv (back, "nook-vmm", &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_contains ((const char * const *) argv, "--sound=none"));
  g_clear_pointer (&argv, g_strfreev);

  /* Off again: written as false, not dropped with the rest of [sound]. */
  nook_machine_set_microphone (back, FALSE);
  g_assert_true (nook_machine_save (back, &error));
  g_clear_object (&m);
  m = nook_machine_load (dir);
  g_assert_false (nook_machine_get_microphone (m));
  g_clear_pointer (&text, g_free);
  g_file_get_contents (ini, &text, NULL, NULL);
  g_assert_nonnull (strstr (text, "volume-hint=7"));

  /* Wrong values make the machine broken, naming the line. */
  g_clear_object (&m);
  gui_test_write (ini, "[machine]\nname=X\n[sound]\ncard=sb16\n", 35);
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_BROKEN);
  g_assert_nonnull (strstr (nook_machine_get_message (m), "machine.ini:4:"));
  g_clear_object (&m);
  gui_test_write (ini, "[machine]\nname=X\n[sound]\nmicrophone=maybe\n", 42);
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_BROKEN);
  g_assert_nonnull (strstr (nook_machine_get_message (m), "machine.ini:4:"));
}

static void
test_find_vmm (void)
{
  g_autofree char *found = NULL;

  g_setenv ("NOOK_VMM", "/opt/nook/nook-vmm", TRUE);
  found = nook_find_vmm ();
  g_assert_cmpstr (found, ==, "/opt/nook/nook-vmm");
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_setup_xdg ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/machine/round-trip", test_round_trip);
  g_test_add_func ("/machine/unknown-keys-kept", test_unknown_keys_kept);
  g_test_add_func ("/machine/atomic-write", test_atomic_write);
  g_test_add_func ("/machine/broken", test_broken);
  g_test_add_func ("/machine/argv", test_argv);
  g_test_add_func ("/machine/sound", test_sound);
  g_test_add_func ("/machine/find-vmm", test_find_vmm);
  return gui_test_run (root);
}
