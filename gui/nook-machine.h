/* NookMachine: one virtual machine of the library, its machine.ini and its
 * running nook-vmm. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  NOOK_MACHINE_STATE_STOPPED,
  NOOK_MACHINE_STATE_STARTING,
  NOOK_MACHINE_STATE_RUNNING,
  NOOK_MACHINE_STATE_PAUSED,
  NOOK_MACHINE_STATE_STOPPING,
  NOOK_MACHINE_STATE_CRASHED,         /* nook-vmm died, or stopped with an error */
  NOOK_MACHINE_STATE_FAILED_TO_START, /* nook-vmm refused it; the message says why */
  NOOK_MACHINE_STATE_BROKEN,
} NookMachineState;

#define NOOK_TYPE_MACHINE_STATE (nook_machine_state_get_type ())
GType nook_machine_state_get_type (void);

#define NOOK_TYPE_MACHINE (nook_machine_get_type ())
G_DECLARE_FINAL_TYPE (NookMachine, nook_machine, NOOK, MACHINE, GObject)

NookMachine      *nook_machine_new_draft          (const char   *name);
NookMachine      *nook_machine_load               (const char   *dir);

gboolean          nook_machine_save               (NookMachine  *self,
                                                   GError      **error);

const char       *nook_machine_get_id             (NookMachine  *self);
const char       *nook_machine_get_dir            (NookMachine  *self);
char             *nook_machine_get_ini_path       (NookMachine  *self);
char             *nook_machine_resolve_path       (NookMachine  *self,
                                                   const char   *path);

const char       *nook_machine_get_name           (NookMachine  *self);
void              nook_machine_set_name           (NookMachine  *self,
                                                   const char   *name);
const char       *nook_machine_get_os_id          (NookMachine  *self);
const char       *nook_machine_get_os_name        (NookMachine  *self);
void              nook_machine_set_os             (NookMachine  *self,
                                                   const char   *os_id,
                                                   const char   *os_name);
guint             nook_machine_get_memory         (NookMachine  *self);
void              nook_machine_set_memory         (NookMachine  *self,
                                                   guint         mib);
guint             nook_machine_get_cpus           (NookMachine  *self);
void              nook_machine_set_cpus           (NookMachine  *self,
                                                   guint         cpus);
const char       *nook_machine_get_firmware       (NookMachine  *self);
void              nook_machine_set_firmware       (NookMachine  *self,
                                                   const char   *firmware);
const char       *nook_machine_get_display        (NookMachine  *self);
void              nook_machine_set_display        (NookMachine  *self,
                                                   const char   *display);
const char       *nook_machine_get_disk_path      (NookMachine  *self);
const char       *nook_machine_get_disk_format    (NookMachine  *self);
gboolean          nook_machine_get_disk_readonly  (NookMachine  *self);
void              nook_machine_set_disk           (NookMachine  *self,
                                                   const char   *path,
                                                   const char   *format,
                                                   gboolean      readonly);
const char       *nook_machine_get_cdrom          (NookMachine  *self);
void              nook_machine_set_cdrom          (NookMachine  *self,
                                                   const char   *path);
const char       *nook_machine_get_kernel         (NookMachine  *self);
const char       *nook_machine_get_initrd         (NookMachine  *self);
const char       *nook_machine_get_append         (NookMachine  *self);
void              nook_machine_set_kernel         (NookMachine  *self,
                                                   const char   *kernel,
                                                   const char   *initrd,
                                                   const char   *append);
const char       *nook_machine_get_sound          (NookMachine  *self);
void              nook_machine_set_sound          (NookMachine  *self,
                                                   const char   *sound);
gboolean          nook_machine_get_microphone     (NookMachine  *self);
void              nook_machine_set_microphone     (NookMachine  *self,
                                                   gboolean      microphone);

NookMachineState  nook_machine_get_state          (NookMachine  *self);
const char       *nook_machine_get_message        (NookMachine  *self);
const char       *nook_machine_get_log_path       (NookMachine  *self);
gboolean          nook_machine_is_active          (NookMachine  *self);
gboolean          nook_machine_get_has_audio      (NookMachine  *self);
gboolean          nook_machine_get_audio_muted    (NookMachine  *self);

char            **nook_machine_build_argv         (NookMachine  *self,
                                                   const char   *vmm,
                                                   GError      **error);
char             *nook_machine_get_runtime_dir    (NookMachine  *self);
char             *nook_machine_get_spice_path     (NookMachine  *self);
char             *nook_machine_get_thumbnail_path (NookMachine  *self);

gboolean          nook_machine_start              (NookMachine  *self,
                                                   GError      **error);
void              nook_machine_execute            (NookMachine         *self,
                                                   const char          *command,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
void              nook_machine_change_disc        (NookMachine         *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
void              nook_machine_set_audio_muted    (NookMachine         *self,
                                                   gboolean             muted,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean          nook_machine_execute_finish     (NookMachine   *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);
void              nook_machine_screendump         (NookMachine         *self,
                                                   const char          *path,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean          nook_machine_screendump_finish  (NookMachine   *self,
                                                   GAsyncResult  *result,
                                                   GError       **error);

const char       *nook_machine_state_to_string    (NookMachineState state);

char             *nook_find_vmm                   (void);
const char       *nook_find_ovmf                  (void);

G_END_DECLS
