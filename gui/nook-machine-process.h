/* NookMachineProcess: one nook-vmm, spawned or adopted from an earlier run
 * of the app, and its control socket connection (newline-delimited JSON,
 * see README.md "The control socket"). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* How a nook-vmm ended, as its "exited" signal tells. */
typedef enum {
  NOOK_PROCESS_EXIT_CLEAN,
  NOOK_PROCESS_EXIT_CRASHED,            /* a signal, or an error status once it ran */
  NOOK_PROCESS_EXIT_FAILED_TO_START,    /* it refused the machine (status 2) */
} NookProcessExit;

#define NOOK_TYPE_MACHINE_PROCESS (nook_machine_process_get_type ())
G_DECLARE_FINAL_TYPE (NookMachineProcess, nook_machine_process, NOOK, MACHINE_PROCESS, GObject)

NookMachineProcess *nook_machine_process_new            (const char * const  *argv,
                                                         const char          *control_path,
                                                         const char          *log_path);
gboolean            nook_machine_process_start          (NookMachineProcess  *self,
                                                         GError             **error);
NookMachineProcess *nook_machine_process_adopt          (const char          *control_path,
                                                         const char          *log_path,
                                                         GPid                 pid,
                                                         GError             **error);
gboolean            nook_machine_process_is_adopted     (NookMachineProcess  *self);
gboolean            nook_machine_process_is_connected   (NookMachineProcess  *self);
void                nook_machine_process_execute        (NookMachineProcess  *self,
                                                         const char          *command,
                                                         JsonNode            *arguments,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);
JsonNode           *nook_machine_process_execute_finish (NookMachineProcess  *self,
                                                         GAsyncResult        *result,
                                                         GError             **error);
void                nook_machine_process_terminate      (NookMachineProcess  *self);
void                nook_machine_process_kill           (NookMachineProcess  *self);
const char         *nook_machine_process_get_identifier (NookMachineProcess  *self);

char               *nook_read_log_tail                  (const char          *path,
                                                         guint                lines);
gboolean            nook_vmm_pid_matches                (GPid                 pid,
                                                         const char          *control_path);
gboolean            nook_socket_is_stale                (const char          *path);

G_END_DECLS
