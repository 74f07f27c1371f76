/* Whether this computer can run virtual machines, as nook-vmm --check-accel
 * tells: the app never opens /dev/kvm itself. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gboolean ok;
  char *code;                   /* nook-vmm's name for the problem, "ok" */
  char *device;                 /* the device it checked */
  char *problem;                /* NULL when ok */
  char *remedy;                 /* NULL when ok */
} NookAccelStatus;

void             nook_accel_status_free  (NookAccelStatus     *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NookAccelStatus, nook_accel_status_free)

void             nook_accel_check        (GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
NookAccelStatus *nook_accel_check_finish (GAsyncResult        *result,
                                          GError             **error);

G_END_DECLS
