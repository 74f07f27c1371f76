/* The accelerator device: opening it, and when that or creating a VM fails,
 * a diagnosis from what the host shows (the node, the modules in
 * /sys/module, the CPU flags in /proc/cpuinfo, the node's owner and group). */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

bool accel_kind_parse(const char *name, enum accel_kind *kind)
{
    if (strcmp(name, "kvm") == 0)
        *kind = ACCEL_KVM;
    else if (strcmp(name, "nookhv") == 0)
        *kind = ACCEL_NOOKHV;
    else
        return false;
    return true;
}

const char *accel_device_path(enum accel_kind kind)
{
    const char *env = getenv(ACCEL_DEVICE_ENV);

    if (env && *env)
        return env;
    return kind == ACCEL_NOOKHV ? "/dev/nookhv" : "/dev/kvm";
}

enum accel_kind accel_kind_of_path(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    return strncmp(base, "nookhv", 6) == 0 ? ACCEL_NOOKHV : ACCEL_KVM;
}

static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

#define PROBLEM(...) say(r->problem, sizeof(r->problem), __VA_ARGS__)
#define REMEDY(...)  say(r->remedy, sizeof(r->remedy), __VA_ARGS__)

static void explain_missing(const struct accel_facts *f, struct accel_report *r)
{
    /* ENOENT: no node; ENODEV, ENXIO: a node with no driver behind it. */
    const char *gone = f->open_errno == ENOENT ? "does not exist" : "has no driver behind it";
    const char *vendor = f->cpu_vmx ? "kvm_intel" : "kvm_amd";
    const char *feature = f->cpu_vmx ? "Intel VT-x" : "AMD-V (SVM)";

    if (f->overridden && f->open_errno == ENOENT) {
        r->code = "no-device";
        PROBLEM("%s does not exist.", f->path);
        REMEDY("%s names it: point it at the %s device, or unset it.", ACCEL_DEVICE_ENV,
               f->kind == ACCEL_NOOKHV ? "nookhv" : "KVM");
        return;
    }
    if (f->kind == ACCEL_NOOKHV) {
        if (!f->module_loaded) {
            r->code = "no-module";
            PROBLEM("The nookhv kernel module is not loaded, so %s %s.", f->path, gone);
            REMEDY("Load it: sudo modprobe nookhv (it is built from Nook's kmod folder), or use --accel kvm.");
        } else {
            r->code = "no-device";
            PROBLEM("The nookhv module is loaded, but %s %s.", f->path, gone);
            REMEDY("See why in the kernel log: sudo dmesg | grep -i nookhv.");
        }
        return;
    }
    if (!f->cpu_vmx && !f->cpu_svm) {
        r->code = "no-virtualization";
        if (f->cpu_hypervisor) {
            PROBLEM("This computer is itself a virtual machine, and its processor offers no hardware "
                    "virtualization, so there is no KVM.");
            REMEDY("Turn on nested virtualization where this virtual machine runs (with QEMU and KVM: "
                   "nested=1 for the host's kvm_intel or kvm_amd module, and -cpu host).");
        } else {
            PROBLEM("The processor offers no hardware virtualization (Intel VT-x or AMD-V), or it is "
                    "turned off in the computer's firmware settings, so there is no KVM.");
            REMEDY("Turn on Intel VT-x or AMD-V (SVM) in the firmware (BIOS or UEFI) settings, then start "
                   "the computer again.");
        }
        return;
    }
    if (!f->module_loaded || !f->vendor_loaded) {
        r->code = "no-module";
        PROBLEM("The %s kernel module is not loaded, so %s %s.", vendor, f->path, gone);
        REMEDY("Load it: sudo modprobe %s. If it refuses, %s is turned off in the computer's firmware "
               "(BIOS or UEFI) settings: turn it on there.", vendor, feature);
        return;
    }
    r->code = "no-device";
    PROBLEM("The kvm and %s modules are loaded, but %s %s.", vendor, f->path, gone);
    REMEDY("See why in the kernel log: sudo dmesg | grep -i kvm (the kernel can refuse KVM, for example "
           "when it is itself a guest that cannot offer it).");
}

static void explain_permission(const struct accel_facts *f, struct accel_report *r)
{
    bool group_rw = (f->mode & 0060) == 0060;

    r->code = "no-permission";
    if (!f->have_stat) {
        PROBLEM("You have no permission to open %s.", f->path);
        REMEDY("Ask the administrator for read and write access to it, usually by joining the kvm group.");
    } else if ((f->mode & 0006) == 0006 || (f->in_group && group_rw)) {
        PROBLEM("You have no permission to open %s, although its mode %04o and group %s allow it (%s).",
                f->path, f->mode, f->group, strerror(f->open_errno));
        REMEDY("Check how its file system is mounted (nodev forbids devices), its access control list "
               "(getfacl %s) and security policies such as AppArmor or SELinux.", f->path);
    } else if (f->gid == 0 || !group_rw) {
        PROBLEM("You have no permission to open %s: only %s may (owner %s, group %s, mode %04o).", f->path,
                f->owner, f->owner, f->group, f->mode);
        REMEDY("Give it to the kvm group with read and write access for the group (the udev rule "
               "KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\" does that), then join the group: "
               "sudo usermod -aG kvm $USER, and log out and in again.");
    } else if (f->listed_in_group) {
        PROBLEM("You have no permission to open %s yet: you joined its group %s after you logged in.", f->path,
                f->group);
        REMEDY("Log out and log in again (or restart the computer) so that your session has the group.");
    } else {
        PROBLEM("You have no permission to open %s: it belongs to the group %s, which you are not in.",
                f->path, f->group);
        REMEDY("Join the group: sudo usermod -aG %s $USER, then log out and log in again.", f->group);
    }
}

static void explain_create(const struct accel_facts *f, struct accel_report *r)
{
    int e = f->create_errno;

    r->code = "create-vm";
    if (e == EBUSY) {
        PROBLEM("KVM cannot create a virtual machine: another hypervisor, such as VirtualBox or VMware, "
                "holds the processor's virtualization (KVM_CREATE_VM: %s).", strerror(e));
        REMEDY("Close the other hypervisor's virtual machines, or unload its kernel modules (such as "
               "vboxdrv), then try again.");
    } else if (e == ENOMEM) {
        PROBLEM("KVM cannot create a virtual machine: the kernel is out of memory (KVM_CREATE_VM: %s).",
                strerror(e));
        REMEDY("Close some programs or virtual machines, then try again.");
    } else {
        PROBLEM("KVM cannot create a virtual machine on %s (KVM_CREATE_VM: %s).", f->path, strerror(e));
        REMEDY("See why in the kernel log: sudo dmesg | grep -i kvm.");
    }
}

void accel_explain(const struct accel_facts *f, struct accel_report *r)
{
    memset(r, 0, sizeof(*r));
    r->code = "ok";

    switch (f->open_errno) {
    case 0:
        break;
    case ENOENT:
    case ENODEV:
    case ENXIO:
        explain_missing(f, r);
        return;
    case EACCES:
    case EPERM:
        explain_permission(f, r);
        return;
    default:
        r->code = "open-failed";
        PROBLEM("%s cannot be opened: %s.", f->path, strerror(f->open_errno));
        REMEDY("See why in the kernel log: sudo dmesg | grep -i kvm.");
        return;
    }
    if (f->api_version < 0) {
        r->code = "not-kvm";
        PROBLEM("%s is not a KVM device: it does not answer KVM_GET_API_VERSION (%s).", f->path,
                strerror(-f->api_version));
        if (f->overridden)
            REMEDY("%s names it: point it at the %s device, or unset it.", ACCEL_DEVICE_ENV,
                   f->kind == ACCEL_NOOKHV ? "nookhv" : "KVM");
        else
            REMEDY("Check what it is with ls -l %s: it should be the character device that the %s module "
                   "makes.", f->path, f->kind == ACCEL_NOOKHV ? "nookhv" : "kvm");
        return;
    }
    if (f->api_version != KVM_API_VERSION) {
        r->code = "api-version";
        PROBLEM("%s speaks KVM API version %d; nook-vmm needs version %d.", f->path, f->api_version,
                KVM_API_VERSION);
        if (f->kind == ACCEL_NOOKHV)
            REMEDY("Load the nookhv module built from this Nook's kmod folder.");
        else
            REMEDY("Use a Linux kernel whose KVM speaks version %d, as every kernel since 2.6.22 does.",
                   KVM_API_VERSION);
        return;
    }
    if (f->create_errno) {
        explain_create(f, r);
        return;
    }
    r->ok = true;
}

/* ---- what the host shows ---- */

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* The flags of the first processor in /proc/cpuinfo. */
static void read_cpu_flags(struct accel_facts *f)
{
    FILE *in = fopen("/proc/cpuinfo", "re");
    char line[8192];

    if (!in)
        return;
    while (fgets(line, sizeof(line), in)) {
        char *save = NULL;

        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *t = strtok_r(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \t\n", &save); t;
             t = strtok_r(NULL, " \t\n", &save)) {
            f->cpu_vmx |= strcmp(t, "vmx") == 0;
            f->cpu_svm |= strcmp(t, "svm") == 0;
            f->cpu_hypervisor |= strcmp(t, "hypervisor") == 0;
        }
        break;
    }
    fclose(in);
}

static bool process_has_group(gid_t gid)
{
    gid_t groups[256];
    int n;

    if (getegid() == gid)
        return true;
    n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
    for (int i = 0; i < n; i++)
        if (groups[i] == gid)
            return true;
    return false;
}

static void read_owner(struct accel_facts *f, const struct stat *st)
{
    char buf[16384];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;

    f->have_stat = true;
    f->mode = st->st_mode & 07777;
    f->gid = st->st_gid;
    if (getpwuid_r(st->st_uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp)
        snprintf(f->owner, sizeof(f->owner), "%s", pwp->pw_name);
    else
        snprintf(f->owner, sizeof(f->owner), "%u", (unsigned)st->st_uid);
    if (getgrgid_r(st->st_gid, &gr, buf, sizeof(buf), &grp) == 0 && grp)
        snprintf(f->group, sizeof(f->group), "%s", grp->gr_name);
    else
        snprintf(f->group, sizeof(f->group), "%u", (unsigned)st->st_gid);
    f->in_group = process_has_group(st->st_gid);
}

/* Whether the account database gives the user the group, which a process
 * started before the user joined it does not have. */
static bool user_listed_in_group(gid_t gid)
{
    char pwbuf[4096], grbuf[16384];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;

    if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || !pwp)
        return false;
    if (pwp->pw_gid == gid)
        return true;
    if (getgrgid_r(gid, &gr, grbuf, sizeof(grbuf), &grp) != 0 || !grp)
        return false;
    for (char **m = grp->gr_mem; *m; m++)
        if (strcmp(*m, pwp->pw_name) == 0)
            return true;
    return false;
}

void accel_gather(struct accel_facts *f)
{
    struct stat st;

    switch (f->open_errno) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        read_cpu_flags(f);
        if (f->kind == ACCEL_NOOKHV) {
            f->module_loaded = exists("/sys/module/nookhv");
        } else {
            f->module_loaded = exists("/sys/module/kvm");
            f->vendor_loaded = exists(f->cpu_vmx ? "/sys/module/kvm_intel" : "/sys/module/kvm_amd");
        }
        break;
    case EACCES:
    case EPERM:
        if (stat(f->path, &st) == 0) {
            read_owner(f, &st);
            f->listed_in_group = !f->in_group && user_listed_in_group(st.st_gid);
        }
        break;
    default:
        break;
    }
}

/* ---- opening ---- */

static void init_facts(struct accel_facts *f, const char *path)
{
    const char *env = getenv(ACCEL_DEVICE_ENV);

    memset(f, 0, sizeof(*f));
    f->kind = accel_kind_of_path(path);
    f->path = path;
    f->overridden = env && strcmp(env, path) == 0;
    f->api_version = KVM_API_VERSION;
}

int accel_open(const char *path, struct accel_report *r)
{
    struct accel_facts f;
    int fd;

    init_facts(&f, path);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        f.open_errno = errno;
        accel_gather(&f);
        accel_explain(&f, r);
        return -1;
    }
    f.api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (f.api_version < 0)
        f.api_version = -errno;
    accel_explain(&f, r);
    if (!r->ok) {
        close(fd);
        return -1;
    }
    return fd;
}

void accel_explain_create(const char *path, int err, struct accel_report *r)
{
    struct accel_facts f;

    init_facts(&f, path);
    f.create_errno = err;
    accel_explain(&f, r);
}

bool accel_check(const char *path, struct accel_report *r)
{
    int fd = accel_open(path, r);
    int vm_fd;

    if (fd < 0)
        return false;
    vm_fd = ioctl(fd, KVM_CREATE_VM, 0UL);
    if (vm_fd < 0)
        accel_explain_create(path, errno, r);
    else
        close(vm_fd);
    close(fd);
    return r->ok;
}

void accel_report_line(const struct accel_report *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s %s", r->problem, r->remedy);
}
