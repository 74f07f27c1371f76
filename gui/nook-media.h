/* NookMedia: a file the user dropped or chose, what kind of image it is and,
 * for installer images, the operating system on it (libosinfo). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  NOOK_MEDIA_KIND_INSTALLER,    /* an ISO 9660 image: CD-ROM plus a new disk */
  NOOK_MEDIA_KIND_DISK,         /* a raw or qcow2 disk image: used as it is */
  NOOK_MEDIA_KIND_KERNEL,       /* a Linux bzImage or a PVH ELF: direct boot */
} NookMediaKind;

#define NOOK_MEDIA_ERROR (nook_media_error_quark ())
typedef enum {
  NOOK_MEDIA_ERROR_FOLDER,
  NOOK_MEDIA_ERROR_UNREADABLE,
  NOOK_MEDIA_ERROR_NOT_AN_IMAGE,
} NookMediaError;
GQuark nook_media_error_quark (void);

#define NOOK_TYPE_MEDIA (nook_media_get_type ())
G_DECLARE_FINAL_TYPE (NookMedia, nook_media, NOOK, MEDIA, GObject)

NookMedia     *nook_media_probe              (const char           *path,
                                              GError              **error);
void           nook_media_identify_async     (NookMedia            *self,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
gboolean       nook_media_identify_finish    (NookMedia            *self,
                                              GAsyncResult         *result,
                                              GError              **error);
gboolean       nook_media_identify           (NookMedia            *self,
                                              GCancellable         *cancellable,
                                              GError              **error);

const char    *nook_media_get_path           (NookMedia            *self);
NookMediaKind  nook_media_get_kind           (NookMedia            *self);
const char    *nook_media_get_kind_label     (NookMedia            *self);
const char    *nook_media_get_format         (NookMedia            *self);
const char    *nook_media_get_suggested_name (NookMedia            *self);
gboolean       nook_media_get_os_known       (NookMedia            *self);
const char    *nook_media_get_os_id          (NookMedia            *self);
const char    *nook_media_get_os_name        (NookMedia            *self);
guint          nook_media_get_memory         (NookMedia            *self);
guint          nook_media_get_cpus           (NookMedia            *self);
guint64        nook_media_get_disk_size      (NookMedia            *self);
const char    *nook_media_get_firmware       (NookMedia            *self);

G_END_DECLS
