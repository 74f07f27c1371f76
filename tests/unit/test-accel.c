/* The accelerator diagnosis: what nook-vmm says (at start-up and for
 * --check-accel) for each way the device can be missing, forbidden or
 * wrong, from made-up facts; and the probe against paths that exist here. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/accel.h"

static struct accel_facts facts(const char *path, int open_errno)
{
    struct accel_facts f = { .kind = ACCEL_KVM, .path = path, .open_errno = open_errno,
                             .api_version = KVM_API_VERSION };

    return f;
}

static void explain(const struct accel_facts *f, struct accel_report *r)
{
    accel_explain(f, r);
    g_test_message("%s: %s | %s", r->code, r->problem, r->remedy);
}

static void assert_has(const char *text, const char *part)
{
    if (!strstr(text, part))
        g_error("'%s' does not say '%s'", text, part);
}

static void test_ok(void)
{
    struct accel_facts f = facts("/dev/kvm", 0);
    struct accel_report r;

    explain(&f, &r);
    g_assert_true(r.ok);
    g_assert_cmpstr(r.code, ==, "ok");
    g_assert_cmpstr(r.problem, ==, "");
    g_assert_cmpstr(r.remedy, ==, "");
}

/* No node: the module, then the CPU, says why. */
static void test_missing(void)
{
    struct accel_facts f = facts("/dev/kvm", ENOENT);
    struct accel_report r;

    /* No vmx or svm flag on bare metal: the firmware. */
    explain(&f, &r);
    g_assert_false(r.ok);
    g_assert_cmpstr(r.code, ==, "no-virtualization");
    assert_has(r.problem, "offers no hardware virtualization");
    assert_has(r.remedy, "firmware (BIOS or UEFI) settings");

    /* ... inside a virtual machine: nested virtualization. */
    f.cpu_hypervisor = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-virtualization");
    assert_has(r.problem, "itself a virtual machine");
    assert_has(r.remedy, "nested virtualization");

    /* An AMD CPU without kvm_amd loaded. */
    f.cpu_hypervisor = false;
    f.cpu_svm = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-module");
    assert_has(r.problem, "The kvm_amd kernel module is not loaded, so /dev/kvm does not exist");
    assert_has(r.remedy, "sudo modprobe kvm_amd");
    assert_has(r.remedy, "AMD-V (SVM) is turned off in the computer's firmware");

    /* kvm loaded, kvm_intel not. */
    f.cpu_svm = false;
    f.cpu_vmx = true;
    f.module_loaded = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-module");
    assert_has(r.problem, "kvm_intel");
    assert_has(r.remedy, "sudo modprobe kvm_intel");
    assert_has(r.remedy, "Intel VT-x");

    /* Both loaded and still no node. */
    f.vendor_loaded = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-device");
    assert_has(r.problem, "The kvm and kvm_intel modules are loaded, but /dev/kvm does not exist");
    assert_has(r.remedy, "dmesg");

    /* A node with no driver behind it. */
    f.open_errno = ENXIO;
    f.vendor_loaded = false;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-module");
    assert_has(r.problem, "/dev/kvm has no driver behind it");

    /* The path a test or a person put in NOOK_ACCEL_DEVICE. */
    f = facts("/tmp/none", ENOENT);
    f.overridden = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-device");
    g_assert_cmpstr(r.problem, ==, "/tmp/none does not exist.");
    assert_has(r.remedy, ACCEL_DEVICE_ENV);

    /* nookhv has a module of its own and no vendor part. */
    f = facts("/dev/nookhv", ENOENT);
    f.kind = ACCEL_NOOKHV;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-module");
    assert_has(r.problem, "The nookhv kernel module is not loaded, so /dev/nookhv does not exist");
    f.module_loaded = true;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-device");
}

static void set_group(struct accel_facts *f, const char *group, unsigned gid, unsigned mode)
{
    f->have_stat = true;
    g_strlcpy(f->owner, "root", sizeof(f->owner));
    g_strlcpy(f->group, group, sizeof(f->group));
    f->gid = gid;
    f->mode = mode;
}

static void test_permission(void)
{
    struct accel_facts f = facts("/dev/kvm", EACCES);
    struct accel_report r;

    /* Nothing known of the node. */
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-permission");
    assert_has(r.problem, "no permission to open /dev/kvm");

    /* Debian's udev rule: group kvm, 0660; the user is not in it. */
    set_group(&f, "kvm", 993, 0660);
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "no-permission");
    g_assert_cmpstr(r.problem, ==,
                    "You have no permission to open /dev/kvm: it belongs to the group kvm, which you are not in.");
    g_assert_cmpstr(r.remedy, ==, "Join the group: sudo usermod -aG kvm $USER, then log out and log in again.");

    /* Joined, but the session predates it. */
    f.listed_in_group = true;
    explain(&f, &r);
    assert_has(r.problem, "no permission to open /dev/kvm yet: you joined its group kvm after you logged in");
    assert_has(r.remedy, "Log out and log in again");

    /* The group it has is another one; EPERM says the same. */
    f = facts("/dev/kvm", EPERM);
    set_group(&f, "hypervisor", 990, 0660);
    explain(&f, &r);
    assert_has(r.remedy, "sudo usermod -aG hypervisor $USER");

    /* Root's alone. */
    f = facts("/dev/kvm", EACCES);
    set_group(&f, "root", 0, 0600);
    explain(&f, &r);
    g_assert_cmpstr(r.problem, ==,
                    "You have no permission to open /dev/kvm: only root may (owner root, group root, mode 0600).");
    assert_has(r.remedy, "GROUP=\"kvm\", MODE=\"0660\"");
    assert_has(r.remedy, "sudo usermod -aG kvm $USER");

    /* A group without access does not help either. */
    set_group(&f, "kvm", 993, 0600);
    explain(&f, &r);
    assert_has(r.problem, "only root may");

    /* In the group, and the mode allows it: something else forbids it. */
    set_group(&f, "kvm", 993, 0660);
    f.in_group = true;
    explain(&f, &r);
    assert_has(r.problem, "although its mode 0660 and group kvm allow it");
    assert_has(r.remedy, "getfacl /dev/kvm");
}

static void test_not_kvm(void)
{
    struct accel_facts f = facts("/dev/kvm", 0);
    struct accel_report r;

    f.api_version = -ENOTTY;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "not-kvm");
    assert_has(r.problem, "/dev/kvm is not a KVM device");
    assert_has(r.problem, strerror(ENOTTY));
    assert_has(r.remedy, "ls -l /dev/kvm: it should be the character device that the kvm module makes");

    f.overridden = true;
    explain(&f, &r);
    assert_has(r.remedy, ACCEL_DEVICE_ENV);

    f.api_version = 11;
    explain(&f, &r);
    g_assert_cmpstr(r.code, ==, "api-version");
    assert_has(r.problem, "speaks KVM API version 11; nook-vmm needs version 12");
}

static void test_create_vm(void)
{
    struct accel_report r;

    accel_explain_create("/dev/kvm", EBUSY, &r);
    g_assert_false(r.ok);
    g_assert_cmpstr(r.code, ==, "create-vm");
    assert_has(r.problem, "another hypervisor, such as VirtualBox");
    assert_has(r.problem, strerror(EBUSY));
    assert_has(r.remedy, "vboxdrv");

    accel_explain_create("/dev/kvm", ENOMEM, &r);
    assert_has(r.problem, "out of memory");

    accel_explain_create("/dev/kvm", EINVAL, &r);
    assert_has(r.problem, "KVM cannot create a virtual machine on /dev/kvm");
    assert_has(r.problem, strerror(EINVAL));
}

static void test_names(void)
{
    enum accel_kind k;
    struct accel_report r;
    char line[1100];

    g_assert_true(accel_kind_parse("kvm", &k));
    g_assert_cmpint(k, ==, ACCEL_KVM);
    g_assert_true(accel_kind_parse("nookhv", &k));
    g_assert_cmpint(k, ==, ACCEL_NOOKHV);
    g_assert_false(accel_kind_parse("xen", &k));

    g_assert_cmpint(accel_kind_of_path("/dev/kvm"), ==, ACCEL_KVM);
    g_assert_cmpint(accel_kind_of_path("/dev/nookhv"), ==, ACCEL_NOOKHV);
    g_assert_cmpint(accel_kind_of_path("nookhv0"), ==, ACCEL_NOOKHV);
    g_assert_cmpint(accel_kind_of_path("/tmp/nookhv/kvm"), ==, ACCEL_KVM);

    g_unsetenv(ACCEL_DEVICE_ENV);
    g_assert_cmpstr(accel_device_path(ACCEL_KVM), ==, "/dev/kvm");
    g_assert_cmpstr(accel_device_path(ACCEL_NOOKHV), ==, "/dev/nookhv");
    g_setenv(ACCEL_DEVICE_ENV, "/tmp/fake-kvm", TRUE);
    g_assert_cmpstr(accel_device_path(ACCEL_KVM), ==, "/tmp/fake-kvm");
    g_assert_cmpstr(accel_device_path(ACCEL_NOOKHV), ==, "/tmp/fake-kvm");
    g_setenv(ACCEL_DEVICE_ENV, "", TRUE);
    g_assert_cmpstr(accel_device_path(ACCEL_KVM), ==, "/dev/kvm");
    g_unsetenv(ACCEL_DEVICE_ENV);

    accel_explain_create("/dev/kvm", EBUSY, &r);
    accel_report_line(&r, line, sizeof(line));
    g_assert_true(g_str_has_prefix(line, r.problem));
    g_assert_true(g_str_has_suffix(line, r.remedy));
    g_assert_cmpuint(strlen(line), ==, strlen(r.problem) + 1 + strlen(r.remedy));
}

/* accel_open() and accel_check() on paths that exist on any host. */
static void test_probe(void)
{
    g_autofree char *dir = g_dir_make_tmp("accel-XXXXXX", NULL);
    g_autofree char *missing = g_build_filename(dir, "kvm", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    struct accel_facts f;
    struct accel_report r;

    g_assert_nonnull(dir);
    g_setenv(ACCEL_DEVICE_ENV, missing, TRUE);
    g_assert_cmpint(accel_open(missing, &r), ==, -1);
    g_assert_cmpstr(r.code, ==, "no-device");
    g_assert_false(accel_check(missing, &r));
    g_assert_cmpstr(r.code, ==, "no-device");
    assert_has(r.problem, missing);

    g_setenv(ACCEL_DEVICE_ENV, "/dev/null", TRUE);
    g_assert_false(accel_check("/dev/null", &r));
    g_assert_cmpstr(r.code, ==, "not-kvm");
    assert_has(r.remedy, ACCEL_DEVICE_ENV);
    g_unsetenv(ACCEL_DEVICE_ENV);

    /* What accel_gather() reads of a node it may not open: its owner,
     * group and mode. A file of ours, as root opens anything. */
    g_assert_true(g_file_set_contents(file, "", 0, NULL));
    g_assert_cmpint(g_chmod(file, 0640), ==, 0);
    f = facts(file, EACCES);
    accel_gather(&f);
    g_assert_true(f.have_stat);
    g_assert_cmpuint(f.mode, ==, 0640);
    g_assert_cmpuint(f.gid, ==, getegid());
    g_assert_true(f.in_group);
    g_assert_false(f.listed_in_group);
    g_assert_cmpstr(f.owner, ==, g_get_user_name());
    g_assert_cmpstr(f.group, !=, "");

    g_unlink(file);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/accel/ok", test_ok);
    g_test_add_func("/accel/missing", test_missing);
    g_test_add_func("/accel/permission", test_permission);
    g_test_add_func("/accel/not-kvm", test_not_kvm);
    g_test_add_func("/accel/create-vm", test_create_vm);
    g_test_add_func("/accel/names", test_names);
    g_test_add_func("/accel/probe", test_probe);
    return g_test_run();
}
