/* The accelerator device (/dev/kvm or /dev/nookhv): opening it, and saying
 * in words what is wrong when it cannot be used and what to do about it.
 * nook-vmm's start-up errors and --check-accel share these words. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum accel_kind { ACCEL_KVM, ACCEL_NOOKHV };

/* Overrides the device path of either kind, for tests that need a missing,
 * forbidden or wrong device without touching the real one. */
#define ACCEL_DEVICE_ENV "NOOK_ACCEL_DEVICE"

/* What the host says about a device, gathered by accel_gather() or made up
 * by a test. */
struct accel_facts {
    enum accel_kind kind;
    const char *path;
    bool overridden;            /* the path came from ACCEL_DEVICE_ENV */
    int open_errno;             /* 0: it opened */
    int api_version;            /* KVM_GET_API_VERSION's answer, or -errno */
    int create_errno;           /* 0: KVM_CREATE_VM worked, or was not tried */

    /* When the device is missing. */
    bool module_loaded;         /* kvm, or nookhv */
    bool vendor_loaded;         /* kvm_intel or kvm_amd, as the CPU needs */
    bool cpu_vmx, cpu_svm;      /* /proc/cpuinfo's flags */
    bool cpu_hypervisor;        /* this host is itself a virtual machine */

    /* When it may not be opened. */
    bool have_stat;
    unsigned mode;              /* permission bits */
    unsigned gid;
    char owner[64];
    char group[64];             /* its name, or the number */
    bool in_group;              /* this process has that group */
    bool listed_in_group;       /* /etc/group lists the user: a new login has it */
};

struct accel_report {
    bool ok;
    const char *code;           /* "ok", "no-device", "no-module", "no-virtualization",
                                   "no-permission", "not-kvm", "api-version",
                                   "create-vm", "open-failed" */
    char problem[512];
    char remedy[512];
};

bool accel_kind_parse(const char *name, enum accel_kind *kind);
/* ACCEL_DEVICE_ENV when set, else /dev/kvm or /dev/nookhv. */
const char *accel_device_path(enum accel_kind kind);
/* The kind a path stands for, for callers that only have the path:
 * nookhv when its file name starts with "nookhv". */
enum accel_kind accel_kind_of_path(const char *path);

/* Fills r from f; r->ok when f shows a device that works. */
void accel_explain(const struct accel_facts *f, struct accel_report *r);
/* Fills what f says about the host beyond kind, path, overridden and the
 * errors, which the caller sets. */
void accel_gather(struct accel_facts *f);

/* Opens path and checks its API version; -1 with r filled when it cannot
 * be used. */
int accel_open(const char *path, struct accel_report *r);
/* Fills r for a KVM_CREATE_VM on path that failed with err. */
void accel_explain_create(const char *path, int err, struct accel_report *r);
/* Opens path and creates (and drops) a VM on it: whether a machine could
 * start, and if not, why. */
bool accel_check(const char *path, struct accel_report *r);
/* "problem remedy" on one line, for a start-up error. */
void accel_report_line(const struct accel_report *r, char *buf, size_t len);
